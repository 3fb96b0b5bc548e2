#include "sandbox/launcher.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <utility>

#include "sandbox/cgroups.h"
#include "sandbox/child.h"
#include "sandbox/files.h"
#include "sandbox/probe.h"
#include "sandbox/process.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/spawner_thread.h"
#include "sandbox/spec_validation.h"

namespace sluice::sandbox {
namespace {

// The handler fd's distance above RLIMIT_NOFILE (any positive number works).
constexpr int kExecFdAboveLimit = 10;

class SandboxLauncherImpl : public SandboxLauncher {
 public:
  explicit SandboxLauncherImpl(const SandboxOptions& options) : options_(options) {}

  // Probes every layer; fails when an always-on layer is unavailable, or when an optional one
  // is and options_.require_all_layers.
  Status Probe();

  Result<std::unique_ptr<Process>> Launch(const SandboxSpec& spec) override;
  bool FunctionSeesFixedPaths() const override { return ns_.mount; }
  const std::vector<Layer>& layers() const override { return layers_; }

 private:
  ChildPlan MakePlan(const SandboxSpec& spec, const ResolvedPaths& paths) const;
  // Applies options_.turned_off_layers to the probed layers.
  Status TurnOffLayers();
  Status PrepareScratchDir(const std::string& dir) const;

