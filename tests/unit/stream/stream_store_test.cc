// StreamStore: streams on disk, routing by hash key, sequence numbers across restarts, resharding,
// deletion and retention.
#include "stream/stream_store.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "stream/hash_key.h"
#include "stream/sequence_number.h"
#include "stream_test_util.h"

namespace sluice::stream {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using testing::ListNames;
using testing::ReadAll;
using testing::TempDir;

constexpr char kStream[] = "tolls";

Uint128 Dec(const char* text) {
  const std::optional<Uint128> value = ParseDecimal(text);
  REQUIRE(value.has_value());
  return *value;
}

// The open shards' ranges cover 0..2^128-1 exactly once, as routing assumes.
void CheckOpenRangesTile(const StreamMetadata& meta) {
  std::vector<HashKeyRange> open;
  for (const ShardMetadata& shard : meta.shards) {
    if (!shard.closed) {
      open.push_back(shard.range);
    }
  }
  std::sort(open.begin(), open.end(),
            [](const HashKeyRange& a, const HashKeyRange& b) { return a.start < b.start; });
  REQUIRE_FALSE(open.empty());
  CHECK(open.front().start == 0);
  CHECK(open.back().end == kMaxUint128);
  for (size_t i = 1; i < open.size(); ++i) {
    INFO("open range " << i << " starts at " << ToDecimal(open[i].start)
                       << ", the one before ends at " << ToDecimal(open[i - 1].end));
    CHECK(open[i - 1].end != kMaxUint128);
    CHECK(open[i].start == open[i - 1].end + 1);
  }
}

struct StoreFixture {
  TempDir tmp;
  ManualClock clock;
  StreamStoreOptions options;
  std::unique_ptr<StreamStore> store;

  StoreFixture() {
    options.data_dir = tmp / "data";  // created by Open
    options.retention_check_interval_ms = 0;
    Reopen();
  }

  void Reopen() {
    store.reset();
    Result<std::unique_ptr<StreamStore>> opened = StreamStore::Open(options, &clock);
    INFO(opened.status().ToString());
    REQUIRE(opened.ok());
    store = std::move(*opened);
  }

  StreamMetadata Describe(const std::string& name = kStream) {
    Result<StreamMetadata> meta = store->Describe(name);
    INFO(meta.status().ToString());
    REQUIRE(meta.ok());
    return *meta;
  }

  std::shared_ptr<ShardLog> Shard(uint32_t index, const std::string& name = kStream) {
    Result<std::shared_ptr<ShardLog>> log = store->Shard(name, index);
    INFO(log.status().ToString());
    REQUIRE(log.ok());
    return *log;
  }

  std::vector<PutOutcome> Put(const std::vector<PutInput>& records,
                              const std::string& name = kStream) {
    Result<std::vector<PutOutcome>> outcomes = store->Put(name, records);
    INFO(outcomes.status().ToString());
    REQUIRE(outcomes.ok());
    REQUIRE(outcomes->size() == records.size());
    for (const PutOutcome& outcome : *outcomes) {
      INFO(outcome.status.ToString());
      REQUIRE(outcome.status.ok());
      REQUIRE(outcome.sequence_number.shard_index == outcome.shard_index);
    }
    return *outcomes;
  }

  PutOutcome PutKey(const std::string& key, const std::string& data,
                    const std::string& name = kStream) {
    return Put({{key, std::nullopt, data}}, name)[0];
  }

  PutOutcome PutHash(Uint128 hash, const std::string& data, const std::string& name = kStream) {
    return Put({{"ignored", hash, data}}, name)[0];
  }

