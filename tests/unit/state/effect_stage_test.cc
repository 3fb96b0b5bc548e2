// EffectStage: reads overlaid with the invoke's own writes, permissions, call-time conditions,
// publish checks, sealing and the per-invoke limits; nothing reaches the database.
#include "state/effect_stage.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "state/kv_store.h"
#include "state/outbox.h"
#include "state/topics.h"
#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

// A stage of function "fn" on a fresh database, with short ways to call it.
struct Fixture {
  Fixture() : stage(test.db(), function) {}

  Status Put(const std::string& table, const std::string& key, const std::string& value,
             const std::string& record = "", const KvConditions& conditions = {}) {
    pb::KvPutRequest request;
    request.set_table(table);
    request.set_key(key);
    request.set_value_json(value);
    *request.mutable_conditions() = conditions;
    pb::KvPutResponse response;
    return stage.KvPut(record, request, &response);
  }
  Result<bool> Delete(const std::string& table, const std::string& key,
                      const KvConditions& conditions = {}) {
    pb::KvDeleteRequest request;
    request.set_table(table);
    request.set_key(key);
    *request.mutable_conditions() = conditions;
    pb::KvDeleteResponse response;
    SLUICE_RETURN_IF_ERROR(stage.KvDelete("", request, &response));
    return response.existed();
  }
  // The value as the stage sees it; "" when there is no item.
  Result<std::string> Get(const std::string& table, const std::string& key) {
    pb::KvGetRequest request;
    request.set_table(table);
    request.set_key(key);
    pb::KvGetResponse response;
    SLUICE_RETURN_IF_ERROR(stage.KvGet("", request, &response));
    REQUIRE(response.found() == !response.value_json().empty());
    return response.value_json();
  }
  Result<pb::KvQueryResponse> Query(const std::string& prefix, uint32_t limit,
                                    const std::string& start = "") {
    pb::KvQueryRequest request;
    request.set_table("rw");
    request.set_key_prefix(prefix);
    request.set_limit(limit);
    request.set_exclusive_start_key(start);
    pb::KvQueryResponse response;
    SLUICE_RETURN_IF_ERROR(stage.KvQuery("", request, &response));
    return response;
  }
  Result<std::string> Update(const std::string& table, const std::string& key,
                             const pb::KvUpdateAction& action,
                             const KvConditions& conditions = {}) {
    pb::KvUpdateRequest request;
    request.set_table(table);
    request.set_key(key);
    *request.add_actions() = action;
    *request.mutable_conditions() = conditions;
    pb::KvUpdateResponse response;
    SLUICE_RETURN_IF_ERROR(stage.KvUpdate("", request, &response));
    return response.value_json();
  }
  Result<std::string> Publish(const std::string& topic, const std::string& message,
                              const std::string& subject = "") {
    pb::PublishRequest request;
    request.set_topic(topic);
    request.set_subject(subject);
    request.set_message(message);
    pb::PublishResponse response;
    SLUICE_RETURN_IF_ERROR(stage.Publish("", request, &response));
    return response.message_id();
  }
  void Commit(const std::string& key, const std::string& value) {
    REQUIRE_OK(KvStore(test.db()).Put("rw", key, value));
  }

  TestDb test;
  invoker::FunctionConfig function =
      Function({{"rw", invoker::TableAccess::kReadWrite}, {"ro", invoker::TableAccess::kRead}});
  EffectStage stage;
};

// "k<i>" (std::string first: GCC 12 warns falsely on "literal" + std::string).
std::string Key(int i) {
  return std::string("k") + std::to_string(i);
}

std::vector<std::string> Keys(const pb::KvQueryResponse& response) {
  std::vector<std::string> keys;
  for (const pb::KvItem& item : response.items()) {
    keys.push_back(item.key() + "=" + item.value_json());
  }
  return keys;
}

void RequireCode(const Status& status, Code code, const std::vector<std::string>& mentions) {
  INFO(status.ToString());
  REQUIRE(status.code() == code);
  for (const std::string& word : mentions) {
    REQUIRE_THAT(status.message(), Catch::Contains(word));
  }
}

