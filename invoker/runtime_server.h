// RuntimeServer: the host's end of the runtime protocol. Listens on one Unix socket, serves
// Runtime.Connect, checks each connecting instance's protocol version, id and token, and hands the
// stream to that instance's RuntimeSession.
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
#include "invoker/runtime_session.h"

namespace sluice::invoker {

class RuntimeServer {
 public:
  // Starts serving on `socket_path` (removed first if a stale socket is there). The socket is
  // made 0666 so that functions running as an unprivileged uid can connect; instances
  // authenticate with their token. Messages up to `max_receive_bytes` are accepted, so that an
  // oversized response is reported as Function.ResponseSizeTooLarge rather than a broken stream.
  static Result<std::unique_ptr<RuntimeServer>> Start(const std::string& socket_path,
                                                      int max_receive_bytes = 64 << 20);
  // Stops the server; sessions still open are closed first. REQUIRES: no Instance is in the
  // middle of an invoke (destroy every FunctionPool first): closing a session ends its stream.
  ~RuntimeServer();

  const std::string& socket_path() const { return socket_path_; }

  // The next instance presenting this session's id and token is routed to it.
  void Expect(std::shared_ptr<RuntimeSession> session);
  void Forget(const std::string& instance_id);

  // Used by the gRPC service: the session for id+token, or null.
  std::shared_ptr<RuntimeSession> Find(const std::string& instance_id, const std::string& token);

 private:
  class Service;
  RuntimeServer() = default;

  std::string socket_path_;
  DeadlineTimer timer_;  // first-message deadlines
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<RuntimeSession>> sessions_;
};

}  // namespace sluice::invoker
