#include "delivery/s3_store.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <utility>
#include <vector>

#include "delivery/sigv4.h"

namespace sluice::delivery {
namespace {

constexpr long kConnectTimeoutMs = 5000;
// Bounds a whole request, so that a peer that accepts and then stalls never hangs a pipeline.
constexpr long kTotalTimeoutMs = 60000;

// "20260101T000000Z" for now.
std::string AmzDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[17];
  std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &utc);
  return text;
}

// The authority of "http://127.0.0.1:4568/...": "127.0.0.1:4568".
std::string HostOf(const std::string& endpoint) {
  const size_t scheme_end = endpoint.find("://");
  const size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  const size_t end = endpoint.find('/', start);
  return endpoint.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The text of the first <tag>...</tag> in an S3 XML error body, or "".
std::string XmlElementText(const std::string& body, const std::string& tag) {
  const std::string open = "<" + tag + ">";
  const size_t start = body.find(open);
  if (start == std::string::npos) {
    return "";
  }
  const size_t text_start = start + open.size();
  const size_t end = body.find("</" + tag + ">", text_start);
  return end == std::string::npos ? "" : body.substr(text_start, end - text_start);
}

// The status for a non-2xx answer, its message carrying S3's <Code> and <Message>.
Status HttpError(long http_status, const std::string& body, const std::string& what) {
  std::string message = what;
  message.append(": HTTP ").append(std::to_string(http_status));
  const std::string code = XmlElementText(body, "Code");
  if (!code.empty()) {
    message.append(" ").append(code);
  }
  const std::string detail = XmlElementText(body, "Message");
  if (!detail.empty()) {
    message.append(": ").append(detail);
  }
  if (http_status >= 500 || http_status == 429) {
    return Unavailable(message);
  }
  if (http_status == 403) {
    return PermissionDenied(message);
  }
  if (http_status == 404) {
    return NotFound(message);
  }
  return InvalidArgument(message);
}

Status InitCurlOnce() {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    return Internal(std::string("cannot initialise libcurl: ") + curl_easy_strerror(init));
  }
  return Status::Ok();
}

size_t AppendToString(char* data, size_t size, size_t count, void* target) {
  static_cast<std::string*>(target)->append(data, size * count);
  return size * count;
}

// What PUT's read callback has left to send.
struct Upload {
  std::string_view remaining;
};

size_t ReadFromUpload(char* buffer, size_t size, size_t count, void* source) {
  Upload* upload = static_cast<Upload*>(source);
  const size_t n = std::min(size * count, upload->remaining.size());
  upload->remaining.copy(buffer, n);
  upload->remaining.remove_prefix(n);
  return n;
}

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};

}  // namespace

Result<S3Credentials> S3CredentialsFromEnvironment() {
  const auto variable = [](const char* name) -> std::string {
    const char* value = std::getenv(name);
    return value == nullptr ? "" : value;
  };
  S3Credentials credentials{variable("AWS_ACCESS_KEY_ID"), variable("AWS_SECRET_ACCESS_KEY"),
                            variable("AWS_SESSION_TOKEN")};
  if (credentials.access_key_id.empty()) {
    return FailedPrecondition("AWS_ACCESS_KEY_ID is not set in the environment");
  }
  if (credentials.secret_access_key.empty()) {
    return FailedPrecondition("AWS_SECRET_ACCESS_KEY is not set in the environment");
  }
  return credentials;
}

S3Store::S3Store(std::string endpoint, std::string bucket, std::string region,
                 S3Credentials credentials)
    : endpoint_(std::move(endpoint)),
      bucket_(std::move(bucket)),
      region_(std::move(region)),
      credentials_(std::move(credentials)) {}

std::string S3Store::Describe() const {
  return "s3://" + bucket_ + " at " + endpoint_;
}

// Refused, unreachable, timed out or cut off is UNAVAILABLE: all may pass.
Result<std::string> S3Store::Send(const std::string& operation, const std::string& method,
                                  const std::string& key, std::string_view body) const {
  std::string what = "S3 ";
  what.append(operation).append(" s3://").append(bucket_).append("/").append(key);
  what.append(" at ").append(endpoint_);
  SLUICE_RETURN_IF_ERROR(InitCurlOnce());
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) {
    return Internal(what + ": curl_easy_init failed");
  }

  SigV4Request request;
  request.method = method;
  request.host = HostOf(endpoint_);
  request.canonical_uri = UriEncodePath("/" + bucket_ + "/" + key);
  request.payload_sha256_hex = Sha256Hex(body);
  const std::string amz_date = AmzDateNow();
  request.headers = {{"x-amz-content-sha256", request.payload_sha256_hex},
                     {"x-amz-date", amz_date}};
  if (!credentials_.session_token.empty()) {
    request.headers.emplace_back("x-amz-security-token", credentials_.session_token);
  }
  const std::string authorization = SigV4Authorization(
      request, amz_date, region_, "s3", credentials_.access_key_id, credentials_.secret_access_key);

  // Host is set explicitly so that what is sent is exactly what was signed.
  std::vector<std::string> lines = {"Host: " + request.host, "Authorization: " + authorization,
                                    "Expect:"};  // no 100-continue round trip before a body
  for (const auto& [name, value] : request.headers) {
    lines.push_back(name + ": " + value);
  }
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  for (const std::string& line : lines) {
    headers.reset(curl_slist_append(headers.release(), line.c_str()));
  }

  const std::string url = endpoint_ + request.canonical_uri;
  std::string response;
  Upload upload{body};
  CURL* easy = curl.get();
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
  // The path as signed: curl would otherwise resolve "./" and "../" in it.
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &AppendToString);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, kTotalTimeoutMs);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
  if (method == "PUT") {
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, &ReadFromUpload);
    curl_easy_setopt(easy, CURLOPT_READDATA, &upload);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  const CURLcode code = curl_easy_perform(easy);
  if (code != CURLE_OK) {
    return Unavailable(what + ": " + curl_easy_strerror(code));
  }
  long http_status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &http_status);
  if (http_status / 100 != 2) {
    return HttpError(http_status, response, what);
  }
  return response;
}

Status S3Store::Put(const std::string& key, std::string_view body) {
  return Send("PutObject", "PUT", key, body).status();
}

Result<std::string> S3Store::Get(const std::string& key) {
  return Send("GetObject", "GET", key, "");
}

std::string S3RegionOfEndpoint(std::string_view endpoint, const std::string& fallback) {
  const size_t scheme = endpoint.find("://");
  std::string_view host = scheme == std::string_view::npos ? endpoint : endpoint.substr(scheme + 3);
  host = host.substr(0, host.find_first_of(":/"));
  constexpr std::string_view kSuffix = ".amazonaws.com";
  if (!host.ends_with(kSuffix)) {
    return fallback;
  }
  host.remove_suffix(kSuffix.size());
  for (std::string_view prefix : {"s3.dualstack.", "s3.", "s3-"}) {
    if (host.starts_with(prefix)) {
      const std::string_view region = host.substr(prefix.size());
      if (!region.empty() && region.find('.') == std::string_view::npos) {
        return std::string(region);
      }
    }
  }
  return fallback;
}

}  // namespace sluice::delivery
