#include "delivery/delivery_service.h"

#include <filesystem>

#include "base/log.h"
#include "delivery/delivery_metrics.h"
#include "delivery/delivery_pipeline.h"
#include "delivery/delivery_store.h"
#include "delivery/object_store.h"
#include "stream/stream_metadata.h"

namespace sluice::delivery {

namespace fs = std::filesystem;

struct DeliveryService::Entry {
  DeliveryStreamInfo info;
  std::unique_ptr<DeliveryMetrics> metrics;
  std::shared_ptr<stream::ShardLog> buffer;  // DirectPut only
  std::unique_ptr<DeliveryPipeline> pipeline;
};

DeliveryService::DeliveryService(DeliveryServiceDeps deps)
    : deps_(std::move(deps)), store_(std::make_unique<DeliveryStore>(deps_.db)) {}

DeliveryService::~DeliveryService() {
  std::lock_guard<std::mutex> lock(mu_);
  // All at once: a pipeline waiting on a slow destination does not hold up the others.
  for (auto& [name, entry] : entries_) {
    if (entry->pipeline) {
      entry->pipeline->RequestStop();
    }
  }
  for (auto& [name, entry] : entries_) {
    entry->pipeline.reset();
  }
}

Result<std::unique_ptr<DeliveryService>> DeliveryService::Start(DeliveryServiceDeps deps) {
  std::unique_ptr<DeliveryService> service(new DeliveryService(std::move(deps)));
  SLUICE_RETURN_IF_ERROR(service->deps_.db->Write(&DeliveryStore::EnsureSchema));
  Result<std::vector<DeliveryStreamInfo>> stored = service->store_->List();
  if (!stored.ok()) {
    return stored.status().WithContext("loading delivery streams");
  }
  for (DeliveryStreamInfo& info : *stored) {
    auto entry = std::make_shared<Entry>();
    info.arn = service->Arn(info.config.name);
    entry->info = std::move(info);
    entry->metrics = std::make_unique<DeliveryMetrics>(entry->info.config.name);
    if (Status opened = service->OpenEntry(*entry); !opened.ok()) {
      if (!entry->buffer && entry->info.config.source == SourceKind::kDirectPut) {
        return opened.WithContext("delivery stream " + entry->info.config.name);
      }
      LogWarning("delivery", entry->info.config.name + " is not delivering: " + opened.message());
    }
    service->entries_[entry->info.config.name] = std::move(entry);
  }
  return service;
}

std::string DeliveryService::BufferDir(const std::string& name) const {
  return deps_.data_dir + "/delivery/" + name + "/buffer";
}

std::string DeliveryService::Arn(const std::string& name) const {
  return "arn:aws:firehose:" + deps_.region + ":" + deps_.account_id + ":deliverystream/" + name;
}

std::string DeliveryService::StreamArn(const std::string& stream) const {
  return "arn:aws:kinesis:" + deps_.region + ":" + deps_.account_id + ":stream/" + stream;
}

Result<std::vector<SourceShard>> DeliveryService::SourceShards(const Entry& entry) const {
  if (entry.buffer) {
    return std::vector<SourceShard>{SourceShard{0, "", entry.buffer}};
  }
  const std::string& stream = entry.info.config.source_stream;
  Result<stream::StreamMetadata> metadata = deps_.streams->Describe(stream);
  if (!metadata.ok()) {
    return metadata.status();
  }
  std::vector<SourceShard> shards;
  for (const stream::ShardMetadata& shard : metadata->shards) {
    Result<std::shared_ptr<stream::ShardLog>> log = deps_.streams->Shard(stream, shard.index);
    if (!log.ok()) {
      return log.status();
    }
    shards.push_back(SourceShard{shard.index, stream::ShardIdString(shard.index), *log});
  }
  return shards;
}

Status DeliveryService::OpenEntry(Entry& entry) {
  const DeliveryStreamConfig& config = entry.info.config;
  if (config.source == SourceKind::kDirectPut && !entry.buffer) {
    std::error_code ec;
    fs::create_directories(BufferDir(config.name), ec);
    if (ec) {
      return Unavailable("creating " + BufferDir(config.name) + ": " + ec.message());
    }
    stream::ShardLogOptions options;
    options.durability = deps_.durability;
    // Delivered segments are removed (DeliveryPipeline trims below its checkpoint): smaller
    // segments keep less of what is delivered on disk.
    options.segment_max_bytes = 16ull << 20;
    options.segment_max_age_ms = 10 * 60 * 1000;
    Result<std::unique_ptr<stream::ShardLog>> log =
        stream::ShardLog::Open(BufferDir(config.name), 1, false, options, deps_.clock);
    if (!log.ok()) {
      return log.status().WithContext("opening the buffer of " + config.name);
    }
    entry.buffer = std::move(*log);
  }
  PipelineDeps pipeline;
  pipeline.store = store_.get();
  pipeline.functions = deps_.functions;
  pipeline.clock = deps_.clock;
  pipeline.metrics = entry.metrics.get();
  pipeline.shards = [this, &entry] { return SourceShards(entry); };
  pipeline.region = deps_.region;
  pipeline.delivery_stream_arn = entry.info.arn;
  if (config.source == SourceKind::kStream) {
    pipeline.source_stream_arn = StreamArn(config.source_stream);
  }
  Result<std::unique_ptr<DeliveryPipeline>> started =
      DeliveryPipeline::Start(entry.info, std::move(pipeline));
  if (!started.ok()) {
    entry.metrics->set_last_error("not delivering: " + started.status().message());
    return started.status();
  }
  entry.pipeline = std::move(*started);
  return Status::Ok();
}

Status DeliveryService::CheckDestination(const DeliveryStreamConfig& config) const {
  if (config.processor.enabled &&
      !deps_.functions->Find(config.processor.function_name, config.processor.qualifier)) {
    return InvalidArgument("ProcessingConfiguration: function " + config.processor.function_name +
                           ":" + config.processor.qualifier + " is not deployed");
  }
  if (Result<std::unique_ptr<ObjectStore>> store = OpenObjectStore(config.store(), deps_.region);
      !store.ok()) {
    return InvalidArgument(store.status().message());
  }
  return Status::Ok();
}

Status DeliveryService::Create(const DeliveryStreamConfig& config) {
  std::lock_guard<std::mutex> change(change_mu_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.count(config.name) != 0) {
      return Status(Code::kAlreadyExists, "delivery stream " + config.name + " already exists");
    }
  }
  SLUICE_RETURN_IF_ERROR(CheckDestination(config));
  // A stream source starts at the stream's end now (Firehose reads from LATEST); shards made
  // later are read from their start.
  ShardPositions checkpoint;
  if (config.source == SourceKind::kStream) {
    Result<stream::StreamMetadata> metadata = deps_.streams->Describe(config.source_stream);
    if (!metadata.ok()) {
      return NotFound("KinesisStreamSourceConfiguration: stream " + config.source_stream +
                      " not found");
    }
    for (const stream::ShardMetadata& shard : metadata->shards) {
      Result<std::shared_ptr<stream::ShardLog>> log =
          deps_.streams->Shard(config.source_stream, shard.index);
      if (log.ok()) {
        checkpoint[shard.index] = (*log)->end_ordinal();
      }
    }
  }
  auto entry = std::make_shared<Entry>();
  entry->info.config = config;
  entry->info.version = 1;
  entry->info.created_ms = deps_.clock->UnixMillis();
  entry->info.updated_ms = entry->info.created_ms;
  entry->info.arn = Arn(config.name);
  entry->metrics = std::make_unique<DeliveryMetrics>(config.name);
  // A buffer left by a stream of the same name that a crash kept from being removed is not ours.
  std::error_code ec;
  fs::remove_all(deps_.data_dir + "/delivery/" + config.name, ec);
  SLUICE_RETURN_IF_ERROR(store_->Insert(entry->info, checkpoint));
  if (Status opened = OpenEntry(*entry); !opened.ok()) {
    (void)store_->Delete(config.name);
    return opened;
  }
  LogInfo("delivery", "created delivery stream " + config.name);
  std::lock_guard<std::mutex> lock(mu_);
  entries_[config.name] = std::move(entry);
  return Status::Ok();
}

