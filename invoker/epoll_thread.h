// EpollThread: one thread that waits for file descriptors to become readable and calls a
// handler for each (level-triggered: an fd still readable after the handler is reported again).
// Used by LogCapture (function output pipes) and OneShotListeners (instances' sockets).
//
// Thread-safety: Add() and Remove() may be called from any thread. The handler runs on the
// epoll thread only; after Remove(fd) returns it may still be called once for fd if that wake-up
// was already under way, so handlers look fds up under their own lock and ignore unknown ones.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "base/status.h"

namespace sluice::invoker {

class EpollThread {
 public:
  using OnReadable = std::function<void(int fd)>;

  static Result<std::unique_ptr<EpollThread>> Start(OnReadable on_readable);
  ~EpollThread();  // stops the thread (after the handler call in progress) and joins it
  EpollThread(const EpollThread&) = delete;
  EpollThread& operator=(const EpollThread&) = delete;

  // Watches `fd` (not owned) for readability.
  Status Add(int fd);
  // Stops watching `fd`. Idempotent.
  void Remove(int fd);

 private:
  explicit EpollThread(OnReadable on_readable);
  void Loop();

  const OnReadable on_readable_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace sluice::invoker