TEST_CASE("reads see the invoke's own writes - the database sees none of them", "[effect_stage]") {
  Fixture f;
  f.Commit("a", R"({"v":"committed"})");
  f.Commit("b", R"({"v":"committed"})");
  REQUIRE(f.stage.function_name() == "fn");

  REQUIRE(Must(f.Get("rw", "a")) == R"({"v":"committed"})");
  REQUIRE_OK(f.Put("rw", "a", R"( {"v" : "staged"} )"));
  REQUIRE(Must(f.Get("rw", "a")) == R"({"v":"staged"})");
  REQUIRE(Must(f.Delete("rw", "b")) == true);
  REQUIRE(Must(f.Get("rw", "b")).empty());
  REQUIRE(Must(f.Delete("rw", "b")) == false);  // as this invoke sees it
  REQUIRE(Must(f.Update("rw", "c", Action(Kind::ADD, "n", "2"))) == R"({"n":2})");
  REQUIRE(Must(f.Update("rw", "c", Action(Kind::ADD, "n", "3"))) == R"({"n":5})");
  REQUIRE(Must(f.Get("rw", "c")) == R"({"n":5})");

  KvStore kv(f.test.db());
  REQUIRE(Must(kv.Get("rw", "a"))->value_json == R"({"v":"committed"})");
  REQUIRE(Must(kv.Get("rw", "b")).has_value());
  REQUIRE_FALSE(Must(kv.Get("rw", "c")).has_value());

  // A committed change made meanwhile shows through where the stage wrote nothing.
  f.Commit("d", "1");
  REQUIRE(Must(f.Get("rw", "d")) == "1");
}

TEST_CASE("query merges staged puts and deletes with committed items in key order",
          "[effect_stage]") {
  Fixture f;
  for (const char* key : {"k1", "k3", "k5", "k7", "other"}) {
    f.Commit(key, "\"old\"");
  }
  REQUIRE_OK(f.Put("rw", "k2", "\"new\""));
  REQUIRE_OK(f.Put("rw", "k5", "\"new\""));
  REQUIRE(Must(f.Delete("rw", "k3")));
  REQUIRE_OK(f.Put("rw", "k9", "\"new\""));
  REQUIRE_OK(f.Put("rw", "j0", "\"new\""));  // outside the prefix
  REQUIRE_OK(f.Put("rw", "l0", "\"new\""));  // outside the prefix

  const std::vector<std::string> all = {"k1=\"old\"", "k2=\"new\"", "k5=\"new\"", "k7=\"old\"",
                                        "k9=\"new\""};
  pb::KvQueryResponse page = Must(f.Query("k", 0));
  REQUIRE(Keys(page) == all);
  REQUIRE(page.last_evaluated_key().empty());

  std::vector<std::string> paged;
  std::string start;
  int pages = 0;
  do {
    page = Must(f.Query("k", 2, start));
    for (const std::string& key : Keys(page)) {
      paged.push_back(key);
    }
    start = page.last_evaluated_key();
    ++pages;
  } while (!start.empty());
  REQUIRE(paged == all);
  REQUIRE(pages == 3);

  page = Must(f.Query("k", 2, "k2"));
  REQUIRE(Keys(page) == std::vector<std::string>{"k5=\"new\"", "k7=\"old\""});
  REQUIRE(page.last_evaluated_key() == "k7");
  page = Must(f.Query("k", 10, "k7"));
  REQUIRE(Keys(page) == std::vector<std::string>{"k9=\"new\""});
  REQUIRE(Keys(Must(f.Query("", 0))).size() == 8);
}

TEST_CASE("query skips committed items the stage deleted, past a whole page of them",
          "[effect_stage]") {
  Fixture f;
  for (int i = 0; i < 10; ++i) {
    f.Commit(Key(i), std::to_string(i));
  }
  for (int i = 0; i < 6; ++i) {
    REQUIRE(Must(f.Delete("rw", Key(i))));
  }
  const pb::KvQueryResponse page = Must(f.Query("k", 3));
  REQUIRE(Keys(page) == std::vector<std::string>{"k6=6", "k7=7", "k8=8"});
  REQUIRE(page.last_evaluated_key() == "k8");
  const pb::KvQueryResponse rest = Must(f.Query("k", 3, "k8"));
  REQUIRE(Keys(rest) == std::vector<std::string>{"k9=9"});
  REQUIRE(rest.last_evaluated_key().empty());
}

