#include "tests/support/http_receiver.h"

#include <strings.h>

#include <stdexcept>

namespace sluice::testing {

std::string ReceivedRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return "";
}

bool ReceivedRequest::HasHeader(std::string_view name) const {
  for (const auto& header : headers) {
    if (header.first.size() == name.size() &&
        strncasecmp(header.first.data(), name.data(), name.size()) == 0) {
      return true;
    }
  }
  return false;
}

HttpReceiver::HttpReceiver(unsigned threads) {
  host::HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = threads;
  auto server =
      host::HttpServer::Start(options, [this](const host::HttpRequest& r) { return Handle(r); });
  if (!server.ok()) {
    throw std::runtime_error("HttpReceiver: " + server.status().ToString());
  }
  server_ = std::move(server).value();
}

HttpReceiver::~HttpReceiver() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  server_.reset();  // waits for handlers, whose delays end now
}

uint16_t HttpReceiver::port() const {
  return server_->port();
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + path;
}

void HttpReceiver::Script(std::vector<ScriptedResponse> responses) {
  std::lock_guard lock(mu_);
  for (ScriptedResponse& response : responses) {
    script_.push_back(std::move(response));
  }
}

void HttpReceiver::SetDefault(ScriptedResponse response) {
  std::lock_guard lock(mu_);
  default_ = std::move(response);
}

std::vector<ReceivedRequest> HttpReceiver::Requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t HttpReceiver::RequestCount() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

bool HttpReceiver::WaitForRequests(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

host::HttpResponse HttpReceiver::Handle(const host::HttpRequest& request) {
  ReceivedRequest received{std::string(request.method()), std::string(request.path()),
                           request.Headers(), request.body()};
  std::unique_lock lock(mu_);
  requests_.push_back(std::move(received));
  ScriptedResponse response = default_;
  if (!script_.empty()) {
    response = std::move(script_.front());
    script_.pop_front();
  }
  cv_.notify_all();
  if (response.delay.count() > 0) {
    cv_.wait_for(lock, response.delay, [&] { return stopping_; });
  }
  host::HttpResponse reply;
  reply.status = response.status;
  reply.content_type = std::move(response.content_type);
  reply.body = std::move(response.body);
  reply.headers = std::move(response.headers);
  return reply;
}

}  // namespace sluice::testing
