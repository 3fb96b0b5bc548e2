#include "stream/shard_reader.h"

#include <algorithm>

namespace sluice::stream {

Result<uint64_t> ResolveStartingPosition(const ShardLog& log, uint32_t shard_index,
                                         StartingPosition position,
                                         const std::optional<SequenceNumber>& sequence_number,
                                         std::optional<int64_t> timestamp_ms) {
  switch (position) {
    case StartingPosition::kTrimHorizon: return log.trim_horizon();
    case StartingPosition::kLatest: return log.end_ordinal();
    case StartingPosition::kAtTimestamp:
      if (!timestamp_ms) {
        return InvalidArgument("a timestamp is required to start at a timestamp");
      }
      return log.OrdinalAtOrAfter(*timestamp_ms);
    case StartingPosition::kAtSequenceNumber:
    case StartingPosition::kAfterSequenceNumber: break;
  }
  if (!sequence_number) {
    return InvalidArgument("a sequence number is required to start at or after one");
  }
  if (sequence_number->shard_index != shard_index) {
    return InvalidArgument("the sequence number belongs to shard index " +
                           std::to_string(sequence_number->shard_index) + ", not " +
                           std::to_string(shard_index));
  }
  if (sequence_number->ordinal > log.end_ordinal() ||
      sequence_number->generation > log.generation()) {
    return InvalidArgument("the sequence number was never handed out by this shard");
  }
  uint64_t ordinal = sequence_number->ordinal;
  if (position == StartingPosition::kAfterSequenceNumber) {
    // Past the record, unless a crash cut that record off and a later generation took its
    // ordinal: then the record now there is one the caller has not seen.
    Result<ShardLog::ReadResult> at = log.Read(ordinal, 1, 1);
    const bool replaced = at.ok() && !at->records.empty() && at->records[0].ordinal == ordinal &&
                          at->records[0].generation > sequence_number->generation;
    if (!replaced) {
      ++ordinal;
    }
  }
  return ordinal;
}

Result<ShardLog::ReadResult> ShardReader::Next(size_t max_records, size_t max_bytes,
                                               std::chrono::steady_clock::time_point deadline) {
  while (true) {
    Result<ShardLog::ReadResult> read = log_->Read(ordinal_, max_records, max_bytes);
    if (!read.ok()) {
      return read;
    }
    ordinal_ = read->next_ordinal;
    if (!read->records.empty() || read->end_of_shard || !log_->WaitForRecords(ordinal_, deadline)) {
      return read;
    }
  }
}

uint64_t ResumeAfter(const ShardLog& log, const SequenceNumber& checkpoint) {
  const auto generation_at = [&log](uint64_t ordinal) -> std::optional<uint32_t> {
    if (ordinal >= log.end_ordinal()) {
      return std::nullopt;
    }
    Result<ShardLog::ReadResult> read = log.Read(ordinal, 1, 1);
    if (!read.ok() || read->records.empty() || read->records.front().ordinal != ordinal) {
      return std::nullopt;
    }
    return read->records.front().generation;
  };
  if (generation_at(checkpoint.ordinal) == checkpoint.generation) {
    return checkpoint.ordinal + 1;
  }
  // The first ordinal in [trim horizon, min(checkpoint, end)] whose record is newer.
  uint64_t low = std::min(log.trim_horizon(), checkpoint.ordinal);
  uint64_t high = std::min(checkpoint.ordinal, log.end_ordinal());
  while (low < high) {
    const uint64_t middle = low + (high - low) / 2;
    const std::optional<uint32_t> generation = generation_at(middle);
    if (!generation || *generation > checkpoint.generation) {
      high = middle;
    } else {
      low = middle + 1;
    }
  }
  return low;
}

}  // namespace sluice::stream
