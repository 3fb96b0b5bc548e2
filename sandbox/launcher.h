// Launching function instances as sandboxed child processes.
//
// A ProcessLauncher starts one function instance from a SandboxSpec and returns a Process handle.
// SandboxLauncher is the real one: it probes once, at creation, which confinement layers this
// kernel allows, and applies every available layer to every launch. Layers that always apply:
// seccomp allowlist (sandbox/seccomp_policy.h), no_new_privs, no capabilities and no root, a new
// session, a parent-death signal, every inherited fd closed, a clean environment, a private
// scratch directory, rlimits. Layers where the kernel allows: pid, mount, network, ipc and uts
// namespaces (inside a user namespace when the host is not root), cgroup memory and pids limits. A
// layer that was probed as available and then fails during a launch fails that launch (fail
// closed); it is never dropped silently. With the pid namespace, the function runs as pid 2 under a
// minimal init (pid 1) that reaps and reports the function's exit, since a namespace's pid 1 cannot
// signal itself (raise(), abort()).
//
// Thread-safety: a ProcessLauncher may be used from many threads at once. A Process is
// thread-safe: Kill() may race with Wait() from another thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::sandbox {

// Where the function finds things when the mount layer is on (its whole filesystem view).
inline constexpr char kTaskDirInside[] = "/var/task";  // the function's files, read-only
inline constexpr char kScratchDirInside[] = "/tmp";    // private, writable, size-capped
inline constexpr char kRuntimeSocketInside[] = "/run/sluice/runtime.sock";

// What one function instance runs and what it may touch. All paths are host paths.
struct SandboxSpec {
  // Names the instance's cgroups and scratch directory: 1-64 of [A-Za-z0-9_-].
  std::string instance_id;
  // The function's files (binary, read-only data). Mounted read-only at kTaskDirInside.
  std::string code_dir;
  // The binary to run, relative to code_dir (e.g. "bin/handler").
  std::string handler;
  // The complete environment, "NAME=value". Nothing of the host's environment is inherited.
  std::vector<std::string> env;
  // The host's runtime socket, bound into the sandbox at kRuntimeSocketInside. The function's
  // uid must be allowed to connect to it (e.g. mode 0666); without the mount layer, also to
  // search every directory on its path.
  std::string runtime_socket;
  // A host directory the launcher may use for this instance's scratch space when the mount
  // layer is off (with the mount layer on, scratch is a tmpfs private to the instance).
  // Created if missing; the caller removes it after the Process is gone.
  std::string scratch_dir;
  // Memory limit (cgroup memory; 0 = none). Default: 128 MiB, Lambda's default MemorySize.
  uint64_t memory_limit_bytes = 128ull << 20;
  // Scratch space: tmpfs size and RLIMIT_FSIZE. Default: 512 MiB, Lambda's default /tmp.
  uint64_t scratch_limit_bytes = 512ull << 20;
  // Processes and threads (cgroup pids.max, RLIMIT_NPROC). Default: 1024, as Lambda.
  // RLIMIT_NPROC is set only when the pids cgroup is unavailable: it counts every process of the
  // uid, so all instances (which share SandboxOptions::uid) would share one budget.
  uint32_t max_processes = 1024;
  // RLIMIT_NOFILE. Default: 1024, as Lambda.
  uint32_t max_open_files = 1024;
  // Where the function's stdout and stderr go: write ends of pipes owned by the caller (the
  // launcher dup()s them; the caller still closes its own copies). -1 means /dev/null.
  // stdin is always /dev/null.
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// How a process ended.
struct ExitInfo {
  bool exited = false;  // true: exit_code is set; false: killed by `signal`
  int exit_code = 0;
  int signal = 0;
  bool oom_killed = false;  // the memory cgroup's OOM killer fired for this instance

  // "exit status 3", "signal 9 (Killed)", "signal 31 (Bad system call): blocked system call",
  // "out of memory".
  std::string Describe() const;
};

// A running (or finished) sandboxed process and everything it owns (cgroups, namespaces).
class Process {
 public:
  virtual ~Process() = default;  // implementations Kill() and reap, and remove their cgroups

  // The process's pid on the host: the function's, or its init's with a pid namespace.
  virtual pid_t pid() const = 0;

  // SIGKILLs the whole process tree: the pid namespace's init, which takes the namespace with it,
  // or the cgroup and process group when those layers are off. Idempotent.
  virtual void Kill() = 0;

  // Waits up to `timeout` for the process to end and returns how it ended; DEADLINE_EXCEEDED if
  // it is still running. After the first successful Wait, later calls return the same ExitInfo.
  virtual Result<ExitInfo> Wait(std::chrono::milliseconds timeout) = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Starts the instance. Returns INVALID_ARGUMENT for a bad spec, and INTERNAL (with the step
  // that failed) when a layer could not be applied; the child never runs unconfined.
  virtual Result<std::unique_ptr<Process>> Launch(const SandboxSpec& spec) = 0;

  // True when the function sees the fixed paths above (the mount layer is on); false when it
  // sees host paths.
  virtual bool FunctionSeesFixedPaths() const = 0;
};

// One confinement layer and whether it is on.
struct Layer {
  std::string name;  // "seccomp", "pid-namespace", "cgroup-memory", ...
  bool on = false;
  std::string detail;  // what it does when on; why it is off when off
};

// "sandbox layers on: seccomp ...", then one "  off: NAME (why)" line per layer that is off: what
// the host and local-invoke log at start-up.
std::string LayerSummary(const std::vector<Layer>& layers);

struct SandboxOptions {
  // When true, Create() fails if the kernel does not allow every optional layer (for hosts known
  // to support them all; SLUICE_REQUIRE_SANDBOX=1 sets it). Layers in turned_off_layers do not
  // count as missing.
  bool require_all_layers = false;
  // Optional layers to leave off even where the kernel allows them, by name as in layers()
  // ("pid-namespace", "mount-namespace", "network-namespace", "ipc-namespace", "uts-namespace",
  // "cgroup-memory", "cgroup-pids"): for a host where a layer gets in the way, and for testing
  // the degraded paths. Always-on layers cannot be turned off. Default: none.
  std::set<std::string> turned_off_layers;
  // The unprivileged uid/gid functions run as when the host runs as root. Default: nobody.
  uint32_t uid = 65534;
  uint32_t gid = 65534;
  // Name of the parent cgroup created under each controller's root (e.g.
  // /sys/fs/cgroup/memory/<cgroup_parent>/<instance_id>).
  std::string cgroup_parent = "sluice";
};

class SandboxLauncher : public ProcessLauncher {
 public:
  // Probes the layers and returns a launcher that applies all available ones.
  static Result<std::unique_ptr<SandboxLauncher>> Create(const SandboxOptions& options);

  // Every layer, on or off, with its detail: the host logs these at start-up.
  virtual const std::vector<Layer>& layers() const = 0;
};

}  // namespace sluice::sandbox
