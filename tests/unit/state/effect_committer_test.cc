// EffectCommitter: full and partial commits, conditions re-checked at commit, concurrent ADDs,
// checkpoints in the same transaction, outbox rows and on_enqueued; sequence number order.
#include "state/effect_committer.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <string>
#include <thread>
#include <vector>

#include "state/kv_store.h"
#include "state/outbox.h"
#include "state/topics.h"
#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

// A database with topic "alerts" (two subscribers), a committer counting its wake-ups, and
// short ways to stage effects.
struct Fixture {
  Fixture() {
    TopicCatalog topics(test.db(), &test.clock());
    REQUIRE_OK(topics.CreateTopic("alerts"));
    Must(topics.Subscribe("alerts", "stdout", "", {}));
    Must(topics.Subscribe("alerts", "file:///tmp/alerts.jsonl", "", {}));
  }

  std::unique_ptr<EffectStage> NewStage() {
    return std::make_unique<EffectStage>(test.db(), function);
  }
  static void Put(EffectStage& stage, const std::string& record, const std::string& key,
                  const std::string& value, const KvConditions& conditions = {}) {
    pb::KvPutRequest request;
    request.set_table("t");
    request.set_key(key);
    request.set_value_json(value);
    *request.mutable_conditions() = conditions;
    pb::KvPutResponse response;
    REQUIRE_OK(stage.KvPut(record, request, &response));
  }
  static void Delete(EffectStage& stage, const std::string& record, const std::string& key) {
    pb::KvDeleteRequest request;
    request.set_table("t");
    request.set_key(key);
    pb::KvDeleteResponse response;
    REQUIRE_OK(stage.KvDelete(record, request, &response));
  }
  static std::string Add(EffectStage& stage, const std::string& record, const std::string& key,
                         const std::string& amount, const KvConditions& conditions = {}) {
    pb::KvUpdateRequest request;
    request.set_table("t");
    request.set_key(key);
    *request.add_actions() = Action(Kind::ADD, "n", amount);
    *request.mutable_conditions() = conditions;
    pb::KvUpdateResponse response;
    REQUIRE_OK(stage.KvUpdate(record, request, &response));
    return response.value_json();
  }
  static std::string Publish(EffectStage& stage, const std::string& record,
                             const std::string& topic = "alerts") {
    pb::PublishRequest request;
    request.set_topic(topic);
    request.set_message("m");
    pb::PublishResponse response;
    REQUIRE_OK(stage.Publish(record, request, &response));
    return response.message_id();
  }

  // The committed value of key, "" when none.
  std::string Value(const std::string& key) {
    const std::optional<KvEntry> entry = Must(KvStore(test.db()).Get("t", key));
    return entry ? entry->value_json : "";
  }
  Checkpoint MakeCheckpoint(const std::string& sequence_number) {
    return {"mapping-1", "shardId-000000000000", sequence_number, R"({"window":1})",
            test.clock().UnixMillis()};
  }
  std::optional<Checkpoint> SavedCheckpoint() {
    return Must(Checkpoints(test.db()).Get("mapping-1", "shardId-000000000000"));
  }

  TestDb test;
  invoker::FunctionConfig function = Function({{"t", invoker::TableAccess::kReadWrite}});
  int wakeups = 0;
  EffectCommitter committer{test.db(), &test.clock(), [this] { ++wakeups; }};
};

TEST_CASE("a full commit writes every effect, the outbox rows and the checkpoint",
          "[effect_committer]") {
  Fixture f;
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "gone", "1"));
  std::unique_ptr<EffectStage> stage = f.NewStage();
  Fixture::Put(*stage, "1", "a", R"({"v":1})");
  REQUIRE(Fixture::Add(*stage, "2", "counter", "5") == R"({"n":5})");
  Fixture::Delete(*stage, "3", "gone");
  const std::string message_id = Fixture::Publish(*stage, "3");
  Fixture::Publish(*stage, "");

  const CommitResult result =
      Must(f.committer.Commit({stage.get(), std::nullopt, f.MakeCheckpoint("3"), {}}));
  REQUIRE(result.kv_writes == 3);
  REQUIRE(result.notifications == 2);
  REQUIRE(result.outbox_rows == 4);
  REQUIRE(result.effects_dropped == 0);
  REQUIRE(f.wakeups == 1);

  REQUIRE(f.Value("a") == R"({"v":1})");
  REQUIRE(f.Value("counter") == R"({"n":5})");
  REQUIRE(f.Value("gone").empty());
  const std::optional<Checkpoint> checkpoint = f.SavedCheckpoint();
  REQUIRE(checkpoint.has_value());
  REQUIRE(checkpoint->sequence_number == "3");
  REQUIRE(checkpoint->detail_json == R"({"window":1})");
  REQUIRE(checkpoint->updated_unix_ms == f.test.clock().UnixMillis());
  REQUIRE(Must(Checkpoints(f.test.db()).ForMapping("mapping-1")).size() == 1);

  const std::vector<OutboxEntry> due = Must(Outbox(f.test.db()).Due(INT64_MAX, 10));
  REQUIRE(due.size() == 4);
  REQUIRE(due[0].message_id == message_id);
  REQUIRE(due[1].message_id == message_id);
  REQUIRE(due[0].subscription.id != due[1].subscription.id);
  REQUIRE(due[0].next_attempt_unix_ms == f.test.clock().UnixMillis());

  // The committer sealed the stage.
  pb::KvGetRequest get;
  get.set_table("t");
  get.set_key("a");
  pb::KvGetResponse response;
  REQUIRE(stage->KvGet("", get, &response).code() == Code::kFailedPrecondition);
}

