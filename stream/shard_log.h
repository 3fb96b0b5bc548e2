// ShardLog: one shard's durable, append-only log of records, kept as segment files in one
// directory.
//
// Writers group-commit: Stage() encodes records and assigns ordinals under a short lock; the
// first caller of WaitDurable() whose records are not yet on disk becomes the flusher and writes
// everything staged so far with one write (plus one fdatasync in Durability::kFsync); the others
// wait for it. So many concurrent producers share each write and each fsync.
//
// Readers see only committed records (written, and synced in kFsync). WaitForRecords() blocks on
// a condition variable that every commit signals, so a waiting reader wakes as soon as a record
// lands, without polling.
//
// Retention removes whole segments whose newest record is older than the cutoff. Sealed segments
// get an index file (WriteSealedIndexes) so that a restart need not read them.
//
// Thread-safety: every method is safe from any thread. Owns its segments and their descriptors.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "stream/segment.h"

namespace sluice::stream {

enum class Durability {
  kOs,     // acknowledge once the write has reached the OS (survives a crash of the host)
  kFsync,  // acknowledge only after fdatasync (survives a crash of the machine)
};

struct ShardLogOptions {
  Durability durability = Durability::kOs;
  // A new segment starts when the active one reaches this size or this age, so that retention,
  // which removes whole segments, trims close to the retention period.
  uint64_t segment_max_bytes = 64ull << 20;
  int64_t segment_max_age_ms = 60 * 60 * 1000;
};

// A record to append.
struct RecordInput {
  std::string_view partition_key;
  std::string_view data;
};

// A record read back.
struct StoredRecord {
  uint64_t ordinal = 0;
  uint32_t generation = 0;
  int64_t arrival_ms = 0;
  std::string partition_key;
  std::string data;
};

class ShardLog {
 public:
  // What Stage() hands back: the records' ordinals are first_ordinal.. first_ordinal + n - 1.
  struct Ticket {
    uint64_t first_ordinal = 0;
    uint64_t end_ordinal = 0;  // one past the last
    uint64_t failure_epoch = 0;
    int64_t arrival_ms = 0;
  };

  struct ReadResult {
    std::vector<StoredRecord> records;
    uint64_t next_ordinal = 0;  // where the next read continues
    bool end_of_shard = false;  // closed, and every record has been read
  };

  // Opens (recovering) or creates the log in `dir`. `generation` is stamped on records written
  // from now on. A closed log accepts no appends. Recovery cuts are logged to stderr.
  static Result<std::unique_ptr<ShardLog>> Open(const std::string& dir, uint32_t generation,
                                                bool closed, const ShardLogOptions& options,
                                                Clock* clock);
  ~ShardLog();

  // Assigns ordinals and an arrival time to `records` and queues them for the next write.
  // FailedPrecondition if the log is closed, Unavailable if it failed, InvalidArgument if a
  // record cannot fit a frame (a partition key over 65535 bytes or data near 16 MiB).
  Result<Ticket> Stage(std::span<const RecordInput> records);
  // Blocks until the ticket's records are committed. An error means none of them were.
  Status WaitDurable(const Ticket& ticket);

  // Reads committed records from `from_ordinal` (raised to the trim horizon if below it): at most
  // `max_records`, and no more data bytes than `max_bytes` unless the first record alone is
  // bigger.
  Result<ReadResult> Read(uint64_t from_ordinal, size_t max_records, size_t max_bytes) const;

  // Blocks until a record at or after `ordinal` is committed, the log is closed and fully
  // committed, or `deadline`. True if there is something to read (or the end to see).
  bool WaitForRecords(uint64_t ordinal, std::chrono::steady_clock::time_point deadline) const;

  // The first ordinal whose arrival is at or after `arrival_ms` (the end if none).
  uint64_t OrdinalAtOrAfter(int64_t arrival_ms) const;

  // Stops appends for good (resharding). Records staged before still commit.
  void Close();
  // Writes what is staged and waits until no write is under way. If nobody can stage meanwhile
  // (the caller excludes puts), the log's files do not change after it returns, so they can be
  // moved (deletion).
  void Settle();
  // Removes segments whose newest record arrived before `cutoff_ms`. Returns how many.
  Result<int> TrimBefore(int64_t cutoff_ms);
  // Removes sealed segments whose every record lies below `ordinal` (a consumer's checkpoint, for
  // logs that are buffers rather than streams); the active segment stays until it is sealed.
  // Returns how many.
  Result<int> TrimBelow(uint64_t ordinal);
  // Writes the index file of every sealed segment that has none yet (see
  // Segment::WriteIndexFile), so that the next start reads only the last segment's frames.
  // Returns how many it wrote, or the first error (after trying every segment). Does its I/O
  // outside the log's lock.
  Result<int> WriteSealedIndexes();

  uint64_t trim_horizon() const;  // first readable ordinal
  uint64_t end_ordinal() const;   // one past the last committed record
  uint32_t generation() const { return generation_; }
  // Arrival of the newest committed record, or 0 if the log is empty.
  int64_t last_arrival_ms() const;
  bool closed() const;

 private:
  ShardLog(std::string dir, uint32_t generation, bool closed, const ShardLogOptions& options,
           Clock* clock);
  // Writes everything staged. REQUIRES: `lock` holds mu_ and no flush is under way. A failure
  // raises failure_epoch_.
  void Flush(std::unique_lock<std::mutex>& lock);
  std::shared_ptr<Segment> SegmentFor(uint64_t ordinal) const;  // REQUIRES: mu_ held
  // Removes the oldest segments while `expired` says so (at least one record each), the active
  // one too when `active_too`, keeping the log's next ordinal. Returns how many.
  Result<int> TrimOldestWhile(const std::function<bool(const Segment&)>& expired, bool active_too);

  const std::string dir_;
  const uint32_t generation_;
  const ShardLogOptions options_;
  Clock* const clock_;

  mutable std::mutex mu_;
  mutable std::condition_variable committed_cv_;           // signalled on every commit and on close
  std::map<uint64_t, std::shared_ptr<Segment>> segments_;  // by first ordinal
  std::set<uint64_t> indexed_segments_;  // sealed segments whose index file is written
  std::string staged_;                   // encoded frames not yet written
  uint64_t next_ordinal_ = 0;            // next ordinal to assign
  uint64_t committed_ordinal_ = 0;       // every ordinal below it is committed
  uint64_t trim_horizon_ = 0;
  int64_t last_staged_arrival_ms_ = 0;
  bool flushing_ = false;
  bool closed_ = false;
  uint64_t failure_epoch_ = 0;  // rises each time a write fails and drops what was staged
  // For each ended epoch, the committed ordinal when it ended: a ticket of that epoch whose
  // records lie below it was stored before the failure.
  std::vector<uint64_t> committed_at_failure_;
  Status failed_;  // set when the log can no longer be written safely
};

}  // namespace sluice::stream
