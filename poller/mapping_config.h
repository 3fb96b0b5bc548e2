// MappingConfig: one event source mapping's settings (what `sluice attach`, a mapping JSON file and
// the EventSourceMappings of a stack declare), with AWS's property names, defaults and ranges
// (CreateEventSourceMapping for a Kinesis source), plus Sluice's extensions to tumbling windows.
//
// JSON form (every property but FunctionName and EventSourceArn is optional):
//   {
//     "FunctionName": "billing_threshold",        // or "name:QUALIFIER" (a version), or its ARN
//     "EventSourceArn": "arn:aws:kinesis:us-east-1:000000000000:stream/tolls",  // or "tolls"
//     "BatchSize": 100,                            // 1-10000
//     "MaximumBatchingWindowInSeconds": 0,         // 0-300
//     "StartingPosition": "TRIM_HORIZON",          // TRIM_HORIZON | LATEST | AT_TIMESTAMP
//     "StartingPositionTimestamp": 1700000000.5,   // Unix seconds; required with AT_TIMESTAMP
//     "ParallelizationFactor": 1,                  // 1-10
//     "MaximumRetryAttempts": -1,                  // -1 (until the record expires) or 0-10000
//     "MaximumRecordAgeInSeconds": -1,             // -1 (never) or 60-604800
//     "BisectBatchOnFunctionError": false,
//     "DestinationConfig": {"OnFailure": {"Destination": "<destination>"}},
//     "FunctionResponseTypes": ["ReportBatchItemFailures"],  // or []
//     "TumblingWindowInSeconds": 0,                // 0 (off) or 1-86400 (Lambda: 1-900)
//     "TumblingWindowTimeField": "event_time",     // Sluice: event-time windows (see below)
//     "TumblingWindowAllowedLatenessInSeconds": 0, // Sluice: 0-86400, with a time field only
//     "FilterCriteria": {"Filters": [{"Pattern": "{\"data\": {\"lane\": [\"7\"]}}"}]},  // 0-10
//     "Enabled": true
//   }
//
// StartingPosition defaults to TRIM_HORIZON (Lambda requires it; a default that skips nothing is
// the safe one). On-failure destinations: "arn:aws:kinesis:<region>:<account>:stream/<name>" or
// "stream:<name>" (a Sluice stream), "arn:aws:sns:<region>:<account>:<topic>" or "topic:<topic>"
// (a notification topic), "file:///absolute/dir" (a directory: one JSON file per discarded batch).
//
// Event-time windows: with TumblingWindowTimeField set, a record's window is taken from that
// field of its JSON data (a dotted path; the value is Unix seconds or milliseconds as a number, or
// an ISO-8601 string) instead of its arrival time; windows close when the shard's event time has
// passed their end by the allowed lateness.
//
// Cross-field rules (checked by ParseMapping and ApplyMappingUpdate): AT_TIMESTAMP needs
// StartingPositionTimestamp and nothing else may have one; a time field needs a window and
// lateness needs a time field; a window needs ParallelizationFactor 1 (one state per shard).
//
// Errors are InvalidArgument naming the property's JSON path, the value and the allowed range.
// Plain values; thread-compatible.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::poller {

enum class StartingPosition { kTrimHorizon, kLatest, kAtTimestamp };

// "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP".
const char* StartingPositionName(StartingPosition position);

struct FailureDestination {
  enum class Kind { kNone, kStream, kTopic, kDirectory };
  Kind kind = Kind::kNone;
  std::string target;  // the stream name, the topic name, or the absolute directory
  std::string text;    // as the user gave it (echoed back by Get)

  bool operator==(const FailureDestination&) const = default;
};

// Parses one destination string (forms above). `where` is the JSON path for messages.
Result<FailureDestination> ParseFailureDestination(const std::string& text,
                                                   const std::string& where);

struct MappingConfig {
  std::string function_name;
  std::string qualifier = "$LATEST";  // from "name:QUALIFIER"
  std::string stream_name;
  int32_t batch_size = 100;
  int32_t maximum_batching_window_seconds = 0;
  StartingPosition starting_position = StartingPosition::kTrimHorizon;
  int64_t starting_position_timestamp_ms = 0;  // with kAtTimestamp
  int32_t parallelization_factor = 1;
  int32_t maximum_retry_attempts = -1;      // -1: unlimited
  int32_t maximum_record_age_seconds = -1;  // -1: unlimited
  bool bisect_batch_on_function_error = false;
  FailureDestination on_failure;
  bool report_batch_item_failures = false;
  int32_t tumbling_window_seconds = 0;     // 0: no windows
  std::string tumbling_window_time_field;  // "": arrival-time windows
  int32_t tumbling_window_allowed_lateness_seconds = 0;
  // FilterCriteria.Filters[].Pattern, each a JSON text checked by event_filter.h's parser.
  std::vector<std::string> filter_patterns;
  bool enabled = true;

  bool has_windows() const { return tumbling_window_seconds > 0; }
  // "name", or "name:QUALIFIER" for a version: the function as FunctionName shows it.
  std::string qualified_function_name() const {
    return qualifier == "$LATEST" ? function_name : function_name + ":" + qualifier;
  }
  bool operator==(const MappingConfig&) const = default;
};

inline constexpr int32_t kMaxBatchSize = 10000;
inline constexpr int32_t kMaxTumblingWindowSeconds = 86400;
inline constexpr int kMaxFilters = 10;

// Parses a mapping definition (JSON form above). `path` prefixes the JSON paths in errors
// ("EventSourceMappings[0]"; "" for a document of its own).
Result<MappingConfig> ParseMapping(const nlohmann::json& doc, const std::string& path);

// UpdateEventSourceMapping: the properties present in `update` replace those of `current`;
// FunctionName may change, EventSourceArn and StartingPosition(Timestamp) may not (InvalidArgument
// naming them; given again unchanged they are accepted, so a whole definition can be applied
// again). The result is checked as a whole.
Result<MappingConfig> ApplyMappingUpdate(const MappingConfig& current,
                                         const nlohmann::json& update);

// The JSON form, every property spelled out (defaults included), as Get shows it and as the
// host stores it; ParseMapping(MappingToJson(c), "") == c.
nlohmann::json MappingToJson(const MappingConfig& config, const std::string& stream_arn);

}  // namespace sluice::poller
