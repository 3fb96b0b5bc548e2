#include "poller/poller_service.h"

#include <set>
#include <thread>

#include "base/log.h"
#include "poller/event_filter.h"
#include "state/checkpoints.h"
#include "stream/sequence_number.h"
#include "stream/stream_metadata.h"

namespace sluice::poller {

// Keeps the shard pollers of one enabled mapping.
class PollerService::Runner {
 public:
  Runner(const PollerServiceDeps& deps, StoredMapping mapping,
         std::shared_ptr<const EventFilter> filter)
      : deps_(deps), mapping_(std::move(mapping)), filter_(std::move(filter)) {
    thread_ = std::thread([this] { Loop(); });
  }

  ~Runner() { Stop(); }

  // Stops discovery and every shard poller (each lets its invoke in flight finish). Idempotent.
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) {
      thread_.join();
    }
    // Stop every shard at once (each lets its invoke in flight finish), then destroy them.
    std::map<uint32_t, std::unique_ptr<ShardPoller>> pollers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pollers.swap(pollers_);
    }
    std::vector<std::thread> stoppers;
    for (auto& [index, poller] : pollers) {
      stoppers.emplace_back([p = poller.get()] { p->Stop(); });
    }
    for (std::thread& stopper : stoppers) {
      stopper.join();
    }
  }

  // Live shards' statuses, by shard index.
  std::map<uint32_t, ShardStatus> Live() {
    std::map<uint32_t, ShardStatus> live;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [index, poller] : pollers_) {
      const ShardStats& stats = poller->stats();
      ShardStatus& status = live[index];
      status.shard_id = poller->shard_id();
      status.phase =
          poller->finished() ? ShardStatus::Phase::kFinished : ShardStatus::Phase::kRunning;
      status.position = stats.position();
      status.iterator_age_ms = stats.iterator_age_ms.value();
      status.last_invoke_unix_ms = stats.last_invoke_unix_ms.load();
      status.polled = stats.polled.value();
      status.invoked = stats.invoked.value();
      status.filtered = stats.filtered.value();
      status.failed = stats.failed.value();
      status.dropped = stats.dropped.value();
      status.sent_to_destination = stats.sent_to_destination.value();
      status.retries = stats.retries.value();
      status.bisections = stats.bisections.value();
      status.throttles = stats.throttles.value();
    }
    return live;
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      Discover();
      lock.lock();
      cv_.wait_for(lock, deps_.discovery_interval, [this] { return stopping_; });
    }
  }

  // Starts the pollers of shards that may run now.
  void Discover() {
    const MappingConfig& config = mapping_.config;
    Result<stream::StreamMetadata> metadata = deps_.streams->Describe(config.stream_name);
    if (!metadata.ok()) {
      if (!warned_missing_stream_) {
        LogWarning("poller", "mapping " + mapping_.uuid + ": stream " + config.stream_name +
                                 " is not available: " + metadata.status().message());
        warned_missing_stream_ = true;
      }
      return;
    }
    warned_missing_stream_ = false;
    if (metadata->created_ms != stream_created_ms_) {
      // A first look, or the stream was deleted and made again: start over with its shards.
      std::map<uint32_t, std::unique_ptr<ShardPoller>> old;
      {
        std::lock_guard<std::mutex> lock(mu_);
        old.swap(pollers_);
        finished_.clear();
      }
      for (auto& [index, poller] : old) {
        poller->Stop();
      }
      failed_to_start_.clear();
      stream_created_ms_ = metadata->created_ms;
    }
    state::Checkpoints checkpoints(deps_.db);
    std::set<uint32_t> present;
    for (const stream::ShardMetadata& shard : metadata->shards) {
      present.insert(shard.index);
    }
    for (const stream::ShardMetadata& shard : metadata->shards) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stopping_) {
          return;
        }
        if (pollers_.count(shard.index) || finished_.count(shard.index)) {
          continue;
        }
      }
      bool parents_done = true;
      for (const std::optional<uint32_t>& parent : {shard.parent, shard.adjacent_parent}) {
        if (parent && present.count(*parent) && !ShardFinished(checkpoints, *parent)) {
          parents_done = false;
        }
      }
      if (!parents_done) {
        continue;
      }
      ShardPollerOptions options;
      options.mapping_uuid = mapping_.uuid;
      options.config = config;
      options.stream_arn = deps_.stream_arn(config.stream_name);
      options.shard_index = shard.index;
      options.hash_key_range = shard.range;
      options.stream_created_ms = metadata->created_ms;
      options.filter = filter_;
      options.backoff_initial = deps_.backoff_initial;
      options.backoff_max = deps_.backoff_max;
      options.aws_region = deps_.aws_region;
      ShardPollerDeps poller_deps{deps_.streams, deps_.db, deps_.committer, deps_.functions,
                                  deps_.clock};
      Result<std::unique_ptr<ShardPoller>> poller = ShardPoller::Start(poller_deps, options);
      if (!poller.ok()) {
        if (failed_to_start_.insert(shard.index).second) {  // once, not every discovery
          LogWarning("poller", "mapping " + mapping_.uuid + ": cannot start " +
                                   stream::ShardIdString(shard.index) +
                                   " (will keep trying): " + poller.status().message());
        }
        continue;
      }
      failed_to_start_.erase(shard.index);
      std::lock_guard<std::mutex> lock(mu_);
      pollers_[shard.index] = std::move(*poller);
    }
    // Finished shards keep their last status for `status`; their threads have exited and are
    // joined here (Stop() is idempotent; the stats stay readable).
    std::vector<ShardPoller*> newly_finished;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& [index, poller] : pollers_) {
        if (poller->finished() && finished_.insert(index).second) {
          newly_finished.push_back(poller.get());
        }
      }
    }
    for (ShardPoller* poller : newly_finished) {
      poller->Stop();
    }
  }

  bool ShardFinished(state::Checkpoints& checkpoints, uint32_t index) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (finished_.count(index)) {
        return true;
      }
    }
    Result<std::optional<state::Checkpoint>> saved =
        checkpoints.Get(mapping_.uuid, stream::ShardIdString(index));
    if (!saved.ok() || !*saved || (*saved)->sequence_number != kShardEnd) {
      return false;
    }
    const nlohmann::json detail = nlohmann::json::parse((*saved)->detail_json, nullptr, false);
    return !(detail.is_object() && detail.contains(kStreamCreatedKey) &&
             detail[kStreamCreatedKey] != stream_created_ms_);
  }

  const PollerServiceDeps& deps_;
  const StoredMapping mapping_;
  const std::shared_ptr<const EventFilter> filter_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<uint32_t, std::unique_ptr<ShardPoller>> pollers_;
  std::set<uint32_t> finished_;
  bool warned_missing_stream_ = false;  // the discovery thread's
  int64_t stream_created_ms_ = 0;       // the discovery thread's: the stream its pollers read
  std::set<uint32_t> failed_to_start_;  // the discovery thread's: shards already warned about
  std::thread thread_;
};

