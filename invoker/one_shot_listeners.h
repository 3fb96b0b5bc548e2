// OneShotListeners: one listening Unix socket per function instance, each accepting exactly one
// connection, which it hands over (to the gRPC server), and then disappearing.
//
// Why per instance: with one shared socket, a function could open a thousand connections that
// the host must hold (file descriptors and memory not charged to the function). With its own
// socket, an instance's one connection is its runtime channel; any other connect() finds no
// socket. The sockets have random names and live in one directory: mode 0700 when functions
// reach their socket through a bind mount made by the (privileged) launcher, so no other local
// user can reach them; 0711 (reachable by path, not listable) when functions must open the host
// path themselves.
//
// Thread-safety: Open() and Close() may be called from any thread. The callback runs on the
// accept thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "invoker/epoll_thread.h"

namespace sluice::invoker {

class OneShotListeners {
 public:
  // Receives each accepted connection's fd (and owns it from then on) and the key it came in on.
  using OnConnection = std::function<void(int fd, const std::string& key)>;

  // `dir` is created if missing, and its mode set as above.
  static Result<std::unique_ptr<OneShotListeners>> Create(const std::string& dir,
                                                          bool functions_open_the_path,
                                                          OnConnection on_connection);
  ~OneShotListeners();  // closes and removes every socket still open
  OneShotListeners(const OneShotListeners&) = delete;
  OneShotListeners& operator=(const OneShotListeners&) = delete;

  // Opens a socket for `key` (mode 0666, so an unprivileged function can connect) and returns
  // its path. INVALID_ARGUMENT if the path would not fit a Unix socket address.
  Result<std::string> Open(const std::string& key);
  // Closes and removes `key`'s socket if it has not been used yet. Idempotent.
  void Close(const std::string& key);

 private:
  OneShotListeners(std::string dir, OnConnection on_connection);
  void OnReadable(int fd);  // on the epoll thread

  struct Listener {
    int fd = -1;
    std::string path;
  };

  const std::string dir_;
  const OnConnection on_connection_;
  std::mutex mu_;
  uint64_t next_name_ = 0;                  // guarded by mu_
  std::map<std::string, Listener> by_key_;  // guarded by mu_
  std::map<int, std::string> key_by_fd_;    // guarded by mu_
  std::unique_ptr<EpollThread> epoll_;      // declared last: stops first
};

}  // namespace sluice::invoker
