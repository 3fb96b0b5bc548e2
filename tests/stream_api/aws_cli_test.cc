// The real `sluice serve` with real AWS clients: the aws CLI v2 (/usr/bin/aws) and boto3.
// Every CLI call is a real process that signs its request, serializes JSON 1.1 and parses the
// answer with botocore, so these tests check what users of those tools will see.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "tests/stream_api/api_test_util.h"
#include "tests/support/kinesis_http.h"
#include "tests/support/run_command.h"
#include "tests/support/sluice_server.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sluice::Base64Decode;
using sluice::Base64Encode;
using namespace sluice::testing;

namespace {

// The aws CLI v2 against one server, in a clean environment: dummy credentials, no config or
// credentials files, UTC timestamps, no pager, no retries (a failure shows at once).
class AwsCli {
 public:
  explicit AwsCli(const SluiceServer& server)
      : port_(server.port()), home_(server.temp_dir() + "/aws-home") {
    fs::create_directories(home_);
  }

  CommandResult Run(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = {"/usr/bin/env",
                                     "-i",
                                     "PATH=/usr/bin:/bin",
                                     "HOME=" + home_,
                                     "TZ=UTC",
                                     "LANG=C.UTF-8",
                                     "AWS_ACCESS_KEY_ID=AKIDSLUICETEST",
                                     "AWS_SECRET_ACCESS_KEY=sluice-test-secret",
                                     "AWS_DEFAULT_REGION=us-east-1",
                                     "AWS_CONFIG_FILE=/dev/null",
                                     "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                                     "AWS_PAGER=",
                                     "AWS_MAX_ATTEMPTS=1",
                                     "AWS_EC2_METADATA_DISABLED=true",
                                     AWS_BIN,
                                     "--endpoint-url",
                                     "http://127.0.0.1:" + std::to_string(port_),
                                     "--output",
                                     "json",
                                     "--no-cli-pager",
                                     "kinesis"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  // Runs a command that must succeed; its JSON output ({} when it prints nothing).
  json Json(const std::vector<std::string>& args) const {
    const CommandResult r = Run(args);
    std::string command = "aws kinesis";
    for (const std::string& a : args) {
      command += " " + (a.size() > 200 ? a.substr(0, 200) + "..." : a);
    }
    if (r.exit_code != 0) {
      throw std::runtime_error(command + " exited " + std::to_string(r.exit_code) +
                               "\nstderr: " + r.err + "\nstdout: " + r.out);
    }
    if (r.out.find_first_not_of(" \r\n\t") == std::string::npos) {
      return json::object();
    }
    json out = json::parse(r.out, nullptr, false);
    if (out.is_discarded()) {
      throw std::runtime_error(command + " printed something that is not JSON: " + r.out);
    }
    return out;
  }

 private:
  uint16_t port_;
  std::string home_;
};

std::string Decode(const json& base64) {
  std::string out;
  if (!base64.is_string() || !Base64Decode(base64.get<std::string>(), &out)) {
    throw std::runtime_error("not base64: " + base64.dump());
  }
  return out;
}

std::string AllBytes() {
  std::string bytes(256, '\0');
  for (int i = 0; i < 256; ++i) {
    bytes[i] = static_cast<char>(i);
  }
  return bytes;
}

// A record the test put, and where the server said it went.
struct Put {
  int shard;
  std::string partition_key;
  std::string data;
  std::string sequence_number;
};

// Checks a GetRecords answer (aws CLI JSON) against the records expected in it, in order.
void CheckRecords(const json& answer, const std::vector<Put>& expected, int64_t not_before_ms,
                  int64_t not_after_ms) {
  INFO("GetRecords answer: " << answer.dump().substr(0, 3000));
  REQUIRE(answer.contains("Records"));
  const json& records = answer["Records"];
  REQUIRE(records.size() == expected.size());
  unsigned __int128 previous = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("record " << i);
    CHECK(records[i].at("PartitionKey") == expected[i].partition_key);
    CHECK(Decode(records[i].at("Data")) == expected[i].data);
    if (!expected[i].sequence_number.empty()) {
      CHECK(records[i].at("SequenceNumber") == expected[i].sequence_number);
    }
    const unsigned __int128 number = ParseU128(records[i].at("SequenceNumber").get<std::string>());
    CHECK(number > previous);  // strictly increasing as 128-bit numbers
    previous = number;
    const int64_t arrival = ParseIsoMs(records[i].at("ApproximateArrivalTimestamp"));
    CHECK(arrival >= not_before_ms - 1000);
    CHECK(arrival <= not_after_ms + 1000);
  }
  REQUIRE(answer.contains("MillisBehindLatest"));
  CHECK(answer["MillisBehindLatest"].is_number_integer());
  CHECK(answer["MillisBehindLatest"].get<int64_t>() >= 0);
}

std::vector<Put> OfShard(const std::vector<Put>& puts, int shard) {
  std::vector<Put> out;
  for (const Put& p : puts) {
    if (p.shard == shard) {
      out.push_back(p);
    }
  }
  return out;
}

json ExpectedShard(int index, const std::string& start, const std::string& end) {
  return {{"ShardId", ShardId(index)},
          {"HashKeyRange", {{"StartingHashKey", start}, {"EndingHashKey", end}}}};
}

// Checks a Shard of DescribeStream/ListShards: id, exact hash key range, parents, and whether
// it is closed (EndingSequenceNumber present) or open.
void CheckShard(const json& shard, int index, const std::string& start, const std::string& end,
                const std::string& parent, const std::string& adjacent_parent, bool closed) {
  INFO("shard: " << shard.dump());
  CHECK(shard.at("ShardId") == ShardId(index));
  CHECK(shard.at("HashKeyRange").at("StartingHashKey") == start);
  CHECK(shard.at("HashKeyRange").at("EndingHashKey") == end);
  if (parent.empty()) {
    CHECK_FALSE(shard.contains("ParentShardId"));
  } else {
    CHECK(shard.value("ParentShardId", "") == parent);
  }
  if (adjacent_parent.empty()) {
    CHECK_FALSE(shard.contains("AdjacentParentShardId"));
  } else {
    CHECK(shard.value("AdjacentParentShardId", "") == adjacent_parent);
  }
  const json& range = shard.at("SequenceNumberRange");
  REQUIRE(range.contains("StartingSequenceNumber"));
  const unsigned __int128 first = ParseU128(range["StartingSequenceNumber"].get<std::string>());
  CHECK(range.contains("EndingSequenceNumber") == closed);
  if (closed && range.contains("EndingSequenceNumber")) {
    CHECK(ParseU128(range["EndingSequenceNumber"].get<std::string>()) > first);
  }
}

}  // namespace

TEST_CASE(
    "aws CLI: create-stream, then describe-stream, describe-stream-summary, list-streams "
    "and list-shards show it exactly",
    "[cli]") {
  SluiceServer server;
  AwsCli aws(server);
  KinesisClient http(server.port());
  const int64_t before = UnixMs();
  CHECK(aws.Json({"create-stream", "--stream-name", "cli-stream", "--shard-count", "4"}) ==
        json::object());
  const int64_t after = UnixMs();
  http.Ok("CreateStream", {{"StreamName", "another.stream_1"}, {"ShardCount", 1}});

  json describe, summary, streams, shards;
  RunParallel({
      // --no-paginate: the CLI's paginators drop HasMoreShards and HasMoreStreams.
      [&] {
        describe = aws.Json({"describe-stream", "--stream-name", "cli-stream", "--no-paginate"});
      },
      [&] {
        summary = aws.Json({"describe-stream-summary", "--stream-name", "cli-stream"});
      },
      [&] {
        streams = aws.Json({"list-streams", "--no-paginate"});
      },
      [&] {
        shards = aws.Json({"list-shards", "--stream-name", "cli-stream"});
      },
  });

  INFO("describe-stream: " << describe.dump());
  const json& d = describe.at("StreamDescription");
  CHECK(d.at("StreamName") == "cli-stream");
  CHECK(d.at("StreamARN") == "arn:aws:kinesis:us-east-1:000000000000:stream/cli-stream");
  CHECK(d.at("StreamStatus") == "ACTIVE");
  CHECK(d.at("RetentionPeriodHours") == 24);
  CHECK(d.at("HasMoreShards") == false);
  const int64_t created = ParseIsoMs(d.at("StreamCreationTimestamp"));
  CHECK(created >= before - 1000);
  CHECK(created <= after + 1000);
  REQUIRE(d.at("Shards").size() == 4);
  for (int i = 0; i < 4; ++i) {
    CheckShard(d["Shards"][i], i, kFourShardStart[i], kFourShardEnd[i], "", "", false);
  }

  INFO("describe-stream-summary: " << summary.dump());
  const json& s = summary.at("StreamDescriptionSummary");
  CHECK(s.at("StreamName") == "cli-stream");
  CHECK(s.at("StreamARN") == d.at("StreamARN"));
  CHECK(s.at("StreamStatus") == "ACTIVE");
  CHECK(s.at("RetentionPeriodHours") == 24);
  CHECK(s.at("OpenShardCount") == 4);
  CHECK(s.at("StreamCreationTimestamp") == d.at("StreamCreationTimestamp"));

  INFO("list-streams: " << streams.dump());
  CHECK(streams.at("StreamNames") == json::array({"another.stream_1", "cli-stream"}));
  CHECK(streams.value("HasMoreStreams", true) == false);

  INFO("list-shards: " << shards.dump());
  CHECK(shards.at("Shards") == d.at("Shards"));
}

TEST_CASE(
    "aws CLI: put-record and put-records route by MD5 and ExplicitHashKey, and "
    "get-records gives every byte back in order",
    "[cli]") {
  SluiceServer server;
  AwsCli aws(server);
  KinesisClient http(server.port());
  http.Ok("CreateStream", {{"StreamName", "route"}, {"ShardCount", 4}});
  const int64_t t0 = UnixMs();

  // put-record: the MD5 vectors of wire-formats.md §2.2, one per shard, in parallel.
  std::vector<Put> singles = {{0, "a", AllBytes(), ""},
                              {1, "hello", std::string("\x00\x01\x02\xff", 4), ""},
                              {3, "partitionKey-0", "hello, world\n", ""}};
  std::vector<json> single_out(singles.size());
  std::vector<std::function<void()>> jobs;
  for (size_t i = 0; i < singles.size(); ++i) {
    jobs.push_back([&, i] {
      single_out[i] = aws.Json({"put-record", "--stream-name", "route", "--partition-key",
                                singles[i].partition_key, "--data", Base64Encode(singles[i].data),
                                "--cli-binary-format", "base64"});
    });
  }
  RunParallel(jobs);
  for (size_t i = 0; i < singles.size(); ++i) {
    INFO("put-record " << singles[i].partition_key << ": " << single_out[i].dump());
    CHECK(single_out[i].at("ShardId") == ShardId(singles[i].shard));
    singles[i].sequence_number = single_out[i].at("SequenceNumber").get<std::string>();
    CHECK(ParseU128(singles[i].sequence_number) > 0);
  }
  // The base64 of 00 01 02 ff, written out, so a symmetric encoder bug cannot hide.
  CHECK(Base64Encode(singles[1].data) == "AAEC/w==");

  // put-records: both ends of every shard's hash key range by ExplicitHashKey, then MD5 keys.
  std::mt19937_64 rng(7);
  std::vector<Put> batch;
  json records = json::array();
  for (int i = 0; i < 4; ++i) {
    for (const char* key : {kFourShardStart[i], kFourShardEnd[i]}) {
      batch.push_back({i, std::string("ehk-") + key, RandomBytes(rng, 100), ""});
      records.push_back({{"Data", Base64Encode(batch.back().data)},
                         {"PartitionKey", batch.back().partition_key},
                         {"ExplicitHashKey", key}});
    }
  }
  for (const auto& [shard, key] : std::vector<std::pair<int, std::string>>{
           {0, "a"}, {1, "hello"}, {3, "partitionKey-0"}, {0, "a"}}) {
    batch.push_back({shard, key, RandomBytes(rng, 1 + rng() % 3000), ""});
    records.push_back({{"Data", Base64Encode(batch.back().data)}, {"PartitionKey", key}});
  }
  const json put = aws.Json({"put-records", "--stream-name", "route", "--records", records.dump(),
                             "--cli-binary-format", "base64"});
  INFO("put-records: " << put.dump());
  CHECK(put.value("FailedRecordCount", -1) == 0);
  REQUIRE(put.at("Records").size() == batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    INFO("batch record " << i);
    CHECK(put["Records"][i].at("ShardId") == ShardId(batch[i].shard));
    CHECK_FALSE(put["Records"][i].contains("ErrorCode"));
    batch[i].sequence_number = put["Records"][i].at("SequenceNumber").get<std::string>();
  }
  const int64_t t1 = UnixMs();

  // Read every shard from TRIM_HORIZON with the CLI, the four in parallel.
  json answers[4];
  jobs.clear();
  for (int s = 0; s < 4; ++s) {
    jobs.push_back([&, s] {
      const json it = aws.Json({"get-shard-iterator", "--stream-name", "route", "--shard-id",
                                ShardId(s), "--shard-iterator-type", "TRIM_HORIZON"});
      answers[s] =
          aws.Json({"get-records", "--shard-iterator", it.at("ShardIterator").get<std::string>()});
    });
  }
  RunParallel(jobs);
  std::vector<Put> all = singles;
  all.insert(all.end(), batch.begin(), batch.end());
  for (int s = 0; s < 4; ++s) {
    INFO("shard " << s);
    CheckRecords(answers[s], OfShard(all, s), t0, t1);
    CHECK(answers[s]["MillisBehindLatest"] == 0);            // read to the end
    CHECK(answers[s].value("NextShardIterator", "") != "");  // an open shard goes on
  }
}

TEST_CASE(
    "aws CLI: get-shard-iterator AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, AT_TIMESTAMP "
    "and LATEST start where AWS starts",
    "[cli]") {
  SluiceServer server;
  AwsCli aws(server);
  KinesisClient http(server.port());
  http.Ok("CreateStream", {{"StreamName", "iter"}, {"ShardCount", 1}});
  std::vector<Put> puts;
  auto put = [&](const std::string& data) {
    const json out = http.Ok(
        "PutRecord", {{"StreamName", "iter"}, {"PartitionKey", "k"}, {"Data", Base64Encode(data)}});
    puts.push_back({0, "k", data, out.at("SequenceNumber").get<std::string>()});
  };
  const int64_t t0 = UnixMs();
  put("r0");
  put("r1");
  put("r2");
  // The CLI sends AT_TIMESTAMP in whole seconds: r3 must arrive in a later second than r2.
  const int64_t boundary_ms = (UnixMs() / 1000 + 1) * 1000;
  while (UnixMs() < boundary_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  put("r3");
  put("r4");
  {
    const std::vector<ReadRecord> read = ReadWholeShard(http, "iter", ShardId(0));
    REQUIRE(read.size() == 5);
    REQUIRE(read[2].arrival_seconds * 1000 < static_cast<double>(boundary_ms));
    REQUIRE(read[3].arrival_seconds * 1000 >= static_cast<double>(boundary_ms));
  }

  const std::vector<std::vector<std::string>> iterator_args = {
      {"--shard-iterator-type", "AT_SEQUENCE_NUMBER", "--starting-sequence-number",
       puts[1].sequence_number},
      {"--shard-iterator-type", "AFTER_SEQUENCE_NUMBER", "--starting-sequence-number",
       puts[1].sequence_number},
      {"--shard-iterator-type", "AT_TIMESTAMP", "--timestamp", std::to_string(boundary_ms / 1000)},
      {"--shard-iterator-type", "LATEST"},
  };
  std::string iterators[4];
  std::vector<std::function<void()>> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back([&, i] {
      std::vector<std::string> args = {"get-shard-iterator", "--stream-name", "iter", "--shard-id",
                                       ShardId(0)};
      args.insert(args.end(), iterator_args[i].begin(), iterator_args[i].end());
      iterators[i] = aws.Json(args).at("ShardIterator").get<std::string>();
    });
  }
  RunParallel(jobs);
  put("r5");  // after LATEST was taken: the only record that iterator sees
  const int64_t t1 = UnixMs();
  json answers[4];
  jobs.clear();
  for (int i = 0; i < 4; ++i) {
    jobs.push_back([&, i] {
      answers[i] = aws.Json({"get-records", "--shard-iterator", iterators[i]});
    });
  }
  RunParallel(jobs);
  auto from = [&](size_t first) { return std::vector<Put>(puts.begin() + first, puts.end()); };
  {
    INFO("AT_SEQUENCE_NUMBER starts at that record");
    CheckRecords(answers[0], from(1), t0, t1);
  }
  {
    INFO("AFTER_SEQUENCE_NUMBER starts after it");
    CheckRecords(answers[1], from(2), t0, t1);
  }
  {
    INFO("AT_TIMESTAMP starts at the first record at or after it");
    CheckRecords(answers[2], from(3), t0, t1);
  }
  {
    INFO("LATEST sees only what was put after it");
    CheckRecords(answers[3], from(5), t0, t1);
  }
  for (const json& answer : answers) {
    CHECK(answer.value("MillisBehindLatest", -1) == 0);
    CHECK(answer.value("NextShardIterator", "") != "");
  }
}

TEST_CASE(
    "aws CLI: split-shard closes the parent, opens two children with the right ranges, "
    "merge-shards joins them",
    "[cli]") {
  SluiceServer server;
  AwsCli aws(server);
  KinesisClient http(server.port());
  http.Ok("CreateStream", {{"StreamName", "reshard"}, {"ShardCount", 2}});
  const std::string kHalf = "170141183460469231731687303715884105728";     // 2^127
  const std::string kHalfEnd = "170141183460469231731687303715884105727";  // 2^127 - 1
  const std::string kQuarter = "85070591730234615865843651857942052864";   // 2^126
  const std::string kQuarterEnd = "85070591730234615865843651857942052863";
  auto put = [&](const std::string& key, const std::string& data,
                 const std::string& explicit_hash_key = "") {
    json body = {{"StreamName", "reshard"}, {"PartitionKey", key}, {"Data", Base64Encode(data)}};
    if (!explicit_hash_key.empty()) {
      body["ExplicitHashKey"] = explicit_hash_key;
    }
    return http.Ok("PutRecord", body);
  };
  std::vector<std::string> parent_records;
  for (int i = 0; i < 3; ++i) {
    const json out = put("a", "before split " + std::to_string(i));  // MD5("a") is in shard 0
    REQUIRE(out.at("ShardId") == ShardId(0));
    parent_records.push_back(out.at("SequenceNumber").get<std::string>());
  }
  REQUIRE(put("b", "in shard 1", kHalf).at("ShardId") == ShardId(1));

  CHECK(aws.Json({"split-shard", "--stream-name", "reshard", "--shard-to-split", ShardId(0),
                  "--new-starting-hash-key", kQuarter}) == json::object());
  const json described = aws.Json({"describe-stream", "--stream-name", "reshard"});
  INFO("describe-stream after split: " << described.dump());
  const json& shards = described.at("StreamDescription").at("Shards");
  REQUIRE(shards.size() == 4);
  CheckShard(shards[0], 0, "0", kHalfEnd, "", "", /*closed=*/true);
  CheckShard(shards[1], 1, kHalf, kMaxHashKey, "", "", false);
  CheckShard(shards[2], 2, "0", kQuarterEnd, ShardId(0), "", false);
  CheckShard(shards[3], 3, kQuarter, kHalfEnd, ShardId(0), "", false);
  const unsigned __int128 parent_end =
      ParseU128(shards[0]["SequenceNumberRange"].value("EndingSequenceNumber", "0"));
  for (const std::string& seq : parent_records) {
    CHECK(ParseU128(seq) < parent_end);
  }

  // New records go to the children.
  CHECK(put("a", "after split").at("ShardId") == ShardId(2));
  CHECK(put("q", "upper child", kQuarter).at("ShardId") == ShardId(3));

  // Reading the parent to its end: its records, then no NextShardIterator and the children.
  std::string iterator = aws.Json({"get-shard-iterator", "--stream-name", "reshard", "--shard-id",
                                   ShardId(0), "--shard-iterator-type", "TRIM_HORIZON"})
                             .at("ShardIterator")
                             .get<std::string>();
  std::vector<std::string> read;
  json last;
  for (int call = 0; call < 3 && !iterator.empty(); ++call) {
    last = aws.Json({"get-records", "--shard-iterator", iterator});
    for (const json& r : last.at("Records")) {
      read.push_back(r.at("SequenceNumber").get<std::string>());
    }
    iterator = last.value("NextShardIterator", "");
  }
  INFO("last get-records of the parent: " << last.dump());
  CHECK(read == parent_records);
  CHECK_FALSE(last.contains("NextShardIterator"));
  CHECK(last.contains("MillisBehindLatest"));
  json children = json::array();
  for (int i : {2, 3}) {
    json child = ExpectedShard(i, i == 2 ? "0" : kQuarter, i == 2 ? kQuarterEnd : kHalfEnd);
    child["ParentShards"] = {ShardId(0)};
    children.push_back(child);
  }
  CHECK(last.value("ChildShards", json()) == children);

  CHECK(aws.Json({"merge-shards", "--stream-name", "reshard", "--shard-to-merge", ShardId(2),
                  "--adjacent-shard-to-merge", ShardId(3)}) == json::object());
  const json listed = aws.Json({"list-shards", "--stream-name", "reshard"});
  INFO("list-shards after merge: " << listed.dump());
  REQUIRE(listed.at("Shards").size() == 5);
  CheckShard(listed["Shards"][0], 0, "0", kHalfEnd, "", "", true);
  CheckShard(listed["Shards"][1], 1, kHalf, kMaxHashKey, "", "", false);
  CheckShard(listed["Shards"][2], 2, "0", kQuarterEnd, ShardId(0), "", true);
  CheckShard(listed["Shards"][3], 3, kQuarter, kHalfEnd, ShardId(0), "", true);
  CheckShard(listed["Shards"][4], 4, "0", kHalfEnd, ShardId(2), ShardId(3), false);
  CHECK(put("a", "after merge").at("ShardId") == ShardId(4));
  CHECK(http.Ok("DescribeStreamSummary", {{"StreamName", "reshard"}})
            .at("StreamDescriptionSummary")
            .at("OpenShardCount") == 2);

  // Each merged parent, read to its end, names the one child with both parents.
  json merged_child = ExpectedShard(4, "0", kHalfEnd);
  merged_child["ParentShards"] = {ShardId(2), ShardId(3)};
  for (int parent : {2, 3}) {
    INFO("parent " << parent);
    std::string it = http.Ok("GetShardIterator", {{"StreamName", "reshard"},
                                                  {"ShardId", ShardId(parent)},
                                                  {"ShardIteratorType", "TRIM_HORIZON"}})
                         .at("ShardIterator");
    json out;
    size_t count = 0;
    for (int call = 0; call < 5 && !it.empty(); ++call) {
      out = http.Ok("GetRecords", {{"ShardIterator", it}});
      count += out.at("Records").size();
      it = out.contains("NextShardIterator") && out["NextShardIterator"].is_string()
               ? out["NextShardIterator"].get<std::string>()
               : "";
    }
    INFO("last GetRecords: " << out.dump());
    CHECK(count == 1);
    CHECK(it.empty());
    CHECK(out.value("ChildShards", json()) == json::array({merged_child}));
  }
}

TEST_CASE(
    "aws CLI: retention up and down, delete-stream, and a missing stream's "
    "ResourceNotFoundException",
    "[cli]") {
  SluiceServer server;
  AwsCli aws(server);
  KinesisClient http(server.port());
  http.Ok("CreateStream", {{"StreamName", "keep"}, {"ShardCount", 1}});
  auto retention = [&] {
    return http.Ok("DescribeStreamSummary", {{"StreamName", "keep"}})
        .at("StreamDescriptionSummary")
        .at("RetentionPeriodHours")
        .get<int>();
  };
  CHECK(aws.Json({"increase-stream-retention-period", "--stream-name", "keep",
                  "--retention-period-hours", "168"}) == json::object());
  CHECK(retention() == 168);
  CHECK(aws.Json({"decrease-stream-retention-period", "--stream-name", "keep",
                  "--retention-period-hours", "48"}) == json::object());
  CHECK(retention() == 48);
  // An "increase" below the current period is refused.
  const HttpReply lower = http.Call("IncreaseStreamRetentionPeriod",
                                    {{"StreamName", "keep"}, {"RetentionPeriodHours", 24}});
  CHECK(lower.status == 400);
  CHECK(lower.ErrorType() == "InvalidArgumentException");
  CHECK(retention() == 48);

  CHECK(aws.Json({"delete-stream", "--stream-name", "keep"}) == json::object());
  CHECK(http.Ok("ListStreams", json::object()).at("StreamNames") == json::array());

  const CommandResult missing = aws.Run({"describe-stream", "--stream-name", "keep"});
  INFO("stderr: " << missing.err);
  CHECK(missing.exit_code != 0);
  CHECK(missing.out.empty());
  CHECK(missing.err.find("An error occurred (ResourceNotFoundException) when calling the "
                         "DescribeStream operation") != std::string::npos);
  CHECK(missing.err.find("Stream keep under account 000000000000 not found.") != std::string::npos);
}

namespace {

// A python3 that can import boto3 (the real interpreter, not a pyenv shim), or "".
std::string PythonWithBoto3() {
  std::vector<std::string> candidates = {"/usr/bin/python3", "/usr/local/bin/python3"};
  if (const char* path = std::getenv("PATH")) {
    std::string dirs = path;
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t colon = std::min(dirs.find(':', start), dirs.size());
      if (colon > start) {
        candidates.push_back(dirs.substr(start, colon - start) + "/python3");
      }
      start = colon + 1;
    }
  }
  for (const std::string& candidate : candidates) {
    if (::access(candidate.c_str(), X_OK) != 0) {
      continue;
    }
    const CommandResult r =
        RunCommand({candidate, "-c", "import boto3, sys; print(sys.executable)"});
    if (r.exit_code == 0 && !r.out.empty()) {
      return r.out.substr(0, r.out.find('\n'));
    }
  }
  return "";
}

constexpr char kBoto3Script[] = R"PY(
import base64, json, sys
import boto3
port, stream = sys.argv[1], sys.argv[2]
kinesis = boto3.client("kinesis", endpoint_url="http://127.0.0.1:" + port,
                       region_name="us-east-1", aws_access_key_id="AKIDSLUICETEST",
                       aws_secret_access_key="sluice-test-secret")
records = [
    {"Data": bytes(range(256)), "PartitionKey": "a"},
    {"Data": b"\xff" * 1000, "PartitionKey": "hello"},
    {"Data": b"\x00\x00\x00", "PartitionKey": "partitionKey-0"},
    {"Data": bytes((i * 7 + 3) % 256 for i in range(5000)), "PartitionKey": "x",
     "ExplicitHashKey": "340282366920938463463374607431768211455"},
]
put = kinesis.put_records(StreamName=stream, Records=records)
shards = {}
for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    got = []
    while True:
        out = kinesis.get_records(ShardIterator=it)
        if "MillisBehindLatest" not in out:
            raise SystemExit("GetRecords without MillisBehindLatest")
        got += [{"seq": r["SequenceNumber"], "pk": r["PartitionKey"],
                 "data": base64.b64encode(r["Data"]).decode(),
                 "arrival": r["ApproximateArrivalTimestamp"].timestamp()} for r in out["Records"]]
        if not out["Records"] or not out.get("NextShardIterator"):
            break
        it = out["NextShardIterator"]
    shards[shard["ShardId"]] = got
sent = [base64.b64encode(r["Data"]).decode() for r in records]
print(json.dumps({"failed": put["FailedRecordCount"], "records": put["Records"],
                  "shards": shards, "sent": sent}))
)PY";

}  // namespace

