// ParallelizationFactor N: a shard's records spread over N lanes by partition key, each lane one
// batch at a time, so order holds per key; the checkpoint keeps each lane's position, so after a
// restart nothing is skipped and no effect is applied twice even though a lane was behind.
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "poller/shard_progress.h"
#include "state/effect_committer.h"
#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using Strings = std::vector<std::string>;
using Records = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("ParallelizationFactor keeps the order of each partition key across lanes") {
  PollerFixture f;
  constexpr int kLanes = 4;
  const std::string uuid = f.Attach({{"ParallelizationFactor", kLanes}, {"BatchSize", 3}});
  Records records;
  for (int i = 0; i < 40; ++i) {
    // Uneven invoke times, so lanes overtake each other.
    records.emplace_back(Numbered("k", i % 8), Numbered(Numbered("sleep:", i * 7 % 10) + " r", i));
  }
  const Strings seqs = f.Put(records);
  f.WaitForPosition(uuid, seqs.back());

  std::map<std::string, Strings> put_by_key;
  for (size_t i = 0; i < records.size(); ++i) {
    put_by_key[records[i].first].push_back(seqs[i]);
  }
  const ShardProgress lanes(kLanes);
  std::map<std::string, Strings> seen_by_key;
  for (const SeenBatch& batch : f.Batches()) {
    std::set<int> batch_lanes;
    for (const SeenRecord& record : batch.records) {
      seen_by_key[record.key].push_back(record.seq);
      batch_lanes.insert(lanes.LaneOf(record.key));
    }
    CHECK(batch_lanes.size() == 1);  // a batch holds one lane's records
  }
  CHECK(seen_by_key == put_by_key);
  for (const auto& [key, key_seqs] : put_by_key) {
    CHECK(f.Count(key) == static_cast<int64_t>(key_seqs.size()));
  }
}

TEST_CASE("with lanes at different positions a restart skips nothing and repeats no effect") {
  PollerFixture f;
  constexpr int kLanes = 3;
  const ShardProgress lanes(kLanes);
  constexpr char kGatedKey[] = "k4";
  const int gated_lane = lanes.LaneOf(kGatedKey);
  f.SetSwitch("gate");
  const std::string uuid = f.Attach({{"ParallelizationFactor", kLanes}, {"BatchSize", 2}});
  Records records;
  for (int i = 0; i < 24; ++i) {
    // The first record of kGatedKey blocks its lane until the gate opens.
    records.emplace_back(Numbered("k", i % 6), Numbered(i == 4 ? "fail-while:gate r" : "r", i));
  }
  const Strings seqs = f.Put(records);
  std::set<std::string> free_keys;
  for (const auto& [key, data] : records) {
    if (lanes.LaneOf(key) != gated_lane) {
      free_keys.insert(key);
    }
  }
  REQUIRE_FALSE(free_keys.empty());

  // The other lanes finish everything; the gated one stays behind.
  f.WaitUntil(
      [&] {
        for (const std::string& key : free_keys) {
          if (f.Count(key) != 4) {
            return false;
          }
        }
        return true;
      },
      "the lanes without the gate to finish");
  const std::optional<state::Checkpoint> held = f.Checkpoint(uuid);
  REQUIRE(held);
  CHECK(state::CompareSequenceNumbers(held->sequence_number.empty() ? "0" : held->sequence_number,
                                      seqs[4]) < 0);
  CHECK(nlohmann::json::parse(held->detail_json)["laneDone"].size() > 0);

  f.RestartService();
  f.ClearSwitch("gate");
  f.AdvanceUntil(
      std::chrono::milliseconds(100), [&] { return f.Position(uuid) == seqs.back(); },
      "every record to be done after the restart");

  for (int k = 0; k < 6; ++k) {
    CHECK(f.Count(Numbered("k", k)) == 4);
  }
  // Records of the lanes that were ahead were invoked once, before the restart.
  std::map<std::string, int> invokes_per_seq;
  for (const SeenBatch& batch : f.Batches()) {
    for (const SeenRecord& record : batch.records) {
      ++invokes_per_seq[record.seq];
    }
  }
  for (size_t i = 0; i < records.size(); ++i) {
    if (free_keys.count(records[i].first)) {
      CHECK(invokes_per_seq[seqs[i]] == 1);
    }
  }
}

}  // namespace
}  // namespace sluice::poller::testing
