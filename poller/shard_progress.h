// ShardProgress: how far one mapping has got in one shard when its lanes (ParallelizationFactor
// N) finish records out of order, and the checkpoint that says so exactly.
//
// The reader Adds records in shard order; each belongs to lane LaneOf(partition key) =
// PartitionKeyHash(key) mod N, so one key always maps to one lane and keeps its order. A lane
// finishes its records in order (Finish: everything of the lane up to a sequence number), and a
// record that needs no invoke (filtered out, discarded late) is finished on its own (FinishOne).
//
// The checkpoint has two parts, written together in the commit of each batch:
// - sequence_number: the last record of the longest prefix of the shard that is finished
//   ("" while nothing is), the position Lambda would store;
// - detail: {"lanes": N, "laneDone": {"<lane>": "<seq>", ...}}: for each lane, the last record it
//   finished beyond that prefix (only lanes that have one). Every record after sequence_number
//   whose lane (under that N) has laneDone >= its sequence number is finished.
// After a restart the reader resumes after sequence_number, and Restore()d lane positions make it
// skip the records a lane had already committed, so no effect is applied twice even though
// another lane was behind. A restore with a different N is fine: lanes of the stored N decide
// what was finished, the new N how the rest is spread. Until the prefix has passed them, the
// stored positions of another N travel on in the detail as "before": [{"lanes": M, "laneDone":
// {...}}, ...] (same meaning, one entry per such M), so a second restart still skips what the
// first run's lanes had committed beyond what the second run has read.
//
// Sequence numbers are the stream's 38-digit decimal strings (they compare as text).
// Memory: one entry per record between the checkpoint and the newest Added record; the reader
// bounds that by pausing when lanes are full.
//
// Thread-safety: not thread-safe; the shard poller guards it with its mutex.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace sluice::poller {

class ShardProgress {
 public:
  explicit ShardProgress(int lanes);

  // Starts from a stored checkpoint (its sequence number, "" for none, and its detail JSON
  // object, or null), replacing everything. InvalidArgument for a sequence number or a detail
  // that is not of the form above (nothing changes then).
  Status Restore(const std::string& sequence_number, const nlohmann::json& detail);

  int lanes() const { return lanes_; }
  int LaneOf(std::string_view partition_key) const;

  // Whether the restored checkpoint says this record (after sequence_number) is finished.
  bool FinishedBeforeRestart(const std::string& sequence_number,
                             std::string_view partition_key) const;

  // Records, in shard order, that the reader took. REQUIRES: increasing sequence numbers, all
  // after the checkpoint; 0 <= lane < lanes().
  void Add(const std::string& sequence_number, int lane);
  // Every record of `lane` up to and including `sequence_number` (an Added record of that lane)
  // is finished.
  void Finish(int lane, const std::string& sequence_number);
  // One Added record is finished (filtered out, or skipped because FinishedBeforeRestart). It
  // counts in laneDone once every earlier record of its lane is finished too; until then only
  // the prefix knows it (after a restart it is read again, which is harmless for these records).
  void FinishOne(const std::string& sequence_number);

  // The checkpoint as it stands: the finished prefix's last record ("" if none yet) ...
  const std::string& checkpoint_sequence() const { return checkpoint_; }
  // ... and the detail to store with it.
  nlohmann::json Detail() const;
  // Records Added and not yet in the finished prefix.
  size_t pending() const { return records_.size(); }

  // The checkpoint and detail that Finish(lane, sequence_number) would leave, without changing
  // anything: the poller writes them with the batch's effects, and calls Finish only once that
  // commit succeeded. Costs the records the prefix would move over, plus the lanes.
  std::pair<std::string, nlohmann::json> Preview(int lane,
                                                 const std::string& sequence_number) const;

 private:
  struct Entry {
    std::string sequence_number;
    int lane;
    bool finished;
  };
  using LaneDone = std::map<int, std::string>;  // lane -> last finished beyond the checkpoint

  void Advance();  // moves the prefix over finished records at the front
  Entry& At(uint64_t index) { return records_[index - first_index_]; }
  // Raises lane_done_[lane] to `sequence_number` (a finished record of that lane).
  void MarkLaneDone(int lane, const std::string& sequence_number);
  // laneDone as stored: the lanes whose position is beyond `checkpoint`.
  static nlohmann::json LaneDoneJson(const LaneDone& done, const std::string& checkpoint);
  // The detail for a checkpoint at `checkpoint` with these lane positions.
  nlohmann::json DetailFor(const LaneDone& lane_done, const std::string& checkpoint) const;

  const int lanes_;
  std::string checkpoint_;
  std::deque<Entry> records_;  // after the checkpoint, in shard order
  uint64_t first_index_ = 0;   // the index (counted since Restore) of records_.front()
  // Per lane, the indices of its Added records not finished yet, in order.
  std::vector<std::deque<uint64_t>> unfinished_;
  LaneDone lane_done_;  // starts as the restored positions of the same N
  // The restored positions by the N they were stored under (the top level and "before").
  std::map<int, LaneDone> restored_;
};

}  // namespace sluice::poller
