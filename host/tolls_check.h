// `sluice gen check`: compares what a host produced for an ABC Tolls run with the run's truth
// files (host/tolls_truth.h) and prints a short report (docs/demo.md).
//
// What it reads: the notifications in the topics' file subscribers (JSON lines of envelopes,
// deduplicated by MessageId: a MessageId seen again is a redelivery, not an error), the `spend`
// table through the control API, the data lake's objects (error prefixes apart), the
// processing-failed error records, a PostgreSQL table's row count, and the host's own counts of
// what its mappings and delivery streams processed.
//
// Not thread-safe: one check per verb.
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::host {

// The `spend` table as (customer_id, month) -> cents, read from the host.
using SpendReader = std::function<Result<std::map<std::pair<std::string, std::string>, int64_t>>()>;

// What the host says its pipeline did (`sluice status`): per event source mapping, the records
// invoked (retries count again) and dropped since the host started; per delivery stream, its
// counts since it was created.
struct PipelineCounts {
  struct Mapping {
    std::string function;
    uint64_t invoked = 0;
    uint64_t dropped = 0;
  };
  struct Delivery {
    std::string name;
    int64_t records_in = 0;
    int64_t delivered = 0;
    int64_t objects = 0;
    int64_t dropped = 0;  // by the transform
    int64_t failed = 0;   // processing failed, or not delivered
    int64_t bytes_delivered = 0;
  };
  std::vector<Mapping> mappings;
  std::vector<Delivery> deliveries;
};
using PipelineReader = std::function<Result<PipelineCounts>()>;

struct CheckOptions {
  std::string truth_dir;
  std::string billing_alerts;  // the billing-alerts topic's file subscriber (.jsonl)
  std::string station_alerts;  // the station-alerts topic's file subscriber (.jsonl)
  std::optional<std::string> lake_dir;
  std::optional<std::string> postgres;  // a libpq connection string, with `table`
  std::string table;
  int64_t timeout_ms = 90'000;
  SpendReader read_spend;
  // Reports what was processed and delivered; a mapping that dropped records (late for their
  // window) is a difference. Null: not reported.
  PipelineReader read_pipeline;
};

// Polls until everything matches or the timeout passes, then writes the report to `out`.
// Returns 0 on an exact match, 1 on any difference; an error when the truth cannot be read.
Result<int> RunTollsCheck(const CheckOptions& options, std::ostream& out);

}  // namespace sluice::host
