// The ground truth of an ABC Tolls run (docs/demo.md): what billing_threshold and station_alert
// must produce for the generated passages, computed from the passages and the station reference
// file alone (never from the functions' output); and the truth files that carry it from
// `sluice gen tolls` to `sluice gen check`.
//
// Values and free functions; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "base/status.h"
#include "host/tolls_model.h"

namespace sluice::host {

// The station reference file: (station_id, day of week 0 = Monday, slot 0..47) -> min_vehicles.
using StationReference = std::map<std::tuple<std::string, int, int>, int64_t>;

// Parses the reference CSV (docs/demo.md); errors name the line.
Result<StationReference> ParseReference(std::string_view csv);

struct ExpectedNotification {
  std::string customer_id;
  std::string month;  // "2026-11"
  int64_t spend_cents = 0;
  int64_t limit_cents = 0;
  int64_t crossed_at_ms = 0;  // event time of the transaction that took the total to the limit
};

struct ExpectedAlert {
  std::string station_id;
  int64_t slot_start_ms = 0;
  int64_t vehicles = 0;
  int64_t min_vehicles = 0;
};

struct TollsTruth {
  std::vector<ExpectedNotification> notifications;                     // by customer, then month
  std::vector<ExpectedAlert> alerts;                                   // by slot, then station
  std::map<std::pair<std::string, std::string>, int64_t> spend_cents;  // (customer, month)
};

// The truth of `records` (stream records, in event-time order) over the days [start_ms,
// days_end_ms), the tail left out: the spend of the days' records; a notification per customer
// and month whose total reaches the limit; an alert per reference station and slot whose vehicle
// count is below its minimum.
TollsTruth ComputeTruth(const std::vector<Passage>& records,
                        const std::map<int, int64_t>& limits_cents,
                        const StationReference& reference, int64_t start_ms, int64_t days_end_ms);

// The truth files' names in the truth directory.
inline constexpr char kThresholdsFile[] = "thresholds.tsv";
inline constexpr char kNotificationsFile[] = "notifications.jsonl";
inline constexpr char kAlertsFile[] = "alerts.jsonl";
inline constexpr char kSpendFile[] = "spend.jsonl";
inline constexpr char kPutsFile[] = "puts.tsv";
inline constexpr char kSummaryFile[] = "summary.json";

// Writes thresholds.tsv, notifications.jsonl, alerts.jsonl, spend.jsonl and summary.json into
// `dir` (created if missing). The summary holds the run's counts and the options,
// so that `gen check` can regenerate the transaction ids.
Status WriteTruthFiles(const std::string& dir, const TollsOptions& options, const TollsPlan& plan,
                       const TollsTruth& truth);

// What WriteTruthFiles wrote: the truth, the summary and the options it records.
struct TruthFiles {
  TollsTruth truth;
  nlohmann::json summary;
  TollsOptions options;
};
Result<TruthFiles> ReadTruthFiles(const std::string& dir);

// The alert message's slot end for a slot start.
inline int64_t SlotEnd(int64_t slot_start_ms) {
  return slot_start_ms + kSlotMs;
}

// Unix ms of "2026-11-02" (00:00 UTC); InvalidArgument otherwise.
Result<int64_t> ParseDate(const std::string& date);

}  // namespace sluice::host
