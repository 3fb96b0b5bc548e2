#include "invoker/log_capture.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace sluice::invoker {
namespace {

constexpr size_t kMaxLine = 256 * 1024;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Can't-happen failures (fd exhaustion at start-up): crash with the reason (Envoy's rule).
void CheckOrDie(bool ok, const char* what) {
  if (!ok) {
    std::cerr << "sluice: fatal: " << what << ": " << std::strerror(errno) << std::endl;
    std::abort();
  }
}

}  // namespace

LogCapture::LogCapture(LogSink sink) : sink_(std::move(sink)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  CheckOrDie(epoll_fd_ >= 0, "epoll_create1");
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  CheckOrDie(wake_fd_ >= 0, "eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  CheckOrDie(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) == 0, "epoll_ctl");
  thread_ = std::thread([this] { Loop(); });
}

LogCapture::~LogCapture() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

std::shared_ptr<LogSource> LogCapture::Open(const std::string& function_name,
                                            const std::string& instance_id) {
  std::shared_ptr<LogSource> source(new LogSource(this, function_name, instance_id));
  std::lock_guard<std::mutex> lock(mu_);
  for (int fd : {source->out_read_, source->err_read_}) {
    by_fd_[fd] = source;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    CheckOrDie(::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
  }
  return source;
}

void LogCapture::Remove(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  by_fd_.erase(fd);
}

void LogCapture::Loop() {
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
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) {
        return;
      }
      std::shared_ptr<LogSource> source;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = by_fd_.find(fd);
        if (it != by_fd_.end()) {
          source = it->second.lock();
        }
      }
      if (source && !source->ReadAvailable(fd)) {
        Remove(fd);  // EOF: the instance closed its end
      }
    }
  }
}

LogSource::LogSource(LogCapture* capture, std::string function_name, std::string instance_id)
    : capture_(capture),
      function_name_(std::move(function_name)),
      instance_id_(std::move(instance_id)) {
  int out[2], err[2];
  CheckOrDie(::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0, "pipe2");
  out_read_ = out[0];
  out_write_ = out[1];
  err_read_ = err[0];
  err_write_ = err[1];
  ::fcntl(out_read_, F_SETFL, O_NONBLOCK);
  ::fcntl(err_read_, F_SETFL, O_NONBLOCK);
}

LogSource::~LogSource() {
  CloseWriteEnds();
  capture_->Remove(out_read_);
  capture_->Remove(err_read_);
  Drain();
  std::lock_guard<std::mutex> lock(mu_);
  if (!out_partial_.empty()) {
    EmitLocked(out_partial_, false);
  }
  if (!err_partial_.empty()) {
    EmitLocked(err_partial_, true);
  }
  ::close(out_read_);
  ::close(err_read_);
}

void LogSource::CloseWriteEnds() {
  std::lock_guard<std::mutex> lock(mu_);
  if (out_write_ >= 0) {
    ::close(out_write_);
    out_write_ = -1;
  }
  if (err_write_ >= 0) {
    ::close(err_write_);
    err_write_ = -1;
  }
}

void LogSource::SetRequest(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  request_id_ = request_id;
}

void LogSource::Drain() {
  ReadAvailable(out_read_);
  ReadAvailable(err_read_);
}

bool LogSource::ReadAvailable(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool is_stderr = fd == err_read_;
  std::string& partial = is_stderr ? err_partial_ : out_partial_;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) {
      return false;
    }
    if (n < 0) {
      return errno == EAGAIN || errno == EINTR;
    }
    partial.append(buf, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      EmitLocked(partial.substr(start, nl - start), is_stderr);
    }
    partial.erase(0, start);
    while (partial.size() >= kMaxLine) {
      EmitLocked(partial.substr(0, kMaxLine), is_stderr);
      partial.erase(0, kMaxLine);
    }
  }
}

void LogSource::EmitLocked(const std::string& text, bool is_stderr) {
  LogLine line;
  line.unix_ms = NowMillis();
  line.function_name = function_name_;
  line.instance_id = instance_id_;
  line.request_id = request_id_;
  line.is_stderr = is_stderr;
  line.text = text;
  capture_->sink_(line);
}

}  // namespace sluice::invoker
