// KinesisApi: the Kinesis Data Streams API (AWS JSON 1.1) over a StreamStore, so that any Kinesis
// producer or consumer (aws CLI, AWS SDKs, agents) works against Sluice unchanged.
//
// It handles one request at a time as plain values, independent of the HTTP server: the server
// passes the method, the X-Amz-Target and Content-Type headers and the body, and sends back the
// status, content type and body. Operations: CreateStream, DeleteStream, ListStreams,
// DescribeStream, DescribeStreamSummary, ListShards, PutRecord, PutRecords, GetShardIterator,
// GetRecords, SplitShard, MergeShards, IncreaseStreamRetentionPeriod,
// DecreaseStreamRetentionPeriod. Errors are AWS's: HTTP 400 with {"__type", "message"}
// (500 InternalFailure for storage errors). Limits are AWS's (see wire-formats.md §1.7).
// SigV4 Authorization headers are accepted and not verified.
//
// Thread-safety: Handle() may run concurrently from any number of threads. Does not own the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "stream/stream_store.h"

namespace sluice::stream {

inline constexpr char kKinesisTargetPrefix[] = "Kinesis_20131202.";

struct KinesisApiOptions {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";  // 12 digits, as in ARNs
};

struct ApiRequest {
  std::string_view method;        // "POST"
  std::string_view target;        // X-Amz-Target, e.g. "Kinesis_20131202.PutRecord"
  std::string_view content_type;  // Content-Type
  std::string_view body;
};

struct ApiResponse {
  int http_status = 200;
  std::string content_type = "application/x-amz-json-1.1";
  std::string body;
  std::string error_type;  // the __type of an error response, empty on success
};

class KinesisApi {
 public:
  KinesisApi(StreamStore* store, KinesisApiOptions options);

  ApiResponse Handle(const ApiRequest& request);

  // The largest request body the API accepts (a full PutRecords with its base64 and JSON
  // overhead); the HTTP server answers 413 above it.
  static constexpr size_t kMaxBodyBytes = 12u << 20;

 private:
  class Call;
  StreamStore* const store_;
  const KinesisApiOptions options_;
};

}  // namespace sluice::stream
