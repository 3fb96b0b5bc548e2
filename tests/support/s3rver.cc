#include "tests/support/s3rver.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "tests/support/run_command.h"

namespace sluice::testing {

S3rver::S3rver(const std::vector<std::string>& buckets) : buckets_(buckets) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/sluice-s3rver-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + " failed");
  }
  temp_dir_ = pattern;
  directory_ = temp_dir_ + "/buckets";

  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    throw std::runtime_error("prctl(PR_SET_CHILD_SUBREAPER) failed");
  }
  try {
    Launch();
  } catch (...) {
    std::filesystem::remove_all(temp_dir_);
    throw;
  }
}

S3rver::~S3rver() {
  if (running()) {
    Stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(temp_dir_, ignored);
}

void S3rver::Stop() {
  if (!running()) {
    throw std::logic_error("S3rver::Stop: not running");
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
  std::error_code ignored;
  std::filesystem::remove(log_file_, ignored);
}

void S3rver::Start() {
  if (running()) {
    throw std::logic_error("S3rver::Start: already running");
  }
  Launch();
}

void S3rver::Launch() {
  std::vector<std::string> argv = {"/bin/bash", S3RVER_START, SLUICE_BUILD_DIR, "--directory",
                                   directory_};
  if (port_ != 0) {
    argv.push_back("--port");
    argv.push_back(std::to_string(port_));
  }
  for (const std::string& bucket : buckets_) {
    argv.push_back("--bucket");
    argv.push_back(bucket);
  }
  const CommandResult started = RunCommand(argv);
  // "pid PID port PORT log FILE"
  std::istringstream words(started.out);
  std::string pid_word, port_word, log_word;
  pid_t pid = -1;
  int port = 0;
  words >> pid_word >> pid >> port_word >> port >> log_word >> log_file_;
  if (started.exit_code != 0 || pid_word != "pid" || pid <= 0 || port_word != "port" || port <= 0 ||
      port > 65535) {
    if (started.exit_code == 0 && pid > 0) {  // it started, but said so in a way not understood
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    throw std::runtime_error("tests/s3rver/start failed (exit " +
                             std::to_string(started.exit_code) + "): " + started.out + started.err);
  }
  pid_ = pid;
  port_ = static_cast<uint16_t>(port);
}

}  // namespace sluice::testing
