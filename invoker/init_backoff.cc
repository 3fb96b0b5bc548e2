#include "invoker/init_backoff.h"

#include <algorithm>

namespace sluice::invoker {

void InitBackoff::RecordFailure(Clock::Steady now) {
  ++failures_;
  // Cap the exponent before shifting: 2^20 * 100 ms is already far past any sane max.
  const int exponent = std::min(failures_ - 1, 20);
  const auto wait = std::min<std::chrono::milliseconds>(initial_ * (int64_t{1} << exponent), max_);
  not_before_ = now + wait;
}

std::chrono::milliseconds InitBackoff::RemainingAt(Clock::Steady now) const {
  if (failures_ == 0 || now >= not_before_) {
    return std::chrono::milliseconds(0);
  }
  return std::chrono::ceil<std::chrono::milliseconds>(not_before_ - now);
}

}  // namespace sluice::invoker
