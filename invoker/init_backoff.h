// InitBackoff: how long to wait before starting another instance of a function whose instances
// keep failing to initialise. 0 failures: no wait. After k consecutive failures, wait
// min(initial * 2^(k-1), max). One success resets it.
//
// Thread-safety: not thread-safe; FunctionPool guards it with its mutex.
#pragma once

#include <chrono>

#include "base/clock.h"

namespace sluice::invoker {

class InitBackoff {
 public:
  // Defaults: 100 ms, doubling, at most 30 s.
  explicit InitBackoff(std::chrono::milliseconds initial = std::chrono::milliseconds(100),
                       std::chrono::milliseconds max = std::chrono::seconds(30))
      : initial_(initial), max_(max) {}

  void RecordFailure(Clock::Steady now);
  void RecordSuccess() { failures_ = 0; }

  int consecutive_failures() const { return failures_; }
  // Zero when a new instance may start at `now`, else how long until it may.
  std::chrono::milliseconds RemainingAt(Clock::Steady now) const;

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  int failures_ = 0;
  Clock::Steady not_before_{};
};

}  // namespace sluice::invoker
