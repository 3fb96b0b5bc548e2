// Tumbling windows: the state travels from invoke to invoke of a window, the clock fires the
// window's final invoke with no new record, a response without state fails the invoke, a state
// over 1 MiB ends the window early, and event-time windows of a replay close as soon as the
// shard's event time has passed them.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using nlohmann::json;
using Strings = std::vector<std::string>;

constexpr int64_t kWindowMs = 60'000;
constexpr int64_t kBase = 1'600'000'020;  // Unix seconds, a multiple of 60

// Records with event times (field "t", Unix seconds) in three windows long before the clock: a
// replay. Two in the first window, one in each of the next two.
void PutReplay(PollerFixture& f) {
  f.Put({{"a", json{{"t", kBase + 1}}.dump()},
         {"b", json{{"t", kBase + 2}}.dump()},
         {"a", json{{"t", kBase + 61}}.dump()},
         {"a", json{{"t", kBase + 125}}.dump()}});
}

TEST_CASE("a tumbling window carries its state and the clock fires its final invoke") {
  PollerFixture f;
  const std::string uuid = f.Attach({{"TumblingWindowInSeconds", 60}});
  const int64_t start = f.clock().UnixMillis() / kWindowMs * kWindowMs;

  f.Put({{"a", "r0"}, {"b", "r1"}});
  const SeenBatch first = f.WaitForBatches(1)[0];
  CHECK(first.has_window);
  CHECK(first.window_start_ms == start);
  CHECK(first.window_end_ms == start + kWindowMs);
  CHECK(first.state == json::object());
  CHECK_FALSE(first.final_invoke);
  CHECK(first.Data() == Strings{"r0", "r1"});
  // Nothing more until a record comes (the reader goes idle meanwhile).
  f.ExpectBatchCountStays(1);

  f.Put("a", "r2");
  const SeenBatch second = f.WaitForBatches(2)[1];
  CHECK(second.window_start_ms == start);
  CHECK(second.state == json{{"keys", {{"a", 1}, {"b", 1}}}});
  CHECK_FALSE(second.final_invoke);

  // Up to the window's end nothing more happens; at its end the final invoke runs.
  f.clock().Advance(std::chrono::milliseconds(start + kWindowMs - 1 - f.clock().UnixMillis()));
  f.ExpectBatchCountStays(2);
  f.clock().Advance(std::chrono::milliseconds(1));
  const SeenBatch final_invoke = f.WaitForBatches(3)[2];
  CHECK(final_invoke.final_invoke);
  CHECK_FALSE(final_invoke.terminated_early);
  CHECK(final_invoke.records.empty());
  CHECK(final_invoke.window_start_ms == start);
  CHECK(final_invoke.state == json{{"keys", {{"a", 2}, {"b", 1}}}});

  // Its success closes the window: the checkpoint holds no open window.
  f.WaitUntil(
      [&] {
        const std::optional<state::Checkpoint> checkpoint = f.Checkpoint(uuid);
        return checkpoint && json::parse(checkpoint->detail_json)["windows"]["open"].empty();
      },
      "the window to close in the checkpoint");
  f.ExpectBatchCountStays(3);
  CHECK(f.Count("a") == 2);
  CHECK(f.Count("b") == 1);
}

TEST_CASE("a window response without state fails the invoke") {
  PollerFixture f;
  const std::string dlq = f.Path("dlq");
  const std::string seq = f.Put("a", "no-state");
  const std::string uuid = f.Attach({{"TumblingWindowInSeconds", 60},
                                     {"MaximumRetryAttempts", 0},
                                     {"DestinationConfig", OnFailure("file://" + dlq)}});
  f.WaitForPosition(uuid, seq);
  const auto files = f.JsonFilesUnder(dlq);
  REQUIRE(files.size() == 1);
  CHECK(files[0].second["requestContext"]["condition"] == "RetryAttemptsExhausted");
  CHECK(files[0].second["responseContext"]["functionError"] == "Unhandled");
  f.ExpectBatchCountStays(1);
  CHECK(f.Count("a") == 0);
}

