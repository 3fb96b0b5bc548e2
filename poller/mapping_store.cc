#include "poller/mapping_store.h"

#include <nlohmann/json.hpp>

#include "base/random.h"
#include "state/checkpoints.h"

namespace sluice::poller {
namespace {

using nlohmann::json;
using state::Statement;
using state::Transaction;

// A row of SELECT uuid, config_json, last_modified_ms.
Result<StoredMapping> ReadMapping(const Statement& row) {
  StoredMapping mapping;
  mapping.uuid = row.ColumnText(0);
  mapping.last_modified_ms = row.ColumnInt(2);
  const json doc = json::parse(row.ColumnText(1), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Internal("event source mapping " + mapping.uuid +
                    ": the stored configuration is not JSON");
  }
  Result<MappingConfig> config = ParseMapping(doc, "");
  if (!config.ok()) {
    return Internal("event source mapping " + mapping.uuid +
                    ": the stored configuration is not valid: " + config.status().message());
  }
  mapping.config = std::move(*config);
  return mapping;
}

// ALREADY_EXISTS when a mapping other than `uuid` attaches the same function (name and qualifier)
// to the same stream.
Status CheckNoDuplicate(Transaction& txn, const MappingConfig& config, const std::string& uuid) {
  Result<Statement*> statement = txn.Prepare(
      "SELECT uuid FROM event_source_mappings WHERE function_name = ?1 AND qualifier = ?2 AND "
      "stream_name = ?3 AND uuid != ?4");
  SLUICE_RETURN_IF_ERROR(statement.status());
  Result<bool> row = (*statement)
                         ->Bind(1, config.function_name)
                         .Bind(2, config.qualifier)
                         .Bind(3, config.stream_name)
                         .Bind(4, uuid)
                         .Step();
  SLUICE_RETURN_IF_ERROR(row.status());
  if (!*row) {
    return Status::Ok();
  }
  return Status(Code::kAlreadyExists, "function " + config.function_name + ":" + config.qualifier +
                                          " is already attached to stream \"" + config.stream_name +
                                          "\" by event source mapping " +
                                          (*statement)->ColumnText(0));
}

Status NoSuchMapping(const std::string& uuid) {
  return NotFound("event source mapping \"" + uuid + "\" does not exist");
}

// Binds a row's columns in the order INSERT and UPDATE both use: ?1 uuid, ?2 function name,
// ?3 qualifier, ?4 stream, ?5 configuration, ?6 last modified.
Statement& BindRow(Statement& statement, const std::string& uuid, const MappingConfig& config,
                   int64_t now_ms) {
  return statement.Bind(1, uuid)
      .Bind(2, config.function_name)
      .Bind(3, config.qualifier)
      .Bind(4, config.stream_name)
      .Bind(5, MappingToJson(config, config.stream_name).dump())
      .Bind(6, now_ms);
}

}  // namespace

Status MappingStore::EnsureSchema(Transaction& txn) {
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS event_source_mappings ("
      " uuid TEXT PRIMARY KEY,"
      " function_name TEXT NOT NULL,"
      " qualifier TEXT NOT NULL,"
      " stream_name TEXT NOT NULL,"
      " config_json TEXT NOT NULL,"
      " last_modified_ms INTEGER NOT NULL,"
      " created_seq INTEGER NOT NULL,"
      " UNIQUE (function_name, qualifier, stream_name)) WITHOUT ROWID");
}

Result<StoredMapping> MappingStore::Create(const MappingConfig& config, int64_t now_ms) {
  StoredMapping mapping{RandomUuid(), config, now_ms};
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    SLUICE_RETURN_IF_ERROR(CheckNoDuplicate(txn, config, mapping.uuid));
    Result<Statement*> statement = txn.Prepare(
        "INSERT INTO event_source_mappings (uuid, function_name, qualifier, stream_name, "
        "config_json, last_modified_ms, created_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "(SELECT COALESCE(MAX(created_seq), 0) + 1 FROM event_source_mappings))");
    SLUICE_RETURN_IF_ERROR(statement.status());
    return BindRow(**statement, mapping.uuid, config, now_ms).Run();
  }));
  return mapping;
}

Result<std::optional<StoredMapping>> MappingStore::Get(const std::string& uuid) {
  std::optional<StoredMapping> mapping;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT uuid, config_json, last_modified_ms FROM event_source_mappings WHERE uuid = ?1");
    SLUICE_RETURN_IF_ERROR(statement.status());
    Result<bool> row = (*statement)->Bind(1, uuid).Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (!*row) {
      return Status::Ok();
    }
    Result<StoredMapping> read = ReadMapping(**statement);
    SLUICE_RETURN_IF_ERROR(read.status());
    mapping = std::move(*read);
    return Status::Ok();
  }));
  return mapping;
}

Result<std::vector<StoredMapping>> MappingStore::List() {
  std::vector<StoredMapping> mappings;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT uuid, config_json, last_modified_ms FROM event_source_mappings "
        "ORDER BY created_seq");
    SLUICE_RETURN_IF_ERROR(statement.status());
    while (true) {
      Result<bool> row = (*statement)->Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        return Status::Ok();
      }
      Result<StoredMapping> read = ReadMapping(**statement);
      SLUICE_RETURN_IF_ERROR(read.status());
      mappings.push_back(std::move(*read));
    }
  }));
  return mappings;
}

Result<StoredMapping> MappingStore::Update(const std::string& uuid, const MappingConfig& config,
                                           int64_t now_ms) {
  StoredMapping mapping{uuid, config, now_ms};
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    Result<Statement*> exists = txn.Prepare("SELECT 1 FROM event_source_mappings WHERE uuid = ?1");
    SLUICE_RETURN_IF_ERROR(exists.status());
    Result<bool> row = (*exists)->Bind(1, uuid).Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (!*row) {
      return NoSuchMapping(uuid);
    }
    SLUICE_RETURN_IF_ERROR(CheckNoDuplicate(txn, config, uuid));
    Result<Statement*> statement = txn.Prepare(
        "UPDATE event_source_mappings SET function_name = ?2, qualifier = ?3, stream_name = ?4, "
        "config_json = ?5, last_modified_ms = ?6 WHERE uuid = ?1");
    SLUICE_RETURN_IF_ERROR(statement.status());
    return BindRow(**statement, uuid, config, now_ms).Run();
  }));
  return mapping;
}

Status MappingStore::Delete(const std::string& uuid) {
  return db_->Write([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare("DELETE FROM event_source_mappings WHERE uuid = ?1");
    SLUICE_RETURN_IF_ERROR(statement.status());
    SLUICE_RETURN_IF_ERROR((*statement)->Bind(1, uuid).Run());
    if (txn.Changes() == 0) {
      return NoSuchMapping(uuid);
    }
    return state::Checkpoints::DeleteMapping(txn, uuid);
  });
}

}  // namespace sluice::poller
