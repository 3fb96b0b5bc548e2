#include "state/kv_store.h"

namespace sluice::state {
namespace {

// The least string greater than every string that starts with `prefix` (bytewise), or nullopt
// when there is none (the prefix is empty or all 0xff bytes).
std::optional<std::string> PrefixUpperBound(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) {
    prefix.pop_back();
  }
  if (prefix.empty()) {
    return std::nullopt;
  }
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

Status ValidateItemAddress(const std::string& table, const std::string& key) {
  SLUICE_RETURN_IF_ERROR(ValidateTableName(table));
  return ValidateKey(key);
}

// Reads the committed item and checks `conditions` against it; returns the item.
Result<std::optional<nlohmann::json>> CheckCommitted(Transaction& txn, const std::string& table,
                                                     const std::string& key,
                                                     const KvConditions& conditions) {
  Result<std::optional<nlohmann::json>> item = KvStore::GetItem(txn, table, key);
  SLUICE_RETURN_IF_ERROR(item.status());
  SLUICE_RETURN_IF_ERROR(CheckConditions(table, key, *item, conditions));
  return item;
}

}  // namespace

Status KvStore::EnsureSchema(Transaction& txn) {
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS kv_items ("
      " table_name TEXT NOT NULL,"
      " key TEXT NOT NULL,"
      " value TEXT NOT NULL,"
      " version INTEGER NOT NULL,"
      " PRIMARY KEY (table_name, key)) WITHOUT ROWID");
}

Result<std::optional<KvEntry>> KvStore::Get(const std::string& table, const std::string& key) {
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(table, key));
  std::optional<KvEntry> entry;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<std::optional<KvEntry>> got = Get(txn, table, key);
    SLUICE_RETURN_IF_ERROR(got.status());
    entry = std::move(*got);
    return Status::Ok();
  }));
  return entry;
}

Status KvStore::Put(const std::string& table, const std::string& key, const std::string& value_json,
                    const KvConditions& conditions) {
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(table, key));
  Result<nlohmann::json> value = ParseValue(value_json);
  SLUICE_RETURN_IF_ERROR(value.status());
  SLUICE_RETURN_IF_ERROR(ValidateConditions(conditions));
  const std::string compact = value->dump();
  return db_->Write([&](Transaction& txn) {
    SLUICE_RETURN_IF_ERROR(CheckCommitted(txn, table, key, conditions).status());
    return Put(txn, table, key, compact);
  });
}

Result<bool> KvStore::Delete(const std::string& table, const std::string& key,
                             const KvConditions& conditions) {
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(table, key));
  SLUICE_RETURN_IF_ERROR(ValidateConditions(conditions));
  bool existed = false;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    SLUICE_RETURN_IF_ERROR(CheckCommitted(txn, table, key, conditions).status());
    Result<bool> deleted = Delete(txn, table, key);
    SLUICE_RETURN_IF_ERROR(deleted.status());
    existed = *deleted;
    return Status::Ok();
  }));
  return existed;
}

Result<KvPage> KvStore::Query(const std::string& table, const std::string& key_prefix,
                              uint32_t limit, const std::string& exclusive_start_key) {
  Result<uint32_t> effective_limit = ValidateQuery(table, key_prefix, limit, exclusive_start_key);
  SLUICE_RETURN_IF_ERROR(effective_limit.status());
  KvPage page;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<KvPage> got = Query(txn, table, key_prefix, *effective_limit, exclusive_start_key);
    SLUICE_RETURN_IF_ERROR(got.status());
    page = std::move(*got);
    return Status::Ok();
  }));
  return page;
}

Result<std::string> KvStore::Update(const std::string& table, const std::string& key,
                                    const KvUpdateActions& actions,
                                    const KvConditions& conditions) {
  SLUICE_RETURN_IF_ERROR(ValidateItemAddress(table, key));
  SLUICE_RETURN_IF_ERROR(ValidateUpdateActions(actions));
  SLUICE_RETURN_IF_ERROR(ValidateConditions(conditions));
  std::string updated;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    Result<std::optional<nlohmann::json>> item = CheckCommitted(txn, table, key, conditions);
    SLUICE_RETURN_IF_ERROR(item.status());
    Result<nlohmann::json> after = ApplyUpdate(*item, actions);
    SLUICE_RETURN_IF_ERROR(after.status());
    updated = after->dump();
    return Put(txn, table, key, updated);
  }));
  return updated;
}

