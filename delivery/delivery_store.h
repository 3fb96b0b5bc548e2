// DeliveryStore: the delivery streams of one host in StateDb (table delivery_streams): each
// stream's canonical configuration (ToCreateRequest), version, times, and its progress: the
// checkpoint (per source shard, the next ordinal to read) and the planned batch, if one is being
// delivered.
//
// A batch is planned (SavePlan) before any of it is written anywhere, and committed
// (CommitBatch: the checkpoint moves to the plan's end and the plan goes) after it is delivered.
// A host killed in between finds the plan at start and delivers exactly those records again
// under the same object keys and request id, so an object is replaced rather than duplicated and
// a PostgreSQL load is recognised as done.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "delivery/delivery_service.h"
#include "state/state_db.h"

namespace sluice::delivery {

// Per source shard index, the next ordinal to read.
using ShardPositions = std::map<uint32_t, uint64_t>;

struct PlannedBatch {
  std::string uuid;               // the batch's object keys and HTTP request id derive from it
  ShardPositions end;             // the checkpoint once the batch is delivered
  int64_t oldest_arrival_ms = 0;  // the time in its object keys
  // The DeliveryStreamVersion in its object keys: a batch replayed after a configuration change
  // keeps its keys, so a load that committed is still recognised.
  int64_t version = 1;
};

struct DeliveryProgress {
  ShardPositions checkpoint;
  std::optional<PlannedBatch> plan;
};

class DeliveryStore {
 public:
  explicit DeliveryStore(state::StateDb* db) : db_(db) {}
  // Creates the table; run once before use (delivery/ is not part of state/).
  static Status EnsureSchema(state::Transaction& txn);

  // ALREADY_EXISTS when the name is taken.
  Status Insert(const DeliveryStreamInfo& info, const ShardPositions& checkpoint);
  // Replaces configuration, version and update time; keeps progress. NOT_FOUND when absent.
  Status Replace(const DeliveryStreamInfo& info);
  // NOT_FOUND when absent.
  Status Delete(const std::string& name);
  // Every stream, by name. A row whose configuration no longer parses is an INTERNAL error.
  Result<std::vector<DeliveryStreamInfo>> List();

  Result<DeliveryProgress> LoadProgress(const std::string& name);
  Status SavePlan(const std::string& name, const PlannedBatch& plan);
  Status CommitBatch(const std::string& name, const ShardPositions& checkpoint);

 private:
  state::StateDb* db_;
};

}  // namespace sluice::delivery