  const SandboxOptions options_;
  std::vector<Layer> layers_;
  NamespaceSupport ns_;
  CgroupLayout cgroups_;
  bool host_is_root_ = false;
  int clone_flags_ = 0;
  SpawnerThread spawner_;  // every clone happens here (see spawner_thread.h)
};

Status SandboxLauncherImpl::Probe() {
  host_is_root_ = geteuid() == 0;
  Status seccomp = ProbeSeccomp();
  if (seccomp.ok()) {
    // Proves the table compiles on this libseccomp and kernel (every syscall name resolves).
    auto program = CompileSeccompPolicy(SeccompParams{1, 1000});
    seccomp = program.ok() ? Status::Ok() : program.status();
  }
  if (!seccomp.ok()) {
    return seccomp.WithContext("seccomp (an always-on layer) is unavailable");
  }
  const int groups = getgroups(0, nullptr);
  const std::string uid_detail =
      host_is_root_ ? "uid " + std::to_string(options_.uid) + ", gid " +
                          std::to_string(options_.gid) + ", no supplementary groups"
                    : "host is not root: functions run as its uid " + std::to_string(geteuid()) +
                          " (seen as " + std::to_string(options_.uid) +
                          " inside their user namespace, where there is one)" +
                          (groups > 0 ? " and keep its " + std::to_string(groups) +
                                            " supplementary groups (only root can drop them)"
                                      : "");
  layers_ = {
      {"seccomp", true, "allowlist (sandbox/seccomp_policy.cc), default KILL_PROCESS, pre-exec"},
      {"no-new-privs", true, "PR_SET_NO_NEW_PRIVS"},
      {"capabilities", true, "all sets empty, bounding set cleared, ambient cleared"},
      {"unprivileged-uid", true, uid_detail},
      {"rlimits", true,
       "NOFILE, FSIZE from the spec; NPROC too when there is no pids cgroup; CORE 0; no AS"},
      {"fd-closing", true, "stdin /dev/null, stdout/stderr from the spec, every other fd closed"},
      {"clean-env", true, "exactly the spec's environment"},
      {"session", true, "setsid(): own session and process group, no controlling terminal"},
      {"pdeathsig", true, "SIGKILL when the host dies"},
  };
  ns_ = ProbeNamespaces(options_.uid, options_.gid, &layers_);
  Layer memory, pids;
  cgroups_ = ProbeCgroups(options_.cgroup_parent, &memory, &pids);
  RemoveStaleInstanceCgroups(cgroups_, std::chrono::seconds(60));
  layers_.push_back(memory);
  layers_.push_back(pids);

  // require_all_layers is about what the kernel allows: layers the configuration turns off
  // afterwards are a deliberate choice, not a missing layer.
  std::string missing;
  for (const Layer& layer : layers_) {
    if (!layer.on) {
      missing += (missing.empty() ? "" : "; ") + layer.name + ": " + layer.detail;
    }
  }
  if (options_.require_all_layers && !missing.empty()) {
    return FailedPrecondition("sandbox layers required but unavailable: " + missing);
  }
  SLUICE_RETURN_IF_ERROR(TurnOffLayers());
  for (auto [on, flag] : {std::pair{ns_.user, CLONE_NEWUSER}, std::pair{ns_.pid, CLONE_NEWPID},
                          std::pair{ns_.mount, CLONE_NEWNS}, std::pair{ns_.net, CLONE_NEWNET},
                          std::pair{ns_.ipc, CLONE_NEWIPC}, std::pair{ns_.uts, CLONE_NEWUTS}}) {
    clone_flags_ |= on ? flag : 0;
  }
  return Status::Ok();
}

Status SandboxLauncherImpl::TurnOffLayers() {
  // What turning each optional layer off means for the launches.
  const std::map<std::string, std::function<void()>> optional_layers = {
      {"pid-namespace", [this] { ns_.pid = false; }},
      {"mount-namespace", [this] { ns_.mount = false; }},
      {"network-namespace", [this] { ns_.net = false; }},
      {"ipc-namespace", [this] { ns_.ipc = false; }},
      {"uts-namespace", [this] { ns_.uts = false; }},
      {"cgroup-memory", [this] { cgroups_.memory_parent.clear(); }},
      {"cgroup-pids", [this] { cgroups_.pids_parent.clear(); }},
  };
  for (const std::string& name : options_.turned_off_layers) {
    auto turn_off = optional_layers.find(name);
    if (turn_off == optional_layers.end()) {
      return InvalidArgument("sandbox layer \"" + name +
                             "\" cannot be turned off (optional layers: pid-namespace, "
                             "mount-namespace, network-namespace, ipc-namespace, uts-namespace, "
                             "cgroup-memory, cgroup-pids)");
    }
    turn_off->second();
    for (Layer& layer : layers_) {
      if (layer.name == name && layer.on) {
        layer.on = false;
        layer.detail = "turned off by configuration";
      }
    }
  }
  return Status::Ok();
}

Status SandboxLauncherImpl::PrepareScratchDir(const std::string& dir) const {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus("mkdir scratch_dir " + dir);
  }
  if (host_is_root_ && chown(dir.c_str(), options_.uid, options_.gid) != 0) {
    return ErrnoStatus("chown scratch_dir " + dir);
  }
  return Status::Ok();
}

ChildPlan SandboxLauncherImpl::MakePlan(const SandboxSpec& spec, const ResolvedPaths& paths) const {
  ChildPlan plan;
  plan.parent_pid = ns_.pid ? 0 : getpid();
  plan.mount_layer = ns_.mount;
  if (ns_.mount) {
    plan.mounts = BuildMountPlan(paths.code_dir, spec.runtime_socket, spec.scratch_limit_bytes,
                                 /*new_proc=*/ns_.pid);
  }
  plan.set_hostname = ns_.uts;
  plan.workdir = ns_.mount ? kTaskDirInside : paths.code_dir;
  plan.handler_path = plan.workdir + "/" + paths.handler_rel;
  plan.exec_fd = static_cast<int>(spec.max_open_files) + kExecFdAboveLimit;
  plan.stdout_fd = spec.stdout_fd;
  plan.stderr_fd = spec.stderr_fd;
  plan.max_open_files = spec.max_open_files;
  // RLIMIT_NPROC counts every process and thread of the uid, i.e. of all instances together
  // (they share options_.uid), so it is only a fallback for a missing pids cgroup.
  plan.max_processes = cgroups_.pids_parent.empty() ? spec.max_processes : 0;
  plan.max_file_size = spec.scratch_limit_bytes;
  plan.user_namespace = ns_.user;
  plan.outer_uid = geteuid();
  plan.outer_gid = getegid();
  plan.privilege_drop = host_is_root_ ? PrivilegeDrop::kChangeUid
                        : ns_.user    ? PrivilegeDrop::kUserNamespace
                                      : PrivilegeDrop::kNone;
  plan.uid = options_.uid;
  plan.gid = options_.gid;
  plan.argv_storage = {plan.handler_path};
  plan.env_storage = spec.env;
  for (const std::string& arg : plan.argv_storage) {
    plan.argv.push_back(arg.c_str());
  }
  plan.argv.push_back(nullptr);
  for (const std::string& entry : plan.env_storage) {
    plan.envp.push_back(entry.c_str());
  }
  plan.envp.push_back(nullptr);
  return plan;
}

// Sends the compiled program: a uint32_t byte count, then the bytes. MSG_NOSIGNAL: a child that
// already died must not SIGPIPE the host.
Status SendSeccompProgram(int fd, const SeccompParams& params) {
  auto program = CompileSeccompPolicy(params);
  if (!program.ok()) {
    return program.status();
  }
  std::string message(sizeof(uint32_t), '\0');
  const auto size = static_cast<uint32_t>(program->size());
  memcpy(message.data(), &size, sizeof(size));
  message += *program;
  if (send(fd, message.data(), message.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(message.size())) {
    return ErrnoStatus("send seccomp program to child");
  }
  return Status::Ok();
}

// EOF on the report pipe (O_CLOEXEC in the child) means the exec happened.
Status AwaitExec(int report_fd, const ChildPlan& plan) {
  ChildFailure failure;
  ssize_t n;
  while ((n = read(report_fd, &failure, sizeof(failure))) < 0 && errno == EINTR) {
  }
  if (n == 0) {
    return Status::Ok();
  }
  if (n != sizeof(failure)) {
    return ErrnoStatus("read child report");
  }
  return Internal(DescribeChildFailure(plan, failure));
}

}  // namespace

// The launch checklist. Every step returns a Status; the child runs its own checklist
// (child.cc) between the clone and the exec.
Result<std::unique_ptr<Process>> SandboxLauncherImpl::Launch(const SandboxSpec& spec) {
  auto paths = ValidateSpec(spec, /*needs_scratch_dir=*/!ns_.mount);
  if (!paths.ok()) {
    return paths.status();
  }
  std::unique_ptr<InstanceCgroups> cgroups;
  if (!cgroups_.memory_parent.empty() || !cgroups_.pids_parent.empty()) {
    auto created = InstanceCgroups::Create(cgroups_, spec.instance_id, spec.memory_limit_bytes,
                                           spec.max_processes);
    if (!created.ok()) {
      return created.status().WithContext("cgroups");
    }
    cgroups = std::move(created).value();
  }
  if (!ns_.mount) {
    SLUICE_RETURN_IF_ERROR(PrepareScratchDir(spec.scratch_dir));
  }

  int filter[2], report[2], status[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, filter) != 0) {
    return ErrnoStatus("socketpair");
  }
  UniqueFd filter_parent(filter[0]), filter_child(filter[1]);
  if (pipe2(report, O_CLOEXEC) != 0) {
    return ErrnoStatus("pipe2");
  }
  UniqueFd report_parent(report[0]), report_child(report[1]);
  if (ns_.pid && pipe2(status, O_CLOEXEC) != 0) {
    return ErrnoStatus("pipe2");
  }
  UniqueFd status_parent(status[0]), status_child(status[1]);