TEST_CASE("permissions come from the manifest's Tables and Topics", "[effect_stage]") {
  Fixture f;
  REQUIRE(Must(f.Get("ro", "k")).empty());
  RequireCode(f.Get("secret", "k").status(), Code::kPermissionDenied,
              {"\"fn\"", "\"secret\"", "\"Tables\""});
  RequireCode(f.Put("ro", "k", "1"), Code::kPermissionDenied,
              {"\"fn\"", "\"ro\"", "\"Tables\"", "ReadWrite"});
  RequireCode(f.Delete("ro", "k").status(), Code::kPermissionDenied, {"\"ro\"", "ReadWrite"});
  RequireCode(f.Update("ro", "k", Action(Kind::SET, "a", "1")).status(), Code::kPermissionDenied,
              {"\"ro\"", "ReadWrite"});
  RequireCode(f.Query("x", 0).status(), Code::kOk, {});
  pb::KvQueryRequest query;
  query.set_table("secret");
  pb::KvQueryResponse response;
  RequireCode(f.stage.KvQuery("", query, &response), Code::kPermissionDenied, {"\"secret\""});
  RequireCode(f.Publish("other", "hi").status(), Code::kPermissionDenied,
              {"\"fn\"", "\"other\"", "\"Topics\""});
  REQUIRE(f.stage.Seal().empty());
}

TEST_CASE("publish checks the topic, subject and message and returns a UUID", "[effect_stage]") {
  Fixture f;
  RequireCode(f.Publish("alerts", "hi").status(), Code::kNotFound, {"\"alerts\""});
  REQUIRE_OK(TopicCatalog(f.test.db(), &f.test.clock()).CreateTopic("alerts"));
  const std::string id = Must(f.Publish("alerts", "hi", "Subject: ok ~"));
  REQUIRE(IsUuidV4(id));
  REQUIRE(Must(f.Publish("alerts", "hi")) != id);

  RequireCode(f.Publish("alerts", "").status(), Code::kInvalidArgument, {"message"});
  REQUIRE_OK(f.Publish("alerts", std::string(256 << 10, 'm')).status());
  RequireCode(f.Publish("alerts", std::string((256 << 10) + 1, 'm')).status(),
              Code::kInvalidArgument, {"message", "262145"});
  RequireCode(f.Publish("alerts", "\xc3").status(), Code::kInvalidArgument, {"UTF-8"});
  REQUIRE_OK(f.Publish("alerts", "x", std::string(100, 's')).status());
  RequireCode(f.Publish("alerts", "x", std::string(101, 's')).status(), Code::kInvalidArgument,
              {"subject"});
  RequireCode(f.Publish("alerts", "x", "line\nbreak").status(), Code::kInvalidArgument,
              {"printable ASCII"});
  RequireCode(f.Publish("alerts", "x", "caf\xc3\xa9").status(), Code::kInvalidArgument,
              {"subject"});
  RequireCode(f.Publish("bad topic", "x").status(), Code::kInvalidArgument, {"topic name"});

  const std::vector<StagedEffect> effects = f.stage.Seal();
  REQUIRE(effects.size() == 4);
  REQUIRE(effects[0].kind == StagedEffect::Kind::kPublish);
  REQUIRE(effects[0].message_id == id);
  REQUIRE(effects[0].subject == "Subject: ok ~");
  // Staged, not queued.
  REQUIRE(Must(Outbox(f.test.db()).Counts()).pending == 0);
}

TEST_CASE("a condition failing at call time stages nothing", "[effect_stage]") {
  Fixture f;
  f.Commit("k", R"({"n":1})");
  const Status put = f.Put("rw", "k", "2", "", Conditions({Condition("", Op::NOT_EXISTS)}));
  RequireCode(put, Code::kFailedPrecondition, {"ConditionalCheckFailed: rw/k"});
  REQUIRE_THAT(put.message(), Catch::StartsWith("ConditionalCheckFailed"));
  RequireCode(
      f.Update("rw", "k", Action(Kind::ADD, "n", "1"), Conditions({Condition("n", Op::GT, "1")}))
          .status(),
      Code::kFailedPrecondition, {"ConditionalCheckFailed"});
  RequireCode(f.Delete("rw", "k", Conditions({Condition("n", Op::EQ, "2")})).status(),
              Code::kFailedPrecondition, {"ConditionalCheckFailed"});
  REQUIRE(Must(f.Get("rw", "k")) == R"({"n":1})");

  // Conditions see the stage's own writes.
  REQUIRE_OK(f.Put("rw", "k", R"({"n":2})"));
  REQUIRE(Must(f.Delete("rw", "k", Conditions({Condition("n", Op::EQ, "2")}))));
  REQUIRE_OK(f.Put("rw", "k", "3", "", Conditions({Condition("", Op::NOT_EXISTS)})));
  REQUIRE(f.stage.Seal().size() == 3);
}

