// Crash safety of the real `sluice serve`: producers put records over HTTP while the server is
// killed with SIGKILL; after a restart on the same data directory every acknowledged record is
// there exactly once, with its acknowledged shard and sequence number, in order, and records
// put after the restart get higher sequence numbers than any before.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "tests/stream_api/api_test_util.h"
#include "tests/support/kinesis_http.h"
#include "tests/support/sluice_server.h"

using nlohmann::json;
using sluice::Base64Encode;
using namespace sluice::testing;

namespace {

constexpr int kShards = 4;
constexpr int kProducers = 4;
constexpr int kBatch = 10;
// A producer that is never interrupted stops here (the test then fails: the kill came too late).
constexpr int kMaxBatchesPerProducer = 2000;

struct Ack {
  std::string shard_id;
  std::string sequence_number;
};

// What one producer learned: records acknowledged, records refused in a 200 answer, and the
// records of the call in flight when the connection broke (in doubt: stored or not).
struct ProducerResult {
  std::vector<std::pair<std::string, Ack>> acked;  // data -> ack
  std::vector<std::string> refused;
  std::vector<std::string> in_doubt;
  std::string stopped_by;      // the transport error that ended it, or "" if it hit the cap
  std::string protocol_error;  // a reply that is not a valid PutRecords answer
};

// Calls acknowledged so far, across producers; the test kills the server at a threshold.
struct Progress {
  std::mutex mu;
  std::condition_variable cv;
  int acked_calls = 0;
};

void Produce(uint16_t port, const std::string& stream, const std::string& tag, int producer,
             Progress* progress, ProducerResult* result) {
  KinesisClient client(port, 20000);
  std::mt19937_64 rng(std::hash<std::string>()(tag) + static_cast<uint64_t>(producer));
  for (int b = 0; b < kMaxBatchesPerProducer; ++b) {
    json records = json::array();
    std::vector<std::string> data;
    for (int i = 0; i < kBatch; ++i) {
      // Unique per record: tag (cycle), producer, batch, index; then some binary bytes.
      data.push_back(tag + "-p" + std::to_string(producer) + "-b" + std::to_string(b) + "-r" +
                     std::to_string(i) + "|" + RandomBytes(rng, rng() % 200));
      records.push_back({{"Data", Base64Encode(data.back())},
                         {"PartitionKey", "pk-" + std::to_string(rng() % 1000)}});
    }
    const HttpReply reply =
        client.Call("PutRecords", {{"StreamName", stream}, {"Records", records}});
    if (reply.status == 0) {
      result->stopped_by = reply.error;
      result->in_doubt = data;
      return;
    }
    const json out = reply.Json();
    if (reply.status != 200 || !out.is_object() || !out.contains("Records") ||
        out["Records"].size() != data.size()) {
      result->protocol_error = reply.Describe();
      result->in_doubt = data;
      return;
    }
    for (size_t i = 0; i < data.size(); ++i) {
      const json& r = out["Records"][i];
      if (r.contains("SequenceNumber") && r["SequenceNumber"].is_string()) {
        result->acked.push_back({data[i], {r.value("ShardId", ""), r["SequenceNumber"]}});
      } else {
        result->refused.push_back(data[i]);
      }
    }
    {
      std::lock_guard<std::mutex> lock(progress->mu);
      ++progress->acked_calls;
    }
    progress->cv.notify_all();
  }
}

// Everything the test has put into the stream, over all cycles.
struct Ledger {
  std::map<std::string, Ack> acked;  // data -> ack
  std::set<std::string> in_doubt;
  std::set<std::string> refused;
};

// Reads every shard from TRIM_HORIZON and checks the ledger against it. Returns, per shard, the
// highest sequence number read.
std::map<std::string, unsigned __int128> VerifyStream(uint16_t port, const std::string& stream,
                                                      const Ledger& ledger,
                                                      size_t shard_count = kShards) {
  KinesisClient client(port);
  const json shards = client.Ok("ListShards", {{"StreamName", stream}}).at("Shards");
  REQUIRE(shards.size() == shard_count);
  std::map<std::string, std::pair<std::string, std::string>> seen;  // data -> shard, seq
  std::map<std::string, unsigned __int128> highest;
  size_t duplicates = 0, unknown = 0, out_of_order = 0;
  std::string first_problem;
  for (const json& shard : shards) {
    const std::string shard_id = shard.at("ShardId");
    const std::vector<ReadRecord> records = ReadWholeShard(client, stream, shard_id);
    unsigned __int128 previous = 0;
    for (const ReadRecord& r : records) {
      const unsigned __int128 number = ParseU128(r.sequence_number);
      if (number <= previous) {
        ++out_of_order;
        if (first_problem.empty()) {
          first_problem = "sequence numbers not increasing in " + shard_id + ": " +
                          U128ToString(previous) + " then " + r.sequence_number;
        }
      }
      previous = number;
      if (!seen.emplace(r.data, std::make_pair(shard_id, r.sequence_number)).second) {
        ++duplicates;
        if (first_problem.empty()) {
          first_problem = "record read twice: " + r.data.substr(0, r.data.find('|'));
        }
      }
      if (!ledger.acked.count(r.data) && !ledger.in_doubt.count(r.data)) {
        ++unknown;
        if (first_problem.empty()) {
          first_problem =
              "record never acknowledged nor in flight: " + r.data.substr(0, r.data.find('|')) +
              (ledger.refused.count(r.data) ? " (it was refused)" : "");
        }
      }
    }
    highest[shard_id] = previous;
  }
  size_t missing = 0, moved = 0;
  for (const auto& [data, ack] : ledger.acked) {
    auto it = seen.find(data);
    if (it == seen.end()) {
      ++missing;
      if (first_problem.empty()) {
        first_problem = "acknowledged record lost: " + data.substr(0, data.find('|')) + " (" +
                        ack.shard_id + " " + ack.sequence_number + ")";
      }
    } else if (it->second.first != ack.shard_id || it->second.second != ack.sequence_number) {
      ++moved;
      if (first_problem.empty()) {
        first_problem = "acknowledged record " + data.substr(0, data.find('|')) + " was " +
                        ack.shard_id + " " + ack.sequence_number + ", read back as " +
                        it->second.first + " " + it->second.second;
      }
    }
  }
  size_t in_doubt_kept = 0;
  for (const std::string& data : ledger.in_doubt) {
    in_doubt_kept += seen.count(data);
  }
  INFO("acknowledged " << ledger.acked.size() << ", in doubt " << ledger.in_doubt.size() << " ("
                       << in_doubt_kept << " kept), read " << seen.size());
  INFO("first problem: " << first_problem);
  CHECK(missing == 0);
  CHECK(moved == 0);
  CHECK(duplicates == 0);
  CHECK(unknown == 0);
  CHECK(out_of_order == 0);
  return highest;
}

// Runs producers until `kill_after_calls` PutRecords calls were acknowledged, then SIGKILLs the
// server while they are still putting, restarts it and checks everything put so far.
void CrashCycle(SluiceServer& server, const std::string& stream, const std::string& tag,
                int kill_after_calls, Ledger& ledger,
                std::map<std::string, unsigned __int128>& highest_before) {
  INFO("cycle " << tag << ": kill after " << kill_after_calls << " acknowledged calls");
  Progress progress;
  std::vector<ProducerResult> results(kProducers);
  std::vector<std::thread> producers;
  const uint16_t port = server.port();
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back(Produce, port, stream, tag, p, &progress, &results[p]);
  }
  bool reached;
  {
    std::unique_lock<std::mutex> lock(progress.mu);
    reached = progress.cv.wait_for(lock, std::chrono::seconds(60),
                                   [&] { return progress.acked_calls >= kill_after_calls; });
  }
  server.Kill();
  for (std::thread& t : producers) {
    t.join();
  }
  INFO("server log:\n" << server.Log());
  REQUIRE(reached);
  size_t acked_now = 0;
  for (const ProducerResult& r : results) {
    INFO("producer stopped by: " << r.stopped_by);
    CHECK(r.protocol_error == "");
    CHECK(r.stopped_by != "");  // every producer was cut off mid-load, not finished
    for (const auto& [data, ack] : r.acked) {
      // Each record after a restart is above everything its shard had before.
      auto before = highest_before.find(ack.shard_id);
      if (before != highest_before.end()) {
        CHECK(ParseU128(ack.sequence_number) > before->second);
      }
      ledger.acked.emplace(data, ack);
      ++acked_now;
    }
    ledger.in_doubt.insert(r.in_doubt.begin(), r.in_doubt.end());
    ledger.refused.insert(r.refused.begin(), r.refused.end());
  }
  CHECK(acked_now >= static_cast<size_t>(kill_after_calls) * kBatch);
  server.Restart();
  highest_before = VerifyStream(server.port(), stream, ledger);
}

