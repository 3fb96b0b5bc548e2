#include "delivery/delivery_pipeline.h"

#include <algorithm>
#include <limits>
#include <random>

#include "base/log.h"
#include "base/random.h"
#include "delivery/error_records.h"
#include "delivery/gzip.h"
#include "delivery/http_endpoint_client.h"
#include "delivery/object_naming.h"
#include "delivery/postgres_loader.h"
#include "delivery/transformer.h"
#include "stream/sequence_number.h"

namespace sluice::delivery {
namespace {

namespace pb = runtime::v1;
using std::chrono::milliseconds;

constexpr milliseconds kFirstRetryDelay{1000};
constexpr milliseconds kMaxRetryDelay{120'000};
// A transform chunk's invoke stays under this (the pool refuses invokes over 6 MiB, Lambda's
// payload limit): each record counts its data, its envelope (record id, time, field tags:
// kRecordEnvelopeBytes at most) and its Kinesis metadata.
constexpr int64_t kMaxChunkInvokeBytes = 5ll << 20;
constexpr int64_t kRecordEnvelopeBytes = 64;
// How long a read waits for records before it looks at its deadlines and the stop signal again.
constexpr milliseconds kReadSlice{200};
// An HTTP endpoint request carries at most this many records (Firehose's protocol).
constexpr size_t kMaxHttpRecords = 10'000;
// A Kinesis source's shard list is looked at this often.
constexpr milliseconds kShardRefresh{1000};

// The next delay after `delay`: doubled, capped, with ±15% jitter.
milliseconds NextDelay(milliseconds delay) {
  thread_local std::minstd_rand random(std::random_device{}());
  const double doubled = static_cast<double>(std::min(delay * 2, kMaxRetryDelay).count());
  return milliseconds(
      static_cast<int64_t>(doubled * std::uniform_real_distribution<double>(0.85, 1.15)(random)));
}

}  // namespace

std::string RecordIdFor(uint32_t shard, uint64_t ordinal) {
  // 8 hex digits of the shard, 16 of the ordinal (by hand: snprintf showed in profiles).
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(24, '0');
  for (int i = 7; i >= 0; --i, shard >>= 4) {
    id[i] = kHex[shard & 0xf];
  }
  for (int i = 23; i >= 8; --i, ordinal >>= 4) {
    id[i] = kHex[ordinal & 0xf];
  }
  return id;
}

struct DeliveryPipeline::Batch {
  struct Record {
    uint32_t shard = 0;
    uint64_t ordinal = 0;
    int64_t arrival_ms = 0;
    std::string data;
    std::optional<pb::KinesisRecordMetadata> metadata;  // Kinesis sources only
  };
  PlannedBatch plan;
  std::vector<Record> records;
  int64_t bytes = 0;
  std::vector<std::string> delivered;         // the Ok records, to deliver
  std::vector<int64_t> delivered_arrival_ms;  // when each of them arrived
  std::string failed_lines;                   // processing-failed error records
};

struct DeliveryPipeline::Destination {
  std::unique_ptr<ObjectStore> store;  // config.store()
  std::unique_ptr<HttpEndpointClient> http;
  std::unique_ptr<PostgresLoader> postgres;
  std::unique_ptr<Transformer> transformer;
};

Result<std::unique_ptr<DeliveryPipeline>> DeliveryPipeline::Start(DeliveryStreamInfo info,
                                                                  PipelineDeps deps) {
  const DeliveryStreamConfig& config = info.config;
  auto destination = std::make_unique<Destination>();
  Result<std::unique_ptr<ObjectStore>> store = OpenObjectStore(config.store(), deps.region);
  if (!store.ok()) {
    return store.status();
  }
  destination->store = std::move(*store);
  if (config.destination == DestinationKind::kHttpEndpoint) {
    destination->http = std::make_unique<HttpEndpointClient>(config.http, deps.delivery_stream_arn);
  } else if (config.destination == DestinationKind::kPostgres) {
    destination->postgres = std::make_unique<PostgresLoader>(config.postgres);
  }
  if (config.processor.enabled) {
    destination->transformer =
        std::make_unique<Transformer>(TransformerOptions{config.processor, deps.delivery_stream_arn,
                                                         deps.source_stream_arn, deps.region},
                                      deps.functions, deps.clock);
  }
  std::unique_ptr<DeliveryPipeline> pipeline(
      new DeliveryPipeline(std::move(info), std::move(deps)));
  pipeline->destination_ = std::move(destination);
  pipeline->thread_ = std::thread([raw = pipeline.get()] { raw->Run(); });
  return pipeline;
}

DeliveryPipeline::DeliveryPipeline(DeliveryStreamInfo info, PipelineDeps deps)
    : info_(std::move(info)), deps_(std::move(deps)) {}

void DeliveryPipeline::RequestStop() {
  stop_.Stop();
}

DeliveryPipeline::~DeliveryPipeline() {
  stop_.Stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void DeliveryPipeline::Run() {
  const std::string& name = info_.config.name;
  DeliveryProgress progress;
  if (!WriteUntilDone("loading the checkpoint", [&] {
        Result<DeliveryProgress> loaded = deps_.store->LoadProgress(name);
        if (!loaded.ok()) {
          return loaded.status();
        }
        progress = std::move(*loaded);
        return Status::Ok();
      })) {
    return;
  }
  checkpoint_ = progress.checkpoint;
  if (progress.plan) {
    Batch batch;
    batch.plan = std::move(*progress.plan);
    LogInfo("delivery", name + ": delivering batch " + batch.plan.uuid +
                            " again (the host stopped before it was committed)");
    if (!ReadPlanned(&batch) || !Process(batch)) {
      return;
    }
  }
  while (!stop_.stopped()) {
    Batch batch;
    if (!Buffer(&batch)) {
      return;
    }
    if (!Process(batch)) {
      return;
    }
  }
}

bool DeliveryPipeline::Buffer(Batch* batch) {
  const BufferingHints& hints = info_.config.buffering();
  const bool from_stream = !deps_.source_stream_arn.empty();
  const size_t max_records = info_.config.destination == DestinationKind::kHttpEndpoint
                                 ? kMaxHttpRecords
                                 : std::numeric_limits<size_t>::max();
  ShardPositions cursor = checkpoint_;
  std::vector<SourceShard> shards;
  Clock::Steady shards_read_at{};
  std::optional<Clock::Steady> deadline;  // set by the first record
  while (!stop_.stopped()) {
    const Clock::Steady now = deps_.clock->SteadyNow();
    if (shards.empty() || (from_stream && now - shards_read_at >= kShardRefresh)) {
      Result<std::vector<SourceShard>> listed = deps_.shards();
      if (!listed.ok()) {
        deps_.metrics->set_last_error("reading the source: " + listed.status().message());
        stop_.SleepUntil(*deps_.clock, now + kShardRefresh);
        continue;
      }
      shards = std::move(*listed);
      shards_read_at = now;
    }
    bool read_any = false;
    for (const SourceShard& shard : shards) {
      const int64_t room = hints.size_bytes - batch->bytes;
      const size_t records_room = max_records - batch->records.size();
      if (room <= 0 || records_room == 0) {
        break;
      }
      uint64_t& next = cursor[shard.index];
      Result<stream::ShardLog::ReadResult> read =
          shard.log->Read(next, std::min<size_t>(records_room, 10'000), static_cast<size_t>(room));
      if (!read.ok()) {
        deps_.metrics->set_last_error("reading the source: " + read.status().message());
        stop_.SleepUntil(*deps_.clock, deps_.clock->SteadyNow() + kShardRefresh);
        continue;
      }
      for (stream::StoredRecord& record : read->records) {
        TakeRecord(shard, std::move(record), batch);
        read_any = true;
      }
      next = read->next_ordinal;
    }
    if (read_any && !deadline) {
      // The interval counts from the first record's arrival, not from when it was read (a
      // record that arrived during the previous delivery has waited already).
      const int64_t waited_ms =
          std::max<int64_t>(0, deps_.clock->UnixMillis() - batch->records.front().arrival_ms);
      deadline = now + milliseconds(std::max<int64_t>(0, hints.interval_ms - waited_ms));
    }
    deps_.metrics->records_buffered.Set(static_cast<int64_t>(batch->records.size()));
    if (!batch->records.empty() &&
        (batch->bytes >= hints.size_bytes || batch->records.size() >= max_records ||
         deps_.clock->SteadyNow() >= *deadline)) {
      break;
    }
    if (read_any) {
      continue;  // more may be waiting
    }
    // Nothing new: wait for a record or the buffer's deadline, whichever comes first.
    Clock::Steady wake = deps_.clock->SteadyNow() + kReadSlice;
    if (deadline) {
      wake = std::min(wake, *deadline);
    }
    if (shards.size() == 1 && !from_stream) {
      shards[0].log->WaitForRecords(cursor[shards[0].index], std::chrono::steady_clock::now() +
                                                                 deps_.clock->RealWaitUntil(wake));
    } else {
      stop_.SleepUntil(*deps_.clock, wake);
    }
  }
  if (stop_.stopped()) {
    return false;
  }
  batch->plan.uuid = RandomUuid();
  batch->plan.version = info_.version;
  batch->plan.end = cursor;
  batch->plan.oldest_arrival_ms = batch->records.front().arrival_ms;
  for (const Batch::Record& record : batch->records) {
    batch->plan.oldest_arrival_ms = std::min(batch->plan.oldest_arrival_ms, record.arrival_ms);
  }
  return WriteUntilDone("saving the batch plan",
                        [&] { return deps_.store->SavePlan(info_.config.name, batch->plan); });
}

void DeliveryPipeline::TakeRecord(const SourceShard& shard, stream::StoredRecord record,
                                  Batch* batch) {
  Batch::Record& out = batch->records.emplace_back();
  out.shard = shard.index;
  out.ordinal = record.ordinal;
  out.arrival_ms = record.arrival_ms;
  batch->bytes += static_cast<int64_t>(record.data.size());
  if (!deps_.source_stream_arn.empty()) {
    // DirectPut records were counted when they were put.
    deps_.metrics->records_in.Increment();
    deps_.metrics->bytes_in.Increment(record.data.size());
    pb::KinesisRecordMetadata& metadata = out.metadata.emplace();
    metadata.set_shard_id(shard.shard_id);
    metadata.set_partition_key(std::move(record.partition_key));
    metadata.set_approximate_arrival_timestamp_ms(record.arrival_ms);
    metadata.set_sequence_number(
        stream::SequenceNumber{shard.index, record.generation, record.ordinal}.ToString());
  }
  out.data = std::move(record.data);
}

bool DeliveryPipeline::ReadPlanned(Batch* batch) {
  // Every record of the plan is read again, however long the source takes to answer: only
  // records that are gone (trimmed by retention, or a source stream deleted) are skipped.
  std::vector<SourceShard> shards;
  while (true) {
    Result<std::vector<SourceShard>> listed = deps_.shards();
    if (listed.ok()) {
      shards = std::move(*listed);
      break;
    }
    if (listed.status().code() == Code::kNotFound) {
      LogWarning("delivery", info_.config.name + ": the source of batch " + batch->plan.uuid +
                                 " is gone: " + listed.status().message());
      break;
    }
    deps_.metrics->set_last_error("replaying batch " + batch->plan.uuid + ": " +
                                  listed.status().message());
    if (!stop_.SleepUntil(*deps_.clock, deps_.clock->SteadyNow() + kShardRefresh)) {
      return false;
    }
  }
  for (const SourceShard& shard : shards) {
    auto end = batch->plan.end.find(shard.index);
    if (end == batch->plan.end.end()) {
      continue;
    }
    auto start = checkpoint_.find(shard.index);
    uint64_t next = start == checkpoint_.end() ? 0 : start->second;
    while (next < end->second) {
      Result<stream::ShardLog::ReadResult> read =
          shard.log->Read(next, std::min<uint64_t>(end->second - next, 10'000), SIZE_MAX);
      if (!read.ok()) {
        deps_.metrics->set_last_error("replaying batch " + batch->plan.uuid + ": " +
                                      read.status().message());
        if (!stop_.SleepUntil(*deps_.clock, deps_.clock->SteadyNow() + kShardRefresh)) {
          return false;
        }
        continue;
      }
      if (read->records.empty()) {
        break;  // the log ends before the plan did (it was cut): the rest is gone
      }
      for (stream::StoredRecord& record : read->records) {
        if (record.ordinal >= end->second) {
          break;
        }
        TakeRecord(shard, std::move(record), batch);
      }
      next = read->next_ordinal;
    }
  }
  return !stop_.stopped();
}

bool DeliveryPipeline::Process(Batch& batch) {
  Transform(batch);
  if (stop_.stopped()) {
    return false;
  }
  if (!batch.failed_lines.empty()) {
    const std::string key = ErrorKey(batch, kProcessingFailed);
    if (!WriteUntilDone("writing processing-failed records to " + key,
                        [&] { return destination_->store->Put(key, batch.failed_lines); })) {
      return false;
    }
  }
  if (!batch.delivered.empty() && !Deliver(batch)) {
    return false;
  }
  if (!WriteUntilDone("committing the checkpoint", [&] {
        return deps_.store->CommitBatch(info_.config.name, batch.plan.end);
      })) {
    return false;
  }
  checkpoint_ = batch.plan.end;
  deps_.metrics->records_buffered.Set(0);
  if (deps_.source_stream_arn.empty()) {
    // The DirectPut buffer's delivered segments are of no more use.
    Result<std::vector<SourceShard>> shards = deps_.shards();
    for (const SourceShard& shard : shards.ok() ? *shards : std::vector<SourceShard>{}) {
      if (Result<int> trimmed = shard.log->TrimBelow(checkpoint_[shard.index]); !trimmed.ok()) {
        LogWarning("delivery",
                   info_.config.name + ": trimming the buffer: " + trimmed.status().message());
      }
    }
  }
  return true;
}

void DeliveryPipeline::Transform(Batch& batch) {
  if (!destination_->transformer) {
    for (Batch::Record& record : batch.records) {
      batch.delivered.push_back(std::move(record.data));
      batch.delivered_arrival_ms.push_back(record.arrival_ms);
    }
    return;
  }
  const ProcessorConfig& processor = info_.config.processor;
  size_t begin = 0;
  while (begin < batch.records.size()) {
    // The chunk: records up to the processor's size (and the invoke's limit), arrived within its
    // interval of the first.
    std::vector<TransformInput> chunk;
    int64_t bytes = 0;
    int64_t invoke_bytes = 0;
    size_t end = begin;
    while (end < batch.records.size()) {
      const Batch::Record& record = batch.records[end];
      const auto data_bytes = static_cast<int64_t>(record.data.size());
      const int64_t record_invoke_bytes =
          data_bytes + kRecordEnvelopeBytes +
          (record.metadata ? static_cast<int64_t>(record.metadata->ByteSizeLong()) : 0);
      const bool full =
          !chunk.empty() &&
          (bytes + data_bytes > processor.buffer_size_bytes ||
           invoke_bytes + record_invoke_bytes > kMaxChunkInvokeBytes ||
           record.arrival_ms - batch.records[begin].arrival_ms > processor.buffer_interval_ms);
      if (full) {
        break;
      }
      chunk.push_back(TransformInput{RecordIdFor(record.shard, record.ordinal), record.arrival_ms,
                                     &record.data, record.metadata ? &*record.metadata : nullptr});
      bytes += data_bytes;
      invoke_bytes += record_invoke_bytes;
      ++end;
    }
    std::vector<TransformOutcome> outcomes = destination_->transformer->Transform(chunk, stop_);
    if (stop_.stopped()) {
      return;
    }
    const int64_t ending_ms = deps_.clock->UnixMillis();
    for (size_t i = 0; i < outcomes.size(); ++i) {
      TransformOutcome& outcome = outcomes[i];
      const Batch::Record& record = batch.records[begin + i];
      switch (outcome.kind) {
        case TransformOutcome::kOk:
          deps_.metrics->records_transformed.Increment();
          batch.delivered.push_back(std::move(outcome.data));
          batch.delivered_arrival_ms.push_back(record.arrival_ms);
          break;
        case TransformOutcome::kDropped: deps_.metrics->records_dropped.Increment(); break;
        case TransformOutcome::kFailed:
          deps_.metrics->records_failed.Increment();
          deps_.metrics->set_last_error("transform: " + outcome.error_code + ": " +
                                        outcome.error_message);
          batch.failed_lines += FailedRecordLine(FailedRecord{
              outcome.attempts, record.arrival_ms, outcome.error_code, outcome.error_message,
              ending_ms, record.data, destination_->transformer->function_arn()});
          break;
      }
    }
    begin = end;
  }
}

bool DeliveryPipeline::Deliver(Batch& batch) {
  const DeliveryStreamConfig& config = info_.config;
  const ObjectStoreConfig& store_config = config.store();
  const std::string random11 = batch.plan.uuid.substr(0, 8) + batch.plan.uuid.substr(9, 3);
  const std::string key = ObjectKey(
      EvaluatePrefix(store_config.prefix, batch.plan.oldest_arrival_ms, random11, ""), config.name,
      batch.plan.version, batch.plan.oldest_arrival_ms, batch.plan.uuid, store_config.extension());
  std::string body;
  if (config.destination != DestinationKind::kHttpEndpoint || config.http.backup_all_data) {
    for (const std::string& record : batch.delivered) {
      body += record;
    }
    if (store_config.compression == Compression::kGzip) {
      body = GzipCompress(body);
    }
  }
  // One attempt; the error code for failed-data records when it fails.
  std::string error_code;
  bool posted = false;  // the HTTP endpoint answered 200
  auto attempt = [&]() -> Status {
    switch (config.destination) {
      case DestinationKind::kObjectStore: {
        error_code = "S3.PutObjectFailed";
        return destination_->store->Put(key, body);
      }
      case DestinationKind::kHttpEndpoint: {
        if (!posted) {
          const HttpEndpointOutcome outcome =
              destination_->http->Post(batch.plan.uuid, deps_.clock->UnixMillis(), batch.delivered,
                                       [this] { return stop_.stopped(); });
          posted = outcome.kind == HttpEndpointOutcome::kDelivered;
          if (!posted) {
            error_code = outcome.error_code;
            return outcome.kind == HttpEndpointOutcome::kPermanent
                       ? InvalidArgument(outcome.error_message)
                       : Unavailable(outcome.error_message);
          }
        }
        // Delivered: with AllData only the backup copy is left to write (and to retry).
        error_code = "S3.PutObjectFailed";
        return config.http.backup_all_data ? destination_->store->Put(key, body) : Status::Ok();
      }
      case DestinationKind::kPostgres: {
        error_code = "S3.PutObjectFailed";  // the intermediate store
        SLUICE_RETURN_IF_ERROR(destination_->store->Put(key, body));
        Result<bool> loaded = destination_->postgres->Load(config.name, key, batch.delivered);
        if (!loaded.ok()) {
          error_code = loaded.status().code() == Code::kUnavailable ? "PostgreSQL.ConnectionFailed"
                                                                    : "PostgreSQL.DataLoadFailed";
          return loaded.status();
        }
        if (!*loaded) {
          LogInfo("delivery", config.name + ": " + key +
                                  " was loaded before the host stopped; not loaded again");
        }
        return Status::Ok();
      }
    }
    return Internal("unknown destination kind");
  };

  const Clock::Steady give_up = deps_.clock->SteadyNow() + milliseconds(config.retry_duration_ms());
  milliseconds delay = kFirstRetryDelay;
  int32_t attempts = 0;
  Status last;
  while (true) {
    last = attempt();
    ++attempts;
    if (last.ok()) {
      deps_.metrics->records_delivered.Increment(batch.delivered.size());
      int64_t bytes = static_cast<int64_t>(body.size());
      if (config.destination == DestinationKind::kHttpEndpoint && !config.http.backup_all_data) {
        bytes = 0;
        for (const std::string& record : batch.delivered) {
          bytes += static_cast<int64_t>(record.size());
        }
      }
      deps_.metrics->bytes_delivered.Increment(static_cast<uint64_t>(bytes));
      deps_.metrics->objects_delivered.Increment();
      deps_.metrics->freshness_ms.Set(deps_.clock->UnixMillis() - batch.plan.oldest_arrival_ms);
      return true;
    }
    deps_.metrics->delivery_errors.Increment();
    deps_.metrics->set_last_error("delivering batch " + batch.plan.uuid + ": " + error_code + ": " +
                                  last.message());
    LogWarning("delivery", config.name + ": delivering batch " + batch.plan.uuid + " (attempt " +
                               std::to_string(attempts) + "): " + error_code + ": " +
                               last.message());
    const Clock::Steady next = deps_.clock->SteadyNow() + delay;
    if (last.code() == Code::kInvalidArgument &&
        config.destination == DestinationKind::kHttpEndpoint && !posted) {
      break;  // permanent (HTTP 413): retrying cannot help
    }
    if (next > give_up) {
      break;
    }
    if (!stop_.SleepUntil(*deps_.clock, next)) {
      return false;
    }
    delay = NextDelay(delay);
  }
  // Past the retries: the batch goes to the error prefix.
  deps_.metrics->batches_failed.Increment();
  const int64_t ending_ms = deps_.clock->UnixMillis();
  std::string error_output_type = kS3Failed;
  std::string failed;
  if (config.destination == DestinationKind::kPostgres) {
    error_output_type = kPostgresFailed;
    failed =
        SkippedObjectsManifest({(store_config.is_directory() ? "file://" + store_config.directory()
                                                             : "s3://" + store_config.bucket()) +
                                "/" + key});
  } else {
    if (config.destination == DestinationKind::kHttpEndpoint && !posted) {
      error_output_type = kHttpEndpointFailed;  // else the endpoint has them, the backup failed
    }
    for (size_t i = 0; i < batch.delivered.size(); ++i) {
      failed += FailedRecordLine(FailedRecord{attempts, batch.delivered_arrival_ms[i], error_code,
                                              last.message(), ending_ms, batch.delivered[i], ""});
    }
  }
  const std::string error_key = ErrorKey(batch, error_output_type);
  if (error_key == ErrorKey(batch, kProcessingFailed)) {
    // An ErrorOutputPrefix without !{firehose:error-output-type} puts both kinds of failed data
    // of a batch at one key: the object holds both (each line names its errorCode).
    failed.insert(0, batch.failed_lines);
  }
  LogWarning("delivery", config.name + ": batch " + batch.plan.uuid + " failed after " +
                             std::to_string(attempts) + " attempts; writing it to " + error_key);
  return WriteUntilDone("writing the failed batch to " + error_key,
                        [&] { return destination_->store->Put(error_key, failed); });
}

std::string DeliveryPipeline::ErrorKey(const Batch& batch,
                                       const std::string& error_output_type) const {
  const ObjectStoreConfig& store_config = info_.config.store();
  const std::string random11 = batch.plan.uuid.substr(0, 8) + batch.plan.uuid.substr(9, 3);
  return ObjectKey(EvaluateErrorPrefix(store_config.prefix, store_config.error_output_prefix,
                                       batch.plan.oldest_arrival_ms, random11, error_output_type),
                   info_.config.name, info_.version, batch.plan.oldest_arrival_ms, batch.plan.uuid,
                   "");
}

bool DeliveryPipeline::WriteUntilDone(const std::string& what,
                                      const std::function<Status()>& write) {
  milliseconds delay = kFirstRetryDelay;
  while (true) {
    const Status status = write();
    if (status.ok()) {
      return true;
    }
    deps_.metrics->set_last_error(what + ": " + status.message());
    LogWarning("delivery",
               info_.config.name + ": " + what + ": " + status.message() + " (retrying)");
    if (!stop_.SleepUntil(*deps_.clock, deps_.clock->SteadyNow() + delay)) {
      return false;
    }
    delay = NextDelay(delay);
  }
}

}  // namespace sluice::delivery
