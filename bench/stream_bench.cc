// In-process stream benchmark: what the pollers of later issues see, without HTTP. Prints one
// JSON line per figure: {"bench": "stream", "metric": ..., "value": ..., "unit": ...}
//
//   ingest_records_per_s (durability os | fsync): 4 writer threads each storing batches of 500
//     x 100-byte records into a 4-shard stream for 3 s. The os figure is the baseline the fsync
//     figure is compared with in the same run.
//   put_to_reader_p50_us / p99_us: one ShardReader per shard blocked in Next(); one writer puts a
//     single record every millisecond; latency = reader wake-up time - time before the put.
//
// usage: stream_bench [DATA_DIR_PARENT]   (default $TMPDIR or /tmp; a real disk for fsync)
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "stream/shard_reader.h"
#include "stream/stream_store.h"

namespace {

using namespace sluice::stream;
using Steady = std::chrono::steady_clock;

void Emit(const std::string& metric, double value, const std::string& unit,
          const std::string& durability) {
  std::printf(
      "{\"bench\": \"stream\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\", "
      "\"durability\": \"%s\"}\n",
      metric.c_str(), value, unit.c_str(), durability.c_str());
  std::fflush(stdout);
}

std::unique_ptr<StreamStore> OpenStore(const std::string& dir, Durability durability) {
  StreamStoreOptions options;
  options.data_dir = dir;
  options.log.durability = durability;
  options.retention_check_interval_ms = 0;
  auto store = StreamStore::Open(options, &sluice::Clock::Real());
  if (!store.ok()) {
    std::fprintf(stderr, "stream_bench: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  if (auto status = (*store)->CreateStream("bench", 4); !status.ok()) {
    std::fprintf(stderr, "stream_bench: %s\n", status.ToString().c_str());
    std::exit(1);
  }
  return std::move(*store);
}

void Ingest(const std::string& dir, Durability durability, const char* label) {
  auto store = OpenStore(dir, durability);
  constexpr int kWriters = 4;
  constexpr int kBatch = 500;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> stored{0};
  std::atomic<uint64_t> failed{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      std::string data(100, 'x');
      std::vector<std::string> keys;
      for (int i = 0; i < kBatch; ++i) {
        char key[32];
        std::snprintf(key, sizeof(key), "key-%d-%d", w, i);
        keys.push_back(key);
      }
      std::vector<PutInput> batch;
      for (int i = 0; i < kBatch; ++i) {
        batch.push_back({keys[i], std::nullopt, data});
      }
      while (!stop.load()) {
        auto outcomes = store->Put("bench", batch);
        if (!outcomes.ok()) {
          failed += kBatch;
          continue;
        }
        for (const PutOutcome& outcome : *outcomes) {
          (outcome.status.ok() ? stored : failed) += 1;
        }
      }
    });
  }
  const auto start = Steady::now();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& writer : writers) {
    writer.join();
  }
  const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
  Emit("ingest_records_per_s", static_cast<double>(stored.load()) / seconds, "records/s", label);
  Emit("ingest_failed_records", static_cast<double>(failed.load()), "records", label);
}

void PutToReader(const std::string& dir, Durability durability, const char* label) {
  auto store = OpenStore(dir, durability);
  constexpr int kSamples = 2000;
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(4);
  std::vector<std::thread> readers;
  for (uint32_t shard = 0; shard < 4; ++shard) {
    auto log = store->Shard("bench", shard);
    // Positioned before the writer starts, so that no sample is missed.
    readers.emplace_back([&, shard, reader = ShardReader(*log, (*log)->end_ordinal())]() mutable {
      while (!stop.load()) {
        auto read = reader.Next(100, 1 << 20, Steady::now() + std::chrono::milliseconds(50));
        const int64_t now_ns = Steady::now().time_since_epoch().count();
        if (!read.ok()) {
          return;
        }
        for (const StoredRecord& record : read->records) {
          int64_t sent_ns = 0;
          std::memcpy(&sent_ns, record.data.data(), sizeof(sent_ns));
          latencies[shard].push_back(static_cast<double>(now_ns - sent_ns) / 1000.0);
        }
      }
    });
  }
  for (int i = 0; i < kSamples; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "k%d", i);
    std::string data(sizeof(int64_t), '\0');
    const int64_t sent_ns = Steady::now().time_since_epoch().count();
    std::memcpy(data.data(), &sent_ns, sizeof(sent_ns));
    const PutInput input{key, std::nullopt, data};
    (void)store->Put("bench", {&input, 1});
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop = true;
  for (auto& reader : readers) {
    reader.join();
  }
  std::vector<double> all;
  for (const auto& shard : latencies) {
    all.insert(all.end(), shard.begin(), shard.end());
  }
  std::sort(all.begin(), all.end());
  if (all.empty()) {
    std::fprintf(stderr, "stream_bench: no samples\n");
    std::exit(1);
  }
  Emit("put_to_reader_p50_us", all[all.size() / 2], "us", label);
  Emit("put_to_reader_p99_us", all[all.size() * 99 / 100], "us", label);
  Emit("put_to_reader_samples", static_cast<double>(all.size()), "records", label);
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string parent = argc > 1 ? argv[1] : (tmp != nullptr && *tmp ? tmp : "/tmp");
  std::string root = parent + "/stream-bench-XXXXXX";
  if (::mkdtemp(root.data()) == nullptr) {
    std::perror("stream_bench: mkdtemp");
    return 1;
  }
  Ingest(root + "/ingest-os", Durability::kOs, "os");
  Ingest(root + "/ingest-fsync", Durability::kFsync, "fsync");
  PutToReader(root + "/latency-os", Durability::kOs, "os");
  PutToReader(root + "/latency-fsync", Durability::kFsync, "fsync");
  std::error_code error;
  std::filesystem::remove_all(root, error);
  return 0;
}
