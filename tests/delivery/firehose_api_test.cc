// The Firehose API (delivery/firehose_api.h) in process, over a real DeliveryService with real
// buffers and a directory destination: the shapes the aws CLI and SDKs read, and Firehose's
// errors.
#include "delivery/firehose_api.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sluice/base64.h"
#include "tests/delivery/delivery_fixture.h"

namespace sluice::delivery::testing {
namespace {

using nlohmann::json;

// Calls Firehose_20150804.<operation> and returns the HTTP status and the body as JSON.
struct Reply {
  int status;
  json body;
};

Reply Call(FirehoseApi& api, const std::string& operation, const json& request) {
  const std::string target = kFirehoseTargetPrefix + operation;
  const std::string body = request.dump();
  const stream::ApiResponse response =
      api.Handle({"POST", target, "application/x-amz-json-1.1", body});
  return {response.http_status,
          response.body.empty() ? json::object() : json::parse(response.body)};
}

json Ok(FirehoseApi& api, const std::string& operation, const json& request) {
  Reply reply = Call(api, operation, request);
  INFO(operation << " answered " << reply.body.dump());
  REQUIRE(reply.status == 200);
  return reply.body;
}

// The __type of a failed call, and its message in *message.
std::string ErrorType(FirehoseApi& api, const std::string& operation, const json& request,
                      std::string* message = nullptr) {
  Reply reply = Call(api, operation, request);
  INFO(operation << " answered " << reply.body.dump());
  REQUIRE(reply.status == 400);
  if (message != nullptr) {
    *message = reply.body.value("message", "");
  }
  return reply.body.value("__type", "");
}

TEST_CASE("Firehose API: create, describe, list and delete in Firehose's shapes") {
  DeliveryFixture f;
  FirehoseApi api(&f.service());
  const json created = Ok(api, "CreateDeliveryStream", DirectoryRequest("lake", f.Path("lake")));
  CHECK(created.at("DeliveryStreamARN") ==
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/lake");

  const json d = Ok(api, "DescribeDeliveryStream", {{"DeliveryStreamName", "lake"}})
                     .at("DeliveryStreamDescription");
  CHECK(d.at("DeliveryStreamName") == "lake");
  CHECK(d.at("DeliveryStreamARN") == created.at("DeliveryStreamARN"));
  CHECK(d.at("DeliveryStreamStatus") == "ACTIVE");
  CHECK(d.at("DeliveryStreamType") == "DirectPut");
  CHECK(d.at("VersionId") == "1");
  CHECK(d.at("CreateTimestamp").is_number());
  CHECK(d.at("CreateTimestamp").get<double>() > 1.6e9);
  CHECK(d.at("LastUpdateTimestamp").is_number());
  CHECK(d.at("HasMoreDestinations") == false);
  CHECK_FALSE(d.contains("Source"));  // DirectPut
  REQUIRE(d.at("Destinations").size() == 1);
  CHECK(d.at("Destinations")[0].at("DestinationId") == "destinationId-000000000001");

  REQUIRE(f.streams().CreateStream("tolls", 1).ok());
  Ok(api, "CreateDeliveryStream",
     {{"DeliveryStreamName", "copy"},
      {"DeliveryStreamType", "KinesisStreamAsSource"},
      {"KinesisStreamSourceConfiguration", {{"KinesisStreamARN", "tolls"}}},
      {"ExtendedS3DestinationConfiguration", {{"BucketARN", "file://" + f.Path("copy")}}}});
  const json copy = Ok(api, "DescribeDeliveryStream", {{"DeliveryStreamName", "copy"}})
                        .at("DeliveryStreamDescription");
  CHECK(copy.at("DeliveryStreamType") == "KinesisStreamAsSource");
  CHECK(copy.at("Source").at("KinesisStreamSourceDescription").at("KinesisStreamARN") ==
        "arn:aws:kinesis:us-east-1:000000000000:stream/tolls");

  CHECK(Ok(api, "ListDeliveryStreams", json::object()) ==
        json{{"DeliveryStreamNames", {"copy", "lake"}}, {"HasMoreDeliveryStreams", false}});
  CHECK(Ok(api, "ListDeliveryStreams", {{"Limit", 1}}) ==
        json{{"DeliveryStreamNames", {"copy"}}, {"HasMoreDeliveryStreams", true}});
  CHECK(Ok(api, "ListDeliveryStreams", {{"ExclusiveStartDeliveryStreamName", "copy"}}) ==
        json{{"DeliveryStreamNames", {"lake"}}, {"HasMoreDeliveryStreams", false}});
  CHECK(Ok(api, "ListDeliveryStreams", {{"DeliveryStreamType", "DirectPut"}}) ==
        json{{"DeliveryStreamNames", {"lake"}}, {"HasMoreDeliveryStreams", false}});
  CHECK(ErrorType(api, "ListDeliveryStreams", {{"Limit", 0}}) == "ValidationException");

  CHECK(ErrorType(api, "CreateDeliveryStream", DirectoryRequest("lake", f.Path("lake"))) ==
        "ResourceInUseException");
  Ok(api, "DeleteDeliveryStream", {{"DeliveryStreamName", "lake"}});
  CHECK(ErrorType(api, "DescribeDeliveryStream", {{"DeliveryStreamName", "lake"}}) ==
        "ResourceNotFoundException");
  CHECK(ErrorType(api, "DeleteDeliveryStream", {{"DeliveryStreamName", "lake"}}) ==
        "ResourceNotFoundException");
}

TEST_CASE("Firehose API: PutRecord and PutRecordBatch answer per record and deliver") {
  DeliveryFixture f;
  FirehoseApi api(&f.service());
  Ok(api, "CreateDeliveryStream", DirectoryRequest("lake", f.Path("lake")));
  const json one =
      Ok(api, "PutRecord",
         {{"DeliveryStreamName", "lake"}, {"Record", {{"Data", Base64Encode("a\n")}}}});
  CHECK(one.at("RecordId").is_string());
  CHECK_FALSE(one.at("RecordId").get<std::string>().empty());
  CHECK(one.at("Encrypted") == false);

  const json batch =
      Ok(api, "PutRecordBatch",
         {{"DeliveryStreamName", "lake"},
          {"Records", {{{"Data", Base64Encode("b\n")}}, {{"Data", Base64Encode("c\n")}}}}});
  CHECK(batch.at("FailedPutCount") == 0);
  CHECK(batch.at("Encrypted") == false);
  REQUIRE(batch.at("RequestResponses").size() == 2);
  CHECK(batch.at("RequestResponses")[0].at("RecordId") !=
        batch.at("RequestResponses")[1].at("RecordId"));

  // Objects written in the same second sort by their random uuid, not by time: compare the
  // records, not the order of the objects.
  f.WaitUntil([&] { return f.Stats("lake").records_delivered == 3; }, "three records delivered");
  std::vector<std::string> records;
  for (const auto& [key, content] : f.Files(f.Path("lake"))) {
    std::stringstream lines(content);
    for (std::string line; std::getline(lines, line);) {
      records.push_back(line);
    }
  }
  std::sort(records.begin(), records.end());
  CHECK(records == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("Firehose API: bad requests get Firehose's errors, naming what was wrong") {
  DeliveryFixture f;
  FirehoseApi api(&f.service());
  Ok(api, "CreateDeliveryStream", DirectoryRequest("lake", f.Path("lake")));
  std::string message;
  CHECK(ErrorType(api, "PutRecordBatch",
                  {{"DeliveryStreamName", "lake"},
                   {"Records", {{{"Data", Base64Encode("ok")}}, {{"Data", "not base64!"}}}}},
                  &message) == "InvalidArgumentException");
  CHECK(message.find("Records[1]") != std::string::npos);
  CHECK(ErrorType(api, "PutRecordBatch",
                  {{"DeliveryStreamName", "lake"}, {"Records", json::array()}}) ==
        "ValidationException");
  CHECK(ErrorType(api, "PutRecord",
                  {{"DeliveryStreamName", "lake"},
                   {"Record", {{"Data", Base64Encode(std::string(1'024'001, 'x'))}}}}) ==
        "ValidationException");
  CHECK(ErrorType(api, "PutRecord",
                  {{"DeliveryStreamName", "missing"}, {"Record", {{"Data", Base64Encode("x")}}}}) ==
        "ResourceNotFoundException");
  CHECK(ErrorType(api, "PutRecord", {{"DeliveryStreamName", "a b"}, {"Record", {{"Data", ""}}}}) ==
        "ValidationException");
  CHECK(ErrorType(
            api, "CreateDeliveryStream",
            DirectoryRequest("small", f.Path("small"),
                             {{"BufferingHints", {{"SizeInMBs", 0}, {"IntervalInSeconds", 0}}}}),
            &message) == "InvalidArgumentException");
  CHECK(message.find("SizeInMBs") != std::string::npos);

  // A stream that reads a Kinesis stream takes no puts.
  REQUIRE(f.streams().CreateStream("tolls", 1).ok());
  Ok(api, "CreateDeliveryStream",
     {{"DeliveryStreamName", "copy"},
      {"DeliveryStreamType", "KinesisStreamAsSource"},
      {"KinesisStreamSourceConfiguration", {{"KinesisStreamARN", "tolls"}}},
      {"ExtendedS3DestinationConfiguration", {{"BucketARN", "file://" + f.Path("copy")}}}});
  CHECK(ErrorType(api, "PutRecord",
                  {{"DeliveryStreamName", "copy"}, {"Record", {{"Data", Base64Encode("x")}}}}) ==
        "InvalidArgumentException");

  const stream::ApiResponse unknown = api.Handle(
      {"POST", "Firehose_20150804.TagDeliveryStream", "application/x-amz-json-1.1", "{}"});
  CHECK(unknown.error_type == "UnknownOperationException");
}

}  // namespace
}  // namespace sluice::delivery::testing
