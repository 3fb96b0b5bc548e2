#include "sandbox/child.h"

#include <fcntl.h>
#include <poll.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sandbox/fds.h"
#include "sandbox/privileges.h"
#include "sandbox/probe.h"
#include "sandbox/rlimits.h"

namespace sluice::sandbox {
namespace {

// What the steps share inside the child (lives on the child's stack).
struct ChildState {
  int bind_fds[kMaxBindMounts];
  int item = -1;
};

int MapUserNamespaceStep(const ChildPlan& plan, ChildState&) {
  // Before anything creates files: a uid that is not mapped cannot own one (EOVERFLOW).
  return plan.user_namespace ? MapUserNamespace(plan.outer_uid, plan.outer_gid, plan.uid, plan.gid)
                             : 0;
}

int JoinCgroups(const ChildPlan& plan, ChildState&) {
  // "0" is the writing process itself, whatever pid namespace it is in.
  for (int fd : plan.cgroup_join_fds) {
    if (write(fd, "0", 1) != 1) {
      return errno;
    }
  }
  return 0;
}

int ResetSignals(const ChildPlan&, ChildState&) {
  // Ignored signals (the host may ignore SIGPIPE) and the mask survive exec; handlers do not.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    sigaction(sig, &dfl, nullptr);  // fails harmlessly for SIGKILL, SIGSTOP and glibc's own
  }
  sigset_t none;
  sigemptyset(&none);
  return sigprocmask(SIG_SETMASK, &none, nullptr) == 0 ? 0 : errno;
}

int NewSession(const ChildPlan&, ChildState&) {
  return setsid() < 0 ? errno : 0;
}

// Armed twice: early, and again after the uid change, because changing the effective uid or
// gid clears the parent-death signal (the kernel's commit_creds()).
int ParentDeathSignal(const ChildPlan& plan, ChildState&) {
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) {
    return errno;
  }
  // The parent may have died before the prctl. (In a new pid namespace getppid() is 0, or the
  // init; there the parent's death shows up as EOF on the seccomp pipe before the program
  // arrives, and the init watches for it itself.)
  if (plan.parent_pid != 0 && getppid() != plan.parent_pid) {
    return ESRCH;
  }
  return 0;
}

int MakeMountsPrivateStep(const ChildPlan& plan, ChildState&) {
  return plan.mount_layer ? MakeMountsPrivate(plan.mounts) : 0;
}

int CaptureBindSourcesStep(const ChildPlan& plan, ChildState& state) {
  return plan.mount_layer ? CaptureBindSources(plan.mounts, state.bind_fds, &state.item) : 0;
}

int BuildRootStep(const ChildPlan& plan, ChildState& state) {
  return plan.mount_layer ? BuildRoot(plan.mounts, &state.item) : 0;
}

int AttachBindMountsStep(const ChildPlan& plan, ChildState& state) {
  return plan.mount_layer ? AttachBindMounts(plan.mounts, state.bind_fds, &state.item) : 0;
}

int MountScratchStep(const ChildPlan& plan, ChildState&) {
  return plan.mount_layer ? MountScratch(plan.mounts) : 0;
}

int MountProcStep(const ChildPlan& plan, ChildState&) {
  return plan.mount_layer ? MountProc(plan.mounts) : 0;
}

int PivotRootStep(const ChildPlan& plan, ChildState&) {
  return plan.mount_layer ? PivotRoot(plan.mounts) : 0;
}

int RemountRootReadOnlyStep(const ChildPlan& plan, ChildState&) {
  return plan.mount_layer ? RemountRootReadOnly() : 0;
}

// The init's whole life: wait for the function, report how it ended, exit. Only system calls.
// The init is a copy of the host that never execs: its /proc/1/cmdline (readable by the
// function) would show the host's own command line. Overwrite the argument area in place with
// "sluice-init". Only system calls and stack buffers; best effort.
void ScrubCommandLine() {
  char stat[1024];
  const int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return;
  }
  const ssize_t n = read(fd, stat, sizeof(stat) - 1);
  close(fd);
  if (n <= 0) {
    return;
  }
  stat[n] = '\0';
  // Fields after the last ')' (the command name may hold spaces): state is field 3;
  // arg_start and arg_end are fields 48 and 49.
  const char* p = strrchr(stat, ')');
  if (p == nullptr) {
    return;
  }
  unsigned long values[2] = {0, 0};
  int field = 2;
  for (++p; *p != '\0' && field < 49; ++p) {
    if (*p != ' ') {
      continue;
    }
    ++field;
    if (field == 48 || field == 49) {
      values[field - 48] = strtoul(p + 1, nullptr, 10);
    }
  }
  char* start = reinterpret_cast<char*>(values[0]);
  char* end = reinterpret_cast<char*>(values[1]);
  static constexpr char kName[] = "sluice-init";
  if (start == nullptr || end <= start || static_cast<size_t>(end - start) < sizeof(kName)) {
    return;
  }
  memset(start, 0, static_cast<size_t>(end - start));
  memcpy(start, kName, sizeof(kName));
}