PollerService::PollerService(PollerServiceDeps deps) : deps_(std::move(deps)), store_(deps_.db) {}

Result<std::unique_ptr<PollerService>> PollerService::Start(PollerServiceDeps deps) {
  SLUICE_RETURN_IF_ERROR(deps.db->Write(MappingStore::EnsureSchema));
  std::unique_ptr<PollerService> service(new PollerService(std::move(deps)));
  Result<std::vector<StoredMapping>> mappings = service->store_.List();
  if (!mappings.ok()) {
    return mappings.status();
  }
  for (const StoredMapping& mapping : *mappings) {
    if (mapping.config.enabled) {
      service->StartRunner(mapping);
    }
  }
  return service;
}

PollerService::~PollerService() {
  std::lock_guard<std::mutex> admin(admin_mu_);
  std::map<std::string, std::shared_ptr<Runner>> runners;
  {
    std::lock_guard<std::mutex> lock(runners_mu_);
    runners.swap(runners_);
  }
  for (auto& [uuid, runner] : runners) {
    runner->Stop();
  }
}

void PollerService::StartRunner(const StoredMapping& mapping) {
  Result<std::unique_ptr<EventFilter>> filter =
      EventFilter::Compile(mapping.config.filter_patterns);
  if (!filter.ok()) {
    // Patterns were checked when stored; one that no longer compiles is a bug, not input.
    LogError("poller", "mapping " + mapping.uuid + " not started: " + filter.status().message());
    return;
  }
  std::shared_ptr<const EventFilter> shared =
      (*filter)->empty() ? nullptr : std::shared_ptr<const EventFilter>(std::move(*filter));
  auto runner = std::make_shared<Runner>(deps_, mapping, std::move(shared));
  std::lock_guard<std::mutex> lock(runners_mu_);
  runners_[mapping.uuid] = std::move(runner);
}

