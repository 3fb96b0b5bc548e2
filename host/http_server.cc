#include "host/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "base/log.h"

namespace sluice::host {

// The state of one request while its body arrives.
struct Exchange {
  std::string body;
  bool too_large = false;
};

// libmicrohttpd's callbacks, with the exact signatures it calls.
class HttpServerCallbacks {
 public:
  static MHD_Result OnRequest(void* self, MHD_Connection* connection, const char* url,
                              const char* method, const char* /*version*/, const char* upload_data,
                              size_t* upload_data_size, void** exchange_slot) {
    return static_cast<MHD_Result>(static_cast<HttpServer*>(self)->Serve(
        connection, url, method, upload_data, upload_data_size, exchange_slot));
  }

  static void OnCompleted(void* /*self*/, MHD_Connection* /*connection*/, void** exchange,
                          MHD_RequestTerminationCode /*reason*/) {
    delete static_cast<Exchange*>(*exchange);
    *exchange = nullptr;
  }
};

std::string_view HttpRequest::Header(const char* name) const {
  const char* value = MHD_lookup_connection_value(connection_, MHD_HEADER_KIND, name);
  return value == nullptr ? std::string_view() : std::string_view(value);
}

std::vector<std::pair<std::string, std::string>> HttpRequest::Headers() const {
  std::vector<std::pair<std::string, std::string>> headers;
  MHD_get_connection_values(
      connection_, MHD_HEADER_KIND,
      [](void* out, MHD_ValueKind, const char* name, const char* value) {
        static_cast<std::vector<std::pair<std::string, std::string>>*>(out)->emplace_back(
            name, value == nullptr ? "" : value);
        return MHD_YES;
      },
      &headers);
  return headers;
}

namespace {

void DeleteString(void* body) {
  delete static_cast<std::string*>(body);
}

MHD_Result Send(MHD_Connection* connection, HttpResponse response) {
  auto* body = new std::string(std::move(response.body));
  MHD_Response* reply = MHD_create_response_from_buffer_with_free_callback_cls(
      body->size(), body->data(), &DeleteString, body);
  if (reply == nullptr) {
    delete body;
    return MHD_NO;
  }
  if (!response.content_type.empty()) {
    MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, response.content_type.c_str());
  }
  for (const auto& [name, value] : response.headers) {
    MHD_add_response_header(reply, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(response.status), reply);
  MHD_destroy_response(reply);
  return queued;
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      HttpHandler handler) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  if (inet_pton(AF_INET, options.address.c_str(), &address.sin_addr) != 1) {
    return InvalidArgument("listen address: '" + options.address +
                           "' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)");
  }
  if (options.threads < 1 || options.threads > 256) {
    return InvalidArgument("HTTP threads: must be 1-256, got " + std::to_string(options.threads));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(options, std::move(handler)));
  // poll(2), not epoll: with libmicrohttpd 0.9.75's epoll mode, under load a keep-alive
  // connection's response was occasionally never sent (about 1 in 50 runs of the 300-connection
  // test; none in 630 with poll).
  const unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG;
  server->daemon_ = MHD_start_daemon(
      flags, options.port, nullptr, nullptr, &HttpServerCallbacks::OnRequest, server.get(),
      MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&address), MHD_OPTION_THREAD_POOL_SIZE,
      options.threads, MHD_OPTION_CONNECTION_LIMIT, options.connection_limit,
      MHD_OPTION_CONNECTION_TIMEOUT, options.idle_timeout_seconds, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_NOTIFY_COMPLETED, &HttpServerCallbacks::OnCompleted, server.get(),
      MHD_OPTION_END);
  if (server->daemon_ == nullptr) {
    return Unavailable("cannot listen on " + options.address + ":" + std::to_string(options.port) +
                       " (is another process using the port? see the message above)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(server->daemon_, MHD_DAEMON_INFO_BIND_PORT);
  server->port_ = info != nullptr ? info->port : options.port;
  return server;
}

HttpServer::~HttpServer() {
  if (daemon_ != nullptr) {
    MHD_stop_daemon(daemon_);
  }
}

int HttpServer::Serve(MHD_Connection* connection, const char* url, const char* method,
                      const char* upload_data, size_t* upload_data_size, void** exchange_slot) {
  HttpServer* server = this;
  auto* exchange = static_cast<Exchange*>(*exchange_slot);
  if (exchange == nullptr) {
    exchange = new Exchange();
    *exchange_slot = exchange;
    const char* length =
        MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length != nullptr && std::strtoull(length, nullptr, 10) > server->options_.max_body_bytes) {
      exchange->too_large = true;
    } else if (length != nullptr) {
      // Reserve for the usual request only: a declared length is not yet a received body.
      exchange->body.reserve(std::min<size_t>(std::strtoull(length, nullptr, 10), 1u << 20));
    }
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    if (!exchange->too_large) {
      if (exchange->body.size() + *upload_data_size > server->options_.max_body_bytes) {
        exchange->too_large = true;
        exchange->body.clear();
        exchange->body.shrink_to_fit();
      } else {
        exchange->body.append(upload_data, *upload_data_size);
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (exchange->too_large) {
    HttpResponse response;
    response.status = 413;
    response.body = "{\"__type\":\"RequestEntityTooLarge\",\"message\":\"request body exceeds " +
                    std::to_string(server->options_.max_body_bytes) + " bytes\"}";
    return Send(connection, std::move(response));
  }
  const HttpRequest request(connection, method, url, std::move(exchange->body));
  HttpResponse response;
  try {
    response = server->handler_(request);
  } catch (const std::exception& e) {
    // Handlers return errors as responses; this is the last line that keeps the host up.
    LogError("http", std::string("handler failed: ") + e.what());
    response.status = 500;
    response.body = "{\"__type\":\"InternalFailure\",\"message\":\"internal error\"}";
  }
  return Send(connection, std::move(response));
}

}  // namespace sluice::host
