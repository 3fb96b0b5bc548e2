// S3rver: s3rver (the S3-compatible server pinned in tests/s3rver/) on a free loopback port, over
// a fresh temporary directory, for tests of what talks to S3. It is started with
// tests/s3rver/start (which installs it into the build directory when missing); its access key
// and secret are both "S3RVER".
//
// The start script runs s3rver in the background and exits, so the constructor makes this
// process a child subreaper (prctl PR_SET_CHILD_SUBREAPER): the orphaned server becomes its
// child, and Stop() and the destructor can SIGKILL it by pid and reap it. Stop() and Start() take
// the server away and bring it back on the same port over the same directory, so the same
// endpoint answers again with the objects it had. The temporary directory and the server's logs
// are removed in the destructor. Failures to start throw std::runtime_error with the script's
// output, so the test fails with it.
//
// Needs S3RVER_START (the script's path) and SLUICE_BUILD_DIR defined when compiled.
//
// Thread-safety: one thread owns an S3rver; its accessors may be read from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::testing {

class S3rver {
 public:
  // Starts s3rver with `buckets` already created.
  explicit S3rver(const std::vector<std::string>& buckets);
  ~S3rver();  // kills the server if running, reaps it, removes the temporary directory
  S3rver(const S3rver&) = delete;
  S3rver& operator=(const S3rver&) = delete;

  // Kills the server (SIGKILL) and reaps it; its objects stay. REQUIRES: running.
  void Stop();
  // Starts it again on the same port and directory. REQUIRES: not running.
  void Start();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT", for S3Store and the aws CLI's --endpoint-url.
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Where s3rver keeps its buckets.
  const std::string& directory() const { return directory_; }

 private:
  // Runs the start script (on port_, or any free port while it is 0) and takes its pid, port and
  // log; throws with the script's output when it fails.
  void Launch();

  const std::vector<std::string> buckets_;
  std::string temp_dir_;
  std::string directory_;
  std::string log_file_;  // the running server's output, in the build directory
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::testing
