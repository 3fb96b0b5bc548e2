// `sluice gen check`: compares what a host produced for an ABC Tolls run with the run's truth
// files (host/tolls_truth.h) and prints a short report (docs/demo.md).
//
// What it reads: the notifications in the topics' file subscribers (JSON lines of envelopes,
// deduplicated by MessageId: a MessageId seen again is a redelivery, not an error), the `spend`
// table through the control API, the data lake's objects (error prefixes apart), the
// processing-failed error records, and a PostgreSQL table's row count.
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

#include "base/status.h"

namespace sluice::host {

// The `spend` table as (customer_id, month) -> cents, read from the host.
using SpendReader = std::function<Result<std::map<std::pair<std::string, std::string>, int64_t>>()>;

struct CheckOptions {
  std::string truth_dir;
  std::string billing_alerts;  // the billing-alerts topic's file subscriber (.jsonl)
  std::string station_alerts;  // the station-alerts topic's file subscriber (.jsonl)
  std::optional<std::string> lake_dir;
  std::optional<std::string> postgres;  // a libpq connection string, with `table`
  std::string table;
  int64_t timeout_ms = 90'000;
  SpendReader read_spend;
};

// Polls until everything matches or the timeout passes, then writes the report to `out`.
// Returns 0 on an exact match, 1 on any difference; an error when the truth cannot be read.
Result<int> RunTollsCheck(const CheckOptions& options, std::ostream& out);

}  // namespace sluice::host
