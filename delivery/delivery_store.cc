#include "delivery/delivery_store.h"

#include <nlohmann/json.hpp>

namespace sluice::delivery {
namespace {

using json = nlohmann::json;

std::string PositionsToJson(const ShardPositions& positions) {
  json out = json::object();
  for (const auto& [shard, ordinal] : positions) {
    out[std::to_string(shard)] = ordinal;
  }
  return out.dump();
}

Result<ShardPositions> PositionsFromJson(const json& in) {
  ShardPositions positions;
  if (!in.is_object()) {
    return Internal("a delivery checkpoint is not an object");
  }
  for (const auto& [shard, ordinal] : in.items()) {
    if (!ordinal.is_number_unsigned()) {
      return Internal("a delivery checkpoint has a bad position for shard " + shard);
    }
    positions[static_cast<uint32_t>(std::stoul(shard))] = ordinal.get<uint64_t>();
  }
  return positions;
}

// The stored text is the host's own: a parse failure is damage, reported as INTERNAL.
Result<json> ParseStored(const std::string& text, const std::string& what) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Internal("the stored " + what + " is not JSON");
  }
  return parsed;
}

}  // namespace

Status DeliveryStore::EnsureSchema(state::Transaction& txn) {
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS delivery_streams ("
      " name TEXT PRIMARY KEY,"
      " config_json TEXT NOT NULL,"
      " version INTEGER NOT NULL,"
      " created_ms INTEGER NOT NULL,"
      " updated_ms INTEGER NOT NULL,"
      " checkpoint_json TEXT NOT NULL,"
      " plan_json TEXT) WITHOUT ROWID");
}

Status DeliveryStore::Insert(const DeliveryStreamInfo& info, const ShardPositions& checkpoint) {
  return db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> insert = txn.Prepare(
        "INSERT INTO delivery_streams (name, config_json, version, created_ms, updated_ms,"
        " checkpoint_json, plan_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)");
    if (!insert.ok()) {
      return insert.status();
    }
    Status inserted = (*insert)
                          ->Bind(1, info.config.name)
                          .Bind(2, ToCreateRequest(info.config).dump())
                          .Bind(3, info.version)
                          .Bind(4, info.created_ms)
                          .Bind(5, info.updated_ms)
                          .Bind(6, PositionsToJson(checkpoint))
                          .Run();
    if (inserted.code() == Code::kAlreadyExists) {
      return Status(Code::kAlreadyExists,
                    "delivery stream " + info.config.name + " already exists");
    }
    return inserted;
  });
}

Status DeliveryStore::Replace(const DeliveryStreamInfo& info) {
  return db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> update = txn.Prepare(
        "UPDATE delivery_streams SET config_json = ?2, version = ?3, updated_ms = ?4"
        " WHERE name = ?1");
    if (!update.ok()) {
      return update.status();
    }
    SLUICE_RETURN_IF_ERROR((*update)
                               ->Bind(1, info.config.name)
                               .Bind(2, ToCreateRequest(info.config).dump())
                               .Bind(3, info.version)
                               .Bind(4, info.updated_ms)
                               .Run());
    if (txn.Changes() == 0) {
      return NotFound("delivery stream " + info.config.name + " not found");
    }
    return Status::Ok();
  });
}

Status DeliveryStore::Delete(const std::string& name) {
  return db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> remove = txn.Prepare("DELETE FROM delivery_streams WHERE name = ?1");
    if (!remove.ok()) {
      return remove.status();
    }
    SLUICE_RETURN_IF_ERROR((*remove)->Bind(1, name).Run());
    if (txn.Changes() == 0) {
      return NotFound("delivery stream " + name + " not found");
    }
    return Status::Ok();
  });
}

