// WindowTracker: the tumbling windows of one shard of one mapping (TumblingWindowInSeconds).
//
// Windows are back-to-back intervals [start, start + W) aligned on multiples of W since the Unix
// epoch, W = TumblingWindowInSeconds. A record's time is either
// - its arrival time (Lambda's rule), or
// - with TumblingWindowTimeField, the value of that field in its JSON data (a dotted path; a
//   number is Unix seconds, or milliseconds when it is above 1e11; a string is ISO-8601 UTC). A
//   record whose data is not JSON or lacks a valid time falls back to its arrival time.
//
// Several windows can be open at once (event time with lateness); each carries its state (a JSON
// object, "{}" when it opens) from one invoke to the next. The watermark says which windows are
// complete:
// - arrival time: the host clock (now) when the shard is caught up, since a record arriving later
//   belongs to a later window; while the reader is behind, the arrival of the newest record read
//   (so a backlog's windows close as the reader passes them, not all at once by the clock);
// - event time: the highest event time seen minus the allowed lateness; and when the shard is
//   caught up (nothing unread), the watermark also moves on with the clock from the moment the
//   newest record was read, as if event time kept flowing, so the last window of a replay or of a
//   quiet station closes without new records. While the reader is behind, only event times read
//   since the tracker was made or restored count: after a restart the records past the
//   checkpoint are read again, and a restored window must not close before its own come back.
// A window whose end is at or below the watermark is due for its final invoke. A record whose
// window has already been closed is late: with arrival time it joins the oldest open window (or
// opens the one after the closed ones), never lost; with event time it is counted as late and
// dropped, as is an event-time record whose window is not open and ends at or below the highest
// event time seen minus the allowed lateness (its window would be over before it opened).
//
// State persists with the checkpoint (ToJson/Restore), so a restart resumes open windows.
//
// Thread-safety: not thread-safe; used by the shard poller's thread.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "poller/mapping_config.h"

namespace sluice::poller {

struct OpenWindow {
  int64_t start_ms = 0;
  int64_t end_ms = 0;
  std::string state_json = "{}";
};

class WindowTracker {
 public:
  // REQUIRES: config.has_windows().
  explicit WindowTracker(const MappingConfig& config);

  // The start of the window `data` (arriving at `arrival_ms`) belongs to, opening that window if
  // it is not open; nullopt for a late event-time record (then it belongs to no window). Also
  // advances the event-time watermark. `read_at_ms` is the host clock when it was read.
  // Times are Unix milliseconds.
  std::optional<int64_t> Assign(std::string_view data, int64_t arrival_ms, int64_t read_at_ms);

  // The open windows due for their final invoke at `now_ms`, oldest first. `caught_up`: the
  // reader has read everything committed so far (lets the event-time watermark follow the clock).
  std::vector<int64_t> Due(int64_t now_ms, bool caught_up) const;
  // When the next window becomes due if nothing else happens (for the poller's timer), or nullopt
  // when no window is open. For event time this assumes the shard stays caught up (and is nullopt
  // while no event time is known, after a Restore of a state without one).
  std::optional<int64_t> NextDueAt() const;

  const OpenWindow* Find(int64_t start_ms) const;
  // The state after an invoke of window `start_ms` succeeded. REQUIRES: the window is open and
  // state_json is a JSON object's text (the invoke response parser checks it).
  void SetState(int64_t start_ms, std::string state_json);
  // Forgets a window after its final invoke; later records of its time are late. Windows are
  // closed oldest first (as Due lists them).
  void Close(int64_t start_ms);
  // Ends a window early (state over 1 MiB), after its final invoke: the window stays open with
  // fresh state "{}", so the rest of its records (queued ones too) aggregate again and get a final
  // invoke when it is due.
  void Reset(int64_t start_ms);
  std::vector<int64_t> open_windows() const;  // oldest first
  uint64_t late_records() const { return late_records_; }

  // {"open": [{"start": ms, "state": {...}}, ...], "closedBefore": ms, "maxEventMs": ms,
  //  "lastReadAtMs": ms}. Restore accepts what ToJson made and nothing else (InvalidArgument,
  // and nothing changes): open windows must start on multiples of the window width, so a state
  // saved under another TumblingWindowInSeconds is refused. late_records() is not saved.
  nlohmann::json ToJson() const;
  Status Restore(const nlohmann::json& saved);

 private:
  // The record's time: its time field's value, else its arrival time.
  int64_t RecordTime(std::string_view data, int64_t arrival_ms) const;
  int64_t WindowStart(int64_t time_ms) const;  // floor(time / W) * W
  // The watermark at `now_ms` (INT64_MIN while nothing can be due).
  int64_t Watermark(int64_t now_ms, bool caught_up) const;

  const int64_t width_ms_;
  const std::string time_field_;  // "" for arrival time
  const int64_t lateness_ms_;
  std::map<int64_t, OpenWindow> open_;     // by start
  int64_t closed_before_ = INT64_MIN;      // every window ending at or before it has been closed
  int64_t max_event_ms_ = INT64_MIN;       // event time: highest seen
  int64_t max_event_read_ms_ = INT64_MIN;  // event time: highest read since made (not saved)
  int64_t max_arrival_ms_ = INT64_MIN;     // arrival time: newest record read (not saved)
  int64_t last_read_at_ms_ = 0;            // host clock when the newest record was read
  uint64_t late_records_ = 0;
};

}  // namespace sluice::poller
