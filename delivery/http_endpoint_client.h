// HttpEndpointClient: one attempt of Firehose's HTTP endpoint delivery protocol
// (wire-formats.md §5.6) on libcurl.
//
// The request: POST to the configured URL (http:// is allowed, for loopback peers) with
//   X-Amz-Firehose-Protocol-Version: 1.0, X-Amz-Firehose-Request-Id: <request_id>,
//   X-Amz-Firehose-Source-Arn: <delivery stream ARN>, Content-Type: application/json,
//   Content-Encoding: gzip (only with GZIP), X-Amz-Firehose-Access-Key (when configured),
//   X-Amz-Firehose-Common-Attributes: {"commonAttributes":{...}} (when configured),
// and the body {"requestId": ..., "timestamp": <ms>, "records": [{"data": "<base64>"}, ...]}.
//
// The answer counts as delivered only with status 200 and a conforming body: Content-Type
// application/json, JSON {"requestId": <the same id>, "timestamp": <number>}. Otherwise:
//   413                       -> kPermanent, HttpEndpoint.DestinationException (the batch is
//                                too large for the endpoint; retrying cannot help)
//   other status              -> kRetryable, HttpEndpoint.DestinationException (the body's
//                                errorMessage, when it has one, in the message)
//   200 with a bad body       -> kRetryable, HttpEndpoint.InvalidResponseFromDestination
//   body over 1 MiB           -> kRetryable, HttpEndpoint.ResponseTooLarge
//   timeout                   -> kRetryable, HttpEndpoint.RequestTimeout
//   connection refused/failed -> kRetryable, HttpEndpoint.ConnectionFailed
//   connection reset          -> kRetryable, HttpEndpoint.ConnectionReset
// 3xx is not followed (a failure like other statuses).
//
// Thread-safety: Post() may be called from several threads (a curl handle per call).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "delivery/delivery_config.h"

namespace sluice::delivery {

struct HttpEndpointOutcome {
  enum Kind { kDelivered, kRetryable, kPermanent };
  Kind kind = kRetryable;
  std::string error_code;     // empty when delivered
  std::string error_message;  // for logs and error records
  int http_status = 0;        // 0 when no response
};

class HttpEndpointClient {
 public:
  // `source_arn` is the delivery stream's ARN. `timeout_ms` bounds the whole exchange (Firehose:
  // 3 minutes).
  HttpEndpointClient(const HttpEndpointConfig& config, std::string source_arn,
                     int64_t timeout_ms = 180'000);

  // Posts one batch. `request_id` is the same on every retry of the batch. `cancelled`, when
  // given, is asked about once a second and ends the exchange (kRetryable) when it says so, so a
  // stopping host need not wait out the timeout.
  HttpEndpointOutcome Post(const std::string& request_id, int64_t timestamp_ms,
                           const std::vector<std::string>& records,
                           const std::function<bool()>& cancelled = {});

 private:
  const HttpEndpointConfig config_;
  const std::string source_arn_;
  const int64_t timeout_ms_;
};

}  // namespace sluice::delivery
