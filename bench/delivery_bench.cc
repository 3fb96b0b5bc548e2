// Benchmark of delivery streams: PutRecordBatch requests (Firehose's JSON, base64 record data, 500
// records a call, as producers send them) handed to FirehoseApi::Handle, buffered by the
// DeliveryService, and delivered by its pipeline as objects in a directory, with and without a
// Lambda processor: a real sandboxed function pool of bench/transform_passthrough (every record
// Ok, data unchanged). All in this process with the real clock; SQLite and the buffers live in a
// temporary directory under $TMPDIR (default /tmp), removed at the end. Prints one JSON line per
// figure:
//   {"bench": "delivery", "metric": ..., "value": ..., "unit": ..., <settings of the figure>}
// Records are 100 or 1,024 bytes of data; every phase has a delivery stream of its own, deleted
// afterwards. For throughput, destinations buffer 5 MiB / 60 s (Firehose's default size, an
// interval that does not cut: batches end on size); the processor's BufferSizeInMBs is 1
// (Firehose's default) or 3.
//
// Figures:
//   1. put_only_records_per_s and put_only_cpu_s_per_million_records: 2 producer threads put N
//      records into a stream buffering 128 MiB / 900 s, so nothing is delivered: the ceiling of
//      the API and the durable buffer. The pipeline does read the records into its batch as they
//      arrive, so that reading is in the figure.
//   2. delivered_records_per_s: 2 producer threads put N records (pre-built request bodies, so
//      the producers' own cost is sending), from the first put until DeliveryService::Stats()
//      counts the last one delivered. N is a whole number of 5 MiB batches, so the last batch
//      ends on size too. With transform "none" and "passthrough" at BufferSizeInMBs 1 and 3, in
//      two interleaved rounds (none, 1, 3, none, 1, 3) whose sums are the figures, so a busy
//      moment of the shared machine does not land on one setting only.
//   3. cpu_s_per_million_records for the same runs: this process's CPU time (every thread: the
//      API, the buffer, the pipeline, the invoker) plus the function processes' (every live
//      descendant's utime+stime+cutime+cstime from /proc/<pid>/stat, and reaped children's from
//      getrusage), per million records delivered. Extra fields split it: ingest (the producer
//      threads' CPU in FirehoseApi::Handle), delivery_host (the rest of this process) and
//      function; round_min/round_max show the noise. CPU rather than time is what a transform
//      costs when the machine is busy, and it is far less noisy than wall time on a shared
//      machine. transform_overhead_percent = (cost with the pass-through transform - cost
//      without) / cost without * 100 over the whole path; the target is < 20 at these
//      sizes. transform_overhead_of_delivery_percent does the same without the ingest (what
//      the pipeline itself spends).
//   4. freshness_p50/p99/max_ms: one producer putting at a steady 20% of the figure-2 rate of
//      the same transform setting, 100-byte records, for IntervalInSeconds 1 and 0, with
//      SizeInMBs 128 so that the interval, not the size, ends batches. Each record carries its
//      put time (CLOCK_REALTIME, taken just before its request is built); an inotify watcher
//      notes when each object appears (the store renames a complete temporary file into place).
//      A record's freshness is its object's appearance minus its put time, for every record:
//      what a reader of the lake sees. The pipeline's freshness_ms gauge is not used: it is the
//      oldest record of the last delivery only (one sample per object, the worst one), and it
//      counts from the buffer's arrival time rather than the producer's put.
// The whole run takes about 70 seconds (a third with --quick).
//
// usage: delivery_bench BENCH_BINARY_DIR [--quick] [--only FIGURE]
//   BENCH_BINARY_DIR holds transform_passthrough; FIGURE is put, throughput or freshness (for
//   profiling one of them; freshness without throughput paces at kDefaultFreshnessRate).
#include <dirent.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "bench/bench_util.h"
#include "delivery/delivery_config.h"
#include "delivery/delivery_service.h"
#include "delivery/firehose_api.h"
#include "invoker/function_pool.h"
#include "poller/function_resolver.h"
#include "sandbox/launcher.h"
#include "sluice/base64.h"
#include "state/state_db.h"
#include "stream/stream_store.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Steady = std::chrono::steady_clock;
using sluice::bench::BenchArgs;
using sluice::bench::ParseBenchArgs;
using sluice::bench::Percentile;
using sluice::bench::RealtimeNs;
using sluice::bench::Seconds;

