// FunctionMetrics: a function's counters: invocations, errors by type, cold starts, init
// failures, throttles, and invoke durations (as a log-scale histogram for percentiles). Every
// record also goes to the process-wide Prometheus registry (base/metrics.h), labelled with the
// function and version, as sluice_invocations_total, sluice_invocation_errors_total{error_type}
// (the host's error types of invoker/instance.h, such as Sandbox.Timedout, or "Handled" for
// any type the function reports itself),
// sluice_invocation_duration_seconds, sluice_cold_starts_total, sluice_init_failures_total,
// sluice_throttles_total and sluice_instances (live instances of all pools of that version).
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "base/metrics.h"

namespace sluice::invoker {

struct MetricsSnapshot {
  uint64_t invocations = 0;  // invokes that reached an instance (success or function error)
  uint64_t errors = 0;       // function errors of any type
  // "Sandbox.Timedout" -> 2, ...; the function's own error types are counted as "Handled".
  std::map<std::string, uint64_t> errors_by_type;
  uint64_t cold_starts = 0;    // instances started to serve an invoke
  uint64_t init_failures = 0;  // instances that failed to initialise
  uint64_t throttles = 0;      // invokes refused at the concurrency limit
  double duration_p50_ms = 0;  // invoke durations, from the histogram (±6% resolution)
  double duration_p99_ms = 0;
  double duration_max_ms = 0;
};

class FunctionMetrics {
 public:
  FunctionMetrics(const std::string& function, const std::string& version);

  void RecordInvoke(std::chrono::nanoseconds duration, const std::string& error_type);
  void RecordColdStart();
  void RecordInitFailure();
  void RecordThrottle();
  // An instance started (+1) or ended (-1), counting those still initialising.
  void RecordInstances(int delta);
  MetricsSnapshot Snapshot() const;

 private:
  const MetricLabels labels_;
  Counter& invocations_;
  Histogram& durations_;
  Counter& cold_starts_;
  Counter& init_failures_;
  Counter& throttles_;
  Gauge& instances_;

  // Bucket i holds durations in [2^(i/8), 2^((i+1)/8)) microseconds.
  static constexpr int kBuckets = 8 * 40;
  mutable std::mutex mu_;
  MetricsSnapshot counts_;
  std::array<uint64_t, kBuckets> histogram_{};
  double max_us_ = 0;
};

}  // namespace sluice::invoker
