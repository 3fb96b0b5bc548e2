#include "sandbox/probe.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "sandbox/files.h"

namespace sluice::sandbox {
namespace {

struct Probe {
  const char* layer;
  int flag;
  const char* call;
  const char* on_detail;
};

constexpr Probe kProbes[] = {
    {"pid-namespace", CLONE_NEWPID, "unshare(CLONE_NEWPID)",
     "the function is pid 2 of its own pid namespace, under a minimal init; killing the init "
     "kills everything inside"},
    {"mount-namespace", CLONE_NEWNS, "unshare(CLONE_NEWNS)",
     "read-only tmpfs root with /usr/lib, code at /var/task, tmpfs /tmp, runtime socket"},
    {"network-namespace", CLONE_NEWNET, "unshare(CLONE_NEWNET)",
     "no network but a down loopback; the runtime socket is a bind-mounted Unix socket"},
    {"ipc-namespace", CLONE_NEWIPC, "unshare(CLONE_NEWIPC)", "private System V IPC and mqueues"},
    {"uts-namespace", CLONE_NEWUTS, "unshare(CLONE_NEWUTS)", "hostname \"sluice\""},
};
constexpr int kNumProbes = sizeof(kProbes) / sizeof(kProbes[0]);
constexpr int kMountProbe = 1;  // kProbes[kMountProbe] is CLONE_NEWNS
static_assert(kProbes[kMountProbe].flag == CLONE_NEWNS);

struct ProbeResult {
  int err;
  int64_t micros;
};

// In the probe child: the mount layer also needs private propagation and the new mount API.
int MountCanary() {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return errno;
  }
  const int fd = open_tree(AT_FDCWD, "/usr/lib", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  close(fd);
  return 0;
}

// Writes `text` to a /proc file; 0 or an errno.
int WriteProcFile(const char* path, const char* text, size_t size) {
  const int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  const int err = write(fd, text, size) == static_cast<ssize_t>(size) ? 0 : errno;
  close(fd);
  return err;
}

// "<inside> <outside> 1\n" into buf (no allocation); returns the length.
size_t FormatMap(char* buf, size_t size, unsigned inside, unsigned outside) {
  char digits[2][16];
  size_t lengths[2] = {0, 0};
  const unsigned values[2] = {inside, outside};
  for (int k = 0; k < 2; ++k) {
    unsigned v = values[k];
    char tmp[16];
    size_t n = 0;
    do {
      tmp[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    for (size_t d = 0; d < n; ++d) {
      digits[k][d] = tmp[n - 1 - d];
    }
    lengths[k] = n;
  }
  size_t len = 0;
  for (int k = 0; k < 2; ++k) {
    for (size_t d = 0; d < lengths[k] && len < size; ++d) {
      buf[len++] = digits[k][d];
    }
    if (len < size) {
      buf[len++] = ' ';
    }
  }
  if (len + 2 <= size) {
    buf[len++] = '1';
    buf[len++] = '\n';
  }
  return len;
}

}  // namespace

int MapUserNamespace(uid_t outer_uid, gid_t outer_gid, uid_t inside_uid, gid_t inside_gid) {
  char line[64];
  // Kernels before 3.19 have no setgroups file (and need no "deny" to write a gid map).
  if (int err = WriteProcFile("/proc/self/setgroups", "deny", 4); err != 0 && err != ENOENT) {
    return err;
  }
  if (int err = WriteProcFile("/proc/self/uid_map", line,
                              FormatMap(line, sizeof line, inside_uid, outer_uid));
      err != 0) {
    return err;
  }
  return WriteProcFile("/proc/self/gid_map", line,
                       FormatMap(line, sizeof line, inside_gid, outer_gid));
}

NamespaceSupport ProbeNamespaces(uid_t inside_uid, gid_t inside_gid, std::vector<Layer>* layers) {
  const bool use_user_namespace = geteuid() != 0;
  const uid_t outer_uid = geteuid();
  const gid_t outer_gid = getegid();
  ProbeResult results[kNumProbes + 1] = {};  // the last one is the mount canary
  ProbeResult user_result = {};
  int fds[2];
  bool probed = pipe2(fds, O_CLOEXEC) == 0;
  const int probe_errno = errno;
  if (probed) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (use_user_namespace) {
        user_result.err = unshare(CLONE_NEWUSER) == 0
                              ? MapUserNamespace(outer_uid, outer_gid, inside_uid, inside_gid)
                              : errno;
      }
      for (int i = 0; i < kNumProbes; ++i) {
        const auto start = std::chrono::steady_clock::now();
        results[i].err = unshare(kProbes[i].flag) == 0 ? 0 : errno;
        results[i].micros = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
      }
      results[kNumProbes].err = results[kMountProbe].err == 0 ? MountCanary() : 0;
      _exit(write(fds[1], results, sizeof(results)) == sizeof(results) &&
                    write(fds[1], &user_result, sizeof(user_result)) == sizeof(user_result)
                ? 0
                : 1);
    }
    close(fds[1]);
    probed = pid > 0 && read(fds[0], results, sizeof(results)) == sizeof(results) &&
             read(fds[0], &user_result, sizeof(user_result)) == sizeof(user_result);
    close(fds[0]);
    if (pid > 0) {
      waitpid(pid, nullptr, 0);
    }
  }
  NamespaceSupport support;
  if (use_user_namespace) {
    Layer layer{"user-namespace", false, ""};
    if (!probed) {
      layer.detail = std::string("probe child failed: ") + strerror(probe_errno);
    } else if (user_result.err != 0) {
      layer.detail =
          std::string("unshare(CLONE_NEWUSER) and uid/gid maps: ") + strerror(user_result.err);
    } else {
      layer.on = true;
      layer.detail = "host is not root: the namespaces are made in a user namespace mapping uid " +
                     std::to_string(outer_uid) + " to " + std::to_string(inside_uid);
    }
    support.user = layer.on;
    layers->push_back(std::move(layer));
  }
  bool* on[kNumProbes] = {&support.pid, &support.mount, &support.net, &support.ipc, &support.uts};
  for (int i = 0; i < kNumProbes; ++i) {
    Layer layer{kProbes[i].layer, false, ""};
    if (!probed) {
      layer.detail = std::string("probe child failed: ") + strerror(probe_errno);
    } else if (results[i].err != 0) {
      layer.detail = std::string(kProbes[i].call) + ": " + strerror(results[i].err);
    } else if (i == kMountProbe && results[kNumProbes].err != 0) {
      layer.detail =
          std::string("mount(MS_PRIVATE) or open_tree: ") + strerror(results[kNumProbes].err);
    } else {
      layer.on = true;
      layer.detail = std::string(kProbes[i].on_detail) + " (unshare took " +
                     std::to_string(results[i].micros) + " us)";
    }
    *on[i] = layer.on;
    layers->push_back(std::move(layer));
  }
  return support;
}

Status ProbeSeccomp() {
  if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
    return ErrnoStatus("prctl(PR_GET_SECCOMP): kernel without seccomp");
  }
  uint32_t action = SECCOMP_RET_KILL_PROCESS;
  if (syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
    return ErrnoStatus("seccomp(SECCOMP_GET_ACTION_AVAIL, KILL_PROCESS)");
  }
  return Status::Ok();
}

}  // namespace sluice::sandbox