void PollerService::StopRunner(const std::string& uuid) {
  std::shared_ptr<Runner> runner;
  {
    std::lock_guard<std::mutex> lock(runners_mu_);
    auto it = runners_.find(uuid);
    if (it == runners_.end()) {
      return;
    }
    runner = std::move(it->second);
    runners_.erase(it);
  }
  // Outside runners_mu_: `status` goes on while invokes in flight finish.
  runner->Stop();
}

Status PollerService::CheckReferences(const MappingConfig& config) {
  if (!deps_.functions->Find(config.function_name, config.qualifier)) {
    return NotFound("FunctionName: function " + config.function_name +
                    (config.qualifier == "$LATEST" ? "" : " version " + config.qualifier) +
                    " does not exist");
  }
  if (!deps_.streams->Describe(config.stream_name).ok()) {
    return NotFound("EventSourceArn: stream " + config.stream_name + " does not exist");
  }
  Result<std::unique_ptr<EventFilter>> filter =
      EventFilter::Compile(config.filter_patterns, "FilterCriteria");
  SLUICE_RETURN_IF_ERROR(filter.status());
  const FailureDestination& destination = config.on_failure;
  if (destination.kind == FailureDestination::Kind::kStream &&
      !deps_.streams->Describe(destination.target).ok()) {
    return NotFound("DestinationConfig.OnFailure.Destination: stream " + destination.target +
                    " does not exist");
  }
  if (destination.kind == FailureDestination::Kind::kTopic &&
      !(deps_.topic_exists && deps_.topic_exists(destination.target))) {
    return NotFound("DestinationConfig.OnFailure.Destination: topic " + destination.target +
                    " does not exist");
  }
  return Status::Ok();
}

Status PollerService::PinLatest(const std::string& uuid, const std::string& stream_name) {
  Result<stream::StreamMetadata> metadata = deps_.streams->Describe(stream_name);
  SLUICE_RETURN_IF_ERROR(metadata.status());
  std::vector<state::Checkpoint> pins;
  const int64_t now = deps_.clock->UnixMillis();
  const std::string created = nlohmann::json{{kStreamCreatedKey, metadata->created_ms}}.dump();
  for (const stream::ShardMetadata& shard : metadata->shards) {
    const std::string shard_id = stream::ShardIdString(shard.index);
    if (shard.closed) {
      pins.push_back({uuid, shard_id, kShardEnd, created, now});
      continue;
    }
    Result<std::shared_ptr<stream::ShardLog>> log = deps_.streams->Shard(stream_name, shard.index);
    SLUICE_RETURN_IF_ERROR(log.status());
    const uint64_t end = (*log)->end_ordinal();
    if (end == 0 || end <= (*log)->trim_horizon()) {
      continue;  // nothing in it yet: TRIM_HORIZON is LATEST
    }
    Result<stream::ShardLog::ReadResult> last = (*log)->Read(end - 1, 1, 1);
    SLUICE_RETURN_IF_ERROR(last.status());
    if (last->records.empty()) {
      continue;
    }
    const stream::StoredRecord& newest = last->records.back();
    pins.push_back(
        {uuid, shard_id,
         stream::SequenceNumber{shard.index, newest.generation, newest.ordinal}.ToString(), created,
         now});
  }
  return deps_.db->Write([&](state::Transaction& txn) {
    for (const state::Checkpoint& pin : pins) {
      SLUICE_RETURN_IF_ERROR(state::Checkpoints::Put(txn, pin));
    }
    return Status::Ok();
  });
}

Result<StoredMapping> PollerService::Create(const MappingConfig& config) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  SLUICE_RETURN_IF_ERROR(CheckReferences(config));
  Result<StoredMapping> created = store_.Create(config, deps_.clock->UnixMillis());
  if (!created.ok()) {
    return created.status();
  }
  if (config.starting_position == StartingPosition::kLatest) {
    if (Status pinned = PinLatest(created->uuid, config.stream_name); !pinned.ok()) {
      (void)store_.Delete(created->uuid);
      return pinned.WithContext("pinning LATEST");
    }
  }
  if (config.enabled) {
    StartRunner(*created);
  }
  LogInfo("poller", "mapping " + created->uuid + " created: " + config.function_name + " <- " +
                        config.stream_name);
  return created;
}