TEST_CASE("a window state over 1 MiB ends the window early") {
  PollerFixture f;
  f.Attach({{"TumblingWindowInSeconds", 60}});
  const int64_t start = f.clock().UnixMillis() / kWindowMs * kWindowMs;
  f.Put("a", "big-state");

  // With no clock movement: the final invoke, terminated early, gets the big state.
  const SeenBatch ended = f.WaitForBatches(2)[1];
  CHECK(ended.final_invoke);
  CHECK(ended.terminated_early);
  CHECK(ended.records.empty());
  CHECK(ended.window_start_ms == start);
  CHECK(ended.state["big"].get<uint64_t>() > (1u << 20));
  CHECK(ended.state["keys"] == json{{"a", 1}});

  // The window goes on with a fresh state, and ends when it is due.
  f.ExpectBatchCountStays(2);
  f.Put("b", "r1");
  const SeenBatch again = f.WaitForBatches(3)[2];
  CHECK(again.window_start_ms == start);
  CHECK(again.state == json::object());
  CHECK_FALSE(again.final_invoke);
  f.clock().Advance(std::chrono::milliseconds(start + kWindowMs - f.clock().UnixMillis()));
  const SeenBatch due = f.WaitForBatches(4)[3];
  CHECK(due.final_invoke);
  CHECK_FALSE(due.terminated_early);
  CHECK(due.state == json{{"keys", {{"b", 1}}}});
  CHECK(f.Count("a") == 1);
  CHECK(f.Count("b") == 1);
}

TEST_CASE("event-time windows of a replay close as soon as event time has passed them") {
  PollerFixture f;
  PutReplay(f);
  f.Attach({{"TumblingWindowInSeconds", 60}, {"TumblingWindowTimeField", "t"}});

  // Without any clock movement, the two windows the newest record is past close.
  const std::vector<SeenBatch> replay = f.WaitForBatches(5);
  const auto window_of = [](int64_t first_second) { return first_second * 1000; };
  CHECK(replay[0].window_start_ms == window_of(kBase));
  CHECK(replay[0].records.size() == 2);
  CHECK(replay[1].window_start_ms == window_of(kBase));
  CHECK(replay[1].final_invoke);
  CHECK(replay[1].state == json{{"keys", {{"a", 1}, {"b", 1}}}});
  CHECK(replay[2].window_start_ms == window_of(kBase + 60));
  CHECK(replay[2].records.size() == 1);
  CHECK(replay[3].window_start_ms == window_of(kBase + 60));
  CHECK(replay[3].final_invoke);
  CHECK(replay[4].window_start_ms == window_of(kBase + 120));
  CHECK_FALSE(replay[4].final_invoke);
  f.ExpectBatchCountStays(5);

  // The last window closes once the clock carries event time past its end.
  f.AdvanceUntil(
      std::chrono::seconds(5), [&] { return f.Batches().size() == 6; },
      "the final invoke of the last window");
  const SeenBatch last = f.Batches()[5];
  CHECK(last.final_invoke);
  CHECK(last.window_start_ms == window_of(kBase + 120));
  CHECK(last.state == json{{"keys", {{"a", 1}}}});
}

TEST_CASE(
    "a window's batch does not wait out the batching window once a later window's records "
    "are queued behind it") {
  PollerFixture f;
  PutReplay(f);
  f.Attach({{"TumblingWindowInSeconds", 60},
            {"TumblingWindowTimeField", "t"},
            {"MaximumBatchingWindowInSeconds", 300}});
  // The clock stays still: only the records of the last window wait for the batching window.
  const std::vector<SeenBatch> batches = f.WaitForBatches(4);
  CHECK(batches[0].Data().size() == 2);
  CHECK(batches[1].final_invoke);
  CHECK(batches[2].Data().size() == 1);
  CHECK(batches[3].final_invoke);
  f.ExpectBatchCountStays(4);
  f.AdvanceUntil(
      std::chrono::seconds(30), [&] { return f.Batches().size() >= 5; },
      "the last window's batch after the batching window");
  CHECK(f.Batches()[4].window_start_ms == (kBase + 120) * 1000);
  CHECK(f.Batches()[4].Data().size() == 1);
}

}  // namespace
}  // namespace sluice::poller::testing
