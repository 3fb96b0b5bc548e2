// StopSignal: tells a worker thread to stop, and lets it sleep until a deadline of a Clock unless
// told to stop first, so retry delays never hold up a shutdown and tests with a ManualClock need
// not sleep.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

#include "base/clock.h"

namespace sluice {

class StopSignal {
 public:
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  bool stopped() const {
    std::lock_guard<std::mutex> lock(mu_);
    return stopped_;
  }
  // Blocks until `clock` reaches `deadline` (true) or Stop() is called (false).
  bool SleepUntil(const Clock& clock, Clock::Steady deadline) const {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_ && clock.SteadyNow() < deadline) {
      cv_.wait_for(lock, clock.RealWaitUntil(deadline));
    }
    return !stopped_;
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool stopped_ = false;
};

}  // namespace sluice
