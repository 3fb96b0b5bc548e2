// HttpEndpointClient against a real HTTP server on loopback (tests/support/http_receiver.h) with
// real libcurl: the request Firehose sends, and how each kind of answer is taken.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "delivery/gzip.h"
#include "delivery/http_endpoint_client.h"
#include "sluice/base64.h"
#include "tests/support/http_receiver.h"

namespace sluice::delivery {
namespace {

using nlohmann::json;
using testing::HttpReceiver;
using testing::ReceivedRequest;
using testing::ScriptedResponse;

constexpr char kSourceArn[] = "arn:aws:firehose:us-east-1:000000000000:deliverystream/tolls-hook";
constexpr char kRequestId[] = "ed4acda5-034f-4f42-bba1-f29aea6d7d8f";
constexpr int64_t kTimestampMs = 1578090901599;

HttpEndpointConfig ConfigFor(const std::string& url) {
  HttpEndpointConfig config;
  config.url = url;
  return config;
}

ScriptedResponse JsonResponse(int status, json body) {
  ScriptedResponse response(status, {}, body.dump());
  response.content_type = "application/json";
  return response;
}

// The answer that acknowledges kRequestId.
ScriptedResponse Acknowledgement() {
  return JsonResponse(200, {{"requestId", kRequestId}, {"timestamp", 1578090903599}});
}

// Posts {"hello", "", bytes with NUL} as kRequestId.
HttpEndpointOutcome PostThree(const HttpEndpointConfig& config, int64_t timeout_ms = 10'000) {
  HttpEndpointClient client(config, kSourceArn, timeout_ms);
  return client.Post(kRequestId, kTimestampMs, {"hello", "", std::string("\0\xff\n", 3)});
}

void CheckBody(const std::string& body) {
  const json parsed = json::parse(body);
  CHECK(parsed["requestId"] == kRequestId);
  CHECK(parsed["timestamp"] == kTimestampMs);
  REQUIRE(parsed["records"].size() == 3);
  std::vector<std::string> records;
  for (const json& record : parsed["records"]) {
    CHECK(record.size() == 1);
    std::string data;
    REQUIRE(Base64Decode(record["data"].get<std::string>(), &data));
    records.push_back(data);
  }
  CHECK(records == std::vector<std::string>{"hello", "", std::string("\0\xff\n", 3)});
}

TEST_CASE("a conforming 200 delivers the batch, sent with Firehose's headers and body") {
  HttpReceiver receiver;
  receiver.Script({Acknowledgement()});
  const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url("/firehose")));
  INFO(outcome.error_code << ": " << outcome.error_message);
  CHECK(outcome.kind == HttpEndpointOutcome::kDelivered);
  CHECK(outcome.error_code.empty());
  CHECK(outcome.http_status == 200);

  const std::vector<ReceivedRequest> requests = receiver.Requests();
  REQUIRE(requests.size() == 1);
  const ReceivedRequest& request = requests[0];
  CHECK(request.method == "POST");
  CHECK(request.path == "/firehose");
  CHECK(request.Header("Content-Type") == "application/json");
  CHECK(request.Header("X-Amz-Firehose-Protocol-Version") == "1.0");
  CHECK(request.Header("X-Amz-Firehose-Request-Id") == kRequestId);
  CHECK(request.Header("X-Amz-Firehose-Source-Arn") == kSourceArn);
  CHECK(request.Header("Content-Length") == std::to_string(request.body.size()));
  CHECK_FALSE(request.HasHeader("Content-Encoding"));
  CHECK_FALSE(request.HasHeader("X-Amz-Firehose-Access-Key"));
  CHECK_FALSE(request.HasHeader("X-Amz-Firehose-Common-Attributes"));
  CheckBody(request.body);
}

TEST_CASE("gzip, the access key and common attributes go on the request when configured") {
  HttpReceiver receiver;
  receiver.Script({Acknowledgement()});
  HttpEndpointConfig config = ConfigFor(receiver.url());
  config.gzip = true;
  config.access_key = "s3cr3t key/with+symbols=";
  config.common_attributes = {{"team", "tolls"}, {"env", "test \"quoted\""}};
  const HttpEndpointOutcome outcome = PostThree(config);
  INFO(outcome.error_code << ": " << outcome.error_message);
  CHECK(outcome.kind == HttpEndpointOutcome::kDelivered);

  REQUIRE(receiver.RequestCount() == 1);
  const ReceivedRequest request = receiver.Requests()[0];
  CHECK(request.Header("Content-Encoding") == "gzip");
  CHECK(request.Header("Content-Type") == "application/json");
  CHECK(request.Header("X-Amz-Firehose-Access-Key") == "s3cr3t key/with+symbols=");
  CHECK(json::parse(request.Header("X-Amz-Firehose-Common-Attributes")) ==
        json{{"commonAttributes", {{"team", "tolls"}, {"env", "test \"quoted\""}}}});
  const Result<std::string> body = GzipDecompress(request.body);
  INFO(body.status().ToString());
  REQUIRE(body.ok());
  CheckBody(*body);
}