  ChildPlan plan = MakePlan(spec, *paths);
  plan.filter_fd = filter_child.get();
  plan.report_fd = report_child.get();
  plan.run_init = ns_.pid;
  plan.status_fd = status_child.get();
  if (cgroups != nullptr) {
    plan.cgroup_join_fds = cgroups->join_fds();
  }

  // A raw clone (not glibc's fork or clone) so CLONE_PIDFD hands back a pidfd and the child
  // starts directly as pid 1 of the new pid namespace (where it becomes the init and clones
  // the function as pid 2). Fork semantics: no new stack.
  int pidfd = -1;
  long pid = -1;
  int clone_errno = 0;  // errno is per thread: carry it back from the spawner thread
  spawner_.Run([&] {
    pid =
        syscall(SYS_clone, clone_flags_ | CLONE_PIDFD | SIGCHLD, nullptr, &pidfd, nullptr, nullptr);
    if (pid == 0) {
      RunChild(plan);  // never returns
    }
    clone_errno = errno;
  });
  if (pid < 0) {
    errno = clone_errno;
    return ErrnoStatus("clone");
  }
  auto process = std::make_unique<SandboxProcess>(static_cast<pid_t>(pid), UniqueFd(pidfd),
                                                  std::move(status_parent), std::move(cgroups));
  filter_child.Reset();
  report_child.Reset();
  status_child.Reset();

  // The child sets up its mounts while the parent compiles the policy pinned to its pid.
  const SeccompParams params{ns_.pid ? kFunctionPidInNamespace : static_cast<pid_t>(pid),
                             plan.exec_fd};
  const Status sent = SendSeccompProgram(filter_parent.get(), params);
  filter_parent.Reset();  // EOF for a child still waiting when sending failed
  const Status exec = AwaitExec(report_parent.get(), plan);
  process->CloseCgroupJoinFds();
  SLUICE_RETURN_IF_ERROR(exec);  // the child's own report names the step
  SLUICE_RETURN_IF_ERROR(sent);
  return std::unique_ptr<Process>(std::move(process));
}

Result<std::unique_ptr<SandboxLauncher>> SandboxLauncher::Create(const SandboxOptions& options) {
  SandboxOptions effective = options;
  const char* require = std::getenv("SLUICE_REQUIRE_SANDBOX");
  if (require != nullptr && std::string(require) == "1") {
    effective.require_all_layers = true;
  }
  auto launcher = std::make_unique<SandboxLauncherImpl>(effective);
  SLUICE_RETURN_IF_ERROR(launcher->Probe());
  return std::unique_ptr<SandboxLauncher>(std::move(launcher));
}

std::string LayerSummary(const std::vector<Layer>& layers) {
  std::string on, off;
  for (const Layer& layer : layers) {
    if (layer.on) {
      on += (on.empty() ? "" : " ") + layer.name;
    } else {
      off += "\n  off: " + layer.name + " (" + layer.detail + ")";
    }
  }
  return "sandbox layers on: " + on + off;
}

}  // namespace sluice::sandbox
