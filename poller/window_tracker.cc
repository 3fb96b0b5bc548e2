#include "poller/window_tracker.h"

#include <algorithm>
#include <cmath>

#include "base/json_fields.h"
#include "base/text.h"
#include "sluice/aws_json.h"

namespace sluice::poller {
namespace {

using nlohmann::json;

// A number above this is a time in milliseconds, at or below it one in seconds (1e11 s is in
// the year 5138, 1e11 ms in 1973).
constexpr double kMillisecondsAbove = 1e11;
// Times beyond 9999-12-31T23:59:59.999Z either way are not times.
constexpr double kMaxAbsTimeMs = 253402300799999.0;

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    return b > 0 ? INT64_MAX : INT64_MIN;
  }
  return sum;
}

int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t difference = 0;
  if (__builtin_sub_overflow(a, b, &difference)) {
    return b < 0 ? INT64_MAX : INT64_MIN;
  }
  return difference;
}

// The value at dotted `path` ("a.b.c": objects only) in `doc`, or null.
const json* FindPath(const json& doc, const std::string& path) {
  const json* node = &doc;
  size_t begin = 0;
  while (true) {
    const size_t dot = std::min(path.find('.', begin), path.size());
    if (!node->is_object()) {
      return nullptr;
    }
    auto child = node->find(path.substr(begin, dot - begin));
    if (child == node->end()) {
      return nullptr;
    }
    node = &*child;
    if (dot == path.size()) {
      return node;
    }
    begin = dot + 1;
  }
}

// A time field's value as Unix milliseconds: a number of seconds (or of milliseconds above
// 1e11), or an ISO-8601 UTC string. nullopt for anything else.
std::optional<int64_t> TimeFromValue(const json& value) {
  if (value.is_string()) {
    int64_t ms = 0;
    if (aws_json::MillisFromIso8601(value.get<std::string>(), &ms)) {
      return ms;
    }
    return std::nullopt;
  }
  if (!value.is_number()) {
    return std::nullopt;
  }
  const double number = value.get<double>();
  const double ms = number > kMillisecondsAbove ? number : number * 1000;
  if (!(std::fabs(ms) <= kMaxAbsTimeMs)) {
    return std::nullopt;
  }
  return std::llround(ms);
}

}  // namespace

WindowTracker::WindowTracker(const MappingConfig& config)
    : width_ms_(int64_t{config.tumbling_window_seconds} * 1000),
      time_field_(config.tumbling_window_time_field),
      lateness_ms_(int64_t{config.tumbling_window_allowed_lateness_seconds} * 1000) {}

int64_t WindowTracker::RecordTime(std::string_view data, int64_t arrival_ms) const {
  if (time_field_.empty() || !aws_json::JsonDepthWithin(data, aws_json::kMaxJsonDepth)) {
    return arrival_ms;
  }
  const json doc = json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return arrival_ms;
  }
  const json* value = FindPath(doc, time_field_);
  std::optional<int64_t> time_ms = value == nullptr ? std::nullopt : TimeFromValue(*value);
  return time_ms.value_or(arrival_ms);
}

int64_t WindowTracker::WindowStart(int64_t time_ms) const {
  const int64_t remainder = time_ms % width_ms_;
  return time_ms - (remainder < 0 ? remainder + width_ms_ : remainder);
}

std::optional<int64_t> WindowTracker::Assign(std::string_view data, int64_t arrival_ms,
                                             int64_t read_at_ms) {
  last_read_at_ms_ = std::max(last_read_at_ms_, read_at_ms);
  const int64_t time_ms = RecordTime(data, arrival_ms);
  int64_t start = WindowStart(time_ms);
  const bool is_open = open_.contains(start);
  const int64_t end = start + width_ms_;
  if (time_field_.empty()) {
    max_arrival_ms_ = std::max(max_arrival_ms_, arrival_ms);
    if (!is_open && end <= closed_before_) {
      // The reader was behind the clock: the record joins a window still to come, never lost.
      start = open_.empty() ? WindowStart(closed_before_) : open_.begin()->first;
    }
  } else {
    const bool late =
        !is_open && (end <= closed_before_ || end <= SaturatingSub(max_event_ms_, lateness_ms_));
    max_event_ms_ = std::max(max_event_ms_, time_ms);
    max_event_read_ms_ = std::max(max_event_read_ms_, time_ms);
    if (late) {
      ++late_records_;
      return std::nullopt;
    }
  }
  open_.try_emplace(start, OpenWindow{start, start + width_ms_, "{}"});
  return start;
}

int64_t WindowTracker::Watermark(int64_t now_ms, bool caught_up) const {
  if (time_field_.empty()) {
    // Behind (a backlog, or a lane holding the reader back), a window is complete only once a
    // record that arrived after it has been read.
    return caught_up ? now_ms : std::min(now_ms, max_arrival_ms_);
  }
  // Behind, only what this run has read counts: after a Restore the records between the
  // checkpoint and the saved highest event time come again, and their windows must wait for them.
  const int64_t max_event = caught_up ? max_event_ms_ : max_event_read_ms_;
  if (max_event == INT64_MIN) {
    return INT64_MIN;
  }
  int64_t watermark = SaturatingSub(max_event, lateness_ms_);
  if (caught_up && now_ms > last_read_at_ms_) {
    watermark = SaturatingAdd(watermark, SaturatingSub(now_ms, last_read_at_ms_));
  }
  return watermark;
}

