#include "delivery/error_records.h"

#include <nlohmann/json.hpp>

#include "sluice/base64.h"

namespace sluice::delivery {
namespace {

// Invalid UTF-8 (a function's error text may hold any bytes) becomes U+FFFD instead of throwing.
std::string Dump(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace

std::string FailedRecordLine(const FailedRecord& record) {
  // Firehose's property order, so that lines read like the ones AWS writes.
  nlohmann::ordered_json line = {
      {"attemptsMade", record.attempts_made},
      {"arrivalTimestamp", record.arrival_ms},
      {"errorCode", record.error_code},
      {"errorMessage", record.error_message},
      {"attemptEndingTimestamp", record.attempt_ending_ms},
      {"rawData", Base64Encode(record.raw_data)},
  };
  if (!record.lambda_arn.empty()) {
    line["lambdaArn"] = record.lambda_arn;
  }
  return Dump(line) + "\n";
}

std::string SkippedObjectsManifest(const std::vector<std::string>& urls) {
  nlohmann::ordered_json entries = nlohmann::ordered_json::array();
  for (const std::string& url : urls) {
    entries.push_back({{"url", url}, {"mandatory", true}});
  }
  return Dump({{"entries", std::move(entries)}});
}

}  // namespace sluice::delivery
