#include "state/checkpoints.h"

namespace sluice::state {
namespace {

// A row of checkpoints, all columns in declaration order.
Checkpoint ReadCheckpoint(const Statement& row) {
  return {row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), row.ColumnText(3),
          row.ColumnInt(4)};
}

}  // namespace

Status Checkpoints::EnsureSchema(Transaction& txn) {
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS checkpoints ("
      " mapping_id TEXT NOT NULL,"
      " shard_id TEXT NOT NULL,"
      " sequence_number TEXT NOT NULL,"
      " detail_json TEXT NOT NULL,"
      " updated_ms INTEGER NOT NULL,"
      " PRIMARY KEY (mapping_id, shard_id)) WITHOUT ROWID");
}

Result<std::optional<Checkpoint>> Checkpoints::Get(const std::string& mapping_id,
                                                   const std::string& shard_id) {
  std::optional<Checkpoint> checkpoint;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT mapping_id, shard_id, sequence_number, detail_json, updated_ms FROM checkpoints "
        "WHERE mapping_id = ?1 AND shard_id = ?2");
    SLUICE_RETURN_IF_ERROR(statement.status());
    Result<bool> row = (*statement)->Bind(1, mapping_id).Bind(2, shard_id).Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (*row) {
      checkpoint = ReadCheckpoint(**statement);
    }
    return Status::Ok();
  }));
  return checkpoint;
}

Result<std::vector<Checkpoint>> Checkpoints::ForMapping(const std::string& mapping_id) {
  std::vector<Checkpoint> checkpoints;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT mapping_id, shard_id, sequence_number, detail_json, updated_ms FROM checkpoints "
        "WHERE mapping_id = ?1 ORDER BY shard_id");
    SLUICE_RETURN_IF_ERROR(statement.status());
    (*statement)->Bind(1, mapping_id);
    while (true) {
      Result<bool> row = (*statement)->Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        return Status::Ok();
      }
      checkpoints.push_back(ReadCheckpoint(**statement));
    }
  }));
  return checkpoints;
}

Status Checkpoints::DeleteMapping(const std::string& mapping_id) {
  return db_->Write([&](Transaction& txn) { return DeleteMapping(txn, mapping_id); });
}

Status Checkpoints::DeleteMapping(Transaction& txn, const std::string& mapping_id) {
  Result<Statement*> statement = txn.Prepare("DELETE FROM checkpoints WHERE mapping_id = ?1");
  SLUICE_RETURN_IF_ERROR(statement.status());
  return (*statement)->Bind(1, mapping_id).Run();
}

Status Checkpoints::Put(Transaction& txn, const Checkpoint& checkpoint) {
  Result<Statement*> statement = txn.Prepare(
      "INSERT INTO checkpoints (mapping_id, shard_id, sequence_number, detail_json, updated_ms) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (mapping_id, shard_id) DO UPDATE SET "
      "sequence_number = excluded.sequence_number, detail_json = excluded.detail_json, "
      "updated_ms = excluded.updated_ms");
  SLUICE_RETURN_IF_ERROR(statement.status());
  return (*statement)
      ->Bind(1, checkpoint.mapping_id)
      .Bind(2, checkpoint.shard_id)
      .Bind(3, checkpoint.sequence_number)
      .Bind(4, checkpoint.detail_json)
      .Bind(5, checkpoint.updated_unix_ms)
      .Run();
}

}  // namespace sluice::state
