// What a failing batch does: function errors (thrown, timed out, crashed) are retried after an
// exponential backoff on the clock until MaximumRetryAttempts, bisection isolates a poison record
// without spending retries, records older than MaximumRecordAgeInSeconds are discarded before an
// attempt, and ReportBatchItemFailures moves the checkpoint to just before the lowest failure.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;
using Records = std::vector<std::pair<std::string, std::string>>;

// The one invocation record written under `dir`, once it is there.
json WaitForOneFailureFile(PollerFixture& f, const std::string& dir) {
  f.WaitUntil([&] { return !f.JsonFilesUnder(dir).empty(); }, "a failure record in " + dir);
  const auto files = f.JsonFilesUnder(dir);
  REQUIRE(files.size() == 1);
  return files.front().second;
}

TEST_CASE("a function error is retried after a backoff on the clock and then discarded") {
  PollerFixture f;
  const std::string dlq = f.Path("dlq");
  const std::string seq = f.Put("k", "fail");
  const std::string uuid =
      f.Attach({{"MaximumRetryAttempts", 2}, {"DestinationConfig", OnFailure("file://" + dlq)}});
  f.WaitForBatches(1);

  for (int retry = 1; retry <= 2; ++retry) {
    f.WaitUntil([&] { return f.StatusOf(uuid).retries == static_cast<uint64_t>(retry); },
                Numbered("retry ", retry));
    // The n-th wait is 1 s x 2^(n-1), +-20%: nothing happens in real time, nor before 80% of it.
    const auto least = std::chrono::milliseconds(kBackoffInitial) * (1 << (retry - 1)) * 8 / 10;
    f.clock().Advance(least - std::chrono::milliseconds(100));
    f.ExpectBatchCountStays(static_cast<size_t>(retry));
    f.AdvanceUntil(
        std::chrono::milliseconds(100),
        [&] { return f.Batches().size() == static_cast<size_t>(retry) + 1; },
        Numbered("invoke ", retry + 1));
  }

  // MaximumRetryAttempts 2: 3 invokes, then RetryAttemptsExhausted, at once.
  const json record = WaitForOneFailureFile(f, dlq);
  CHECK(record["requestContext"]["condition"] == "RetryAttemptsExhausted");
  CHECK(record["requestContext"]["approximateInvokeCount"] == 3);
  CHECK(record["requestContext"]["requestId"] == f.Batches().back().request_id);
  CHECK(record["responseContext"]["functionError"] == "Unhandled");
  CHECK(record["KinesisBatchInfo"]["startSequenceNumber"] == seq);
  CHECK(record["KinesisBatchInfo"]["endSequenceNumber"] == seq);
  f.WaitForPosition(uuid, seq);
  f.ExpectBatchCountStays(3);
  CHECK(f.Count("k") == 0);
}

TEST_CASE("a timeout and a crash are function errors") {
  PollerFixtureOptions options;
  options.function_timeout = std::chrono::milliseconds(1000);
  PollerFixture f(options);
  const std::string dlq = f.Path("dlq");
  std::string command;
  SECTION("timeout") {
    command = "timeout";
  }
  SECTION("crash") {
    command = "crash";
  }
  const std::string seq = f.Put("k", command);
  const std::string uuid =
      f.Attach({{"MaximumRetryAttempts", 1}, {"DestinationConfig", OnFailure("file://" + dlq)}});
  f.WaitForBatches(1);
  f.AdvanceUntil(
      std::chrono::milliseconds(100), [&] { return f.Batches().size() == 2; }, "the retry");

  const json record = WaitForOneFailureFile(f, dlq);
  CHECK(record["requestContext"]["condition"] == "RetryAttemptsExhausted");
  CHECK(record["requestContext"]["approximateInvokeCount"] == 2);
  CHECK(record["responseContext"]["functionError"] == "Unhandled");
  f.WaitForPosition(uuid, seq);
  f.ExpectBatchCountStays(2);
  CHECK(f.Count("k") == 0);
}

