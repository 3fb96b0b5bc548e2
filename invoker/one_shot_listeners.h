// OneShotListeners: one listening Unix socket per function instance, each accepting exactly one
// connection, which it hands over (to the gRPC server), and then disappearing.
//
// Why per instance: with one shared socket, a function could open a thousand connections that
// the host must hold (file descriptors and memory not charged to the function). With its own
// socket, an instance's one connection is its runtime channel; any other connect() finds no
// socket. The sockets live in one directory (mode 0711: reachable by path, not listable).
//
// Thread-safety: Open() and Close() may be called from any thread. The callback runs on the
// accept thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"

namespace sluice::invoker {

class OneShotListeners {
 public:
  // Receives each accepted connection's fd, and owns it from then on.
  using OnConnection = std::function<void(int fd)>;

  // `dir` is created if missing (mode 0711).
  static Result<std::unique_ptr<OneShotListeners>> Create(const std::string& dir,
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
  void Loop();

  struct Listener {
    int fd = -1;
    std::string path;
  };

  const std::string dir_;
  const OnConnection on_connection_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mu_;
  uint64_t next_name_ = 0;                  // guarded by mu_
  std::map<std::string, Listener> by_key_;  // guarded by mu_
  std::map<int, std::string> key_by_fd_;    // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::invoker
