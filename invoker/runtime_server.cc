#include "invoker/runtime_server.h"

#include <grpcpp/server_posix.h>

#include <vector>

#include "base/metrics.h"

namespace sluice::invoker {

namespace pb = runtime::v1;

namespace {

// How long a connection may stay silent before saying who it is. A function connects when its
// init is done and speaks at once; a stream that stays silent only holds a server thread.
constexpr auto kFirstMessageTimeout = std::chrono::seconds(5);
// Streams per connection: an instance's Runtime.Connect stream plus its host-service calls in
// flight (further calls wait on the client side).
constexpr int kMaxStreamsPerConnection = 8;

std::string Metadata(const grpc::ServerContext& context, const char* key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

}  // namespace

// Routes each HostServices call to the InvokeServices of the invoke it names, on the instance
// whose own connection it came in on.
class RuntimeServer::HostServicesService final : public pb::HostServices::Service {
 public:
  explicit HostServicesService(RuntimeServer* server) : server_(server) {}

  grpc::Status KvGet(grpc::ServerContext* context, const pb::KvGetRequest* request,
                     pb::KvGetResponse* response) override {
    return Route("KvGet", context, *request, response, &InvokeServices::KvGet);
  }
  grpc::Status KvPut(grpc::ServerContext* context, const pb::KvPutRequest* request,
                     pb::KvPutResponse* response) override {
    return Route("KvPut", context, *request, response, &InvokeServices::KvPut);
  }
  grpc::Status KvDelete(grpc::ServerContext* context, const pb::KvDeleteRequest* request,
                        pb::KvDeleteResponse* response) override {
    return Route("KvDelete", context, *request, response, &InvokeServices::KvDelete);
  }
  grpc::Status KvQuery(grpc::ServerContext* context, const pb::KvQueryRequest* request,
                       pb::KvQueryResponse* response) override {
    return Route("KvQuery", context, *request, response, &InvokeServices::KvQuery);
  }
  grpc::Status KvUpdate(grpc::ServerContext* context, const pb::KvUpdateRequest* request,
                        pb::KvUpdateResponse* response) override {
    return Route("KvUpdate", context, *request, response, &InvokeServices::KvUpdate);
  }
  grpc::Status Publish(grpc::ServerContext* context, const pb::PublishRequest* request,
                       pb::PublishResponse* response) override {
    return Route("Publish", context, *request, response, &InvokeServices::Publish);
  }

 private:
  template <typename Request, typename Response>
  grpc::Status Route(const char* method, grpc::ServerContext* context, const Request& request,
                     Response* response,
                     Status (InvokeServices::*call)(const std::string&, const Request&,
                                                    Response*)) {
    const grpc::Status status = Call(context, request, response, call);
    MetricsRegistry::Global()
        .GetCounter(
            "sluice_host_service_calls_total",
            "Host-service calls by functions (key-value operations and publishes), by "
            "method and outcome.",
            {{"method", method}, {"code", CodeName(static_cast<Code>(status.error_code()))}})
        .Increment();
    return status;
  }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::ServerContext* context, const Request& request, Response* response,
                    Status (InvokeServices::*call)(const std::string&, const Request&, Response*)) {
    std::shared_ptr<RuntimeSession> session =
        server_->Find(Metadata(*context, "sluice-instance-id"),
                      Metadata(*context, "sluice-instance-token"), context->peer());
    if (!session) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "unknown instance id or wrong instance token");
    }
    const std::string request_id = Metadata(*context, "sluice-request-id");
    std::shared_ptr<InvokeServices> services = session->ServicesFor(request_id);
    if (!services) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          session->InFlight(request_id)
              ? std::string("this invoke offers no host services (the function runs without a "
                            "host, as `sluice local-invoke` does; `sluice invoke` on a running "
                            "host has key-value tables and notifications)")
              : "no invoke with request id \"" + request_id + "\" is in flight on this instance");
    }
    const Status status =
        (services.get()->*call)(Metadata(*context, "sluice-record"), request, response);
    return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message());
  }

  RuntimeServer* server_;
};

class RuntimeServer::Service final : public pb::Runtime::Service {
 public:
  explicit Service(RuntimeServer* server) : server_(server) {}

