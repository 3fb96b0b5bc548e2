// MappingStore: create, get, list, update and delete on a real SQLite database; duplicates, the
// mapping's checkpoints going with it, and persistence across reopening the database.
#include "poller/mapping_store.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "state/checkpoints.h"
#include "tests/unit/state/state_test_util.h"

namespace sluice::poller {
namespace {

using nlohmann::json;
using state::testing::IsUuidV4;
using state::testing::Must;
using state::testing::TestDb;

// A TestDb with the mapping table.
class MappingDb : public TestDb {
 public:
  MappingDb() { CreateTable(); }

  void CreateTable() { REQUIRE_OK(db()->Write(MappingStore::EnsureSchema)); }
};

// Function `function` (maybe "name:QUALIFIER") on stream `stream`, with `extra` properties.
MappingConfig Mapping(const std::string& function, const std::string& stream,
                      const json& extra = json::object()) {
  json doc = {{"FunctionName", function}, {"EventSourceArn", stream}};
  doc.update(extra);
  return Must(ParseMapping(doc, ""));
}

std::vector<std::string> Uuids(const std::vector<StoredMapping>& mappings) {
  std::vector<std::string> uuids;
  for (const StoredMapping& mapping : mappings) {
    uuids.push_back(mapping.uuid);
  }
  return uuids;
}

void PutCheckpoint(state::StateDb* db, const std::string& mapping_id, const std::string& shard) {
  REQUIRE_OK(db->Write([&](state::Transaction& txn) {
    return state::Checkpoints::Put(txn, {mapping_id, shard, "49000000000000000001", "", 1000});
  }));
}

TEST_CASE("a created mapping gets a UUID and reads back as it was given", "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  const MappingConfig config =
      Mapping("billing:3", "arn:aws:kinesis:local:000000000000:stream/tolls",
              {{"BatchSize", 500},
               {"DestinationConfig", {{"OnFailure", {{"Destination", "topic:alerts"}}}}},
               {"FilterCriteria", json::parse(R"({"Filters": [{"Pattern": "{\"data\": {}}"}]})")}});
  const StoredMapping created = Must(store.Create(config, 1000));
  CHECK(IsUuidV4(created.uuid));
  CHECK(created.config == config);
  CHECK(created.last_modified_ms == 1000);

  const std::optional<StoredMapping> got = Must(store.Get(created.uuid));
  REQUIRE(got.has_value());
  CHECK(got->uuid == created.uuid);
  CHECK(got->config == config);
  CHECK(got->last_modified_ms == 1000);
  CHECK_FALSE(Must(store.Get("00000000-0000-4000-8000-000000000000")).has_value());
}

TEST_CASE("List gives every mapping oldest first", "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  CHECK(Must(store.List()).empty());
  std::vector<std::string> created;
  for (const std::string stream : {"s1", "s2", "s3", "s4", "s5"}) {
    created.push_back(Must(store.Create(Mapping("fn", stream), 1000)).uuid);
  }
  CHECK(Uuids(Must(store.List())) == created);

  // Deleting the newest and the oldest does not disturb the order of those created afterwards.
  REQUIRE_OK(store.Delete(created.back()));
  created.pop_back();
  REQUIRE_OK(store.Delete(created.front()));
  created.erase(created.begin());
  created.push_back(Must(store.Create(Mapping("fn", "s6"), 900)).uuid);
  CHECK(Uuids(Must(store.List())) == created);
  CHECK(Must(store.List()).back().config.stream_name == "s6");
}

TEST_CASE("the same function on the same stream is refused, naming the existing mapping",
          "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  const StoredMapping first = Must(store.Create(Mapping("fn", "tolls"), 1000));

  for (const MappingConfig& duplicate :
       {Mapping("fn", "tolls", {{"BatchSize", 7}}), Mapping("fn:$LATEST", "tolls"),
        Mapping("arn:aws:lambda:local:000000000000:function:fn",
                "arn:aws:kinesis:local:000000000000:stream/tolls")}) {
    Result<StoredMapping> refused = store.Create(duplicate, 2000);
    CHECK(refused.status().code() == Code::kAlreadyExists);
    CHECK(refused.status().message() ==
          "function fn:$LATEST is already attached to stream \"tolls\" by event source mapping " +
              first.uuid);
  }
  // Another version, another function or another stream is another mapping.
  Must(store.Create(Mapping("fn:2", "tolls"), 2000));
  Must(store.Create(Mapping("other", "tolls"), 2000));
  Must(store.Create(Mapping("fn", "lanes"), 2000));
  CHECK(Must(store.List()).size() == 4);
}

TEST_CASE("Update replaces the configuration and its time", "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  const StoredMapping created = Must(store.Create(Mapping("fn", "tolls"), 1000));
  const StoredMapping other = Must(store.Create(Mapping("other", "tolls"), 1000));

  const MappingConfig changed = Must(ApplyMappingUpdate(
      created.config, {{"BatchSize", 10}, {"Enabled", false}, {"FunctionName", "fn:4"}}));
  const StoredMapping updated = Must(store.Update(created.uuid, changed, 5000));
  CHECK(updated.uuid == created.uuid);
  CHECK(updated.config == changed);
  CHECK(updated.last_modified_ms == 5000);
  const StoredMapping got = *Must(store.Get(created.uuid));
  CHECK(got.config == changed);
  CHECK(got.last_modified_ms == 5000);
  CHECK(got.config.qualifier == "4");
  CHECK_FALSE(got.config.enabled);
  // Updating keeps the mapping's place in the list.
  CHECK(Uuids(Must(store.List())) == std::vector<std::string>{created.uuid, other.uuid});
  // Its old (function, stream) is free again; its new one is taken.
  Must(store.Create(Mapping("fn", "tolls"), 6000));
  CHECK(store.Create(Mapping("fn:4", "tolls"), 6000).status().code() == Code::kAlreadyExists);

  // An update of a mapping to its own function and stream is no duplicate.
  Must(store.Update(other.uuid, Mapping("other", "tolls", {{"BatchSize", 3}}), 7000));
  Result<StoredMapping> duplicate = store.Update(other.uuid, changed, 8000);
  CHECK(duplicate.status().code() == Code::kAlreadyExists);
  CHECK_THAT(duplicate.status().message(), Catch::EndsWith(created.uuid));
  CHECK(Must(store.Get(other.uuid))->config.batch_size == 3);

  Result<StoredMapping> unknown =
      store.Update("00000000-0000-4000-8000-000000000000", changed, 9000);
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK(unknown.status().message() ==
        "event source mapping \"00000000-0000-4000-8000-000000000000\" does not exist");
}

TEST_CASE("Delete removes the mapping and its checkpoints, and no others", "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  state::Checkpoints checkpoints(test.db());
  const StoredMapping doomed = Must(store.Create(Mapping("fn", "tolls"), 1000));
  const StoredMapping kept = Must(store.Create(Mapping("other", "tolls"), 1000));
  PutCheckpoint(test.db(), doomed.uuid, "shardId-000000000000");
  PutCheckpoint(test.db(), doomed.uuid, "shardId-000000000001");
  PutCheckpoint(test.db(), kept.uuid, "shardId-000000000000");
  REQUIRE(Must(checkpoints.ForMapping(doomed.uuid)).size() == 2);

  REQUIRE_OK(store.Delete(doomed.uuid));
  CHECK_FALSE(Must(store.Get(doomed.uuid)).has_value());
  CHECK(Must(checkpoints.ForMapping(doomed.uuid)).empty());
  CHECK(Must(checkpoints.ForMapping(kept.uuid)).size() == 1);
  CHECK(Uuids(Must(store.List())) == std::vector<std::string>{kept.uuid});

  const Status again = store.Delete(doomed.uuid);
  CHECK(again.code() == Code::kNotFound);
  CHECK(again.message() == "event source mapping \"" + doomed.uuid + "\" does not exist");
}

TEST_CASE("mappings survive closing and reopening the database", "[mapping store]") {
  MappingDb test;
  std::vector<StoredMapping> before;
  {
    MappingStore store(test.db());
    before.push_back(Must(store.Create(Mapping("fn", "tolls", {{"BatchSize", 42}}), 1000)));
    before.push_back(Must(store.Create(Mapping("fn", "lanes",
                                               {{"StartingPosition", "AT_TIMESTAMP"},
                                                {"StartingPositionTimestamp", 1700000000.25}}),
                                       2000)));
    before[0] = Must(store.Update(before[0].uuid, Mapping("fn:2", "tolls"), 3000));
  }
  test.Reopen();
  test.CreateTable();  // idempotent
  MappingStore store(test.db());
  const std::vector<StoredMapping> after = Must(store.List());
  REQUIRE(after.size() == 2);
  for (size_t i = 0; i < after.size(); ++i) {
    CHECK(after[i].uuid == before[i].uuid);
    CHECK(after[i].config == before[i].config);
    CHECK(after[i].last_modified_ms == before[i].last_modified_ms);
  }
  CHECK(after[1].config.starting_position_timestamp_ms == 1700000000250);
  CHECK(store.Create(Mapping("fn:2", "tolls"), 4000).status().code() == Code::kAlreadyExists);
}

TEST_CASE("a stored configuration that no longer parses is an internal error", "[mapping store]") {
  MappingDb test;
  MappingStore store(test.db());
  const StoredMapping mapping = Must(store.Create(Mapping("fn", "tolls"), 1000));
  for (const std::string& stored :
       {std::string("{not json"), std::string(R"({"FunctionName": 1})")}) {
    REQUIRE_OK(test.db()->Write([&](state::Transaction& txn) {
      Result<state::Statement*> statement =
          txn.Prepare("UPDATE event_source_mappings SET config_json = ?1");
      SLUICE_RETURN_IF_ERROR(statement.status());
      return (*statement)->Bind(1, stored).Run();
    }));
    const Status status = store.Get(mapping.uuid).status();
    CHECK(status.code() == Code::kInternal);
    CHECK_THAT(status.message(), Catch::StartsWith("event source mapping " + mapping.uuid + ": "));
    CHECK(store.List().status().code() == Code::kInternal);
  }
}

}  // namespace
}  // namespace sluice::poller
