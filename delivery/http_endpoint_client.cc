#include "delivery/http_endpoint_client.h"

#include <curl/curl.h>
#include <strings.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "delivery/gzip.h"
#include "sluice/base64.h"

namespace sluice::delivery {
namespace {

constexpr char kDestinationException[] = "HttpEndpoint.DestinationException";
constexpr char kInvalidResponse[] = "HttpEndpoint.InvalidResponseFromDestination";
constexpr char kResponseTooLarge[] = "HttpEndpoint.ResponseTooLarge";
constexpr char kRequestTimeout[] = "HttpEndpoint.RequestTimeout";
constexpr char kConnectionFailed[] = "HttpEndpoint.ConnectionFailed";
constexpr char kConnectionReset[] = "HttpEndpoint.ConnectionReset";

constexpr size_t kMaxResponseBytes = 1 << 20;
constexpr long kPayloadTooLarge = 413;

struct ResponseBody {
  std::string bytes;
  bool too_large = false;
};

// libcurl's write callback: keeps the body up to the limit; past it, ends the transfer (a return
// short of `size * count` makes libcurl fail with CURLE_WRITE_ERROR).
size_t KeepBody(char* data, size_t size, size_t count, void* user) {
  ResponseBody* body = static_cast<ResponseBody*>(user);
  const size_t bytes = size * count;
  if (body->bytes.size() + bytes > kMaxResponseBytes) {
    body->too_large = true;
    return 0;
  }
  body->bytes.append(data, bytes);
  return bytes;
}

HttpEndpointOutcome Retryable(const char* error_code, std::string message, int http_status) {
  return {HttpEndpointOutcome::kRetryable, error_code, std::move(message), http_status};
}

// The outcome of a transfer that ended without a whole response (`http_status` 0 when not even
// its status line came).
HttpEndpointOutcome TransferFailure(CURLcode code, const char* error_text, bool too_large,
                                    int http_status) {
  const std::string what = error_text[0] != '\0' ? error_text : curl_easy_strerror(code);
  if (too_large) {
    return Retryable(kResponseTooLarge, "the response body is larger than 1 MiB", http_status);
  }
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT: return Retryable(kRequestTimeout, what, http_status);
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE: return Retryable(kConnectionReset, what, http_status);
    default: return Retryable(kConnectionFailed, what, http_status);
  }
}

// Whether a Content-Type names JSON: "application/json", any case, parameters allowed.
bool IsJsonContentType(const char* content_type) {
  if (content_type == nullptr) {
    return false;
  }
  std::string_view type(content_type);
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) {
    type.remove_suffix(1);
  }
  constexpr std::string_view kJson = "application/json";
  return type.size() == kJson.size() && strncasecmp(type.data(), kJson.data(), kJson.size()) == 0;
}

// Why a 200's body does not acknowledge `request_id`, or "" when it does.
std::string AcknowledgementProblem(const char* content_type, const std::string& body,
                                   const std::string& request_id) {
  if (!IsJsonContentType(content_type)) {
    return std::string("the response's Content-Type is \"") +
           (content_type != nullptr ? content_type : "") + "\", not application/json";
  }
  const nlohmann::json answer = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object()) {
    return "the response body is not a JSON object";
  }
  const auto id = answer.find("requestId");
  if (id == answer.end() || !id->is_string() || id->get<std::string>() != request_id) {
    return "the response's requestId is not the request's " + request_id;
  }
  const auto timestamp = answer.find("timestamp");
  if (timestamp == answer.end() || !timestamp->is_number()) {
    return "the response has no numeric timestamp";
  }
  return "";
}

// "HTTP 500", with the body's errorMessage when it has one.
std::string StatusMessage(long status, const std::string& body) {
  std::string message = "HTTP " + std::to_string(status);
  const nlohmann::json answer = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_object()) {
    const auto error = answer.find("errorMessage");
    if (error != answer.end() && error->is_string()) {
      message.append(": ").append(error->get<std::string>());
    }
  }
  return message;
}

