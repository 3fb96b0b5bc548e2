#include "delivery/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <string_view>

namespace sluice::delivery {
namespace {

std::string Hex(const unsigned char* bytes, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    hex.push_back(kDigits[bytes[i] >> 4]);
    hex.push_back(kDigits[bytes[i] & 0xf]);
  }
  return hex;
}

// Raw HMAC-SHA256 bytes.
std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &mac_size);
  return std::string(reinterpret_cast<const char*>(mac), mac_size);
}

std::string Lower(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return text;
}

// §4.1's trimall: the ends stripped, every run of spaces inside collapsed to one.
std::string TrimAll(std::string_view value) {
  std::string trimmed;
  for (const char c : value) {
    if (c == ' ' && (trimmed.empty() || trimmed.back() == ' ')) {
      continue;
    }
    trimmed.push_back(c);
  }
  if (!trimmed.empty() && trimmed.back() == ' ') {
    trimmed.pop_back();
  }
  return trimmed;
}

// RFC 3986's unreserved characters (A-Z a-z 0-9 - _ . ~), whatever the locale.
bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string UriEncodePath(const std::string& path) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(path.size());
  for (const char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (IsUnreserved(c) || c == '/') {
      encoded.push_back(c);
    } else {
      encoded.push_back('%');
      encoded.push_back(kDigits[byte >> 4]);
      encoded.push_back(kDigits[byte & 0xf]);
    }
  }
  return encoded;
}

std::string SigV4Authorization(const SigV4Request& request, const std::string& amz_date,
                               const std::string& region, const std::string& service,
                               const std::string& access_key_id,
                               const std::string& secret_access_key) {
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("host", TrimAll(request.host));
  for (const auto& [name, value] : request.headers) {
    headers.emplace_back(Lower(name), TrimAll(value));
  }
  // By name only, so that repeated headers keep their order when joined below.
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });

  std::string canonical_headers;
  std::string signed_headers;
  for (size_t i = 0; i < headers.size(); ++i) {
    const bool repeats_previous = i > 0 && headers[i].first == headers[i - 1].first;
    if (repeats_previous) {
      canonical_headers.pop_back();  // the previous line's '\n'
      canonical_headers.append(",").append(headers[i].second).append("\n");
      continue;
    }
    if (!signed_headers.empty()) {
      signed_headers.push_back(';');
    }
    signed_headers.append(headers[i].first);
    canonical_headers.append(headers[i].first).append(":").append(headers[i].second).append("\n");
  }

  std::string canonical_request = request.method;
  canonical_request.append("\n").append(request.canonical_uri);
  canonical_request.append("\n").append(request.canonical_query);
  canonical_request.append("\n").append(canonical_headers);
  canonical_request.append("\n").append(signed_headers);
  canonical_request.append("\n").append(request.payload_sha256_hex);

  const std::string date = amz_date.substr(0, 8);
  std::string scope = date;
  scope.append("/").append(region).append("/").append(service).append("/aws4_request");

  std::string string_to_sign = "AWS4-HMAC-SHA256\n";
  string_to_sign.append(amz_date).append("\n").append(scope).append("\n");
  string_to_sign.append(Sha256Hex(canonical_request));

  const std::string date_key = HmacSha256("AWS4" + secret_access_key, date);
  const std::string region_key = HmacSha256(date_key, region);
  const std::string service_key = HmacSha256(region_key, service);
  const std::string signing_key = HmacSha256(service_key, "aws4_request");
  const std::string signature = HmacSha256(signing_key, string_to_sign);

  std::string authorization = "AWS4-HMAC-SHA256 Credential=";
  authorization.append(access_key_id).append("/").append(scope);
  authorization.append(", SignedHeaders=").append(signed_headers);
  authorization.append(", Signature=")
      .append(Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size()));
  return authorization;
}

}  // namespace sluice::delivery
