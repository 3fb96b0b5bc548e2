// SluiceServer: the real `sluice serve` binary as a child process, for integration tests of the
// Kinesis API and the control API. It listens on 127.0.0.1:0 (a free port, read from its
// "Kinesis API on http://127.0.0.1:PORT" log line) over a fresh temporary data directory, and can
// be stopped with SIGTERM, killed with SIGKILL and started again on the same data directory.
// Start() returns once the Kinesis API answers and the control socket (data_dir()/control.sock,
// for the CLI's --data-dir) exists.
//
// Every process it starts is ended by its pid and reaped; the temporary directory is removed
// in the destructor. Failures (the binary exits early, never logs its port, does not answer,
// does not stop) throw std::runtime_error with the server's log, so the test fails with it.
//
// Thread-safety: one thread owns a SluiceServer; port() may be read from any thread while
// nothing starts or stops the server.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace sluice::testing {

struct SluiceServerOptions {
  std::string durability = "os";        // --durability
  std::vector<std::string> extra_args;  // appended to `sluice serve ...`
  // Called with the data directory's path before the first start (which creates it if missing).
  std::function<void(const std::string& data_dir)> prepare_data_dir;
};

class SluiceServer {
 public:
  // Creates the temporary directory and starts the server.
  explicit SluiceServer(SluiceServerOptions options = {});
  ~SluiceServer();  // kills a running server, removes the temporary directory
  SluiceServer(const SluiceServer&) = delete;
  SluiceServer& operator=(const SluiceServer&) = delete;

  // Starts `sluice serve` on the data directory and waits (with a deadline) until it answers
  // a ListStreams call and its control socket exists. REQUIRES: not running.
  void Start();
  // SIGTERM, then waits (with a deadline) for it to exit. Returns its exit code (-1 if it died
  // of a signal). Throws if it does not exit in time (it is then killed).
  int Stop();
  // SIGKILL by pid, and reaps it.
  void Kill();
  // Start() again on the same data directory (after Stop() or Kill()).
  void Restart() { Start(); }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& data_dir() const { return data_dir_; }
  std::string control_socket() const { return data_dir_ + "/control.sock"; }
  const std::string& temp_dir() const { return temp_dir_; }
  // Everything every run of the server wrote to stdout and stderr, oldest first.
  std::string Log() const;

 private:
  void Reap(int* exit_code);

  const SluiceServerOptions options_;
  std::string temp_dir_;
  std::string data_dir_;
  std::vector<std::string> log_files_;  // one per start
  pid_t pid_ = -1;
  int pidfd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace sluice::testing