std::string RequestBody(const std::string& request_id, int64_t timestamp_ms,
                        const std::vector<std::string>& records) {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  for (const std::string& record : records) {
    data.push_back({{"data", Base64Encode(record)}});
  }
  const nlohmann::ordered_json body = {
      {"requestId", request_id}, {"timestamp", timestamp_ms}, {"records", std::move(data)}};
  return body.dump();
}

struct CurlCleanup {
  void operator()(CURL* easy) const { curl_easy_cleanup(easy); }
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

HttpEndpointClient::HttpEndpointClient(const HttpEndpointConfig& config, std::string source_arn,
                                       int64_t timeout_ms)
    : config_(config), source_arn_(std::move(source_arn)), timeout_ms_(timeout_ms) {}

HttpEndpointOutcome HttpEndpointClient::Post(const std::string& request_id, int64_t timestamp_ms,
                                             const std::vector<std::string>& records,
                                             const std::function<bool()>& cancelled) {
  static const CURLcode global_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::unique_ptr<CURL, CurlCleanup> easy(global_init == CURLE_OK ? curl_easy_init()
                                                                        : nullptr);
  if (easy == nullptr) {
    return Retryable(kConnectionFailed, "cannot initialise libcurl", 0);
  }

  std::vector<std::string> header_lines = {
      "Content-Type: application/json",
      "X-Amz-Firehose-Protocol-Version: 1.0",
      "X-Amz-Firehose-Request-Id: " + request_id,
      "X-Amz-Firehose-Source-Arn: " + source_arn_,
      "Expect:",  // no "Expect: 100-continue" round trip for larger bodies
  };
  if (config_.gzip) {
    header_lines.push_back("Content-Encoding: gzip");
  }
  if (!config_.access_key.empty()) {
    header_lines.push_back("X-Amz-Firehose-Access-Key: " + config_.access_key);
  }
  if (!config_.common_attributes.empty()) {
    nlohmann::ordered_json attributes = nlohmann::ordered_json::object();
    for (const auto& [name, value] : config_.common_attributes) {
      attributes[name] = value;
    }
    const nlohmann::ordered_json header = {{"commonAttributes", std::move(attributes)}};
    header_lines.push_back("X-Amz-Firehose-Common-Attributes: " + header.dump());
  }
  curl_slist* header_list = nullptr;
  for (const std::string& line : header_lines) {
    header_list = curl_slist_append(header_list, line.c_str());
  }
  const std::unique_ptr<curl_slist, CurlCleanup> headers(header_list);

  std::string body = RequestBody(request_id, timestamp_ms, records);
  if (config_.gzip) {
    body = GzipCompress(body);
  }
  ResponseBody response;
  char error_text[CURL_ERROR_SIZE] = {};
  CURL* curl = easy.get();
  curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &KeepBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_text);
  if (cancelled) {
    // libcurl calls this about once a second, and on every chunk sent or received.
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancelled);
    curl_easy_setopt(
        curl, CURLOPT_XFERINFOFUNCTION,
        +[](void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> int {
          return (*static_cast<const std::function<bool()>*>(data))() ? 1 : 0;
        });
  }
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  const int http_status = static_cast<int>(status);
  if (code != CURLE_OK) {
    return TransferFailure(code, error_text, response.too_large, http_status);
  }
  if (status == 200) {
    const char* content_type = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type);
    std::string problem = AcknowledgementProblem(content_type, response.bytes, request_id);
    if (problem.empty()) {
      return {HttpEndpointOutcome::kDelivered, "", "", http_status};
    }
    return Retryable(kInvalidResponse, std::move(problem), http_status);
  }
  if (status == kPayloadTooLarge) {
    return {HttpEndpointOutcome::kPermanent, kDestinationException,
            StatusMessage(status, response.bytes), http_status};
  }
  return Retryable(kDestinationException, StatusMessage(status, response.bytes), http_status);
}

}  // namespace sluice::delivery
