// The records Firehose writes for failed data (wire-formats.md §5.3), one JSON object per line:
//
//   {"attemptsMade":4,"arrivalTimestamp":1654710150135,"errorCode":"Lambda.FunctionTimedOut",
//    "errorMessage":"...","attemptEndingTimestamp":1654710238263,"rawData":"<base64>",
//    "lambdaArn":"arn:aws:lambda:..."}
//
// Processing failures carry lambdaArn; delivery failures (http-endpoint-failed, s3-failed,
// postgresql-failed) carry none. Numbers are JSON numbers, times epoch milliseconds.
//
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::delivery {

struct FailedRecord {
  int32_t attempts_made = 0;
  int64_t arrival_ms = 0;
  std::string error_code;     // "Lambda.FunctionError", "HttpEndpoint.DestinationException", ...
  std::string error_message;  // for Lambda.ProcessingFailed, the function's reason if it gave one
  int64_t attempt_ending_ms = 0;
  std::string raw_data;    // the record's bytes (written as base64)
  std::string lambda_arn;  // empty: no "lambdaArn" property
};

// One line, ending in '\n'.
std::string FailedRecordLine(const FailedRecord& record);

// A Redshift-style manifest of objects a load skipped:
// {"entries":[{"url":"...","mandatory":true}]}.
std::string SkippedObjectsManifest(const std::vector<std::string>& urls);

}  // namespace sluice::delivery
