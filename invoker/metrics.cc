#include "invoker/metrics.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "invoker/instance.h"

namespace sluice::invoker {

FunctionMetrics::FunctionMetrics(const std::string& function, const std::string& version)
    : labels_{{"function", function}, {"version", version}},
      invocations_(MetricsRegistry::Global().GetCounter(
          "sluice_invocations_total", "Invokes that reached an instance (success or error).",
          labels_)),
      durations_(MetricsRegistry::Global().GetHistogram(
          "sluice_invocation_duration_seconds", "Invoke durations, as the function ran them.",
          labels_)),
      cold_starts_(MetricsRegistry::Global().GetCounter(
          "sluice_cold_starts_total", "Instances started to serve an invoke.", labels_)),
      init_failures_(MetricsRegistry::Global().GetCounter(
          "sluice_init_failures_total", "Instances that failed to initialise.", labels_)),
      throttles_(MetricsRegistry::Global().GetCounter(
          "sluice_throttles_total", "Invokes refused at the concurrency limit.", labels_)),
      instances_(MetricsRegistry::Global().GetGauge(
          "sluice_instances", "Live function instances (busy, idle or starting).", labels_)) {}

void FunctionMetrics::RecordInstances(int delta) {
  instances_.Add(delta);
}

void FunctionMetrics::RecordInvoke(std::chrono::nanoseconds duration,
                                   const std::string& error_type) {
  invocations_.Increment();
  durations_.Observe(std::chrono::duration<double>(duration).count());
  // The host's own error types are a fixed set; a function's are whatever it reports, so they
  // are counted together ("Handled"), and a function cannot make the counts grow without bound.
  static const std::set<std::string> kHostTypes = {kSandboxTimedout,        kRuntimeExitError,
                                                   kRuntimeOutOfMemory,     kRuntimeInitError,
                                                   kRuntimeInvalidResponse, kResponseSizeTooLarge};
  const std::string counted_type =
      error_type.empty() || kHostTypes.count(error_type) != 0 ? error_type : "Handled";
  if (!counted_type.empty()) {
    MetricLabels labels = labels_;
    labels.emplace_back("error_type", counted_type);
    MetricsRegistry::Global()
        .GetCounter("sluice_invocation_errors_total", "Function errors, by error type.", labels)
        .Increment();
  }
  const double us = std::max(1.0, duration.count() / 1000.0);
  const int bucket = std::clamp(static_cast<int>(std::log2(us) * 8), 0, kBuckets - 1);
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.invocations;
  if (!error_type.empty()) {
    ++counts_.errors;
    ++counts_.errors_by_type[counted_type];
  }
  ++histogram_[bucket];
  max_us_ = std::max(max_us_, us);
}

void FunctionMetrics::RecordColdStart() {
  cold_starts_.Increment();
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.cold_starts;
}

void FunctionMetrics::RecordInitFailure() {
  init_failures_.Increment();
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_.init_failures;
}

void FunctionMetrics::RecordThrottle() {
  throttles_.Increment();
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
