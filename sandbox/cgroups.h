// Per-instance cgroups: memory and pids limits, OOM accounting, and killing everything inside.
//
// Supports cgroup v1 (separate memory and pids hierarchies, as on this project's hosts) and
// cgroup v2 (one unified hierarchy, used when /sys/fs/cgroup/cgroup.controllers exists). Each
// instance gets <controller root>/<parent>/<instance_id>; the parent is created once by
// ProbeCgroups and never removed (other instances share it).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {

// Where instance cgroups go. An empty directory means that controller's layer is off.
struct CgroupLayout {
  bool v2 = false;
  std::string memory_parent;  // e.g. /sys/fs/cgroup/memory/sluice (v1), /sys/fs/cgroup/sluice (v2)
  std::string pids_parent;    // e.g. /sys/fs/cgroup/pids/sluice (v1), same as memory_parent (v2)
};

// Finds the controllers, creates the parent cgroups (enabling controllers for v2), and checks
// that a child cgroup can be created and removed. Fills `memory` and `pids` (on/off + detail).
CgroupLayout ProbeCgroups(const std::string& parent_name, Layer* memory, Layer* pids);

// Removes the empty instance cgroups that a host which died left behind under the parents (a
// dead host cannot remove its own). Only cgroups untouched for `min_age`: one another host is
// setting up right now is milliseconds old. Non-empty cgroups stay (rmdir refuses them).
void RemoveStaleInstanceCgroups(const CgroupLayout& layout, std::chrono::seconds min_age);

// The cgroups of one instance. Not thread-safe; the owning Process serialises access.
class InstanceCgroups {
 public:
  // Creates the instance's cgroups and writes the limits (memory_limit_bytes == 0: no memory
  // limit, but the cgroup still accounts OOM kills). Swap is limited too when the kernel exposes
  // it (v1 memory.memsw.limit_in_bytes, v2 memory.swap.max = 0). On failure nothing is left.
  static Result<std::unique_ptr<InstanceCgroups>> Create(const CgroupLayout& layout,
                                                         const std::string& instance_id,
                                                         uint64_t memory_limit_bytes,
                                                         uint32_t max_processes);
  ~InstanceCgroups();  // removes the cgroups, retrying briefly while they empty
  InstanceCgroups(const InstanceCgroups&) = delete;
  InstanceCgroups& operator=(const InstanceCgroups&) = delete;

  // Open (O_WRONLY|O_CLOEXEC) files the still single-threaded child writes "0" to, to join:
  // v1 "tasks", v2 "cgroup.procs". Owned here; CloseJoinFds() closes them once the child has
  // started. (v1 "tasks" moves only the writing thread, which lets the kernel skip the global
  // threadgroup rwsem; "cgroup.procs" takes it and waits for an RCU grace period, ~8 ms here.)
  const std::vector<int>& join_fds() const { return join_fds_; }
  void CloseJoinFds();

  // SIGKILLs every process in the cgroups (v2: cgroup.kill; v1: each pid in cgroup.procs).
  void KillAll() const;

  // True when the memory cgroup's OOM killer has killed something in this instance.
  bool OomKilled() const;

 private:
  InstanceCgroups() = default;
  Status AddDir(const std::string& dir);

  bool v2_ = false;
  std::string memory_dir_;         // empty when the memory layer is off
  std::vector<std::string> dirs_;  // created directories, removed in reverse order
  std::vector<int> join_fds_;
};

}  // namespace sluice::sandbox