Result<StoredMapping> PollerService::Update(const std::string& uuid, const nlohmann::json& update) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  Result<std::optional<StoredMapping>> current = store_.Get(uuid);
  if (!current.ok()) {
    return current.status();
  }
  if (!*current) {
    return NotFound("event source mapping " + uuid + " does not exist");
  }
  Result<MappingConfig> next = ApplyMappingUpdate((*current)->config, update);
  if (!next.ok()) {
    return next.status();
  }
  SLUICE_RETURN_IF_ERROR(CheckReferences(*next));
  Result<StoredMapping> stored = store_.Update(uuid, *next, deps_.clock->UnixMillis());
  if (!stored.ok()) {
    return stored.status();
  }
  StopRunner(uuid);  // lets invokes in flight finish; the checkpoints say where to go on
  if (stored->config.enabled) {
    StartRunner(*stored);
  }
  return stored;
}

Status PollerService::Delete(const std::string& uuid) {
  std::lock_guard<std::mutex> lock(admin_mu_);
  Result<std::optional<StoredMapping>> current = store_.Get(uuid);
  SLUICE_RETURN_IF_ERROR(current.status());
  if (!*current) {
    return NotFound("event source mapping " + uuid + " does not exist");
  }
  StopRunner(uuid);
  return store_.Delete(uuid);
}

Result<StoredMapping> PollerService::Get(const std::string& uuid) {
  Result<std::optional<StoredMapping>> current = store_.Get(uuid);
  if (!current.ok()) {
    return current.status();
  }
  if (!*current) {
    return NotFound("event source mapping " + uuid + " does not exist");
  }
  return **current;
}

nlohmann::json PollerService::Describe(const StoredMapping& mapping) {
  const MappingConfig& config = mapping.config;
  nlohmann::json view = MappingToJson(config, deps_.stream_arn(config.stream_name));
  view["UUID"] = mapping.uuid;
  view["State"] = config.enabled ? "Enabled" : "Disabled";
  view["StateTransitionReason"] = "User action";
  view["LastModified"] = static_cast<double>(mapping.last_modified_ms) / 1000.0;
  std::shared_ptr<invoker::FunctionPool> pool =
      deps_.functions->Find(config.function_name, config.qualifier);
  if (pool) {
    view["FunctionArn"] = pool->config().arn;
  }
  return view;
}

Result<std::vector<StoredMapping>> PollerService::List() {
  return store_.List();
}

Result<std::vector<MappingStatus>> PollerService::Statuses(const std::string& uuid) {
  Result<std::vector<StoredMapping>> mappings = store_.List();
  if (!mappings.ok()) {
    return mappings.status();
  }
  std::vector<MappingStatus> statuses;
  state::Checkpoints checkpoints(deps_.db);
  for (StoredMapping& mapping : *mappings) {
    if (!uuid.empty() && mapping.uuid != uuid) {
      continue;
    }
    MappingStatus status;
    std::shared_ptr<Runner> runner;
    {
      std::lock_guard<std::mutex> lock(runners_mu_);
      auto it = runners_.find(mapping.uuid);
      if (it != runners_.end()) {
        runner = it->second;
      }
    }
    const std::map<uint32_t, ShardStatus> live =
        runner ? runner->Live() : std::map<uint32_t, ShardStatus>();
    Result<stream::StreamMetadata> metadata = deps_.streams->Describe(mapping.config.stream_name);
    if (metadata.ok()) {
      for (const stream::ShardMetadata& shard : metadata->shards) {
        auto it = live.find(shard.index);
        if (it != live.end()) {
          status.shards.push_back(it->second);
          continue;
        }
        ShardStatus idle;
        idle.shard_id = stream::ShardIdString(shard.index);
        Result<std::optional<state::Checkpoint>> saved =
            checkpoints.Get(mapping.uuid, idle.shard_id);
        if (saved.ok() && *saved) {
          idle.position = (*saved)->sequence_number;
        }
        if (idle.position == kShardEnd) {
          idle.phase = ShardStatus::Phase::kFinished;
        } else if (!mapping.config.enabled) {
          idle.phase = ShardStatus::Phase::kDisabled;
        } else {
          idle.phase = ShardStatus::Phase::kWaitingForParents;
        }
        status.shards.push_back(std::move(idle));
      }
    }
    status.mapping = std::move(mapping);
    statuses.push_back(std::move(status));
  }
  return statuses;
}

}  // namespace sluice::poller
