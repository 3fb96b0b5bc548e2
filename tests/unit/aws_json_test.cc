#include "sluice/aws_json.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace pb = sluice::runtime::v1;
using nlohmann::json;
using namespace sluice::aws_json;

namespace {

// AWS's sample Kinesis event (the Lambda console's "kinesis-get-records" template), two records.
constexpr char kKinesisSample[] = R"({
  "Records": [
    {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
       "sequenceNumber": "49590338271490256608559692538361571095921575989136588898",
       "data": "SGVsbG8sIHRoaXMgaXMgYSB0ZXN0Lg==", "approximateArrivalTimestamp": 1545084650.987},
     "eventSource": "aws:kinesis", "eventVersion": "1.0",
     "eventID": "shardId-000000000006:49590338271490256608559692538361571095921575989136588898",
     "eventName": "aws:kinesis:record",
     "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role", "awsRegion": "us-east-2",
     "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"},
    {"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "1",
       "sequenceNumber": "49590338271490256608559692540925702759324208523137515618",
       "data": "VGhpcyBpcyBvbmx5IGEgdGVzdC4=", "approximateArrivalTimestamp": 1545084711.166},
     "eventSource": "aws:kinesis", "eventVersion": "1.0",
     "eventID": "shardId-000000000006:49590338271490256608559692540925702759324208523137515618",
     "eventName": "aws:kinesis:record",
     "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-role", "awsRegion": "us-east-2",
     "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream"}
  ]
})";

constexpr char kFirehoseSample[] = R"({
  "invocationId": "invocationIdExample",
  "deliveryStreamArn": "arn:aws:kinesis:EXAMPLE",
  "sourceKinesisStreamArn": "arn:aws:kinesis:us-east-1:123456789012:stream/tolls",
  "region": "us-east-1",
  "records": [
    {"recordId": "49546986683135544286507457936321625675700192471156785154",
     "approximateArrivalTimestamp": 1495072949453, "data": "SGVsbG8gV29ybGQ=",
     "kinesisRecordMetadata": {"shardId": "shardId-000000000000", "partitionKey": "4d1ad2b9",
       "approximateArrivalTimestamp": 1495072949453,
       "sequenceNumber": "49546986683135544286507457936321625675700192471156785154",
       "subsequenceNumber": 0}}
  ]
})";

constexpr char kWindowSample[] = R"({
  "Records": [],
  "window": {"start": "2020-12-09T07:04:00Z", "end": "2020-12-09T07:06:00Z"},
  "state": {"k1": 282, "k2": 715},
  "shardId": "shardId-000000000006",
  "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/lambda-stream",
  "isFinalInvokeForWindow": true,
  "isWindowTerminatedEarly": false
})";

}  // namespace

TEST_CASE("AWS's sample Kinesis event parses into a stream batch", "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  REQUIRE(EventFromJson(kKinesisSample, &invoke, &error));
  REQUIRE(invoke.has_kinesis());
  const pb::KinesisBatch& b = invoke.kinesis();
  CHECK(b.shard_id() == "shardId-000000000006");
  CHECK(b.event_source_arn() == "arn:aws:kinesis:us-east-2:123456789012:stream/lambda-stream");
  CHECK(b.aws_region() == "us-east-2");
  REQUIRE(b.records_size() == 2);
  CHECK(b.records(0).data() == "Hello, this is a test.");
  CHECK(b.records(1).data() == "This is only a test.");
  CHECK(b.records(0).approximate_arrival_timestamp_ms() == 1545084650987);
  CHECK(b.records(1).sequence_number() ==
        "49590338271490256608559692540925702759324208523137515618");
}

TEST_CASE("a stream batch converts back to AWS's event shape, field for field", "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  REQUIRE(EventFromJson(kKinesisSample, &invoke, &error));
  const json back = json::parse(EventToJson(invoke));
  const json original = json::parse(kKinesisSample);
  CHECK(back == original);
  // All eight envelope fields are there.
  std::vector<std::string> keys;
  for (const auto& [k, v] : back["Records"][0].items()) {
    keys.push_back(k);
  }
  CHECK(keys.size() == 8);
}

TEST_CASE("AWS's sample Firehose event parses and converts back", "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  REQUIRE(EventFromJson(kFirehoseSample, &invoke, &error));
  REQUIRE(invoke.has_firehose());
  const pb::FirehoseRecord& r = invoke.firehose().records(0);
  CHECK(r.data() == "Hello World");
  CHECK(r.approximate_arrival_timestamp_ms() == 1495072949453);
  CHECK(r.kinesis_record_metadata().partition_key() == "4d1ad2b9");
  CHECK(json::parse(EventToJson(invoke)) == json::parse(kFirehoseSample));
}

