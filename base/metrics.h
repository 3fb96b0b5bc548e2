// Metrics: counters, gauges and histograms with labels, kept in one process-wide registry and
// rendered in Prometheus's text format (version 0.0.4) at the host's /metrics.
//
//   static Counter& puts = MetricsRegistry::Global().GetCounter(
//       "sluice_kv_operations_total", "Key-value operations.", {{"op", "put"}});
//   puts.Increment();
//
// Get* returns the same object for the same name and labels, created on first use, valid for the
// life of the process: look it up once and keep the reference on hot paths. Names follow
// Prometheus's conventions (sluice_ prefix, _total for counters, _seconds for durations); a
// name is registered with one type and help text.
//
// Thread-safety: everything is thread-safe; updates are lock-free.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Durations in seconds, with fixed buckets from 100 µs to 60 s (roughly x2.5 apart).
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10, 60};
  void Observe(double seconds);
  // Cumulative counts per bound, then +Inf; the sum in seconds.
  std::array<uint64_t, kBounds.size() + 1> Buckets() const;
  double sum() const;
  uint64_t count() const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};  // not cumulative
  std::atomic<uint64_t> sum_nanos_{0};
};

class MetricsRegistry {
 public:
  static MetricsRegistry& Global();

  Counter& GetCounter(const std::string& name, const std::string& help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(const std::string& name, const std::string& help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(const std::string& name, const std::string& help,
                          const MetricLabels& labels = {});

  // A function called at every render, for values read at scrape time (queue depths, live
  // instances); it sets gauges. Returns an id for RemoveCollector.
  int AddCollector(std::function<void()> collect);
  void RemoveCollector(int id);

  // The whole registry in Prometheus text format: families sorted by name, series by labels.
  std::string RenderPrometheus();

 private:
  struct Family;
  // The family `name`, created with `help` on first use. REQUIRES: mu_ held.
  Family& FamilyFor(const std::string& name, const std::string& help, int kind);

  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::map<int, std::function<void()>> collectors_;
  int next_collector_ = 0;
};

}  // namespace sluice