TEST_CASE("bisection isolates a poison record and spends no retries") {
  PollerFixture f;
  const std::string dlq = f.Path("dlq");
  Records records;
  for (int i = 0; i < 8; ++i) {
    records.emplace_back(Numbered("k", i), Numbered(i == 5 ? "fail r" : "r", i));
  }
  const Strings seqs = f.Put(records);
  // One retry: the splits leave it to the poison record alone.
  const std::string uuid = f.Attach({{"BatchSize", 8},
                                     {"BisectBatchOnFunctionError", true},
                                     {"MaximumRetryAttempts", 1},
                                     {"DestinationConfig", OnFailure("file://" + dlq)}});
  f.AdvanceUntil(
      std::chrono::milliseconds(100), [&] { return f.Position(uuid) == seqs.back(); },
      "every record to be done");

  const auto range = [&](size_t from, size_t to) {
    return Strings(seqs.begin() + from, seqs.begin() + to);
  };
  std::vector<Strings> invoked;
  for (const SeenBatch& batch : f.Batches()) {
    invoked.push_back(batch.Seqs());
  }
  CHECK(invoked == std::vector<Strings>{range(0, 8), range(0, 4), range(4, 8), range(4, 6),
                                        range(4, 5), range(5, 6), range(5, 6), range(6, 8)});
  const json record = WaitForOneFailureFile(f, dlq);
  CHECK(record["KinesisBatchInfo"]["startSequenceNumber"] == seqs[5]);
  CHECK(record["KinesisBatchInfo"]["endSequenceNumber"] == seqs[5]);
  CHECK(record["KinesisBatchInfo"]["batchSize"] == 1);
  for (int i = 0; i < 8; ++i) {
    CHECK(f.Count(Numbered("k", i)) == (i == 5 ? 0 : 1));
  }
  const ShardStatus status = f.StatusOf(uuid);
  CHECK(status.retries == 1);
  CHECK(status.bisections == 3);
}

TEST_CASE("records older than MaximumRecordAgeInSeconds are discarded before an attempt") {
  PollerFixture f;
  const std::string dlq = f.Path("dlq");
  const std::string failing = f.Put("k0", "fail");
  const std::string uuid = f.Attach(
      {{"MaximumRecordAgeInSeconds", 60}, {"DestinationConfig", OnFailure("file://" + dlq)}});
  f.WaitForBatches(1);
  // Queued behind the failing batch; it will be as old as the first one.
  const std::string waiting = f.Put("k1", "r1");

  f.clock().Advance(std::chrono::seconds(61));
  f.AdvanceUntil(
      std::chrono::milliseconds(500), [&] { return f.Position(uuid) == waiting; },
      "both records to be discarded");
  // One file per discard, named by sequence numbers: the retried record's comes first.
  const auto files = f.JsonFilesUnder(dlq);
  REQUIRE(files.size() == 2);
  const json& retried = files[0].second;
  const json& never_invoked = files[1].second;
  for (const json* record : {&retried, &never_invoked}) {
    CHECK((*record)["requestContext"]["condition"] == "RecordAgeExceeded");
    CHECK_FALSE(record->contains("responseContext"));
  }
  CHECK(retried["KinesisBatchInfo"]["startSequenceNumber"] == failing);
  CHECK(retried["requestContext"]["approximateInvokeCount"] == 1);
  CHECK(never_invoked["KinesisBatchInfo"]["startSequenceNumber"] == waiting);
  f.ExpectBatchCountStays(1);
  CHECK(f.Count("k0") == 0);
  CHECK(f.Count("k1") == 0);
}