constexpr char kTransform[] = "transform_passthrough";
constexpr int64_t kRecordsPerCall = 500;    // PutRecordBatch's limit, what producers send
constexpr int64_t kBatchBytes = 5ll << 20;  // the destination's SizeInMBs
constexpr int kProducers = 2;
constexpr int kBodiesPerProducer = 4;  // distinct pre-built requests each producer cycles through
constexpr double kDefaultFreshnessRate = 20'000;  // records/s when figure 2 did not run
constexpr auto kWaitLimit = std::chrono::seconds(120);

// The run's temporary directory, removed by Die too. (The function processes end with this one:
// the sandbox kills an instance whose host dies.)
std::string temp_root;

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "delivery_bench: " << what << std::endl;
  if (!temp_root.empty()) {
    std::error_code ec;
    fs::remove_all(temp_root, ec);
  }
  std::exit(1);
}

// `extra` is a list of JSON members (`"record_bytes": 100, ...`) naming the figure's settings.
void Emit(const std::string& metric, double value, const std::string& unit,
          const std::string& extra) {
  std::printf(
      "{\"bench\": \"delivery\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"%s%s}\n",
      metric.c_str(), value, unit.c_str(), extra.empty() ? "" : ", ", extra.c_str());
  std::fflush(stdout);
}

// CPU time used so far, in seconds: by this process (every thread), and by its descendants (the
// function instances and the sandbox's init processes).
struct CpuSeconds {
  double host = 0;
  double functions = 0;
};

CpuSeconds operator-(const CpuSeconds& a, const CpuSeconds& b) {
  return {a.host - b.host, a.functions - b.functions};
}

CpuSeconds CpuNow() {
  CpuSeconds cpu;
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  cpu.host = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  rusage children{};
  getrusage(RUSAGE_CHILDREN, &children);  // children already reaped
  auto timeval_s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  cpu.functions = timeval_s(children.ru_utime) + timeval_s(children.ru_stime);
  // Live descendants: pid -> parent and CPU ticks, from every /proc/<pid>/stat. A process's
  // utime+stime covers its threads; cutime+cstime its children it has reaped.
  std::map<pid_t, std::pair<pid_t, int64_t>> processes;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    Die("cannot list /proc");
  }
  while (const dirent* entry = ::readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) {
      continue;
    }
    std::ifstream in("/proc/" + std::string(entry->d_name) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t name_end = stat.rfind(')');  // the command name may hold spaces and parens
    if (name_end == std::string::npos) {
      continue;  // gone meanwhile
    }
    // After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, cminflt,
    // majflt, cmajflt, utime, stime, cutime, cstime (fields 3-17 of proc(5)).
    std::istringstream fields(stat.substr(name_end + 1));
    std::string state;
    int64_t value = 0, ppid = 0, ticks = 0;
    fields >> state >> ppid;
    for (int field = 5; field <= 17 && fields >> value; ++field) {
      if (field >= 14) {
        ticks += value;
      }
    }
    processes[pid] = {static_cast<pid_t>(ppid), ticks};
  }
  ::closedir(proc);
  std::vector<pid_t> frontier = {::getpid()};
  int64_t descendant_ticks = 0;
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (const auto& [pid, process] : processes) {
      if (process.first == parent) {
        descendant_ticks += process.second;
        frontier.push_back(pid);
      }
    }
  }
  cpu.functions +=
      static_cast<double>(descendant_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
  return cpu;
}

// Record data of exactly `bytes` bytes, a JSON line as producers often send:
// {"t":<put time, ns>,"seq":<n>,"pad":"xx...x"}\n
std::string RecordData(size_t bytes, int64_t put_ns, int64_t seq) {
  std::string data = "{\"t\":" + std::to_string(put_ns) + ",\"seq\":" + std::to_string(seq);
  data.append(",\"pad\":\"");
  if (data.size() + 3 > bytes) {
    Die("records of " + std::to_string(bytes) + " bytes are too small for their header");
  }
  data.append(bytes - 3 - data.size(), 'x');
  data.append("\"}\n");
  return data;
}

// A PutRecordBatch body of `count` records from sequence number `first_seq`, stamped `put_ns`.
std::string PutRecordBatchBody(const std::string& stream, int64_t count, size_t record_bytes,
                               int64_t first_seq, int64_t put_ns) {
  json records = json::array();
  for (int64_t i = 0; i < count; ++i) {
    records.push_back(
        {{"Data", sluice::Base64Encode(RecordData(record_bytes, put_ns, first_seq + i))}});
  }
  return json{{"DeliveryStreamName", stream}, {"Records", std::move(records)}}.dump();
}

