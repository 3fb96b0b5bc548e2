// Unit tests of the invoker's clock-driven and concurrent parts, without processes.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "base/clock.h"
#include "base/random.h"
#include "invoker/deadline_timer.h"
#include "invoker/init_backoff.h"
#include "invoker/metrics.h"

using namespace std::chrono_literals;
using sluice::ManualClock;
using sluice::invoker::DeadlineTimer;
using sluice::invoker::FunctionMetrics;
using sluice::invoker::InitBackoff;

TEST_CASE("init backoff doubles from 100 ms up to its cap and resets on success", "[backoff]") {
  ManualClock clock;
  InitBackoff backoff(100ms, 1000ms);
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 0ms);
  backoff.RecordFailure(clock.SteadyNow());
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 100ms);
  clock.Advance(60ms);
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 40ms);
  clock.Advance(40ms);
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 0ms);
  backoff.RecordFailure(clock.SteadyNow());
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 200ms);
  backoff.RecordFailure(clock.SteadyNow());
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 400ms);
  backoff.RecordFailure(clock.SteadyNow());
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 800ms);
  for (int i = 0; i < 40; ++i) {
    backoff.RecordFailure(clock.SteadyNow());  // no overflow far past the cap
  }
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 1000ms);
  CHECK(backoff.consecutive_failures() == 44);
  backoff.RecordSuccess();
  CHECK(backoff.RemainingAt(clock.SteadyNow()) == 0ms);
}

TEST_CASE("metrics count errors by type and estimate percentiles", "[metrics]") {
  FunctionMetrics metrics("unit-test", "$LATEST");
  for (int i = 0; i < 98; ++i) {
    metrics.RecordInvoke(1ms, "");
  }
  metrics.RecordInvoke(100ms, "Sandbox.Timedout");
  metrics.RecordInvoke(100ms, "Sandbox.Timedout");
  metrics.RecordColdStart();
  metrics.RecordThrottle();
  const auto s = metrics.Snapshot();
  CHECK(s.invocations == 100);
  CHECK(s.errors == 2);
  CHECK(s.errors_by_type.at("Sandbox.Timedout") == 2);
  CHECK(s.cold_starts == 1);
  CHECK(s.throttles == 1);
  CHECK(s.duration_p50_ms == Approx(1.0).epsilon(0.1));
  CHECK(s.duration_p99_ms == Approx(100.0).epsilon(0.1));
  CHECK(s.duration_max_ms == Approx(100.0));
}

TEST_CASE("the deadline timer fires in order and cancelled deadlines never fire", "[timer]") {
  DeadlineTimer timer;
  std::atomic<int> fired{0};
  std::atomic<int> order{0};
  int first_at = -1, second_at = -1;
  const auto now = std::chrono::steady_clock::now();
  timer.Arm(now + 30ms, [&] {
    second_at = order++;
    ++fired;
  });
  timer.Arm(now + 10ms, [&] {
    first_at = order++;
    ++fired;
  });
  const uint64_t cancelled = timer.Arm(now + 20ms, [&] { ++fired; });
  CHECK(timer.Cancel(cancelled));
  CHECK_FALSE(timer.Cancel(cancelled));
  for (int i = 0; i < 200 && fired < 2; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  std::this_thread::sleep_for(20ms);
  CHECK(fired == 2);
  CHECK(first_at == 0);
  CHECK(second_at == 1);
}

TEST_CASE("cancelling a deadline that already fired says so", "[timer]") {
  DeadlineTimer timer;
  std::atomic<bool> fired{false};
  const uint64_t id = timer.Arm(std::chrono::steady_clock::now(), [&] { fired = true; });
  for (int i = 0; i < 200 && !fired; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  REQUIRE(fired);
  CHECK_FALSE(timer.Cancel(id));
}

TEST_CASE("random hex ids have the asked length, hex digits only, and differ", "[random]") {
  const std::string a = sluice::RandomHex(16);
  const std::string b = sluice::RandomHex(16);
  CHECK(a.size() == 32);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(sluice::RandomHex(0).empty());
}
