// LogCapture: reads every function instance's stdout and stderr, line by line, and hands each
// line to a sink tagged with the function, the instance and the request in flight when it was
// written. One epoll thread serves all instances.
//
// Attribution is exact: before an invoke's response is handed back, the invoker calls
// LogSource::Drain(), which reads whatever the function wrote before it answered, so no line of
// one request is tagged with the next.
//
// Thread-safety: all methods are thread-safe. The sink is called from the capture thread and
// from threads calling Drain(), never concurrently for the same LogSource, but concurrently for
// different ones: the sink must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/status.h"
#include "invoker/epoll_thread.h"

namespace sluice::invoker {

struct LogLine {
  int64_t unix_ms = 0;
  std::string function_name;
  std::string instance_id;
  std::string request_id;  // empty when no invoke was in flight
  bool is_stderr = false;
  std::string text;  // without the trailing newline; lines over 256 KiB are split
};

using LogSink = std::function<void(const LogLine&)>;

class LogSource;

class LogCapture {
 public:
  explicit LogCapture(LogSink sink);
  ~LogCapture();  // stops the thread; remaining sources stop being read
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  // Creates pipes for one instance. The returned source owns the read ends; pass its
  // stdout_write_fd()/stderr_write_fd() to the launcher, then call CloseWriteEnds().
  // Fails (INTERNAL) when the host is out of file descriptors.
  Result<std::shared_ptr<LogSource>> Open(const std::string& function_name,
                                          const std::string& instance_id);

 private:
  friend class LogSource;
  void OnReadable(int fd);  // on the epoll thread
  void Remove(int fd);

  LogSink sink_;
  std::unique_ptr<EpollThread> epoll_;
  std::mutex mu_;
  std::map<int, std::weak_ptr<LogSource>> by_fd_;
};

class LogSource {
 public:
  ~LogSource();  // emits a last partial line, closes the pipes

  int stdout_write_fd() const { return out_write_; }
  int stderr_write_fd() const { return err_write_; }
  void CloseWriteEnds();

  // Lines from now on are tagged with this request id ("" for none).
  void SetRequest(const std::string& request_id);
  // Reads and emits what is in the pipes now (not what arrives while it runs).
  void Drain();

 private:
  friend class LogCapture;
  // Takes ownership of the four pipe ends.
  LogSource(LogCapture* capture, std::string function_name, std::string instance_id, int out_read,
            int out_write, int err_read, int err_write);
  // Reads at most `budget` bytes of what is available on `fd` and emits complete lines. Returns
  // false at EOF.
  bool ReadAvailable(int fd, size_t budget);
  void EmitLocked(const std::string& text, bool is_stderr);

  LogCapture* capture_;
  const std::string function_name_;
  const std::string instance_id_;
  int out_read_ = -1, out_write_ = -1, err_read_ = -1, err_write_ = -1;
  std::mutex mu_;
  std::string request_id_;
  std::string out_partial_, err_partial_;
};

}  // namespace sluice::invoker
