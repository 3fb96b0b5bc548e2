#include "sandbox/mounts.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "sandbox/files.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {
namespace {

// The new root is built on a tmpfs mounted over this host directory (in the child's private
// mount namespace, so the host never sees it). Bind sources under it stay reachable because
// they are cloned with open_tree() before the tmpfs covers them.
constexpr char kStaging[] = "/tmp";

int ErrnoOr0(int rc) {
  return rc == 0 ? 0 : errno;
}

}  // namespace

MountPlan BuildMountPlan(const std::string& code_dir, const std::string& runtime_socket,
                         uint64_t scratch_limit_bytes, bool new_proc) {
  MountPlan plan;
  plan.staging = kStaging;
  auto at = [&](const std::string& inside) { return plan.staging + inside; };
  for (const char* dir :
       {"/usr", "/usr/lib", "/usr/lib64", "/usr/share", "/usr/share/zoneinfo", "/etc", "/dev",
        "/proc", "/var", kTaskDirInside, kScratchDirInside, "/run", "/run/sluice"}) {
    plan.dirs.push_back(at(dir));
  }
  plan.symlinks = {{"usr/lib", at("/lib")}, {"usr/lib64", at("/lib64")}};
  // Only what a dynamically linked binary needs: no /bin, no /etc beyond the loader cache.
  for (const char* host : {"/usr/lib", "/usr/lib64", "/usr/share/zoneinfo"}) {
    if (PathExists(host)) {
      plan.binds.push_back({host, host, at(host), true});
    }
  }
  // Device nodes are bind-mounted from the host rather than made with mknod(), which a user
  // namespace (the non-root host's way to namespaces) does not allow.
  for (const char* dev : {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"}) {
    plan.binds.push_back({dev, dev, at(dev), false, true});
  }
  if (PathExists("/etc/ld.so.cache")) {
    plan.binds.push_back({"/etc/ld.so.cache", "/etc/ld.so.cache", at("/etc/ld.so.cache"), false});
  }
  plan.binds.push_back({code_dir, kTaskDirInside, at(kTaskDirInside), true});
  plan.binds.push_back({runtime_socket, kRuntimeSocketInside, at(kRuntimeSocketInside), false});
  plan.scratch_at = at(kScratchDirInside);
  plan.scratch_options = "size=" + std::to_string(scratch_limit_bytes) + ",mode=1777";
  if (new_proc) {
    plan.proc_at = at("/proc");
  }
  return plan;
}

int MakeMountsPrivate(const MountPlan&) {
  // Nothing mounted from here on may propagate back to the host.
  return ErrnoOr0(mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
}

int CaptureBindSources(const MountPlan& plan, int* fds, int* item) {
  for (size_t i = 0; i < plan.binds.size(); ++i) {
    *item = static_cast<int>(i);
    fds[i] = open_tree(AT_FDCWD, plan.binds[i].source.c_str(),
                       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fds[i] < 0) {
      return errno;
    }
    // Read-only and nosuid everywhere; nodev except on the device nodes themselves (writing to
    // /dev/null on a read-only mount still works: it is not a write to the filesystem).
    mount_attr attr = {};
    attr.attr_set =
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | (plan.binds[i].device ? 0 : MOUNT_ATTR_NODEV);
    if (mount_setattr(fds[i], "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
      return errno;
    }
  }
  return 0;
}

int BuildRoot(const MountPlan& plan, int* item) {
  // The root is remounted read-only at the end.
  if (mount("tmpfs", plan.staging.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755") !=
      0) {
    return errno;
  }
  for (size_t i = 0; i < plan.dirs.size(); ++i) {
    *item = static_cast<int>(i);
    if (mkdir(plan.dirs[i].c_str(), 0755) != 0) {
      return errno;
    }
  }
  *item = -1;
  for (const Symlink& link : plan.symlinks) {
    if (symlink(link.contents.c_str(), link.at.c_str()) != 0) {
      return errno;
    }
  }
  return 0;
}

int AttachBindMounts(const MountPlan& plan, int* fds, int* item) {
  for (size_t i = 0; i < plan.binds.size(); ++i) {
    *item = static_cast<int>(i);
    const BindMount& bind = plan.binds[i];
    if (!bind.directory && mknod(bind.at.c_str(), S_IFREG | 0644, 0) != 0 && errno != EEXIST) {
      return errno;
    }
    if (move_mount(fds[i], "", AT_FDCWD, bind.at.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      return errno;
    }
    close(fds[i]);
    fds[i] = -1;
  }
  return 0;
}

int MountScratch(const MountPlan& plan) {
  return ErrnoOr0(mount("tmpfs", plan.scratch_at.c_str(), "tmpfs", MS_NOSUID | MS_NODEV,
                        plan.scratch_options.c_str()));
}

int MountProc(const MountPlan& plan) {
  if (plan.proc_at.empty()) {
    return 0;
  }
  // subset=pid (Linux 5.8+) leaves only the processes' own entries: no host-wide meminfo,
  // interrupts, keys, sys/ or kallsyms. An older kernel refuses the option (EINVAL) and gets a
  // plain proc, which still shows only this pid namespace's processes.
  constexpr unsigned long kFlags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
  if (mount("proc", plan.proc_at.c_str(), "proc", kFlags, "subset=pid") == 0) {
    return 0;
  }
  if (errno != EINVAL) {
    return errno;
  }
  return ErrnoOr0(mount("proc", plan.proc_at.c_str(), "proc", kFlags, nullptr));
}

int PivotRoot(const MountPlan& plan) {
  // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then removes
  // the old root without needing a directory for it inside the new root.
  if (chdir(plan.staging.c_str()) != 0 || syscall(SYS_pivot_root, ".", ".") != 0 ||
      umount2(".", MNT_DETACH) != 0 || chdir("/") != 0) {
    return errno;
  }
  return 0;
}

int RemountRootReadOnly() {
  return ErrnoOr0(mount(nullptr, "/", nullptr,
                        MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr));
}

}  // namespace sluice::sandbox
