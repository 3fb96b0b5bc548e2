// The function mapping_bench measures put-to-invoke latency with. Each record's first 8 bytes
// hold the time its producer called StreamStore::Put (CLOCK_REALTIME ns, native byte order).
// When its handler starts, the function reads CLOCK_REALTIME once and prints one line per batch:
//   "put-to-invoke-us <latency of record 1> <latency of record 2> ..."
// (microseconds, integers), which the bench reads through the host's log capture. Records with a
// zero stamp (warm-up) are left out. CLOCK_REALTIME, not CLOCK_MONOTONIC: the function may run in
// its own time namespace, which shifts the monotonic clock but never the real-time one.
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "sluice/function.h"

namespace {

int64_t RealtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context&) {
  const int64_t now_ns = RealtimeNs();
  std::string line = "put-to-invoke-us";
  line.reserve(16 + 8 * static_cast<size_t>(batch.records().size()));
  char number[32];
  for (const sluice::KinesisRecord& record : batch.records()) {
    int64_t put_ns = 0;
    if (record.data().size() < sizeof(put_ns)) {
      continue;
    }
    std::memcpy(&put_ns, record.data().data(), sizeof(put_ns));
    if (put_ns == 0) {
      continue;
    }
    std::snprintf(number, sizeof(number), " %lld",
                  static_cast<long long>((now_ns - put_ns) / 1000));
    line += number;
  }
  std::puts(line.c_str());  // stdout is line-buffered: the host has it before the answer
  return {};
}

}  // namespace

int main() {
  return sluice::Run(Handle);
}
