// ParseStack: the stack file of `sluice apply`.
#include "host/stack.h"

#include <catch2/catch.hpp>

namespace sluice::host {
namespace {

Result<Stack> Parse(const std::string& text) {
  return ParseStack(text, "/srv/app", "stack.json");
}

std::string Error(const std::string& text) {
  Result<Stack> stack = Parse(text);
  REQUIRE_FALSE(stack.ok());
  CHECK(stack.status().code() == Code::kInvalidArgument);
  return stack.status().message();
}

TEST_CASE("a full stack parses with defaults filled in and paths resolved") {
  Result<Stack> stack = Parse(R"({
    "Streams": [{"StreamName": "tolls", "ShardCount": 2}, {"StreamName": "dead-letters"}],
    "Functions": [{"Manifest": "functions/billing/function.json"},
                  {"Manifest": "/opt/f/function.json"}],
    "Topics": [{"TopicName": "billing-alerts",
                "Subscriptions": [{"Endpoint": "http://127.0.0.1:9000/hook", "Secret": "s",
                                   "DeliveryPolicy": {"NumRetries": 3, "MinDelayMs": 50,
                                                      "MaxDelayMs": 500}},
                                  {"Endpoint": "stdout"}]},
               {"TopicName": "station-alerts"}]
  })");
  REQUIRE(stack.ok());
  REQUIRE(stack->streams.size() == 2);
  CHECK(stack->streams[0].name == "tolls");
  CHECK(stack->streams[0].shard_count == 2);
  CHECK_FALSE(stack->streams[0].retention_hours.has_value());  // left to the stream
  CHECK(stack->streams[1].shard_count == 1);
  REQUIRE(stack->functions.size() == 2);
  CHECK(stack->functions[0].manifest_path == "/srv/app/functions/billing/function.json");
  CHECK(stack->functions[1].manifest_path == "/opt/f/function.json");
  REQUIRE(stack->topics.size() == 2);
  REQUIRE(stack->topics[0].subscriptions.size() == 2);
  CHECK(stack->topics[0].subscriptions[0].secret == "s");
  CHECK(stack->topics[0].subscriptions[0].policy.num_retries == 3);
  CHECK(stack->topics[0].subscriptions[0].policy.min_delay_ms == 50);
  CHECK(stack->topics[0].subscriptions[0].policy.max_delay_ms == 500);
  CHECK(stack->topics[0].subscriptions[1].policy.num_retries ==
        state::DeliveryPolicy{}.num_retries);
  CHECK(stack->topics[1].subscriptions.empty());
}

TEST_CASE("an empty stack is valid and declares nothing") {
  Result<Stack> stack = Parse("{}");
  REQUIRE(stack.ok());
  CHECK(stack->streams.empty());
  CHECK(stack->functions.empty());
  CHECK(stack->topics.empty());
}

TEST_CASE("bad stacks are refused with the JSON path of the problem") {
  CHECK(Error("[1]") == "stack.json: the stack: must be an object");
  CHECK(Error("{") ==
        "stack.json: not valid JSON: line 1, column 2: syntax error while parsing object key - "
        "unexpected end of input; expected string literal");
  CHECK(Error(R"({"Stream": []})").find("stack.json: Stream: unknown property") == 0);
  CHECK(Error(R"({"Streams": {}})") == "stack.json: Streams: must be an array");
  CHECK(Error(R"({"Streams": [{}]})") == "stack.json: Streams[0].StreamName: required");
  CHECK(Error(R"({"Streams": [{"StreamName": "a b"}]})").find("Streams[0].StreamName: must be") !=
        std::string::npos);
  CHECK(Error(R"({"Streams": [{"StreamName": "s", "ShardCount": 0}]})") ==
        "stack.json: Streams[0].ShardCount: must be an integer from 1 to 500, got 0");
  CHECK(Error(R"({"Streams": [{"StreamName": "s", "RetentionPeriodHours": "24"}]})")
            .find("Streams[0].RetentionPeriodHours: must be an integer") != std::string::npos);
  CHECK(Error(R"({"Streams": [{"StreamName": "s"}, {"StreamName": "s"}]})")
            .find("Streams[1].StreamName: stream \"s\" is declared twice") != std::string::npos);
  CHECK(Error(R"({"Functions": [{"Manifest": ""}]})").find("Functions[0].Manifest") !=
        std::string::npos);
  CHECK(Error(R"({"Functions": [{"Path": "x"}]})").find("Functions[0].Path: unknown property") !=
        std::string::npos);
  CHECK(Error(R"({"Topics": [{"TopicName": "a/b"}]})").find("Topics[0].TopicName") !=
        std::string::npos);
  CHECK(Error(R"({"Topics": [{"TopicName": "t", "Subscriptions": [{"Endpoint": "ftp://x"}]}]})")
            .find("Topics[0].Subscriptions[0].Endpoint") != std::string::npos);
  CHECK(Error(R"({"Topics": [{"TopicName": "t", "Subscriptions": [{"Endpoint": "stdout"},
                                                                  {"Endpoint": "stdout"}]}]})")
            .find("Topics[0].Subscriptions[1].Endpoint: \"stdout\" is subscribed twice") !=
        std::string::npos);
  CHECK(Error(R"({"Topics": [{"TopicName": "t", "Subscriptions": [{"Endpoint": "stdout",
              "DeliveryPolicy": {"MinDelayMs": 5000, "MaxDelayMs": 100}}]}]})")
            .find("Topics[0].Subscriptions[0].DeliveryPolicy") != std::string::npos);
  CHECK(Error(R"({"Topics": [{"TopicName": "t"}, {"TopicName": "t"}]})")
            .find("Topics[1].TopicName: topic \"t\" is declared twice") != std::string::npos);
}

