// A bounded stress run: several threads invoke one function at once with a mix of commands
// whose outcomes are known, at a concurrency limit below the thread count. Every result must be
// its command's exact outcome or a throttle, and afterwards nothing may be left behind: no
// child processes, no file descriptors, no cgroups.
#include <dirent.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <thread>

#include "tests/support/invoke_harness.h"

using sluice::testing::InvokeHarness;
using namespace std::chrono_literals;

namespace {

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      n += e->d_name[0] != '.';
    }
    ::closedir(d);
  }
  return n;
}

// Processes whose parent is this test process.
size_t CountChildren() {
  size_t n = 0;
  const std::string me = std::to_string(::getpid());
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
      std::string pid, comm, state, ppid;
      if (stat >> pid >> comm >> state >> ppid && ppid == me) {
        ++n;
      }
    }
    ::closedir(d);
  }
  return n;
}

}  // namespace

TEST_CASE("concurrent invokes with crashes, timeouts and errors: exact outcomes, nothing leaked",
          "[invoke][stress]") {
  // The expected error type of each command ("" for success).
  const std::vector<std::pair<std::string, std::string>> mix = {
      {"echo", ""}, {"error", "App.Failure"},           {"crash SEGV", "Runtime.ExitError"},
      {"echo", ""}, {"exit 3", "Runtime.ExitError"},    {"sleep 20", ""},
      {"echo", ""}, {"sleep 3000", "Sandbox.Timedout"},
  };
  {
    // gRPC keeps a few process-wide fds (its poller) from its first use on: start it up first.
    InvokeHarness warm_up(MISBEHAVE_BIN);
    REQUIRE(warm_up.InvokeCommand("echo").ok());
  }
  const size_t fds_before = CountEntries("/proc/self/fd");
  const size_t cgroups_before = CountEntries("/sys/fs/cgroup/pids/sluice");
  std::atomic<int> throttled{0}, exact{0}, wrong{0};
  {
    InvokeHarness h(MISBEHAVE_BIN, [](sluice::invoker::FunctionConfig* c) {
      c->timeout = 1s;
      c->max_concurrency = 3;
    });
    std::vector<std::thread> threads;
    for (int t = 0; t < 5; ++t) {
      threads.emplace_back([&, t] {
        for (size_t i = 0; i < 2 * mix.size(); ++i) {
          const auto& [command, expected] = mix[(i + t * 3) % mix.size()];
          auto r = h.InvokeCommand(command);
          if (!r.ok()) {
            (r.status().code() == sluice::Code::kResourceExhausted ? throttled : wrong)++;
            continue;
          }
          const std::string got = r->is_function_error() ? r->response.error().error_type() : "";
          (got == expected ? exact : wrong)++;
          if (got != expected) {
            WARN(command << ": expected \"" << expected << "\", got \"" << got << "\"");
          }
        }
      });
    }
    for (auto& thread : threads) {
      thread.join();
    }
    CHECK(h.pool().live_instances() <= 3);
  }
  CHECK(wrong == 0);
  CHECK(exact + throttled == 5 * 2 * static_cast<int>(mix.size()));
  CHECK(exact > 20);
  CHECK(CountChildren() == 0);
  CHECK(CountEntries("/proc/self/fd") == fds_before);
  CHECK(CountEntries("/sys/fs/cgroup/pids/sluice") == cgroups_before);
}
