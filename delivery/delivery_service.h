// DeliveryService: every delivery stream of the host: their configurations (persisted in the
// state database), their durable buffers, and one DeliveryPipeline each.
//
// A DirectPut stream's records are acknowledged once they are in its buffer, a ShardLog under
// DATA_DIR/delivery/<name>/buffer (durable as the host's streams are: kill -9 in kOs, power loss
// in kFsync); a KinesisStreamAsSource stream reads every shard of a Sluice stream from its
// checkpoint (starting at the stream's end when the delivery stream is created, as Firehose
// does). The pipeline delivers and then moves the checkpoint; see delivery_pipeline.h. The
// buffer keeps records until they are delivered, however long that takes (Firehose keeps them
// 24 h), in segments of 16 MiB or 10 minutes; segments wholly delivered are removed.
//
// Thread-safety: every method is thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "delivery/delivery_config.h"
#include "poller/function_resolver.h"
#include "state/state_db.h"
#include "stream/stream_store.h"

namespace sluice::delivery {

struct DeliveryServiceDeps {
  std::string data_dir;  // buffers go under data_dir/delivery
  stream::Durability durability = stream::Durability::kOs;
  state::StateDb* db = nullptr;
  stream::StreamStore* streams = nullptr;
  poller::FunctionResolver* functions = nullptr;
  Clock* clock = nullptr;
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
};

// What DescribeDeliveryStream and `sluice status` show of one delivery stream.
struct DeliveryStreamInfo {
  DeliveryStreamConfig config;
  int64_t version = 1;  // DeliveryStreamVersion: 1, +1 on every configuration change
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  std::string arn;  // arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME
};

// Counts since the host started (or the delivery stream was created, if later), and the state of
// the pipeline now.
struct DeliveryStats {
  std::string name;
  int64_t records_in = 0;  // accepted by PutRecord(Batch), or read from the stream
  int64_t bytes_in = 0;
  int64_t records_transformed = 0;  // Ok from the transform
  int64_t records_dropped = 0;      // Dropped by the transform
  int64_t records_failed = 0;       // ProcessingFailed, or failed after the transform's retries
  int64_t records_delivered = 0;
  int64_t bytes_delivered = 0;    // as stored or sent (after compression)
  int64_t objects_delivered = 0;  // objects, requests or loads
  int64_t delivery_errors = 0;    // failed delivery attempts (each retry counts)
  int64_t batches_failed = 0;     // batches sent to the errors location after the retries
  int64_t records_buffered = 0;   // read but not yet delivered (now)
  int64_t freshness_ms = -1;      // age of the oldest record of the last delivery, -1: none yet
  std::string last_error;         // the last delivery or transform error, "" if none
};

class DeliveryStore;
struct SourceShard;

class DeliveryService {
 public:
  // Loads every stored delivery stream and starts its pipeline.
  static Result<std::unique_ptr<DeliveryService>> Start(DeliveryServiceDeps deps);
  ~DeliveryService();  // stops every pipeline (a batch in flight is abandoned, not lost)
  DeliveryService(const DeliveryService&) = delete;
  DeliveryService& operator=(const DeliveryService&) = delete;

  // ALREADY_EXISTS when the name is taken; NOT_FOUND when the source stream does not exist;
  // INVALID_ARGUMENT when the processor's function is not deployed or a store cannot be opened
  // (e.g. S3 credentials missing).
  Status Create(const DeliveryStreamConfig& config);
  // Replaces the configuration of an existing stream (version + 1) and restarts its pipeline,
  // which keeps its buffer and checkpoint. The source cannot change (INVALID_ARGUMENT).
  // Unchanged configuration: OK, nothing happens, *changed = false.
  Status Update(const DeliveryStreamConfig& config, bool* changed);
  // Stops the pipeline, removes the configuration, checkpoint and buffer. Records not yet
  // delivered are lost, as with Firehose. NOT_FOUND when absent.
  Status Delete(const std::string& name);
  Result<DeliveryStreamInfo> Describe(const std::string& name) const;
  std::vector<std::string> List() const;  // sorted

  // Appends records to a DirectPut stream's buffer and returns their record ids, in order.
  // NOT_FOUND: no such stream; FAILED_PRECONDITION: the stream reads a Kinesis stream;
  // UNAVAILABLE: the buffer could not be written (none of the records was accepted).
  Result<std::vector<std::string>> Put(const std::string& name,
                                       const std::vector<std::string_view>& records);

  std::vector<DeliveryStats> Stats() const;  // sorted by name

 private:
  struct Entry;
  explicit DeliveryService(DeliveryServiceDeps deps);
  // The entry of `name`; NOT_FOUND when there is none.
  Result<std::shared_ptr<Entry>> Find(const std::string& name) const;
  // INVALID_ARGUMENT unless the processor's function is deployed and the store can be opened.
  Status CheckDestination(const DeliveryStreamConfig& config) const;
  // Opens the stream's buffer (DirectPut) and starts its pipeline. A pipeline that cannot start
  // (say, S3 credentials gone) leaves the entry without one, its reason in last_error.
  Status OpenEntry(Entry& entry);
  Result<std::vector<SourceShard>> SourceShards(const Entry& entry) const;
  std::string BufferDir(const std::string& name) const;
  std::string Arn(const std::string& name) const;
  std::string StreamArn(const std::string& stream) const;

  const DeliveryServiceDeps deps_;
  std::unique_ptr<DeliveryStore> store_;
  // Serialises Create, Update and Delete (which start and stop pipelines) without holding mu_.
  std::mutex change_mu_;
  mutable std::mutex mu_;  // guards entries_
  std::map<std::string, std::shared_ptr<Entry>> entries_;
};

}  // namespace sluice::delivery