TEST_CASE("boto3: put_records and get_records round-trip binary data by shard", "[cli]") {
  const std::string python = PythonWithBoto3();
  if (python.empty()) {
    WARN("no python3 with boto3 found; skipping the boto3 test");
    return;
  }
  SluiceServer server;
  KinesisClient http(server.port());
  http.Ok("CreateStream", {{"StreamName", "boto"}, {"ShardCount", 4}});
  const int64_t t0 = UnixMs();
  const CommandResult r =
      RunCommand({"/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=" + server.temp_dir(), "TZ=UTC",
                  "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
                  "AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true", python, "-c",
                  kBoto3Script, std::to_string(server.port()), "boto"});
  const int64_t t1 = UnixMs();
  INFO("python: " << python << "\nstderr: " << r.err << "\nstdout: " << r.out);
  REQUIRE(r.exit_code == 0);
  const json out = json::parse(r.out);
  CHECK(out.at("failed") == 0);
  const int expected_shard[] = {0, 1, 3, 3};
  REQUIRE(out.at("records").size() == 4);
  REQUIRE(out.at("sent").size() == 4);
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_shard;  // seq, data
  for (size_t i = 0; i < 4; ++i) {
    INFO("record " << i << ": " << out["records"][i].dump());
    CHECK(out["records"][i].at("ShardId") == ShardId(expected_shard[i]));
    by_shard[out["records"][i].at("ShardId").get<std::string>()].emplace_back(
        out["records"][i].at("SequenceNumber").get<std::string>(),
        out["sent"][i].get<std::string>());
  }
  CHECK(out["sent"][0] == Base64Encode(AllBytes()));
  for (int s = 0; s < 4; ++s) {
    INFO("shard " << s);
    const json& got = out.at("shards").at(ShardId(s));
    const auto& expected = by_shard[ShardId(s)];
    REQUIRE(got.size() == expected.size());
    // The same records read with this test's own client.
    const std::vector<ReadRecord> direct = ReadWholeShard(http, "boto", ShardId(s));
    REQUIRE(direct.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      CHECK(got[i].at("seq") == expected[i].first);
      CHECK(got[i].at("data") == expected[i].second);
      CHECK(direct[i].sequence_number == expected[i].first);
      CHECK(Base64Encode(direct[i].data) == expected[i].second);
      const double arrival_ms = got[i].at("arrival").get<double>() * 1000;
      CHECK(arrival_ms >= static_cast<double>(t0 - 1000));
      CHECK(arrival_ms <= static_cast<double>(t1 + 1000));
    }
  }
}