[[noreturn]] void RunInit(const ChildPlan& plan, pid_t function_pid) {
  const int keep[] = {plan.status_fd};
  CloseFdsExcept(keep, 1);  // the report and filter pipes must see EOF from the function alone
  close_range(0, 2, 0);     // and the host's stdio is none of its business
  DropPrivileges(plan.privilege_drop, plan.uid, plan.gid);
  SetNoNewPrivs();
  // The uid change cleared the parent-death signal: arm it again, then make sure the host did
  // not die in between (its end of the status pipe would be closed: POLLERR on ours).
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  pollfd host = {plan.status_fd, POLLOUT, 0};
  if (poll(&host, 1, 0) < 0 || (host.revents & (POLLERR | POLLHUP)) != 0) {
    _exit(0);  // the namespace, and the function with it, ends with the init
  }
  for (;;) {
    int status = 0;
    const pid_t pid = wait4(-1, &status, 0, nullptr);
    if (pid == function_pid) {
      const int32_t report = status;
      [[maybe_unused]] ssize_t n = write(plan.status_fd, &report, sizeof(report));
      _exit(0);
    }
    if (pid < 0 && errno != EINTR) {
      _exit(0);
    }
  }
}

int StartInit(const ChildPlan& plan, ChildState&) {
  if (!plan.run_init) {
    return 0;
  }
  // Not dumpable from before the function exists: it can never ptrace the init or open its
  // /proc/1/mem, not even in the first instants. (The function's own dumpable flag is reset by
  // its execve.)
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return errno;
  }
  // Before the function exists, so it never sees the host's command line or name.
  ScrubCommandLine();
  prctl(PR_SET_NAME, "sluice-init", 0, 0, 0);
  const long pid = syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr);
  if (pid < 0) {
    return errno;
  }
  if (pid != 0) {
    RunInit(plan, static_cast<pid_t>(pid));
  }
  return 0;  // the function (pid 2) goes on with the checklist
}

int SetHostname(const ChildPlan& plan, ChildState&) {
  static constexpr char kHostname[] = "sluice";
  return !plan.set_hostname || sethostname(kHostname, sizeof(kHostname) - 1) == 0 ? 0 : errno;
}

