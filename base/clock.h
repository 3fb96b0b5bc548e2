// Clock: the one source of time for logic that has timeouts, backoffs or windows, so that logic
// can be tested with a ManualClock instead of sleeping.
//
// Thread-safety: both implementations are safe to call from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  // Monotonic time, for durations and deadlines inside the host.
  virtual Steady SteadyNow() const = 0;
  // Wall-clock Unix time in milliseconds, for timestamps that leave the process.
  virtual int64_t UnixMillis() const = 0;
  // How long a thread should block (on a condition variable, in real time) before it looks at
  // this clock again to see `deadline` pass: the time left for the real clock; a short slice for
  // a ManualClock, which a test moves from another thread. Never negative.
  virtual std::chrono::nanoseconds RealWaitUntil(Steady deadline) const {
    return std::max(deadline - SteadyNow(), Steady::duration::zero());
  }

  // The process-wide real clock.
  static Clock& Real();
};

// A clock that moves only when told to. Starts at steady epoch + 1 h and Unix time 1.7e12 ms.
class ManualClock : public Clock {
 public:
  Steady SteadyNow() const override { return Steady(std::chrono::nanoseconds(steady_ns_.load())); }
  int64_t UnixMillis() const override { return unix_ms_.load(); }
  std::chrono::nanoseconds RealWaitUntil(Steady deadline) const override {
    return std::clamp<std::chrono::nanoseconds>(deadline - SteadyNow(), std::chrono::nanoseconds(0),
                                                std::chrono::milliseconds(2));
  }
  void Advance(std::chrono::nanoseconds d) {
    steady_ns_ += d.count();
    unix_ms_ += std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

 private:
  std::atomic<int64_t> steady_ns_{int64_t{3600} * 1000 * 1000 * 1000};
  std::atomic<int64_t> unix_ms_{1'700'000'000'000};
};

}  // namespace sluice
