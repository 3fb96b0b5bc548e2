// HttpServer: the host's HTTP/1.1 listener, on libmicrohttpd.
//
// A fixed pool of threads, each polling its share of the connections, serves every connection:
// hundreds of keep-alive producers cost sockets and a little memory, not threads. Each request's
// body is gathered, then the handler runs on the pool thread that owns the connection, and its
// response is sent. Bodies above `max_body_bytes` get 413 without reaching the handler.
//
// Thread-safety: the handler is called concurrently from the pool threads and must be
// thread-safe. Start() and the destructor (which stops the server and waits for its threads) are
// called from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace sluice::host {

struct HttpServerOptions {
  std::string address = "127.0.0.1";  // IPv4 literal
  uint16_t port = 4566;               // 0 picks a free port (see HttpServer::port())
  unsigned threads = 4;
  size_t max_body_bytes = 16u << 20;
  unsigned connection_limit = 4096;
  unsigned idle_timeout_seconds = 300;  // an idle keep-alive connection is closed after this
};

class HttpRequest {
 public:
  HttpRequest(MHD_Connection* connection, std::string_view method, std::string_view path,
              std::string body)
      : connection_(connection), method_(method), path_(path), body_(std::move(body)) {}

  std::string_view method() const { return method_; }
  std::string_view path() const { return path_; }
  const std::string& body() const { return body_; }
  // The value of a request header (case-insensitive name), or "" if absent.
  std::string_view Header(const char* name) const;
  // Every request header (name as sent, value), in the order received.
  std::vector<std::pair<std::string, std::string>> Headers() const;

 private:
  MHD_Connection* connection_;
  std::string_view method_;
  std::string_view path_;
  std::string body_;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const { return port_; }

 private:
  HttpServer(const HttpServerOptions& options, HttpHandler handler)
      : options_(options), handler_(std::move(handler)) {}

  friend class HttpServerCallbacks;
  // One call of libmicrohttpd's access handler: gathers the body, then answers. Returns MHD_YES
  // or MHD_NO.
  int Serve(MHD_Connection* connection, const char* url, const char* method,
            const char* upload_data, size_t* upload_data_size, void** exchange_slot);

  const HttpServerOptions options_;
  const HttpHandler handler_;
  MHD_Daemon* daemon_ = nullptr;
  uint16_t port_ = 0;
};

}  // namespace sluice::host