TEST_CASE("a stack's delivery streams parse as CreateDeliveryStream requests") {
  Result<Stack> stack = Parse(R"({
    "Streams": [{"StreamName": "tolls"}],
    "DeliveryStreams": [
      {"DeliveryStreamName": "tolls-lake",
       "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///srv/lake", "Prefix": "raw/",
                                              "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}},
      {"DeliveryStreamName": "tolls-copy", "DeliveryStreamType": "KinesisStreamAsSource",
       "KinesisStreamSourceConfiguration": {"KinesisStreamARN": "tolls"},
       "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///srv/copy"}}]
  })");
  REQUIRE(stack.ok());
  REQUIRE(stack->delivery_streams.size() == 2);
  const delivery::DeliveryStreamConfig& lake = stack->delivery_streams[0];
  CHECK(lake.name == "tolls-lake");
  CHECK(lake.source == delivery::SourceKind::kDirectPut);
  CHECK(lake.destination == delivery::DestinationKind::kObjectStore);
  CHECK(lake.object_store.directory() == "/srv/lake");
  CHECK(lake.object_store.prefix == "raw/");
  CHECK(lake.object_store.buffering.size_bytes == 1 << 20);
  const delivery::DeliveryStreamConfig& copy = stack->delivery_streams[1];
  CHECK(copy.source == delivery::SourceKind::kStream);
  CHECK(copy.source_stream == "tolls");
}

TEST_CASE("bad delivery streams are refused with the JSON path inside the stack") {
  CHECK(Error(R"({"DeliveryStreams": {}})") == "stack.json: DeliveryStreams: must be an array");
  CHECK(Error(R"({"DeliveryStreams": [{"DeliveryStreamName": "d",
      "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///l",
                                             "BufferingHints": {"SizeInMBs": 0, "IntervalInSeconds": 60}}}]})") ==
        "stack.json: DeliveryStreams[0].ExtendedS3DestinationConfiguration.BufferingHints."
        "SizeInMBs: must be an integer from 1 to 128, got 0");
  CHECK(Error(R"({"DeliveryStreams": [{"DeliveryStreamName": "d"}]})")
            .find("stack.json: DeliveryStreams[0]: must have exactly one destination") == 0);
  CHECK(Error(R"({"DeliveryStreams": [
      {"DeliveryStreamName": "d", "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///a"}},
      {"DeliveryStreamName": "d", "ExtendedS3DestinationConfiguration": {"BucketARN": "file:///b"}}
    ]})") ==
        "stack.json: DeliveryStreams[1].DeliveryStreamName: delivery stream \"d\" is "
        "declared twice (also by DeliveryStreams[0])");
}

}  // namespace
}  // namespace sluice::host