  std::string StreamDir(const std::string& name = kStream) {
    return options.data_dir + "/streams/s-" + name;
  }
};

TEST_CASE("CreateStream makes even shards that Describe and ListStreams show", "[stream][store]") {
  StoreFixture f;
  CHECK(f.store->ListStreams().empty());
  REQUIRE(f.store->CreateStream(kStream, 3).ok());
  REQUIRE(f.store->CreateStream("another.stream_1-x", 1).ok());
  CHECK(f.store->ListStreams() == std::vector<std::string>{"another.stream_1-x", kStream});

  const StreamMetadata meta = f.Describe();
  CHECK(meta.name == kStream);
  CHECK(meta.created_ms == f.clock.UnixMillis());
  CHECK(meta.retention_hours == 24);
  CHECK(meta.generation == 1);
  CHECK(meta.next_shard_index == 3);
  REQUIRE(meta.shards.size() == 3);
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(3);
  for (uint32_t i = 0; i < 3; ++i) {
    CHECK(meta.shards[i].index == i);
    CHECK(meta.shards[i].range == ranges[i]);
    CHECK_FALSE(meta.shards[i].parent.has_value());
    CHECK_FALSE(meta.shards[i].adjacent_parent.has_value());
    CHECK_FALSE(meta.shards[i].closed);
  }
  CHECK(std::filesystem::exists(f.StreamDir() + "/stream.json"));
  CHECK(std::filesystem::is_directory(f.StreamDir() + "/shardId-000000000002"));
  CHECK(f.store->Shard(kStream, 3).status().code() == Code::kNotFound);
  CHECK(f.store->Shard("nope", 0).status().code() == Code::kNotFound);
  CHECK(f.store->Describe("nope").status().code() == Code::kNotFound);
}

TEST_CASE("CreateStream refuses bad names, counts, duplicates and the shard limit",
          "[stream][store]") {
  StoreFixture f;
  f.options.shard_limit = 5;
  f.Reopen();
  CHECK(f.store->CreateStream("", 1).code() == Code::kInvalidArgument);
  CHECK(f.store->CreateStream("has space", 1).code() == Code::kInvalidArgument);
  CHECK(f.store->CreateStream("slash/name", 1).code() == Code::kInvalidArgument);
  CHECK(f.store->CreateStream(std::string(129, 'a'), 1).code() == Code::kInvalidArgument);
  CHECK(f.store->CreateStream(std::string(128, 'a'), 1).ok());
  CHECK(f.store->CreateStream(kStream, 0).code() == Code::kInvalidArgument);
  CHECK(f.store->CreateStream(kStream, 6).code() == Code::kResourceExhausted);
  REQUIRE(f.store->CreateStream(kStream, 3).ok());
  CHECK(f.store->CreateStream(kStream, 1).code() == Code::kAlreadyExists);
  CHECK(f.store->CreateStream("other", 2).code() == Code::kResourceExhausted);
  CHECK(f.store->CreateStream("other", 1).ok());  // 1 + 3 + 1 = 5
  CHECK(f.store->ListStreams().size() == 3);
  CHECK(IsValidStreamName("a.b-c_D9"));
  CHECK_FALSE(IsValidStreamName("é"));
}

TEST_CASE("concurrent creates of one name: exactly one wins, and the limit holds",
          "[stream][store]") {
  StoreFixture f;
  f.options.shard_limit = 8;
  f.Reopen();
  // Eight threads create "same" (2 shards) while eight create distinct streams of 2 shards:
  // "same" exists once, and no more than 8 shards are ever open.
  std::vector<std::thread> threads;
  std::atomic<int> same_ok{0};
  std::atomic<int> others_ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (f.store->CreateStream("same", 2).ok()) {
        ++same_ok;
      }
    });
    threads.emplace_back([&, i] {
      if (f.store->CreateStream(testing::Numbered("other-", static_cast<uint64_t>(i)), 2).ok()) {
        ++others_ok;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(same_ok == 1);
  CHECK(others_ok == 3);  // 2 + 3 * 2 = 8 shards
  CHECK(f.store->ListStreams().size() == 4);
}

TEST_CASE("Put routes by partition key and explicit hash key", "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 4).ok());
  // The reference vectors: "a" -> shard 0, "hello" -> 1, "partitionKey-0" -> 3.
  const std::vector<PutOutcome> outcomes = f.Put({{"a", std::nullopt, "A"},
                                                  {"hello", std::nullopt, "H"},
                                                  {"partitionKey-0", std::nullopt, "P"},
                                                  {"hello", std::nullopt, "H2"}});
  CHECK(outcomes[0].shard_index == 0);
  CHECK(outcomes[1].shard_index == 1);
  CHECK(outcomes[2].shard_index == 3);
  CHECK(outcomes[3].shard_index == 1);
  CHECK(outcomes[1].sequence_number.ordinal == 0);
  CHECK(outcomes[3].sequence_number.ordinal == 1);
  CHECK(outcomes[0].sequence_number.generation == 1);

  // Explicit hash keys at the range edges.
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(4);
  for (uint32_t i = 0; i < 4; ++i) {
    CHECK(f.PutHash(ranges[i].start, "start").shard_index == i);
    CHECK(f.PutHash(ranges[i].end, "end").shard_index == i);
  }
  // An explicit hash key wins over the partition key.
  CHECK(f.Put({{"a", kMaxUint128, "x"}})[0].shard_index == 3);

  const std::vector<StoredRecord> shard1 = ReadAll(*f.Shard(1));
  REQUIRE(shard1.size() == 4);
  CHECK(shard1[0].partition_key == "hello");
  CHECK(shard1[0].data == "H");
  CHECK(shard1[1].data == "H2");
  CHECK(shard1[2].data == "start");
  CHECK(shard1[2].partition_key == "ignored");
  CHECK(ReadAll(*f.Shard(2)).size() == 2);

  CHECK(f.store->Put("nope", std::vector<PutInput>{{"a", std::nullopt, "x"}}).status().code() ==
        Code::kNotFound);
  // An empty Put is fine.
  CHECK(f.store->Put(kStream, std::vector<PutInput>{})->empty());
}

TEST_CASE("sequence numbers keep rising across restarts", "[stream][store][sequence]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 2).ok());
  std::vector<PutOutcome> earlier;
  std::map<uint32_t, uint64_t> count_by_shard;
  for (int round = 0; round < 3; ++round) {
    INFO("round " << round);
    CHECK(f.Describe().generation == static_cast<uint32_t>(round + 1));
    std::vector<PutOutcome> now;
    for (int i = 0; i < 12; ++i) {
      const std::string key = testing::Numbered("key-", round) + testing::Numbered("-", i);
      now.push_back(f.PutKey(key, "data " + key));
    }
    for (const PutOutcome& later : now) {
      const SequenceNumber& number = later.sequence_number;
      CHECK(number.generation == static_cast<uint32_t>(round + 1));
      // Ordinals continue where the shard left off.
      CHECK(number.ordinal == count_by_shard[later.shard_index]++);
      const std::string text = number.ToString();
      CHECK(text.size() == 38);
      CHECK(SequenceNumber::Parse(text) == number);
      // Greater than every number handed out before, in its shard and overall within a shard.
      for (const PutOutcome& before : earlier) {
        if (before.shard_index == later.shard_index) {
          CHECK(before.sequence_number.ToUint128() < number.ToUint128());
        }
      }
      earlier.push_back(later);
    }
    f.Reopen();
  }
  CHECK(f.Describe().generation == 4);
  // What is stored matches what Put said.
  for (uint32_t shard = 0; shard < 2; ++shard) {
    const std::vector<StoredRecord> records = ReadAll(*f.Shard(shard));
    CHECK(records.size() == count_by_shard[shard]);
    for (const PutOutcome& outcome : earlier) {
      if (outcome.shard_index != shard) {
        continue;
      }
      const StoredRecord& record = records.at(outcome.sequence_number.ordinal);
      CHECK(record.generation == outcome.sequence_number.generation);
    }
  }
}

TEST_CASE("concurrent puts store every record once, in order per shard", "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 3).ok());
  constexpr int kThreads = 4;
  constexpr int kPerThread = 90;
  std::atomic<int> failures{0};
  std::vector<std::vector<PutOutcome>> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; i += 3) {
        std::vector<std::string> keys, data;
        for (int k = i; k < i + 3; ++k) {
          keys.push_back(testing::Numbered("k", k));
          data.push_back(testing::WriterData(t, k));
        }
        std::vector<PutInput> inputs;
        for (int k = 0; k < 3; ++k) {
          inputs.push_back({keys[k], std::nullopt, data[k]});
        }
        Result<std::vector<PutOutcome>> result = f.store->Put(kStream, inputs);
        if (!result.ok()) {
          ++failures;
          return;
        }
        for (const PutOutcome& outcome : *result) {
          if (!outcome.status.ok()) {
            ++failures;
          }
          outcomes[t].push_back(outcome);
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  REQUIRE(failures == 0);
  std::map<std::string, int> seen;
  uint64_t total = 0;
  const StreamMetadata meta = f.Describe();
  for (uint32_t shard = 0; shard < 3; ++shard) {
    const std::vector<StoredRecord> records = ReadAll(*f.Shard(shard), 0, 64);
    total += records.size();
    std::vector<int> last(kThreads, -1);
    for (uint64_t i = 0; i < records.size(); ++i) {
      const StoredRecord& record = records[i];
      REQUIRE(record.ordinal == i);
      ++seen[record.data];
      const int t = record.data[1] - '0';
      const int k = std::stoi(record.data.substr(3));
      CHECK(k > last[t]);  // each writer's records in a shard keep its order
      last[t] = k;
      CHECK(meta.shards[shard].range.Contains(PartitionKeyHash(record.partition_key)));
    }
  }
  CHECK(total == kThreads * kPerThread);
  CHECK(seen.size() == total);
  for (int t = 0; t < kThreads; ++t) {
    REQUIRE(outcomes[t].size() == kPerThread);
    for (int k = 0; k < kPerThread; ++k) {
      const PutOutcome& outcome = outcomes[t][k];
      const std::vector<StoredRecord> one =
          f.Shard(outcome.shard_index)->Read(outcome.sequence_number.ordinal, 1, 1 << 20)->records;
      REQUIRE(one.size() == 1);
      CHECK(one[0].data == testing::WriterData(t, k));
    }
  }
}

TEST_CASE("SplitShard closes the parent and routes to two children", "[stream][store][reshard]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 2).ok());
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(2);
  f.PutHash(100, "before split");
  std::shared_ptr<ShardLog> parent = f.Shard(0);
  const Uint128 split_at = Dec("85070591730234615865843651857942052864");  // 2^126

  REQUIRE(f.store->SplitShard(kStream, 0, split_at).ok());
  const StreamMetadata meta = f.Describe();
  REQUIRE(meta.shards.size() == 4);
  CHECK(meta.next_shard_index == 4);
  CHECK(meta.shards[0].closed);
  CHECK_FALSE(meta.shards[1].closed);
  CHECK(meta.shards[2] == ShardMetadata{2, {0, split_at - 1}, 0u, std::nullopt, false});
  CHECK(meta.shards[3] == ShardMetadata{3, {split_at, ranges[0].end}, 0u, std::nullopt, false});
  CheckOpenRangesTile(meta);

  // The parent takes no more records; it reads to its end.
  CHECK(parent->closed());
  CHECK(parent->Stage(std::vector<RecordInput>{{"k", "v"}}).status().code() ==
        Code::kFailedPrecondition);
  Result<ShardLog::ReadResult> rest = parent->Read(0, 10, 1 << 20);
  REQUIRE(rest.ok());
  CHECK(rest->records.size() == 1);
  CHECK(rest->end_of_shard);

  // Routing: the children by their ranges, the untouched shard as before.
  CHECK(f.PutHash(0, "low").shard_index == 2);
  CHECK(f.PutHash(split_at - 1, "low end").shard_index == 2);
  CHECK(f.PutHash(split_at, "high").shard_index == 3);
  CHECK(f.PutHash(ranges[0].end, "high end").shard_index == 3);
  CHECK(f.PutHash(ranges[1].start, "other").shard_index == 1);
  CHECK(f.PutKey("a", "a").shard_index == 2);  // md5("a") < 2^126
  const PutOutcome child = f.PutKey("x", "y");
  CHECK(child.shard_index != 0);
  CHECK(ReadAll(*f.Shard(2)).size() >= 3);
  CHECK(ReadAll(*f.Shard(0)).size() == 1);

  SECTION("the split survives a reopen") {
    const uint64_t child_records = ReadAll(*f.Shard(3)).size();
    f.Reopen();
    StreamMetadata after = f.Describe();
    CHECK(after.generation == meta.generation + 1);
    after.generation = meta.generation;
    CHECK(after == meta);
    CHECK(f.Shard(0)->closed());
    CHECK(f.Shard(0)->Stage(std::vector<RecordInput>{{"k", "v"}}).status().code() ==
          Code::kFailedPrecondition);
    CHECK(ReadAll(*f.Shard(3)).size() == child_records);
    CHECK(f.PutHash(split_at, "after reopen").shard_index == 3);
    CHECK(f.PutHash(100, "after reopen").shard_index == 2);
  }
  SECTION("bad splits are refused") {
    CHECK(f.store->SplitShard(kStream, 0, split_at).code() == Code::kInvalidArgument);  // closed
    CHECK(f.store->SplitShard(kStream, 9, split_at).code() == Code::kNotFound);
    CHECK(f.store->SplitShard("nope", 1, split_at).code() == Code::kNotFound);
    const HashKeyRange r = ranges[1];
    CHECK(f.store->SplitShard(kStream, 1, r.start).code() == Code::kInvalidArgument);
    CHECK(f.store->SplitShard(kStream, 1, r.start + 1).code() == Code::kInvalidArgument);
    CHECK(f.store->SplitShard(kStream, 1, r.end).code() == Code::kInvalidArgument);
    CHECK(f.store->SplitShard(kStream, 1, 5).code() == Code::kInvalidArgument);
    CHECK(f.Describe().shards.size() == 4);
    // The smallest and largest allowed keys.
    CHECK(f.store->SplitShard(kStream, 1, r.start + 2).ok());
    CHECK(f.store->SplitShard(kStream, 5, r.end - 1).ok());
    const StreamMetadata now = f.Describe();
    CHECK(now.shards[4].range == HashKeyRange{r.start, r.start + 1});
    CHECK(now.shards[7].range == HashKeyRange{r.end - 1, r.end});
    CheckOpenRangesTile(now);
  }
}

TEST_CASE("SplitShard respects the shard limit", "[stream][store][reshard]") {
  StoreFixture f;
  f.options.shard_limit = 3;
  f.Reopen();
  REQUIRE(f.store->CreateStream(kStream, 2).ok());
  REQUIRE(f.store->SplitShard(kStream, 0, Uint128{1} << 100).ok());  // 3 open
  CHECK(f.store->SplitShard(kStream, 1, kMaxUint128 - 100).code() == Code::kResourceExhausted);
  CHECK(f.store->CreateStream("more", 1).code() == Code::kResourceExhausted);
  REQUIRE(f.store->MergeShards(kStream, 2, 3).ok());  // back to 2 open
  CHECK(f.store->SplitShard(kStream, 1, kMaxUint128 - 100).ok());
}

TEST_CASE("racing SplitShard and MergeShards leave the open ranges whole",
          "[stream][store][reshard]") {
  StoreFixture f;
  for (int round = 0; round < 300; ++round) {
    const std::string name = testing::Numbered("race-", round);
    REQUIRE(f.store->CreateStream(name, 2).ok());
    std::atomic<int> ready{0};
    Status split, merge;
    std::thread splitter([&] {
      ++ready;
      while (ready < 2) {
      }
      split = f.store->SplitShard(name, 0, Uint128{1} << 126);
    });
    std::thread merger([&] {
      ++ready;
      while (ready < 2) {
      }
      // Start the merge a little later each round, to sweep it across the split's steps.
      std::atomic<int> spin{0};
      while (spin.fetch_add(1, std::memory_order_relaxed) < (round % 40) * 10) {
      }
      merge = f.store->MergeShards(name, 0, 1);
    });
    splitter.join();
    merger.join();
    INFO("round " << round << ": split " << split.ToString() << ", merge " << merge.ToString());
    // Either order is fine, but not both: each closes shard 0.
    CHECK(split.ok() != merge.ok());
    CheckOpenRangesTile(f.Describe(name));
    REQUIRE(f.store->DeleteStream(name).ok());
  }
}

TEST_CASE("MergeShards closes two adjacent parents and routes to one child",
          "[stream][store][reshard]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 3).ok());
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(3);
  CHECK(f.store->MergeShards(kStream, 0, 2).code() == Code::kInvalidArgument);  // not adjacent
  CHECK(f.store->MergeShards(kStream, 1, 1).code() == Code::kInvalidArgument);
  CHECK(f.store->MergeShards(kStream, 1, 3).code() == Code::kNotFound);
  CHECK(f.store->MergeShards("nope", 0, 1).code() == Code::kNotFound);

  f.PutHash(ranges[1].start, "in 1");
  f.PutHash(ranges[2].start, "in 2");
  // The adjacent shard may come first or second.
  REQUIRE(f.store->MergeShards(kStream, 2, 1).ok());
  const StreamMetadata meta = f.Describe();
  REQUIRE(meta.shards.size() == 4);
  CHECK(meta.shards[1].closed);
  CHECK(meta.shards[2].closed);
  CHECK_FALSE(meta.shards[0].closed);
  CHECK(meta.shards[3] == ShardMetadata{3, {ranges[1].start, kMaxUint128}, 2u, 1u, false});
  CheckOpenRangesTile(meta);
  CHECK(f.Shard(1)->Stage(std::vector<RecordInput>{{"k", "v"}}).status().code() ==
        Code::kFailedPrecondition);
  CHECK(f.Shard(2)->Stage(std::vector<RecordInput>{{"k", "v"}}).status().code() ==
        Code::kFailedPrecondition);
  CHECK(f.PutHash(ranges[1].start, "child").shard_index == 3);
  CHECK(f.PutHash(kMaxUint128, "child").shard_index == 3);
  CHECK(f.PutHash(ranges[0].end, "zero").shard_index == 0);
  CHECK(f.store->MergeShards(kStream, 1, 0).code() == Code::kInvalidArgument);  // 1 is closed

  // Merge the child with shard 0: the whole space again, in shard 4.
  REQUIRE(f.store->MergeShards(kStream, 0, 3).ok());
  f.Reopen();
  const StreamMetadata after = f.Describe();
  REQUIRE(after.shards.size() == 5);
  CHECK(after.shards[4] == ShardMetadata{4, {0, kMaxUint128}, 0u, 3u, false});
  for (uint32_t i = 0; i < 4; ++i) {
    CHECK(after.shards[i].closed);
  }
  CHECK(f.PutKey("anything", "v").shard_index == 4);
  CHECK(ReadAll(*f.Shard(3)).size() == 2);
  CHECK(ReadAll(*f.Shard(1)).size() == 1);
}

TEST_CASE("DeleteStream then CreateStream with the same name gives an empty stream",
          "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 2).ok());
  REQUIRE(f.store->SplitShard(kStream, 0, Uint128{1} << 100).ok());
  for (int i = 0; i < 10; ++i) {
    f.PutKey(testing::Numbered("k", i), "old");
  }
  std::shared_ptr<ShardLog> old_shard = f.Shard(1);
  const uint64_t old_records = old_shard->end_ordinal();
  REQUIRE(old_records > 0);

  REQUIRE(f.store->DeleteStream(kStream).ok());
  CHECK(f.store->DeleteStream(kStream).code() == Code::kNotFound);
  CHECK(f.store->ListStreams().empty());
  CHECK(f.store->Describe(kStream).status().code() == Code::kNotFound);
  CHECK(f.store->Shard(kStream, 0).status().code() == Code::kNotFound);
  CHECK(f.store->Put(kStream, std::vector<PutInput>{{"a", std::nullopt, "x"}}).status().code() ==
        Code::kNotFound);
  CHECK_FALSE(std::filesystem::exists(f.StreamDir()));
  CHECK(ListNames(f.options.data_dir + "/streams", true).empty());
  // A reader that held a shard still reads what it had, and sees the end.
  CHECK(old_shard->closed());
  Result<ShardLog::ReadResult> old_read = old_shard->Read(0, 100, 1 << 20);
  REQUIRE(old_read.ok());
  CHECK(old_read->records.size() == old_records);
  CHECK(old_read->end_of_shard);

  REQUIRE(f.store->CreateStream(kStream, 1).ok());
  const StreamMetadata meta = f.Describe();
  CHECK(meta.shards.size() == 1);
  CHECK(meta.next_shard_index == 1);
  CHECK(meta.generation == 1);
  CHECK(f.Shard(0)->end_ordinal() == 0);
  CHECK(ReadAll(*f.Shard(0)).empty());
  CHECK(f.PutKey("k", "new").sequence_number.ordinal == 0);
  f.Reopen();
  CHECK(f.store->ListStreams() == std::vector<std::string>{kStream});
  const std::vector<StoredRecord> records = ReadAll(*f.Shard(0));
  REQUIRE(records.size() == 1);
  CHECK(records[0].data == "new");
  CHECK(f.store->Shard(kStream, 1).status().code() == Code::kNotFound);
}

TEST_CASE("a CreateStream racing the DeleteStream of the same name keeps the new stream",
          "[stream][store]") {
  // The window this guards (DeleteStream renaming the directory after the name was already
  // free) is narrow: this did not catch the old code in trials. It checks the outcome whichever
  // side wins.
  StoreFixture f;
  for (int round = 0; round < 40; ++round) {
    INFO("round " << round);
    REQUIRE(f.store->CreateStream(kStream, 1).ok());
    f.PutKey("k", "old");
    std::atomic<bool> go{false};
    Status deleted;
    std::thread deleter([&] {
      while (!go) {
      }
      deleted = f.store->DeleteStream(kStream);
    });
    go = true;
    // Create again as soon as the name is free.
    Status created;
    do {
      created = f.store->CreateStream(kStream, 1);
    } while (created.code() == Code::kAlreadyExists);
    deleter.join();
    INFO("delete: " << deleted.ToString() << ", create: " << created.ToString());
    REQUIRE(deleted.ok());
    REQUIRE(created.ok());
    // The new stream is whole: on disk, empty, writable, and still there after a reopen.
    REQUIRE(std::filesystem::exists(f.StreamDir() + "/stream.json"));
    CHECK(f.Shard(0)->end_ordinal() == 0);
    CHECK(f.PutKey("k", "new").sequence_number.ordinal == 0);
    if (round % 8 == 0) {
      f.Reopen();
      CHECK(f.store->ListStreams() == std::vector<std::string>{kStream});
      const std::vector<StoredRecord> records = ReadAll(*f.Shard(0));
      REQUIRE(records.size() == 1);
      CHECK(records[0].data == "new");
    }
    REQUIRE(f.store->DeleteStream(kStream).ok());
  }
}

TEST_CASE("a deleted stream cannot be resharded or changed", "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 2).ok());
  REQUIRE(f.store->DeleteStream(kStream).ok());
  CHECK(f.store->SplitShard(kStream, 0, Uint128{1} << 100).code() == Code::kNotFound);
  CHECK(f.store->MergeShards(kStream, 0, 1).code() == Code::kNotFound);
  CHECK(f.store->SetRetention(kStream, 48).code() == Code::kNotFound);
}

TEST_CASE("Open cleans up unfinished creates and deletes", "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 1).ok());
  f.PutKey("k", "v");
  f.store.reset();
  const std::string streams = f.options.data_dir + "/streams";
  // A create cut short before stream.json, and a delete cut short before its removal.
  REQUIRE(std::filesystem::create_directories(streams + "/s-half/shardId-000000000000"));
  REQUIRE(std::filesystem::create_directories(streams + "/deleted-1-abcd/shardId-000000000000"));
  f.Reopen();
  CHECK(f.store->ListStreams() == std::vector<std::string>{kStream});
  CHECK(ListNames(streams, true) == std::vector<std::string>{"s-tolls"});
  CHECK(ReadAll(*f.Shard(0)).size() == 1);
  // The unfinished name can be created for real.
  CHECK(f.store->CreateStream("half", 1).ok());
}

TEST_CASE("Open refuses a corrupt stream.json", "[stream][store]") {
  StoreFixture f;
  REQUIRE(f.store->CreateStream(kStream, 1).ok());
  f.store.reset();
  testing::WriteBytes(f.StreamDir() + "/stream.json", "{\"format\": 1,");
  Result<std::unique_ptr<StreamStore>> opened = StreamStore::Open(f.options, &f.clock);
  CHECK(opened.status().code() == Code::kInvalidArgument);
  StreamStoreOptions no_dir;
  CHECK(StreamStore::Open(no_dir, &f.clock).status().code() == Code::kInvalidArgument);
}

TEST_CASE("EnforceRetention trims expired segments of every shard", "[stream][store][retention]") {
  StoreFixture f;
  f.options.log.segment_max_age_ms = 3600 * 1000;
  f.Reopen();
  REQUIRE(f.store->CreateStream(kStream, 1).ok());
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(1);
  CHECK(f.store->SetRetention(kStream, 23).code() == Code::kInvalidArgument);
  CHECK(f.store->SetRetention(kStream, 8761).code() == Code::kInvalidArgument);
  CHECK(f.store->SetRetention("nope", 48).code() == Code::kNotFound);

  // t0: records 0-1; t0+2h: records 2-3 (a new segment, the first being an hour old).
  f.PutKey("a", "0");
  f.PutKey("b", "1");
  f.clock.Advance(hours(2));
  f.PutKey("c", "2");
  f.PutKey("d", "3");
  std::shared_ptr<ShardLog> shard = f.Shard(0);
  const std::string shard_dir = f.StreamDir() + "/shardId-000000000000";
  REQUIRE(ListNames(shard_dir).size() == 2);

  f.clock.Advance(hours(22));  // t0 + 24h: the first segment is exactly 24 h old
  f.store->EnforceRetention();
  CHECK(shard->trim_horizon() == 0);
  f.clock.Advance(milliseconds(1));
  f.store->EnforceRetention();
  CHECK(shard->trim_horizon() == 2);
  CHECK(ListNames(shard_dir).size() == 1);
  Result<ShardLog::ReadResult> read = shard->Read(0, 10, 1 << 20);
  REQUIRE(read.ok());
  REQUIRE(read->records.size() == 2);
  CHECK(read->records[0].ordinal == 2);

  // A longer retention keeps the rest past 24 h.
  REQUIRE(f.store->SetRetention(kStream, 48).ok());
  CHECK(f.Describe().retention_hours == 48);
  f.clock.Advance(hours(3));
  f.store->EnforceRetention();
  CHECK(shard->trim_horizon() == 2);

  SECTION("everything expired: the next ordinal stays, across a reopen") {
    f.clock.Advance(hours(48));
    f.Reopen();  // Open applies retention
    CHECK(f.Describe().retention_hours == 48);
    shard = f.Shard(0);
    CHECK(shard->trim_horizon() == 4);
    CHECK(shard->end_ordinal() == 4);
    CHECK(ReadAll(*shard).empty());
    const PutOutcome outcome = f.PutKey("e", "4");
    CHECK(outcome.sequence_number.ordinal == 4);
    CHECK(outcome.sequence_number.generation == 2);
    f.Reopen();
    const std::vector<StoredRecord> records = ReadAll(*f.Shard(0));
    REQUIRE(records.size() == 1);
    CHECK(records[0].ordinal == 4);
  }
  SECTION("a closed shard is trimmed too") {
    REQUIRE(f.store->SplitShard(kStream, 0, Uint128{1} << 127).ok());
    f.clock.Advance(hours(48));
    f.store->EnforceRetention();
    CHECK(shard->trim_horizon() == 4);
    CHECK(shard->end_ordinal() == 4);
    Result<ShardLog::ReadResult> rest = shard->Read(0, 10, 1 << 20);
    REQUIRE(rest.ok());
    CHECK(rest->records.empty());
    CHECK(rest->end_of_shard);
  }
}

}  // namespace
}  // namespace sluice::stream
