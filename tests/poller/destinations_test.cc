// On-failure destinations: a discarded batch's invocation record goes to a Sluice stream (read
// back from it), a topic (an outbox row, committed with the checkpoint) or a directory (a file
// with the payload).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "state/topics.h"
#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using nlohmann::json;

// What every destination gets for record `seq` ("fail") discarded after its one invoke.
void CheckInvocationRecord(const json& record, const std::string& seq,
                           const std::string& request_id) {
  CHECK(record["requestContext"]["condition"] == "RetryAttemptsExhausted");
  CHECK(record["requestContext"]["approximateInvokeCount"] == 1);
  CHECK(record["requestContext"]["requestId"] == request_id);
  CHECK(record["requestContext"]["functionArn"] ==
        "arn:aws:lambda:local:000000000000:function:batch_probe");
  CHECK(record["responseContext"]["functionError"] == "Unhandled");
  const json& info = record["KinesisBatchInfo"];
  CHECK(info["shardId"] == kShard0);
  CHECK(info["startSequenceNumber"] == seq);
  CHECK(info["endSequenceNumber"] == seq);
  CHECK(info["batchSize"] == 1);
  CHECK(info["streamArn"] == "arn:aws:kinesis:us-east-1:000000000000:stream/events");
}

TEST_CASE("a discarded batch goes to the on-failure destination") {
  PollerFixture f;
  const std::string seq = f.Put("k", "fail");

  SECTION("a stream: one record to read back, without the payload") {
    f.CreateStream("failures", 1);
    const std::string uuid = f.Attach(
        {{"MaximumRetryAttempts", 0}, {"DestinationConfig", OnFailure("stream:failures")}});
    f.WaitUntil([&] { return !f.StreamData("failures").empty(); }, "a record in failures");
    const std::vector<std::string> sent = f.StreamData("failures");
    REQUIRE(sent.size() == 1);
    const json record = json::parse(sent[0]);
    CheckInvocationRecord(record, seq, f.Batches().at(0).request_id);
    CHECK_FALSE(record.contains("payload"));
    f.WaitForPosition(uuid, seq);
  }

  SECTION("a topic: one notification queued with the checkpoint") {
    state::TopicCatalog topics(&f.db(), &f.clock());
    REQUIRE(topics.CreateTopic("failures").ok());
    REQUIRE(topics.Subscribe("failures", "file://" + f.Path("notes.jsonl"), "", {}).ok());
    const std::string uuid =
        f.Attach({{"MaximumRetryAttempts", 0}, {"DestinationConfig", OnFailure("topic:failures")}});
    f.WaitForPosition(uuid, seq);
    const std::vector<state::OutboxEntry> rows = f.PendingNotifications();
    REQUIRE(rows.size() == 1);
    CHECK(rows[0].topic == "failures");
    const json record = json::parse(json::parse(rows[0].body_json)["Message"].get<std::string>());
    CheckInvocationRecord(record, seq, f.Batches().at(0).request_id);
    CHECK_FALSE(record.contains("payload"));
  }

  SECTION("a directory: one file with the payload") {
    const std::string dir = f.Path("dlq");
    const std::string uuid =
        f.Attach({{"MaximumRetryAttempts", 0}, {"DestinationConfig", OnFailure("file://" + dir)}});
    f.WaitForPosition(uuid, seq);
    const auto files = f.JsonFilesUnder(dir);
    REQUIRE(files.size() == 1);
    const std::string& path = files[0].first;
    CHECK(path.rfind(dir + "/" + uuid + "/" + kShard0 + "/", 0) == 0);
    CHECK(path.substr(path.rfind('/') + 1) == seq + "-" + seq + ".json");
    const json& record = files[0].second;
    CheckInvocationRecord(record, seq, f.Batches().at(0).request_id);
    const json& payload = record["payload"]["Records"];
    REQUIRE(payload.size() == 1);
    CHECK(payload[0]["kinesis"]["sequenceNumber"] == seq);
    CHECK(payload[0]["kinesis"]["data"] == "ZmFpbA==");  // base64 of "fail"
  }

  f.ExpectBatchCountStays(1);
  CHECK(f.Count("k") == 0);
}

}  // namespace
}  // namespace sluice::poller::testing
