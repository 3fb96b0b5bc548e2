#include "host/control_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

namespace sluice::host {

constexpr auto kShutdownGrace = std::chrono::seconds(5);

Result<std::unique_ptr<ControlServer>> ControlServer::Start(const std::string& socket_path,
                                                            grpc::Service* service) {
  if (::unlink(socket_path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus("removing the stale control socket " + socket_path);
  }
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(service);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  // umask is per process: nothing else creates files while the host starts.
  const mode_t old_mask = ::umask(0177);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_mask);
  if (server == nullptr) {
    return Unavailable("cannot listen on the control socket " + socket_path);
  }
  return std::unique_ptr<ControlServer>(new ControlServer(socket_path, std::move(server)));
}

ControlServer::~ControlServer() {
  server_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server_->Wait();
  ::unlink(socket_path_.c_str());
}

}  // namespace sluice::host