void RunCrashTest(const std::string& durability, const std::vector<int>& kill_points) {
  SluiceServerOptions options;
  options.durability = durability;
  SluiceServer server(options);
  KinesisClient(server.port())
      .Ok("CreateStream", {{"StreamName", "crash"}, {"ShardCount", kShards}});
  Ledger ledger;
  std::map<std::string, unsigned __int128> highest;
  for (size_t i = 0; i < kill_points.size(); ++i) {
    CrashCycle(server, "crash", "cycle" + std::to_string(i + 1), kill_points[i], ledger, highest);
  }
  // A clean stop and start keeps everything too, and numbering still goes up.
  INFO("server log:\n" << server.Log());
  CHECK(server.Stop() == 0);
  server.Restart();
  highest = VerifyStream(server.port(), "crash", ledger);
  KinesisClient client(server.port());
  for (int i = 0; i < 20; ++i) {
    const std::string data = "after-clean-restart-" + std::to_string(i);
    const json out = client.Ok("PutRecord", {{"StreamName", "crash"},
                                             {"PartitionKey", "key" + std::to_string(i)},
                                             {"Data", Base64Encode(data)}});
    const std::string shard = out.at("ShardId");
    INFO("shard " << shard);
    CHECK(ParseU128(out.at("SequenceNumber").get<std::string>()) > highest[shard]);
    ledger.acked.emplace(data, Ack{shard, out.at("SequenceNumber")});
  }
  VerifyStream(server.port(), "crash", ledger);
  CHECK(server.Stop() == 0);
}

}  // namespace

