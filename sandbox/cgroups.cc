#include "sandbox/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <sstream>
#include <thread>
#include <utility>

#include "sandbox/files.h"

namespace sluice::sandbox {
namespace {

constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

Status MakeDir(const std::string& dir) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir " + dir);
  }
  return Status::Ok();
}

// Creates and removes a throwaway child of `parent`: proves instance cgroups will work.
Status ProbeChild(const std::string& parent) {
  const std::string probe = parent + "/probe-" + std::to_string(getpid());
  if (mkdir(probe.c_str(), 0755) != 0) {
    return ErrnoStatus("mkdir " + probe);
  }
  if (rmdir(probe.c_str()) != 0) {
    return ErrnoStatus("rmdir " + probe);
  }
  return Status::Ok();
}

void SetLayer(Layer* layer, const Status& status, const std::string& on_detail) {
  layer->on = status.ok();
  layer->detail = status.ok() ? on_detail : status.message();
}

// "oom_kill N" from v1 memory.oom_control or v2 memory.events.
uint64_t OomKillCount(const std::string& file) {
  auto content = ReadFile(file);
  if (!content.ok()) {
    return 0;
  }
  std::istringstream in(*content);
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "oom_kill") {
      return value;
    }
  }
  return 0;
}

CgroupLayout ProbeV2(const std::string& parent_name, Layer* memory, Layer* pids) {
  CgroupLayout layout;
  layout.v2 = true;
  const std::string root = kCgroupRoot;
  const std::string parent = root + "/" + parent_name;
  auto controllers = ReadFile(root + "/cgroup.controllers");
  for (auto [layer, name] : {std::pair{memory, "memory"}, std::pair{pids, "pids"}}) {
    Status status;
    if (!controllers.ok() || controllers->find(name) == std::string::npos) {
      status = FailedPrecondition(std::string("cgroup v2: controller ") + name + " not in " + root +
                                  "/cgroup.controllers");
    }
    if (status.ok()) {
      status = WriteFile(root + "/cgroup.subtree_control", std::string("+") + name);
    }
    if (status.ok()) {
      status = MakeDir(parent);
    }
    if (status.ok()) {
      status = WriteFile(parent + "/cgroup.subtree_control", std::string("+") + name);
    }
    if (status.ok()) {
      status = ProbeChild(parent);
    }
    SetLayer(layer, status, std::string("cgroup v2 ") + name + " controller under " + parent);
    if (status.ok()) {
      (layer == memory ? layout.memory_parent : layout.pids_parent) = parent;
    }
  }
  return layout;
}

CgroupLayout ProbeV1(const std::string& parent_name, Layer* memory, Layer* pids) {
  CgroupLayout layout;
  for (auto [layer, name] : {std::pair{memory, "memory"}, std::pair{pids, "pids"}}) {
    const std::string hierarchy = std::string(kCgroupRoot) + "/" + name;
    const std::string parent = hierarchy + "/" + parent_name;
    Status status;
    if (!PathExists(hierarchy + "/cgroup.procs")) {
      status =
          FailedPrecondition("cgroup v1: no " + std::string(name) + " hierarchy at " + hierarchy);
    }
    if (status.ok()) {
      status = MakeDir(parent);
    }
    if (status.ok()) {
      status = ProbeChild(parent);
    }
    SetLayer(layer, status, std::string("cgroup v1 ") + name + " controller under " + parent);
    if (status.ok()) {
      (layer == memory ? layout.memory_parent : layout.pids_parent) = parent;
    }
  }
  return layout;
}

}  // namespace

CgroupLayout ProbeCgroups(const std::string& parent_name, Layer* memory, Layer* pids) {
  memory->name = "cgroup-memory";
  pids->name = "cgroup-pids";
  if (PathExists(std::string(kCgroupRoot) + "/cgroup.controllers")) {
    return ProbeV2(parent_name, memory, pids);
  }
  return ProbeV1(parent_name, memory, pids);
}

