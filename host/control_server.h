// ControlServer: the gRPC server of the control API, listening on a Unix socket of mode 0600 (only
// the host's user may call it). The socket is created with a umask of 0177, so it is never
// wider, even for a moment. A socket file already at the path is removed first: the caller
// (Host) holds the data directory's lock, so it can only be left over from a killed host.
//
// Thread-safety: Start and the destructor from one thread. The destructor stops accepting calls,
// cancels those still running after a short grace (a following `sluice logs --follow` ends) and
// waits for every handler to return.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "base/status.h"

namespace sluice::host {

// The largest control message either side accepts: an invoke's event and response (6 MiB each
// at most) with room for their JSON encoding.
inline constexpr int kMaxMessageBytes = 16 << 20;

class ControlServer {
 public:
  // `service` must outlive the server.
  static Result<std::unique_ptr<ControlServer>> Start(const std::string& socket_path,
                                                      grpc::Service* service);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  const std::string& socket_path() const { return socket_path_; }

 private:
  ControlServer(std::string socket_path, std::unique_ptr<grpc::Server> server)
      : socket_path_(std::move(socket_path)), server_(std::move(server)) {}

  const std::string socket_path_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace sluice::host
