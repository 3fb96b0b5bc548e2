#include "sandbox/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace sluice::sandbox {

std::string ExitInfo::Describe() const {
  if (exited) {
    return "exit status " + std::to_string(exit_code);
  }
  const char* name = sigdescr_np(signal);
  std::string text = "signal " + std::to_string(signal) + " (" + (name ? name : "unknown") + ")";
  if (oom_killed) {
    text += ": out of memory";
  } else if (signal == SIGSYS) {
    text += ": blocked system call (seccomp)";
  }
  return text;
}

SandboxProcess::SandboxProcess(pid_t pid, UniqueFd pidfd, UniqueFd init_status,
                               std::unique_ptr<InstanceCgroups> cgroups)
    : pid_(pid),
      pidfd_(std::move(pidfd)),
      init_status_(std::move(init_status)),
      in_pid_namespace_(init_status_.get() >= 0),
      cgroups_(std::move(cgroups)) {}

SandboxProcess::~SandboxProcess() {
  Kill();
  std::lock_guard<std::mutex> lock(mu_);
  ReapLocked(/*block=*/true);
  cgroups_.reset();  // rmdir needs the cgroups empty: after the reap
}

void SandboxProcess::CloseCgroupJoinFds() {
  std::lock_guard<std::mutex> lock(mu_);
  if (cgroups_ != nullptr) {
    cgroups_->CloseJoinFds();
  }
}

void SandboxProcess::Kill() {
  std::lock_guard<std::mutex> lock(mu_);
  if (exit_.has_value()) {
    return;  // reaped: nothing of ours is left to signal (and the pid may be reused)
  }
  // In a pid namespace, SIGKILL to its pid 1 makes the kernel kill everything inside.
  syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  if (!in_pid_namespace_) {
    killpg(pid_, SIGKILL);  // the child's own session and process group (setsid)
  }
  if (cgroups_ != nullptr) {
    cgroups_->KillAll();
  }
}

Result<ExitInfo> SandboxProcess::Wait(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_.has_value()) {
      return *exit_;
    }
  }
  // Poll without the lock so Kill() from another thread is never blocked behind a Wait().
  pollfd pfd = {pidfd_.get(), POLLIN, 0};
  const int ms =
      static_cast<int>(std::min<int64_t>(std::max<int64_t>(timeout.count(), 0), INT_MAX));
  int rc;
  while ((rc = poll(&pfd, 1, ms)) < 0 && errno == EINTR) {
  }
  if (rc < 0) {
    return ErrnoStatus("poll(pidfd)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (rc > 0) {
    ReapLocked(/*block=*/false);
  }
  if (!exit_.has_value()) {
    return DeadlineExceeded("process " + std::to_string(pid_) + " still running after " +
                            std::to_string(timeout.count()) + " ms");
  }
  return *exit_;
}

void SandboxProcess::ReapLocked(bool block) {
  if (exit_.has_value()) {
    return;
  }
  siginfo_t info = {};
  const int flags = WEXITED | (block ? 0 : WNOHANG);
  while (waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, flags) !=
         0) {
    if (errno != EINTR) {
      return;  // ECHILD cannot happen for our own unreaped child
    }
  }
  if (info.si_pid == 0) {
    return;  // WNOHANG and still running
  }
  ExitInfo exit;
  exit.exited = info.si_code == CLD_EXITED;
  (exit.exited ? exit.exit_code : exit.signal) = info.si_status;
  // The init reports how the function ended; it has no report when it was killed itself
  // (Kill()), and then its own end is the answer.
  int32_t function_status = 0;
  if (in_pid_namespace_ && read(init_status_.get(), &function_status, sizeof(function_status)) ==
                               sizeof(function_status)) {
    exit.exited = WIFEXITED(function_status);
    exit.exit_code = exit.exited ? WEXITSTATUS(function_status) : 0;
    exit.signal = exit.exited ? 0 : WTERMSIG(function_status);
  }
  exit.oom_killed = cgroups_ != nullptr && cgroups_->OomKilled();
  exit_ = exit;
}

}  // namespace sluice::sandbox
