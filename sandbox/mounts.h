// The mount layer: a new, read-only root built on a tmpfs (bubblewrap style).
//
// In the child's new mount namespace: make every mount private, clone the bind sources
// (open_tree, read-only, nosuid, nodev) while the host view is still visible, mount a tmpfs as
// the new root, create the directory skeleton, /lib -> usr/lib style symlinks and /dev nodes,
// attach the binds, mount the scratch tmpfs and (with a pid namespace) a new /proc, pivot_root
// into it, detach the old root and remount the root read-only. The function then sees only:
//   /usr/lib /usr/lib64 /usr/share/zoneinfo /etc/ld.so.cache (host, read-only; no /bin)
//   /lib -> usr/lib, /lib64 -> usr/lib64
//   /dev/{null,zero,random,urandom}, /proc (its own pid namespace)
//   kTaskDirInside (code_dir, read-only), kScratchDirInside (tmpfs), kRuntimeSocketInside.
//
// BuildMountPlan runs in the parent; the Mount* step functions run in the child and follow the
// child rules of child.h (no allocation; return 0 or an errno, and set *item on list steps).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::sandbox {

inline constexpr int kMaxBindMounts = 16;

struct BindMount {
  std::string source;  // host path
  std::string target;  // absolute path in the new root, for messages
  std::string at;      // where it is attached before pivot_root (staging + target)
  bool directory = true;
  bool device = false;  // a host device node (/dev/null, ...): its mount keeps device access
};

struct Symlink {
  std::string contents;  // e.g. "usr/lib"
  std::string at;        // staging path of the link
};

struct MountPlan {
  std::string staging;            // the host directory the new root is mounted on
  std::vector<std::string> dirs;  // staging paths, created in order
  std::vector<Symlink> symlinks;
  std::vector<BindMount> binds;  // at most kMaxBindMounts
  std::string scratch_at;        // staging path of kScratchDirInside
  std::string scratch_options;   // "size=N,mode=1777"
  std::string proc_at;           // staging path of /proc; empty: no new /proc
};

// REQUIRES: code_dir and runtime_socket exist (validated).
MountPlan BuildMountPlan(const std::string& code_dir, const std::string& runtime_socket,
                         uint64_t scratch_limit_bytes, bool new_proc);

// Child steps, in order. `fds` holds kMaxBindMounts detached mounts between the two bind steps.
int MakeMountsPrivate(const MountPlan& plan);
int CaptureBindSources(const MountPlan& plan, int* fds, int* item);
int BuildRoot(const MountPlan& plan, int* item);
int AttachBindMounts(const MountPlan& plan, int* fds, int* item);
int MountScratch(const MountPlan& plan);
int MountProc(const MountPlan& plan);
int PivotRoot(const MountPlan& plan);
int RemountRootReadOnly();

}  // namespace sluice::sandbox