int OpenHandler(const ChildPlan& plan, ChildState&) {
  // The handler fd goes to a number >= the function's RLIMIT_NOFILE: the only fd the seccomp
  // policy lets execveat() use, and one the function can never obtain itself.
  if (int err = AllowFdNumber(plan.exec_fd); err != 0) {
    return err;
  }
  const int fd = open(plan.handler_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  const int moved = dup3(fd, plan.exec_fd, O_CLOEXEC);
  const int err = moved < 0 ? errno : 0;
  close(fd);
  return err;
}

int WireStdioStep(const ChildPlan& plan, ChildState&) {
  return WireStdio(plan.stdout_fd, plan.stderr_fd);
}

int CloseFds(const ChildPlan& plan, ChildState&) {
  const int keep[] = {plan.exec_fd, plan.report_fd, plan.filter_fd};
  return CloseFdsExcept(keep, 3);
}

int Rlimits(const ChildPlan& plan, ChildState&) {
  return ApplyRlimits(plan.max_open_files, plan.max_processes, plan.max_file_size);
}

int DropPrivilegesStep(const ChildPlan& plan, ChildState&) {
  return DropPrivileges(plan.privilege_drop, plan.uid, plan.gid);
}

int NoNewPrivs(const ChildPlan&, ChildState&) {
  return SetNoNewPrivs();
}

int Chdir(const ChildPlan& plan, ChildState&) {
  return chdir(plan.workdir.c_str()) == 0 ? 0 : errno;
}

// Reads exactly `size` bytes; EPIPE when the parent closed the pipe early (it died or failed).
int ReadFully(int fd, void* buf, size_t size) {
  auto* p = static_cast<char*>(buf);
  while (size > 0) {
    const ssize_t n = read(fd, p, size);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return n < 0 ? errno : EPIPE;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

int InstallSeccomp(const ChildPlan& plan, ChildState&) {
  // BPF_MAXINSNS instructions at most; the program is copied by the kernel on install.
  sock_filter program[BPF_MAXINSNS];
  uint32_t size = 0;
  if (int err = ReadFully(plan.filter_fd, &size, sizeof(size)); err != 0) {
    return err;
  }
  if (size == 0 || size > sizeof(program) || size % sizeof(sock_filter) != 0) {
    return EINVAL;
  }
  if (int err = ReadFully(plan.filter_fd, program, size); err != 0) {
    return err;
  }
  close(plan.filter_fd);
  sock_fprog prog = {static_cast<unsigned short>(size / sizeof(sock_filter)), program};
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : errno;
}

int Exec(const ChildPlan& plan, ChildState&) {
  syscall(SYS_execveat, plan.exec_fd, "", const_cast<char* const*>(plan.argv.data()),
          const_cast<char* const*>(plan.envp.data()), AT_EMPTY_PATH);
  return errno;
}

using StepFn = int (*)(const ChildPlan&, ChildState&);
// What ChildFailure::item indexes for a step's messages.
enum class Items { kNone, kDirs, kBinds };
struct Step {
  const char* name;
  StepFn run;
  Items items = Items::kNone;
};

// THE CHECKLIST, in order (nsjail's containProc). Layer steps do nothing when the layer is off.
constexpr Step kSteps[] = {
    {"map the user namespace", MapUserNamespaceStep},
    {"join cgroups", JoinCgroups},
    {"reset signal dispositions and mask", ResetSignals},
    {"setsid", NewSession},
    {"parent-death signal", ParentDeathSignal},
    {"make mounts private", MakeMountsPrivateStep},
    {"clone bind-mount source", CaptureBindSourcesStep, Items::kBinds},
    {"build root tmpfs", BuildRootStep, Items::kDirs},
    {"attach bind mount", AttachBindMountsStep, Items::kBinds},
    {"mount scratch tmpfs", MountScratchStep},
    {"mount /proc", MountProcStep},
    {"pivot_root", PivotRootStep},
    {"remount root read-only", RemountRootReadOnlyStep},
    {"sethostname", SetHostname},
    {"start init", StartInit},
    {"open handler", OpenHandler},
    {"wire stdin/stdout/stderr", WireStdioStep},
    {"close inherited fds", CloseFds},
    {"set rlimits", Rlimits},
    {"drop uid, gid and capabilities", DropPrivilegesStep},
    {"parent-death signal, again after the uid change", ParentDeathSignal},
    {"set no_new_privs", NoNewPrivs},
    {"chdir to working directory", Chdir},
    {"install seccomp filter", InstallSeccomp},
    {"execveat handler", Exec},
};
constexpr int kNumSteps = sizeof(kSteps) / sizeof(kSteps[0]);

}  // namespace

void RunChild(const ChildPlan& plan) {
  ChildState state;
  for (int i = 0; i < kNumSteps; ++i) {
    state.item = -1;
    if (int err = kSteps[i].run(plan, state); err != 0) {
      const ChildFailure failure = {i, state.item, err};
      // Best effort: if the parent is gone there is nobody to tell.
      [[maybe_unused]] ssize_t n = write(plan.report_fd, &failure, sizeof(failure));
      _exit(127);
    }
  }
  _exit(127);  // unreachable: the last step execs or fails
}

std::string DescribeChildFailure(const ChildPlan& plan, const ChildFailure& failure) {
  if (failure.step < 0 || failure.step >= kNumSteps) {
    return "child setup: malformed failure report";
  }
  const Step& step = kSteps[failure.step];
  std::string message = std::string("child setup step '") + step.name + "'";
  const auto item = static_cast<size_t>(failure.item);
  if (failure.item >= 0 && step.items == Items::kDirs && item < plan.mounts.dirs.size()) {
    message += " (" + plan.mounts.dirs[item] + ")";
  } else if (failure.item >= 0 && step.items == Items::kBinds && item < plan.mounts.binds.size()) {
    const BindMount& bind = plan.mounts.binds[item];
    message += " (" + bind.source + " -> " + bind.target + ")";
  }
  return message + ": " + strerror(failure.err);
}

}  // namespace sluice::sandbox
