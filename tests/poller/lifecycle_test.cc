// A mapping over time: filters consume records without invoking, a split shard's children start
// only after the parent is finished, a disabled mapping keeps its position, and a new poller
// service on the same database resumes from the checkpoints with every effect applied once.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "stream/stream_metadata.h"
#include "stream/uint128.h"
#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;
using Records = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("records the filters reject are consumed without an invoke and the checkpoint moves") {
  PollerFixture f;
  const std::string uuid = f.Attach(
      {{"FilterCriteria", {{"Filters", {{{"Pattern", R"({"data": {"keep": [true]}})"}}}}}}});

  // Only rejected records: no invoke, and the checkpoint still moves past them.
  const Strings rejected = f.Put({{"a", R"({"keep": false})"}, {"b", "not json"}});
  f.AdvanceUntil(
      std::chrono::milliseconds(500), [&] { return f.Position(uuid) == rejected.back(); },
      "the checkpoint past the rejected records");
  CHECK(f.Batches().empty());

  const Strings mixed = f.Put({{"c", R"({"keep": true})"}, {"d", R"({"lane": 7})"}});
  CHECK(f.WaitForBatches(1)[0].Data() == Strings{R"({"keep": true})"});
  f.AdvanceUntil(
      std::chrono::milliseconds(500), [&] { return f.Position(uuid) == mixed.back(); },
      "the checkpoint past the last rejected record");
  f.ExpectBatchCountStays(1);
  CHECK(f.StatusOf(uuid).filtered == 3);
  CHECK(f.Count("a") == 0);
  CHECK(f.Count("c") == 1);
}

TEST_CASE("after a split the child shards start only when the parent is finished") {
  PollerFixture f;
  f.SetSwitch("gate");
  const std::string uuid = f.Attach({{"BatchSize", 1}});
  // The parent's second record fails until the gate opens.
  f.Put({{"p", "r0"}, {"p", "fail-while:gate r1"}, {"p", "r2"}});
  f.WaitForBatches(2);

  REQUIRE(f.streams().SplitShard(kStream, 0, stream::Uint128{1} << 127).ok());
  Records children;
  for (int i = 0; i < 8; ++i) {
    children.emplace_back(Numbered("c", i), "child");
  }
  f.Put(children);
  // Discovery runs every 20 ms: the children are seen, and wait.
  f.ExpectBatchCountStays(2);
  for (uint32_t child : {1u, 2u}) {
    CHECK(f.StatusOf(uuid, stream::ShardIdString(child)).phase ==
          ShardStatus::Phase::kWaitingForParents);
  }

  f.ClearSwitch("gate");
  f.AdvanceUntil(
      std::chrono::milliseconds(100),
      [&] {
        for (const auto& [key, data] : children) {
          if (f.Count(key) != 1) {
            return false;
          }
        }
        return true;
      },
      "every child record to be processed");
  CHECK(f.Position(uuid, kShard0) == kShardEnd);
  CHECK(f.Count("p") == 3);
  const std::vector<SeenBatch> batches = f.Batches();
  size_t last_parent = 0;
  size_t first_child = batches.size();
  for (size_t i = 0; i < batches.size(); ++i) {
    if (batches[i].shard_id == kShard0) {
      last_parent = i;
    } else {
      first_child = std::min(first_child, i);
    }
  }
  CHECK(last_parent < first_child);
  std::map<std::string, int> child_shards_used;
  for (size_t i = first_child; i < batches.size(); ++i) {
    ++child_shards_used[batches[i].shard_id];
  }
  CHECK(child_shards_used.size() == 2);
}

TEST_CASE("a disabled mapping keeps its position and resumes from it") {
  PollerFixture f;
  const std::string uuid = f.Attach();
  const Strings before = f.Put({{"k", "r0"}, {"k", "r1"}, {"k", "r2"}});
  f.WaitForPosition(uuid, before.back());
  const size_t invokes = f.Batches().size();

  f.Update(uuid, {{"Enabled", false}});
  const Strings during = f.Put({{"k", "r3"}, {"k", "r4"}});
  f.ExpectBatchCountStays(invokes);
  CHECK(f.Position(uuid) == before.back());

  f.Update(uuid, {{"Enabled", true}});
  f.WaitForPosition(uuid, during.back());
  const std::vector<SeenBatch> batches = f.Batches();
  CHECK(SeqsOf(std::vector<SeenBatch>(batches.begin() + static_cast<ptrdiff_t>(invokes),
                                      batches.end())) == during);
  CHECK(DataOf(batches) == Strings{"r0", "r1", "r2", "r3", "r4"});
  CHECK(f.Count("k") == 5);
}

TEST_CASE("a restarted poller service resumes from the checkpoint and applies each effect once") {
  PollerFixture f;
  const std::string uuid = f.Attach({{"BatchSize", 2}});
  Records records;
  for (int i = 0; i < 12; ++i) {
    records.emplace_back(Numbered("k", i % 3), Numbered("sleep:30 r", i));
  }
  const Strings first = f.Put(records);
  // Stop mid-stream, likely with an invoke in flight (it finishes and commits, or never began).
  f.WaitForBatches(2);
  f.RestartService();
  const Strings second = f.Put(records);
  f.WaitForPosition(uuid, second.back());

  for (int k = 0; k < 3; ++k) {
    CHECK(f.Count(Numbered("k", k)) == 8);
  }
  Strings all = first;
  all.insert(all.end(), second.begin(), second.end());
  CHECK(SeqsOf(f.Batches()) == all);
}

TEST_CASE("a stream deleted and made again under the same name is read from its start") {
  PollerFixture f;
  f.Attach();
  f.Put({{"old", "one"}, {"old", "two"}});
  f.WaitUntil([&] { return f.Count("old") == 2; }, "the first stream's records");

  REQUIRE(f.streams().DeleteStream(kStream).ok());
  f.clock().Advance(std::chrono::seconds(1));  // a new stream is a new creation time
  f.CreateStream(kStream, 1);
  // The old checkpoint (or the SHARD_END its deletion left) must not hide the new records.
  f.Put({{"new", "three"}, {"new", "four"}});
  f.WaitUntil([&] { return f.Count("new") == 2; }, "the new stream's records");
  CHECK(f.Count("old") == 2);
}

}  // namespace
}  // namespace sluice::poller::testing