Result<std::vector<DeliveryStreamInfo>> DeliveryStore::List() {
  std::vector<DeliveryStreamInfo> streams;
  Status read = db_->Read([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> select = txn.Prepare(
        "SELECT name, config_json, version, created_ms, updated_ms FROM delivery_streams"
        " ORDER BY name");
    if (!select.ok()) {
      return select.status();
    }
    while (true) {
      Result<bool> row = (*select)->Step();
      if (!row.ok()) {
        return row.status();
      }
      if (!*row) {
        return Status::Ok();
      }
      const std::string name = (*select)->ColumnText(0);
      Result<json> request = ParseStored((*select)->ColumnText(1), "configuration of " + name);
      if (!request.ok()) {
        return request.status();
      }
      Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(*request);
      if (!config.ok()) {
        return Internal("the stored configuration of delivery stream " + name +
                        " no longer parses: " + config.status().message());
      }
      DeliveryStreamInfo info;
      info.config = std::move(*config);
      info.version = (*select)->ColumnInt(2);
      info.created_ms = (*select)->ColumnInt(3);
      info.updated_ms = (*select)->ColumnInt(4);
      streams.push_back(std::move(info));
    }
  });
  if (!read.ok()) {
    return read;
  }
  return streams;
}

Result<DeliveryProgress> DeliveryStore::LoadProgress(const std::string& name) {
  DeliveryProgress progress;
  Status read = db_->Read([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> select =
        txn.Prepare("SELECT checkpoint_json, plan_json FROM delivery_streams WHERE name = ?1");
    if (!select.ok()) {
      return select.status();
    }
    Result<bool> row = (*select)->Bind(1, name).Step();
    if (!row.ok()) {
      return row.status();
    }
    if (!*row) {
      return NotFound("delivery stream " + name + " not found");
    }
    Result<json> checkpoint = ParseStored((*select)->ColumnText(0), "checkpoint of " + name);
    if (!checkpoint.ok()) {
      return checkpoint.status();
    }
    Result<ShardPositions> positions = PositionsFromJson(*checkpoint);
    if (!positions.ok()) {
      return positions.status();
    }
    progress.checkpoint = std::move(*positions);
    if ((*select)->ColumnIsNull(1)) {
      return Status::Ok();
    }
    Result<json> plan = ParseStored((*select)->ColumnText(1), "planned batch of " + name);
    if (!plan.ok()) {
      return plan.status();
    }
    if (!plan->is_object() || !(*plan)["uuid"].is_string() ||
        !(*plan)["oldestArrivalMs"].is_number_integer() ||
        !(*plan)["version"].is_number_integer()) {
      return Internal("the stored planned batch of " + name + " is damaged");
    }
    Result<ShardPositions> end = PositionsFromJson((*plan)["end"]);
    if (!end.ok()) {
      return end.status();
    }
    progress.plan =
        PlannedBatch{(*plan)["uuid"].get<std::string>(), std::move(*end),
                     (*plan)["oldestArrivalMs"].get<int64_t>(), (*plan)["version"].get<int64_t>()};
    return Status::Ok();
  });
  if (!read.ok()) {
    return read;
  }
  return progress;
}

Status DeliveryStore::SavePlan(const std::string& name, const PlannedBatch& plan) {
  const json stored = {{"uuid", plan.uuid},
                       {"end", json::parse(PositionsToJson(plan.end))},
                       {"oldestArrivalMs", plan.oldest_arrival_ms},
                       {"version", plan.version}};
  return db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> update =
        txn.Prepare("UPDATE delivery_streams SET plan_json = ?2 WHERE name = ?1");
    if (!update.ok()) {
      return update.status();
    }
    return (*update)->Bind(1, name).Bind(2, stored.dump()).Run();
  });
}

Status DeliveryStore::CommitBatch(const std::string& name, const ShardPositions& checkpoint) {
  return db_->Write([&](state::Transaction& txn) -> Status {
    Result<state::Statement*> update = txn.Prepare(
        "UPDATE delivery_streams SET checkpoint_json = ?2, plan_json = NULL WHERE name = ?1");
    if (!update.ok()) {
      return update.status();
    }
    return (*update)->Bind(1, name).Bind(2, PositionsToJson(checkpoint)).Run();
  });
}

}  // namespace sluice::delivery
