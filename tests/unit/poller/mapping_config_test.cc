// MappingConfig: defaults, every property's range edges, FunctionName and EventSourceArn forms,
// failure destinations, the cross-field rules, updates, and the MappingToJson round trip.
#include "poller/mapping_config.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sluice::poller {
namespace {

using nlohmann::json;

// The smallest valid mapping: function "fn" on stream "tolls".
json Minimal() {
  return {{"FunctionName", "fn"}, {"EventSourceArn", "tolls"}};
}

// Minimal() with `key` set to `value`.
json With(const std::string& key, const json& value) {
  json doc = Minimal();
  doc[key] = value;
  return doc;
}

MappingConfig MustParse(const json& doc) {
  Result<MappingConfig> config = ParseMapping(doc, "");
  INFO(doc.dump() << " -> " << config.status().ToString());
  REQUIRE(config.ok());
  return *config;
}

// The message of the InvalidArgument that parsing `doc` must return.
std::string ParseError(const json& doc, const std::string& path = "") {
  Result<MappingConfig> config = ParseMapping(doc, path);
  INFO(doc.dump());
  REQUIRE(config.status().code() == Code::kInvalidArgument);
  return config.status().message();
}

std::string UpdateError(const MappingConfig& current, const json& update) {
  Result<MappingConfig> config = ApplyMappingUpdate(current, update);
  INFO(update.dump());
  REQUIRE(config.status().code() == Code::kInvalidArgument);
  return config.status().message();
}

MappingConfig MustUpdate(const MappingConfig& current, const json& update) {
  Result<MappingConfig> config = ApplyMappingUpdate(current, update);
  INFO(update.dump() << " -> " << config.status().ToString());
  REQUIRE(config.ok());
  return *config;
}

TEST_CASE("a mapping with only FunctionName and EventSourceArn gets AWS's defaults", "[mapping]") {
  const MappingConfig config = MustParse(Minimal());
  CHECK(config.function_name == "fn");
  CHECK(config.qualifier == "$LATEST");
  CHECK(config.stream_name == "tolls");
  CHECK(config.batch_size == 100);
  CHECK(config.maximum_batching_window_seconds == 0);
  CHECK(config.starting_position == StartingPosition::kTrimHorizon);
  CHECK(config.starting_position_timestamp_ms == 0);
  CHECK(config.parallelization_factor == 1);
  CHECK(config.maximum_retry_attempts == -1);
  CHECK(config.maximum_record_age_seconds == -1);
  CHECK_FALSE(config.bisect_batch_on_function_error);
  CHECK(config.on_failure.kind == FailureDestination::Kind::kNone);
  CHECK_FALSE(config.report_batch_item_failures);
  CHECK(config.tumbling_window_seconds == 0);
  CHECK_FALSE(config.has_windows());
  CHECK(config.tumbling_window_time_field.empty());
  CHECK(config.tumbling_window_allowed_lateness_seconds == 0);
  CHECK(config.filter_patterns.empty());
  CHECK(config.enabled);
}

TEST_CASE("FunctionName and EventSourceArn are required strings", "[mapping]") {
  CHECK(ParseError({{"EventSourceArn", "tolls"}}) == "FunctionName: required");
  CHECK(ParseError({{"FunctionName", "fn"}}) == "EventSourceArn: required");
  CHECK(ParseError(With("FunctionName", 7)) == "FunctionName: must be a string");
  CHECK(ParseError(With("EventSourceArn", json::array())) == "EventSourceArn: must be a string");
}

TEST_CASE("an unknown property or a document that is not an object is refused", "[mapping]") {
  const std::string message = ParseError(With("BatchSise", 5));
  CHECK_THAT(message, Catch::StartsWith("BatchSise: unknown property (known: "));
  CHECK_THAT(message, Catch::Contains("BatchSize"));
  CHECK_THAT(ParseError(With("BatchSise", 5), "EventSourceMappings[3]"),
             Catch::StartsWith("EventSourceMappings[3].BatchSise: unknown property"));
  CHECK(ParseError(json::array()) == "the mapping: must be an object");
  CHECK(ParseError("fn", "EventSourceMappings[0]") == "EventSourceMappings[0]: must be an object");
}

struct IntegerProperty {
  const char* key;
  int64_t min;
  int64_t max;
  int32_t MappingConfig::*field;
};

TEST_CASE("integer properties accept their range edges and refuse one past them", "[mapping]") {
  const std::vector<IntegerProperty> properties = {
      {"BatchSize", 1, 10000, &MappingConfig::batch_size},
      {"MaximumBatchingWindowInSeconds", 0, 300, &MappingConfig::maximum_batching_window_seconds},
      {"ParallelizationFactor", 1, 10, &MappingConfig::parallelization_factor},
      {"MaximumRetryAttempts", -1, 10000, &MappingConfig::maximum_retry_attempts},
      {"TumblingWindowInSeconds", 0, 86400, &MappingConfig::tumbling_window_seconds},
      {"TumblingWindowAllowedLatenessInSeconds", 0, 86400,
       &MappingConfig::tumbling_window_allowed_lateness_seconds},
  };
  for (const IntegerProperty& property : properties) {
    INFO(property.key);
    json doc = Minimal();
    if (std::string(property.key) == "TumblingWindowAllowedLatenessInSeconds") {
      doc["TumblingWindowInSeconds"] = 60;  // lateness needs an event-time window
      doc["TumblingWindowTimeField"] = "event_time";
    }
    for (int64_t value : {property.min, property.max}) {
      doc[property.key] = value;
      CHECK(MustParse(doc).*property.field == value);
    }
    const std::string range = std::to_string(property.min) + " to " + std::to_string(property.max);
    for (int64_t value : {property.min - 1, property.max + 1}) {
      doc[property.key] = value;
      CHECK(ParseError(doc) == std::string(property.key) + ": must be an integer from " + range +
                                   ", got " + std::to_string(value));
      CHECK(ParseError(doc, "EventSourceMappings[1]") ==
            "EventSourceMappings[1]." + std::string(property.key) + ": must be an integer from " +
                range + ", got " + std::to_string(value));
    }
    doc[property.key] = "5";
    CHECK(ParseError(doc) ==
          std::string(property.key) + ": must be an integer from " + range + ", got \"5\"");
    doc[property.key] = 2.5;
    CHECK(ParseError(doc) ==
          std::string(property.key) + ": must be an integer from " + range + ", got 2.5");
  }
}

TEST_CASE("BatchSize refuses 0 with a message naming path, value and range", "[mapping]") {
  CHECK(ParseError(With("BatchSize", 0)) == "BatchSize: must be an integer from 1 to 10000, got 0");
}

TEST_CASE("an integer too large for int64 does not wrap around to -1", "[mapping]") {
  const json doc = With("MaximumRetryAttempts", json::parse("18446744073709551615"));
  CHECK(ParseError(doc) ==
        "MaximumRetryAttempts: must be an integer from -1 to 10000, got 18446744073709551615");
  CHECK(ParseError(With("MaximumRecordAgeInSeconds", json::parse("18446744073709551615"))) ==
        "MaximumRecordAgeInSeconds: must be -1 or from 60 to 604800, got 18446744073709551615");
}

TEST_CASE("MaximumRecordAgeInSeconds is -1 or from 60 to 604800", "[mapping]") {
  for (int64_t seconds : {-1, 60, 604800}) {
    CHECK(MustParse(With("MaximumRecordAgeInSeconds", seconds)).maximum_record_age_seconds ==
          seconds);
  }
  CHECK(ParseError(With("MaximumRecordAgeInSeconds", 30)) ==
        "MaximumRecordAgeInSeconds: must be -1 or from 60 to 604800, got 30");
  for (const json& value : {json(-2), json(0), json(59), json(604801), json("60"), json(60.5)}) {
    CHECK(ParseError(With("MaximumRecordAgeInSeconds", value)) ==
          "MaximumRecordAgeInSeconds: must be -1 or from 60 to 604800, got " + value.dump());
  }
  CHECK(ParseError(With("MaximumRecordAgeInSeconds", 0), "EventSourceMappings[0]") ==
        "EventSourceMappings[0].MaximumRecordAgeInSeconds: must be -1 or from 60 to 604800, got 0");
}

TEST_CASE("BisectBatchOnFunctionError and Enabled are booleans", "[mapping]") {
  CHECK(MustParse(With("BisectBatchOnFunctionError", true)).bisect_batch_on_function_error);
  CHECK_FALSE(MustParse(With("Enabled", false)).enabled);
  CHECK(ParseError(With("Enabled", "no")) == "Enabled: must be true or false, got \"no\"");
  CHECK(ParseError(With("BisectBatchOnFunctionError", 1)) ==
        "BisectBatchOnFunctionError: must be true or false, got 1");
}

TEST_CASE("StartingPosition takes the three Kinesis positions", "[mapping]") {
  CHECK(MustParse(With("StartingPosition", "LATEST")).starting_position ==
        StartingPosition::kLatest);
  CHECK(MustParse(With("StartingPosition", "TRIM_HORIZON")).starting_position ==
        StartingPosition::kTrimHorizon);
  CHECK(ParseError(With("StartingPosition", "EARLIEST")) ==
        "StartingPosition: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got \"EARLIEST\"");
  CHECK(ParseError(With("StartingPosition", 1)) == "StartingPosition: must be a string");
  CHECK(std::string(StartingPositionName(StartingPosition::kAtTimestamp)) == "AT_TIMESTAMP");
}

TEST_CASE("AT_TIMESTAMP takes Unix seconds, fractional too, as milliseconds", "[mapping]") {
  json doc = With("StartingPosition", "AT_TIMESTAMP");
  doc["StartingPositionTimestamp"] = 1700000000.5;
  MappingConfig config = MustParse(doc);
  CHECK(config.starting_position == StartingPosition::kAtTimestamp);
  CHECK(config.starting_position_timestamp_ms == 1700000000500);
  doc["StartingPositionTimestamp"] = 1700000000;
  CHECK(MustParse(doc).starting_position_timestamp_ms == 1700000000000);
  doc["StartingPositionTimestamp"] = 0;
  CHECK(MustParse(doc).starting_position_timestamp_ms == 0);
  doc["StartingPositionTimestamp"] = 253402300799;
  CHECK(MustParse(doc).starting_position_timestamp_ms == 253402300799000);

  for (const json& value : {json(-1), json(-0.5), json(253402300800), json("1700000000")}) {
    doc["StartingPositionTimestamp"] = value;
    CHECK(ParseError(doc) ==
          "StartingPositionTimestamp: must be Unix seconds, a number from 0 to 253402300799, got " +
              value.dump());
  }
}

TEST_CASE("StartingPositionTimestamp goes with AT_TIMESTAMP and nothing else", "[mapping]") {
  CHECK(ParseError(With("StartingPosition", "AT_TIMESTAMP")) ==
        "StartingPositionTimestamp: required with StartingPosition AT_TIMESTAMP");
  json doc = With("StartingPosition", "LATEST");
  doc["StartingPositionTimestamp"] = 1700000000;
  CHECK(ParseError(doc, "EventSourceMappings[0]") ==
        "EventSourceMappings[0].StartingPositionTimestamp: allowed only with StartingPosition "
        "AT_TIMESTAMP, got StartingPosition LATEST");
  CHECK(ParseError(With("StartingPositionTimestamp", 1700000000)) ==
        "StartingPositionTimestamp: allowed only with StartingPosition AT_TIMESTAMP, got "
        "StartingPosition TRIM_HORIZON");
}

TEST_CASE("FunctionName takes a name, a qualified name or an ARN", "[mapping][function]") {
  struct Form {
    const char* text;
    const char* name;
    const char* qualifier;
  };
  const std::vector<Form> forms = {
      {"billing_threshold", "billing_threshold", "$LATEST"},
      {"fn:$LATEST", "fn", "$LATEST"},
      {"fn:7", "fn", "7"},
      {"fn:1234567890", "fn", "1234567890"},
      {"A-b_9", "A-b_9", "$LATEST"},
      {"arn:aws:lambda:local:000000000000:function:fn", "fn", "$LATEST"},
      {"arn:aws:lambda:us-east-1:123456789012:function:fn:12", "fn", "12"},
      {"arn:aws:lambda:eu-west-2:123456789012:function:fn:$LATEST", "fn", "$LATEST"},
  };
  for (const Form& form : forms) {
    INFO(form.text);
    const MappingConfig config = MustParse(With("FunctionName", form.text));
    CHECK(config.function_name == form.name);
    CHECK(config.qualifier == form.qualifier);
  }
  CHECK(MustParse(With("FunctionName", std::string(64, 'f'))).function_name ==
        std::string(64, 'f'));
}

TEST_CASE("FunctionName refuses bad names, qualifiers and ARNs", "[mapping][function]") {
  const std::string name_rule =
      ": the function name must be 1-64 characters of [A-Za-z0-9_-], got ";
  for (const std::string& text :
       {std::string(""), std::string(65, 'f'), std::string("bad name"), std::string("fn.v2"),
        std::string(":1"), std::string("arn:aws:lambda:local:000000000000:function:")}) {
    CHECK(ParseError(With("FunctionName", text)) == "FunctionName" + name_rule + json(text).dump());
  }
  const std::string qualifier_rule =
      ": the qualifier must be $LATEST or a version number from 1 (no alias), got ";
  for (const std::string text :
       {"fn:", "fn:0", "fn:01", "fn:prod", "fn:1:2", "fn:$latest", "fn:12345678901",
        "arn:aws:lambda:local:000000000000:function:fn:"
        "alias"}) {
    CHECK(ParseError(With("FunctionName", text), "EventSourceMappings[2]") ==
          "EventSourceMappings[2].FunctionName" + qualifier_rule + json(text).dump());
  }
  const std::string arn_rule =
      ": must be a function name or arn:aws:lambda:<region>:<account>:function:<name>[:QUALIFIER], "
      "got ";
  for (const std::string text : {
           "arn:aws:lambda:local:000000000000:layer:fn",       // not a function
           "arn:aws:lambda:local:12345:function:fn",           // account not 12 digits
           "arn:aws:lambda::000000000000:function:fn",         // no region
           "arn:aws:kinesis:local:000000000000:function:fn",   // another service
           "arn:aws-cn:lambda:local:000000000000:function:fn"  // another partition
       }) {
    CHECK(ParseError(With("FunctionName", text)) == "FunctionName" + arn_rule + json(text).dump());
  }
}

TEST_CASE("EventSourceArn takes a Kinesis stream ARN or a stream name", "[mapping][stream]") {
  CHECK(MustParse(With("EventSourceArn", "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"))
            .stream_name == "tolls");
  CHECK(MustParse(With("EventSourceArn", "a.b-c_9")).stream_name == "a.b-c_9");
  CHECK(MustParse(With("EventSourceArn", std::string(128, 's'))).stream_name ==
        std::string(128, 's'));
  const std::string rule =
      "EventSourceArn: must be arn:aws:kinesis:<region>:<account>:stream/<name> or a stream name, "
      "1-128 characters of [a-zA-Z0-9_.-], got ";
  for (const std::string& text :
       {std::string(""), std::string(129, 's'), std::string("bad name"), std::string("a/b"),
        std::string("arn:aws:kinesis:us-east-1:000000000000:stream/"),
        std::string("arn:aws:kinesis:us-east-1:000000000000:stream/tolls/consumer/c:1"),
        std::string("arn:aws:sqs:us-east-1:000000000000:queue"),
        std::string("arn:aws:kinesis:us-east-1:0:stream/tolls")}) {
    CHECK(ParseError(With("EventSourceArn", text)) == rule + json(text).dump());
  }
}

TEST_CASE("failure destinations of each form", "[mapping][destination]") {
  struct Form {
    const char* text;
    FailureDestination::Kind kind;
    const char* target;
  };
  const std::vector<Form> forms = {
      {"arn:aws:kinesis:us-east-1:000000000000:stream/failed", FailureDestination::Kind::kStream,
       "failed"},
      {"stream:failed.v2", FailureDestination::Kind::kStream, "failed.v2"},
      {"arn:aws:sns:local:000000000000:alerts", FailureDestination::Kind::kTopic, "alerts"},
      {"topic:alerts-2_b", FailureDestination::Kind::kTopic, "alerts-2_b"},
      {"file:///var/lib/sluice/failed", FailureDestination::Kind::kDirectory,
       "/var/lib/sluice/failed"},
  };
  for (const Form& form : forms) {
    INFO(form.text);
    Result<FailureDestination> destination = ParseFailureDestination(form.text, "D");
    INFO(destination.status().ToString());
    REQUIRE(destination.ok());
    CHECK(destination->kind == form.kind);
    CHECK(destination->target == form.target);
    CHECK(destination->text == form.text);
  }
  CHECK(ParseFailureDestination("topic:" + std::string(256, 't'), "D").ok());
  CHECK(ParseFailureDestination("stream:" + std::string(128, 's'), "D").ok());
}

TEST_CASE("invalid failure destinations are refused naming the path and the value",
          "[mapping][destination]") {
  struct Invalid {
    std::string text;
    std::string rule;
  };
  const std::string stream_rule = "the stream name must be 1-128 characters of [a-zA-Z0-9_.-]";
  const std::string topic_rule = "the topic name must be 1-256 characters of [A-Za-z0-9_-]";
  const std::string directory_rule = "the directory must be an absolute path (file:///dir)";
  const std::string form_rule =
      "must be arn:aws:kinesis:<region>:<account>:stream/<name>, stream:<name>, "
      "arn:aws:sns:<region>:<account>:<topic>, topic:<topic> or file:///absolute/dir";
  const std::vector<Invalid> invalid = {
      {"stream:", stream_rule},
      {"stream:a/b", stream_rule},
      {"stream:" + std::string(129, 's'), stream_rule},
      {"arn:aws:kinesis:local:000000000000:stream/", stream_rule},
      {"topic:", topic_rule},
      {"topic:bad.name", topic_rule},
      {"topic:" + std::string(257, 't'), topic_rule},
      {"arn:aws:sns:local:000000000000:a:b", topic_rule},
      {"file://relative/dir", directory_rule},
      {"file://", directory_rule},
      {"", form_rule},
      {"failed", form_rule},
      {"https://example.com/hook", form_rule},
      {"arn:aws:sqs:local:000000000000:queue", form_rule},
      {"arn:aws:kinesis:local:000000000000:table/x", form_rule},
      {"arn:aws:sns:local:bad:alerts", form_rule},
  };
  for (const Invalid& destination : invalid) {
    Result<FailureDestination> parsed = ParseFailureDestination(destination.text, "Where.It.Is");
    CHECK(parsed.status().code() == Code::kInvalidArgument);
    CHECK(parsed.status().message() ==
          "Where.It.Is: " + destination.rule + ", got " + json(destination.text).dump());
  }
}

TEST_CASE("DestinationConfig holds OnFailure, empty meaning none", "[mapping][destination]") {
  const json topic = {{"OnFailure", {{"Destination", "topic:alerts"}}}};
  const MappingConfig config = MustParse(With("DestinationConfig", topic));
  CHECK(config.on_failure.kind == FailureDestination::Kind::kTopic);
  CHECK(config.on_failure.target == "alerts");
  CHECK(MustParse(With("DestinationConfig", {{"OnFailure", json::object()}})).on_failure.kind ==
        FailureDestination::Kind::kNone);
  CHECK(MustParse(With("DestinationConfig", json::object())).on_failure.kind ==
        FailureDestination::Kind::kNone);

  const json bad = {{"OnFailure", {{"Destination", "topic:bad.name"}}}};
  CHECK_THAT(ParseError(With("DestinationConfig", bad), "EventSourceMappings[4]"),
             Catch::StartsWith("EventSourceMappings[4].DestinationConfig.OnFailure.Destination: "
                               "the topic name must be"));
  CHECK_THAT(ParseError(With("DestinationConfig", {{"OnSuccess", json::object()}})),
             Catch::StartsWith("DestinationConfig.OnSuccess: unknown property (known: OnFailure)"));
  CHECK_THAT(ParseError(With("DestinationConfig", {{"OnFailure", {{"Type", "sqs"}}}})),
             Catch::StartsWith("DestinationConfig.OnFailure.Type: unknown property"));
  CHECK(ParseError(With("DestinationConfig", {{"OnFailure", {{"Destination", 5}}}})) ==
        "DestinationConfig.OnFailure.Destination: must be a string");
  CHECK(ParseError(With("DestinationConfig", {{"OnFailure", "topic:alerts"}})) ==
        "DestinationConfig.OnFailure: must be an object");
  CHECK(ParseError(With("DestinationConfig", "topic:alerts")) ==
        "DestinationConfig: must be an object");
}

TEST_CASE("FunctionResponseTypes is [] or [\"ReportBatchItemFailures\"]", "[mapping]") {
  CHECK_FALSE(MustParse(With("FunctionResponseTypes", json::array())).report_batch_item_failures);
  CHECK(MustParse(With("FunctionResponseTypes", {"ReportBatchItemFailures"}))
            .report_batch_item_failures);
  for (const json& value :
       {json::array({"Other"}), json::array({"ReportBatchItemFailures", "ReportBatchItemFailures"}),
        json::array({json::array()})}) {
    CHECK(ParseError(With("FunctionResponseTypes", value)) ==
          "FunctionResponseTypes: must be [] or [\"ReportBatchItemFailures\"], got " +
              value.dump());
  }
  CHECK(ParseError(With("FunctionResponseTypes", "ReportBatchItemFailures")) ==
        "FunctionResponseTypes: must be an array");
}

// FilterCriteria with `count` filters, each a pattern matching lane i.
json Filters(size_t count) {
  json filters = json::array();
  for (size_t i = 0; i < count; ++i) {
    filters.push_back({{"Pattern", R"({"data": {"lane": [")" + std::to_string(i) + R"("]}})"}});
  }
  return {{"Filters", filters}};
}

TEST_CASE("FilterCriteria holds up to 10 patterns, each a string", "[mapping][filters]") {
  const MappingConfig config = MustParse(With("FilterCriteria", Filters(10)));
  REQUIRE(config.filter_patterns.size() == 10);
  CHECK(config.filter_patterns[3] == R"({"data": {"lane": ["3"]}})");
  CHECK(MustParse(With("FilterCriteria", Filters(0))).filter_patterns.empty());
  CHECK(MustParse(With("FilterCriteria", json::object())).filter_patterns.empty());

  CHECK(ParseError(With("FilterCriteria", Filters(11))) ==
        "FilterCriteria.Filters: must hold at most 10 filters, got 11");
  json pattern_not_string = Filters(2);
  pattern_not_string["Filters"][1]["Pattern"] = {{"data", {{"lane", {"7"}}}}};
  CHECK(ParseError(With("FilterCriteria", pattern_not_string), "EventSourceMappings[0]") ==
        "EventSourceMappings[0].FilterCriteria.Filters[1].Pattern: must be a string");
  CHECK(ParseError(With("FilterCriteria", json::parse(R"({"Filters": [{}]})"))) ==
        "FilterCriteria.Filters[0].Pattern: required");
  CHECK_THAT(ParseError(With("FilterCriteria",
                             json::parse(R"({"Filters": [{"Pattern": "{}", "X": 1}]})"))),
             Catch::StartsWith("FilterCriteria.Filters[0].X: unknown property (known: Pattern)"));
  CHECK(ParseError(With("FilterCriteria", {{"Filters", "{}"}})) ==
        "FilterCriteria.Filters: must be an array");
  CHECK_THAT(ParseError(With("FilterCriteria", {{"Pattern", "{}"}})),
             Catch::StartsWith("FilterCriteria.Pattern: unknown property (known: Filters)"));
}

TEST_CASE("event-time windows: a time field, lateness and windows together", "[mapping][windows]") {
  json doc = With("TumblingWindowInSeconds", 60);
  doc["TumblingWindowTimeField"] = "event.time";
  doc["TumblingWindowAllowedLatenessInSeconds"] = 30;
  const MappingConfig config = MustParse(doc);
  CHECK(config.has_windows());
  CHECK(config.tumbling_window_time_field == "event.time");
  CHECK(config.tumbling_window_allowed_lateness_seconds == 30);
  CHECK(MustParse(With("TumblingWindowTimeField", "")).tumbling_window_time_field.empty());

  for (const std::string field : {".a", "a.", "a..b", "."}) {
    doc["TumblingWindowTimeField"] = field;
    CHECK(ParseError(doc) ==
          "TumblingWindowTimeField: must be \"\" (arrival time) or a dotted field path such as "
          "\"event.time\", got \"" +
              field + "\"");
  }
  CHECK(ParseError(With("TumblingWindowTimeField", 5)) ==
        "TumblingWindowTimeField: must be a string");
}

TEST_CASE("cross-field rules of windows", "[mapping][windows]") {
  CHECK(ParseError(With("TumblingWindowTimeField", "event_time"), "EventSourceMappings[1]") ==
        "EventSourceMappings[1].TumblingWindowTimeField: needs TumblingWindowInSeconds from 1 (a "
        "window), got \"event_time\" with TumblingWindowInSeconds 0");

  json lateness = With("TumblingWindowInSeconds", 60);
  lateness["TumblingWindowAllowedLatenessInSeconds"] = 10;
  CHECK(ParseError(lateness) ==
        "TumblingWindowAllowedLatenessInSeconds: must be 0 without TumblingWindowTimeField "
        "(lateness is of event time), got 10");

  json parallel = With("TumblingWindowInSeconds", 60);
  parallel["ParallelizationFactor"] = 2;
  CHECK(ParseError(parallel) ==
        "ParallelizationFactor: must be 1 with TumblingWindowInSeconds (one window state per "
        "shard), got 2");
  parallel["TumblingWindowInSeconds"] = 0;
  CHECK(MustParse(parallel).parallelization_factor == 2);
}

// A mapping with every property away from its default.
json EveryProperty() {
  return {
      {"FunctionName", "billing:3"},
      {"EventSourceArn", "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"},
      {"BatchSize", 500},
      {"MaximumBatchingWindowInSeconds", 5},
      {"StartingPosition", "AT_TIMESTAMP"},
      {"StartingPositionTimestamp", 1700000000.123},
      {"ParallelizationFactor", 1},
      {"MaximumRetryAttempts", 3},
      {"MaximumRecordAgeInSeconds", 3600},
      {"BisectBatchOnFunctionError", true},
      {"DestinationConfig", {{"OnFailure", {{"Destination", "file:///var/failed"}}}}},
      {"FunctionResponseTypes", {"ReportBatchItemFailures"}},
      {"TumblingWindowInSeconds", 300},
      {"TumblingWindowTimeField", "event.ts"},
      {"TumblingWindowAllowedLatenessInSeconds", 20},
      {"FilterCriteria", Filters(2)},
      {"Enabled", false},
  };
}

TEST_CASE("an update replaces the properties it has and keeps the others", "[mapping][update]") {
  const MappingConfig current = MustParse(EveryProperty());
  const MappingConfig updated =
      MustUpdate(current, {{"BatchSize", 50}, {"FunctionName", "other:$LATEST"}});
  CHECK(updated.batch_size == 50);
  CHECK(updated.function_name == "other");
  CHECK(updated.qualifier == "$LATEST");
  MappingConfig expected = current;
  expected.batch_size = 50;
  expected.function_name = "other";
  expected.qualifier = "$LATEST";
  CHECK(updated == expected);

  const MappingConfig no_destination =
      MustUpdate(current, {{"DestinationConfig", {{"OnFailure", json::object()}}}});
  CHECK(no_destination.on_failure.kind == FailureDestination::Kind::kNone);
  CHECK(no_destination.filter_patterns == current.filter_patterns);
  CHECK(MustUpdate(current, {{"FilterCriteria", Filters(0)}}).filter_patterns.empty());
  CHECK(MustUpdate(current, {{"Enabled", true}}).enabled);
  CHECK(MustUpdate(current, json::object()) == current);
}

TEST_CASE("an update may not change the stream or the starting position", "[mapping][update]") {
  const MappingConfig current = MustParse(With("StartingPosition", "LATEST"));
  CHECK(UpdateError(current, {{"EventSourceArn", "other"}}) ==
        "EventSourceArn: cannot be changed by an update (the mapping reads stream \"tolls\"), got "
        "\"other\"; delete the mapping and create another");
  CHECK(UpdateError(current, {{"StartingPosition", "TRIM_HORIZON"}}) ==
        "StartingPosition: cannot be changed by an update (is LATEST), got TRIM_HORIZON; delete "
        "the mapping and create another");
  CHECK(UpdateError(current, {{"StartingPositionTimestamp", 1700000000}}) ==
        "StartingPositionTimestamp: cannot be changed by an update (is none), got 1700000000; "
        "delete the mapping and create another");
  CHECK(UpdateError(current, {{"StartingPosition", "AT_TIMESTAMP"},
                              {"StartingPositionTimestamp", 1700000000}}) ==
        "StartingPosition: cannot be changed by an update (is LATEST), got AT_TIMESTAMP; delete "
        "the mapping and create another");

  json at = With("StartingPosition", "AT_TIMESTAMP");
  at["StartingPositionTimestamp"] = 1700000000.5;
  const MappingConfig at_timestamp = MustParse(at);
  CHECK(UpdateError(at_timestamp, {{"StartingPositionTimestamp", 1700000001}}) ==
        "StartingPositionTimestamp: cannot be changed by an update (is 1700000000.5), got "
        "1700000001; delete the mapping and create another");
}

TEST_CASE("an update may give the stream and the starting position again unchanged",
          "[mapping][update]") {
  const MappingConfig current = MustParse(EveryProperty());
  json again = EveryProperty();
  again["BatchSize"] = 7;
  again["EventSourceArn"] = "tolls";
  const MappingConfig updated = MustUpdate(current, again);
  CHECK(updated.batch_size == 7);
  CHECK(updated.stream_name == "tolls");
  CHECK(updated.starting_position_timestamp_ms == current.starting_position_timestamp_ms);
}

TEST_CASE("an update is checked property by property and as a whole", "[mapping][update]") {
  const MappingConfig current = MustParse(With("TumblingWindowInSeconds", 60));
  CHECK(UpdateError(current, {{"BatchSize", 0}}) ==
        "BatchSize: must be an integer from 1 to 10000, got 0");
  CHECK_THAT(UpdateError(current, {{"BatchSise", 5}}),
             Catch::StartsWith("BatchSise: unknown property (known: "));
  CHECK(UpdateError(current, {{"ParallelizationFactor", 3}}) ==
        "ParallelizationFactor: must be 1 with TumblingWindowInSeconds (one window state per "
        "shard), got 3");
  CHECK(MustUpdate(current, {{"ParallelizationFactor", 3}, {"TumblingWindowInSeconds", 0}})
            .parallelization_factor == 3);
  CHECK(UpdateError(current, json::array()) == "the update: must be an object");
}

TEST_CASE("MappingToJson spells out every property as AWS shows it", "[mapping][json]") {
  const json doc =
      MappingToJson(MustParse(Minimal()), "arn:aws:kinesis:local:000000000000:stream/tolls");
  const json expected = {
      {"FunctionName", "fn"},
      {"EventSourceArn", "arn:aws:kinesis:local:000000000000:stream/tolls"},
      {"BatchSize", 100},
      {"MaximumBatchingWindowInSeconds", 0},
      {"StartingPosition", "TRIM_HORIZON"},
      {"ParallelizationFactor", 1},
      {"MaximumRetryAttempts", -1},
      {"MaximumRecordAgeInSeconds", -1},
      {"BisectBatchOnFunctionError", false},
      {"DestinationConfig", {{"OnFailure", json::object()}}},
      {"FunctionResponseTypes", json::array()},
      {"TumblingWindowInSeconds", 0},
      {"TumblingWindowTimeField", ""},
      {"TumblingWindowAllowedLatenessInSeconds", 0},
      {"FilterCriteria", {{"Filters", json::array()}}},
      {"Enabled", true},
  };
  CHECK(doc == expected);

  const json every = MappingToJson(MustParse(EveryProperty()), "tolls");
  CHECK(every["FunctionName"] == "billing:3");
  CHECK(every["EventSourceArn"] == "tolls");
  CHECK(every["StartingPositionTimestamp"] == 1700000000.123);
  CHECK(every["DestinationConfig"] == json{{"OnFailure", {{"Destination", "file:///var/failed"}}}});
  CHECK(every.size() == expected.size() + 1);
}

TEST_CASE("ParseMapping(MappingToJson(c)) gives c back", "[mapping][json]") {
  json at_timestamp = With("StartingPosition", "AT_TIMESTAMP");
  at_timestamp["StartingPositionTimestamp"] = 1700000000;
  json stream_destination =
      With("DestinationConfig", {{"OnFailure", {{"Destination", "stream:failed"}}}});
  stream_destination["FunctionName"] = "arn:aws:lambda:local:000000000000:function:fn:12";
  for (const json& doc : {Minimal(), EveryProperty(), at_timestamp, stream_destination}) {
    INFO(doc.dump());
    const MappingConfig config = MustParse(doc);
    for (const std::string& arn :
         {config.stream_name, "arn:aws:kinesis:local:000000000000:stream/" + config.stream_name}) {
      const std::string text = MappingToJson(config, arn).dump();
      INFO(text);
      CHECK(MustParse(json::parse(text)) == config);
    }
  }
}

}  // namespace
}  // namespace sluice::poller
