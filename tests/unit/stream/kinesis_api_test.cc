// KinesisApi in-process, on a ManualClock: the parts of the API that depend on time (iterator
// and NextToken expiry, AT_TIMESTAMP, MillisBehindLatest) without waiting, and the exact
// shapes of responses. The HTTP path is covered by tests/stream_api.
#include "stream/kinesis_api.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/stream/stream_test_util.h"

namespace sluice::stream {
namespace {

using nlohmann::json;
using testing::TempDir;

class ApiFixture {
 public:
  ApiFixture() {
    StreamStoreOptions options;
    options.data_dir = tmp_.path();
    options.retention_check_interval_ms = 0;
    store_ = std::move(StreamStore::Open(options, &clock_).value());
    api_ = std::make_unique<KinesisApi>(store_.get(), KinesisApiOptions{});
  }

  ApiResponse Raw(const std::string& operation, const std::string& body) {
    const std::string target = "Kinesis_20131202." + operation;
    return api_->Handle({"POST", target, "application/x-amz-json-1.1", body});
  }
  json Ok(const std::string& operation, const json& body) {
    ApiResponse response = Raw(operation, body.dump());
    INFO(operation << " -> " << response.http_status << " " << response.body);
    REQUIRE(response.http_status == 200);
    return response.body.empty() ? json::object() : json::parse(response.body);
  }
  // The error's __type, checking the body agrees with the response's error_type.
  std::string Error(const std::string& operation, const json& body) {
    ApiResponse response = Raw(operation, body.dump());
    INFO(operation << " -> " << response.http_status << " " << response.body);
    REQUIRE(response.http_status == 400);
    const json error = json::parse(response.body);
    CHECK(error["__type"] == response.error_type);
    CHECK(!error["message"].get<std::string>().empty());
    return response.error_type;
  }

  ManualClock& clock() { return clock_; }

 private:
  TempDir tmp_;
  ManualClock clock_;
  std::unique_ptr<StreamStore> store_;
  std::unique_ptr<KinesisApi> api_;
};

std::string Iterator(ApiFixture& api, const json& request) {
  json body = request;
  body["StreamName"] = "s";
  body["ShardId"] = "shardId-000000000000";
  return api.Ok("GetShardIterator", body)["ShardIterator"];
}

}  // namespace

TEST_CASE("a shard iterator expires after five minutes", "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  const std::string iterator = Iterator(api, {{"ShardIteratorType", "TRIM_HORIZON"}});
  api.clock().Advance(std::chrono::minutes(5));
  const json fresh = api.Ok("GetRecords", {{"ShardIterator", iterator}});  // exactly 5 min: ok
  api.clock().Advance(std::chrono::milliseconds(1));
  CHECK(api.Error("GetRecords", {{"ShardIterator", iterator}}) == "ExpiredIteratorException");
  // The iterator GetRecords returned is new, and lives its own five minutes.
  CHECK(api.Ok("GetRecords", {{"ShardIterator", fresh["NextShardIterator"]}})["Records"].empty());
}

TEST_CASE("ListShards pages with NextToken, which expires", "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 5}});
  const json first = api.Ok("ListShards", {{"StreamName", "s"}, {"MaxResults", 2}});
  REQUIRE(first["Shards"].size() == 2);
  REQUIRE(first.contains("NextToken"));
  CHECK(api.Error("ListShards", {{"StreamName", "s"}, {"NextToken", first["NextToken"]}}) ==
        "InvalidArgumentException");
  const json second = api.Ok("ListShards", {{"NextToken", first["NextToken"]}, {"MaxResults", 2}});
  REQUIRE(second["Shards"].size() == 2);
  CHECK(second["Shards"][0]["ShardId"] == "shardId-000000000002");
  api.clock().Advance(std::chrono::minutes(6));
  CHECK(api.Error("ListShards", {{"NextToken", second["NextToken"]}}) ==
        "ExpiredNextTokenException");
}

TEST_CASE("ListStreams pages with NextToken", "[stream][api]") {
  ApiFixture api;
  for (const char* name : {"a", "b", "c"}) {
    api.Ok("CreateStream", {{"StreamName", name}, {"ShardCount", 1}});
  }
  const json first = api.Ok("ListStreams", {{"Limit", 2}});
  CHECK(first["StreamNames"] == json::array({"a", "b"}));
  CHECK(first["HasMoreStreams"] == true);
  REQUIRE(first.contains("NextToken"));
  const json second = api.Ok("ListStreams", {{"NextToken", first["NextToken"]}});
  CHECK(second["StreamNames"] == json::array({"c"}));
  CHECK(second["HasMoreStreams"] == false);
  CHECK(!second.contains("NextToken"));
  // A token ListStreams did not make is refused: garbage, and a ListShards token.
  api.Ok("CreateStream", {{"StreamName", "d"}, {"ShardCount", 2}});
  const json shards = api.Ok("ListShards", {{"StreamName", "d"}, {"MaxResults", 1}});
  REQUIRE(shards.contains("NextToken"));
  CHECK(api.Error("ListStreams", {{"NextToken", shards["NextToken"]}}) ==
        "InvalidArgumentException");
  CHECK(api.Error("ListStreams", {{"NextToken", "bm90IGEgdG9rZW4="}}) ==
        "InvalidArgumentException");
}

TEST_CASE("AT_TIMESTAMP starts at the first record at or after the time", "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  const double t0 = static_cast<double>(api.clock().UnixMillis()) / 1000.0;
  api.Ok("PutRecord", {{"StreamName", "s"}, {"PartitionKey", "k"}, {"Data", "MQ=="}});  // "1"
  api.clock().Advance(std::chrono::seconds(10));
  api.Ok("PutRecord", {{"StreamName", "s"}, {"PartitionKey", "k"}, {"Data", "Mg=="}});  // "2"
  const std::string at =
      Iterator(api, {{"ShardIteratorType", "AT_TIMESTAMP"}, {"Timestamp", t0 + 5}});
  const json records = api.Ok("GetRecords", {{"ShardIterator", at}})["Records"];
  REQUIRE(records.size() == 1);
  CHECK(records[0]["Data"] == "Mg==");
  CHECK(records[0]["ApproximateArrivalTimestamp"].get<double>() == Approx(t0 + 10));
  // A time in the future is refused, as AWS does.
  CHECK(api.Error("GetShardIterator", {{"StreamName", "s"},
                                       {"ShardId", "shardId-000000000000"},
                                       {"ShardIteratorType", "AT_TIMESTAMP"},
                                       {"Timestamp", t0 + 3600}}) == "InvalidArgumentException");
}

TEST_CASE("MillisBehindLatest is the age of the last record read while behind, else 0",
          "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  for (int i = 0; i < 3; ++i) {
    api.Ok("PutRecord", {{"StreamName", "s"}, {"PartitionKey", "k"}, {"Data", "eA=="}});
  }
  api.clock().Advance(std::chrono::seconds(7));
  const std::string iterator = Iterator(api, {{"ShardIteratorType", "TRIM_HORIZON"}});
  const json partial = api.Ok("GetRecords", {{"ShardIterator", iterator}, {"Limit", 1}});
  CHECK(partial["Records"].size() == 1);
  CHECK(partial["MillisBehindLatest"] == 7000);
  const json rest = api.Ok("GetRecords", {{"ShardIterator", partial["NextShardIterator"]}});
  CHECK(rest["Records"].size() == 2);
  CHECK(rest["MillisBehindLatest"] == 0);
}

