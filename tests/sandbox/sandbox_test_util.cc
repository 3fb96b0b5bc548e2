#include "tests/sandbox/sandbox_test_util.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace sluice::sandbox::testing {

SandboxLauncher& Launcher() {
  static SandboxLauncher* launcher = [] {
    auto created = SandboxLauncher::Create(SandboxOptions{});
    if (!created.ok()) {
      FAIL("SandboxLauncher::Create: " << created.status().ToString());
    }
    return std::move(created).value().release();
  }();
  return *launcher;
}

bool LayerOn(const std::string& name) {
  for (const Layer& layer : Launcher().layers()) {
    if (layer.name == name && layer.on) {
      return true;
    }
    if (layer.name == name) {
      const char* require = getenv("SLUICE_REQUIRE_SANDBOX");
      if (require != nullptr && std::string(require) == "1") {
        FAIL("layer " << name << " is off (" << layer.detail << ")");
      }
      WARN("skipped: layer " << name << " is off (" << layer.detail << ")");
      return false;
    }
  }
  FAIL("no layer named " << name);
  return false;
}

Instance::Instance(const std::string& binary) {
  char tmpl[] = "/tmp/sluice-sbx-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  dir_ = tmpl;
  chmod(dir_.c_str(), 0755);
  std::filesystem::create_directory(dir_ + "/code");
  std::filesystem::copy_file(binary, dir_ + "/code/handler");
  chmod((dir_ + "/code").c_str(), 0755);
  chmod((dir_ + "/code/handler").c_str(), 0755);

  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, socket_path().c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(listen(listen_fd_, 16) == 0);
  chmod(socket_path().c_str(), 0666);
}

Instance::~Instance() {
  close(listen_fd_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

SandboxSpec Instance::Spec() const {
  static std::atomic<int> counter{0};
  SandboxSpec spec;
  spec.instance_id = "test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  spec.code_dir = dir_ + "/code";
  spec.handler = "handler";
  spec.runtime_socket = socket_path();
  spec.scratch_dir = dir_ + "/scratch";
  spec.memory_limit_bytes = 64 << 20;
  spec.scratch_limit_bytes = 1 << 20;
  spec.max_processes = 64;
  spec.max_open_files = 64;
  return spec;
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

ProbeRun RunProbe(const std::string& action, const std::function<void(SandboxSpec&)>& customize,
                  std::chrono::milliseconds timeout) {
  Instance instance(SANDBOX_PROBE_PATH);
  SandboxSpec spec = instance.Spec();
  spec.env = {"PROBE_ACTION=" + action};
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  spec.stdout_fd = out[1];
  if (customize) {
    customize(spec);
  }
  auto process = Launcher().Launch(spec);
  close(out[1]);
  if (!process.ok()) {
    close(out[0]);
    FAIL("Launch: " << process.status().ToString());
  }
  auto exit = (*process)->Wait(timeout);
  if (!exit.ok()) {
    (*process)->Kill();
    exit = (*process)->Wait(std::chrono::seconds(5));
  }
  REQUIRE(exit.ok());
  ProbeRun run{*exit, ReadAll(out[0])};
  close(out[0]);
  return run;
}

}  // namespace sluice::sandbox::testing
