// The child side of a launch: everything between clone() and execveat().
//
// The parent prepares a ChildPlan (all strings, paths and numbers the child needs), clones, and
// the child runs the plan as a fixed checklist of steps (RunChild). Because the parent may be
// multi-threaded and the child is created with a raw clone(), the child must not allocate or
// take locks: steps only make system calls and read the plan. A failing step writes a
// ChildFailure to the report pipe and exits 127; DescribeChildFailure turns it into a message.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/mounts.h"
#include "sandbox/privileges.h"

namespace sluice::sandbox {

struct ChildPlan {
  // Pipes shared with the parent (O_CLOEXEC): the seccomp program arrives on filter_fd (a
  // uint32_t byte count, then the program); a failure leaves on report_fd.
  int filter_fd = -1;
  int report_fd = -1;
  // cgroup files to join by writing "0" (InstanceCgroups::join_fds); empty when the cgroup
  // layers are off.
  std::vector<int> cgroup_join_fds;
  // The parent's pid when the child is in the parent's pid namespace (for the getppid() check
  // after PR_SET_PDEATHSIG); 0 when the child is pid 1 of a new pid namespace.
  pid_t parent_pid = 0;
  // With a pid namespace, the child stays as a minimal init (pid 1) and the function runs as
  // pid 2: the kernel ignores signals that a pid 1 sends itself, so raise(), abort() and
  // pthread_kill() would not work in the function otherwise. The init reaps, and reports the
  // function's wait status (an int32_t) on status_fd when it ends, then exits.
  bool run_init = false;
  int status_fd = -1;

  bool mount_layer = false;
  MountPlan mounts;           // used when mount_layer
  bool set_hostname = false;  // uts namespace: hostname "sluice"

  std::string handler_path;  // as the child sees it after the mount steps
  std::string workdir;       // ditto
  int exec_fd = -1;          // the number the handler fd is moved to (>= max_open_files)

  int stdout_fd = -1;  // parent's fds; -1 = /dev/null
  int stderr_fd = -1;

  uint64_t max_open_files = 0;  // RLIMIT_NOFILE
  uint64_t max_processes = 0;   // RLIMIT_NPROC; 0: inherited (the pids cgroup limits instead)
  uint64_t max_file_size = 0;   // RLIMIT_FSIZE

  // A host that is not root gets its namespaces inside a new user namespace; the child maps the
  // host's uid/gid (outer_*) to uid/gid first thing.
  bool user_namespace = false;
  uid_t outer_uid = 0;
  gid_t outer_gid = 0;
  PrivilegeDrop privilege_drop = PrivilegeDrop::kNone;
  uid_t uid = 0;  // the function's uid and gid (as it sees them)
  gid_t gid = 0;

  std::vector<const char*> argv;  // null-terminated, pointing into argv_storage
  std::vector<const char*> envp;  // null-terminated, pointing into env_storage
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
};

// What the child reports when a step fails.
struct ChildFailure {
  int32_t step = 0;
  int32_t item = -1;  // for steps over a list (mounts): which entry, else -1
  int32_t err = 0;    // errno
};

// The function's pid inside a new pid namespace (the init is 1).
inline constexpr pid_t kFunctionPidInNamespace = 2;

// Runs the plan in the freshly cloned child; never returns (execs or exits 127).
[[noreturn]] void RunChild(const ChildPlan& plan);

// "child setup step 'attach bind mounts' (/var/task): Permission denied".
std::string DescribeChildFailure(const ChildPlan& plan, const ChildFailure& failure);

}  // namespace sluice::sandbox