TEST_CASE(
    "kill -9 under PutRecords load loses no acknowledged record and duplicates none "
    "(durability os)",
    "[crash]") {
  // Kill after the first acknowledged call, then in the thick of it, then later.
  RunCrashTest("os", {1, 40, 150});
}

TEST_CASE(
    "kill -9 under PutRecords load loses no acknowledged record and duplicates none "
    "(durability fsync)",
    "[crash]") {
  RunCrashTest("fsync", {1, 40});
}

TEST_CASE(
    "kill -9 under load right after SplitShard and MergeShards keeps the new shards and "
    "every acknowledged record",
    "[crash]") {
  SluiceServer server;
  KinesisClient client(server.port());
  client.Ok("CreateStream", {{"StreamName", "resharded"}, {"ShardCount", 2}});
  Progress progress;
  std::vector<ProducerResult> results(kProducers);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back(Produce, server.port(), "resharded", "reshard", p, &progress,
                           &results[p]);
  }
  // Waits until `more` calls were acknowledged after now.
  auto wait_for_more_calls = [&](int more) {
    std::unique_lock<std::mutex> lock(progress.mu);
    const int target = progress.acked_calls + more;
    return progress.cv.wait_for(lock, std::chrono::seconds(60),
                                [&] { return progress.acked_calls >= target; });
  };
  // Under load: split shard 0, then merge its children, then kill; producers put in between.
  bool reached = wait_for_more_calls(20);
  const HttpReply split =
      client.Call("SplitShard", {{"StreamName", "resharded"},
                                 {"ShardToSplit", ShardId(0)},
                                 {"NewStartingHashKey", "85070591730234615865843651857942052864"}});
  reached = reached && wait_for_more_calls(20);
  const HttpReply merge = client.Call("MergeShards", {{"StreamName", "resharded"},
                                                      {"ShardToMerge", ShardId(2)},
                                                      {"AdjacentShardToMerge", ShardId(3)}});
  reached = reached && wait_for_more_calls(20);
  server.Kill();
  for (std::thread& t : producers) {
    t.join();
  }
  INFO("server log:\n" << server.Log());
  REQUIRE(reached);
  CHECK(split.status == 200);
  CHECK(merge.status == 200);
  Ledger ledger;
  std::set<std::string> shards_written;
  for (const ProducerResult& r : results) {
    CHECK(r.protocol_error == "");
    CHECK(r.stopped_by != "");
    for (const auto& [data, ack] : r.acked) {
      ledger.acked.emplace(data, ack);
      shards_written.insert(ack.shard_id);
    }
    ledger.in_doubt.insert(r.in_doubt.begin(), r.in_doubt.end());
    ledger.refused.insert(r.refused.begin(), r.refused.end());
  }
  // The load reached the parents and the children before the kill.
  CHECK(shards_written.count(ShardId(0)) == 1);
  CHECK(shards_written.count(ShardId(4)) == 1);
  server.Restart();
  VerifyStream(server.port(), "resharded", ledger, 5);
  const json shards =
      KinesisClient(server.port()).Ok("ListShards", {{"StreamName", "resharded"}}).at("Shards");
  REQUIRE(shards.size() == 5);
  for (int i = 0; i < 5; ++i) {
    INFO("shard " << shards[i].dump());
    CHECK(shards[i].at("ShardId") == ShardId(i));
    // 0, 2 and 3 were closed by the split and the merge; 1 and 4 are open.
    CHECK(shards[i].at("SequenceNumberRange").contains("EndingSequenceNumber") ==
          (i == 0 || i == 2 || i == 3));
  }
  CHECK(shards[4].value("ParentShardId", "") == ShardId(2));
  CHECK(shards[4].value("AdjacentParentShardId", "") == ShardId(3));
}
