#include "sandbox/seccomp_policy.h"

#include <fcntl.h>
#include <linux/prctl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace sluice::sandbox {
namespace {

static_assert(PR_GET_NAME == PR_SET_NAME + 1, "the prctl rules below rely on this");

constexpr uint32_t kAllow = SCMP_ACT_ALLOW;

// One row of the policy: `action` applies when every comparison in `args` holds.
struct Rule {
  const char* syscall;
  uint32_t action;
  std::vector<scmp_arg_cmp> args;
  const char* needed_by;
};

// Namespace flags a thread-creating clone() must not carry.
constexpr uint64_t kCloneNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS |
                                          CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
                                          CLONE_NEWNET;

// THE POLICY. Syscalls not listed here kill the process (SIGSYS). Rules for one syscall are
// disjoint (their argument conditions never overlap), so their order does not matter.
//
// Measured (strace -f, tests/sandbox/grpc_probe_main.cc inside the sandbox: loader, start-up,
// 8 threads x 250 bidi messages + unary calls, a server error, a deadline, shutdown): access
// arch_prctl brk clock_nanosleep clone clone3 close connect epoll_create1 epoll_ctl epoll_wait
// eventfd2 execveat exit exit_group fcntl futex getrandom getsockname madvise mmap mprotect
// munmap newfstatat openat prctl(PR_SET_NAME) pread64 prlimit64(read-only) read recvmsg rseq
// rt_sigaction rt_sigprocmask sched_getparam sched_getscheduler sched_yield sendmsg
// set_robust_list set_tid_address setsockopt shutdown socket(AF_UNIX) uname write. The other
// entries are from the reference gRPC measurements (server side, epoll_pwait, getsockopt, ...),
// ordinary file I/O in scratch, harmless identity queries, and signals to itself.
std::vector<Rule> PolicyTable(const SeccompParams& p) {
  const auto self = static_cast<uint32_t>(p.self_pid);
  const auto exec_fd = static_cast<uint32_t>(p.exec_fd);
  return {
      // --- exec: only the launcher's own execveat of the handler fd ------------------------------
      {"execveat",
       kAllow,
       {SCMP_A0_32(SCMP_CMP_EQ, exec_fd), SCMP_A4_32(SCMP_CMP_EQ, AT_EMPTY_PATH)},
       "launcher: execveat(handler_fd, \"\", argv, envp, AT_EMPTY_PATH); no other fd can reach "
       "this number (it is >= RLIMIT_NOFILE) and the fd is O_CLOEXEC"},
      {"execveat",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_NE, exec_fd)},
       "function: exec of anything else fails cleanly"},
      {"execveat",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_EQ, exec_fd), SCMP_A4_32(SCMP_CMP_NE, AT_EMPTY_PATH)},
       "function: exec of anything else fails cleanly"},
      {"execve", SCMP_ACT_ERRNO(EPERM), {}, "function: exec fails cleanly (system(), popen())"},

      // --- dynamic loader and glibc start-up --------------------------------------------------
      {"brk", kAllow, {}, "loader, malloc"},
      {"arch_prctl", kAllow, {}, "loader: ARCH_SET_FS for TLS; glibc probes CET status"},
      {"set_tid_address", kAllow, {}, "glibc start-up"},
      {"set_robust_list", kAllow, {}, "glibc start-up and every new thread"},
      {"rseq", kAllow, {}, "glibc 2.35+: registers rseq for every thread"},
      {"prlimit64",
       kAllow,
       {SCMP_A2_64(SCMP_CMP_EQ, 0)},
       "glibc start-up reads RLIMIT_STACK; read-only (new_limit == NULL), so limits stay fixed"},
      {"access", kAllow, {}, "loader: access(\"/etc/ld.so.preload\")"},
      {"openat",
       kAllow,
       {},
       "loader opens libraries; glibc reads /sys/devices/system/cpu/online for malloc arenas; "
       "gRPC reads tsc_freq_khz; the function writes in scratch. Confinement for writes comes "
       "from the read-only mount view and the unprivileged uid"},
      {"read", kAllow, {}, "everyone"},
      {"pread64", kAllow, {}, "loader reads ELF headers"},
      {"readv", kAllow, {}, "glibc stdio"},
      {"write", kAllow, {}, "everyone (stdout/stderr logging, eventfd wakeups)"},
      {"pwrite64", kAllow, {}, "function: file I/O in scratch"},
      {"writev", kAllow, {}, "glibc stdio, gRPC"},
      {"lseek", kAllow, {}, "glibc stdio"},
      {"close", kAllow, {}, "everyone"},
      {"fstat", kAllow, {}, "glibc stdio"},
      {"newfstatat", kAllow, {}, "loader, glibc stdio (first write to stdout)"},
      {"getdents64", kAllow, {}, "function: listing its own files and scratch"},
      {"getcwd", kAllow, {}, "glibc getcwd()"},
      {"mkdirat", kAllow, {}, "function: directories in scratch"},
      {"unlinkat", kAllow, {}, "function: removing files in scratch"},
      {"renameat2", kAllow, {}, "function: atomic replace in scratch"},
      {"ftruncate", kAllow, {}, "function: file I/O in scratch"},
      {"fsync", kAllow, {}, "function: file I/O in scratch"},
      {"fdatasync", kAllow, {}, "function: file I/O in scratch"},
      // fcntl by command. F_DUPFD(_CLOEXEC) cannot reach the exec fd (capped by RLIMIT_NOFILE).
      // Commands that make the kernel signal someone (F_SETOWN + F_SETSIG + O_ASYNC deliver a
      // chosen signal to a chosen pid of the same uid on every write) fail with EPERM.
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_GETFD)}, "gRPC, glibc"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_SETFD)}, "gRPC sets FD_CLOEXEC"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_GETFL)}, "gRPC, glibc"},
      {"fcntl",
       kAllow,
       {SCMP_A1_32(SCMP_CMP_EQ, F_SETFL), SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ASYNC, 0)},
       "gRPC sets O_NONBLOCK"},
      {"fcntl",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A1_32(SCMP_CMP_EQ, F_SETFL), SCMP_A2_32(SCMP_CMP_MASKED_EQ, O_ASYNC, O_ASYNC)},
       "function: O_ASYNC (signal-driven I/O) fails cleanly"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_DUPFD)}, "function: dup to a low number"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_DUPFD_CLOEXEC)}, "glibc, libstdc++"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_GETLK)}, "function: record locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_SETLK)}, "function: record locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_SETLKW)}, "function: record locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_OFD_GETLK)}, "function: OFD locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_OFD_SETLK)}, "function: OFD locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_OFD_SETLKW)}, "function: OFD locks in scratch"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_GETPIPE_SZ)}, "function: pipe size"},
      {"fcntl", kAllow, {SCMP_A1_32(SCMP_CMP_EQ, F_SETPIPE_SZ)}, "function: pipe size"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_SETOWN)}, "no signal routing"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_SETOWN_EX)}, "no signal routing"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_SETSIG)}, "no signal routing"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_GETOWN)}, "no pid oracle"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_GETOWN_EX)}, "no pid oracle"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_SETLEASE)}, "leases signal"},
      {"fcntl", SCMP_ACT_ERRNO(EPERM), {SCMP_A1_32(SCMP_CMP_EQ, F_NOTIFY)}, "dnotify signals"},
      {"dup", kAllow, {}, "function: dup()"},
      {"dup2", kAllow, {}, "function: dup2(); newfd < RLIMIT_NOFILE, so never the exec fd"},
      {"dup3", kAllow, {}, "function: dup3(); newfd < RLIMIT_NOFILE, so never the exec fd"},
      {"pipe2", kAllow, {}, "function: pipes between its threads"},
      {"getppid", kAllow, {}, "glibc getppid() (0 or the init: nothing to learn)"},
      {"mkdir", kAllow, {}, "glibc mkdir() (scratch)"},
      {"rmdir", kAllow, {}, "glibc rmdir() (scratch)"},
      {"unlink", kAllow, {}, "glibc unlink() (scratch)"},
      {"rename", kAllow, {}, "glibc rename() (scratch)"},
      {"readlink", kAllow, {}, "static binaries read /proc/self/exe at start-up"},
      {"readlinkat", kAllow, {}, "glibc realpath()"},
      {"statx", kAllow, {}, "libstdc++ std::filesystem"},
      {"faccessat2", kAllow, {}, "glibc access()/faccessat()"},
      {"timerfd_create", kAllow, {}, "function: timers (event loops)"},
      {"timerfd_settime", kAllow, {}, "function: timers (event loops)"},
      {"timerfd_gettime", kAllow, {}, "function: timers (event loops)"},
      {"ioctl",
       SCMP_ACT_ERRNO(ENOTTY),
       {},
       "glibc stdio isatty() probe (TCGETS); nothing needs it"},
      {"uname", kAllow, {}, "gRPC, glibc"},
      {"getpid", kAllow, {}, "glibc, gRPC"},
      {"gettid", kAllow, {}, "glibc, gRPC logging"},
      {"getuid", kAllow, {}, "glibc"},
      {"geteuid", kAllow, {}, "glibc"},
      {"getgid", kAllow, {}, "glibc"},
      {"getegid", kAllow, {}, "glibc"},
      {"getrandom", kAllow, {}, "glibc malloc/hash seeds, gRPC, libstdc++ random_device"},

      // --- memory --------------------------------------------------------------------------------
      {"mmap", kAllow, {}, "loader maps libraries (PROT_EXEC); malloc; thread stacks"},
      {"munmap", kAllow, {}, "malloc, thread exit"},
      {"mprotect", kAllow, {}, "loader (RELRO), thread stack guard pages"},
      {"madvise", kAllow, {}, "glibc: MADV_DONTNEED on thread exit"},
      {"mremap", kAllow, {}, "malloc realloc of large blocks"},

      // --- threads and synchronisation -----------------------------------------------------------
      {"clone",
       kAllow,
       {SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD | kCloneNamespaceFlags, CLONE_THREAD)},
       "pthread_create (gRPC executor, timer and poller threads); no namespace flags"},
      {"clone",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)},
       "fork()/posix_spawn() fail cleanly instead of killing the function"},
      {"fork", SCMP_ACT_ERRNO(EPERM), {}, "raw fork(2) fails cleanly, as clone() does"},
      {"vfork", SCMP_ACT_ERRNO(EPERM), {}, "vfork() fails cleanly, as clone() does"},
      {"clone3",
       SCMP_ACT_ERRNO(ENOSYS),
       {},
       "glibc 2.34+ tries clone3 first; its flags sit behind a pointer BPF cannot read, so ENOSYS "
       "makes glibc fall back to clone(), which is pinned above"},
      {"futex", kAllow, {}, "mutexes, condition variables, pthread_join (several ops)"},
      {"exit", kAllow, {}, "thread exit"},
      {"exit_group", kAllow, {}, "process exit"},
      {"sched_yield", kAllow, {}, "gRPC spin loops"},
      {"sched_getaffinity", kAllow, {}, "glibc get_nprocs(), gRPC core count"},
      {"sched_getparam", kAllow, {}, "glibc pthread attributes under load"},
      {"sched_getscheduler", kAllow, {}, "glibc pthread attributes under load"},
      {"prctl", kAllow, {SCMP_A0_32(SCMP_CMP_EQ, PR_SET_NAME)}, "gRPC names its threads"},
      {"prctl", kAllow, {SCMP_A0_32(SCMP_CMP_EQ, PR_GET_NAME)}, "thread names"},
      // (PR_SET_NAME is 15, PR_GET_NAME 16; libseccomp allows one comparison per argument.)
      {"prctl",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_LT, PR_SET_NAME)},
       "function: other prctl options fail cleanly"},
      {"prctl",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_GT, PR_GET_NAME)},
       "function: other prctl options fail cleanly"},

      // --- time ----------------------------------------------------------------------------------
      {"clock_gettime", kAllow, {}, "vDSO fallback"},
      {"gettimeofday", kAllow, {}, "vDSO fallback"},
      {"clock_nanosleep", kAllow, {}, "gRPC backoff, sleep()"},
      {"nanosleep", kAllow, {}, "usleep()"},

      // --- signals: only to itself ---------------------------------------------------------------
      {"rt_sigaction", kAllow, {}, "glibc, gRPC (SIGPIPE ignored)"},
      {"rt_sigprocmask", kAllow, {}, "glibc thread creation"},
      {"rt_sigreturn", kAllow, {}, "signal handler return"},
      {"sigaltstack", kAllow, {}, "signal handlers on an alternate stack"},
      {"restart_syscall", kAllow, {}, "kernel restarts interrupted sleeps"},
      {"pause", kAllow, {}, "function: pause() waiting for a signal"},
      {"rt_sigsuspend", kAllow, {}, "function: sigsuspend()"},
      {"tgkill", kAllow, {SCMP_A0_32(SCMP_CMP_EQ, self)}, "raise(), abort(), pthread_kill()"},
      {"tgkill",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_NE, self)},
       "function: signalling anything outside itself fails cleanly"},
      {"tkill", SCMP_ACT_ERRNO(EPERM), {}, "obsolete tkill(): tgkill() is the way to signal"},
      {"kill", kAllow, {SCMP_A0_32(SCMP_CMP_EQ, self)}, "kill(getpid(), sig)"},
      {"kill",
       SCMP_ACT_ERRNO(EPERM),
       {SCMP_A0_32(SCMP_CMP_NE, self)},
       "function: kill(-1), kill(0) and kill(other) fail cleanly"},

      // --- gRPC over the runtime Unix socket -----------------------------------------------------
      {"socket", kAllow, {SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX)}, "gRPC: unix: channel to the host"},
      {"socket",
       SCMP_ACT_ERRNO(EAFNOSUPPORT),
       {SCMP_A0_32(SCMP_CMP_NE, AF_UNIX)},
       "gRPC probes AF_INET/AF_INET6 at start-up; must fail, not kill"},
      {"connect", kAllow, {}, "gRPC: connect to the runtime socket"},
      {"recvmsg", kAllow, {}, "gRPC reads"},
      {"sendmsg", kAllow, {}, "gRPC writes"},
      {"setsockopt", kAllow, {}, "gRPC socket options"},
      {"getsockopt", kAllow, {}, "gRPC SO_ERROR after connect"},
      {"getsockname", kAllow, {}, "gRPC"},
      {"getpeername", kAllow, {}, "gRPC"},
      {"shutdown", kAllow, {}, "gRPC closing a transport"},
      {"epoll_create1", kAllow, {}, "gRPC epoll1 poller"},
      {"epoll_ctl", kAllow, {}, "gRPC epoll1 poller"},
      {"epoll_wait", kAllow, {}, "gRPC epoll1 poller"},
      {"epoll_pwait", kAllow, {}, "gRPC epoll1 poller"},
      {"eventfd2", kAllow, {}, "gRPC wakeup fds"},
  };
}

}  // namespace

