// The ABC Tolls stack (docs/demo.md): every resource of the scenario in one `sluice apply` file,
// printed by `sluice gen stack` for `make demo` and the ground-truth tests, so both run the same
// pipeline:
// - stream `tolls`, 2 shards, partition key = station;
// - functions billing_threshold, station_alert and json_transform (manifests under
//   functions_dir);
// - billing_threshold on tolls in 10-minute event-time windows (kBillingWindowSeconds), and
//   station_alert in 30-minute ones (kStationWindowSeconds), both with kAllowedLatenessSeconds;
// - topics billing-alerts and station-alerts, each with a file subscriber under output_dir
//   (billing-alerts.jsonl, station-alerts.jsonl) and, when given, a signed webhook;
// - delivery stream tolls-raw (DirectPut, json_transform) into the directory lake
//   output_dir/lake (prefix tolls/, errors under errors/<type>/), which with a PostgreSQL
//   connection is the intermediate store of table toll_transactions.
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::host {

inline constexpr int32_t kBillingWindowSeconds = 600;
inline constexpr int32_t kStationWindowSeconds = 1800;
// Booths log in order and the stream keeps each station's order, so a short lateness suffices;
// the last window of a run closes this long after the shard goes idle (docs/demo.md).
inline constexpr int32_t kAllowedLatenessSeconds = 10;
inline constexpr char kTollsStream[] = "tolls";
inline constexpr char kTollsDeliveryStream[] = "tolls-raw";
inline constexpr char kWarehouseTable[] = "toll_transactions";

struct TollsStackOptions {
  std::string functions_dir;   // absolute; holds <name>/function.json for the three functions
  std::string output_dir;      // absolute; the lake and the subscribers' files go under it
  std::string webhook_url;     // "" for none; the topics' webhooks are <url>/billing, /stations
  std::string webhook_secret;  // signs the webhook deliveries ("" for unsigned)
  std::string postgres;        // a libpq conninfo; "" for the lake only
};

// The stack as `sluice apply` reads it (host/stack.h).
nlohmann::json TollsStack(const TollsStackOptions& options);

// The SQL that makes the warehouse table the stack loads (columns as json_transform writes).
std::string WarehouseTableSql();

}  // namespace sluice::host
