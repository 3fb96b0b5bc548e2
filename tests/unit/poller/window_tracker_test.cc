// WindowTracker: window assignment by arrival and by event time, the watermark, late records,
// window state, and the saved form.
#include "poller/window_tracker.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::poller {
namespace {

using nlohmann::json;
using Starts = std::vector<int64_t>;

constexpr int64_t kMinute = 60'000;
constexpr int64_t kDay = 86'400'000;
// 2027-01-15T08:00:00Z, a whole minute.
constexpr int64_t kT = 1'800'000'000'000;
constexpr int64_t kTSeconds = kT / 1000;

MappingConfig Windows(int32_t seconds, std::string time_field = "", int32_t lateness_seconds = 0) {
  MappingConfig config;
  config.tumbling_window_seconds = seconds;
  config.tumbling_window_time_field = std::move(time_field);
  config.tumbling_window_allowed_lateness_seconds = lateness_seconds;
  return config;
}

// {"ts": seconds}
std::string At(int64_t seconds) {
  return json{{"ts", seconds}}.dump();
}

void RequireInvalid(const Status& status, const std::string& mentions) {
  INFO(status.ToString());
  REQUIRE(status.code() == Code::kInvalidArgument);
  REQUIRE_THAT(status.message(), Catch::Contains(mentions));
}

TEST_CASE("arrival time: records fall in the window of their arrival, due by the clock",
          "[window_tracker]") {
  WindowTracker windows(Windows(60));
  REQUIRE(windows.NextDueAt() == std::nullopt);
  REQUIRE(windows.Assign("a", kT, kT) == kT);
  REQUIRE(windows.Assign("b", kT + kMinute - 1, kT + kMinute) == kT);
  REQUIRE(windows.Assign("c", kT + kMinute, kT + kMinute) == kT + kMinute);
  REQUIRE(windows.open_windows() == Starts{kT, kT + kMinute});

  const OpenWindow* first = windows.Find(kT);
  REQUIRE(first != nullptr);
  REQUIRE(first->start_ms == kT);
  REQUIRE(first->end_ms == kT + kMinute);
  REQUIRE(first->state_json == "{}");
  REQUIRE(windows.Find(kT + 1) == nullptr);

  REQUIRE(windows.Due(kT + kMinute - 1, true).empty());
  REQUIRE(windows.Due(kT + kMinute, true) == Starts{kT});
  REQUIRE(windows.Due(kT + 2 * kMinute, true) == Starts{kT, kT + kMinute});
  // Behind, the newest arrival read (kT + kMinute) is the watermark, whatever the clock says.
  REQUIRE(windows.Due(kT + 2 * kMinute, false) == Starts{kT});
  REQUIRE(windows.NextDueAt() == kT + kMinute);

  windows.Close(kT);
  REQUIRE(windows.NextDueAt() == kT + 2 * kMinute);
  windows.Close(kT + kMinute);
  REQUIRE(windows.NextDueAt() == std::nullopt);
  REQUIRE(windows.late_records() == 0);
}

TEST_CASE("arrival time: a record of a closed window joins the oldest open one or the next",
          "[window_tracker]") {
  WindowTracker windows(Windows(60));
  REQUIRE(windows.Assign("a", kT + 10, kT + 10) == kT);
  windows.Close(kT);
  // Nothing open: the window after the closed ones opens.
  REQUIRE(windows.Assign("late", kT + 20, kT + kMinute + 5) == kT + kMinute);
  REQUIRE(windows.Assign("b", kT + kMinute + 10, kT + kMinute + 10) == kT + kMinute);
  REQUIRE(windows.Assign("c", kT + 2 * kMinute, kT + 2 * kMinute) == kT + 2 * kMinute);
  windows.Close(kT + kMinute);
  // Windows open: the oldest of them takes it.
  REQUIRE(windows.Assign("later", kT + 30, kT + 2 * kMinute + 1) == kT + 2 * kMinute);
  REQUIRE(windows.open_windows() == Starts{kT + 2 * kMinute});
  REQUIRE(windows.late_records() == 0);
}

TEST_CASE("window starts use floor division before the epoch", "[window_tracker]") {
  WindowTracker windows(Windows(60));
  REQUIRE(windows.Assign("a", -1, 0) == -kMinute);
  REQUIRE(windows.Assign("b", -kMinute, 0) == -kMinute);
  REQUIRE(windows.Assign("c", -kMinute - 1, 0) == -2 * kMinute);
  REQUIRE(windows.Assign("d", 0, 0) == 0);
}

TEST_CASE("event time with lateness keeps several windows open until event time passes them",
          "[window_tracker]") {
  WindowTracker windows(Windows(60, "ts", 120));
  REQUIRE(windows.Assign(At(kTSeconds + 130), kT + 5 * kMinute, kT) == kT + 2 * kMinute);
  // Out of order, within the lateness: older windows open beside it.
  REQUIRE(windows.Assign(At(kTSeconds + 10), kT, kT) == kT);
  REQUIRE(windows.Assign(At(kTSeconds + 70), kT, kT) == kT + kMinute);
  REQUIRE(windows.Assign(At(kTSeconds + 20), kT, kT) == kT);
  REQUIRE(windows.open_windows() == Starts{kT, kT + kMinute, kT + 2 * kMinute});

  // Watermark: 130 s - 120 s = 10 s; the clock does not count while not caught up.
  REQUIRE(windows.Due(kT + kDay, false).empty());
  REQUIRE(windows.Assign(At(kTSeconds + 185), kT, kT) == kT + 3 * kMinute);
  REQUIRE(windows.Due(kT + kDay, false) == Starts{kT});  // watermark 65 s
  REQUIRE(windows.Assign(At(kTSeconds + 250), kT, kT) == kT + 4 * kMinute);
  REQUIRE(windows.Due(kT, false) == Starts{kT, kT + kMinute});  // watermark 130 s
  REQUIRE(windows.late_records() == 0);
}

TEST_CASE("event time: a record of a closed or long-passed window is counted late and dropped",
          "[window_tracker]") {
  WindowTracker windows(Windows(60, "ts", 30));
  REQUIRE(windows.Assign(At(kTSeconds + 10), kT, kT) == kT);
  REQUIRE(windows.Assign(At(kTSeconds + 95), kT, kT) == kT + kMinute);
  REQUIRE(windows.Due(kT, false) == Starts{kT});  // watermark 65 s
  windows.Close(kT);

  REQUIRE(windows.Assign(At(kTSeconds + 5), kT, kT) == std::nullopt);
  REQUIRE(windows.late_records() == 1);

  REQUIRE(windows.Assign(At(kTSeconds + 215), kT, kT) == kT + 3 * kMinute);
  // Watermark 185 s: window [120 s, 180 s) never opened and is over.
  REQUIRE(windows.Assign(At(kTSeconds + 150), kT, kT) == std::nullopt);
  REQUIRE(windows.late_records() == 2);
  // Window [60 s, 120 s) is due but still open (not closed yet): it takes the record.
  REQUIRE(windows.Assign(At(kTSeconds + 100), kT, kT) == kT + kMinute);
  REQUIRE(windows.open_windows() == Starts{kT + kMinute, kT + 3 * kMinute});
  REQUIRE(windows.late_records() == 2);
}

TEST_CASE("caught up, the event-time watermark follows the clock from the newest read",
          "[window_tracker]") {
  WindowTracker windows(Windows(60, "ts", 10));
  const int64_t read_at = kT + kDay;  // a replay: the clock is far ahead of event time
  REQUIRE(windows.Assign(At(kTSeconds + 30), read_at, read_at) == kT);
  // Watermark 20 s at read_at; the window ends at 60 s, 40 s of clock later.
  REQUIRE(windows.NextDueAt() == read_at + 40'000);
  REQUIRE(windows.Due(read_at + 39'999, true).empty());
  REQUIRE(windows.Due(read_at + 40'000, true) == Starts{kT});
  REQUIRE(windows.Due(read_at + 40'000, false).empty());
  REQUIRE(windows.Due(read_at - 5'000, true).empty());

  // A newer read restarts the clock part from its own time.
  REQUIRE(windows.Assign(At(kTSeconds + 35), read_at + 30'000, read_at + 30'000) == kT);
  REQUIRE(windows.NextDueAt() == read_at + 30'000 + 35'000);
  REQUIRE(windows.Due(read_at + 64'999, true).empty());
  REQUIRE(windows.Due(read_at + 65'000, true) == Starts{kT});
}

TEST_CASE("SetState, Reset and Close", "[window_tracker]") {
  WindowTracker windows(Windows(60));
  REQUIRE(windows.Assign("a", kT + 1, kT + 1) == kT);
  windows.SetState(kT, R"({"count":1})");
  REQUIRE(windows.Find(kT)->state_json == R"({"count":1})");
  windows.SetState(kT + kMinute, R"({"count":9})");  // not open: ignored
  REQUIRE(windows.Find(kT + kMinute) == nullptr);

  // Reset ends the window early without closing its interval: it stays open with fresh state.
  windows.Reset(kT);
  REQUIRE(windows.open_windows() == Starts{kT});
  REQUIRE(windows.Find(kT)->state_json == "{}");
  REQUIRE(windows.Assign("b", kT + 2, kT + 2) == kT);

  // Close ends it for good: later records of its interval go on to the next window.
  windows.Close(kT);
  REQUIRE(windows.Find(kT) == nullptr);
  REQUIRE(windows.Assign("c", kT + 3, kT + 3) == kT + kMinute);
}

TEST_CASE("event time: Reset keeps the interval open, Close makes it late", "[window_tracker]") {
  WindowTracker windows(Windows(60, "ts", 0));
  REQUIRE(windows.Assign(At(kTSeconds + 1), kT, kT) == kT);
  windows.Reset(kT);
  REQUIRE(windows.Assign(At(kTSeconds + 2), kT, kT) == kT);
  windows.Close(kT);
  REQUIRE(windows.Assign(At(kTSeconds + 3), kT, kT) == std::nullopt);
  REQUIRE(windows.late_records() == 1);
}

TEST_CASE("ToJson and Restore round trip", "[window_tracker]") {
  const MappingConfig config = Windows(60, "ts", 60);
  WindowTracker windows(config);
  REQUIRE(windows.Assign(At(kTSeconds + 10), kT, kT + 100) == kT);
  REQUIRE(windows.Assign(At(kTSeconds + 70), kT, kT + 200) == kT + kMinute);
  REQUIRE(windows.Assign(At(kTSeconds + 130), kT, kT + 300) == kT + 2 * kMinute);
  windows.Close(kT);
  windows.SetState(kT + kMinute, R"({"sum":"42"})");

  const json saved = windows.ToJson();
  REQUIRE(saved ==
          json{{"open", json::array({{{"start", kT + kMinute}, {"state", {{"sum", "42"}}}},
                                     {{"start", kT + 2 * kMinute}, {"state", json::object()}}})},
               {"closedBefore", kT + kMinute},
               {"maxEventMs", kT + 130'000},
               {"lastReadAtMs", kT + 300}});

  WindowTracker restored(config);
  REQUIRE(restored.Restore(json::parse(saved.dump())).ok());
  REQUIRE(restored.ToJson() == saved);
  REQUIRE(restored.open_windows() == Starts{kT + kMinute, kT + 2 * kMinute});
  REQUIRE(json::parse(restored.Find(kT + kMinute)->state_json) == json{{"sum", "42"}});
  REQUIRE(restored.Find(kT + 2 * kMinute)->end_ms == kT + 3 * kMinute);
  REQUIRE(restored.NextDueAt() == windows.NextDueAt());
  REQUIRE(restored.Due(kT + 400, true) == windows.Due(kT + 400, true));
  // The closed window stays closed.
  REQUIRE(restored.Assign(At(kTSeconds + 15), kT, kT + 400) == std::nullopt);

  // An empty tracker round-trips too.
  const WindowTracker fresh(config);
  WindowTracker fresh_restored(config);
  REQUIRE(fresh_restored.Restore(fresh.ToJson()).ok());
  REQUIRE(fresh_restored.ToJson() == fresh.ToJson());
  REQUIRE(fresh_restored.NextDueAt() == std::nullopt);
}

TEST_CASE(
    "event time after a Restore: while behind, a window waits for event time read again, not the "
    "saved highest",
    "[window_tracker]") {
  const MappingConfig config = Windows(60, "ts", 10);
  WindowTracker before(config);
  // The reader had read ahead into the third minute; the checkpoint is in the first.
  REQUIRE(before.Assign(At(kTSeconds + 10), kT, kT + 100) == kT);
  REQUIRE(before.Assign(At(kTSeconds + 130), kT, kT + 200) == kT + 2 * kMinute);
  REQUIRE(before.Due(kT + 300, false) == Starts{kT});  // the first minute is over

  WindowTracker restored(config);
  REQUIRE(restored.Restore(before.ToJson()).ok());
  // Behind after the restart: the first minute's records after the checkpoint come again.
  CHECK(restored.Due(kT + 300, false).empty());
  REQUIRE(restored.Assign(At(kTSeconds + 50), kT, kT + 400) == kT);  // not late: still open
  CHECK(restored.Due(kT + 400, false).empty());
  REQUIRE(restored.Assign(At(kTSeconds + 130), kT, kT + 500) == kT + 2 * kMinute);
  CHECK(restored.Due(kT + 500, false) == Starts{kT});
  // Caught up, the saved highest event time counts again (a quiet shard's windows close).
  WindowTracker idle(config);
  REQUIRE(idle.Restore(before.ToJson()).ok());
  CHECK(idle.Due(kT + 300, true) == Starts{kT});
}

TEST_CASE("Restore refuses what ToJson could not have made", "[window_tracker]") {
  WindowTracker windows(Windows(60));
  REQUIRE(windows.Assign("a", kT, kT) == kT);
  const json before = windows.ToJson();

  RequireInvalid(windows.Restore(json::array()), "window state: must be an object");
  RequireInvalid(windows.Restore({{"opened", json::array()}}),
                 "window state.opened: unknown property");
  RequireInvalid(windows.Restore({{"open", json::object()}}),
                 "window state.open: must be an array");
  RequireInvalid(windows.Restore({{"open", json::array({json{{"state", json::object()}}})}}),
                 "window state.open[0].start: required");
  RequireInvalid(windows.Restore({{"open", json::array({json{{"start", "x"}}})}}),
                 "window state.open[0].start: must be an integer");
  RequireInvalid(windows.Restore({{"open", json::array({json{{"start", kT + 1}}})}}),
                 "window state.open[0].start: 1800000000001 is not a multiple of the window width, "
                 "60000 ms");
  RequireInvalid(
      windows.Restore({{"open", json::array({json{{"start", kT}}, json{{"start", kT}}})}}),
      "window state.open[1].start: 1800000000000 is open twice");
  RequireInvalid(windows.Restore({{"open", json::array({json{{"start", kT}, {"state", "{}"}}})}}),
                 "window state.open[0].state: must be an object");
  RequireInvalid(windows.Restore({{"closedBefore", "x"}}),
                 "window state.closedBefore: must be an integer");
  RequireInvalid(windows.Restore({{"maxEventMs", 1.5}}), "window state.maxEventMs");
  RequireInvalid(windows.Restore({{"lastReadAtMs", true}}), "window state.lastReadAtMs");

  // A refused restore changes nothing.
  REQUIRE(windows.ToJson() == before);
}

TEST_CASE("event time from the time field: seconds, milliseconds, ISO-8601, a dotted path",
          "[window_tracker]") {
  // A day of lateness: nothing here is late; arrival times are far off to tell them apart.
  const int64_t arrival = kT + 100 * kDay;
  const auto window_of = [&](const json& event_time) {
    WindowTracker windows(Windows(60, "meta.event_time", 86400));
    return windows.Assign(json{{"meta", {{"event_time", event_time}}}}.dump(), arrival, arrival);
  };
  REQUIRE(window_of(kTSeconds + 5) == kT);
  REQUIRE(window_of(kTSeconds + 59.999) == kT);
  REQUIRE(window_of(kTSeconds + 65.5) == kT + kMinute);
  REQUIRE(window_of(kT + 61'000) == kT + kMinute);            // milliseconds
  REQUIRE(window_of(100'000'000'000) == 99'999'999'960'000);  // 1e11: still seconds
  REQUIRE(window_of(100'000'020'001) == 100'000'020'000);     // above 1e11: milliseconds
  REQUIRE(window_of(-30) == -kMinute);
  REQUIRE(window_of("2027-01-15T08:00:05Z") == kT);
  REQUIRE(window_of("2027-01-15T08:01:05.123Z") == kT + kMinute);
  REQUIRE(window_of("2027-01-15T08:01:59.999Z") == kT + kMinute);
}

TEST_CASE("a record without a valid event time falls back to its arrival time",
          "[window_tracker]") {
  const int64_t arrival = kT + 5 * kMinute + 7;
  const std::vector<std::string> data = {
      "not json",
      "",
      R"({"ts": 1800000000)",
      R"({"other": 1800000000})",
      R"({"ts": "yesterday"})",
      R"({"ts": "2027-01-15 08:00:05Z"})",
      R"({"ts": true})",
      R"({"ts": null})",
      R"({"ts": {"seconds": 1800000000}})",
      R"({"ts": 1e300})",
      R"([1800000000])",
      "1800000000",
      std::string(1000, '[') + std::string(1000, ']'),
  };
  for (const std::string& record : data) {
    INFO(record.substr(0, 60));
    WindowTracker windows(Windows(60, "ts", 0));
    REQUIRE(windows.Assign(record, arrival, arrival) == kT + 5 * kMinute);
  }
  // A path through something that is not an object.
  WindowTracker nested(Windows(60, "a.b", 3600));
  REQUIRE(nested.Assign(R"({"a": 1800000000})", arrival, arrival) == kT + 5 * kMinute);
  REQUIRE(nested.Assign(R"({"a": {"b": 1800000000}})", arrival, arrival) == kT);
}

TEST_CASE("windows of 24 hours align on UTC days", "[window_tracker]") {
  // 2026-11-22T00:00:00Z
  constexpr int64_t kDayStart = 1'795'305'600'000;
  WindowTracker by_arrival(Windows(86400));
  REQUIRE(by_arrival.Assign("a", kDayStart + 23 * 3'600'000, kDayStart) == kDayStart);
  REQUIRE(by_arrival.Assign("b", kDayStart + kDay, kDayStart) == kDayStart + kDay);
  REQUIRE(by_arrival.NextDueAt() == kDayStart + kDay);
  REQUIRE(by_arrival.Due(kDayStart + kDay - 1, true).empty());
  REQUIRE(by_arrival.Due(kDayStart + kDay, true) == Starts{kDayStart});

  WindowTracker by_event(Windows(86400, "time", 3600));
  REQUIRE(by_event.Assign(R"({"time": "2026-11-21T23:59:59.999Z"})", 0, 0) == kDayStart - kDay);
  REQUIRE(by_event.Assign(R"({"time": "2026-11-22T10:30:00Z"})", 0, 0) == kDayStart);
  REQUIRE(by_event.Assign(R"({"time": "2026-11-23T00:30:00Z"})", 0, 0) == kDayStart + kDay);
  // Watermark 2026-11-22T23:30: yesterday is due, today is not.
  REQUIRE(by_event.Due(0, false) == Starts{kDayStart - kDay});
}

}  // namespace
}  // namespace sluice::poller
