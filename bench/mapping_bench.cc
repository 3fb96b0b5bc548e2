// End-to-end benchmark of event source mappings: records put into an in-process StreamStore,
// read by the PollerService's shard pollers, invoked on a real sandboxed function pool, and
// checkpointed through the EffectCommitter into SQLite, all in this process with the real clock.
// Prints one JSON line per figure:
//   {"bench": "mapping", "metric": ..., "value": ..., "unit": ..., <settings of the figure>}
// Records are 100 bytes; the figure's shards, BatchSize and ParallelizationFactor are extra
// fields. Every phase uses a fresh stream and mapping (TRIM_HORIZON), deleted afterwards.
//
// Figures:
//   1. baseline_put_read_records_per_s: the stream alone, one producer thread putting 500-record
//      calls and one ShardReader thread per shard (4 shards), the producer held to at most
//      `backlog_cap` records ahead of the readers; what the invoke path is compared with.
//   2. put_to_invoke_p50/p99/max_ms at 1,000, 10,000 and 100,000 records/s (4 shards, BatchSize
//      100, no batching window): one producer thread puts records at the pace, each stamped
//      (first 8 bytes) with CLOCK_REALTIME just before its StreamStore::Put call; the function
//      (bench/latency_probe) subtracts that from CLOCK_REALTIME when its handler starts and
//      prints the batch's latencies, which come back through the log capture. Instances are
//      warmed first (unstamped records), so cold starts are not in the figures. mean_batch is
//      the records per invoke (a lane invokes with whatever has arrived when it is free).
//   3. sustained_records_per_s (4 shards, BatchSize 10,000 and 1,000, pass-through function):
//      one producer thread puts 500-record calls as fast as it can while staying at most
//      `backlog_cap` (3 x BatchSize x shards) records ahead of the mapping's checkpoints, so
//      producer and pollers share the 2 cores as in production; after a 1 s warm-up the records
//      checkpointed over a 3 s interval are counted. A closed loop finds the rate both sides
//      sustain together, which an open-loop producer could only find by searching. Printed with
//      it, at the start and end of the interval: the largest shard iterator age (the age of the
//      last record of the shard's last batch when it was invoked) and the lag (records put and
//      not yet checkpointed). Then sustained_paced_check_records_per_s: an open-loop producer at
//      80% of the better closed-loop rate, with the better BatchSize; a flat lag and iterator
//      age there show the rate is sustained, not just reached.
//   4. drain_records_per_s (4 shards, the better BatchSize of 3): the pollers alone, through a
//      backlog put before the mapping exists (2 s of the sustained rate); counted between 10% and
//      90% of the backlog, so the instances' start and the last batches are left out.
//   5. throughput vs shards 1, 2, 4, 8 (ParallelizationFactor 1) and vs ParallelizationFactor
//      1, 2, 4 (1 shard), BatchSize 1,000, measured as in 3 over 2 s.
// The whole run takes about a minute.
//
// usage: mapping_bench BENCH_BINARY_DIR [--quick] [--only FIGURE]
//   BENCH_BINARY_DIR holds latency_probe and passthrough; FIGURE is one of baseline, latency,
//   sustained, drain, shards, parallelization (for profiling one of them). The data (streams,
//   SQLite) lives in a temporary directory under $TMPDIR (default /tmp), removed at the end.
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "bench/bench_util.h"
#include "invoker/function_pool.h"
#include "poller/function_resolver.h"
#include "poller/mapping_config.h"
#include "poller/poller_service.h"
#include "sandbox/launcher.h"
#include "state/effect_committer.h"
#include "state/state_db.h"
#include "stream/sequence_number.h"
#include "stream/shard_reader.h"
#include "stream/stream_store.h"

