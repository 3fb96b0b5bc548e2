#include "tests/support/sluice_server.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/kinesis_http.h"
#include "tests/support/run_command.h"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStartDeadline = std::chrono::seconds(30);
constexpr auto kStopDeadline = std::chrono::seconds(30);

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The port in the server's "serve: Kinesis API on http://127.0.0.1:PORT" line, or 0.
uint16_t PortFromLog(const std::string& log) {
  const std::string marker = "Kinesis API on http://127.0.0.1:";
  const size_t at = log.find(marker);
  if (at == std::string::npos) {
    return 0;
  }
  size_t pos = at + marker.size();
  unsigned port = 0;
  size_t digits = 0;
  while (pos < log.size() && log[pos] >= '0' && log[pos] <= '9' && digits < 6) {
    port = port * 10 + static_cast<unsigned>(log[pos] - '0');
    ++pos;
    ++digits;
  }
  // The line must be complete (the port is followed by a space) and the port valid.
  if (digits == 0 || pos >= log.size() || log[pos] != ' ' || port == 0 || port > 65535) {
    return 0;
  }
  return static_cast<uint16_t>(port);
}

// Sleeps one short polling step while waiting for a condition with a deadline.
void PollStep() {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

}  // namespace

SluiceServer::SluiceServer(SluiceServerOptions options) : options_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/sluice-api-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  temp_dir_ = pattern;
  data_dir_ = temp_dir_ + "/data";
  try {
    if (options_.prepare_data_dir) {
      options_.prepare_data_dir(data_dir_);
    }
    Start();
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temp_dir_, ignored);
    throw;
  }
}

SluiceServer::~SluiceServer() {
  if (running()) {
    try {
      Kill();
    } catch (...) {
    }
  }
  std::error_code ignored;
  fs::remove_all(temp_dir_, ignored);
}

std::string SluiceServer::Log() const {
  std::string log;
  for (size_t i = 0; i < log_files_.size(); ++i) {
    log += "--- sluice serve run " + std::to_string(i + 1) + " ---\n" + ReadFile(log_files_[i]);
  }
  return log;
}

void SluiceServer::Start() {
  if (running()) {
    throw std::logic_error("SluiceServer::Start: already running");
  }
  const std::string log_file =
      temp_dir_ + "/serve-" + std::to_string(log_files_.size() + 1) + ".log";
  log_files_.push_back(log_file);
  std::vector<std::string> args = {SLUICE_BIN,   "serve",   "--listen",     "127.0.0.1:0",
                                   "--data-dir", data_dir_, "--durability", options_.durability};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  // Everything the child needs exists before fork(): it only calls async-signal-safe functions.
  const int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    throw std::runtime_error("cannot open " + log_file + " or /dev/null");
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // The server dies with the test (the thread that started it), whatever happens to the test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    ExecWithStdio(argv.data(), null_fd, log_fd);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  pid_ = pid;
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  port_ = 0;

  const auto deadline = Clock::now() + kStartDeadline;
  // 1. The log line that names the port.
  while ((port_ = PortFromLog(ReadFile(log_file))) == 0) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ::close(pidfd_);
      pidfd_ = -1;
      throw std::runtime_error("sluice serve exited (status " + std::to_string(status) +
                               ") before listening:\n" + Log());
    }
    if (Clock::now() > deadline) {
      Kill();
      throw std::runtime_error("sluice serve did not log its port in time:\n" + Log());
    }
    PollStep();
  }
  // 2. An answer to a real call, and the control socket (created before the HTTP server).
  for (;;) {
    KinesisClient client(port_, 5000);
    const HttpReply reply = client.Call("ListStreams", nlohmann::json::object());
    std::error_code ec;
    if (reply.status == 200 && fs::is_socket(control_socket(), ec)) {
      return;
    }
    if (Clock::now() > deadline) {
      Kill();
      throw std::runtime_error("sluice serve does not answer ListStreams (" + reply.Describe() +
                               "):\n" + Log());
    }
    PollStep();
  }
}

void SluiceServer::Reap(int* exit_code) {
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  pid_ = -1;
  if (pidfd_ >= 0) {
    ::close(pidfd_);
    pidfd_ = -1;
  }
}

int SluiceServer::Stop() {
  if (!running()) {
    throw std::logic_error("SluiceServer::Stop: not running");
  }
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + kStopDeadline;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      if (pidfd_ >= 0) {
        ::close(pidfd_);
        pidfd_ = -1;
      }
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (Clock::now() > deadline) {
      Kill();
      throw std::runtime_error("sluice serve did not exit within 30 s of SIGTERM:\n" + Log());
    }
    if (pidfd_ >= 0) {
      pollfd p{pidfd_, POLLIN, 0};
      ::poll(&p, 1, 100);  // readable when the process exits
    } else {
      PollStep();
    }
  }
}

void SluiceServer::Kill() {
  if (!running()) {
    throw std::logic_error("SluiceServer::Kill: not running");
  }
  ::kill(pid_, SIGKILL);
  int ignored;
  Reap(&ignored);
}

}  // namespace sluice::testing