// Notes when each object appears anywhere under a directory: a file renamed into place
// (IN_MOVED_TO; the store writes a temporary ".name.tmp-..." file and renames it), seen by a
// thread blocked on inotify, so the appearance is timed within microseconds at no cost per
// object already there. Subdirectories (the yyyy/MM/dd/HH/ of the keys) are watched as they
// are created; what was put in one before its watch began is noted when it is listed.
class ObjectWatcher {
 public:
  // `root` is created if missing.
  explicit ObjectWatcher(const std::string& root) : fd_(::inotify_init1(IN_CLOEXEC)) {
    if (fd_ < 0) {
      Die("inotify_init1 failed");
    }
    fs::create_directories(root);
    Watch(root);
    thread_ = std::thread([this] { Run(); });
  }
  ~ObjectWatcher() {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
    ::close(fd_);
  }
  ObjectWatcher(const ObjectWatcher&) = delete;
  ObjectWatcher& operator=(const ObjectWatcher&) = delete;

  // Waits until objects of `bytes` bytes in all have appeared (dies after 10 s), stops, and
  // returns every object's path and appearance (CLOCK_REALTIME ns).
  std::map<std::string, int64_t> StopWhenSeen(int64_t bytes) {
    const auto give_up = Steady::now() + std::chrono::seconds(10);
    while (bytes_seen_.load() < bytes) {
      if (Steady::now() > give_up) {
        Die("objects of " + std::to_string(bytes_seen_.load()) + " bytes appeared, expected " +
            std::to_string(bytes));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    stop_ = true;
    thread_.join();
    return std::move(appeared_);
  }

 private:
  void Run() {
    alignas(inotify_event) char buffer[64 * 1024];
    while (!stop_.load()) {
      pollfd ready{fd_, POLLIN, 0};
      if (::poll(&ready, 1, 20) <= 0) {
        continue;
      }
      const ssize_t length = ::read(fd_, buffer, sizeof(buffer));
      const int64_t now = RealtimeNs();
      for (ssize_t at = 0; at < length;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
        if (event->len == 0) {
          continue;
        }
        const std::string path = dirs_[event->wd] + "/" + event->name;
        if (event->mask & IN_ISDIR) {
          Watch(path);
        } else if (event->mask & IN_MOVED_TO) {
          Note(path, now);
        }
      }
      if (length < 0 && errno != EINTR) {
        Die("reading inotify events failed");
      }
    }
  }

  void Watch(const std::string& dir) {
    const int wd = ::inotify_add_watch(fd_, dir.c_str(), IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
    if (wd < 0) {
      Die("inotify_add_watch " + dir + " failed");
    }
    dirs_[wd] = dir;
    const int64_t now = RealtimeNs();
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      if (entry.is_directory()) {
        Watch(entry.path().string());
      } else {
        Note(entry.path().string(), now);
      }
    }
  }

  void Note(const std::string& path, int64_t now) {
    if (fs::path(path).filename().string().front() == '.') {
      return;  // a temporary file
    }
    if (appeared_.emplace(path, now).second) {
      bytes_seen_ += static_cast<int64_t>(fs::file_size(path));
    }
  }

  const int fd_;
  std::map<int, std::string> dirs_;          // watch descriptor -> directory
  std::map<std::string, int64_t> appeared_;  // object -> appearance, ns
  std::atomic<int64_t> bytes_seen_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class Resolver final : public sluice::poller::FunctionResolver {
 public:
  std::shared_ptr<sluice::invoker::FunctionPool> Find(const std::string& name,
                                                      const std::string& qualifier) override {
    return name == kTransform && qualifier == "$LATEST" ? pool : nullptr;
  }
  std::shared_ptr<sluice::invoker::FunctionPool> pool;  // set up front
};

// A delivery stream's settings in a phase. transform_mb 0: no processor.
struct StreamSettings {
  size_t record_bytes = 100;
  int transform_mb = 0;
  int64_t size_mb = 5;
  int64_t interval_s = 60;

  std::string Describe() const {
    return "\"record_bytes\": " + std::to_string(record_bytes) + ", \"transform\": \"" +
           (transform_mb ? "passthrough" : "none") +
           "\", \"processor_buffer_mb\": " + std::to_string(transform_mb) +
           ", \"buffer_mb\": " + std::to_string(size_mb) +
           ", \"interval_s\": " + std::to_string(interval_s);
  }
};

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The producers' calls: when they started and ended, and the CPU the calls took in the producer
// threads (FirehoseApi::Handle: parsing, decoding, appending to the durable buffer, answering).
struct PutRun {
  Steady::time_point start, end;
  double ingest_cpu_s = 0;
};

// What throughput runs of one setting measured, summed over rounds.
struct Measured {
  int64_t records = 0;
  int64_t objects = 0;
  double seconds = 0;       // first put to the last record delivered
  double put_seconds = 0;   // first put to the last put's answer
  CpuSeconds cpu;           // host: this process; functions: the function processes
  double ingest_cpu_s = 0;  // the part of cpu.host the producers' calls took
  std::vector<double> round_cpu_s_per_million;

  double records_per_s() const { return static_cast<double>(records) / seconds; }
  double CpuPerMillion(double cpu_s) const { return cpu_s * 1e6 / static_cast<double>(records); }
  double cpu_s_per_million() const { return CpuPerMillion(cpu.host + cpu.functions); }
  // Everything but the producers' calls: the pipeline, the transform, the object store.
  double delivery_cpu_s_per_million() const {
    return CpuPerMillion(cpu.host + cpu.functions - ingest_cpu_s);
  }
};

// The in-process host: sandboxed function pool, stream store, state database, DeliveryService
// and FirehoseApi.
class Bench {
 public:
  explicit Bench(const std::string& binary_dir) {
    const char* tmp = std::getenv("TMPDIR");
    root_ = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/sluice-delivery-bench-XXXXXX";
    if (::mkdtemp(root_.data()) == nullptr) {
      Die("mkdtemp failed");
    }
    temp_root = root_;
    fs::permissions(root_, fs::perms(0711));
    fs::create_directories(root_ + "/scratch");
    StartFunctionPool(binary_dir);

    sluice::stream::StreamStoreOptions options;
    options.data_dir = root_ + "/data";
    options.retention_check_interval_ms = 0;
    streams_ = Must(sluice::stream::StreamStore::Open(options, &sluice::Clock::Real()));
    db_ =
        Must(sluice::state::StateDb::Open(root_ + "/sluice.db", sluice::state::DbDurability::kOs));
    sluice::delivery::DeliveryServiceDeps deps;
    deps.data_dir = root_ + "/data";
    deps.db = db_.get();
    deps.streams = streams_.get();
    deps.functions = &resolver_;
    deps.clock = &sluice::Clock::Real();
    deps.region = "us-east-1";
    service_ = Must(sluice::delivery::DeliveryService::Start(std::move(deps)));
    api_ = std::make_unique<sluice::delivery::FirehoseApi>(service_.get());
  }

  ~Bench() {
    api_.reset();
    service_.reset();        // stops every pipeline; an invoke in flight finishes
    resolver_.pool.reset();  // ends every function instance and its processes
    timer_.reset();
    logs_.reset();
    server_.reset();
    db_.reset();
    streams_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Starts the transform's instance, so no phase pays for its cold start.
  void WarmTransform();
  void PutOnly(size_t record_bytes, int64_t records);
  // Puts `batches` 5 MiB batches' worth of records and waits for them in files; adds what it
  // measured to *measured.
  void Throughput(const StreamSettings& settings, int64_t batches, Measured* measured);
  // Figures 2 and 3 for one record size: `rounds` rounds of (no transform, BufferSizeInMBs 1,
  // BufferSizeInMBs 3), interleaved so that the machine's slower and faster moments are shared;
  // returns the records/s of each processor setting (0: no transform).
  std::map<int, double> ThroughputFigures(size_t record_bytes, int64_t batches, int rounds);
  void Freshness(const StreamSettings& settings, double rate, double seconds);

 private:
  template <typename T>
  static T Must(sluice::Result<T> result) {
    if (!result.ok()) {
      Die(result.status().ToString());
    }
    return std::move(*result);
  }

  void StartFunctionPool(const std::string& binary_dir) {
    auto launcher = Must(sluice::sandbox::SandboxLauncher::Create({}));
    launcher_ = std::move(launcher);
    int on = 0;
    for (const auto& layer : launcher_->layers()) {
      on += layer.on;
    }
    std::cerr << "delivery_bench: sandbox layers on: " << on << " of " << launcher_->layers().size()
              << std::endl;
    server_ = Must(sluice::invoker::RuntimeServer::Start(root_ + "/runtime",
                                                         !launcher_->FunctionSeesFixedPaths()));
    logs_ = std::make_unique<sluice::invoker::LogCapture>([](const sluice::invoker::LogLine& line) {
      if (line.is_stderr) {
        std::cerr << "function " << line.function_name << ": " << line.text << std::endl;
      }
    });
    timer_ = std::make_unique<sluice::invoker::DeadlineTimer>();
    const std::string code = root_ + "/code";
    fs::create_directories(code);
    fs::permissions(code, fs::perms(0755));
    fs::copy_file(binary_dir + "/" + kTransform, code + "/handler");
    fs::permissions(code + "/handler", fs::perms(0755));
    sluice::invoker::FunctionConfig config;
    config.name = kTransform;
    config.arn = std::string("arn:aws:lambda:local:000000000000:function:") + kTransform;
    config.code_dir = code;
    config.handler = "handler";
    config.max_concurrency = 2;  // a pipeline invokes one chunk at a time
    config.timeout = std::chrono::seconds(60);
    sluice::invoker::InstanceDeps deps;
    deps.launcher = launcher_.get();
    deps.runtime_server = server_.get();
    deps.logs = logs_.get();
    deps.timer = timer_.get();
    deps.scratch_root = root_ + "/scratch";
    resolver_.pool = std::make_shared<sluice::invoker::FunctionPool>(config, deps);
  }

  // Calls the Firehose API; dies unless it answers 200.
  std::string Call(const std::string& operation, const std::string& body) {
    const std::string target = sluice::delivery::kFirehoseTargetPrefix + operation;
    sluice::stream::ApiResponse response =
        api_->Handle({"POST", target, "application/x-amz-json-1.1", body});
    if (response.http_status != 200) {
      Die(operation + ": HTTP " + std::to_string(response.http_status) + " " + response.body);
    }
    return std::move(response.body);
  }

  // Sends a PutRecordBatch body; dies when a record failed. (The check reads the serialised
  // answer rather than parsing it, so the producers' cost stays the call's.)
  void Put(const std::string& body) {
    const std::string answer = Call("PutRecordBatch", body);
    if (answer.find("\"FailedPutCount\":0,") == std::string::npos) {
      Die("PutRecordBatch failed records: " + answer.substr(0, 300));
    }
  }

  // Creates a fresh delivery stream into its own directory; returns its name.
  std::string CreateStream(const StreamSettings& settings) {
    const std::string name = "bench-" + std::to_string(++streams_made_);
    json destination = {
        {"BucketARN", "file://" + LakeOf(name)},
        {"BufferingHints",
         {{"SizeInMBs", settings.size_mb}, {"IntervalInSeconds", settings.interval_s}}}};
    if (settings.transform_mb != 0) {
      destination["ProcessingConfiguration"] = {
          {"Enabled", true},
          {"Processors",
           {{{"Type", "Lambda"},
             {"Parameters",
              {{{"ParameterName", "LambdaArn"}, {"ParameterValue", kTransform}},
               {{"ParameterName", "BufferSizeInMBs"},
                {"ParameterValue", std::to_string(settings.transform_mb)}}}}}}}};
    }
    Call("CreateDeliveryStream",
         json{{"DeliveryStreamName", name}, {"ExtendedS3DestinationConfiguration", destination}}
             .dump());
    return name;
  }

  void DeleteStream(const std::string& name) {
    Call("DeleteDeliveryStream", json{{"DeliveryStreamName", name}}.dump());
    std::error_code ec;
    fs::remove_all(LakeOf(name), ec);
  }

  std::string LakeOf(const std::string& name) const { return root_ + "/lake/" + name; }

  sluice::delivery::DeliveryStats Stats(const std::string& name) const {
    for (sluice::delivery::DeliveryStats& stats : service_->Stats()) {
      if (stats.name == name) {
        return std::move(stats);
      }
    }
    Die("no delivery stream " + name);
  }

  // Polls Stats() until `records` are delivered; returns when that was seen.
  Steady::time_point WaitDelivered(const std::string& name, int64_t records) const {
    const auto give_up = Steady::now() + kWaitLimit;
    for (;;) {
      const sluice::delivery::DeliveryStats stats = Stats(name);
      if (stats.records_delivered >= records) {
        return Steady::now();
      }
      if (stats.records_failed != 0 || stats.batches_failed != 0 || Steady::now() > give_up) {
        Die(name + ": " + std::to_string(stats.records_delivered) + " of " +
            std::to_string(records) + " records delivered, " +
            std::to_string(stats.records_failed) + " failed; last error: " + stats.last_error);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  // Puts `records` records from kProducers threads as fast as they go, each cycling through
  // pre-built requests (built before the returned clock starts); returns when the last put
  // returned.
  PutRun PutFromProducers(const std::string& name, size_t record_bytes, int64_t records);

  // Sums the size of the objects under `dir` (temporary files excluded); dies unless it is
  // `bytes`, so a figure never counts records that are not in files.
  static void ExpectObjectBytes(const std::string& dir, int64_t bytes) {
    int64_t found = 0;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) {
        found += static_cast<int64_t>(entry.file_size());
      }
    }
    if (found != bytes) {
      Die(dir + " holds " + std::to_string(found) + " bytes of objects, expected " +
          std::to_string(bytes));
    }
  }

  std::string root_;
  std::unique_ptr<sluice::sandbox::SandboxLauncher> launcher_;
  std::unique_ptr<sluice::invoker::RuntimeServer> server_;
  std::unique_ptr<sluice::invoker::LogCapture> logs_;
  std::unique_ptr<sluice::invoker::DeadlineTimer> timer_;
  Resolver resolver_;
  std::unique_ptr<sluice::stream::StreamStore> streams_;
  std::unique_ptr<sluice::state::StateDb> db_;
  std::unique_ptr<sluice::delivery::DeliveryService> service_;
  std::unique_ptr<sluice::delivery::FirehoseApi> api_;
  int streams_made_ = 0;
};

void Bench::WarmTransform() {
  const std::string name = CreateStream({.record_bytes = 100, .transform_mb = 1, .interval_s = 0});
  Put(PutRecordBatchBody(name, 1, 100, 0, RealtimeNs()));
  WaitDelivered(name, 1);
  DeleteStream(name);
}

PutRun Bench::PutFromProducers(const std::string& name, size_t record_bytes, int64_t records) {
  struct Load {
    std::vector<std::string> bodies;  // full calls, cycled through
    int64_t full_calls = 0;
    std::string tail;  // the last call's fewer records, if any
  };
  std::vector<Load> loads(kProducers);
  for (int p = 0; p < kProducers; ++p) {
    const int64_t share = records / kProducers + (p < records % kProducers ? 1 : 0);
    Load& load = loads[p];
    const int64_t first_seq = int64_t{p} << 40;
    for (int b = 0; b < kBodiesPerProducer; ++b) {
      load.bodies.push_back(PutRecordBatchBody(name, kRecordsPerCall, record_bytes,
                                               first_seq + b * kRecordsPerCall, 0));
    }
    load.full_calls = share / kRecordsPerCall;
    if (share % kRecordsPerCall != 0) {
      load.tail = PutRecordBatchBody(name, share % kRecordsPerCall, record_bytes, first_seq, 0);
    }
  }
  PutRun run;
  std::vector<double> ingest_cpu_s(kProducers);
  run.start = Steady::now();
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([this, &load = loads[p], &cpu_s = ingest_cpu_s[p]] {
      const double cpu_before = ThreadCpuSeconds();
      for (int64_t call = 0; call < load.full_calls; ++call) {
        Put(load.bodies[static_cast<size_t>(call) % load.bodies.size()]);
      }
      if (!load.tail.empty()) {
        Put(load.tail);
      }
      cpu_s = ThreadCpuSeconds() - cpu_before;
    });
  }
  for (std::thread& producer : producers) {
    producer.join();
  }
  run.end = Steady::now();
  for (double cpu_s : ingest_cpu_s) {
    run.ingest_cpu_s += cpu_s;
  }
  return run;
}

void Bench::PutOnly(size_t record_bytes, int64_t records) {
  // 128 MiB / 900 s (the largest hints): records stay in the buffer for the whole figure.
  const StreamSettings settings{.record_bytes = record_bytes, .size_mb = 128, .interval_s = 900};
  if (records * static_cast<int64_t>(record_bytes) >= (settings.size_mb << 20)) {
    Die("the put-only figure must stay under the 128 MiB hint");
  }
  const std::string name = CreateStream(settings);
  const CpuSeconds cpu_before = CpuNow();
  const PutRun run = PutFromProducers(name, record_bytes, records);
  const CpuSeconds cpu = CpuNow() - cpu_before;
  if (Stats(name).records_in != records || Stats(name).records_delivered != 0) {
    Die(name + ": the put-only stream did not take exactly the records put, or delivered some");
  }
  DeleteStream(name);
  const std::string extra = "\"record_bytes\": " + std::to_string(record_bytes) +
                            ", \"producers\": " + std::to_string(kProducers) +
                            ", \"records\": " + std::to_string(records);
  Emit("put_only_records_per_s", static_cast<double>(records) / Seconds(run.end - run.start),
       "records/s", extra);
  Emit("put_only_cpu_s_per_million_records",
       (cpu.host + cpu.functions) * 1e6 / static_cast<double>(records), "cpu_s", extra);
}

void Bench::Throughput(const StreamSettings& settings, int64_t batches, Measured* measured) {
  const int64_t bytes = static_cast<int64_t>(settings.record_bytes);
  const int64_t records_per_batch = (kBatchBytes + bytes - 1) / bytes;  // the last one crosses
  const int64_t records = batches * records_per_batch;
  const std::string name = CreateStream(settings);
  const CpuSeconds cpu_before = CpuNow();
  const PutRun run = PutFromProducers(name, settings.record_bytes, records);
  const Steady::time_point delivered = WaitDelivered(name, records);
  const CpuSeconds cpu = CpuNow() - cpu_before;
  const sluice::delivery::DeliveryStats stats = Stats(name);
  ExpectObjectBytes(LakeOf(name), records * bytes);
  DeleteStream(name);

  measured->records += records;
  measured->objects += stats.objects_delivered;
  measured->seconds += Seconds(delivered - run.start);
  measured->put_seconds += Seconds(run.end - run.start);
  measured->cpu.host += cpu.host;
  measured->cpu.functions += cpu.functions;
  measured->ingest_cpu_s += run.ingest_cpu_s;
  measured->round_cpu_s_per_million.push_back((cpu.host + cpu.functions) * 1e6 /
                                              static_cast<double>(records));
}

std::map<int, double> Bench::ThroughputFigures(size_t record_bytes, int64_t batches, int rounds) {
  constexpr int kProcessorMbs[] = {0, 1, 3};  // 0: no transform
  std::map<int, Measured> measured;
  for (int round = 0; round < rounds; ++round) {
    for (int transform_mb : kProcessorMbs) {
      Throughput({.record_bytes = record_bytes, .transform_mb = transform_mb}, batches,
                 &measured[transform_mb]);
    }
  }
  std::map<int, double> records_per_s;
  for (int transform_mb : kProcessorMbs) {
    const Measured& m = measured[transform_mb];
    records_per_s[transform_mb] = m.records_per_s();
    const auto [least, most] =
        std::minmax_element(m.round_cpu_s_per_million.begin(), m.round_cpu_s_per_million.end());
    const std::string extra =
        StreamSettings{.record_bytes = record_bytes, .transform_mb = transform_mb}.Describe() +
        ", \"producers\": " + std::to_string(kProducers) +
        ", \"rounds\": " + std::to_string(rounds) + ", \"records\": " + std::to_string(m.records) +
        ", \"objects\": " + std::to_string(m.objects) +
        ", \"put_s\": " + std::to_string(m.put_seconds) +
        ", \"total_s\": " + std::to_string(m.seconds);
    Emit("delivered_records_per_s", m.records_per_s(), "records/s", extra);
    Emit("delivered_mib_per_s", m.records_per_s() * static_cast<double>(record_bytes) / (1 << 20),
         "MiB/s", extra);
    Emit(
        "cpu_s_per_million_records", m.cpu_s_per_million(), "cpu_s",
        extra + ", \"ingest\": " + std::to_string(m.CpuPerMillion(m.ingest_cpu_s)) +
            ", \"delivery_host\": " + std::to_string(m.CpuPerMillion(m.cpu.host - m.ingest_cpu_s)) +
            ", \"function\": " + std::to_string(m.CpuPerMillion(m.cpu.functions)) +
            ", \"round_min\": " + std::to_string(*least) +
            ", \"round_max\": " + std::to_string(*most));
  }
  const Measured& without = measured[0];
  for (int transform_mb : {1, 3}) {
    const Measured& with = measured[transform_mb];
    const std::string extra = "\"record_bytes\": " + std::to_string(record_bytes) +
                              ", \"processor_buffer_mb\": " + std::to_string(transform_mb);
    Emit("transform_overhead_percent",
         (with.cpu_s_per_million() - without.cpu_s_per_million()) / without.cpu_s_per_million() *
             100,
         "percent", extra + ", \"of\": \"cpu_s_per_million_records\", \"target\": \"< 20\"");
    Emit("transform_overhead_of_delivery_percent",
         (with.delivery_cpu_s_per_million() - without.delivery_cpu_s_per_million()) /
             without.delivery_cpu_s_per_million() * 100,
         "percent", extra + ", \"of\": \"cpu_s_per_million_records without the ingest\"");
  }
  return records_per_s;
}

void Bench::Freshness(const StreamSettings& settings, double rate, double seconds) {
  if (rate * static_cast<double>(settings.record_bytes) *
          static_cast<double>(settings.interval_s) >=
      static_cast<double>(settings.size_mb << 20)) {
    std::cerr << "delivery_bench: at " << rate << " records/s batches end on size, not interval"
              << std::endl;
  }
  const std::string name = CreateStream(settings);
  const std::string lake = LakeOf(name);

  ObjectWatcher watcher(lake);

  // Open loop: the records due by now at the pace, at most a call's worth per request.
  const int64_t total = static_cast<int64_t>(rate * seconds);
  const auto start = Steady::now();
  int64_t sent = 0;
  while (sent < total) {
    const double elapsed = Seconds(Steady::now() - start);
    const int64_t due = std::min<int64_t>(total, static_cast<int64_t>(elapsed * rate) + 1);
    if (due > sent) {
      const int64_t count = std::min(due - sent, kRecordsPerCall);
      Put(PutRecordBatchBody(name, count, settings.record_bytes, sent, RealtimeNs()));
      sent += count;
      continue;
    }
    std::this_thread::sleep_until(
        start + std::chrono::duration_cast<Steady::duration>(
                    std::chrono::duration<double>(static_cast<double>(sent) / rate)));
  }
  const double achieved_rate = static_cast<double>(sent) / Seconds(Steady::now() - start);
  WaitDelivered(name, total);
  const std::map<std::string, int64_t> seen =
      watcher.StopWhenSeen(total * static_cast<int64_t>(settings.record_bytes));
  const int64_t objects = static_cast<int64_t>(seen.size());

  std::vector<double> freshness_ms;
  for (const auto& [path, appeared_ns] : seen) {
    std::ifstream in(path, std::ios::binary);
    for (std::string line; std::getline(in, line);) {
      freshness_ms.push_back(static_cast<double>(appeared_ns - std::atoll(line.c_str() + 5)) / 1e6);
    }
  }
  DeleteStream(name);
  if (static_cast<int64_t>(freshness_ms.size()) != total) {
    Die(name + ": " + std::to_string(freshness_ms.size()) + " records in the objects, " +
        std::to_string(total) + " put");
  }
  std::sort(freshness_ms.begin(), freshness_ms.end());
  const std::string extra =
      settings.Describe() + ", \"rate\": " + std::to_string(static_cast<int64_t>(achieved_rate)) +
      ", \"records\": " + std::to_string(total) + ", \"objects\": " + std::to_string(objects);
  Emit("freshness_p50_ms", Percentile(freshness_ms, 0.5), "ms", extra);
  Emit("freshness_p99_ms", Percentile(freshness_ms, 0.99), "ms", extra);
  Emit("freshness_max_ms", freshness_ms.back(), "ms", extra);
}

}  // namespace

int main(int argc, char** argv) {
  // Figures: put | throughput | freshness.
  const std::optional<BenchArgs> args = ParseBenchArgs(argc, argv, "delivery_bench");
  if (!args) {
    return 2;
  }
  const auto started = Steady::now();
  {
    Bench bench(args->binary_dir);
    bench.WarmTransform();
    if (args->Runs("put")) {
      bench.PutOnly(100, args->quick ? 500'000 : 1'000'000);
      bench.PutOnly(1024, args->quick ? 60'000 : 120'000);
    }
    // The figure-2 rate of 100-byte records per processor buffer (0: no transform).
    std::map<int, double> rate_100 = {{0, kDefaultFreshnessRate}, {1, kDefaultFreshnessRate}};
    if (args->Runs("throughput")) {
      // Two rounds of 5 MiB batches per setting, a few seconds each.
      for (const auto& [record_bytes, batches] :
           std::vector<std::pair<size_t, int64_t>>{{100, 30}, {1024, 60}}) {
        const std::map<int, double> records_per_s =
            bench.ThroughputFigures(record_bytes, args->quick ? batches / 4 : batches, 2);
        if (record_bytes == 100) {
          rate_100 = records_per_s;
        }
      }
    }
    if (args->Runs("freshness")) {
      for (int transform_mb : {0, 1}) {
        for (int64_t interval_s : {1, 0}) {
          bench.Freshness({.record_bytes = 100,
                           .transform_mb = transform_mb,
                           .size_mb = 128,
                           .interval_s = interval_s},
                          0.2 * rate_100[transform_mb], args->quick ? 3 : 6);
        }
      }
    }
  }  // destroys the service, then the pool: every function process has ended
  std::cerr << "delivery_bench: done in " << Seconds(Steady::now() - started) << " s" << std::endl;
  return 0;
}
