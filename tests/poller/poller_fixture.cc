#include "tests/poller/poller_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <thread>

#include "state/kv_store.h"
#include "state/topics.h"
#include "stream/stream_metadata.h"

namespace sluice::poller::testing {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr auto kPollEvery = std::chrono::milliseconds(3);
// How long AdvanceUntil lets the threads react to one step of the clock.
constexpr auto kReactTime = std::chrono::milliseconds(50);
constexpr char kBatchMarker[] = "\tINFO\tBATCH ";

template <typename T>
T Must(Result<T> result) {
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(*result);
}

void MustOk(const Status& status) {
  INFO(status.ToString());
  REQUIRE(status.ok());
}

SeenBatch ParseBatchLine(const std::string& request_id, const std::string& text) {
  const json line = json::parse(text);
  SeenBatch batch;
  batch.request_id = request_id;
  batch.shard_id = line.at("shard").get<std::string>();
  for (const json& record : line.at("records")) {
    batch.records.push_back(
        {record.at("seq").get<std::string>(), record.at("key").get<std::string>(),
         record.at("data").get<std::string>(), record.at("bytes").get<uint64_t>()});
  }
  if (line.contains("windowStart")) {
    batch.has_window = true;
    batch.window_start_ms = line.at("windowStart").get<int64_t>();
    batch.window_end_ms = line.at("windowEnd").get<int64_t>();
    batch.state = line.at("state");
    batch.final_invoke = line.at("isFinalInvokeForWindow").get<bool>();
    batch.terminated_early = line.at("isWindowTerminatedEarly").get<bool>();
  }
  return batch;
}

}  // namespace

std::vector<std::string> SeenBatch::Data() const {
  std::vector<std::string> data;
  for (const SeenRecord& record : records) {
    data.push_back(record.data);
  }
  return data;
}

std::vector<std::string> SeenBatch::Seqs() const {
  std::vector<std::string> seqs;
  for (const SeenRecord& record : records) {
    seqs.push_back(record.seq);
  }
  return seqs;
}

std::string Numbered(std::string_view prefix, int n) {
  std::string text(prefix);
  text.append(std::to_string(n));
  return text;
}

std::vector<std::string> SeqsOf(const std::vector<SeenBatch>& batches) {
  std::vector<std::string> seqs;
  for (const SeenBatch& batch : batches) {
    for (const SeenRecord& record : batch.records) {
      seqs.push_back(record.seq);
    }
  }
  return seqs;
}

std::vector<std::string> DataOf(const std::vector<SeenBatch>& batches) {
  std::vector<std::string> data;
  for (const SeenBatch& batch : batches) {
    for (const SeenRecord& record : batch.records) {
      data.push_back(record.data);
    }
  }
  return data;
}

json OnFailure(const std::string& destination) {
  return {{"OnFailure", {{"Destination", destination}}}};
}

// Resolves batch_probe ($LATEST) to the harness's pool, which outlives the service.
class PollerFixture::PoolResolver : public FunctionResolver {
 public:
  explicit PoolResolver(invoker::FunctionPool* pool) : pool_(pool) {}

  std::shared_ptr<invoker::FunctionPool> Find(const std::string& name,
                                              const std::string& qualifier) override {
    if (name != kFunction || qualifier != "$LATEST") {
      return nullptr;
    }
    return std::shared_ptr<invoker::FunctionPool>(std::shared_ptr<void>(), pool_);
  }

 private:
  invoker::FunctionPool* const pool_;
};

