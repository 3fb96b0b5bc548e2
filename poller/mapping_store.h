// MappingStore: the event source mappings of one host, in StateDb (table event_source_mappings),
// so they survive restarts. Each row is a mapping's UUID, its configuration (MappingToJson) and
// when it last changed. Positions are not here: they are checkpoints (state/checkpoints.h),
// keyed by the mapping's UUID and the shard id, written with the invoke's effects.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "poller/mapping_config.h"
#include "state/state_db.h"

namespace sluice::poller {

struct StoredMapping {
  std::string uuid;
  MappingConfig config;
  int64_t last_modified_ms = 0;
};

class MappingStore {
 public:
  explicit MappingStore(state::StateDb* db) : db_(db) {}

  // Creates the table. StateDb::Open does not run it (poller/ is not part of state/): the owner
  // runs it once in a Write before using a MappingStore.
  static Status EnsureSchema(state::Transaction& txn);

  // Adds a mapping with a new UUID (RandomUuid). AlreadyExists when the same function (name and
  // qualifier) is already attached to the same stream (Lambda's ResourceConflictException),
  // naming the existing mapping's UUID.
  Result<StoredMapping> Create(const MappingConfig& config, int64_t now_ms);
  Result<std::optional<StoredMapping>> Get(const std::string& uuid);
  // Every mapping, oldest first.
  Result<std::vector<StoredMapping>> List();
  // Replaces the configuration; NotFound for an unknown UUID. AlreadyExists when the change of
  // function would duplicate another mapping.
  Result<StoredMapping> Update(const std::string& uuid, const MappingConfig& config,
                               int64_t now_ms);
  // Removes the mapping and its checkpoints in one transaction; NotFound if unknown.
  Status Delete(const std::string& uuid);

 private:
  state::StateDb* db_;
};

}  // namespace sluice::poller