TEST_CASE("AFTER_SEQUENCE_NUMBER and AT_SEQUENCE_NUMBER", "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  std::vector<std::string> numbers;
  for (const char* data : {"YQ==", "Yg==", "Yw=="}) {
    numbers.push_back(
        api.Ok("PutRecord",
               {{"StreamName", "s"}, {"PartitionKey", "k"}, {"Data", data}})["SequenceNumber"]);
  }
  const std::string at = Iterator(
      api, {{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", numbers[1]}});
  CHECK(api.Ok("GetRecords", {{"ShardIterator", at}})["Records"][0]["Data"] == "Yg==");
  const std::string after = Iterator(api, {{"ShardIteratorType", "AFTER_SEQUENCE_NUMBER"},
                                           {"StartingSequenceNumber", numbers[2]}});
  CHECK(api.Ok("GetRecords", {{"ShardIterator", after}})["Records"].empty());
  // The next number to be handed out starts at the end (as LATEST would); one beyond it is
  // invalid, and so is one of another shape.
  std::string next = numbers[2];
  next.back() = static_cast<char>(next.back() + 1);
  const std::string at_end = Iterator(
      api, {{"ShardIteratorType", "AT_SEQUENCE_NUMBER"}, {"StartingSequenceNumber", next}});
  CHECK(api.Ok("GetRecords", {{"ShardIterator", at_end}})["Records"].empty());
  next.back() = static_cast<char>(next.back() + 1);
  CHECK(api.Error("GetShardIterator", {{"StreamName", "s"},
                                       {"ShardId", "shardId-000000000000"},
                                       {"ShardIteratorType", "AT_SEQUENCE_NUMBER"},
                                       {"StartingSequenceNumber", next}}) ==
        "InvalidArgumentException");
  CHECK(api.Error("GetShardIterator", {{"StreamName", "s"},
                                       {"ShardId", "shardId-000000000000"},
                                       {"ShardIteratorType", "AT_SEQUENCE_NUMBER"},
                                       {"StartingSequenceNumber", "12x"}}) ==
        "ValidationException");
}

TEST_CASE("an iterator of a deleted stream does not read its re-created namesake",
          "[stream][api]") {
  ApiFixture api;
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  const std::string iterator = Iterator(api, {{"ShardIteratorType", "TRIM_HORIZON"}});
  api.Ok("DeleteStream", {{"StreamName", "s"}});
  api.clock().Advance(std::chrono::milliseconds(5));
  api.Ok("CreateStream", {{"StreamName", "s"}, {"ShardCount", 1}});
  CHECK(api.Error("GetRecords", {{"ShardIterator", iterator}}) == "ResourceNotFoundException");
}

}  // namespace sluice::stream
