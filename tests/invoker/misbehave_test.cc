// Integration tests: a real sandboxed function process misbehaves on command, and the invoker
// reports exactly what happened and keeps serving. MISBEHAVE_BIN is the test function.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/invoke_harness.h"

using sluice::testing::InvokeHarness;
using namespace std::chrono_literals;

namespace {

void SetTimeout1s(sluice::invoker::FunctionConfig* c) {
  c->timeout = 1s;
}

// The host still serves: a plain invoke succeeds.
void RequireStillServing(InvokeHarness& h) {
  const std::string result = h.Observe("echo");
  CHECK(result.rfind("pid=", 0) == 0);
}

}  // namespace

TEST_CASE("a warm instance is reused and its logs carry the request id", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto first = h.InvokeCommand("echo");
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->is_function_error());
  CHECK(first->cold_start);
  CHECK(first->response.has_kinesis());
  auto second = h.InvokeCommand("echo");
  REQUIRE(second.ok());
  CHECK_FALSE(second->cold_start);
  const std::string pid1 = h.ResultOf(first->response.request_id());
  const std::string pid2 = h.ResultOf(second->response.request_id());
  CHECK(!pid1.empty());
  CHECK(pid1 == pid2);  // the same process served both
  const auto lines = h.LogsOf(second->response.request_id());
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == second->response.request_id() + "\tINFO\tRESULT " + pid2);
  const auto m = h.pool().metrics();
  CHECK(m.invocations == 2);
  CHECK(m.cold_starts == 1);
  CHECK(m.errors == 0);
}

TEST_CASE("an invoke past its deadline is Sandbox.Timedout and the tree is killed", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN, SetTimeout1s);
  const auto started = std::chrono::steady_clock::now();
  auto r = h.InvokeCommand("sleep 5000");
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE(r.ok());
  REQUIRE(r->is_function_error());
  CHECK(r->response.error().error_type() == "Sandbox.Timedout");
  CHECK(r->response.error().error_message() == "Task timed out after 1.00 seconds");
  CHECK(r->instance_lost);
  CHECK(took < 3s);  // killed at the deadline, not after the sleep
  CHECK(h.pool().live_instances() == 0);
  auto next = h.InvokeCommand("echo");
  REQUIRE(next.ok());
  CHECK(next->cold_start);  // a fresh instance
  CHECK_FALSE(next->is_function_error());
  CHECK(h.pool().metrics().errors_by_type.at("Sandbox.Timedout") == 1);
}

TEST_CASE("a crash mid-invoke is Runtime.ExitError with the signal", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  const auto [type, message] = h.ErrorOf("crash SEGV");
  CHECK(type == "Runtime.ExitError");
  CHECK(message == "Runtime exited with error: signal 11 (Segmentation fault)");
  RequireStillServing(h);
  // raise() reaches the function: it is not its namespace's init (which ignores such signals).
  const auto [abort_type, abort_message] = h.ErrorOf("crash ABRT");
  CHECK(abort_type == "Runtime.ExitError");
  CHECK(abort_message == "Runtime exited with error: signal 6 (Aborted)");
  RequireStillServing(h);
}

TEST_CASE("an exit mid-invoke is Runtime.ExitError with the status", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  const auto [type, message] = h.ErrorOf("exit 3");
  CHECK(type == "Runtime.ExitError");
  CHECK(message == "Runtime exited with error: exit status 3");
  RequireStillServing(h);
}

TEST_CASE("allocating past MemorySize is Runtime.OutOfMemory", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  if (!h.LayerOn("cgroup-memory")) {
    WARN("skipped: the cgroup memory layer is off on this machine");
    return;
  }
  const auto [type, message] = h.ErrorOf("alloc");
  CHECK(type == "Runtime.OutOfMemory");
  CHECK(message == "Runtime exited with error: out of memory (MemorySize 128 MB)");
  RequireStillServing(h);
}

TEST_CASE("fork is refused with EPERM", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  CHECK(h.Observe("fork") == "fork=-1 EPERM");
  RequireStillServing(h);
}

TEST_CASE("threads stop at the process limit", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) { c->max_processes = 64; });
  const std::string result = h.Observe("threads");
  // gRPC and the SDK already run a few threads; the rest of the 64 are the function's.
  REQUIRE(result.rfind("pthread_create=EAGAIN after ", 0) == 0);
  const int started = std::stoi(result.substr(std::string("pthread_create=EAGAIN after ").size()));
  CHECK(started > 40);
  CHECK(started < 64);
}

TEST_CASE("open files stop at the open-file limit", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN,
                  [](sluice::invoker::FunctionConfig* c) { c->max_open_files = 100; });
  const std::string result = h.Observe("fds");
  REQUIRE(result.rfind("open=-1 EMFILE after ", 0) == 0);
  const int opened = std::stoi(result.substr(std::string("open=-1 EMFILE after ").size()));
  CHECK(opened > 80);
  CHECK(opened < 100);
  RequireStillServing(h);
}

