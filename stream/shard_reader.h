// ShardReader: how code inside the host (the pollers) consumes one shard: it resolves a starting
// position as GetShardIterator does, then reads forward, blocking until records are committed.
// A waiting reader wakes as soon as a commit lands (ShardLog's condition variable), so the
// put-to-read latency is a thread wake-up, not a polling interval.
//
// Thread-safety: a ShardReader is used by one thread at a time. The log it reads is shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "base/status.h"
#include "stream/sequence_number.h"
#include "stream/shard_log.h"

namespace sluice::stream {

enum class StartingPosition {
  kTrimHorizon,          // the oldest record kept
  kLatest,               // just after the newest record
  kAtSequenceNumber,     // the record with that number
  kAfterSequenceNumber,  // just after the record with that number
  kAtTimestamp,          // the first record that arrived at or after a time
};

// The ordinal where reading starts. `sequence_number` is required for the two sequence-number
// positions and `timestamp_ms` for kAtTimestamp. InvalidArgument when the sequence number
// belongs to another shard or was never handed out by this one.
Result<uint64_t> ResolveStartingPosition(const ShardLog& log, uint32_t shard_index,
                                         StartingPosition position,
                                         const std::optional<SequenceNumber>& sequence_number,
                                         std::optional<int64_t> timestamp_ms);

// Where a consumer that has processed everything up to `checkpoint` (a record of this shard, of a
// generation the log has reached) goes on reading: normally the ordinal after it. If the record at
// the checkpoint's ordinal is gone, or was written again by a later generation, the log lost its
// tail after the checkpoint was taken (a power loss with Durability::kOs): the result is where
// the newer generation starts, at or before the checkpoint's ordinal, so every record written
// since is read. The caller skips the older records up to the checkpoint (their sequence numbers
// compare at or below it). Generations only rise with ordinals; a binary search of one-record
// reads finds the start.
uint64_t ResumeAfter(const ShardLog& log, const SequenceNumber& checkpoint);

class ShardReader {
 public:
  ShardReader(std::shared_ptr<ShardLog> log, uint64_t ordinal)
      : log_(std::move(log)), ordinal_(ordinal) {}

  // Returns the next committed records (at most `max_records`, and `max_bytes` of data unless
  // the first record alone is bigger), waiting until there is one or `deadline` passes (then the
  // result is empty). end_of_shard is set once a closed shard is read to its end.
  Result<ShardLog::ReadResult> Next(size_t max_records, size_t max_bytes,
                                    std::chrono::steady_clock::time_point deadline);

  uint64_t ordinal() const { return ordinal_; }  // where the next read starts
  const ShardLog& log() const { return *log_; }

 private:
  std::shared_ptr<ShardLog> log_;
  uint64_t ordinal_;
};

}  // namespace sluice::stream
