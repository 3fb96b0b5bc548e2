// ShardProgress: the finished prefix of a shard whose lanes finish out of order, its checkpoint
// detail, and restarts from it with the same and another number of lanes.
#include "poller/shard_progress.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace sluice::poller {
namespace {

using nlohmann::json;

// The n-th sequence number of a shard: 38 digits, as the stream writes them.
std::string Seq(int n) {
  const std::string digits = std::to_string(n);
  std::string sequence(38, '0');
  sequence[0] = '2';
  sequence.replace(sequence.size() - digits.size(), digits.size(), digits);
  return sequence;
}

// A partition key that `progress` puts in `lane`, different for each `nth`.
std::string KeyInLane(const ShardProgress& progress, int lane, int nth) {
  for (int i = 0;; ++i) {
    const std::string key = "key-" + std::to_string(i);
    if (progress.LaneOf(key) == lane && nth-- == 0) {
      return key;
    }
  }
}

json LaneDone(const ShardProgress& progress) {
  return progress.Detail().at("laneDone");
}

void RequireInvalid(const Status& status, const std::string& mentions) {
  INFO(status.ToString());
  REQUIRE(status.code() == Code::kInvalidArgument);
  REQUIRE_THAT(status.message(), Catch::Contains(mentions));
}

TEST_CASE("one lane is a cursor on the last contiguous finished record", "[shard_progress]") {
  ShardProgress progress(1);
  REQUIRE(progress.LaneOf("a") == 0);
  REQUIRE(progress.LaneOf("orders-17") == 0);
  for (int n = 1; n <= 5; ++n) {
    progress.Add(Seq(n), 0);
  }
  REQUIRE(progress.checkpoint_sequence().empty());
  REQUIRE(progress.pending() == 5);

  progress.Finish(0, Seq(2));
  REQUIRE(progress.checkpoint_sequence() == Seq(2));
  REQUIRE(progress.pending() == 3);
  REQUIRE(progress.Detail() == json{{"lanes", 1}, {"laneDone", json::object()}});

  progress.Finish(0, Seq(5));
  REQUIRE(progress.checkpoint_sequence() == Seq(5));
  REQUIRE(progress.pending() == 0);
  REQUIRE(progress.Detail() == json{{"lanes", 1}, {"laneDone", json::object()}});
}

TEST_CASE("LaneOf is MD5 of the partition key modulo the lanes", "[shard_progress]") {
  // MD5("a") = 0cc175b9c0f1b6a831c399e269772661, MD5("b") = 92eb5ffee6ae2fec3ad71c777531578f.
  REQUIRE(ShardProgress(4).LaneOf("a") == 1);
  REQUIRE(ShardProgress(10).LaneOf("a") == 7);
  REQUIRE(ShardProgress(4).LaneOf("b") == 3);
  REQUIRE(ShardProgress(10).LaneOf("b") == 3);
  REQUIRE(ShardProgress(3).LaneOf("orders-17") == 2);

  const ShardProgress progress(10);
  std::set<int> lanes;
  for (int i = 0; i < 200; ++i) {
    lanes.insert(progress.LaneOf("key-" + std::to_string(i)));
  }
  REQUIRE(lanes == std::set<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("the prefix advances only when every earlier record is finished", "[shard_progress]") {
  ShardProgress progress(3);
  // Shard order: lanes 0 1 2 1 0.
  progress.Add(Seq(1), 0);
  progress.Add(Seq(2), 1);
  progress.Add(Seq(3), 2);
  progress.Add(Seq(4), 1);
  progress.Add(Seq(5), 0);

  progress.Finish(1, Seq(4));
  REQUIRE(progress.checkpoint_sequence().empty());
  REQUIRE(LaneDone(progress) == json{{"1", Seq(4)}});

  progress.Finish(2, Seq(3));
  REQUIRE(progress.checkpoint_sequence().empty());
  REQUIRE(LaneDone(progress) == json{{"1", Seq(4)}, {"2", Seq(3)}});

  progress.Finish(0, Seq(1));
  REQUIRE(progress.checkpoint_sequence() == Seq(4));
  REQUIRE(progress.pending() == 1);
  // Lanes 1 and 2 have nothing finished beyond the prefix any more, lane 0 never had.
  REQUIRE(LaneDone(progress) == json::object());

  progress.Finish(0, Seq(5));
  REQUIRE(progress.checkpoint_sequence() == Seq(5));
  REQUIRE(progress.pending() == 0);
}

TEST_CASE("Detail lists only lanes with finished records beyond the prefix", "[shard_progress]") {
  ShardProgress progress(4);
  progress.Add(Seq(1), 3);
  progress.Add(Seq(2), 0);
  progress.Add(Seq(3), 2);
  progress.Add(Seq(4), 0);
  progress.Finish(0, Seq(2));
  REQUIRE(progress.Detail() == json{{"lanes", 4}, {"laneDone", {{"0", Seq(2)}}}});
  progress.Finish(3, Seq(1));
  REQUIRE(progress.checkpoint_sequence() == Seq(2));
  REQUIRE(progress.Detail() == json{{"lanes", 4}, {"laneDone", json::object()}});
  progress.Finish(0, Seq(4));
  REQUIRE(progress.Detail() == json{{"lanes", 4}, {"laneDone", {{"0", Seq(4)}}}});
}

TEST_CASE("FinishOne finishes one record, in laneDone once its lane has nothing earlier open",
          "[shard_progress]") {
  ShardProgress progress(2);
  progress.Add(Seq(1), 0);  // invoked
  progress.Add(Seq(2), 1);  // invoked
  progress.Add(Seq(3), 0);  // filtered out
  progress.Add(Seq(4), 1);  // filtered out
  progress.Add(Seq(5), 1);  // filtered out

  progress.FinishOne(Seq(3));
  progress.FinishOne(Seq(4));
  REQUIRE(progress.checkpoint_sequence().empty());
  REQUIRE(LaneDone(progress) == json::object());  // Seq(1) and Seq(2) are still open

  progress.Finish(1, Seq(2));
  progress.FinishOne(Seq(5));
  REQUIRE(LaneDone(progress) == json{{"1", Seq(5)}});

  progress.Finish(0, Seq(1));
  REQUIRE(progress.checkpoint_sequence() == Seq(5));
  REQUIRE(progress.pending() == 0);

  // Records already in the prefix, or never Added, change nothing.
  progress.FinishOne(Seq(2));
  progress.FinishOne(Seq(9));
  REQUIRE(progress.checkpoint_sequence() == Seq(5));
  REQUIRE(progress.Detail() == json{{"lanes", 2}, {"laneDone", json::object()}});
}

TEST_CASE("a restart with the same lanes skips what each lane committed and keeps it in the detail",
          "[shard_progress]") {
  ShardProgress before(2);
  const std::vector<std::string> keys = {KeyInLane(before, 0, 0), KeyInLane(before, 1, 0),
                                         KeyInLane(before, 1, 1), KeyInLane(before, 0, 1),
                                         KeyInLane(before, 1, 2)};
  for (int n = 1; n <= 5; ++n) {
    before.Add(Seq(n), before.LaneOf(keys[n - 1]));
  }
  before.Finish(1, Seq(3));  // lane 1 ran ahead while lane 0 was stuck on Seq(1)
  const json detail = before.Detail();
  REQUIRE(before.checkpoint_sequence().empty());
  REQUIRE(detail == json{{"lanes", 2}, {"laneDone", {{"1", Seq(3)}}}});

  ShardProgress after(2);
  REQUIRE(after.Restore("", detail).ok());
  REQUIRE(after.checkpoint_sequence().empty());
  REQUIRE(after.pending() == 0);
  REQUIRE_FALSE(after.FinishedBeforeRestart(Seq(1), keys[0]));
  REQUIRE(after.FinishedBeforeRestart(Seq(2), keys[1]));
  REQUIRE(after.FinishedBeforeRestart(Seq(3), keys[2]));
  REQUIRE_FALSE(after.FinishedBeforeRestart(Seq(4), keys[3]));
  REQUIRE_FALSE(after.FinishedBeforeRestart(Seq(5), keys[4]));
  // Nothing read yet: the restored positions are still the detail.
  REQUIRE(after.Detail() == detail);

  // The new run reads Seq(1) and Seq(2) only and commits: lane 1's Seq(3) stays recorded.
  after.Add(Seq(1), after.LaneOf(keys[0]));
  after.Add(Seq(2), after.LaneOf(keys[1]));
  after.FinishOne(Seq(2));
  after.Finish(0, Seq(1));
  REQUIRE(after.checkpoint_sequence() == Seq(2));
  REQUIRE(after.Detail() == json{{"lanes", 2}, {"laneDone", {{"1", Seq(3)}}}});

  // So a second restart from that checkpoint still skips Seq(3).
  ShardProgress again(2);
  REQUIRE(again.Restore(after.checkpoint_sequence(), after.Detail()).ok());
  REQUIRE(again.FinishedBeforeRestart(Seq(3), keys[2]));
  REQUIRE_FALSE(again.FinishedBeforeRestart(Seq(4), keys[3]));

  // Once the prefix has passed it, the restored position leaves the detail.
  after.Add(Seq(3), after.LaneOf(keys[2]));
  after.FinishOne(Seq(3));
  REQUIRE(after.checkpoint_sequence() == Seq(3));
  REQUIRE(after.Detail() == json{{"lanes", 2}, {"laneDone", json::object()}});
}

TEST_CASE("a restart with other lanes decides by the stored lanes and carries them as before",
          "[shard_progress]") {
  ShardProgress two_lanes(2);
  const std::vector<std::string> keys = {KeyInLane(two_lanes, 0, 0), KeyInLane(two_lanes, 1, 0),
                                         KeyInLane(two_lanes, 1, 1), KeyInLane(two_lanes, 0, 1)};
  for (int n = 1; n <= 4; ++n) {
    two_lanes.Add(Seq(n), two_lanes.LaneOf(keys[n - 1]));
  }
  two_lanes.Finish(1, Seq(3));
  const json detail = two_lanes.Detail();

  ShardProgress three_lanes(3);
  REQUIRE(three_lanes.Restore("", detail).ok());
  REQUIRE_FALSE(three_lanes.FinishedBeforeRestart(Seq(1), keys[0]));
  REQUIRE(three_lanes.FinishedBeforeRestart(Seq(2), keys[1]));
  REQUIRE(three_lanes.FinishedBeforeRestart(Seq(3), keys[2]));
  REQUIRE_FALSE(three_lanes.FinishedBeforeRestart(Seq(4), keys[3]));
  const json carried = {{"lanes", 2}, {"laneDone", {{"1", Seq(3)}}}};
  REQUIRE(three_lanes.Detail() ==
          json{{"lanes", 3}, {"laneDone", json::object()}, {"before", json::array({carried})}});

  // The new lanes spread the rest; the stored ones travel on until the prefix passes them.
  three_lanes.Add(Seq(1), three_lanes.LaneOf(keys[0]));
  three_lanes.Add(Seq(2), three_lanes.LaneOf(keys[1]));
  three_lanes.FinishOne(Seq(2));
  three_lanes.Finish(three_lanes.LaneOf(keys[0]), Seq(1));
  REQUIRE(three_lanes.checkpoint_sequence() == Seq(2));
  const json mid_detail = three_lanes.Detail();
  REQUIRE(mid_detail.at("before") == json::array({carried}));

  // A second restart, back to 2 lanes, still skips Seq(3).
  ShardProgress two_again(2);
  REQUIRE(two_again.Restore(Seq(2), mid_detail).ok());
  REQUIRE(two_again.FinishedBeforeRestart(Seq(3), keys[2]));
  REQUIRE(two_again.Detail() == carried);

  three_lanes.Add(Seq(3), three_lanes.LaneOf(keys[2]));
  three_lanes.FinishOne(Seq(3));
  REQUIRE(three_lanes.checkpoint_sequence() == Seq(3));
  REQUIRE(three_lanes.Detail() == json{{"lanes", 3}, {"laneDone", json::object()}});
}

TEST_CASE("a restored detail with before entries merges the ones of the new lane count",
          "[shard_progress]") {
  const json detail = {{"lanes", 3},
                       {"laneDone", {{"0", Seq(9)}}},
                       {"before", json::array({{{"lanes", 2}, {"laneDone", {{"1", Seq(7)}}}}})}};
  ShardProgress progress(2);
  REQUIRE(progress.Restore(Seq(1), detail).ok());
  REQUIRE(progress.checkpoint_sequence() == Seq(1));
  REQUIRE(progress.Detail() ==
          json{{"lanes", 2},
               {"laneDone", {{"1", Seq(7)}}},
               {"before", json::array({{{"lanes", 3}, {"laneDone", {{"0", Seq(9)}}}}})}});
}

TEST_CASE("a restore without detail starts from the sequence number alone", "[shard_progress]") {
  ShardProgress progress(2);
  progress.Add(Seq(1), 0);
  REQUIRE(progress.Restore(Seq(5), nullptr).ok());
  REQUIRE(progress.checkpoint_sequence() == Seq(5));
  REQUIRE(progress.pending() == 0);
  REQUIRE_FALSE(progress.FinishedBeforeRestart(Seq(6), "a"));
  progress.Add(Seq(6), 1);
  progress.Finish(1, Seq(6));
  REQUIRE(progress.checkpoint_sequence() == Seq(6));
}

TEST_CASE("Restore refuses a malformed checkpoint, naming what is wrong", "[shard_progress]") {
  ShardProgress progress(2);
  progress.Add(Seq(1), 0);
  progress.Add(Seq(2), 1);
  progress.Finish(1, Seq(2));

  RequireInvalid(progress.Restore("12", nullptr), "checkpoint sequence number");
  RequireInvalid(progress.Restore(Seq(1) + "0", nullptr), "38 digits");
  RequireInvalid(progress.Restore("", json::array()), "checkpoint detail: must be an object");
  RequireInvalid(progress.Restore("", {{"laneDone", json::object()}}),
                 "checkpoint detail: must have \"lanes\" and \"laneDone\"");
  RequireInvalid(progress.Restore("", {{"lanes", 0}, {"laneDone", json::object()}}),
                 "checkpoint detail.lanes: must be an integer from 1");
  RequireInvalid(progress.Restore("", {{"lanes", "2"}, {"laneDone", json::object()}}),
                 "checkpoint detail.lanes");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", json::array()}}),
                 "checkpoint detail.laneDone: must be an object");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", {{"2", Seq(1)}}}}),
                 "checkpoint detail.laneDone.2: not a lane number from 0 to 1");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", {{"01", Seq(1)}}}}),
                 "checkpoint detail.laneDone.01: not a lane number");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", {{"x", Seq(1)}}}}),
                 "checkpoint detail.laneDone.x: not a lane number");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", {{"0", "12"}}}}),
                 "checkpoint detail.laneDone.0: must be a 38-digit sequence number, got \"12\"");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", {{"0", 12}}}}),
                 "checkpoint detail.laneDone.0: must be a 38-digit sequence number, got 12");
  RequireInvalid(progress.Restore("", {{"lanes", 2}, {"laneDone", json::object()}, {"next", 1}}),
                 "checkpoint detail.next: unknown property");
  RequireInvalid(progress.Restore(
                     "", {{"lanes", 2}, {"laneDone", json::object()}, {"before", json::object()}}),
                 "checkpoint detail.before: must be an array");
  const json bad_before = {{"lanes", 3}, {"laneDone", {{"3", Seq(1)}}}};
  RequireInvalid(
      progress.Restore(
          "", {{"lanes", 2}, {"laneDone", json::object()}, {"before", json::array({bad_before})}}),
      "checkpoint detail.before[0].laneDone.3: not a lane number from 0 to 2");
  const json nested_before = {
      {"lanes", 3}, {"laneDone", json::object()}, {"before", json::array()}};
  RequireInvalid(progress.Restore("", {{"lanes", 2},
                                       {"laneDone", json::object()},
                                       {"before", json::array({nested_before})}}),
                 "checkpoint detail.before[0].before: unknown property");

  // A refused restore changes nothing.
  REQUIRE(progress.pending() == 2);
  REQUIRE(progress.Detail() == json{{"lanes", 2}, {"laneDone", {{"1", Seq(2)}}}});
  progress.Finish(0, Seq(1));
  REQUIRE(progress.checkpoint_sequence() == Seq(2));
}

}  // namespace
}  // namespace sluice::poller