std::vector<int64_t> WindowTracker::Due(int64_t now_ms, bool caught_up) const {
  const int64_t watermark = Watermark(now_ms, caught_up);
  std::vector<int64_t> due;
  for (const auto& [start, window] : open_) {
    if (window.end_ms <= watermark) {
      due.push_back(start);
    }
  }
  return due;
}

std::optional<int64_t> WindowTracker::NextDueAt() const {
  if (open_.empty()) {
    return std::nullopt;
  }
  const int64_t end = open_.begin()->second.end_ms;
  if (time_field_.empty()) {
    return end;
  }
  if (max_event_ms_ == INT64_MIN) {
    return std::nullopt;
  }
  // Caught up, the watermark is max_event - lateness + (now - last_read_at); it reaches `end` at:
  const int64_t event_time_left = SaturatingSub(end, SaturatingSub(max_event_ms_, lateness_ms_));
  return SaturatingAdd(last_read_at_ms_, event_time_left);
}

const OpenWindow* WindowTracker::Find(int64_t start_ms) const {
  auto window = open_.find(start_ms);
  return window == open_.end() ? nullptr : &window->second;
}

void WindowTracker::SetState(int64_t start_ms, std::string state_json) {
  auto window = open_.find(start_ms);
  if (window != open_.end()) {
    window->second.state_json = std::move(state_json);
  }
}

void WindowTracker::Close(int64_t start_ms) {
  open_.erase(start_ms);
  closed_before_ = std::max(closed_before_, start_ms + width_ms_);
}

void WindowTracker::Reset(int64_t start_ms) {
  auto window = open_.find(start_ms);
  if (window != open_.end()) {
    window->second.state_json = "{}";
  }
}

std::vector<int64_t> WindowTracker::open_windows() const {
  std::vector<int64_t> starts;
  starts.reserve(open_.size());
  for (const auto& [start, window] : open_) {
    starts.push_back(start);
  }
  return starts;
}

json WindowTracker::ToJson() const {
  json open = json::array();
  for (const auto& [start, window] : open_) {
    json state = json::parse(window.state_json, nullptr, /*allow_exceptions=*/false);
    open.push_back({{"start", start}, {"state", state.is_object() ? state : json::object()}});
  }
  return {{"open", std::move(open)},
          {"closedBefore", closed_before_},
          {"maxEventMs", max_event_ms_},
          {"lastReadAtMs", last_read_at_ms_}};
}

Status WindowTracker::Restore(const json& saved) {
  const std::string where = "window state";
  const JsonFields fields(saved, where);
  SLUICE_RETURN_IF_ERROR(fields.Check({"open", "closedBefore", "maxEventMs", "lastReadAtMs"}));
  int64_t closed_before = INT64_MIN;
  int64_t max_event_ms = INT64_MIN;
  int64_t last_read_at_ms = 0;
  SLUICE_RETURN_IF_ERROR(fields.Integer("closedBefore", INT64_MIN, INT64_MAX, &closed_before));
  SLUICE_RETURN_IF_ERROR(fields.Integer("maxEventMs", INT64_MIN, INT64_MAX, &max_event_ms));
  SLUICE_RETURN_IF_ERROR(fields.Integer("lastReadAtMs", INT64_MIN, INT64_MAX, &last_read_at_ms));
  Result<std::vector<const json*>> saved_open = fields.Array("open");
  if (!saved_open.ok()) {
    return saved_open.status();
  }
  std::map<int64_t, OpenWindow> open;
  for (size_t i = 0; i < saved_open->size(); ++i) {
    const std::string at = Indexed(where + ".open", i);
    const JsonFields window(*(*saved_open)[i], at);
    SLUICE_RETURN_IF_ERROR(window.Check({"start", "state"}));
    if (!window.Has("start")) {
      return InvalidArgument(window.Where("start") + ": required");
    }
    // Starts beyond ±2^62 would overflow start + width.
    int64_t start = 0;
    SLUICE_RETURN_IF_ERROR(window.Integer("start", -(int64_t{1} << 62), int64_t{1} << 62, &start));
    if (WindowStart(start) != start) {
      return InvalidArgument(window.Where("start") + ": " + std::to_string(start) +
                             " is not a multiple of the window width, " +
                             std::to_string(width_ms_) + " ms");
    }
    Result<const json*> state = window.Object("state");
    if (!state.ok()) {
      return state.status();
    }
    OpenWindow restored{
        start, start + width_ms_,
        *state == nullptr ? "{}" : (*state)->dump(-1, ' ', false, json::error_handler_t::replace)};
    if (!open.emplace(start, std::move(restored)).second) {
      return InvalidArgument(window.Where("start") + ": " + std::to_string(start) +
                             " is open twice");
    }
  }
  open_ = std::move(open);
  closed_before_ = closed_before;
  max_event_ms_ = max_event_ms;
  last_read_at_ms_ = last_read_at_ms;
  return Status::Ok();
}

}  // namespace sluice::poller
