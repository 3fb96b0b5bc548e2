// Failure records: Lambda's invocation-record shape, and delivery into a real StreamStore and a
// directory (in a fresh temporary directory).
#include "poller/failure_record.h"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/files.h"
#include "sluice/aws_json.h"
#include "tests/unit/stream/stream_test_util.h"

namespace sluice::poller {
namespace {

using nlohmann::json;
using stream::testing::TempDir;
namespace pb = runtime::v1;

constexpr char kFirstSequence[] = "21000000000000000000000000000000000007";
constexpr char kLastSequence[] = "21000000000000000000000000000000000009";
constexpr char kStreamArn[] = "arn:aws:kinesis:us-east-1:000000000000:stream/tolls";
constexpr char kFunctionArn[] = "arn:aws:lambda:us-east-1:000000000000:function:billing";
constexpr char kMappingUuid[] = "6d1b2c3e-0f4a-4b5c-8d9e-0a1b2c3d4e5f";
constexpr int64_t k20240101Ms = 1704067200000;  // 2024-01-01T00:00:00.000Z

// Two records of shard 0, arriving at 2024-01-01T00:00:00.000Z and one second later, discarded
// after three failed invokes that raised an exception.
DiscardedBatch RetriesExhaustedBatch() {
  DiscardedBatch batch;
  batch.condition = kRetryAttemptsExhausted;
  batch.request_id = "c0ffee00-0000-4000-8000-000000000003";
  batch.approximate_invoke_count = 3;
  batch.function_arn = kFunctionArn;
  batch.function_ran = true;
  batch.status_code = 200;
  batch.executed_version = "$LATEST";
  batch.function_error = "Unhandled";
  batch.timestamp_ms = k20240101Ms + 5 * 60 * 1000;  // whole seconds: still ".000Z"
  batch.mapping_uuid = kMappingUuid;
  pb::KinesisBatch& records = batch.records;
  records.set_event_source_arn(kStreamArn);
  records.set_shard_id("shardId-000000000000");
  records.set_aws_region("us-east-1");
  records.set_invoke_identity_arn("arn:aws:iam::000000000000:role/billing");
  pb::KinesisRecord* first = records.add_records();
  first->set_data(R"({"k":"v"})");
  first->set_partition_key("car-1");
  first->set_sequence_number(kFirstSequence);
  first->set_approximate_arrival_timestamp_ms(k20240101Ms);
  pb::KinesisRecord* last = records.add_records();
  last->set_data("second");
  last->set_partition_key("car-2");
  last->set_sequence_number(kLastSequence);
  last->set_approximate_arrival_timestamp_ms(k20240101Ms + 1000);
  return batch;
}

// The regular files under `dir`, at any depth, as paths relative to it.
std::vector<std::string> FilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_directory()) {
      files.push_back(std::filesystem::relative(entry.path(), dir).string());
    }
  }
  return files;
}

json ParsedFile(const std::string& path) {
  Result<std::string> text = ReadFile(path);
  INFO(text.status().ToString());
  REQUIRE(text.ok());
  return json::parse(*text);
}

TEST_CASE("RetryAttemptsExhausted record has Lambda's shape, with responseContext") {
  const json expected = json::parse(R"({
    "requestContext": {
      "requestId": "c0ffee00-0000-4000-8000-000000000003",
      "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:billing",
      "condition": "RetryAttemptsExhausted",
      "approximateInvokeCount": 3
    },
    "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                        "functionError": "Unhandled"},
    "version": "1.0",
    "timestamp": "2024-01-01T00:05:00.000Z",
    "KinesisBatchInfo": {
      "shardId": "shardId-000000000000",
      "startSequenceNumber": "21000000000000000000000000000000000007",
      "endSequenceNumber": "21000000000000000000000000000000000009",
      "approximateArrivalOfFirstRecord": "2024-01-01T00:00:00.000Z",
      "approximateArrivalOfLastRecord": "2024-01-01T00:00:01.000Z",
      "batchSize": 2,
      "streamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"
    }
  })");
  const json record = InvocationRecord(RetriesExhaustedBatch(), /*include_payload=*/false);
  INFO(record.dump(2));
  CHECK(record == expected);
}

