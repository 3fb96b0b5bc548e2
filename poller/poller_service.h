// PollerService: the event source mappings of one host, stored (MappingStore) and running.
//
// Each enabled mapping has a runner thread that keeps one ShardPoller per shard it may read: it
// looks at the stream's shards every `discovery_interval` (new shards from resharding appear
// within it) and starts a shard only when its parents (ParentShardId and, for a merge,
// AdjacentParentShardId) have been read to their end and checkpointed SHARD_END (or are no
// longer in the stream), so records of one key stay in order across a split or merge. Finished
// shards' pollers are dropped.
//
// Create checks that the function and the stream exist, that the filters compile and that an
// on-failure stream or topic exists (NOT_FOUND / INVALID_ARGUMENT naming what). A LATEST mapping
// is pinned at creation: each open shard's checkpoint is set to its newest record (closed shards
// to SHARD_END), so records put after `attach` returns are delivered even if the poller starts
// later; shards that appear later start at TRIM_HORIZON (they hold only newer records).
// Update and enable/disable restart the mapping's pollers from their checkpoints; a disabled
// mapping keeps its positions and resumes from them. Delete stops the pollers (letting
// invokes in flight finish) and removes the mapping and its checkpoints.
//
// Thread-safety: thread-safe; admin calls are serialised (an update or delete waits for the
// mapping's invokes in flight); Statuses and Get never wait for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "poller/mapping_store.h"
#include "poller/shard_poller.h"

namespace sluice::poller {

struct PollerServiceDeps {
  stream::StreamStore* streams = nullptr;
  state::StateDb* db = nullptr;
  state::EffectCommitter* committer = nullptr;
  FunctionResolver* functions = nullptr;
  Clock* clock = nullptr;
  // Whether a notification topic exists (for on-failure topics).
  std::function<bool(const std::string& topic)> topic_exists;
  // The stream ARN the events carry: arn:aws:kinesis:<region>:<account>:stream/<name>.
  std::function<std::string(const std::string& stream)> stream_arn;
  std::string aws_region = "us-east-1";
  std::chrono::milliseconds discovery_interval{1000};
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60'000};
};

struct ShardStatus {
  std::string shard_id;
  // kDisabled: the mapping is disabled (the shard keeps its position); kWaitingForParents: an
  // enabled mapping has no poller on the shard yet (its parents are not finished).
  enum class Phase { kWaitingForParents, kRunning, kFinished, kDisabled };
  Phase phase = Phase::kRunning;
  std::string position;  // the checkpoint ("" none yet; "SHARD_END")
  int64_t iterator_age_ms = 0;
  int64_t last_invoke_unix_ms = 0;
  uint64_t polled = 0, invoked = 0, filtered = 0, failed = 0, dropped = 0, sent_to_destination = 0,
           retries = 0, bisections = 0, throttles = 0;
};

struct MappingStatus {
  StoredMapping mapping;
  std::vector<ShardStatus> shards;  // by shard id
};

class PollerService {
 public:
  // Loads the stored mappings and starts the enabled ones.
  static Result<std::unique_ptr<PollerService>> Start(PollerServiceDeps deps);
  ~PollerService();  // stops every mapping (invokes in flight finish)
  PollerService(const PollerService&) = delete;
  PollerService& operator=(const PollerService&) = delete;

  Result<StoredMapping> Create(const MappingConfig& config);
  // UpdateEventSourceMapping with the JSON properties of `update` (ApplyMappingUpdate).
  Result<StoredMapping> Update(const std::string& uuid, const nlohmann::json& update);
  Status Delete(const std::string& uuid);
  Result<StoredMapping> Get(const std::string& uuid);
  Result<std::vector<StoredMapping>> List();
  // Live positions and counters; `uuid` "" for every mapping.
  Result<std::vector<MappingStatus>> Statuses(const std::string& uuid = "");

  // The mapping as GetEventSourceMapping shows it: MappingToJson plus UUID, State ("Enabled" |
  // "Disabled"), StateTransitionReason, LastModified (Unix seconds) and FunctionArn.
  nlohmann::json Describe(const StoredMapping& mapping);

 private:
  class Runner;
  explicit PollerService(PollerServiceDeps deps);
  // Checks what Create and Update must: function, stream, filters, destination.
  Status CheckReferences(const MappingConfig& config);
  Status PinLatest(const std::string& uuid, const std::string& stream);
  // Both REQUIRE admin_mu_ held (so one mapping never has two runners); they take runners_mu_.
  void StartRunner(const StoredMapping& mapping);
  // Waits for the mapping's invokes in flight, without holding runners_mu_.
  void StopRunner(const std::string& uuid);

  const PollerServiceDeps deps_;
  MappingStore store_;
  std::mutex admin_mu_;    // serialises Create, Update, Delete (held while runners stop)
  std::mutex runners_mu_;  // guards runners_ only, so Statuses never waits for a stop
  std::map<std::string, std::shared_ptr<Runner>> runners_;  // enabled mappings, by UUID
};

}  // namespace sluice::poller