Result<std::vector<KvTableSummary>> KvStore::ListTables() {
  std::vector<KvTableSummary> tables;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT table_name, COUNT(*) FROM kv_items GROUP BY table_name ORDER BY table_name");
    SLUICE_RETURN_IF_ERROR(statement.status());
    while (true) {
      Result<bool> row = (*statement)->Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        return Status::Ok();
      }
      tables.push_back({(*statement)->ColumnText(0), (*statement)->ColumnInt(1)});
    }
  }));
  return tables;
}

Result<std::optional<KvEntry>> KvStore::Get(Transaction& txn, const std::string& table,
                                            const std::string& key) {
  Result<Statement*> statement =
      txn.Prepare("SELECT value, version FROM kv_items WHERE table_name = ?1 AND key = ?2");
  SLUICE_RETURN_IF_ERROR(statement.status());
  Result<bool> row = (*statement)->Bind(1, table).Bind(2, key).Step();
  SLUICE_RETURN_IF_ERROR(row.status());
  if (!*row) {
    return std::optional<KvEntry>();
  }
  return std::optional<KvEntry>(
      KvEntry{key, (*statement)->ColumnText(0), (*statement)->ColumnInt(1)});
}

Result<std::optional<nlohmann::json>> KvStore::GetItem(Transaction& txn, const std::string& table,
                                                       const std::string& key) {
  Result<std::optional<KvEntry>> entry = Get(txn, table, key);
  SLUICE_RETURN_IF_ERROR(entry.status());
  if (!*entry) {
    return std::optional<nlohmann::json>();
  }
  Result<nlohmann::json> value = ParseValue((*entry)->value_json);
  if (!value.ok()) {
    return Internal(table + "/" + key + ": stored value: " + value.status().message());
  }
  return std::optional<nlohmann::json>(std::move(*value));
}

Status KvStore::Put(Transaction& txn, const std::string& table, const std::string& key,
                    const std::string& value_json) {
  Result<Statement*> statement = txn.Prepare(
      "INSERT INTO kv_items (table_name, key, value, version) VALUES (?1, ?2, ?3, 1) "
      "ON CONFLICT (table_name, key) DO UPDATE SET value = excluded.value, version = version + 1");
  SLUICE_RETURN_IF_ERROR(statement.status());
  return (*statement)->Bind(1, table).Bind(2, key).Bind(3, value_json).Run();
}

Result<bool> KvStore::Delete(Transaction& txn, const std::string& table, const std::string& key) {
  Result<Statement*> statement =
      txn.Prepare("DELETE FROM kv_items WHERE table_name = ?1 AND key = ?2");
  SLUICE_RETURN_IF_ERROR(statement.status());
  SLUICE_RETURN_IF_ERROR((*statement)->Bind(1, table).Bind(2, key).Run());
  return txn.Changes() > 0;
}

Result<KvPage> KvStore::Query(Transaction& txn, const std::string& table,
                              const std::string& key_prefix, uint32_t limit,
                              const std::string& exclusive_start_key) {
  // TEXT compares with memcmp (the BINARY collation), so key order is bytewise. One row more
  // than the limit tells whether more follow.
  Result<Statement*> statement = txn.Prepare(
      "SELECT key, value, version FROM kv_items WHERE table_name = ?1 AND key >= ?2 AND key > ?3 "
      "AND (?4 IS NULL OR key < ?4) ORDER BY key LIMIT ?5");
  SLUICE_RETURN_IF_ERROR(statement.status());
  Statement& query = **statement;
  query.Bind(1, table).Bind(2, key_prefix).Bind(3, exclusive_start_key);
  if (std::optional<std::string> upper = PrefixUpperBound(key_prefix)) {
    query.Bind(4, *upper);
  } else {
    query.BindNull(4);
  }
  query.Bind(5, static_cast<int64_t>(limit) + 1);
  KvPage page;
  size_t bytes = 0;
  while (true) {
    Result<bool> row = query.Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (!*row) {
      return page;
    }
    KvEntry entry{query.ColumnText(0), query.ColumnText(1), query.ColumnInt(2)};
    const size_t entry_bytes = entry.key.size() + entry.value_json.size();
    if (page.items.size() == limit ||
        (!page.items.empty() && bytes + entry_bytes > kMaxQueryPageBytes)) {
      page.last_evaluated_key = page.items.back().key;  // more follow
      return page;
    }
    bytes += entry_bytes;
    page.items.push_back(std::move(entry));
  }
}

}  // namespace sluice::state
