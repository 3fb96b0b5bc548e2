// Small helpers the benchmarks share: the wall clock in nanoseconds (to compare times across
// processes), seconds of a steady-clock duration, and percentiles of sorted samples.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace sluice::bench {

inline int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// The p-quantile (0 <= p <= 1) of ascending `sorted`, 0 when empty.
inline double Percentile(const std::vector<double>& sorted, double p) {
  return sorted.empty()
             ? 0
             : sorted[std::min(sorted.size() - 1,
                               static_cast<size_t>(p * static_cast<double>(sorted.size())))];
}

}  // namespace sluice::bench
