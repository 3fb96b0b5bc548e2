// Error records and skipped-object manifests: the exact lines Firehose writes.
#include "delivery/error_records.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "sluice/base64.h"

namespace sluice::delivery {
namespace {

FailedRecord ProcessingFailure() {
  FailedRecord record;
  record.attempts_made = 4;
  record.arrival_ms = 1654710150135;
  record.error_code = "Lambda.FunctionTimedOut";
  record.error_message = "The Lambda function invocation timed out.";
  record.attempt_ending_ms = 1654710238263;
  record.raw_data = "hello";
  record.lambda_arn = "arn:aws:lambda:us-east-1:000000000000:function:transform:$LATEST";
  return record;
}

TEST_CASE("a processing-failed record is one line in Firehose's shape, with numbers") {
  CHECK(FailedRecordLine(ProcessingFailure()) ==
        R"({"attemptsMade":4,"arrivalTimestamp":1654710150135,)"
        R"("errorCode":"Lambda.FunctionTimedOut",)"
        R"("errorMessage":"The Lambda function invocation timed out.",)"
        R"("attemptEndingTimestamp":1654710238263,"rawData":"aGVsbG8=",)"
        R"("lambdaArn":"arn:aws:lambda:us-east-1:000000000000:function:transform:$LATEST"})"
        "\n");
}

TEST_CASE("a delivery failure has no lambdaArn, and any bytes stay one line") {
  FailedRecord record = ProcessingFailure();
  record.lambda_arn.clear();
  record.error_code = "HttpEndpoint.DestinationException";
  record.error_message = "HTTP 500: line one\nline two \xff";  // not UTF-8 either
  record.raw_data = std::string("\0\x01\xfe\n", 4);
  const std::string line = FailedRecordLine(record);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);

  const nlohmann::json parsed = nlohmann::json::parse(line);
  CHECK_FALSE(parsed.contains("lambdaArn"));
  CHECK(parsed.size() == 6);
  CHECK(parsed["attemptsMade"].is_number_integer());
  CHECK(parsed["errorCode"] == "HttpEndpoint.DestinationException");
  CHECK(parsed["errorMessage"] == "HTTP 500: line one\nline two \xef\xbf\xbd");
  std::string raw;
  REQUIRE(Base64Decode(parsed["rawData"].get<std::string>(), &raw));
  CHECK(raw == record.raw_data);
}

TEST_CASE("a skipped-objects manifest lists every URL as mandatory") {
  CHECK(SkippedObjectsManifest({"s3://lake/a.gz", "file:///var/lake/b"}) ==
        R"({"entries":[{"url":"s3://lake/a.gz","mandatory":true},)"
        R"({"url":"file:///var/lake/b","mandatory":true}]})");
  CHECK(SkippedObjectsManifest({}) == R"({"entries":[]})");
}

}  // namespace
}  // namespace sluice::delivery