Status DeliveryService::Update(const DeliveryStreamConfig& config, bool* changed) {
  std::lock_guard<std::mutex> change(change_mu_);
  *changed = false;
  Result<std::shared_ptr<Entry>> found = Find(config.name);
  if (!found.ok()) {
    return found.status();
  }
  const std::shared_ptr<Entry> entry = std::move(*found);
  if (ToCreateRequest(config) == ToCreateRequest(entry->info.config)) {
    return Status::Ok();
  }
  if (config.source != entry->info.config.source ||
      config.source_stream != entry->info.config.source_stream) {
    return InvalidArgument("delivery stream " + config.name +
                           ": the source of a delivery stream cannot change (delete it and "
                           "create it again)");
  }
  SLUICE_RETURN_IF_ERROR(CheckDestination(config));
  DeliveryStreamInfo next = entry->info;
  next.config = config;
  next.version += 1;
  next.updated_ms = deps_.clock->UnixMillis();
  entry->pipeline.reset();  // an unfinished batch stays planned and is replayed
  if (Status replaced = store_->Replace(next); !replaced.ok()) {
    (void)OpenEntry(*entry);  // the old configuration goes on
    return replaced;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);  // Describe reads info under mu_
    entry->info = std::move(next);
  }
  *changed = true;
  return OpenEntry(*entry);
}