Result<std::unique_ptr<InstanceCgroups>> InstanceCgroups::Create(const CgroupLayout& layout,
                                                                 const std::string& instance_id,
                                                                 uint64_t memory_limit_bytes,
                                                                 uint32_t max_processes) {
  std::unique_ptr<InstanceCgroups> cg(new InstanceCgroups());
  cg->v2_ = layout.v2;
  if (!layout.memory_parent.empty()) {
    cg->memory_dir_ = layout.memory_parent + "/" + instance_id;
    SLUICE_RETURN_IF_ERROR(cg->AddDir(cg->memory_dir_));
    if (memory_limit_bytes > 0) {
      const std::string limit = std::to_string(memory_limit_bytes);
      const std::string& dir = cg->memory_dir_;
      // v1: memsw (memory + swap) must be written after, and be >= the memory limit.
      const char* memory_file = layout.v2 ? "/memory.max" : "/memory.limit_in_bytes";
      const char* swap_file = layout.v2 ? "/memory.swap.max" : "/memory.memsw.limit_in_bytes";
      SLUICE_RETURN_IF_ERROR(WriteFile(dir + memory_file, limit));
      if (PathExists(dir + swap_file)) {
        SLUICE_RETURN_IF_ERROR(WriteFile(dir + swap_file, layout.v2 ? "0" : limit));
      }
    }
  }
  if (!layout.pids_parent.empty()) {
    const std::string dir = layout.pids_parent + "/" + instance_id;
    if (dir != cg->memory_dir_) {
      SLUICE_RETURN_IF_ERROR(cg->AddDir(dir));
    }
    SLUICE_RETURN_IF_ERROR(WriteFile(dir + "/pids.max", std::to_string(max_processes)));
  }
  for (const std::string& dir : cg->dirs_) {
    const std::string join = dir + (layout.v2 ? "/cgroup.procs" : "/tasks");
    const int fd = open(join.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      return ErrnoStatus("open " + join);
    }
    cg->join_fds_.push_back(fd);
  }
  return cg;
}

Status InstanceCgroups::AddDir(const std::string& dir) {
  // A leftover from a crashed host with the same instance id: reuse is wrong, removal is safe
  // only when it is empty (rmdir refuses otherwise).
  if (mkdir(dir.c_str(), 0755) != 0 &&
      (errno != EEXIST || rmdir(dir.c_str()) != 0 || mkdir(dir.c_str(), 0755) != 0)) {
    return ErrnoStatus("create cgroup " + dir);
  }
  dirs_.push_back(dir);
  return Status::Ok();
}

InstanceCgroups::~InstanceCgroups() {
  CloseJoinFds();
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    // The kernel may still be tearing down the last exiting task; retry for up to ~200 ms.
    for (int attempt = 0; attempt < 200 && rmdir(it->c_str()) != 0 && errno == EBUSY; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void InstanceCgroups::CloseJoinFds() {
  for (int fd : join_fds_) {
    close(fd);
  }
  join_fds_.clear();
}

void InstanceCgroups::KillAll() const {
  for (const std::string& dir : dirs_) {
    if (v2_ && WriteFile(dir + "/cgroup.kill", "1").ok()) {
      continue;
    }
    auto procs = ReadFile(dir + "/cgroup.procs");
    if (!procs.ok()) {
      continue;
    }
    std::istringstream in(*procs);
    pid_t pid;
    while (in >> pid) {
      kill(pid, SIGKILL);
    }
  }
}

bool InstanceCgroups::OomKilled() const {
  if (memory_dir_.empty()) {
    return false;
  }
  return OomKillCount(memory_dir_ + (v2_ ? "/memory.events" : "/memory.oom_control")) > 0;
}

void RemoveStaleInstanceCgroups(const CgroupLayout& layout, std::chrono::seconds min_age) {
  const time_t cutoff = time(nullptr) - static_cast<time_t>(min_age.count());
  for (const std::string& parent : {layout.memory_parent, layout.pids_parent}) {
    DIR* dir = parent.empty() ? nullptr : opendir(parent.c_str());
    if (dir == nullptr) {
      continue;
    }
    while (dirent* entry = readdir(dir)) {
      if (entry->d_type != DT_DIR || entry->d_name[0] == '.') {
        continue;
      }
      const std::string path = parent + "/" + entry->d_name;
      struct stat st {};
      if (stat(path.c_str(), &st) == 0 && st.st_mtime < cutoff) {
        rmdir(path.c_str());  // EBUSY for a cgroup that still holds processes: left alone
      }
    }
    closedir(dir);
  }
}

}  // namespace sluice::sandbox
