#include "invoker/metrics.h"

#include <algorithm>
#include <cmath>

namespace sluice::invoker {

void FunctionMetrics::RecordInvoke(std::chrono::nanoseconds duration,
                                   const std::string& error_type) {
  const double us = std::max(1.0, duration.count() / 1000.0);
  const int bucket = std::clamp(static_cast<int>(std::log2(us) * 8), 0, kBuckets - 1);
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.invocations;
  if (!error_type.empty()) {
    ++counts_.errors;
    ++counts_.errors_by_type[error_type];
  }
  ++histogram_[bucket];
  max_us_ = std::max(max_us_, us);
}

void FunctionMetrics::RecordColdStart() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.cold_starts;
}

void FunctionMetrics::RecordInitFailure() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.init_failures;
}

void FunctionMetrics::RecordThrottle() {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.throttles;
}

MetricsSnapshot FunctionMetrics::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  MetricsSnapshot s = counts_;
  uint64_t total = 0;
  for (uint64_t c : histogram_) {
    total += c;
  }
  auto percentile = [&](double p) {
    if (total == 0) {
      return 0.0;
    }
    const uint64_t rank = static_cast<uint64_t>(std::ceil(p * total));
    uint64_t seen = 0;
    for (int i = 0; i < kBuckets; ++i) {
      seen += histogram_[i];
      if (seen >= rank) {
        // The bucket's geometric middle, in ms.
        return std::pow(2.0, (i + 0.5) / 8.0) / 1000.0;
      }
    }
    return max_us_ / 1000.0;
  };
  s.duration_p50_ms = percentile(0.50);
  s.duration_p99_ms = percentile(0.99);
  s.duration_max_ms = max_us_ / 1000.0;
  return s;
}

}  // namespace sluice::invoker
