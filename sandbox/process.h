// SandboxProcess: the Process handle for one launched instance.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>

#include "sandbox/cgroups.h"
#include "sandbox/files.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {

// Owns the child (through a pidfd, so signals never reach a recycled pid) and its cgroups.
// Thread-safe: Kill() and Wait() may be called concurrently from any threads.
class SandboxProcess : public Process {
 public:
  // `pidfd` refers to `pid`, a direct child of this process. With a pid namespace, `pid` is
  // the namespace's init and `init_status` the read end of the pipe on which it reports the
  // function's wait status; otherwise `pid` is the function and `init_status` is empty.
  // `cgroups` may be null (cgroup layers off).
  SandboxProcess(pid_t pid, UniqueFd pidfd, UniqueFd init_status,
                 std::unique_ptr<InstanceCgroups> cgroups);
  ~SandboxProcess() override;  // Kill(), reap, remove the cgroups

  pid_t pid() const override { return pid_; }
  void Kill() override;
  Result<ExitInfo> Wait(std::chrono::milliseconds timeout) override;

  // Closes the cgroup join fds once the child has joined (or died).
  void CloseCgroupJoinFds();

 private:
  // Reaps the child if it has exited (or, with `block`, once it does). Requires mu_.
  void ReapLocked(bool block);

  const pid_t pid_;
  const UniqueFd pidfd_;
  const UniqueFd init_status_;
  const bool in_pid_namespace_;
  std::mutex mu_;
  std::unique_ptr<InstanceCgroups> cgroups_;  // guarded by mu_
  std::optional<ExitInfo> exit_;              // guarded by mu_; set once reaped
};

}  // namespace sluice::sandbox