namespace {

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using sluice::bench::BenchArgs;
using sluice::bench::ParseBenchArgs;
using sluice::bench::Percentile;
using sluice::bench::RealtimeNs;
using sluice::bench::Seconds;
using sluice::poller::MappingConfig;
using sluice::poller::PollerService;

constexpr size_t kRecordBytes = 100;
constexpr int kKeys = 4096;     // distinct partition keys, spread over every shard
constexpr int kPutBatch = 500;  // records per Put call when putting as fast as possible
constexpr int kMaxShards = 8;
constexpr int kMaxParallelization = 4;

// The run's temporary directory, removed by Die too. (The function processes end with this one:
// the sandbox kills an instance whose host dies.)
std::string temp_root;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "mapping_bench: " << what << std::endl;
  if (!temp_root.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_root, ec);
  }
  std::exit(1);
}

// `extra` is a list of JSON members (`"shards": 4, ...`) naming the figure's settings.
void Emit(const std::string& metric, double value, const std::string& unit,
          const std::string& extra) {
  std::printf(
      "{\"bench\": \"mapping\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"%s%s}\n",
      metric.c_str(), value, unit.c_str(), extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

std::string Settings(int shards, int batch_size, int parallelization) {
  return "\"shards\": " + std::to_string(shards) +
         ", \"batch_size\": " + std::to_string(batch_size) +
         ", \"parallelization\": " + std::to_string(parallelization);
}

const std::vector<std::string>& Keys() {
  static const std::vector<std::string> keys = [] {
    std::vector<std::string> k;
    for (int i = 0; i < kKeys; ++i) {
      k.push_back("key-" + std::to_string(i));
    }
    return k;
  }();
  return keys;
}

// Puts records into one stream. Each record is 100 bytes: the put time (CLOCK_REALTIME ns, or
// 0 for unstamped records) in bytes 0-7, the record's index in bytes 8-15, then filler.
class Producer {
 public:
  Producer(sluice::stream::StreamStore* store, std::string stream)
      : store_(store), stream_(std::move(stream)) {}

  // Puts `count` records in one call; returns how many were stored.
  size_t Put(size_t count, bool stamped) {
    data_.resize(count);
    inputs_.resize(count);
    const int64_t stamp = stamped ? RealtimeNs() : 0;
    for (size_t i = 0; i < count; ++i) {
      std::string& d = data_[i];
      d.assign(kRecordBytes, 'x');
      std::memcpy(d.data(), &stamp, sizeof(stamp));
      const uint64_t index = next_index_++;
      std::memcpy(d.data() + 8, &index, sizeof(index));
      inputs_[i] = {Keys()[index % kKeys], std::nullopt, d};
    }
    auto outcomes = store_->Put(stream_, inputs_);
    if (!outcomes.ok()) {
      Die("put: " + outcomes.status().ToString());
    }
    size_t stored = 0;
    for (const auto& outcome : *outcomes) {
      if (!outcome.status.ok()) {
        Die("put: " + outcome.status.ToString());
      }
      ++stored;
    }
    return stored;
  }

 private:
  sluice::stream::StreamStore* store_;
  const std::string stream_;
  uint64_t next_index_ = 0;
  std::vector<std::string> data_;
  std::vector<sluice::stream::PutInput> inputs_;
};

class Resolver final : public sluice::poller::FunctionResolver {
 public:
  std::shared_ptr<sluice::invoker::FunctionPool> Find(const std::string& name,
                                                      const std::string& qualifier) override {
    auto it = pools.find(name);
    return it == pools.end() || qualifier != "$LATEST" ? nullptr : it->second;
  }
  std::map<std::string, std::shared_ptr<sluice::invoker::FunctionPool>> pools;  // set up front
};

// Where a mapping is: records checkpointed (the stream is fresh, so a shard's checkpoint
// ordinal + 1 counts its finished records) and the largest shard iterator age.
struct MappingProgress {
  uint64_t done = 0;
  int64_t max_iterator_age_ms = 0;
  uint64_t failed = 0, throttles = 0, retries = 0;
};

// The in-process host: stream store, state database, committer, function pools, pollers.
class Bench {
 public:
  Bench(const std::string& binary_dir, bool quick) : quick_(quick) {
    const char* tmp = std::getenv("TMPDIR");
    root_ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/sluice-mapping-bench-XXXXXX";
    if (::mkdtemp(root_.data()) == nullptr) {
      Die("mkdtemp failed");
    }
    temp_root = root_;
    fs::permissions(root_, fs::perms(0711));
    fs::create_directories(root_ + "/scratch");

    auto launcher = sluice::sandbox::SandboxLauncher::Create({});
    if (!launcher.ok()) {
      Die(launcher.status().ToString());
    }
    launcher_ = std::move(*launcher);
    int on = 0;
    for (const auto& layer : launcher_->layers()) {
      on += layer.on;
    }
    std::cerr << "mapping_bench: sandbox layers on: " << on << " of " << launcher_->layers().size()
              << std::endl;
    auto server = sluice::invoker::RuntimeServer::Start(root_ + "/runtime",
                                                        !launcher_->FunctionSeesFixedPaths());
    if (!server.ok()) {
      Die(server.status().ToString());
    }
    server_ = std::move(*server);
    logs_ = std::make_unique<sluice::invoker::LogCapture>(
        [this](const sluice::invoker::LogLine& line) { OnLogLine(line); });
    timer_ = std::make_unique<sluice::invoker::DeadlineTimer>();
    for (const std::string name : {"latency_probe", "passthrough"}) {
      AddFunction(binary_dir, name);
    }

    sluice::stream::StreamStoreOptions options;
    options.data_dir = root_ + "/data";
    options.log.durability = sluice::stream::Durability::kOs;
    options.retention_check_interval_ms = 0;
    auto streams = sluice::stream::StreamStore::Open(options, &sluice::Clock::Real());
    if (!streams.ok()) {
      Die(streams.status().ToString());
    }
    streams_ = std::move(*streams);
    auto db = sluice::state::StateDb::Open(root_ + "/sluice.db", sluice::state::DbDurability::kOs);
    if (!db.ok()) {
      Die(db.status().ToString());
    }
    db_ = std::move(*db);
    committer_ =
        std::make_unique<sluice::state::EffectCommitter>(db_.get(), &sluice::Clock::Real());

    sluice::poller::PollerServiceDeps deps;
    deps.streams = streams_.get();
    deps.db = db_.get();
    deps.committer = committer_.get();
    deps.functions = &resolver_;
    deps.clock = &sluice::Clock::Real();
    deps.topic_exists = [](const std::string&) { return false; };
    deps.stream_arn = [](const std::string& stream) {
      return "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream;
    };
    auto service = PollerService::Start(std::move(deps));
    if (!service.ok()) {
      Die(service.status().ToString());
    }
    service_ = std::move(*service);
  }

  ~Bench() {
    service_.reset();         // stops every poller; invokes in flight finish
    resolver_.pools.clear();  // ends every function instance and its processes
    timer_.reset();
    logs_.reset();
    server_.reset();
    committer_.reset();
    db_.reset();
    streams_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void Baseline();
  void Latency(int rate);
  // Returns the records checkpointed per second over the measured interval.
  double Sustained(int shards, int batch_size, int parallelization, double seconds,
                   const std::string& metric, double pace = 0);
  void Drain(int shards, int batch_size, uint64_t records);

 private:
  void AddFunction(const std::string& binary_dir, const std::string& name) {
    const std::string code = root_ + "/code-" + name;
    fs::create_directories(code);
    fs::permissions(code, fs::perms(0755));
    fs::copy_file(binary_dir + "/" + name, code + "/handler");
    fs::permissions(code + "/handler", fs::perms(0755));
    sluice::invoker::FunctionConfig config;
    config.name = name;
    config.arn = "arn:aws:lambda:local:000000000000:function:" + name;
    config.code_dir = code;
    config.handler = "handler";
    config.max_concurrency = kMaxShards * kMaxParallelization;
    config.timeout = std::chrono::seconds(30);
    sluice::invoker::InstanceDeps deps;
    deps.launcher = launcher_.get();
    deps.runtime_server = server_.get();
    deps.logs = logs_.get();
    deps.timer = timer_.get();
    deps.scratch_root = root_ + "/scratch";
    resolver_.pools[name] = std::make_shared<sluice::invoker::FunctionPool>(config, deps);
  }

  void OnLogLine(const sluice::invoker::LogLine& line) {
    static constexpr std::string_view kPrefix = "put-to-invoke-us";
    if (line.text.compare(0, kPrefix.size(), kPrefix) != 0) {
      if (line.is_stderr) {
        std::cerr << "function " << line.function_name << ": " << line.text << std::endl;
      }
      return;
    }
    std::vector<double> batch;
    const char* p = line.text.c_str() + kPrefix.size();
    char* end = nullptr;
    for (long long us = std::strtoll(p, &end, 10); end != p; us = std::strtoll(p, &end, 10)) {
      batch.push_back(static_cast<double>(us) / 1000.0);
      p = end;
    }
    std::lock_guard<std::mutex> lock(samples_mu_);
    samples_.insert(samples_.end(), batch.begin(), batch.end());
  }

  std::vector<double> TakeSamples() {
    std::lock_guard<std::mutex> lock(samples_mu_);
    return std::exchange(samples_, {});
  }

  // Creates a fresh stream and a mapping of `function` on it; returns the mapping's UUID.
  std::string StartMapping(const std::string& stream, int shards, const std::string& function,
                           int batch_size, int parallelization) {
    if (auto status = streams_->CreateStream(stream, static_cast<uint32_t>(shards)); !status.ok()) {
      Die(status.ToString());
    }
    return CreateMapping(stream, function, batch_size, parallelization);
  }

  std::string CreateMapping(const std::string& stream, const std::string& function, int batch_size,
                            int parallelization) {
    MappingConfig config;
    config.function_name = function;
    config.stream_name = stream;
    config.batch_size = batch_size;
    config.maximum_batching_window_seconds = 0;
    config.starting_position = sluice::poller::StartingPosition::kTrimHorizon;
    config.parallelization_factor = parallelization;
    auto created = service_->Create(config);
    if (!created.ok()) {
      Die(created.status().ToString());
    }
    return created->uuid;
  }

  void EndMapping(const std::string& uuid, const std::string& stream) {
    if (auto status = service_->Delete(uuid); !status.ok()) {
      Die(status.ToString());
    }
    if (auto status = streams_->DeleteStream(stream); !status.ok()) {
      Die(status.ToString());
    }
  }

  MappingProgress Progress(const std::string& uuid) {
    auto statuses = service_->Statuses(uuid);
    if (!statuses.ok() || statuses->size() != 1) {
      Die("statuses: " + statuses.status().ToString());
    }
    MappingProgress progress;
    for (const sluice::poller::ShardStatus& shard : statuses->front().shards) {
      if (!shard.position.empty()) {
        auto sequence = sluice::stream::SequenceNumber::Parse(shard.position);
        if (!sequence) {
          Die("unexpected position " + shard.position);
        }
        progress.done += sequence->ordinal + 1;
      }
      progress.max_iterator_age_ms = std::max(progress.max_iterator_age_ms, shard.iterator_age_ms);
      progress.failed += shard.failed;
      progress.throttles += shard.throttles;
      progress.retries += shard.retries;
    }
    return progress;
  }

  // Waits until the mapping has checkpointed `records` records.
  MappingProgress WaitFor(const std::string& uuid, uint64_t records,
                          std::chrono::seconds timeout = std::chrono::seconds(60)) {
    const auto deadline = Steady::now() + timeout;
    for (;;) {
      MappingProgress progress = Progress(uuid);
      if (progress.done >= records) {
        return progress;
      }
      if (Steady::now() > deadline) {
        Die("the mapping did not catch up: " + std::to_string(progress.done) + " of " +
            std::to_string(records) + " records checkpointed");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  std::string NextStreamName(const std::string& what) {
    return what + "-" + std::to_string(++streams_made_);
  }

  const bool quick_;
  std::string root_;
  std::unique_ptr<sluice::sandbox::SandboxLauncher> launcher_;
  std::unique_ptr<sluice::invoker::RuntimeServer> server_;
  std::unique_ptr<sluice::invoker::LogCapture> logs_;
  std::unique_ptr<sluice::invoker::DeadlineTimer> timer_;
  Resolver resolver_;
  std::unique_ptr<sluice::stream::StreamStore> streams_;
  std::unique_ptr<sluice::state::StateDb> db_;
  std::unique_ptr<sluice::state::EffectCommitter> committer_;
  std::unique_ptr<PollerService> service_;
  int streams_made_ = 0;

  std::mutex samples_mu_;
  std::vector<double> samples_;  // put-to-invoke latencies reported by the function, ms
};

void Bench::Baseline() {
  constexpr int kShards = 4;
  const std::string stream = NextStreamName("baseline");
  if (auto status = streams_->CreateStream(stream, kShards); !status.ok()) {
    Die(status.ToString());
  }
  const uint64_t backlog_cap = 3 * 10000 * kShards;  // as for the sustained figure
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> read{0};
  std::vector<std::thread> readers;
  for (uint32_t shard = 0; shard < kShards; ++shard) {
    auto log = streams_->Shard(stream, shard);
    if (!log.ok()) {
      Die(log.status().ToString());
    }
    readers.emplace_back([&, reader = sluice::stream::ShardReader(*log, 0)]() mutable {
      while (!stop.load()) {
        auto next = reader.Next(10000, 6u << 20, Steady::now() + std::chrono::milliseconds(50));
        if (!next.ok()) {
          Die(next.status().ToString());
        }
        read += next->records.size();
      }
    });
  }
  Producer producer(streams_.get(), stream);
  uint64_t put = 0;
  const double seconds = quick_ ? 1 : 2;
  const auto warm = Steady::now() + std::chrono::milliseconds(500);
  while (Steady::now() < warm) {
    put += producer.Put(kPutBatch, false);
    while (put - read.load() > backlog_cap)
      std::this_thread::yield();
  }
  const uint64_t read_at_start = read.load();
  const auto start = Steady::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  while (Steady::now() < end) {
    put += producer.Put(kPutBatch, false);
    while (put - read.load() > backlog_cap)
      std::this_thread::yield();
  }
  const double elapsed = Seconds(Steady::now() - start);
  const uint64_t read_in_interval = read.load() - read_at_start;
  stop = true;
  for (auto& reader : readers) {
    reader.join();
  }
  Emit("baseline_put_read_records_per_s", static_cast<double>(read_in_interval) / elapsed,
       "records/s", "\"shards\": 4, \"put_batch\": 500");
  if (auto status = streams_->DeleteStream(stream); !status.ok()) {
    Die(status.ToString());
  }
}

void Bench::Latency(int rate) {
  constexpr int kShards = 4;
  constexpr int kBatchSize = 100;
  const std::string stream = NextStreamName("latency");
  const std::string uuid = StartMapping(stream, kShards, "latency_probe", kBatchSize, 1);
  Producer producer(streams_.get(), stream);
  // Warm-up: unstamped records start every shard's instance.
  uint64_t put = producer.Put(400, false);
  WaitFor(uuid, put);
  TakeSamples();
  const uint64_t invokes_before = resolver_.pools["latency_probe"]->metrics().invocations;

  const double seconds = quick_ ? 1 : 3;
  const uint64_t total = static_cast<uint64_t>(rate * seconds);
  const auto start = Steady::now();
  uint64_t sent = 0;
  while (sent < total) {
    // Records due by now at the pace, at least one; then sleep until the next one is due.
    const double elapsed = Seconds(Steady::now() - start);
    const uint64_t due = std::min<uint64_t>(total, static_cast<uint64_t>(elapsed * rate) + 1);
    if (due > sent) {
      sent += producer.Put(std::min<uint64_t>(due - sent, kPutBatch), true);
      continue;
    }
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<Steady::duration>(
                    std::chrono::duration<double>(static_cast<double>(sent) / rate)));
  }
  const double put_seconds = Seconds(Steady::now() - start);
  const MappingProgress progress = WaitFor(uuid, put + sent);
  std::vector<double> samples = TakeSamples();
  const uint64_t invokes = resolver_.pools["latency_probe"]->metrics().invocations - invokes_before;
  EndMapping(uuid, stream);
  std::sort(samples.begin(), samples.end());
  const std::string extra = "\"rate\": " + std::to_string(rate) + ", " +
                            Settings(kShards, kBatchSize, 1) + ", \"window_s\": 0";
  const std::string prefix = "put_to_invoke_" + std::to_string(rate) + "_per_s_";
  Emit(prefix + "p50", Percentile(samples, 0.5), "ms", extra);
  Emit(prefix + "p99", Percentile(samples, 0.99), "ms", extra);
  Emit(prefix + "max", samples.empty() ? 0 : samples.back(), "ms", extra);
  Emit(prefix + "achieved_put_rate", static_cast<double>(sent) / put_seconds, "records/s", extra);
  // Small batches at low rates: each invoke (and its commit) carries few records.
  Emit(prefix + "mean_batch", invokes ? static_cast<double>(sent) / invokes : 0, "records", extra);
  if (samples.size() != sent || progress.failed || progress.retries) {
    std::cerr << "mapping_bench: latency at " << rate << "/s: " << samples.size() << " samples for "
              << sent << " records, " << progress.failed << " failed, " << progress.retries
              << " retries" << std::endl;
  }
}

double Bench::Sustained(int shards, int batch_size, int parallelization, double seconds,
                        const std::string& metric, double pace) {
  const std::string stream = NextStreamName("sustained");
  const std::string uuid = StartMapping(stream, shards, "passthrough", batch_size, parallelization);
  const uint64_t backlog_cap = 3 * static_cast<uint64_t>(batch_size) * shards;
  // Closed loop (pace 0): the producer waits while it is more than backlog_cap records ahead of
  // the checkpoints, which a monitor thread follows (PollerService::Statuses reads SQLite: not
  // once per put). Paced: records go out at `pace` per second whatever the mapping does.
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::thread monitor([&] {
    while (!stop.load()) {
      done = Progress(uuid).done;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  Producer producer(streams_.get(), stream);
  uint64_t put = 0;
  const auto paced_from = Steady::now();
  auto run_until = [&](Steady::time_point until) {
    while (Steady::now() < until) {
      uint64_t room = kPutBatch;
      if (pace > 0) {
        const auto due = static_cast<uint64_t>(Seconds(Steady::now() - paced_from) * pace);
        room = due > put ? std::min<uint64_t>(due - put, kPutBatch) : 0;
      } else if (put - done.load() > backlog_cap) {
        room = 0;
      }
      if (room == 0) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        continue;
      }
      put += producer.Put(room, false);
    }
  };
  run_until(Steady::now() + std::chrono::seconds(1));  // warm-up: instances start
  const MappingProgress first = Progress(uuid);
  const uint64_t put_at_start = put;
  const auto start = Steady::now();
  run_until(start + std::chrono::duration_cast<Steady::duration>(
                        std::chrono::duration<double>(quick_ ? seconds / 2 : seconds)));
  const MappingProgress last = Progress(uuid);
  const uint64_t put_at_end = put;
  const double elapsed = Seconds(Steady::now() - start);
  stop = true;
  monitor.join();
  WaitFor(uuid, put);
  EndMapping(uuid, stream);
  const double rate = static_cast<double>(last.done - first.done) / elapsed;
  std::string extra = Settings(shards, batch_size, parallelization) +
                      ", \"iterator_age_ms_start\": " + std::to_string(first.max_iterator_age_ms) +
                      ", \"iterator_age_ms_end\": " + std::to_string(last.max_iterator_age_ms) +
                      ", \"lag_records_start\": " + std::to_string(put_at_start - first.done) +
                      ", \"lag_records_end\": " + std::to_string(put_at_end - last.done) +
                      ", \"put_records_per_s\": " +
                      std::to_string(static_cast<int64_t>(
                          static_cast<double>(put_at_end - put_at_start) / elapsed));
  extra += pace > 0 ? ", \"paced_at\": " + std::to_string(static_cast<int64_t>(pace))
                    : ", \"backlog_cap\": " + std::to_string(backlog_cap);
  Emit(metric, rate, "records/s", extra);
  if (last.failed || last.throttles || last.retries) {
    std::cerr << "mapping_bench: " << metric << ": " << last.failed << " failed, " << last.throttles
              << " throttled, " << last.retries << " retries" << std::endl;
  }
  return rate;
}

void Bench::Drain(int shards, int batch_size, uint64_t records) {
  const std::string stream = NextStreamName("drain");
  if (auto status = streams_->CreateStream(stream, static_cast<uint32_t>(shards)); !status.ok()) {
    Die(status.ToString());
  }
  Producer producer(streams_.get(), stream);
  uint64_t put = 0;
  while (put < records) {
    put += producer.Put(kPutBatch, false);
  }
  const std::string uuid = CreateMapping(stream, "passthrough", batch_size, 1);
  const uint64_t from = put / 10, to = put * 9 / 10;
  MappingProgress at_from, at_to;
  Steady::time_point from_time, to_time;
  for (;;) {
    MappingProgress progress = Progress(uuid);
    const auto now = Steady::now();
    if (progress.done >= from && from_time == Steady::time_point{}) {
      at_from = progress;
      from_time = now;
    }
    if (progress.done >= to) {
      at_to = progress;
      to_time = now;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  WaitFor(uuid, put);
  EndMapping(uuid, stream);
  Emit("drain_records_per_s",
       static_cast<double>(at_to.done - at_from.done) / Seconds(to_time - from_time), "records/s",
       Settings(shards, batch_size, 1) + ", \"backlog\": " + std::to_string(put));
}

}  // namespace

int main(int argc, char** argv) {
  // Figures: baseline | latency | sustained | drain | shards | parallelization.
  const std::optional<BenchArgs> args = ParseBenchArgs(argc, argv, "mapping_bench");
  if (!args) {
    return 2;
  }
  const auto started = Steady::now();
  {
    Bench bench(args->binary_dir, args->quick);
    if (args->Runs("baseline")) {
      bench.Baseline();
    }
    if (args->Runs("latency")) {
      for (int rate : {1000, 10000, 100000}) {
        bench.Latency(rate);
      }
    }
    double sustained = 500'000;
    int sustained_batch = 1000;
    if (args->Runs("sustained")) {
      for (int batch_size : {10000, 1000}) {
        const double rate = bench.Sustained(4, batch_size, 1, 3, "sustained_records_per_s");
        if (batch_size == 10000 || rate > sustained) {
          sustained = rate;
          sustained_batch = batch_size;
        }
      }
      // Open loop at 80% of the best closed-loop rate: the lag must stay flat.
      bench.Sustained(4, sustained_batch, 1, 3, "sustained_paced_check_records_per_s",
                      0.8 * sustained);
    }
    if (args->Runs("drain")) {
      bench.Drain(4, sustained_batch,
                  std::min<uint64_t>(3'000'000, static_cast<uint64_t>(2 * sustained)));
    }
    if (args->Runs("shards")) {
      for (int shards : {1, 2, 4, 8}) {
        bench.Sustained(shards, 1000, 1, 2, "throughput_vs_shards_records_per_s");
      }
    }
    if (args->Runs("parallelization")) {
      for (int parallelization : {1, 2, 4}) {
        bench.Sustained(1, 1000, parallelization, 2, "throughput_vs_parallelization_records_per_s");
      }
    }
  }  // destroys the pollers, then the pools: every function process has ended
  std::cerr << "mapping_bench: done in " << Seconds(Steady::now() - started) << " s" << std::endl;
  return 0;
}