TEST_CASE("a partial commit keeps the effects of records before the first failure",
          "[effect_committer]") {
  Fixture f;
  std::unique_ptr<EffectStage> stage = f.NewStage();
  Fixture::Put(*stage, "9", "nine", "9");
  Fixture::Put(*stage, "10", "ten", "10");  // "10" < "9" as text, not as a number
  Fixture::Put(*stage, "11", "eleven", "11");
  Fixture::Publish(*stage, "10");
  Fixture::Put(*stage, "", "unattributed", "0");
  Fixture::Put(*stage, "8", "eight", "8");

  const CommitResult result =
      Must(f.committer.Commit({stage.get(), std::string("10"), f.MakeCheckpoint("9"), {}}));
  REQUIRE(result.kv_writes == 2);
  REQUIRE(result.notifications == 0);
  REQUIRE(result.outbox_rows == 0);
  REQUIRE(result.effects_dropped == 4);
  REQUIRE(f.wakeups == 0);
  REQUIRE(f.Value("nine") == "9");
  REQUIRE(f.Value("eight") == "8");
  REQUIRE(f.Value("ten").empty());
  REQUIRE(f.Value("eleven").empty());
  REQUIRE(f.Value("unattributed").empty());
  REQUIRE(f.SavedCheckpoint()->sequence_number == "9");
  REQUIRE(Must(Outbox(f.test.db()).Counts()).pending == 0);
}

TEST_CASE("unattributed effects commit when nothing failed", "[effect_committer]") {
  Fixture f;
  std::unique_ptr<EffectStage> stage = f.NewStage();
  Fixture::Put(*stage, "", "k", "1");
  const CommitResult result =
      Must(f.committer.Commit({stage.get(), std::nullopt, std::nullopt, {}}));
  REQUIRE(result.kv_writes == 1);
  REQUIRE(f.Value("k") == "1");
  REQUIRE_FALSE(f.SavedCheckpoint().has_value());
}

TEST_CASE("a condition that no longer holds at commit aborts everything", "[effect_committer]") {
  Fixture f;
  std::unique_ptr<EffectStage> stage = f.NewStage();
  Fixture::Put(*stage, "1", "first", "1");
  Fixture::Publish(*stage, "1");
  Fixture::Put(*stage, "2", "claim", R"({"owner":"a"})",
               Conditions({Condition("", Op::NOT_EXISTS)}));
  // Another invoke commits the item the condition was about.
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "claim", R"({"owner":"b"})"));

  const Result<CommitResult> result =
      f.committer.Commit({stage.get(), std::nullopt, f.MakeCheckpoint("2"), {}});
  REQUIRE(result.status().code() == Code::kAborted);
  REQUIRE_THAT(result.status().message(), Catch::StartsWith("ConditionalCheckFailed: t/claim: "));
  REQUIRE(f.Value("first").empty());
  REQUIRE(f.Value("claim") == R"({"owner":"b"})");
  REQUIRE_FALSE(f.SavedCheckpoint().has_value());
  REQUIRE(Must(Outbox(f.test.db()).Counts()).pending == 0);
  REQUIRE(f.wakeups == 0);
  REQUIRE(std::string(kConditionalCheckFailed) == "Sluice.ConditionalCheckFailed");
}