TEST_CASE("a tumbling-window event keeps window, state and flags", "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  REQUIRE(EventFromJson(kWindowSample, &invoke, &error));
  REQUIRE(invoke.has_kinesis_window());
  const pb::KinesisWindowBatch& w = invoke.kinesis_window();
  CHECK(w.window_start_ms() == 1607497440000);
  CHECK(w.window_end_ms() == 1607497560000);
  CHECK(json::parse(w.state_json()) == json({{"k1", 282}, {"k2", 715}}));
  CHECK(w.is_final_invoke_for_window());
  CHECK(w.batch().shard_id() == "shardId-000000000006");
  CHECK(json::parse(EventToJson(invoke)) == json::parse(kWindowSample));
}

TEST_CASE("bad events are refused with the field that is wrong", "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  CHECK_FALSE(EventFromJson("{not json", &invoke, &error));
  CHECK(error == "the event is not valid JSON");
  CHECK_FALSE(EventFromJson(R"({"foo": 1})", &invoke, &error));
  CHECK(error.find("unrecognised event") != std::string::npos);

  json bad = json::parse(kKinesisSample);
  bad["Records"][1]["kinesis"]["data"] = "not*base64";
  invoke.Clear();
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error == "Records[1].kinesis.data: not valid base64");

  bad = json::parse(kKinesisSample);
  bad["Records"][0].erase("eventID");
  invoke.Clear();
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error == "Records[0].eventID: missing");

  bad = json::parse(kKinesisSample);
  bad["Records"][1]["eventID"] = "shardId-000000000007:1";
  invoke.Clear();
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error.find("Records[1]: a batch holds records of one shard") == 0);

  bad = json::parse(kFirehoseSample);
  bad["records"][0]["approximateArrivalTimestamp"] = "yesterday";
  invoke.Clear();
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error == "records[0].approximateArrivalTimestamp: must be a number (Unix milliseconds)");
}