TEST_CASE("A malformed partial batch response gives a null functionError with status 200") {
  DiscardedBatch batch = RetriesExhaustedBatch();
  batch.function_error = std::nullopt;
  const json record = InvocationRecord(batch, /*include_payload=*/false);
  INFO(record.dump(2));
  CHECK(record["responseContext"] ==
        json::parse(R"({"statusCode": 200, "executedVersion": "$LATEST", "functionError": null})"));
  CHECK(record["responseContext"]["functionError"].is_null());
}

TEST_CASE("RecordAgeExceeded record has no responseContext") {
  DiscardedBatch batch = RetriesExhaustedBatch();
  batch.condition = kRecordAgeExceeded;
  batch.approximate_invoke_count = 1;
  batch.function_ran = false;
  batch.records.mutable_records()->DeleteSubrange(0, 1);  // only the last record is discarded
  const json expected = json::parse(R"({
    "requestContext": {
      "requestId": "c0ffee00-0000-4000-8000-000000000003",
      "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:billing",
      "condition": "RecordAgeExceeded",
      "approximateInvokeCount": 1
    },
    "version": "1.0",
    "timestamp": "2024-01-01T00:05:00.000Z",
    "KinesisBatchInfo": {
      "shardId": "shardId-000000000000",
      "startSequenceNumber": "21000000000000000000000000000000000009",
      "endSequenceNumber": "21000000000000000000000000000000000009",
      "approximateArrivalOfFirstRecord": "2024-01-01T00:00:01.000Z",
      "approximateArrivalOfLastRecord": "2024-01-01T00:00:01.000Z",
      "batchSize": 1,
      "streamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"
    }
  })");
  const json record = InvocationRecord(batch, /*include_payload=*/false);
  INFO(record.dump(2));
  CHECK(record == expected);
}

TEST_CASE("The payload holds the records as the function's Kinesis event, data in base64") {
  const DiscardedBatch batch = RetriesExhaustedBatch();
  const json with_payload = InvocationRecord(batch, /*include_payload=*/true);
  const json without_payload = InvocationRecord(batch, /*include_payload=*/false);
  INFO(with_payload.dump(2));
  CHECK_FALSE(without_payload.contains("payload"));
  REQUIRE(with_payload.contains("payload"));

  pb::Invoke invoke;
  *invoke.mutable_kinesis() = batch.records;
  CHECK(with_payload["payload"] == json::parse(aws_json::EventToJson(invoke)));
  const json& records = with_payload["payload"]["Records"];
  REQUIRE(records.size() == 2);
  CHECK(records[0]["kinesis"]["data"] == "eyJrIjoidiJ9");
  CHECK(records[0]["kinesis"]["sequenceNumber"] == kFirstSequence);
  CHECK(records[0]["kinesis"]["approximateArrivalTimestamp"] == 1704067200.0);
  CHECK(records[1]["kinesis"]["data"] == "c2Vjb25k");
  CHECK(records[1]["eventID"] == std::string("shardId-000000000000:") + kLastSequence);
  CHECK(records[1]["eventSourceARN"] == kStreamArn);

  json rest = with_payload;
  rest.erase("payload");
  CHECK(rest == without_payload);
}

struct StoreFixture {
  TempDir tmp;
  ManualClock clock;
  std::unique_ptr<stream::StreamStore> store;

  StoreFixture() {
    stream::StreamStoreOptions options;
    options.data_dir = tmp / "data";
    options.retention_check_interval_ms = 0;
    Result<std::unique_ptr<stream::StreamStore>> opened =
        stream::StreamStore::Open(options, &clock);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }
};

TEST_CASE(
    "SendToStream puts one record keyed by the shard id, holding the record without payload") {
  StoreFixture fixture;
  REQUIRE(fixture.store->CreateStream("failures", 1).ok());
  const DiscardedBatch batch = RetriesExhaustedBatch();

  const Status sent = SendToStream(fixture.store.get(), "failures", batch);
  INFO(sent.ToString());
  REQUIRE(sent.ok());

  Result<std::shared_ptr<stream::ShardLog>> shard = fixture.store->Shard("failures", 0);
  REQUIRE(shard.ok());
  Result<stream::ShardLog::ReadResult> read = (*shard)->Read(0, 10, 1 << 20);
  INFO(read.status().ToString());
  REQUIRE(read.ok());
  REQUIRE(read->records.size() == 1);
  CHECK(read->records[0].partition_key == "shardId-000000000000");
  const json stored = json::parse(read->records[0].data);
  CHECK(stored == InvocationRecord(batch, /*include_payload=*/false));
  CHECK_FALSE(stored.contains("payload"));
}

