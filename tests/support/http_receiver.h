// HttpReceiver: a real HTTP server on 127.0.0.1 (a free port) that stands in for a webhook
// receiver in tests: it records every request (method, path, headers, body) and answers with a
// scripted sequence of responses (a status, optionally a body, its Content-Type and more headers),
// each optionally after a delay, then with a default response.
//
//   HttpReceiver receiver;
//   receiver.Script({{503}, {200, std::chrono::seconds(2)}});  // then 200s
//   ... receiver.url("/hook") ...
//   REQUIRE(receiver.WaitForRequests(3));
//
// A request is recorded when it arrives, before its delay. Delays end early when the receiver
// is destroyed. A delayed answer holds one of the server's threads, and with it any other
// connection that thread has accepted: keep delayed requests few and the threads many. Built on
// host/http_server.h; failures to start throw std::runtime_error.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "host/http_server.h"

namespace sluice::testing {

struct ReceivedRequest {
  std::string method;
  std::string path;
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;

  // The value of header `name` (case-insensitive), or "" when absent.
  std::string Header(std::string_view name) const;
  bool HasHeader(std::string_view name) const;
};

struct ScriptedResponse {
  ScriptedResponse(int status = 200,  // NOLINT: implicit, so that {503} is a response
                   std::chrono::milliseconds delay = {}, std::string body = "")
      : status(status), delay(delay), body(std::move(body)) {}

  int status = 200;
  std::chrono::milliseconds delay{0};  // before answering
  std::string body;
  std::string content_type = "text/plain";
  std::vector<std::pair<std::string, std::string>> headers;  // more response headers
};

class HttpReceiver {
 public:
  // Starts listening; `threads` requests are served at a time.
  explicit HttpReceiver(unsigned threads = 8);
  ~HttpReceiver();
  HttpReceiver(const HttpReceiver&) = delete;
  HttpReceiver& operator=(const HttpReceiver&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:<port>" + path.
  std::string url(const std::string& path = "/") const;

  // Responses for the next requests, in arrival order (appended to what is left of the script).
  void Script(std::vector<ScriptedResponse> responses);
  // The answer once the script is used up (default 200, no delay).
  void SetDefault(ScriptedResponse response);

  std::vector<ReceivedRequest> Requests() const;
  size_t RequestCount() const;
  // Waits until at least `n` requests arrived; false after `timeout`.
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  host::HttpResponse Handle(const host::HttpRequest& request);

  mutable std::mutex mu_;
  std::condition_variable cv_;  // a request arrived, or stopping
  bool stopping_ = false;
  std::deque<ScriptedResponse> script_;
  ScriptedResponse default_;
  std::vector<ReceivedRequest> requests_;
  std::unique_ptr<host::HttpServer> server_;
};

}  // namespace sluice::testing
