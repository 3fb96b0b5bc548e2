// AwsJsonClient: a small blocking client of one of the host's AWS JSON 1.1 APIs (Kinesis,
// Firehose), for the CLI verbs that talk to a running host (`sluice streams|put|tail|delivery`).
// One keep-alive connection, reused.
//
// Not thread-safe: one client per thread.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/status.h"

namespace sluice::host {

// The endpoint the CLI talks to: $SLUICE_ENDPOINT, else http://127.0.0.1:4566.
std::string DefaultEndpoint();

class AwsJsonClient {
 public:
  // `target_prefix`: the API's X-Amz-Target prefix with its dot, e.g. stream::kKinesisTargetPrefix.
  AwsJsonClient(std::string endpoint, std::string target_prefix);
  ~AwsJsonClient();
  AwsJsonClient(const AwsJsonClient&) = delete;
  AwsJsonClient& operator=(const AwsJsonClient&) = delete;

  // Calls <target_prefix><operation>. Returns the response body as JSON ({} when empty), or:
  // Unavailable when the request could not be sent (no host answers at the endpoint: the message
  // says how to start one); Unknown when the call failed after the request went out (a timeout
  // or a reset: the host may or may not have applied it);
  // InvalidArgument "<__type>: <message>" for an error the API returned; Internal otherwise.
  Result<nlohmann::json> Call(const std::string& operation, const nlohmann::json& request);

  const std::string& endpoint() const { return endpoint_; }

 private:
  const std::string endpoint_;
  const std::string target_prefix_;
  void* curl_;  // CURL*
};

}  // namespace sluice::host