PollerFixture::PollerFixture(PollerFixtureOptions options) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/sluice-poller-test-XXXXXX";
  REQUIRE(::mkdtemp(pattern.data()) != nullptr);
  dir_ = pattern;

  stream::StreamStoreOptions stream_options;
  stream_options.data_dir = dir_ + "/data";
  stream_options.retention_check_interval_ms = 0;
  streams_ = Must(stream::StreamStore::Open(stream_options, &clock_));
  db_ = Must(state::StateDb::Open(dir_ + "/sluice.db", state::DbDurability::kOs));
  committer_ = std::make_unique<state::EffectCommitter>(db_.get(), &clock_);
  harness_ = std::make_unique<sluice::testing::InvokeHarness>(
      BATCH_PROBE_BIN, [&options](invoker::FunctionConfig* config) {
        config->name = kFunction;
        config->arn = std::string("arn:aws:lambda:local:000000000000:function:") + kFunction;
        config->timeout = options.function_timeout;
        config->tables = {{"counts", invoker::TableAccess::kReadWrite},
                          {"switches", invoker::TableAccess::kRead}};
      });
  resolver_ = std::make_unique<PoolResolver>(&harness_->pool());
  CreateStream(kStream, 1);
  RestartService();
}

PollerFixture::~PollerFixture() {
  service_.reset();  // stops every poller; invokes in flight finish
  resolver_.reset();
  harness_.reset();  // ends every function process
  committer_.reset();
  db_.reset();
  streams_.reset();
  std::error_code error;
  fs::remove_all(dir_, error);
}

void PollerFixture::RestartService() {
  service_.reset();
  PollerServiceDeps deps;
  deps.streams = streams_.get();
  deps.db = db_.get();
  deps.committer = committer_.get();
  deps.functions = resolver_.get();
  deps.clock = &clock_;
  deps.topic_exists = [db = db_.get()](const std::string& topic) {
    return state::TopicCatalog(db).Get(topic).ok();
  };
  deps.stream_arn = [](const std::string& stream) {
    return "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream;
  };
  deps.discovery_interval = std::chrono::milliseconds(20);
  deps.backoff_initial = kBackoffInitial;
  deps.backoff_max = kBackoffMax;
  service_ = Must(PollerService::Start(std::move(deps)));
}

void PollerFixture::CreateStream(const std::string& name, uint32_t shards) {
  MustOk(streams_->CreateStream(name, shards));
}

std::vector<std::string> PollerFixture::Put(
    const std::vector<std::pair<std::string, std::string>>& records, const std::string& stream) {
  std::vector<stream::PutInput> inputs;
  for (const auto& [key, data] : records) {
    inputs.push_back({key, std::nullopt, data});
  }
  const std::vector<stream::PutOutcome> outcomes =
      Must(streams_->Put(stream, std::span<const stream::PutInput>(inputs)));
  std::vector<std::string> seqs;
  for (const stream::PutOutcome& outcome : outcomes) {
    MustOk(outcome.status);
    seqs.push_back(outcome.sequence_number.ToString());
  }
  return seqs;
}

std::string PollerFixture::Put(const std::string& key, const std::string& data,
                               const std::string& stream) {
  return Put({{key, data}}, stream).front();
}

std::string PollerFixture::Attach(const json& properties) {
  json doc = {{"FunctionName", kFunction}, {"EventSourceArn", kStream}};
  doc.update(properties);
  const MappingConfig config = Must(ParseMapping(doc, ""));
  return Must(service_->Create(config)).uuid;
}

void PollerFixture::Update(const std::string& uuid, const json& update) {
  Must(service_->Update(uuid, update));
}

std::vector<SeenBatch> PollerFixture::Batches() const {
  std::vector<SeenBatch> batches;
  for (const std::string& request_id : harness_->RequestIds()) {
    for (const std::string& line : harness_->LogsOf(request_id)) {
      const size_t at = line.find(kBatchMarker);
      if (at != std::string::npos) {
        batches.push_back(ParseBatchLine(request_id, line.substr(at + sizeof kBatchMarker - 1)));
        break;
      }
    }
  }
  return batches;
}

std::vector<SeenBatch> PollerFixture::WaitForBatches(size_t count) {
  WaitUntil([&] { return Batches().size() >= count; },
            std::to_string(count) + " invokes of " + kFunction);
  return Batches();
}

