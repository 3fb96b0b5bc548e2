#include "host/function_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/files.h"
#include "base/log.h"
#include "base/time_format.h"

namespace sluice::host {
namespace {

// What followers can catch up on, per function: the last lines up to these bounds.
constexpr size_t kFollowBacklogLines = 10'000;
constexpr size_t kFollowBacklogBytes = 4 << 20;

std::string FilePath(const std::string& dir, int index) {
  return index == 0 ? dir + "/current.log" : dir + "/" + std::to_string(index) + ".log";
}

}  // namespace

struct FunctionLogs::PerFunction {
  std::string dir;
  UniqueFd fd;  // current.log, O_APPEND
  uint64_t size = 0;
  uint64_t last_seq = 0;
  std::deque<FunctionLogLine> recent;  // the last lines, for followers (see the bounds above)
  size_t recent_bytes = 0;
};

Result<std::unique_ptr<FunctionLogs>> FunctionLogs::Open(FunctionLogOptions options) {
  if (options.dir.empty() || options.max_files < 1 || options.max_file_bytes < 1024) {
    return InvalidArgument(
        "function logs need a directory, max_files >= 1, max_file_bytes >= 1024");
  }
  std::error_code error;
  std::filesystem::create_directories(options.dir, error);
  if (error) {
    return Internal(options.dir + ": cannot create the log directory: " + error.message());
  }
  return std::unique_ptr<FunctionLogs>(new FunctionLogs(std::move(options)));
}

FunctionLogs::FunctionLogs(FunctionLogOptions options) : options_(std::move(options)) {}

FunctionLogs::~FunctionLogs() = default;

FunctionLogs::PerFunction& FunctionLogs::Get(const std::string& function) {
  std::unique_ptr<PerFunction>& slot = functions_[function];
  if (!slot) {
    slot = std::make_unique<PerFunction>();
    slot->dir = options_.dir + "/" + function;
  }
  return *slot;
}

void FunctionLogs::Append(const invoker::LogLine& line) {
  std::string text = IsoUtcMillis(line.unix_ms);
  text += '\t';
  text += line.request_id.empty() ? "-" : line.request_id;
  text += line.is_stderr ? "\tstderr\t" : "\tstdout\t";
  text += line.text;
  std::lock_guard<std::mutex> lock(mu_);
  PerFunction& log = Get(line.function_name);
  if (log.fd.get() < 0) {
    if (!MakeDirectory(log.dir).ok()) {
      return;
    }
    log.fd = UniqueFd(
        ::open(FilePath(log.dir, 0).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
    struct stat st {};
    if (log.fd.get() < 0 || ::fstat(log.fd.get(), &st) != 0) {
      LogWarning("logs", "cannot open " + FilePath(log.dir, 0) + ": " + std::strerror(errno));
      log.fd = UniqueFd();
      return;
    }
    log.size = static_cast<uint64_t>(st.st_size);
  }
  if (log.size + text.size() + 1 > options_.max_file_bytes && log.size > 0) {
    // Rotate: current -> 1 -> 2 ...; the oldest falls off.
    for (int i = options_.max_files - 1; i >= 1; --i) {
      std::rename(FilePath(log.dir, i - 1).c_str(), FilePath(log.dir, i).c_str());
    }
    if (options_.max_files == 1) {
      ::unlink(FilePath(log.dir, 0).c_str());
    }
    log.fd = UniqueFd(::open(FilePath(log.dir, 0).c_str(),
                             O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640));
    log.size = 0;
  }
  text.push_back('\n');
  if (log.fd.get() >= 0 && ::write(log.fd.get(), text.data(), text.size()) > 0) {
    log.size += text.size();
  }
  text.pop_back();
  log.recent_bytes += text.size();
  log.recent.push_back({++log.last_seq, std::move(text)});
  while (log.recent.size() > 1 &&
         (log.recent.size() > kFollowBacklogLines || log.recent_bytes > kFollowBacklogBytes)) {
    log.recent_bytes -= log.recent.front().text.size();
    log.recent.pop_front();
  }
  appended_.notify_all();
}

Result<std::vector<std::string>> FunctionLogs::Tail(const std::string& function, size_t max_lines,
                                                    uint64_t* last_seq) {
  std::string dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    PerFunction& log = Get(function);
    *last_seq = log.last_seq;
    dir = log.dir;
  }
  // Read without the lock, so appends go on; a rotation meanwhile may repeat or skip a few lines.
  std::deque<std::string> lines;
  for (int i = options_.max_files - 1; i >= 0; --i) {
    std::ifstream in(FilePath(dir, i));
    std::string line;
    while (std::getline(in, line)) {
      lines.push_back(std::move(line));
      if (max_lines > 0 && lines.size() > max_lines) {
        lines.pop_front();
      }
    }
  }
  return std::vector<std::string>(std::make_move_iterator(lines.begin()),
                                  std::make_move_iterator(lines.end()));
}

std::vector<FunctionLogLine> FunctionLogs::Follow(const std::string& function, uint64_t after_seq,
                                                  std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mu_);
  PerFunction* log = &Get(function);
  appended_.wait_until(lock, deadline, [&] { return log->last_seq > after_seq; });
  std::vector<FunctionLogLine> lines;
  for (const FunctionLogLine& line : log->recent) {
    if (line.seq > after_seq) {
      lines.push_back(line);
    }
  }
  return lines;
}

}  // namespace sluice::host