TEST_CASE("an update's condition is checked again against the committed item",
          "[effect_committer]") {
  Fixture f;
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "c", R"({"n":1,"v":1})"));
  std::unique_ptr<EffectStage> stage = f.NewStage();
  REQUIRE(Fixture::Add(*stage, "1", "c", "1", Conditions({Condition("v", Op::EQ, "1")})) ==
          R"({"n":2,"v":1})");
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "c", R"({"n":1,"v":2})"));
  const Result<CommitResult> result = f.committer.Commit({stage.get(), std::nullopt, {}, {}});
  REQUIRE(result.status().code() == Code::kAborted);
  REQUIRE_THAT(result.status().message(), Catch::Contains("ConditionalCheckFailed"));
  REQUIRE(f.Value("c") == R"({"n":1,"v":2})");

  // An update whose ADD meets a value that stopped being a number aborts too.
  std::unique_ptr<EffectStage> other = f.NewStage();
  Fixture::Add(*other, "1", "c", "1");
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "c", R"({"n":"text"})"));
  REQUIRE(f.committer.Commit({other.get(), std::nullopt, {}, {}}).status().code() ==
          Code::kAborted);
  REQUIRE(f.Value("c") == R"({"n":"text"})");
}

TEST_CASE("two stages adding to the same attribute both count", "[effect_committer]") {
  Fixture f;
  REQUIRE_OK(KvStore(f.test.db()).Put("t", "c", R"({"n":1})"));
  std::unique_ptr<EffectStage> a = f.NewStage();
  std::unique_ptr<EffectStage> b = f.NewStage();
  REQUIRE(Fixture::Add(*a, "1", "c", "2") == R"({"n":3})");
  REQUIRE(Fixture::Add(*b, "1", "c", "3") == R"({"n":4})");
  REQUIRE(Fixture::Add(*b, "2", "c", "0.5") == R"({"n":4.5})");
  REQUIRE(Must(f.committer.Commit({a.get(), std::nullopt, {}, {}})).kv_writes == 1);
  REQUIRE(Must(f.committer.Commit({b.get(), std::nullopt, {}, {}})).kv_writes == 2);
  REQUIRE(f.Value("c") == R"({"n":6.5})");
}

TEST_CASE("a dropped stage writes nothing - a checkpoint commits alone", "[effect_committer]") {
  Fixture f;
  {
    std::unique_ptr<EffectStage> stage = f.NewStage();
    Fixture::Put(*stage, "1", "k", "1");
    Fixture::Publish(*stage, "1");
  }
  REQUIRE(f.Value("k").empty());
  REQUIRE(Must(KvStore(f.test.db()).ListTables()).empty());
  REQUIRE(Must(Outbox(f.test.db()).Counts()).pending == 0);

  const CommitResult result =
      Must(f.committer.Commit({nullptr, std::nullopt, f.MakeCheckpoint("7"), {}}));
  REQUIRE(result.kv_writes == 0);
  REQUIRE(result.effects_dropped == 0);
  REQUIRE(f.SavedCheckpoint()->sequence_number == "7");
  REQUIRE_OK(Checkpoints(f.test.db()).DeleteMapping("mapping-1"));
  REQUIRE_FALSE(f.SavedCheckpoint().has_value());
}

TEST_CASE("on_enqueued is called only when rows were queued", "[effect_committer]") {
  Fixture f;
  REQUIRE_OK(TopicCatalog(f.test.db(), &f.test.clock()).CreateTopic("quiet"));
  f.function.topics.insert("quiet");
  std::unique_ptr<EffectStage> stage = f.NewStage();
  Fixture::Publish(*stage, "1", "quiet");  // no subscribers
  const CommitResult result = Must(f.committer.Commit({stage.get(), std::nullopt, {}, {}}));
  REQUIRE(result.notifications == 1);
  REQUIRE(result.outbox_rows == 0);
  REQUIRE(f.wakeups == 0);

  // Without on_enqueued, queuing is fine too.
  EffectCommitter quiet(f.test.db(), &f.test.clock());
  std::unique_ptr<EffectStage> loud = f.NewStage();
  Fixture::Publish(*loud, "1");
  REQUIRE(Must(quiet.Commit({loud.get(), std::nullopt, {}, {}})).outbox_rows == 2);
}