void PollerFixture::ExpectBatchCountStays(size_t count) {
  std::this_thread::sleep_for(kSettle);
  CHECK(Batches().size() == count);
}

void PollerFixture::WaitUntil(const std::function<bool()>& done, const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("timed out waiting for " << what);
    }
    std::this_thread::sleep_for(kPollEvery);
  }
}

std::chrono::milliseconds PollerFixture::AdvanceUntil(std::chrono::milliseconds step,
                                                      const std::function<bool()>& done,
                                                      const std::string& what) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  std::chrono::milliseconds moved{0};
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("timed out advancing the clock (by " << moved.count() << " ms so far) until " << what);
    }
    clock_.Advance(step);
    moved += step;
    const auto react_until = std::chrono::steady_clock::now() + kReactTime;
    while (!done() && std::chrono::steady_clock::now() < react_until) {
      std::this_thread::sleep_for(kPollEvery);
    }
  }
  return moved;
}

std::optional<state::Checkpoint> PollerFixture::Checkpoint(const std::string& uuid,
                                                           const std::string& shard_id) {
  return Must(state::Checkpoints(db_.get()).Get(uuid, shard_id));
}

std::string PollerFixture::Position(const std::string& uuid, const std::string& shard_id) {
  const std::optional<state::Checkpoint> checkpoint = Checkpoint(uuid, shard_id);
  return checkpoint ? checkpoint->sequence_number : "";
}

void PollerFixture::WaitForPosition(const std::string& uuid, const std::string& sequence_number,
                                    const std::string& shard_id) {
  WaitUntil([&] { return Position(uuid, shard_id) == sequence_number; },
            "the checkpoint of " + shard_id + " at " + sequence_number);
}

ShardStatus PollerFixture::StatusOf(const std::string& uuid, const std::string& shard_id) {
  const std::vector<MappingStatus> statuses = Must(service_->Statuses(uuid));
  REQUIRE(statuses.size() == 1);
  for (const ShardStatus& shard : statuses.front().shards) {
    if (shard.shard_id == shard_id) {
      return shard;
    }
  }
  FAIL("mapping " << uuid << " has no shard " << shard_id);
  return {};
}

int64_t PollerFixture::Count(const std::string& key) {
  const std::optional<state::KvEntry> item = Must(state::KvStore(db_.get()).Get("counts", key));
  return item ? json::parse(item->value_json).value("n", int64_t{0}) : 0;
}

void PollerFixture::SetSwitch(const std::string& name) {
  MustOk(state::KvStore(db_.get()).Put("switches", name, "{}"));
}

void PollerFixture::ClearSwitch(const std::string& name) {
  REQUIRE(Must(state::KvStore(db_.get()).Delete("switches", name)));
}

std::vector<std::string> PollerFixture::StreamData(const std::string& stream) {
  std::vector<std::string> data;
  for (const stream::ShardMetadata& shard : Must(streams_->Describe(stream)).shards) {
    const std::shared_ptr<stream::ShardLog> log = Must(streams_->Shard(stream, shard.index));
    for (uint64_t from = 0;;) {
      stream::ShardLog::ReadResult read = Must(log->Read(from, 1000, 1 << 30));
      if (read.records.empty()) {
        break;
      }
      for (stream::StoredRecord& record : read.records) {
        data.push_back(std::move(record.data));
      }
      from = read.next_ordinal;
    }
  }
  return data;
}

std::vector<state::OutboxEntry> PollerFixture::PendingNotifications() {
  return Must(state::Outbox(db_.get(), &clock_).Due(INT64_MAX, 1000));
}

std::vector<std::pair<std::string, json>> PollerFixture::JsonFilesUnder(const std::string& dir) {
  std::vector<std::pair<std::string, json>> files;
  if (!fs::exists(dir)) {
    return files;
  }
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      std::ifstream in(entry.path());
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      files.emplace_back(entry.path().string(), json::parse(text));
    }
  }
  std::sort(files.begin(), files.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return files;
}

}  // namespace sluice::poller::testing
