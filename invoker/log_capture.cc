#include "invoker/log_capture.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

namespace sluice::invoker {
namespace {

constexpr size_t kMaxLine = 256 * 1024;
constexpr size_t kReadBudget = 64 * 1024;

int64_t NowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LogCapture::LogCapture(LogSink sink) : sink_(std::move(sink)) {
  auto epoll = EpollThread::Start([this](int fd) { OnReadable(fd); });
  if (!epoll.ok()) {
    // Can't-happen at start-up (fd exhaustion): crash with the reason (Envoy's rule).
    std::cerr << "sluice: fatal: " << epoll.status().ToString() << std::endl;
    std::abort();
  }
  epoll_ = std::move(epoll).value();
}

LogCapture::~LogCapture() {
  // Take the thread out under the lock, then stop it outside: a handler finishing meanwhile may
  // drop the last reference to a LogSource, whose destructor calls Remove(), which must then
  // find no thread rather than one half destroyed.
  std::unique_ptr<EpollThread> epoll;
  {
    std::lock_guard<std::mutex> lock(mu_);
    epoll = std::move(epoll_);
  }
  epoll.reset();
}

Result<std::shared_ptr<LogSource>> LogCapture::Open(const std::string& function_name,
                                                    const std::string& instance_id) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return ErrnoStatus("pipe2 for a function's stdout");
  }
  if (::pipe2(err, O_CLOEXEC) != 0) {
    Status status = ErrnoStatus("pipe2 for a function's stderr");
    ::close(out[0]);
    ::close(out[1]);
    return status;
  }
  // From here the source owns the four fds and closes them whatever happens.
  std::shared_ptr<LogSource> source(
      new LogSource(this, function_name, instance_id, out[0], out[1], err[0], err[1]));
  std::lock_guard<std::mutex> lock(mu_);
  if (epoll_ == nullptr) {
    return Unavailable("the host is shutting down");
  }
  for (int fd : {source->out_read_, source->err_read_}) {
    SLUICE_RETURN_IF_ERROR(epoll_->Add(fd).WithContext("watching a function's output"));
    by_fd_[fd] = source;
  }
  return source;
}

void LogCapture::Remove(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (epoll_ != nullptr) {  // null while the capture shuts down
    epoll_->Remove(fd);
  }
  by_fd_.erase(fd);
}

void LogCapture::OnReadable(int fd) {
  std::shared_ptr<LogSource> source;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_fd_.find(fd);
    if (it != by_fd_.end()) {
      source = it->second.lock();
    }
  }
  // A bounded read per wake-up: one flooding instance cannot starve the others (epoll is
  // level-triggered, so what is left is reported again).
  if (source && !source->ReadAvailable(fd, kReadBudget)) {
    Remove(fd);  // EOF: the instance closed its end
  }
}

LogSource::LogSource(LogCapture* capture, std::string function_name, std::string instance_id,
                     int out_read, int out_write, int err_read, int err_write)
    : capture_(capture),
      function_name_(std::move(function_name)),
      instance_id_(std::move(instance_id)),
      out_read_(out_read),
      out_write_(out_write),
      err_read_(err_read),
      err_write_(err_write) {
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
  // Only what is in the pipes now: a function that keeps writing cannot hold the caller here.
  for (int fd : {out_read_, err_read_}) {
    int available = 0;
    if (::ioctl(fd, FIONREAD, &available) == 0 && available > 0) {
      ReadAvailable(fd, static_cast<size_t>(available));
    }
  }
}

bool LogSource::ReadAvailable(int fd, size_t budget) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool is_stderr = fd == err_read_;
  std::string& partial = is_stderr ? err_partial_ : out_partial_;
  char buf[16384];
  while (budget > 0) {
    const ssize_t n = ::read(fd, buf, std::min(sizeof buf, budget));
    if (n == 0) {
      return false;
    }
    if (n < 0) {
      return errno == EAGAIN || errno == EINTR;
    }
    budget -= static_cast<size_t>(n);
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
  return true;
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