TEST_CASE("ReportBatchItemFailures checkpoints before the lowest failed record") {
  PollerFixture f;

  SECTION("records before it commit once; it and the rest are retried") {
    f.SetSwitch("gate");
    const Strings seqs = f.Put({{"k0", "r0"},
                                {"k1", "r1"},
                                {"k2", "partial-while:gate r2"},
                                {"k3", "r3"},
                                {"k4", "partial-while:gate r4"},
                                {"k5", "r5"}});
    const std::string uuid = f.Attach({{"FunctionResponseTypes", {"ReportBatchItemFailures"}}});
    f.WaitForPosition(uuid, seqs[1]);
    CHECK(f.Count("k0") == 1);
    CHECK(f.Count("k1") == 1);
    for (const char* key : {"k2", "k3", "k4", "k5"}) {
      CHECK(f.Count(key) == 0);
    }

    f.ClearSwitch("gate");
    f.AdvanceUntil(
        std::chrono::milliseconds(100), [&] { return f.Position(uuid) == seqs.back(); },
        "the retry of the failed records");
    const std::vector<SeenBatch> batches = f.Batches();
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].Seqs() == seqs);
    CHECK(batches[1].Seqs() == Strings(seqs.begin() + 2, seqs.end()));
    for (const char* key : {"k0", "k1", "k2", "k3", "k4", "k5"}) {
      CHECK(f.Count(key) == 1);
    }
  }

  SECTION("records still failing when retries run out are discarded alone") {
    const std::string dlq = f.Path("dlq");
    const Strings seqs = f.Put({{"k0", "r0"}, {"k1", "r1"}, {"k2", "partial r2"}});
    const std::string uuid = f.Attach({{"FunctionResponseTypes", {"ReportBatchItemFailures"}},
                                       {"MaximumRetryAttempts", 1},
                                       {"DestinationConfig", OnFailure("file://" + dlq)}});
    f.WaitForBatches(1);
    f.AdvanceUntil(
        std::chrono::milliseconds(100), [&] { return f.Position(uuid) == seqs.back(); },
        "the failing record to be retried and discarded");
    const std::vector<SeenBatch> batches = f.Batches();
    REQUIRE(batches.size() == 2);
    CHECK(batches[0].Seqs() == seqs);
    CHECK(batches[1].Seqs() == Strings{seqs[2]});
    const json record = WaitForOneFailureFile(f, dlq);
    CHECK(record["requestContext"]["approximateInvokeCount"] == 2);
    CHECK(record["responseContext"]["functionError"].is_null());
    CHECK(record["KinesisBatchInfo"]["startSequenceNumber"] == seqs[2]);
    CHECK(record["KinesisBatchInfo"]["endSequenceNumber"] == seqs[2]);
    CHECK(record["KinesisBatchInfo"]["batchSize"] == 1);
    CHECK(f.Count("k0") == 1);
    CHECK(f.Count("k1") == 1);
    CHECK(f.Count("k2") == 0);
  }

  SECTION("an empty or unknown identifier fails the whole batch") {
    std::string command;
    SECTION("empty") {
      command = "bad-id";
    }
    SECTION("unknown") {
      command = "unknown-id";
    }
    const std::string dlq = f.Path("dlq");
    const Strings seqs = f.Put({{"k0", "r0"}, {"k1", command + " r1"}, {"k2", "r2"}});
    const std::string uuid = f.Attach({{"FunctionResponseTypes", {"ReportBatchItemFailures"}},
                                       {"MaximumRetryAttempts", 0},
                                       {"DestinationConfig", OnFailure("file://" + dlq)}});
    const json record = WaitForOneFailureFile(f, dlq);
    CHECK(record["KinesisBatchInfo"]["startSequenceNumber"] == seqs.front());
    CHECK(record["KinesisBatchInfo"]["endSequenceNumber"] == seqs.back());
    CHECK(record["KinesisBatchInfo"]["batchSize"] == 3);
    // The function succeeded; its answer was malformed.
    CHECK(record["responseContext"]["functionError"].is_null());
    f.WaitForPosition(uuid, seqs.back());
    f.ExpectBatchCountStays(1);
    for (const char* key : {"k0", "k1", "k2"}) {
      CHECK(f.Count(key) == 0);
    }
  }
}

}  // namespace
}  // namespace sluice::poller::testing