TEST_CASE("bad arguments are INVALID_ARGUMENT and stage nothing", "[effect_stage]") {
  Fixture f;
  RequireCode(f.Put("rw", "k", "{nope"), Code::kInvalidArgument, {"value_json"});
  RequireCode(f.Put("rw", "", "1"), Code::kInvalidArgument, {"key"});
  RequireCode(f.Put("bad table", "k", "1"), Code::kInvalidArgument, {"table name"});
  RequireCode(f.Update("rw", "k", Action(Kind::ADD, "n", "\"x\"")).status(), Code::kInvalidArgument,
              {"ADD"});
  RequireCode(f.Query("", 1001).status(), Code::kInvalidArgument, {"limit"});
  REQUIRE_OK(f.Put("rw", "s", R"({"n":"text"})"));
  RequireCode(f.Update("rw", "s", Action(Kind::ADD, "n", "1")).status(), Code::kInvalidArgument,
              {"not a number"});
  REQUIRE(f.stage.Seal().size() == 1);
}

TEST_CASE("Seal returns the effects in call order and refuses later calls", "[effect_stage]") {
  Fixture f;
  REQUIRE_OK(TopicCatalog(f.test.db(), &f.test.clock()).CreateTopic("alerts"));
  REQUIRE_OK(f.Put("rw", "a", "1", "100"));
  pb::KvUpdateRequest update;
  update.set_table("rw");
  update.set_key("b");
  *update.add_actions() = Action(Kind::ADD, "n", "1");
  *update.add_conditions() = Condition("n", Op::NOT_EXISTS);
  pb::KvUpdateResponse update_response;
  REQUIRE_OK(f.stage.KvUpdate("101", update, &update_response));
  REQUIRE_OK(f.Delete("rw", "a").status());
  REQUIRE_OK(f.Publish("alerts", "m").status());

  const std::vector<StagedEffect> effects = f.stage.Seal();
  REQUIRE(effects.size() == 4);
  REQUIRE(effects[0].kind == StagedEffect::Kind::kPut);
  REQUIRE(effects[0].record == "100");
  REQUIRE(effects[0].value_json == "1");
  REQUIRE(effects[1].kind == StagedEffect::Kind::kUpdate);
  REQUIRE(effects[1].record == "101");
  REQUIRE(effects[1].update.actions_size() == 1);
  REQUIRE(effects[1].update.conditions_size() == 1);
  REQUIRE(effects[2].kind == StagedEffect::Kind::kDelete);
  REQUIRE(effects[2].record.empty());
  REQUIRE(effects[3].kind == StagedEffect::Kind::kPublish);

  RequireCode(f.Get("rw", "a").status(), Code::kFailedPrecondition, {"ended"});
  RequireCode(f.Put("rw", "a", "1"), Code::kFailedPrecondition, {"ended"});
  RequireCode(f.Delete("rw", "a").status(), Code::kFailedPrecondition, {});
  RequireCode(f.Query("", 0).status(), Code::kFailedPrecondition, {});
  RequireCode(f.Update("rw", "a", Action(Kind::SET, "a", "1")).status(), Code::kFailedPrecondition,
              {});
  RequireCode(f.Publish("alerts", "m").status(), Code::kFailedPrecondition, {});
  REQUIRE(f.stage.Seal().empty());
  REQUIRE(Must(KvStore(f.test.db()).ListTables()).empty());
}

TEST_CASE("at most 1,000 effects per invoke", "[effect_stage]") {
  Fixture f;
  for (int i = 0; i < 1000; ++i) {
    REQUIRE_OK(f.Put("rw", Key(i % 10), "1"));
  }
  RequireCode(f.Put("rw", "k", "1"), Code::kResourceExhausted, {"1000 effects"});
  RequireCode(f.Delete("rw", "k").status(), Code::kResourceExhausted, {});
  RequireCode(f.Update("rw", "k", Action(Kind::SET, "a", "1")).status(), Code::kResourceExhausted,
              {});
  REQUIRE(Must(f.Get("rw", "k1")) == "1");  // reads go on
  REQUIRE(f.stage.Seal().size() == 1000);
}