  // Reads the first message, cancelling the call if it does not come in time.
  bool ReadFirstMessage(grpc::ServerContext* context, RuntimeStream* stream,
                        pb::FunctionMessage* first) {
    // The timer's callback may run while this call returns: it reaches the context only through
    // this guarded pointer, which is cleared before the context can go away.
    struct Guard {
      std::mutex mu;
      grpc::ServerContext* context;
    };
    auto guard = std::make_shared<Guard>();
    guard->context = context;
    const uint64_t timer =
        server_->timer_.Arm(std::chrono::steady_clock::now() + kFirstMessageTimeout, [guard] {
          std::lock_guard<std::mutex> lock(guard->mu);
          if (guard->context != nullptr) {
            guard->context->TryCancel();
          }
        });
    const bool read = stream->Read(first);
    {
      std::lock_guard<std::mutex> lock(guard->mu);
      guard->context = nullptr;  // from here the callback cannot cancel the call
    }
    // false: the callback ran (or is running), so the call may be cancelled: a late first
    // message counts as none.
    return server_->timer_.Cancel(timer) && read;
  }

  grpc::Status Connect(grpc::ServerContext* context, RuntimeStream* stream) override {
    pb::FunctionMessage first;
    if (!ReadFirstMessage(context, stream, &first)) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "the instance closed before saying Ready");
    }
    const pb::Ready* identity = nullptr;
    pb::Ready from_init_error;
    if (first.has_ready()) {
      identity = &first.ready();
    } else if (first.has_init_error()) {
      from_init_error.set_protocol_version(first.init_error().protocol_version());
      from_init_error.set_instance_id(first.init_error().instance_id());
      from_init_error.set_instance_token(first.init_error().instance_token());
      identity = &from_init_error;
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message on Runtime.Connect must be ready or init_error");
    }
    if (identity->protocol_version() != pb::PROTOCOL_VERSION_1) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "this host speaks runtime protocol version 1, the instance sent " +
                              std::to_string(identity->protocol_version()));
    }
    std::shared_ptr<RuntimeSession> session =
        server_->Find(identity->instance_id(), identity->instance_token(), context->peer());
    if (!session) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "unknown instance id or wrong instance token");
    }
    session->Serve(first, stream, context);
    return grpc::Status::OK;
  }

 private:
  RuntimeServer* server_;
};

Result<std::unique_ptr<RuntimeServer>> RuntimeServer::Start(const std::string& socket_dir,
                                                            bool functions_open_the_path,
                                                            int max_receive_bytes) {
  std::unique_ptr<RuntimeServer> server(new RuntimeServer());
  server->service_ = std::make_unique<Service>(server.get());
  server->host_services_ = std::make_unique<HostServicesService>(server.get());
  grpc::ServerBuilder builder;  // no listening port: connections arrive from the listeners
  builder.RegisterService(server->service_.get());
  builder.RegisterService(server->host_services_.get());
  builder.SetMaxReceiveMessageSize(max_receive_bytes);
  builder.SetMaxSendMessageSize(max_receive_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
  server->server_ = builder.BuildAndStart();
  if (!server->server_) {
    return Unavailable("could not start the runtime server");
  }
  RuntimeServer* raw = server.get();
  auto listeners = OneShotListeners::Create(
      socket_dir, functions_open_the_path, [raw](int fd, const std::string& instance_id) {
        {
          std::lock_guard<std::mutex> lock(raw->mu_);
          raw->instance_by_peer_["fd:" + std::to_string(fd)] = instance_id;
        }
        grpc::AddInsecureChannelFromFd(raw->server_.get(), fd);
      });
  if (!listeners.ok()) {
    return listeners.status();
  }
  server->listeners_ = std::move(listeners).value();
  return server;
}

RuntimeServer::~RuntimeServer() {
  listeners_.reset();  // no new connections
  std::vector<std::shared_ptr<RuntimeSession>> open;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, session] : sessions_) {
      open.push_back(session);
    }
    sessions_.clear();
  }
  for (auto& session : open) {
    session->Close();
  }
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_->Wait();
  }
}

Result<std::string> RuntimeServer::Expect(std::shared_ptr<RuntimeSession> session) {
  Result<std::string> path = listeners_->Open(session->instance_id());
  if (path.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[session->instance_id()] = std::move(session);
  }
  return path;
}

void RuntimeServer::Forget(const std::string& instance_id) {
  listeners_->Close(instance_id);
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(instance_id);
}

std::shared_ptr<RuntimeSession> RuntimeServer::Find(const std::string& instance_id,
                                                    const std::string& token,
                                                    const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto came_in_on = instance_by_peer_.find(peer);
  if (came_in_on == instance_by_peer_.end() || came_in_on->second != instance_id) {
    return nullptr;  // an instance speaks only on its own socket
  }
  auto it = sessions_.find(instance_id);
  if (it == sessions_.end()) {
    return nullptr;
  }
  // Compare without an early exit so the time taken says nothing about the token.
  const std::string& want = it->second->token();
  if (want.size() != token.size()) {
    return nullptr;
  }
  unsigned char diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff |= static_cast<unsigned char>(want[i] ^ token[i]);
  }
  return diff == 0 ? it->second : nullptr;
}

}  // namespace sluice::invoker
