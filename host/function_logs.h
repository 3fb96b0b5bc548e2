// FunctionLogs: every function's captured stdout and stderr lines, kept on disk under
// <dir>/<function>/ and followed live by `sluice logs NAME --follow`.
//
// Each line is stored as "<time>\t<request id or ->\t<stdout|stderr>\t<text>\n", time in UTC ISO
// 8601 with milliseconds. The current file is "current.log"; past max_file_bytes it is renamed
// to "1.log" (older files shift up) and at most max_files files are kept, so a function's logs
// use at most max_files * max_file_bytes. Writes are not fsynced: logs are diagnostics.
//
// Thread-safety: all methods are thread-safe. Append is the LogCapture sink.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "invoker/log_capture.h"

namespace sluice::host {

struct FunctionLogOptions {
  std::string dir;                        // required: data_dir/logs/functions
  uint64_t max_file_bytes = 16ull << 20;  // Default 16 MiB
  int max_files = 4;                      // Default 4 (current.log, 1.log .. 3.log)
};

// A stored line, with its position in the function's log for followers.
struct FunctionLogLine {
  uint64_t seq = 0;  // 1, 2, ... per function since the host started
  std::string text;  // the stored line, without the newline
};

class FunctionLogs {
 public:
  static Result<std::unique_ptr<FunctionLogs>> Open(FunctionLogOptions options);
  ~FunctionLogs();

  void Append(const invoker::LogLine& line);

  // The last `max_lines` stored lines of `function` (oldest first), from the files, and the seq
  // of the newest line appended so far (pass it to Follow to continue without a gap).
  Result<std::vector<std::string>> Tail(const std::string& function, size_t max_lines,
                                        uint64_t* last_seq);
  // Lines of `function` appended after `after_seq`, waiting until at least one exists or
  // `deadline` passes (then empty). At most the last 10,000 lines and 4 MiB are held for
  // followers; a follower that falls further behind skips the lines it missed.
  std::vector<FunctionLogLine> Follow(const std::string& function, uint64_t after_seq,
                                      std::chrono::steady_clock::time_point deadline);

 private:
  struct PerFunction;
  explicit FunctionLogs(FunctionLogOptions options);
  PerFunction& Get(const std::string& function);  // REQUIRES: mu_ held

  const FunctionLogOptions options_;
  std::mutex mu_;
  std::condition_variable appended_;
  std::map<std::string, std::unique_ptr<PerFunction>> functions_;
};

}  // namespace sluice::host
