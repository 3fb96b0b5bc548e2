// S3Store: an ObjectStore over the S3 REST API (PutObject, GetObject), path-style
// (ENDPOINT/BUCKET/KEY), signed with AWS Signature Version 4 (service "s3", the payload's SHA-256
// in x-amz-content-sha256), on libcurl. Tested against s3rver on loopback.
//
// Credentials come from the host's environment, as every AWS SDK reads them: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN.
//
// Errors: UNAVAILABLE for connection failures, timeouts (5 s to connect, 60 s for a whole
// request, so a dead peer never hangs a pipeline), 5xx and 429 (retryable); PERMISSION_DENIED for
// 403; NOT_FOUND for 404 (a missing bucket on Put, a missing key on Get); INVALID_ARGUMENT for any
// other answer (other 4xx; 3xx such as a wrong region's PermanentRedirect, which is not followed).
// Messages name the operation, s3://BUCKET/KEY and the endpoint, and carry S3's <Code> and
// <Message> when the body has them.
//
// Thread-safety: thread-safe; each call uses its own curl handle.
#pragma once

#include <string>
#include <string_view>

#include "delivery/object_store.h"

namespace sluice::delivery {

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // may be empty
};

// From the environment; FAILED_PRECONDITION naming the missing variable.
Result<S3Credentials> S3CredentialsFromEnvironment();

// The region S3 requests to `endpoint` are signed for: the one an AWS endpoint names
// (https://s3.eu-west-1.amazonaws.com, s3-eu-west-1..., s3.dualstack.eu-west-1...), else
// `fallback` (the host's region; S3-compatible servers take any).
std::string S3RegionOfEndpoint(std::string_view endpoint, const std::string& fallback);

class S3Store final : public ObjectStore {
 public:
  // `endpoint` like "http://127.0.0.1:4568" (no trailing slash); `region` for the signature.
  S3Store(std::string endpoint, std::string bucket, std::string region, S3Credentials credentials);

  Status Put(const std::string& key, std::string_view body) override;
  Result<std::string> Get(const std::string& key) override;
  std::string Describe() const override;

 private:
  // One signed request for `key` (PUT with `body`, or GET with none); the answer's body on 2xx,
  // else the error the class comment maps. `operation` ("PutObject") is for messages.
  Result<std::string> Send(const std::string& operation, const std::string& method,
                           const std::string& key, std::string_view body) const;

  const std::string endpoint_;
  const std::string bucket_;
  const std::string region_;
  const S3Credentials credentials_;
};

}  // namespace sluice::delivery
