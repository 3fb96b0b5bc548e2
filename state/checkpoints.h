// Checkpoints: how far each event source mapping has processed each shard, in StateDb (table
// checkpoints). Written by EffectCommitter in the same transaction as the effects of the invoke
// that advanced it, so effects and position move together: after a crash, a batch whose
// effects committed is never invoked again, and one whose effects did not is invoked again.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "state/state_db.h"

namespace sluice::state {

struct Checkpoint {
  std::string mapping_id;  // the event source mapping's UUID
  std::string shard_id;
  // The last sequence number processed: the mapping goes on after it. Decimal.
  std::string sequence_number;
  // Free-form state the poller keeps with the position (tumbling-window state, lane positions),
  // JSON; "" for none.
  std::string detail_json;
  int64_t updated_unix_ms = 0;
};

class Checkpoints {
 public:
  explicit Checkpoints(StateDb* db) : db_(db) {}

  static Status EnsureSchema(Transaction& txn);

  Result<std::optional<Checkpoint>> Get(const std::string& mapping_id, const std::string& shard_id);
  Result<std::vector<Checkpoint>> ForMapping(const std::string& mapping_id);
  Status DeleteMapping(const std::string& mapping_id);
  // Inside a caller's transaction (deleting the mapping itself).
  static Status DeleteMapping(Transaction& txn, const std::string& mapping_id);

  // Inside a caller's transaction (the commit's).
  static Status Put(Transaction& txn, const Checkpoint& checkpoint);

 private:
  StateDb* db_;
};

}  // namespace sluice::state