TEST_CASE("wrongly typed or absurdly deep input is refused, never thrown or recursed",
          "[aws_json]") {
  pb::Invoke invoke;
  std::string error;
  json bad = json::parse(kWindowSample);
  bad["isFinalInvokeForWindow"] = "yes";
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error == "event.isFinalInvokeForWindow: must be true or false");

  bad = json::parse(kFirehoseSample);
  bad["records"][0]["kinesisRecordMetadata"]["subsequenceNumber"] = "0";
  invoke.Clear();
  CHECK_FALSE(EventFromJson(bad.dump(), &invoke, &error));
  CHECK(error == "records[0].kinesisRecordMetadata.subsequenceNumber: must be an integer");

  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  invoke.Clear();
  CHECK_FALSE(EventFromJson(R"({"Records": [], "window": {}, "state": {"x": )" + deep + "}}",
                            &invoke, &error));
  CHECK(error == "the event nests deeper than 128 levels");
  pb::InvokeResponse response;
  CHECK_FALSE(ResponseFromJson(R"({"state": )" + deep + "}", pb::Invoke::kKinesisWindow, &response,
                               &error));
  CHECK(error == "the response nests deeper than 128 levels");
  // Brackets inside strings do not count.
  CHECK(JsonDepthWithin(R"({"a": "[[[[[[[[[[\"[[[["})", 1));
  CHECK_FALSE(JsonDepthWithin(R"({"a": [[1]]})", 2));
}

TEST_CASE("stream responses follow Lambda's leniency for empty answers", "[aws_json]") {
  for (const char* success : {"", "null", "\"\"", "[]", "{}", R"({"batchItemFailures": null})",
                              R"({"batchItemFailures": []})"}) {
    pb::InvokeResponse response;
    std::string error;
    INFO(success);
    REQUIRE(ResponseFromJson(success, pb::Invoke::kKinesis, &response, &error));
    CHECK(response.has_kinesis());
    CHECK(response.kinesis().batch_item_failures_size() == 0);
  }
  pb::InvokeResponse response;
  std::string error;
  REQUIRE(ResponseFromJson(
      R"({"batchItemFailures": [{"itemIdentifier": "5"}, {"itemIdentifier": null}, {"foo": 1}]})",
      pb::Invoke::kKinesis, &response, &error));
  // Null and wrong-key items are kept as empty identifiers: they fail the whole batch later.
  REQUIRE(response.kinesis().batch_item_failures_size() == 3);
  CHECK(response.kinesis().batch_item_failures(0).item_identifier() == "5");
  CHECK(response.kinesis().batch_item_failures(1).item_identifier().empty());
  CHECK(response.kinesis().batch_item_failures(2).item_identifier().empty());
}

TEST_CASE("window responses must carry state; transform results must be known", "[aws_json]") {
  pb::InvokeResponse response;
  std::string error;
  CHECK_FALSE(ResponseFromJson(R"({"batchItemFailures": []})", pb::Invoke::kKinesisWindow,
                               &response, &error));
  CHECK(error.find("state") == 0);
  REQUIRE(
      ResponseFromJson(R"({"state": {"n": 1}})", pb::Invoke::kKinesisWindow, &response, &error));
  CHECK(json::parse(response.kinesis_window().state_json())["n"] == 1);

  response.Clear();
  CHECK_FALSE(ResponseFromJson(R"({"records": [{"recordId": "1", "result": "OK", "data": ""}]})",
                               pb::Invoke::kFirehose, &response, &error));
  CHECK(error == "records[0].result: must be Ok, Dropped or ProcessingFailed, got \"OK\"");
  response.Clear();
  REQUIRE(ResponseFromJson(
      R"({"records": [{"recordId": "1", "result": "Ok", "data": "SGk=",
          "metadata": {"partitionKeys": {"customer": "42"}}},
          {"recordId": "2", "result": "Dropped"}]})",
      pb::Invoke::kFirehose, &response, &error));
  CHECK(response.firehose().records(0).data() == "Hi");
  CHECK(response.firehose().records(0).partition_keys().at("customer") == "42");
  CHECK(response.firehose().records(1).result() == pb::FirehoseRecordResult::DROPPED);
  const json out = json::parse(ResponseToJson(response));
  CHECK(out["records"][0]["result"] == "Ok");
  CHECK(out["records"][0]["metadata"]["partitionKeys"]["customer"] == "42");
  CHECK_FALSE(out["records"][0].contains("errorMessage"));

  // A ProcessingFailed record's reason (a Sluice extension) goes both ways.
  response.Clear();
  REQUIRE(ResponseFromJson(
      R"({"records": [{"recordId": "1", "result": "ProcessingFailed", "data": "",
          "errorMessage": "field 7 (amount): not a decimal number"}]})",
      pb::Invoke::kFirehose, &response, &error));
  CHECK(response.firehose().records(0).error_message() == "field 7 (amount): not a decimal number");
  CHECK(json::parse(ResponseToJson(response))["records"][0]["errorMessage"] ==
        "field 7 (amount): not a decimal number");
  response.Clear();
  CHECK_FALSE(ResponseFromJson(
      R"({"records": [{"recordId": "1", "result": "ProcessingFailed", "data": "",
          "errorMessage": 7}]})",
      pb::Invoke::kFirehose, &response, &error));
  CHECK(error == "records[0].errorMessage: must be a string");
}

TEST_CASE("function errors render as Lambda's error body", "[aws_json]") {
  pb::InvokeResponse response;
  response.mutable_error()->set_error_type("Sandbox.Timedout");
  response.mutable_error()->set_error_message("Task timed out after 3.00 seconds");
  CHECK(json::parse(ResponseToJson(response)) ==
        json({{"errorType", "Sandbox.Timedout"},
              {"errorMessage", "Task timed out after 3.00 seconds"}}));
}

TEST_CASE("ISO-8601 times round-trip with and without milliseconds", "[aws_json]") {
  int64_t ms = 0;
  REQUIRE(MillisFromIso8601("2020-12-09T07:04:00Z", &ms));
  CHECK(ms == 1607497440000);
  CHECK(Iso8601FromMillis(ms) == "2020-12-09T07:04:00Z");
  REQUIRE(MillisFromIso8601("2020-12-09T07:04:00.25Z", &ms));
  CHECK(ms == 1607497440250);
  CHECK(Iso8601FromMillis(ms) == "2020-12-09T07:04:00.250Z");
  CHECK_FALSE(MillisFromIso8601("2020-12-09 07:04:00Z", &ms));
  CHECK_FALSE(MillisFromIso8601("2020-12-09T07:04:00", &ms));
  CHECK_FALSE(MillisFromIso8601("2020-13-09T07:04:00Z", &ms));
}