TEST_CASE("at most 16 MiB of requests, values and messages per invoke", "[effect_stage]") {
  Fixture f;
  REQUIRE_OK(TopicCatalog(f.test.db(), &f.test.clock()).CreateTopic("alerts"));
  std::string value(400 << 10, 'v');  // a JSON string of 400 KiB
  value.front() = '"';
  value.back() = '"';
  // A put keeps its request and the value: 800 KiB each, 20 x 800 KiB = 16,000 KiB.
  for (int i = 0; i < 20; ++i) {
    REQUIRE_OK(f.Put("rw", "k", value));
  }
  RequireCode(f.Put("rw", "k", value), Code::kResourceExhausted, {"bytes"});
  REQUIRE_OK(f.Publish("alerts", std::string(256 << 10, 'm')).status());  // 16,256 KiB
  RequireCode(f.Publish("alerts", std::string(200 << 10, 'm')).status(), Code::kResourceExhausted,
              {"bytes"});
  REQUIRE_OK(f.Publish("alerts", std::string(100 << 10, 'm')).status());  // 16,356 KiB
  REQUIRE(f.stage.Seal().size() == 22);
}

TEST_CASE("conditions count toward the 16 MiB, so large conditions cannot bypass it",
          "[effect_stage]") {
  Fixture f;
  std::string big(390 << 10, 'c');  // a JSON string of 390 KiB
  big.front() = '"';
  big.back() = '"';
  KvConditions conditions;
  for (int i = 0; i < 50; ++i) {  // 19.5 MiB of conditions on a 1-byte value
    *conditions.Add() = Condition("a", Op::NE, big);
  }
  RequireCode(f.Put("rw", "k", "1", "", conditions), Code::kResourceExhausted, {"bytes"});
  REQUIRE(f.stage.Seal().empty());
}

TEST_CASE("an effect's record must be a sequence number", "[effect_stage]") {
  Fixture f;
  for (const char* record : {"0123", "12a", "-1", " 1", "1.5"}) {
    INFO(record);
    RequireCode(f.Put("rw", "k", "1", record), Code::kInvalidArgument, {"sluice-record"});
  }
  REQUIRE_OK(f.Put("rw", "k", "1", "49590338271490256608559692538361571095921575989136588898"));
  REQUIRE(f.stage.Seal().size() == 1);
}

TEST_CASE("a stage that knows its batch accepts only the batch's records", "[effect_stage]") {
  TestDb test;
  pb::Invoke invoke;
  for (const char* seq : {"200", "100"}) {
    invoke.mutable_kinesis()->add_records()->set_sequence_number(seq);
  }
  REQUIRE(BatchRecords(invoke) == std::set<std::string>{"100", "200"});
  EffectStage stage(test.db(), Function({{"rw", invoker::TableAccess::kReadWrite}}),
                    BatchRecords(invoke));
  pb::KvPutRequest request;
  request.set_table("rw");
  request.set_key("k");
  request.set_value_json("1");
  pb::KvPutResponse response;
  RequireCode(stage.KvPut("5", request, &response), Code::kInvalidArgument,
              {"not the sequence number of a record of this invoke's batch"});
  REQUIRE_OK(stage.KvPut("100", request, &response));
  REQUIRE_OK(stage.KvPut("", request, &response));  // outside any record
  REQUIRE(stage.Seal().size() == 2);
}

TEST_CASE("a query page stops at 1 MiB of items and goes on from there", "[effect_stage]") {
  Fixture f;
  std::string value(300 << 10, 'v');  // 300 KiB
  value.front() = '"';
  value.back() = '"';
  for (const char* key : {"a", "c", "e"}) {
    f.Commit(key, value);
  }
  for (const char* key : {"b", "d"}) {  // staged, interleaved with the committed ones
    REQUIRE_OK(f.Put("rw", key, value));
  }
  std::vector<std::string> keys;
  std::string start;
  int pages = 0;
  do {
    pb::KvQueryResponse page = Must(f.Query("", 100, start));
    size_t bytes = 0;
    for (const pb::KvItem& item : page.items()) {
      keys.push_back(item.key());
      bytes += item.key().size() + item.value_json().size();
    }
    REQUIRE(!page.items().empty());
    REQUIRE(bytes <= kMaxQueryPageBytes);
    start = page.last_evaluated_key();
    ++pages;
  } while (!start.empty() && pages < 10);
  REQUIRE(keys == std::vector<std::string>{"a", "b", "c", "d", "e"});
  REQUIRE(pages == 2);  // 3 x 300 KiB, then 2
  // KvStore pages the same way.
  KvPage first = Must(KvStore(f.test.db()).Query("rw", "", 100));
  REQUIRE(first.items.size() == 3 - 0);  // a, c, e: 900 KiB fit
  f.Commit("f", value);
  first = Must(KvStore(f.test.db()).Query("rw", "", 100));
  REQUIRE(first.items.size() == 3);
  REQUIRE(first.last_evaluated_key == "e");
}

}  // namespace
}  // namespace sluice::state::testing
