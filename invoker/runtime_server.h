// RuntimeServer: the host's end of the runtime protocol. Gives each instance a Unix socket of its
// own (OneShotListeners: one connection per instance, so a function cannot make the host hold
// more), serves Runtime.Connect on those connections, checks each instance's protocol version,
// id and token, and hands the stream to that instance's RuntimeSession. It also serves the
// HostServices calls an instance makes on the same connection, routing each to the
// InvokeServices of the invoke in flight that the call names (RuntimeSession::ServicesFor).
//
// Thread-safety: all methods are thread-safe. Ownership: the server owns the gRPC server and a
// registry of shared RuntimeSessions; Expect() adds one, Forget() drops it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "invoker/deadline_timer.h"
#include "invoker/one_shot_listeners.h"
#include "invoker/runtime_session.h"

namespace sluice::invoker {

class RuntimeServer {
 public:
  // Starts serving; instances' sockets go in `socket_dir` (created; see OneShotListeners for its
  // mode, which `functions_open_the_path` decides: true when the sandbox's mount layer is off).
  // Messages up to `max_receive_bytes` are accepted, so that an oversized response is reported
  // as Function.ResponseSizeTooLarge rather than a broken stream.
  static Result<std::unique_ptr<RuntimeServer>> Start(const std::string& socket_dir,
                                                      bool functions_open_the_path,
                                                      int max_receive_bytes = 64 << 20);
  // Stops the server; sessions still open are closed first. REQUIRES: no Instance is in the
  // middle of an invoke (destroy every FunctionPool first): closing a session ends its stream.
  ~RuntimeServer();

  // Opens the socket for the instance of `session` and returns its path (mode 0666, so that a
  // function running as an unprivileged uid can connect). The instance presenting the session's
  // id and token on it is routed to the session.
  Result<std::string> Expect(std::shared_ptr<RuntimeSession> session);
  // Drops the session, and its socket if it was never used.
  void Forget(const std::string& instance_id);

  // Used by the gRPC service: the session for id+token, or null; also null when the connection
  // (gRPC's peer, "fd:N") did not come in on that instance's own socket.
  std::shared_ptr<RuntimeSession> Find(const std::string& instance_id, const std::string& token,
                                       const std::string& peer);

 private:
  class Service;
  class HostServicesService;
  RuntimeServer() = default;

  DeadlineTimer timer_;  // first-message deadlines
  std::unique_ptr<Service> service_;
  std::unique_ptr<HostServicesService> host_services_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<OneShotListeners> listeners_;  // declared after server_: stops first
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<RuntimeSession>> sessions_;  // guarded by mu_
  // Which instance's socket each connection came in on, by gRPC peer ("fd:N"). A reused fd
  // number is overwritten when its new connection is handed over, before gRPC reads from it.
  std::map<std::string, std::string> instance_by_peer_;  // guarded by mu_
};

}  // namespace sluice::invoker