TEST_CASE("filling the scratch space ends in ENOSPC at its size", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
    c->memory_mb = 1024;  // tmpfs pages count against the memory limit
    c->timeout = 30s;
  });
  if (!h.LayerOn("mount-namespace")) {
    WARN("skipped: the mount layer is off, so scratch is not a sized tmpfs");
    return;
  }
  CHECK(h.Observe("fill-disk") == "write=-1 ENOSPC after 512 MiB");
  RequireStillServing(h);
}

TEST_CASE("no network: socket(AF_INET) fails and nothing reaches a local TCP port",
          "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  CHECK(h.Observe("socket-inet") == "socket=-1 EAFNOSUPPORT");

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  CHECK(h.Observe("connect-tcp " + std::to_string(port)) == "socket=-1 EAFNOSUPPORT");
  CHECK(::accept(listener, nullptr, nullptr) == -1);  // no connection ever arrived
  CHECK(errno == EAGAIN);
  ::close(listener);
}

TEST_CASE("exec is refused", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  CHECK(h.Observe("exec /bin/sh") == "execve=-1 EPERM");
  CHECK(h.Observe("exec /var/task/handler") == "execve=-1 EPERM");
  RequireStillServing(h);
}

TEST_CASE("host files outside the function's view cannot be read", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  const std::string secret = h.work_dir() + "/secret.txt";
  std::ofstream(secret) << "host secret";
  std::filesystem::permissions(secret, std::filesystem::perms(0644));  // even world-readable
  const std::string expected = h.LayerOn("mount-namespace") ? "open=-1 ENOENT" : "open=-1 EACCES";
  CHECK(h.Observe("read " + secret) == expected);
  CHECK(h.Observe("read /etc/passwd") == expected);
  RequireStillServing(h);
}

TEST_CASE("writes land only in the scratch directory", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  if (!h.LayerOn("mount-namespace")) {
    WARN("skipped: the mount layer is off");
    return;
  }
  CHECK(h.Observe("write /tmp/ok.txt") == "write=1");
  CHECK(h.Observe("write /var/task/evil") == "open=-1 EROFS");
  CHECK(h.Observe("write /evil") == "open=-1 EROFS");
  // The host's directories are not in the function's view at all.
  CHECK(h.Observe("write " + h.work_dir() + "/evil") == "open=-1 ENOENT");
  CHECK_FALSE(std::filesystem::exists(h.work_dir() + "/evil"));
  RequireStillServing(h);
}

TEST_CASE("a forbidden system call kills the instance with SIGSYS", "[invoke][sandbox]") {
  InvokeHarness h(MISBEHAVE_BIN);
  const auto [type, message] = h.ErrorOf("seccomp");
  CHECK(type == "Runtime.ExitError");
  CHECK(message ==
        "Runtime exited with error: signal 31 (Bad system call): blocked system call (seccomp)");
  RequireStillServing(h);
}

TEST_CASE("a window response whose state is not an object is Runtime.InvalidResponse", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto r = h.InvokeWindowCommand("bad-state");
  REQUIRE(r.ok());
  REQUIRE(r->is_function_error());
  CHECK(r->response.error().error_type() == "Runtime.InvalidResponse");
  CHECK(r->response.error().error_message() ==
        "a tumbling-window response must carry a state that is a JSON object (nested at most 128 "
        "levels)");
  auto ok = h.InvokeWindowCommand("echo");
  REQUIRE(ok.ok());
  REQUIRE(ok->response.has_kinesis_window());
  CHECK(ok->response.kinesis_window().state_json() == "{}");
}

TEST_CASE("a window state nested a million levels deep is refused, not a host crash", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto r = h.InvokeWindowCommand("deep-state 1000000");
  REQUIRE(r.ok());
  REQUIRE(r->is_function_error());
  CHECK(r->response.error().error_type() == "Runtime.InvalidResponse");
  auto shallow = h.InvokeWindowCommand("deep-state 100");
  REQUIRE(shallow.ok());
  CHECK_FALSE(shallow->is_function_error());
}

TEST_CASE("an instance that dies while idle is replaced, not charged to the next invoke",
          "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto first = h.InvokeCommand("crash-later 100");
  REQUIRE(first.ok());
  REQUIRE_FALSE(first->is_function_error());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the background crash happen
  auto next = h.InvokeCommand("echo");
  REQUIRE(next.ok());
  CHECK_FALSE(next->is_function_error());
  CHECK(next->cold_start);
}

TEST_CASE("an instance flooding its logs does not stall the invoker", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  REQUIRE(h.Observe("flood") == "flooding");
  for (int i = 0; i < 20; ++i) {
    auto r = h.InvokeCommand("echo");  // each within its 3 s Timeout
    REQUIRE(r.ok());
    REQUIRE_FALSE(r->is_function_error());
  }
}

TEST_CASE("an instance gets one runtime connection: a second connect is refused", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  CHECK(h.Observe("reconnect") == "connect=-1 ECONNREFUSED");
  RequireStillServing(h);
}

TEST_CASE("garbage on the runtime connection ends the instance, not the host", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto r = h.InvokeCommand("garbage");
  REQUIRE(r.ok());
  REQUIRE(r->is_function_error());
  CHECK(r->response.error().error_type() == "Runtime.InvalidResponse");
  CHECK(r->instance_lost);
  RequireStillServing(h);
}