Status DeliveryService::Delete(const std::string& name) {
  std::lock_guard<std::mutex> change(change_mu_);
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      return NotFound("delivery stream " + name + " not found");
    }
    entry = it->second;
    entries_.erase(it);
  }
  entry->pipeline.reset();
  SLUICE_RETURN_IF_ERROR(store_->Delete(name));
  if (entry->buffer) {
    entry->buffer->Close();
    entry->buffer->Settle();
  }
  std::error_code ec;
  fs::remove_all(deps_.data_dir + "/delivery/" + name, ec);
  LogInfo("delivery", "deleted delivery stream " + name);
  return Status::Ok();
}

Result<std::shared_ptr<DeliveryService::Entry>> DeliveryService::Find(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return NotFound("delivery stream " + name + " not found");
  }
  return it->second;
}

Result<DeliveryStreamInfo> DeliveryService::Describe(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    return NotFound("delivery stream " + name + " not found");
  }
  return it->second->info;
}

std::vector<std::string> DeliveryService::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : entries_) {
    names.push_back(name);
  }
  return names;
}

Result<std::vector<std::string>> DeliveryService::Put(
    const std::string& name, const std::vector<std::string_view>& records) {
  Result<std::shared_ptr<Entry>> found = Find(name);
  if (!found.ok()) {
    return found.status();
  }
  const std::shared_ptr<Entry> entry = std::move(*found);
  if (!entry->buffer) {
    return FailedPrecondition(
        "This operation is not permitted on KinesisStreamAsSource delivery stream type.");
  }
  std::vector<stream::RecordInput> inputs;
  inputs.reserve(records.size());
  int64_t bytes = 0;
  for (std::string_view data : records) {
    inputs.push_back(stream::RecordInput{"", data});
    bytes += static_cast<int64_t>(data.size());
  }
  Result<stream::ShardLog::Ticket> ticket = entry->buffer->Stage(inputs);
  if (!ticket.ok()) {
    return Unavailable("the buffer of " + name +
                       " cannot take records: " + ticket.status().message());
  }
  if (Status durable = entry->buffer->WaitDurable(*ticket); !durable.ok()) {
    return Unavailable("the buffer of " + name +
                       " could not store the records: " + durable.message());
  }
  entry->metrics->records_in.Increment(records.size());
  entry->metrics->bytes_in.Increment(static_cast<uint64_t>(bytes));
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (uint64_t ordinal = ticket->first_ordinal; ordinal < ticket->end_ordinal; ++ordinal) {
    ids.push_back(RecordIdFor(0, ordinal));
  }
  return ids;
}

std::vector<DeliveryStats> DeliveryService::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DeliveryStats> stats;
  for (const auto& [name, entry] : entries_) {
    stats.push_back(entry->metrics->Snapshot(name));
  }
  return stats;
}

}  // namespace sluice::delivery
