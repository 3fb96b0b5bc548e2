// The seccomp allowlist every function instance runs under.
//
// The policy is one commented table in seccomp_policy.cc (Firecracker style): every entry names
// the syscall, its action, any argument pins, and who needs it. It was measured with strace -f
// against a gRPC 1.51 C++ client (tests/sandbox/grpc_probe_main.cc) across start-up, steady load,
// error and shutdown paths, and it is installed before exec (so it also covers the dynamic
// loader and every thread the function creates). Unlisted syscalls kill the whole process with
// SIGSYS (SCMP_ACT_KILL_PROCESS); known-harmless probes get an errno instead.
//
// Re-measure when glibc, gRPC or the kernel is upgraded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace sluice::sandbox {

// What the policy pins arguments to; known only once the child exists.
struct SeccompParams {
  // The function's pid as it sees itself (1 in a pid namespace): the only target of kill/tgkill.
  pid_t self_pid = 0;
  // The only fd execveat() may use (with AT_EMPTY_PATH): the launcher's handler fd, numbered at
  // or above RLIMIT_NOFILE so the function can never hold that number again.
  int exec_fd = -1;
};

// Compiles the policy to a classic BPF program (struct sock_filter array) and returns its bytes.
// Thread-safe.
Result<std::string> CompileSeccompPolicy(const SeccompParams& params);

// Every syscall name the policy mentions (for tests that check each resolves on this kernel).
std::vector<std::string> SeccompPolicySyscalls();

}  // namespace sluice::sandbox
