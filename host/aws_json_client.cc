#include "host/aws_json_client.h"

#include <curl/curl.h>

#include <cstdlib>

namespace sluice::host {
namespace {

size_t AppendBody(char* data, size_t size, size_t count, void* body) {
  static_cast<std::string*>(body)->append(data, size * count);
  return size * count;
}

}  // namespace

std::string DefaultEndpoint() {
  if (const char* endpoint = std::getenv("SLUICE_ENDPOINT"); endpoint != nullptr && *endpoint) {
    return endpoint;
  }
  return "http://127.0.0.1:4566";
}

AwsJsonClient::AwsJsonClient(std::string endpoint, std::string target_prefix)
    : endpoint_(std::move(endpoint)),
      target_prefix_(std::move(target_prefix)),
      curl_(curl_easy_init()) {}

AwsJsonClient::~AwsJsonClient() {
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

Result<nlohmann::json> AwsJsonClient::Call(const std::string& operation,
                                           const nlohmann::json& request) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (curl == nullptr) {
    return Internal("cannot initialise libcurl");
  }
  std::string body;
  try {
    body = request.dump();
  } catch (const nlohmann::json::type_error&) {
    return InvalidArgument("arguments must be valid UTF-8 text");
  }
  std::string response;
  const std::string target = "X-Amz-Target: " + target_prefix_ + operation;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/x-amz-json-1.1");
  headers = curl_slist_append(headers, target.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, (endpoint_ + "/").c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  // Whether any of the request went out decides what a failure means: before, the host never saw
  // the call; after (a timeout or reset while waiting for the answer), it may have applied it.
  long request_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_bytes);
  if (code != CURLE_OK && request_bytes > 0) {
    return Status(Code::kUnknown, "calling " + endpoint_ + ": " + curl_easy_strerror(code) +
                                      " after sending the request; whether the host applied it "
                                      "is unknown");
  }
  if (code == CURLE_COULDNT_CONNECT || code == CURLE_OPERATION_TIMEDOUT ||
      code == CURLE_COULDNT_RESOLVE_HOST) {
    return Unavailable("no Sluice host is answering at " + endpoint_ + " (" +
                       curl_easy_strerror(code) +
                       "). Start one with `sluice serve`, or point --endpoint (or "
                       "SLUICE_ENDPOINT) at a running host.");
  }
  if (code != CURLE_OK) {
    return Unavailable("calling " + endpoint_ + ": " + curl_easy_strerror(code));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  nlohmann::json json = nlohmann::json::object();
  if (!response.empty()) {
    json = nlohmann::json::parse(response, nullptr, /*allow_exceptions=*/false);
    if (json.is_discarded()) {
      return Internal(endpoint_ + " answered HTTP " + std::to_string(status) +
                      " with a body that is not JSON: " + response.substr(0, 200));
    }
  }
  if (status != 200) {
    std::string type = "HTTP " + std::to_string(status);
    std::string message;
    if (json.is_object()) {
      if (json.contains("__type") && json["__type"].is_string()) {
        type = json["__type"].get<std::string>();
      }
      for (const char* key : {"message", "Message"}) {
        if (json.contains(key) && json[key].is_string()) {
          message = json[key].get<std::string>();
        }
      }
    }
    return Status(status >= 500 ? Code::kInternal : Code::kInvalidArgument, type + ": " + message);
  }
  return json;
}

}  // namespace sluice::host
