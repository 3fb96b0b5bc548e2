// KvStore: the committed contents of the key-value tables, in StateDb (table kv_items). What the
// CLI (`sluice kv ...`) reads and writes directly, what an invoke's reads fall through to, and
// where EffectCommitter applies staged writes.
//
// Every write bumps the item's version (an int64 per item, starting at 1), so a reader can tell
// whether an item changed.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "state/kv_document.h"
#include "state/state_db.h"

namespace sluice::state {

struct KvEntry {
  std::string key;
  std::string value_json;
  int64_t version = 0;
};

struct KvPage {
  std::vector<KvEntry> items;      // in key order (bytewise)
  std::string last_evaluated_key;  // non-empty when more items may follow
};

struct KvTableSummary {
  std::string table;
  int64_t items = 0;
};

class KvStore {
 public:
  explicit KvStore(StateDb* db) : db_(db) {}

  // Creates the kv_items table. Called by StateDb::Open.
  static Status EnsureSchema(Transaction& txn);

  // Each call below is one transaction and validates its arguments (see kv_document.h).
  Result<std::optional<KvEntry>> Get(const std::string& table, const std::string& key);
  Status Put(const std::string& table, const std::string& key, const std::string& value_json,
             const KvConditions& conditions = {});
  // Returns whether the item existed.
  Result<bool> Delete(const std::string& table, const std::string& key,
                      const KvConditions& conditions = {});
  // limit 1-1000 (0 means 100).
  Result<KvPage> Query(const std::string& table, const std::string& key_prefix, uint32_t limit,
                       const std::string& exclusive_start_key = {});
  // Returns the item after the update.
  Result<std::string> Update(const std::string& table, const std::string& key,
                             const KvUpdateActions& actions, const KvConditions& conditions = {});
  Result<std::vector<KvTableSummary>> ListTables();

  // The same operations inside a caller's transaction (EffectCommitter, EffectStage reads).
  // Arguments are assumed valid.
  static Result<std::optional<KvEntry>> Get(Transaction& txn, const std::string& table,
                                            const std::string& key);
  // The committed item parsed (nullopt: no such item); a stored value that does not parse is
  // INTERNAL.
  static Result<std::optional<nlohmann::json>> GetItem(Transaction& txn, const std::string& table,
                                                       const std::string& key);
  static Status Put(Transaction& txn, const std::string& table, const std::string& key,
                    const std::string& value_json);
  static Result<bool> Delete(Transaction& txn, const std::string& table, const std::string& key);
  static Result<KvPage> Query(Transaction& txn, const std::string& table,
                              const std::string& key_prefix, uint32_t limit,
                              const std::string& exclusive_start_key);

 private:
  StateDb* db_;
};

}  // namespace sluice::state
