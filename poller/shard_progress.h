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
//   finished beyond that prefix. Every record after sequence_number whose lane (under that N) has
//   laneDone >= its sequence number is finished.
// After a restart the reader resumes after sequence_number, and Restore()d lane positions make it
// skip the records a lane had already committed, so no effect is applied twice even though
// another lane was behind. A restore with a different N is fine: lanes of the stored N decide
// what was finished, the new N how the rest is spread.
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

#include "base/status.h"

namespace sluice::poller {

class ShardProgress {
 public:
  explicit ShardProgress(int lanes);

  // Starts from a stored checkpoint (its sequence number, "" for none, and its detail JSON
  // object, or null). InvalidArgument for a detail that is not of the form above.
  Status Restore(const std::string& sequence_number, const nlohmann::json& detail);

  int lanes() const { return lanes_; }
  int LaneOf(std::string_view partition_key) const;

  // Whether the restored checkpoint says this record (after sequence_number) is finished.
  bool FinishedBeforeRestart(const std::string& sequence_number,
                             std::string_view partition_key) const;

  // Records, in shard order, that the reader took. REQUIRES: increasing sequence numbers.
  void Add(const std::string& sequence_number, int lane);
  // Every record of `lane` up to and including `sequence_number` is finished.
  void Finish(int lane, const std::string& sequence_number);
  // One record is finished (filtered out, or skipped because FinishedBeforeRestart).
  void FinishOne(const std::string& sequence_number);

  // The checkpoint as it stands: the finished prefix's last record ("" if none yet) ...
  const std::string& checkpoint_sequence() const { return checkpoint_; }
  // ... and the detail to store with it.
  nlohmann::json Detail() const;
  // Records Added and not yet in the finished prefix.
  size_t pending() const { return records_.size(); }

 private:
  struct Entry {
    std::string sequence_number;
    int lane;
    bool finished;
  };
  void Advance();  // moves the prefix over finished records at the front

  const int lanes_;
  std::string checkpoint_;
  std::deque<Entry> records_;                 // after the checkpoint, in shard order
  std::map<int, std::string> lane_done_;      // lane -> last finished beyond the checkpoint
  int restored_lanes_ = 0;                    // N of the restored detail (0: none)
  std::map<int, std::string> restored_done_;  // its laneDone
};

}  // namespace sluice::poller