TEST_CASE("a 200 that does not acknowledge the request is a retryable invalid response") {
  HttpReceiver receiver;
  ScriptedResponse not_json(200, {}, "OK");
  ScriptedResponse json_as_text(200, {}, Acknowledgement().body);  // Content-Type text/plain
  receiver.Script({
      JsonResponse(200, {{"requestId", "another-id"}, {"timestamp", 1}}),
      JsonResponse(200, {{"requestId", kRequestId}}),
      JsonResponse(200, {{"requestId", kRequestId}, {"timestamp", "1578090903599"}}),
      not_json,
      json_as_text,
  });
  for (int i = 0; i < 5; ++i) {
    const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url()));
    INFO("answer " << i << ": " << outcome.error_message);
    CHECK(outcome.kind == HttpEndpointOutcome::kRetryable);
    CHECK(outcome.error_code == "HttpEndpoint.InvalidResponseFromDestination");
    CHECK(outcome.http_status == 200);
  }
  CHECK(receiver.RequestCount() == 5);
}

TEST_CASE("a 500 is a retryable destination exception carrying the body's errorMessage") {
  HttpReceiver receiver;
  receiver.Script({JsonResponse(
      500, {{"requestId", kRequestId}, {"timestamp", 1}, {"errorMessage", "disk is full"}})});
  const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url()));
  CHECK(outcome.kind == HttpEndpointOutcome::kRetryable);
  CHECK(outcome.error_code == "HttpEndpoint.DestinationException");
  CHECK(outcome.http_status == 500);
  CHECK(outcome.error_message == "HTTP 500: disk is full");
}

TEST_CASE("a 413 is a permanent failure of the batch") {
  HttpReceiver receiver;
  receiver.Script({{413}});
  const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url()));
  CHECK(outcome.kind == HttpEndpointOutcome::kPermanent);
  CHECK(outcome.error_code == "HttpEndpoint.DestinationException");
  CHECK(outcome.http_status == 413);
}

TEST_CASE("other 2xx statuses and redirects are failures, and redirects are not followed") {
  HttpReceiver receiver;
  ScriptedResponse redirect(302);
  redirect.headers = {{"Location", receiver.url("/elsewhere")}};
  receiver.Script({redirect, JsonResponse(202, {{"requestId", kRequestId}, {"timestamp", 1}})});
  receiver.SetDefault(Acknowledgement());  // what following the redirect would get

  const HttpEndpointOutcome redirected = PostThree(ConfigFor(receiver.url("/hook")));
  CHECK(redirected.kind == HttpEndpointOutcome::kRetryable);
  CHECK(redirected.error_code == "HttpEndpoint.DestinationException");
  CHECK(redirected.http_status == 302);
  CHECK(receiver.RequestCount() == 1);

  const HttpEndpointOutcome accepted = PostThree(ConfigFor(receiver.url("/hook")));
  CHECK(accepted.kind == HttpEndpointOutcome::kRetryable);
  CHECK(accepted.http_status == 202);
  for (const ReceivedRequest& request : receiver.Requests()) {
    CHECK(request.path == "/hook");
  }
}

TEST_CASE("a response body over 1 MiB is a retryable ResponseTooLarge") {
  HttpReceiver receiver;
  json body = {{"requestId", kRequestId}, {"timestamp", 1}, {"padding", std::string(2 << 20, 'x')}};
  receiver.Script({JsonResponse(200, body)});
  const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url()));
  CHECK(outcome.kind == HttpEndpointOutcome::kRetryable);
  CHECK(outcome.error_code == "HttpEndpoint.ResponseTooLarge");
}

TEST_CASE("a port nobody listens on is a retryable ConnectionFailed") {
  // A socket bound to a port but not listening: connections to it are refused, and no other
  // test can take the port meanwhile.
  UniqueFd socket_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(socket_fd.get() >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(socket_fd.get(), reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)) + "/";

  const HttpEndpointOutcome outcome = PostThree(ConfigFor(url));
  CHECK(outcome.kind == HttpEndpointOutcome::kRetryable);
  CHECK(outcome.error_code == "HttpEndpoint.ConnectionFailed");
  CHECK(outcome.http_status == 0);
}

TEST_CASE("an answer slower than the timeout is a retryable RequestTimeout") {
  HttpReceiver receiver;
  ScriptedResponse slow = Acknowledgement();
  slow.delay = std::chrono::seconds(30);  // ends early when the receiver goes
  receiver.Script({slow});
  const HttpEndpointOutcome outcome = PostThree(ConfigFor(receiver.url()), /*timeout_ms=*/300);
  CHECK(outcome.kind == HttpEndpointOutcome::kRetryable);
  CHECK(outcome.error_code == "HttpEndpoint.RequestTimeout");
  CHECK(outcome.http_status == 0);
  CHECK(receiver.RequestCount() == 1);
}

}  // namespace
}  // namespace sluice::delivery
