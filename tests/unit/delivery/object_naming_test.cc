// Object naming: Firehose's key layout, the default time path appended to a prefix without a
// timestamp, the expressions, error prefixes, and ValidatePrefix's rules.
#include "delivery/object_naming.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace sluice::delivery {
namespace {

constexpr int64_t k20180827T103015 = 1535365815000;  // 2018-08-27T10:30:15Z
constexpr int64_t k20240131T235959 = 1706745599000;  // 2024-01-31T23:59:59Z
constexpr char kRandom[] = "abcdefghij0";

std::string Evaluate(const std::string& prefix, int64_t unix_ms = k20180827T103015) {
  return EvaluatePrefix(prefix, unix_ms, kRandom, kProcessingFailed);
}

// The message of the INVALID_ARGUMENT ValidatePrefix must return.
std::string PrefixError(const std::string& prefix, bool is_error_prefix) {
  const Status status = ValidatePrefix(prefix, is_error_prefix);
  INFO(prefix);
  REQUIRE(status.code() == Code::kInvalidArgument);
  return status.message();
}

TEST_CASE("a prefix without a timestamp gets yyyy/MM/dd/HH/ appended as it is") {
  CHECK(Evaluate("myPrefix") == "myPrefix2018/08/27/10/");
  CHECK(Evaluate("logs/") == "logs/2018/08/27/10/");
  CHECK(Evaluate("") == "2018/08/27/10/");
  CHECK(Evaluate("r/!{firehose:random-string}/") == "r/abcdefghij0/2018/08/27/10/");
}

TEST_CASE("timestamp expressions format the UTC time and replace the default path") {
  CHECK(Evaluate("year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/") ==
        "year=2018/month=08/day=27/");
  CHECK(Evaluate("!{timestamp:yyyy-MM-dd HH:mm:ss}/") == "2018-08-27 10:30:15/");
  CHECK(Evaluate("!{timestamp:'at' HH'h'}/") == "at 10h/");
  CHECK(Evaluate("!{timestamp:HH'o''clock'''}/") == "10o'clock'/");
  CHECK(Evaluate("!{timestamp:''yyyy}") == "'2018");
}

TEST_CASE("timestamps at a day, month and year boundary") {
  CHECK(Evaluate("p/", k20240131T235959) == "p/2024/01/31/23/");
  CHECK(Evaluate("p/", k20240131T235959 + 999) == "p/2024/01/31/23/");
  CHECK(Evaluate("p/", k20240131T235959 + 1000) == "p/2024/02/01/00/");
  CHECK(Evaluate("!{timestamp:yyyy/MM/dd/HH/mm/ss}", 1735689599999) == "2024/12/31/23/59/59");
  CHECK(Evaluate("!{timestamp:yyyy/MM/dd/HH/mm/ss}", 1735689600000) == "2025/01/01/00/00/00");
  // Before 1970 the milliseconds floor to the previous second.
  CHECK(Evaluate("!{timestamp:yyyy-MM-dd HH:mm:ss}", -1) == "1969-12-31 23:59:59");
}

TEST_CASE("object keys follow Firehose's suffix") {
  const std::string uuid = "0b1c2d3e-4f50-4a61-8b72-93a4b5c6d7e8";
  CHECK(ObjectKey("myprefix/2024/01/31/23/", "my-stream", 1, k20240131T235959, uuid, ".gz") ==
        "myprefix/2024/01/31/23/my-stream-1-2024-01-31-23-59-59-" + uuid + ".gz");
  CHECK(ObjectKey("", "s", 12, k20240131T235959 + 1000, uuid, "") ==
        "s-12-2024-02-01-00-00-00-" + uuid);
}

TEST_CASE("error prefixes: the ErrorOutputPrefix, else <Prefix><type>/yyyy/MM/dd/HH/") {
  CHECK(EvaluateErrorPrefix("logs/", "", k20180827T103015, kRandom, kProcessingFailed) ==
        "logs/processing-failed/2018/08/27/10/");
  CHECK(EvaluateErrorPrefix("", "", k20180827T103015, kRandom, kHttpEndpointFailed) ==
        "http-endpoint-failed/2018/08/27/10/");
  CHECK(EvaluateErrorPrefix("logs/!{timestamp:yyyy}/",
                            "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM}/",
                            k20180827T103015, kRandom, kS3Failed) == "errors/s3-failed/2018/08/");
  // An ErrorOutputPrefix without a timestamp gets the default path too.
  CHECK(EvaluateErrorPrefix("logs/", "errors/", k20180827T103015, kRandom, kPostgresFailed) ==
        "errors/2018/08/27/10/");
  CHECK(EvaluateErrorPrefix("x/", "e/!{firehose:error-output-type}/!{firehose:random-string}/",
                            k20180827T103015, kRandom,
                            kProcessingFailed) == "e/processing-failed/abcdefghij0/2018/08/27/10/");
}

TEST_CASE("valid prefixes pass ValidatePrefix") {
  for (const std::string& prefix : std::vector<std::string>{
           "", "plain/", "!{timestamp:yyyy/MM/dd}/", "!{firehose:random-string}/",
           "a/!{timestamp:'y='yyyy}/b/", std::string(498, 'p')}) {
    INFO(prefix);
    CHECK(ValidatePrefix(prefix, false).ok());
  }
  CHECK(ValidatePrefix("errors/!{firehose:error-output-type}/!{timestamp:yyyy}/", true).ok());
  CHECK(ValidatePrefix("errors/", true).ok());
}

TEST_CASE("ValidatePrefix names what is wrong") {
  CHECK(PrefixError("a/!{timestamp:yyyy", false) == "unclosed expression !{timestamp:yyyy");
  CHECK(PrefixError("a/!{timestamp:!{x}}", false).starts_with("unclosed expression"));
  CHECK(PrefixError("!{partitionKeyFromQuery:id}/", false)
            .starts_with("unsupported expression !{partitionKeyFromQuery:id}"));
  CHECK(PrefixError("!{firehose:random}/", false).starts_with("unsupported expression"));
  CHECK(PrefixError("!{timestamp:}/", false).starts_with("unsupported expression !{timestamp:}"));
  CHECK(PrefixError("!{timestamp:yyyy-MMM}/", false) ==
        "!{timestamp:yyyy-MMM}: unsupported timestamp pattern \"MMM\" (supported: yyyy, MM, dd, "
        "HH, mm, ss and 'quoted text')");
  CHECK(PrefixError("!{timestamp:yy}/", false).find("\"yy\"") != std::string::npos);
  CHECK(PrefixError("!{timestamp:[yyyy]}/", false).find("\"[\"") != std::string::npos);
  CHECK(PrefixError("!{timestamp:'yyyy}/", false).find("unclosed quote") != std::string::npos);
  CHECK(PrefixError("p/!{firehose:error-output-type}/", false) ==
        "!{firehose:error-output-type} is allowed only in ErrorOutputPrefix");
  CHECK(PrefixError("errors/!{timestamp:yyyy}/", true) ==
        "an ErrorOutputPrefix with expressions must contain !{firehose:error-output-type}, got "
        "\"errors/!{timestamp:yyyy}/\"");
  CHECK(PrefixError(std::string(1025, 'p'), false) == "must be at most 1024 characters, got 1025");
  // 499 + the default time path's 14 characters is more than 512.
  CHECK(PrefixError(std::string(499, 'p'), false) ==
        "evaluates to up to 513 characters, more than 512");
}

}  // namespace
}  // namespace sluice::delivery
