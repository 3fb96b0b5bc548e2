// The invoker on a host where some sandbox layers are off (turned off here, as a kernel or a
// container might leave them): the always-on layers and the remaining ones still give exact
// outcomes, and the host still ends every process it started.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "tests/support/invoke_harness.h"

using sluice::testing::InvokeHarness;
using namespace std::chrono_literals;

namespace {

void SetTimeout1s(sluice::invoker::FunctionConfig* c) {
  c->timeout = 1s;
}

}  // namespace

TEST_CASE("without a pid namespace: signals, crashes and timeouts still behave",
          "[invoke][degraded]") {
  InvokeHarness h(MISBEHAVE_BIN, SetTimeout1s, {"pid-namespace"});
  REQUIRE_FALSE(h.LayerOn("pid-namespace"));
  CHECK(h.Observe("echo").rfind("pid=", 0) == 0);
  CHECK(h.Observe("kill-all") == "kill=-1 EPERM");
  CHECK(h.Observe("fork") == "fork=-1 EPERM");
  CHECK(h.ErrorOf("crash ABRT").first == "Runtime.ExitError");
  CHECK(h.ErrorOf("sleep 5000").first == "Sandbox.Timedout");
  CHECK(h.pool().live_instances() == 0);
  CHECK(h.Observe("echo").rfind("pid=", 0) == 0);
}

TEST_CASE("without a mount namespace: host paths, permissions keep the function out",
          "[invoke][degraded]") {
  InvokeHarness h(MISBEHAVE_BIN, nullptr, {"mount-namespace"});
  REQUIRE_FALSE(h.LayerOn("mount-namespace"));
  const std::string secret = h.work_dir() + "/secret.txt";
  std::ofstream(secret) << "host secret";
  std::filesystem::permissions(secret, std::filesystem::perms(0600));
  CHECK(h.Observe("read " + secret) == "open=-1 EACCES");
  CHECK(h.Observe("write " + h.work_dir() + "/evil") == "open=-1 EACCES");
  CHECK(h.Observe("write-scratch") == "write=1");  // its own scratch directory, on the host
  CHECK(h.Observe("exec /bin/sh") == "execve=-1 EPERM");
  CHECK(h.Observe("socket-inet") == "socket=-1 EAFNOSUPPORT");
}

TEST_CASE("without cgroups: memory and processes still end, the host keeps serving",
          "[invoke][degraded]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) { c->max_processes = 64; },
                  {"cgroup-memory", "cgroup-pids"});
  REQUIRE_FALSE(h.LayerOn("cgroup-pids"));
  // RLIMIT_NPROC counts every process of the uid, so only the error is exact here.
  CHECK(h.Observe("threads").rfind("pthread_create=EAGAIN after ", 0) == 0);
  CHECK(h.Observe("echo").rfind("pid=", 0) == 0);
}

TEST_CASE("with every optional layer off, the always-on ones still hold", "[invoke][degraded]") {
  InvokeHarness h(MISBEHAVE_BIN, SetTimeout1s,
                  {"pid-namespace", "mount-namespace", "network-namespace", "ipc-namespace",
                   "uts-namespace", "cgroup-memory", "cgroup-pids"});
  CHECK(h.Observe("fork") == "fork=-1 EPERM");
  CHECK(h.Observe("exec /bin/sh") == "execve=-1 EPERM");
  CHECK(h.Observe("socket-inet") == "socket=-1 EAFNOSUPPORT");
  CHECK(h.Observe("kill-all") == "kill=-1 EPERM");
  CHECK(h.ErrorOf("seccomp").first == "Runtime.ExitError");
  CHECK(h.ErrorOf("sleep 5000").first == "Sandbox.Timedout");
  CHECK(h.Observe("echo").rfind("pid=", 0) == 0);
}
