#include "invoker/epoll_thread.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::invoker {

Result<std::unique_ptr<EpollThread>> EpollThread::Start(OnReadable on_readable) {
  std::unique_ptr<EpollThread> thread(new EpollThread(std::move(on_readable)));
  if (thread->epoll_fd_ < 0 || thread->wake_fd_ < 0) {
    return ErrnoStatus("epoll_create1/eventfd");
  }
  SLUICE_RETURN_IF_ERROR(thread->Add(thread->wake_fd_));
  EpollThread* raw = thread.get();
  thread->thread_ = std::thread([raw] { raw->Loop(); });
  return thread;
}

EpollThread::EpollThread(OnReadable on_readable)
    : on_readable_(std::move(on_readable)),
      epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

EpollThread::~EpollThread() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    thread_.join();
  }
  if (wake_fd_ >= 0) {
    ::close(wake_fd_);
  }
  if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
  }
}

Status EpollThread::Add(int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return ErrnoStatus("epoll_ctl(ADD)");
  }
  return Status::Ok();
}

void EpollThread::Remove(int fd) {
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void EpollThread::Loop() {
  epoll_event events[64];
  for (;;) {
    const int n = ::epoll_wait(epoll_fd_, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        return;
      }
      on_readable_(events[i].data.fd);
    }
  }
}

}  // namespace sluice::invoker