TEST_CASE("SendToStream to a missing stream is NotFound and names the stream") {
  StoreFixture fixture;
  const Status sent = SendToStream(fixture.store.get(), "gone", RetriesExhaustedBatch());
  INFO(sent.ToString());
  CHECK(sent.code() == Code::kNotFound);
  CHECK_THAT(sent.message(), Catch::Contains("stream gone"));
}

TEST_CASE("WriteToDirectory writes <uuid>/<shard>/YYYY/MM/DD/<start>-<end>.json with the payload") {
  TempDir tmp;
  ::umask(022);
  DiscardedBatch batch = RetriesExhaustedBatch();
  // The first record's arrival, not the discard time, dates the file (UTC).
  batch.records.mutable_records(0)->set_approximate_arrival_timestamp_ms(1710028799999);
  batch.timestamp_ms = 1710028799999 + 2;  // 2024-03-10
  const std::string dir = tmp / "failures/not/yet/made";

  Result<std::string> path = WriteToDirectory(dir, batch);
  INFO(path.status().ToString());
  REQUIRE(path.ok());
  CHECK(*path == dir + "/" + kMappingUuid + "/shardId-000000000000/2024/03/09/" + kFirstSequence +
                     "-" + kLastSequence + ".json");
  const json written = ParsedFile(*path);
  CHECK(written == InvocationRecord(batch, /*include_payload=*/true));
  REQUIRE(written.contains("payload"));
  CHECK(written["payload"]["Records"].size() == 2);
  struct stat st;
  REQUIRE(::stat(path->c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0644);
}

TEST_CASE(
    "WriteToDirectory of the same batch again rewrites the one file and leaves no temp file") {
  TempDir tmp;
  DiscardedBatch batch = RetriesExhaustedBatch();
  Result<std::string> first = WriteToDirectory(tmp.path(), batch);
  INFO(first.status().ToString());
  REQUIRE(first.ok());

  batch.timestamp_ms += 60 * 1000;  // sent again after a crash, a minute later
  batch.approximate_invoke_count = 4;
  Result<std::string> second = WriteToDirectory(tmp.path(), batch);
  INFO(second.status().ToString());
  REQUIRE(second.ok());

  CHECK(*second == *first);
  const json written = ParsedFile(*second);
  CHECK(written["timestamp"] == "2024-01-01T00:06:00.000Z");
  CHECK(written["requestContext"]["approximateInvokeCount"] == 4);
  const std::string relative = std::filesystem::relative(*first, tmp.path()).string();
  CHECK(FilesUnder(tmp.path()) == std::vector<std::string>{relative});
}

TEST_CASE("WriteToDirectory into an unusable directory fails and names the path") {
  TempDir tmp;
  const std::string not_a_dir = tmp / "plain-file";
  REQUIRE(WriteFileAtomically(not_a_dir, "x").ok());

  Result<std::string> path = WriteToDirectory(not_a_dir, RetriesExhaustedBatch());
  REQUIRE_FALSE(path.ok());
  INFO(path.status().ToString());
  CHECK_THAT(path.status().message(), Catch::Contains(not_a_dir + "/" + kMappingUuid));
  CHECK(FilesUnder(tmp.path()) == std::vector<std::string>{"plain-file"});
}

TEST_CASE("An empty batch or a name that would leave the directory is refused") {
  TempDir tmp;
  StoreFixture fixture;
  REQUIRE(fixture.store->CreateStream("failures", 1).ok());
  DiscardedBatch empty = RetriesExhaustedBatch();
  empty.records.clear_records();
  CHECK(SendToStream(fixture.store.get(), "failures", empty).code() == Code::kInvalidArgument);
  CHECK(WriteToDirectory(tmp.path(), empty).status().code() == Code::kInvalidArgument);

  DiscardedBatch escaping = RetriesExhaustedBatch();
  escaping.mapping_uuid = "..";
  Result<std::string> path = WriteToDirectory(tmp.path() + "/inner", escaping);
  INFO(path.status().ToString());
  CHECK(path.status().code() == Code::kInvalidArgument);
  escaping.mapping_uuid = kMappingUuid;
  escaping.records.set_shard_id("a/b");
  CHECK(WriteToDirectory(tmp.path(), escaping).status().code() == Code::kInvalidArgument);
  CHECK(FilesUnder(tmp.path()).empty());
}

}  // namespace
}  // namespace sluice::poller
