// DeliveryPipeline: one delivery stream's worker thread: reads its source from the checkpoint,
// buffers, transforms, delivers, and moves the checkpoint.
//
// The cycle:
//   1. Buffer: read records from every source shard, from the checkpoint on, until the raw data
//      reaches the destination's BufferingHints.SizeInMBs or IntervalInSeconds has passed since
//      the first record arrived, whichever comes first (an IntervalInSeconds of 0 sends what
//      there is at once). Size is measured on the records as they arrive, before the transform.
//      An HTTP endpoint's batch also ends at 10,000 records, the protocol's limit per request.
//   2. Plan: the batch (its end positions and a new UUID) is saved in the DeliveryStore.
//   3. Transform, when a processor is enabled, in chunks of at most BufferSizeInMBs whose records
//      arrived within BufferIntervalInSeconds of the chunk's first (and whose invoke, records with
//      their envelopes, stays under 5 MiB: the pool refuses invokes over Lambda's 6 MB).
//      ProcessingFailed records go to the processing-failed error prefix as Firehose's error
//      records; Dropped ones are gone.
//   4. Deliver the Ok records: an object (records concatenated as they are, no delimiter, as
//      Firehose does; gzip if configured) at <prefix>...-<uuid>[.gz]; or one HTTP endpoint
//      request with request id = the UUID (and, with AllData, the object in the backup store);
//      or the object in the intermediate store and a COPY into PostgreSQL tracked by its key.
//      Failures are retried 1 s apart, doubling to 2 min (±15%), until the destination's
//      RetryOptions.DurationInSeconds has passed since the first attempt; then the batch goes to
//      the error prefix (s3-failed, http-endpoint-failed: error records; postgresql-failed: a
//      manifest of the skipped object).
//   5. Commit: the checkpoint moves to the plan's end.
// Writes to error prefixes are retried until they succeed: nothing is dropped silently; a
// pipeline that cannot write anywhere stops moving and says why in last_error.
//
// A batch's keys derive from its UUID, so the batch a killed host replays (the saved plan) lands
// on the same keys; the PostgreSQL load is skipped if it committed before.
//
// Thread-safety: constructed and destroyed from one thread; the destructor stops the thread
// (an unfinished batch stays planned, to be replayed by the next pipeline).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/stop_signal.h"
#include "delivery/delivery_metrics.h"
#include "delivery/delivery_store.h"
#include "delivery/object_store.h"
#include "poller/function_resolver.h"
#include "stream/shard_log.h"

namespace sluice::delivery {

// One shard of a delivery stream's source: the DirectPut buffer (index 0), or a Kinesis
// stream's shard.
struct SourceShard {
  uint32_t index = 0;
  std::string shard_id;  // empty for the DirectPut buffer
  std::shared_ptr<stream::ShardLog> log;
};

struct PipelineDeps {
  DeliveryStore* store = nullptr;
  poller::FunctionResolver* functions = nullptr;
  Clock* clock = nullptr;
  DeliveryMetrics* metrics = nullptr;
  // The source's shards now (a Kinesis stream's may change as it is resharded).
  std::function<Result<std::vector<SourceShard>>()> shards;
  std::string region;
  std::string delivery_stream_arn;
  std::string source_stream_arn;  // empty for DirectPut
};

// The record id Firehose's API and the transform event show for a source record.
std::string RecordIdFor(uint32_t shard, uint64_t ordinal);

class DeliveryPipeline {
 public:
  // Opens the destination's clients and starts the thread. Errors: a store that cannot be opened.
  static Result<std::unique_ptr<DeliveryPipeline>> Start(DeliveryStreamInfo info,
                                                         PipelineDeps deps);
  ~DeliveryPipeline();
  DeliveryPipeline(const DeliveryPipeline&) = delete;
  // Tells the thread to stop without waiting for it (the destructor waits), so that many
  // pipelines stop at once. An HTTP request in flight is cut short; an S3 request, a PostgreSQL
  // load or a transform invoke in flight runs to its end (bounded by its own timeout).
  void RequestStop();
  DeliveryPipeline& operator=(const DeliveryPipeline&) = delete;

 private:
  struct Batch;
  struct Destination;
  DeliveryPipeline(DeliveryStreamInfo info, PipelineDeps deps);
  void Run();
  // Reads the next batch from `checkpoint_` (step 1). False when stopping.
  bool Buffer(Batch* batch);
  // Appends a record read from `shard` to `batch` (with its Kinesis metadata for a stream
  // source, which counts it as incoming).
  void TakeRecord(const SourceShard& shard, stream::StoredRecord record, Batch* batch);
  // Reads the records of a saved plan (a replay after a restart).
  bool ReadPlanned(Batch* batch);
  // Steps 3-5. False when stopping before the batch was committed.
  bool Process(Batch& batch);
  void Transform(Batch& batch);
  bool Deliver(Batch& batch);
  // Retries `write` until it succeeds or the pipeline stops.
  bool WriteUntilDone(const std::string& what, const std::function<Status()>& write);
  std::string ErrorKey(const Batch& batch, const std::string& error_output_type) const;

  const DeliveryStreamInfo info_;
  const PipelineDeps deps_;
  std::unique_ptr<Destination> destination_;
  ShardPositions checkpoint_;
  StopSignal stop_;
  std::thread thread_;
};

}  // namespace sluice::delivery
