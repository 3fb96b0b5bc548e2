#include "poller/mapping_config.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string_view>

#include "base/json_fields.h"
#include "base/text.h"
#include "invoker/function_name.h"
#include "state/topics.h"
#include "stream/stream_store.h"

namespace sluice::poller {
namespace {

using nlohmann::json;
using Fields = JsonFields;

constexpr size_t kMaxVersionDigits = 10;
constexpr int64_t kMaxBatchingWindowSeconds = 300;
constexpr int64_t kMaxParallelizationFactor = 10;
constexpr int64_t kMaxRetryAttempts = 10000;
constexpr int64_t kMinRecordAgeSeconds = 60;
constexpr int64_t kMaxRecordAgeSeconds = 604800;
constexpr int64_t kMaxAllowedLatenessSeconds = 86400;
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31T23:59:59Z
constexpr char kLatest[] = "$LATEST";
constexpr char kReportBatchItemFailures[] = "ReportBatchItemFailures";
constexpr std::string_view kFunctionResource = "function:";
constexpr std::string_view kStreamResource = "stream/";
constexpr std::string_view kStreamScheme = "stream:";
constexpr std::string_view kTopicScheme = "topic:";
constexpr std::string_view kFileScheme = "file://";

const std::set<std::string>& MappingProperties() {
  static const auto* const properties = new std::set<std::string>{
      "FunctionName",
      "EventSourceArn",
      "BatchSize",
      "MaximumBatchingWindowInSeconds",
      "StartingPosition",
      "StartingPositionTimestamp",
      "ParallelizationFactor",
      "MaximumRetryAttempts",
      "MaximumRecordAgeInSeconds",
      "BisectBatchOnFunctionError",
      "DestinationConfig",
      "FunctionResponseTypes",
      "TumblingWindowInSeconds",
      "TumblingWindowTimeField",
      "TumblingWindowAllowedLatenessInSeconds",
      "FilterCriteria",
      "Enabled",
  };
  return *properties;
}

std::string Quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

// The value of a JSON integer that fits in an int64_t; nullopt for anything else.
std::optional<int64_t> Int64Value(const json& value) {
  if (!value.is_number_integer() ||
      (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))) {
    return std::nullopt;
  }
  return value.get<int64_t>();
}

// An integer property in [min, max] into an int32_t field.
Status Int32(const Fields& fields, const std::string& key, int64_t min, int64_t max, int32_t* out) {
  int64_t value = *out;
  SLUICE_RETURN_IF_ERROR(fields.Integer(key, min, max, &value));
  *out = static_cast<int32_t>(value);
  return Status::Ok();
}

// The parts of "arn:aws:<service>:<region>:<account>:<resource>" (the resource may hold ':').
struct Arn {
  std::string service;
  std::string region;
  std::string account;
  std::string resource;
};

bool IsRegion(std::string_view region) {
  return !region.empty() && std::all_of(region.begin(), region.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsAccount(std::string_view account) {
  return account.size() == 12 &&
         std::all_of(account.begin(), account.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::optional<Arn> ParseArn(std::string_view text) {
  constexpr std::string_view kPrefix = "arn:aws:";
  if (!text.starts_with(kPrefix)) {
    return std::nullopt;
  }
  text.remove_prefix(kPrefix.size());
  Arn arn;
  for (std::string* part : {&arn.service, &arn.region, &arn.account}) {
    const size_t colon = text.find(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    *part = text.substr(0, colon);
    text.remove_prefix(colon + 1);
  }
  arn.resource = text;
  if (arn.service.empty() || !IsRegion(arn.region) || !IsAccount(arn.account)) {
    return std::nullopt;
  }
  return arn;
}

// The stream that "arn:aws:kinesis:<region>:<account>:stream/<name>" names, unchecked; nullopt
// when `text` is not of that form.
std::optional<std::string> KinesisStreamOfArn(std::string_view text) {
  std::optional<Arn> arn = ParseArn(text);
  if (!arn || arn->service != "kinesis" || !arn->resource.starts_with(kStreamResource)) {
    return std::nullopt;
  }
  return arn->resource.substr(kStreamResource.size());
}

// "$LATEST" or a version number: 1-10 digits, no leading zero.
bool IsQualifier(std::string_view qualifier) {
  if (qualifier == kLatest) {
    return true;
  }
  return !qualifier.empty() && qualifier.size() <= kMaxVersionDigits && qualifier[0] != '0' &&
         std::all_of(qualifier.begin(), qualifier.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

// FunctionName: "name", "name:QUALIFIER" or arn:aws:lambda:<region>:<account>:function:name[:Q].
Status ParseFunction(const Fields& fields, MappingConfig* config) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(fields.String("FunctionName", true, &text));
  const std::string where = fields.Where("FunctionName");
  std::string name_and_qualifier = text;
  if (text.starts_with("arn:")) {
    std::optional<Arn> arn = ParseArn(text);
    if (!arn || arn->service != "lambda" || !arn->resource.starts_with(kFunctionResource)) {
      return InvalidArgument(where +
                             ": must be a function name or "
                             "arn:aws:lambda:<region>:<account>:function:<name>[:QUALIFIER], got " +
                             Quoted(text));
    }
    name_and_qualifier = arn->resource.substr(kFunctionResource.size());
  }
  std::string name = name_and_qualifier;
  std::string qualifier = kLatest;
  const size_t colon = name_and_qualifier.find(':');
  if (colon != std::string::npos) {
    name = name_and_qualifier.substr(0, colon);
    qualifier = name_and_qualifier.substr(colon + 1);
  }
  if (!invoker::IsValidFunctionName(name)) {
    return InvalidArgument(where +
                           ": the function name must be 1-64 characters of [A-Za-z0-9_-], got " +
                           Quoted(text));
  }
  if (!IsQualifier(qualifier)) {
    return InvalidArgument(
        where + ": the qualifier must be $LATEST or a version number from 1 (no alias), got " +
        Quoted(text));
  }
  config->function_name = std::move(name);
  config->qualifier = std::move(qualifier);
  return Status::Ok();
}

// EventSourceArn: a Kinesis stream ARN or a bare stream name.
Status ParseEventSource(const Fields& fields, MappingConfig* config) {
  std::string text;
  SLUICE_RETURN_IF_ERROR(fields.String("EventSourceArn", true, &text));
  const std::string name = text.starts_with("arn:") ? KinesisStreamOfArn(text).value_or("") : text;
  if (!stream::IsValidStreamName(name)) {
    return InvalidArgument(fields.Where("EventSourceArn") +
                           ": must be arn:aws:kinesis:<region>:<account>:stream/<name> or a stream "
                           "name, 1-128 characters of [a-zA-Z0-9_.-], got " +
                           Quoted(text));
  }
  config->stream_name = name;
  return Status::Ok();
}

Status ParseBatching(const Fields& fields, MappingConfig* config) {
  SLUICE_RETURN_IF_ERROR(Int32(fields, "BatchSize", 1, kMaxBatchSize, &config->batch_size));
  SLUICE_RETURN_IF_ERROR(Int32(fields, "MaximumBatchingWindowInSeconds", 0,
                               kMaxBatchingWindowSeconds,
                               &config->maximum_batching_window_seconds));
  return Int32(fields, "ParallelizationFactor", 1, kMaxParallelizationFactor,
               &config->parallelization_factor);
}

// StartingPosition and StartingPositionTimestamp, each when present (their pairing is a
// cross-field rule, checked on the whole mapping).
Status ParseStartingPosition(const json& object, const Fields& fields, MappingConfig* config) {
  std::string name = StartingPositionName(config->starting_position);
  SLUICE_RETURN_IF_ERROR(fields.String("StartingPosition", false, &name));
  bool known = false;
  for (StartingPosition position : {StartingPosition::kTrimHorizon, StartingPosition::kLatest,
                                    StartingPosition::kAtTimestamp}) {
    if (name == StartingPositionName(position)) {
      config->starting_position = position;
      known = true;
    }
  }
  if (!known) {
    return InvalidArgument(fields.Where("StartingPosition") +
                           ": must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got " + Quoted(name));
  }
  auto timestamp = object.find("StartingPositionTimestamp");
  if (timestamp != object.end()) {
    const bool valid = timestamp->is_number() && timestamp->get<double>() >= 0 &&
                       timestamp->get<double>() <= kMaxTimestampSeconds;
    if (!valid) {
      return InvalidArgument(fields.Where("StartingPositionTimestamp") +
                             ": must be Unix seconds, a number from 0 to " +
                             std::to_string(kMaxTimestampSeconds) + ", got " + timestamp->dump());
    }
    config->starting_position_timestamp_ms = std::llround(timestamp->get<double>() * 1000);
  }
  return Status::Ok();
}

Status ParseDestinationConfig(const Fields& fields, MappingConfig* config) {
  Result<const json*> destination_config = fields.Object("DestinationConfig");
  SLUICE_RETURN_IF_ERROR(destination_config.status());
  if (*destination_config == nullptr) {
    return Status::Ok();
  }
  const Fields config_fields(**destination_config, fields.Where("DestinationConfig"));
  SLUICE_RETURN_IF_ERROR(config_fields.Check({"OnFailure"}));
  Result<const json*> on_failure = config_fields.Object("OnFailure");
  SLUICE_RETURN_IF_ERROR(on_failure.status());
  if (*on_failure == nullptr) {
    return Status::Ok();
  }
  const Fields on_failure_fields(**on_failure, config_fields.Where("OnFailure"));
  SLUICE_RETURN_IF_ERROR(on_failure_fields.Check({"Destination"}));
  if (!on_failure_fields.Has("Destination")) {
    return Status::Ok();  // {"OnFailure": {}}: none
  }
  std::string text;
  SLUICE_RETURN_IF_ERROR(on_failure_fields.String("Destination", true, &text));
  Result<FailureDestination> destination =
      ParseFailureDestination(text, on_failure_fields.Where("Destination"));
  SLUICE_RETURN_IF_ERROR(destination.status());
  config->on_failure = std::move(*destination);
  return Status::Ok();
}

Status ParseErrorHandling(const json& object, const Fields& fields, MappingConfig* config) {
  SLUICE_RETURN_IF_ERROR(Int32(fields, "MaximumRetryAttempts", -1, kMaxRetryAttempts,
                               &config->maximum_retry_attempts));
  auto age = object.find("MaximumRecordAgeInSeconds");
  if (age != object.end()) {
    const std::optional<int64_t> seconds = Int64Value(*age);
    const bool valid =
        seconds &&
        (*seconds == -1 || (*seconds >= kMinRecordAgeSeconds && *seconds <= kMaxRecordAgeSeconds));
    if (!valid) {
      return InvalidArgument(fields.Where("MaximumRecordAgeInSeconds") + ": must be -1 or from " +
                             std::to_string(kMinRecordAgeSeconds) + " to " +
                             std::to_string(kMaxRecordAgeSeconds) + ", got " + age->dump());
    }
    config->maximum_record_age_seconds = static_cast<int32_t>(*seconds);
  }
  SLUICE_RETURN_IF_ERROR(
      fields.Bool("BisectBatchOnFunctionError", &config->bisect_batch_on_function_error));
  SLUICE_RETURN_IF_ERROR(ParseDestinationConfig(fields, config));
  Result<std::vector<const json*>> response_types = fields.Array("FunctionResponseTypes");
  SLUICE_RETURN_IF_ERROR(response_types.status());
  if (response_types->size() > 1 ||
      (response_types->size() == 1 && *response_types->front() != json(kReportBatchItemFailures))) {
    return InvalidArgument(fields.Where("FunctionResponseTypes") +
                           ": must be [] or [\"ReportBatchItemFailures\"], got " +
                           object.at("FunctionResponseTypes").dump());
  }
  config->report_batch_item_failures = response_types->size() == 1;
  return Status::Ok();
}

// A dotted field path: parts separated by '.', none empty.
bool IsFieldPath(std::string_view path) {
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const size_t end = dot == std::string_view::npos ? path.size() : dot;
    if (end == start) {
      return false;
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

Status ParseWindows(const Fields& fields, MappingConfig* config) {
  SLUICE_RETURN_IF_ERROR(Int32(fields, "TumblingWindowInSeconds", 0, kMaxTumblingWindowSeconds,
                               &config->tumbling_window_seconds));
  SLUICE_RETURN_IF_ERROR(
      fields.String("TumblingWindowTimeField", false, &config->tumbling_window_time_field));
  const std::string& field = config->tumbling_window_time_field;
  if (!field.empty() && !IsFieldPath(field)) {
    return InvalidArgument(fields.Where("TumblingWindowTimeField") +
                           ": must be \"\" (arrival time) or a dotted field path such as "
                           "\"event.time\", got " +
                           Quoted(field));
  }
  return Int32(fields, "TumblingWindowAllowedLatenessInSeconds", 0, kMaxAllowedLatenessSeconds,
               &config->tumbling_window_allowed_lateness_seconds);
}

Status ParseFilters(const Fields& fields, MappingConfig* config) {
  Result<const json*> criteria = fields.Object("FilterCriteria");
  SLUICE_RETURN_IF_ERROR(criteria.status());
  if (*criteria == nullptr) {
    return Status::Ok();
  }
  const Fields criteria_fields(**criteria, fields.Where("FilterCriteria"));
  SLUICE_RETURN_IF_ERROR(criteria_fields.Check({"Filters"}));
  Result<std::vector<const json*>> filters = criteria_fields.Array("Filters");
  SLUICE_RETURN_IF_ERROR(filters.status());
  if (filters->size() > static_cast<size_t>(kMaxFilters)) {
    return InvalidArgument(criteria_fields.Where("Filters") + ": must hold at most " +
                           std::to_string(kMaxFilters) + " filters, got " +
                           std::to_string(filters->size()));
  }
  for (size_t i = 0; i < filters->size(); ++i) {
    const Fields filter(*(*filters)[i], criteria_fields.Where(Indexed("Filters", i)));
    SLUICE_RETURN_IF_ERROR(filter.Check({"Pattern"}));
    std::string pattern;
    SLUICE_RETURN_IF_ERROR(filter.String("Pattern", true, &pattern));
    config->filter_patterns.push_back(std::move(pattern));
  }
  return Status::Ok();
}

Status CheckCrossFieldRules(const Fields& fields, const MappingConfig& config) {
  const bool at_timestamp = config.starting_position == StartingPosition::kAtTimestamp;
  if (at_timestamp && !fields.Has("StartingPositionTimestamp")) {
    return InvalidArgument(fields.Where("StartingPositionTimestamp") +
                           ": required with StartingPosition AT_TIMESTAMP");
  }
  if (!at_timestamp && fields.Has("StartingPositionTimestamp")) {
    return InvalidArgument(
        fields.Where("StartingPositionTimestamp") +
        ": allowed only with StartingPosition AT_TIMESTAMP, got StartingPosition " +
        StartingPositionName(config.starting_position));
  }
  if (!config.tumbling_window_time_field.empty() && !config.has_windows()) {
    return InvalidArgument(fields.Where("TumblingWindowTimeField") +
                           ": needs TumblingWindowInSeconds from 1 (a window), got " +
                           Quoted(config.tumbling_window_time_field) +
                           " with TumblingWindowInSeconds 0");
  }
  if (config.tumbling_window_allowed_lateness_seconds > 0 &&
      config.tumbling_window_time_field.empty()) {
    return InvalidArgument(fields.Where("TumblingWindowAllowedLatenessInSeconds") +
                           ": must be 0 without TumblingWindowTimeField (lateness is of event "
                           "time), got " +
                           std::to_string(config.tumbling_window_allowed_lateness_seconds));
  }
  if (config.has_windows() && config.parallelization_factor != 1) {
    return InvalidArgument(fields.Where("ParallelizationFactor") +
                           ": must be 1 with TumblingWindowInSeconds (one window state per "
                           "shard), got " +
                           std::to_string(config.parallelization_factor));
  }
  return Status::Ok();
}

// Unix seconds from milliseconds: an integer when whole, as a user would write it.
json TimestampSeconds(int64_t ms) {
  return ms % 1000 == 0 ? json(ms / 1000) : json(static_cast<double>(ms) / 1000);
}

// InvalidArgument unless `update` leaves the stream and the starting position as they are.
Status CheckImmutables(const json& update, const Fields& fields, const MappingConfig& current) {
  MappingConfig requested = current;
  if (fields.Has("EventSourceArn")) {
    SLUICE_RETURN_IF_ERROR(ParseEventSource(fields, &requested));
  }
  SLUICE_RETURN_IF_ERROR(ParseStartingPosition(update, fields, &requested));
  const std::string advice = "; delete the mapping and create another";
  if (requested.stream_name != current.stream_name) {
    return InvalidArgument(fields.Where("EventSourceArn") +
                           ": cannot be changed by an update (the mapping reads stream " +
                           Quoted(current.stream_name) + "), got " +
                           update.at("EventSourceArn").dump() + advice);
  }
  if (requested.starting_position != current.starting_position) {
    return InvalidArgument(fields.Where("StartingPosition") +
                           ": cannot be changed by an update (is " +
                           StartingPositionName(current.starting_position) + "), got " +
                           StartingPositionName(requested.starting_position) + advice);
  }
  if (requested.starting_position_timestamp_ms != current.starting_position_timestamp_ms) {
    const std::string was = current.starting_position == StartingPosition::kAtTimestamp
                                ? TimestampSeconds(current.starting_position_timestamp_ms).dump()
                                : "none";
    return InvalidArgument(fields.Where("StartingPositionTimestamp") +
                           ": cannot be changed by an update (is " + was + "), got " +
                           update.at("StartingPositionTimestamp").dump() + advice);
  }
  return Status::Ok();
}

}  // namespace

const char* StartingPositionName(StartingPosition position) {
  switch (position) {
    case StartingPosition::kTrimHorizon: return "TRIM_HORIZON";
    case StartingPosition::kLatest: return "LATEST";
    case StartingPosition::kAtTimestamp: return "AT_TIMESTAMP";
  }
  return "UNKNOWN";
}

Result<FailureDestination> ParseFailureDestination(const std::string& text,
                                                   const std::string& where) {
  FailureDestination destination;
  destination.text = text;
  const std::optional<Arn> arn = ParseArn(text);
  const std::optional<std::string> arn_stream = KinesisStreamOfArn(text);
  if (text.starts_with(kStreamScheme) || arn_stream) {
    destination.kind = FailureDestination::Kind::kStream;
    destination.target = arn_stream ? *arn_stream : text.substr(kStreamScheme.size());
    if (!stream::IsValidStreamName(destination.target)) {
      return InvalidArgument(where +
                             ": the stream name must be 1-128 characters of [a-zA-Z0-9_.-], got " +
                             Quoted(text));
    }
  } else if (text.starts_with(kTopicScheme) || (arn && arn->service == "sns")) {
    destination.kind = FailureDestination::Kind::kTopic;
    destination.target = arn ? arn->resource : text.substr(kTopicScheme.size());
    if (!state::ValidateTopicName(destination.target).ok()) {
      return InvalidArgument(where +
                             ": the topic name must be 1-256 characters of [A-Za-z0-9_-], got " +
                             Quoted(text));
    }
  } else if (text.starts_with(kFileScheme)) {
    destination.kind = FailureDestination::Kind::kDirectory;
    destination.target = text.substr(kFileScheme.size());
    if (!destination.target.starts_with('/')) {
      return InvalidArgument(
          where + ": the directory must be an absolute path (file:///dir), got " + Quoted(text));
    }
  } else {
    return InvalidArgument(
        where +
        ": must be arn:aws:kinesis:<region>:<account>:stream/<name>, stream:<name>, "
        "arn:aws:sns:<region>:<account>:<topic>, topic:<topic> or file:///absolute/dir, got " +
        Quoted(text));
  }
  return destination;
}

Result<MappingConfig> ParseMapping(const json& doc, const std::string& path) {
  const Fields fields(doc, path, "the mapping");
  SLUICE_RETURN_IF_ERROR(fields.Check(MappingProperties()));
  MappingConfig config;
  SLUICE_RETURN_IF_ERROR(ParseFunction(fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseEventSource(fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseBatching(fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseStartingPosition(doc, fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseErrorHandling(doc, fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseWindows(fields, &config));
  SLUICE_RETURN_IF_ERROR(ParseFilters(fields, &config));
  SLUICE_RETURN_IF_ERROR(fields.Bool("Enabled", &config.enabled));
  SLUICE_RETURN_IF_ERROR(CheckCrossFieldRules(fields, config));
  return config;
}

Result<MappingConfig> ApplyMappingUpdate(const MappingConfig& current, const json& update) {
  const Fields fields(update, "", "the update");
  SLUICE_RETURN_IF_ERROR(fields.Check(MappingProperties()));
  SLUICE_RETURN_IF_ERROR(CheckImmutables(update, fields, current));
  json merged = MappingToJson(current, current.stream_name);
  for (const auto& [key, value] : update.items()) {
    merged[key] = value;
  }
  return ParseMapping(merged, "");
}

json MappingToJson(const MappingConfig& config, const std::string& stream_arn) {
  json on_failure = json::object();
  if (config.on_failure.kind != FailureDestination::Kind::kNone) {
    on_failure["Destination"] = config.on_failure.text;
  }
  json filters = json::array();
  for (const std::string& pattern : config.filter_patterns) {
    filters.push_back(json{{"Pattern", pattern}});
  }
  json doc = {
      {"FunctionName", config.qualified_function_name()},
      {"EventSourceArn", stream_arn},
      {"BatchSize", config.batch_size},
      {"MaximumBatchingWindowInSeconds", config.maximum_batching_window_seconds},
      {"StartingPosition", StartingPositionName(config.starting_position)},
      {"ParallelizationFactor", config.parallelization_factor},
      {"MaximumRetryAttempts", config.maximum_retry_attempts},
      {"MaximumRecordAgeInSeconds", config.maximum_record_age_seconds},
      {"BisectBatchOnFunctionError", config.bisect_batch_on_function_error},
      {"DestinationConfig", {{"OnFailure", on_failure}}},
      {"FunctionResponseTypes",
       config.report_batch_item_failures ? json::array({kReportBatchItemFailures}) : json::array()},
      {"TumblingWindowInSeconds", config.tumbling_window_seconds},
      {"TumblingWindowTimeField", config.tumbling_window_time_field},
      {"TumblingWindowAllowedLatenessInSeconds", config.tumbling_window_allowed_lateness_seconds},
      {"FilterCriteria", {{"Filters", filters}}},
      {"Enabled", config.enabled},
  };
  if (config.starting_position == StartingPosition::kAtTimestamp) {
    doc["StartingPositionTimestamp"] = TimestampSeconds(config.starting_position_timestamp_ms);
  }
  return doc;
}

}  // namespace sluice::poller
