// AWS Signature Version 4 (wire-formats.md §4): the Authorization header for one request.
//
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::delivery {

struct SigV4Request {
  std::string method;           // "PUT"
  std::string host;             // "127.0.0.1:4568" (with the port when not the default)
  std::string canonical_uri;    // the path, already URI-encoded ("/bucket/a/b%20c.gz")
  std::string canonical_query;  // "" or sorted, encoded "a=1&b=2"
  // Headers to sign besides host (names lower-case), e.g. x-amz-content-sha256, x-amz-date.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256_hex;
};

// "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=...,
// Signature=..." for `request` at `amz_date` ("20260101T000000Z").
std::string SigV4Authorization(const SigV4Request& request, const std::string& amz_date,
                               const std::string& region, const std::string& service,
                               const std::string& access_key_id,
                               const std::string& secret_access_key);

// Hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// S3's URI encoding of a key (RFC 3986 unreserved kept, '/' kept).
std::string UriEncodePath(const std::string& path);

}  // namespace sluice::delivery