Result<std::string> CompileSeccompPolicy(const SeccompParams& params) {
  // libseccomp's context is released on every path.
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_KILL_PROCESS),
                                                       seccomp_release);
  if (ctx == nullptr) {
    return Internal("seccomp_init failed");
  }
  // A system call through another ABI (x32, int 0x80) kills the process too, not only the
  // thread (libseccomp's default for a foreign architecture is KILL_THREAD).
  if (seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) != 0) {
    return Internal("seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)");
  }
  for (const Rule& rule : PolicyTable(params)) {
    const int nr = seccomp_syscall_resolve_name(rule.syscall);
    if (nr == __NR_SCMP_ERROR) {
      return Internal(std::string("seccomp: unknown syscall ") + rule.syscall);
    }
    const int rc = seccomp_rule_add_array(
        ctx.get(), rule.action, nr, static_cast<unsigned>(rule.args.size()), rule.args.data());
    if (rc < 0) {
      return Internal(std::string("seccomp_rule_add(") + rule.syscall + "): " + strerror(-rc));
    }
  }
  // memfd: seccomp_export_bpf (libseccomp 2.5) only writes to an fd.
  const int fd = memfd_create("sluice-seccomp", MFD_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("memfd_create");
  }
  std::string program;
  int rc = seccomp_export_bpf(ctx.get(), fd);
  const off_t size = lseek(fd, 0, SEEK_END);
  if (rc == 0 && size > 0) {
    program.resize(static_cast<size_t>(size));
    if (pread(fd, program.data(), program.size(), 0) != size) {
      rc = -EIO;
    }
  }
  close(fd);
  if (rc < 0 || size <= 0) {
    return Internal(std::string("seccomp_export_bpf: ") + strerror(rc < 0 ? -rc : EIO));
  }
  return program;
}

std::vector<std::string> SeccompPolicySyscalls() {
  std::vector<std::string> names;
  for (const Rule& rule : PolicyTable(SeccompParams{})) {
    names.emplace_back(rule.syscall);
  }
  return names;
}

}  // namespace sluice::sandbox
