#include "base/metrics.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace sluice {
namespace {

enum class Kind { kCounter, kGauge, kHistogram };

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kCounter: return "counter";
    case Kind::kGauge: return "gauge";
    case Kind::kHistogram: return "histogram";
  }
  return "untyped";
}

// Label values escape backslash, double quote and newline (the text format's rule).
std::string Escape(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// "{a=\"x\",b=\"y\"}", or "" with no labels; `extra` (e.g. le="0.5") goes last.
std::string LabelText(const MetricLabels& labels, const std::string& extra = "") {
  if (labels.empty() && extra.empty()) {
    return "";
  }
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) {
      out += ',';
    }
    out += name + "=\"" + Escape(value) + "\"";
  }
  if (!extra.empty()) {
    if (out.size() > 1) {
      out += ',';
    }
    out += extra;
  }
  return out + "}";
}

std::string Number(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.17g", value);
  return text;
}

}  // namespace

struct MetricsRegistry::Family {
  Kind kind;
  std::string help;
  std::map<MetricLabels, std::unique_ptr<Counter>> counters;
  std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
  std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
};

void Histogram::Observe(double seconds) {
  const auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  counts_[bound - kBounds.begin()].fetch_add(1, std::memory_order_relaxed);
  const double nanos = std::max(0.0, seconds) * 1e9;
  sum_nanos_.fetch_add(static_cast<uint64_t>(nanos), std::memory_order_relaxed);
}

std::array<uint64_t, Histogram::kBounds.size() + 1> Histogram::Buckets() const {
  std::array<uint64_t, kBounds.size() + 1> cumulative{};
  uint64_t running = 0;
  for (size_t i = 0; i < cumulative.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    cumulative[i] = running;
  }
  return cumulative;
}

double Histogram::sum() const {
  return sum_nanos_.load(std::memory_order_relaxed) / 1e9;
}

uint64_t Histogram::count() const {
  return Buckets().back();
}

MetricsRegistry& MetricsRegistry::Global() {
  static MetricsRegistry* registry = new MetricsRegistry();  // never destroyed: used at exit
  return *registry;
}

MetricsRegistry::Family& MetricsRegistry::FamilyFor(const std::string& name,
                                                    const std::string& help, int kind) {
  std::unique_ptr<Family>& family = families_[name];
  if (!family) {
    family = std::make_unique<Family>();
    family->kind = static_cast<Kind>(kind);
    family->help = help;
  } else if (family->kind != static_cast<Kind>(kind)) {
    // A programming error: one name, two types. Crash: the exposition would be invalid.
    std::cerr << "sluice: metric " << name << " registered as two types" << std::endl;
    std::abort();
  }
  return *family;
}

namespace {

template <typename Metric>
Metric& Series(std::map<MetricLabels, std::unique_ptr<Metric>>& series,
               const MetricLabels& labels) {
  std::unique_ptr<Metric>& metric = series[labels];
  if (!metric) {
    metric = std::make_unique<Metric>();
  }
  return *metric;
}

}  // namespace

Counter& MetricsRegistry::GetCounter(const std::string& name, const std::string& help,
                                     const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return Series(FamilyFor(name, help, static_cast<int>(Kind::kCounter)).counters, labels);
}

Gauge& MetricsRegistry::GetGauge(const std::string& name, const std::string& help,
                                 const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return Series(FamilyFor(name, help, static_cast<int>(Kind::kGauge)).gauges, labels);
}

Histogram& MetricsRegistry::GetHistogram(const std::string& name, const std::string& help,
                                         const MetricLabels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  return Series(FamilyFor(name, help, static_cast<int>(Kind::kHistogram)).histograms, labels);
}

int MetricsRegistry::AddCollector(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_[next_collector_] = std::move(collect);
  return next_collector_++;
}

void MetricsRegistry::RemoveCollector(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.erase(id);
}

std::string MetricsRegistry::RenderPrometheus() {
  // Collectors set gauges through Get*, which takes mu_: run them first, without it.
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, collect] : collectors_) {
      collectors.push_back(collect);
    }
  }
  for (const auto& collect : collectors) {
    collect();
  }
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    out += "# HELP " + name + " " + family->help + "\n";
    out += "# TYPE " + name + " " + KindName(family->kind) + "\n";
    for (const auto& [labels, counter] : family->counters) {
      out += name + LabelText(labels) + " " + std::to_string(counter->value()) + "\n";
    }
    for (const auto& [labels, gauge] : family->gauges) {
      out += name + LabelText(labels) + " " + std::to_string(gauge->value()) + "\n";
    }
    for (const auto& [labels, histogram] : family->histograms) {
      const auto buckets = histogram->Buckets();
      for (size_t i = 0; i < buckets.size(); ++i) {
        const std::string le =
            i < Histogram::kBounds.size() ? Number(Histogram::kBounds[i]) : "+Inf";
        out += name + "_bucket" + LabelText(labels, "le=\"" + le + "\"") + " " +
               std::to_string(buckets[i]) + "\n";
      }
      out += name + "_sum" + LabelText(labels) + " " + Number(histogram->sum()) + "\n";
      out += name + "_count" + LabelText(labels) + " " + std::to_string(buckets.back()) + "\n";
    }
  }
  return out;
}

}  // namespace sluice
