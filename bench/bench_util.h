// Small helpers the benchmarks share: the wall clock in nanoseconds (to compare times across
// processes), seconds of a steady-clock duration, percentiles of sorted samples, and the
// command line of a benchmark that picks its figures.
#pragma once

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <optional>
#include <string>
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

// `NAME BENCH_BINARY_DIR [--quick] [--only FIGURE]`.
struct BenchArgs {
  std::string binary_dir;
  bool quick = false;  // fewer records, for a smoke run
  std::string only;    // the one figure to run; "" for all
  bool Runs(const std::string& figure) const { return only.empty() || only == figure; }
};

// The arguments, or nullopt after saying what was wrong on stderr (the caller exits 2).
inline std::optional<BenchArgs> ParseBenchArgs(int argc, char** argv, const std::string& name) {
  if (argc < 2) {
    std::cerr << "usage: " << name << " BENCH_BINARY_DIR [--quick] [--only FIGURE]" << std::endl;
    return std::nullopt;
  }
  BenchArgs args;
  args.binary_dir = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      args.quick = true;
    } else if (arg == "--only" && i + 1 < argc) {
      args.only = argv[++i];
    } else {
      std::cerr << name << ": unknown argument " << arg << std::endl;
      return std::nullopt;
    }
  }
  return args;
}

}  // namespace sluice::bench