TEST_CASE("invokes staging and committing on several threads lose no ADD", "[effect_committer]") {
  Fixture f;
  constexpr int kThreads = 4;
  constexpr int kInvokes = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kInvokes; ++i) {
        EffectStage stage(f.test.db(), f.function);
        pb::KvUpdateRequest request;
        request.set_table("t");
        request.set_key("c");
        *request.add_actions() = Action(Kind::ADD, "n", "1");
        pb::KvUpdateResponse response;
        pb::KvGetRequest get;
        get.set_table("t");
        get.set_key("c");
        pb::KvGetResponse got;
        if (!stage.KvUpdate(std::to_string(i), request, &response).ok() ||
            !stage.KvGet("", get, &got).ok() || got.value_json() != response.value_json() ||
            !f.committer.Commit({&stage, std::nullopt, std::nullopt, {}}).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  REQUIRE(failures == 0);
  REQUIRE(f.Value("c") == R"({"n":100})");
}

TEST_CASE("sequence numbers compare numerically", "[effect_committer]") {
  REQUIRE(CompareSequenceNumbers("9", "10") == -1);
  REQUIRE(CompareSequenceNumbers("10", "9") == 1);
  REQUIRE(CompareSequenceNumbers("10", "10") == 0);
  REQUIRE(CompareSequenceNumbers("12", "21") == -1);
  REQUIRE(CompareSequenceNumbers("49590338271490256608559692538361571095921575989136588898",
                                 "49590338271490256608559692538361571095921575989136588899") == -1);
  REQUIRE(CompareSequenceNumbers("49590338271490256608559692538361571095921575989136588898",
                                 "18446744073709551616") == 1);
}

pb::Invoke KinesisBatchOf(const std::vector<std::string>& sequence_numbers, bool window = false) {
  pb::Invoke invoke;
  pb::KinesisBatch* batch =
      window ? invoke.mutable_kinesis_window()->mutable_batch() : invoke.mutable_kinesis();
  for (const std::string& seq : sequence_numbers) {
    batch->add_records()->set_sequence_number(seq);
  }
  return invoke;
}

TEST_CASE("FirstFailedRecord picks the numeric minimum of the batch's failed records",
          "[effect_committer]") {
  const std::string big = "49590338271490256608559692538361571095921575989136588898";
  const pb::Invoke invoke = KinesisBatchOf({"99", "100", "1000", big});
  pb::InvokeResponse response;
  REQUIRE_FALSE(FirstFailedRecord(BatchRecords(invoke), response).has_value());
  response.mutable_kinesis();
  REQUIRE_FALSE(FirstFailedRecord(BatchRecords(invoke), response).has_value());
  for (const std::string& id : {big, std::string("100"), std::string("1000")}) {
    response.mutable_kinesis()->add_batch_item_failures()->set_item_identifier(id);
  }
  REQUIRE(FirstFailedRecord(BatchRecords(invoke), response) == std::optional<std::string>("100"));

  pb::InvokeResponse window;
  window.mutable_kinesis_window()->add_batch_item_failures()->set_item_identifier("20");
  window.mutable_kinesis_window()->add_batch_item_failures()->set_item_identifier("3");
  REQUIRE(FirstFailedRecord(BatchRecords(KinesisBatchOf({"3", "20"}, true)), window) ==
          std::optional<std::string>("3"));

  pb::InvokeResponse firehose;
  firehose.mutable_firehose();
  REQUIRE_FALSE(FirstFailedRecord(BatchRecords(invoke), firehose).has_value());
}

TEST_CASE("an empty, unknown or malformed item identifier fails the whole batch",
          "[effect_committer]") {
  const pb::Invoke invoke = KinesisBatchOf({"7", "8", "9"});
  for (const char* id : {"", "10", "08", "x", " 8"}) {
    pb::InvokeResponse response;
    response.mutable_kinesis()->add_batch_item_failures()->set_item_identifier("9");
    response.mutable_kinesis()->add_batch_item_failures()->set_item_identifier(id);
    INFO("identifier \"" << id << "\"");
    REQUIRE(FirstFailedRecord(BatchRecords(invoke), response) == std::optional<std::string>("7"));
  }
  // The whole batch fails from its lowest record, wherever that record is in the batch.
  pb::InvokeResponse unknown;
  unknown.mutable_kinesis()->add_batch_item_failures()->set_item_identifier("");
  REQUIRE(FirstFailedRecord(BatchRecords(KinesisBatchOf({"200", "100"})), unknown) ==
          std::optional<std::string>("100"));
}

TEST_CASE("host publishes commit with the checkpoint even without a stage", "[effect_committer]") {
  Fixture f;
  StagedEffect notice;
  notice.kind = StagedEffect::Kind::kPublish;
  notice.topic = "alerts";
  notice.subject = "discarded";
  notice.message = R"({"requestContext":{}})";
  notice.message_id = "m-1";
  CommitRequest request;
  request.checkpoint = f.MakeCheckpoint("9");
  request.host_publishes.push_back(notice);
  const CommitResult result = Must(f.committer.Commit(request));
  REQUIRE(result.outbox_rows == 2);  // two subscribers
  REQUIRE(f.wakeups == 1);
  REQUIRE(f.SavedCheckpoint()->sequence_number == "9");

  // A topic that does not exist fails the whole commit: the checkpoint does not move.
  request.host_publishes[0].topic = "missing";
  request.checkpoint = f.MakeCheckpoint("10");
  REQUIRE_FALSE(f.committer.Commit(request).ok());
  REQUIRE(f.SavedCheckpoint()->sequence_number == "9");
}

}  // namespace
}  // namespace sluice::state::testing