TEST_CASE("a response over 6 MiB is Function.ResponseSizeTooLarge", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  const auto [type, message] = h.ErrorOf("oversize 7340032");
  CHECK(type == "Function.ResponseSizeTooLarge");
  CHECK(message.find("exceeded maximum allowed payload size (6291456 bytes)") != std::string::npos);
  RequireStillServing(h);
}

TEST_CASE("function errors carry the function's type and message", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN);
  auto [type, message] = h.ErrorOf("error");
  CHECK(type == "App.Failure");
  CHECK(message == "asked to fail");
  std::tie(type, message) = h.ErrorOf("throw");
  CHECK(type == "std::runtime_error");
  CHECK(message == "plain exception");
  auto next = h.InvokeCommand("echo");
  REQUIRE(next.ok());
  CHECK_FALSE(next->cold_start);  // a handled error keeps the instance warm
}

TEST_CASE("init failures are reported and retried only after a backoff", "[invoke][init]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
    c->environment["MISBEHAVE_INIT"] = "fail";
  });
  auto [type, message] = h.ErrorOf("echo");
  CHECK(type == "Runtime.InitError");
  CHECK(message == "Misbehave.InitFailure: asked to fail init");
  std::tie(type, message) = h.ErrorOf("echo");  // within the 100 ms backoff: no new process
  CHECK(type == "Runtime.InitError");
  CHECK(message.find("(1 consecutive init failures; next attempt in ") != std::string::npos);
  const auto m = h.pool().metrics();
  CHECK(m.init_failures == 1);
  CHECK(m.errors_by_type.at("Runtime.InitError") == 2);
}

TEST_CASE("an exit during init is Runtime.ExitError", "[invoke][init]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
    c->environment["MISBEHAVE_INIT"] = "exit";
  });
  const auto [type, message] = h.ErrorOf("echo");
  CHECK(type == "Runtime.ExitError");
  CHECK(message == "Runtime exited during init: exit status 4");
}

TEST_CASE("an init that never finishes times out", "[invoke][init]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
    c->environment["MISBEHAVE_INIT"] = "hang";
    c->init_timeout = 300ms;
  });
  const auto [type, message] = h.ErrorOf("echo");
  CHECK(type == "Runtime.InitError");
  CHECK(message == "init did not finish within 0.30 seconds");
  CHECK(h.pool().live_instances() == 0);
}

TEST_CASE("ReservedConcurrentExecutions 0 throttles every invoke", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN,
                  [](sluice::invoker::FunctionConfig* c) { c->max_concurrency = 0; });
  auto r = h.InvokeCommand("echo");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == sluice::Code::kResourceExhausted);
  CHECK(r.status().message().find("TooManyRequestsException") == 0);
  CHECK(h.pool().metrics().throttles == 1);
}

TEST_CASE("invokes past the concurrency limit are throttled at once, as Lambda does", "[invoke]") {
  InvokeHarness h(MISBEHAVE_BIN,
                  [](sluice::invoker::FunctionConfig* c) { c->max_concurrency = 2; });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  std::atomic<int> throttled{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto r = h.InvokeCommand("sleep 500");
      if (r.ok() && !r->is_function_error()) {
        ++ok;
      } else if (!r.ok() && r.status().code() == sluice::Code::kResourceExhausted) {
        ++throttled;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // Six invokes of 500 ms started together: at most two instances, the rest refused.
  CHECK(ok >= 2);
  CHECK(ok + throttled == 6);
  CHECK(throttled >= 1);
  CHECK(h.pool().live_instances() == 2);
  CHECK(h.pool().metrics().throttles == static_cast<uint64_t>(throttled.load()));
}

TEST_CASE("the Timeout does not include the instance's init", "[invoke][init]") {
  InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
    c->environment["MISBEHAVE_INIT"] = "sleep 1500";
    c->timeout = 1s;
  });
  auto r = h.InvokeCommand("echo");
  REQUIRE(r.ok());
  CHECK_FALSE(r->is_function_error());
  CHECK(r->cold_start);
}

// Run only inside its own pid namespace (see tests/CMakeLists.txt): if the sandbox were broken,
// kill(-1, SIGKILL) would take down everything this user may signal.
TEST_CASE("kill(-1, SIGKILL) from a function reaches nothing outside its sandbox", "[.][killall]") {
  // A bystander outside the sandbox, running as the same unprivileged uid as functions.
  const pid_t bystander = ::fork();
  REQUIRE(bystander >= 0);
  if (bystander == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(1);
    }
    ::pause();
    ::_exit(0);
  }
  {
    InvokeHarness h(MISBEHAVE_BIN);
    CHECK(h.Observe("kill-all") == "kill=-1 EPERM");
    RequireStillServing(h);
  }
  int status = 0;
  CHECK(::waitpid(bystander, &status, WNOHANG) == 0);  // still running
  ::kill(bystander, SIGKILL);
  ::waitpid(bystander, &status, 0);
}
