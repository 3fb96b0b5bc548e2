// The function host_services_bench runs: times key-value calls from inside a function.
//
// Each record's data is "<calls> <keys>": the function makes <calls> KvGet calls, then <calls>
// KvUpdate (ADD) calls, on keys "k-0" .. "k-<keys-1>" of table "bench", timing each call, and
// prints one line: "kv-latency-us get <p50> <p99> update <p50> <p99>".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "sluice/function.h"

namespace {

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
  using Clock = std::chrono::steady_clock;
  for (const sluice::KinesisRecord& record : batch.records()) {
    int calls = 0, keys = 1;
    std::sscanf(record.data().c_str(), "%d %d", &calls, &keys);
    std::vector<double> gets, updates;
    for (int i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      ctx.kv().Get("bench", "k-" + std::to_string(i % keys));
      gets.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    for (int i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      ctx.kv().Update("bench", "k-" + std::to_string(i % keys), {sluice::kv::Add("n", "1")});
      updates.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    std::printf("kv-latency-us get %.1f %.1f update %.1f %.1f\n", Percentile(gets, 0.5),
                Percentile(gets, 0.99), Percentile(updates, 0.5), Percentile(updates, 0.99));
  }
  return {};
}

}  // namespace

int main() {
  return sluice::Run(Handle);
}
