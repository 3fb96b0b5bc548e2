// Helpers shared by the sandbox tests: one launcher per test binary, temporary instance
// directories, and running a probe to completion with its stdout captured.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "sandbox/launcher.h"

namespace sluice::sandbox::testing {

// The launcher all tests share (probed once). Aborts the test binary if Create fails.
SandboxLauncher& Launcher();

// True when `layer` is on. Otherwise WARNs "skipped: ..." and returns false, or fails the test
// when SLUICE_REQUIRE_SANDBOX=1.
bool LayerOn(const std::string& layer);

// A temporary directory (mode 0755, so the function's uid can traverse it) holding code/ with
// the given binary copied in as "handler", scratch/, and a listening Unix socket rt.sock (mode
// 0666). Removed on destruction.
class Instance {
 public:
  explicit Instance(const std::string& binary);
  ~Instance();

  const std::string& dir() const { return dir_; }
  std::string socket_path() const { return dir_ + "/rt.sock"; }
  // A spec for this instance with a unique instance_id and small limits; env is empty.
  SandboxSpec Spec() const;

 private:
  std::string dir_;
  int listen_fd_ = -1;
};

struct ProbeRun {
  ExitInfo exit;
  std::string out;  // the probe's stdout
};

// Launches the sandbox probe with PROBE_ACTION=action (plus `customize` on the spec), waits up
// to `timeout`, kills it if still running, and returns its exit and stdout. Launch and Wait
// failures fail the test (REQUIRE).
ProbeRun RunProbe(const std::string& action,
                  const std::function<void(SandboxSpec&)>& customize = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

// Reads everything from `fd` until EOF.
std::string ReadAll(int fd);

}  // namespace sluice::sandbox::testing
