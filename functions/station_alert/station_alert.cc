// station_alert: ABC Tolls low-traffic alerts. Counts the vehicles each toll station sees per
// 30-minute slot and alerts once when a slot ends below the station's minimum for that slot.
//
// Mapping: TumblingWindowInSeconds 1800, TumblingWindowTimeField event_time (a slot is a window),
// TumblingWindowAllowedLatenessInSeconds 10 in the ABC Tolls stack. Each record is a toll
// transaction, JSON with "station_id" (also its partition key). The window state counts vehicles
// per station:
// {"S-03": 17, "S-11": 4}.
//
// reference.csv, shipped next to the executable (LAMBDA_TASK_ROOT), gives the minimum per station,
// day of week and slot (UTC):
//   station_id,day_of_week,slot_start,min_vehicles
//   S-01,Wed,14:00,100
// A slot missing from it has no minimum. The file is read once, at start-up; a malformed file is
// an init error naming the line.
//
// On a window's final invoke the function evaluates every reference station its shard owns
// (StreamBatch::OwnsPartitionKey), including those with no record in the slot (0 vehicles). Slots
// the shard never opened a window for (it saw no record at all) are evaluated with 0 vehicles
// first, from alert_progress (at most 7 days back, and only the newest slots whose alerts fit in
// one invoke with this window's: kMaxAlertsPerInvoke; the older ones are logged). Tables:
//   alert_progress  "<shard id>"               -> {"evaluated_before_ms": N}  (every slot ending at
//                                                  or before N was evaluated)
//   alerted         "<station>#<slot start>"   -> {"vehicles": N, "min_vehicles": M}  (once-marker)
// Topic station-alerts, subject "Low traffic", message
//   {"station_id","slot_start","slot_end","vehicles","min_vehicles"}.
//
// Each alert is its marker, written with NotExists, then the publish; all of an invoke's effects
// commit together with the window's close, so a retried or replayed final invoke finds the marker
// and does not alert twice.
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/function.h"

namespace {

using nlohmann::json;

constexpr int64_t kSlotMs = 30 * 60 * 1000;
constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
constexpr int kSlotsPerDay = 48;
constexpr int kSlotsPerWeek = 7 * kSlotsPerDay;
constexpr int64_t kMaxGapFillMs = 7 * kDayMs;
// An alert is two effects (marker, publish) and the host takes at most 1,000 per invoke.
constexpr size_t kMaxAlertsPerInvoke = 450;
constexpr char kReferenceHeader[] = "station_id,day_of_week,slot_start,min_vehicles";
constexpr std::array<const char*, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};

// Minimum vehicles per slot of the week (Monday 00:00 UTC is 0), nullopt where there is none.
using WeekMinimums = std::array<std::optional<int64_t>, kSlotsPerWeek>;
using Reference = std::map<std::string, WeekMinimums>;

// The slot of the week a slot starting at `start_ms` (Unix ms) is. 1970-01-01 was a Thursday.
int SlotOfWeek(int64_t start_ms) {
  const int64_t day = start_ms / kDayMs;
  const int weekday = static_cast<int>((day + 3) % 7);  // Monday = 0
  return weekday * kSlotsPerDay + static_cast<int>(start_ms % kDayMs / kSlotMs);
}

std::string IsoTime(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  struct tm utc;
  gmtime_r(&seconds, &utc);
  char text[32];
  strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::vector<std::string> SplitCommas(const std::string& line) {
  std::vector<std::string> fields(1);
  for (const char c : line) {
    if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back().push_back(c);
    }
  }
  return fields;
}

// The slot of the day of "HH:MM" (a multiple of 30 minutes), or nullopt.
std::optional<int> SlotOfDay(const std::string& text) {
  if (text.size() != 5 || text[2] != ':') {
    return std::nullopt;
  }
  for (const size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') {
      return std::nullopt;
    }
  }
  const int hours = (text[0] - '0') * 10 + (text[1] - '0');
  const int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (hours > 23 || (minutes != 0 && minutes != 30)) {
    return std::nullopt;
  }
  return hours * 2 + minutes / 30;
}

// A non-negative decimal integer of at most 9 digits, or nullopt.
std::optional<int64_t> Count(const std::string& text) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(text);
}

// Reads the reference file; throws std::runtime_error naming the line that is wrong.
Reference LoadReference(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    throw std::runtime_error(path + ": cannot open");
  }
  Reference reference;
  std::string line;
  int line_number = 1;
  auto fail = [&](const std::string& problem) {
    throw std::runtime_error(path + " line " + std::to_string(line_number) + ": " + problem);
  };
  if (!std::getline(in, line) || line != kReferenceHeader) {
    fail(std::string("expected the header \"") + kReferenceHeader + "\"");
  }
  while (std::getline(in, line)) {
    ++line_number;
    const std::vector<std::string> fields = SplitCommas(line);
    if (fields.size() != 4) {
      fail("expected 4 comma-separated fields, got " + std::to_string(fields.size()));
    }
    if (fields[0].empty()) {
      fail("station_id is empty");
    }
    int day = 0;
    while (day < 7 && fields[1] != kDays[day]) {
      ++day;
    }
    if (day == 7) {
      fail("day_of_week must be one of Mon Tue Wed Thu Fri Sat Sun, got \"" + fields[1] + "\"");
    }
    const std::optional<int> slot = SlotOfDay(fields[2]);
    if (!slot) {
      fail("slot_start must be HH:MM at a multiple of 30 minutes, got \"" + fields[2] + "\"");
    }
    const std::optional<int64_t> minimum = Count(fields[3]);
    if (!minimum) {
      fail("min_vehicles must be a non-negative integer, got \"" + fields[3] + "\"");
    }
    std::optional<int64_t>& entry = reference[fields[0]][day * kSlotsPerDay + *slot];
    if (entry) {
      fail("a second line for " + fields[0] + " " + fields[1] + " " + fields[2]);
    }
    entry = minimum;
  }
  return reference;
}

class StationAlert {
 public:
  explicit StationAlert(Reference reference) : reference_(std::move(reference)) {}

  sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) const {
    if (!batch.has_window() || batch.window_end_ms() - batch.window_start_ms() != kSlotMs) {
      throw std::invalid_argument(
          "station_alert needs a mapping with TumblingWindowInSeconds 1800");
    }
    json counts = json::parse(batch.state_json(), nullptr, /*allow_exceptions=*/false);
    if (!counts.is_object()) {
      counts = json::object();
    }
    for (const sluice::KinesisRecord& record : batch.records()) {
      const json toll = json::parse(record.data(), nullptr, /*allow_exceptions=*/false);
      if (!toll.is_object() || !toll.contains("station_id") || !toll["station_id"].is_string()) {
        ctx.Log("skipped a record that is not a toll transaction: " + record.data().substr(0, 200));
        continue;
      }
      const std::string station = toll["station_id"];
      counts[station] = counts.value(station, int64_t{0}) + 1;
    }
    if (batch.is_final_invoke_for_window()) {
      EvaluateThrough(batch, counts, ctx);
    }
    sluice::StreamResponse response;
    response.SetState(counts.dump());
    return response;
  }

 private:
  struct DueAlert {
    std::string station;
    int64_t vehicles = 0;
    int64_t min_vehicles = 0;
  };

  // Evaluates the slots the shard never opened since its last evaluation (the newest of them
  // that fit in kMaxAlertsPerInvoke with this window's), then this window's; alert_progress only
  // moves forward.
  void EvaluateThrough(const sluice::StreamBatch& batch, const json& counts,
                       sluice::Context& ctx) const {
    std::vector<std::string> owned;
    for (const auto& [station, minimums] : reference_) {
      if (batch.OwnsPartitionKey(station)) {
        owned.push_back(station);
      }
    }
    const std::optional<std::string> progress = ctx.kv().Get("alert_progress", batch.shard_id());
    int64_t evaluated_before = 0;
    if (progress) {
      evaluated_before =
          json::parse(*progress, nullptr, false).value("evaluated_before_ms", int64_t{0});
    }
    const std::vector<DueAlert> current = Due(batch.window_start_ms(), owned, counts);
    if (evaluated_before > 0) {
      int64_t first = std::max(evaluated_before, batch.window_start_ms() - kMaxGapFillMs);
      first = (first + kSlotMs - 1) / kSlotMs * kSlotMs;
      // Newest first, while the alerts fit; the slots before are left out (and logged).
      std::vector<std::pair<int64_t, std::vector<DueAlert>>> gap;
      size_t alerts = current.size();
      int64_t slot = batch.window_start_ms() - kSlotMs;
      for (; slot >= first; slot -= kSlotMs) {
        std::vector<DueAlert> due = Due(slot, owned, json::object());
        if (alerts + due.size() > kMaxAlertsPerInvoke) {
          break;
        }
        alerts += due.size();
        gap.emplace_back(slot, std::move(due));
      }
      if (slot >= first) {
        ctx.Log("the slots from " + IsoTime(first) + " to " + IsoTime(slot + kSlotMs) +
                " are not evaluated: their alerts would be more than one invoke may publish");
      }
      for (auto it = gap.rbegin(); it != gap.rend(); ++it) {
        PublishAlerts(it->first, it->second, ctx);
      }
    }
    PublishAlerts(batch.window_start_ms(), current, ctx);
    if (batch.window_end_ms() > evaluated_before) {
      ctx.kv().Put("alert_progress", batch.shard_id(),
                   json{{"evaluated_before_ms", batch.window_end_ms()}}.dump());
    }
  }

  // The alerts slot `slot_start_ms` is due, by the stations' vehicle counts (absent: 0).
  std::vector<DueAlert> Due(int64_t slot_start_ms, const std::vector<std::string>& stations,
                            const json& counts) const {
    const int slot_of_week = SlotOfWeek(slot_start_ms);
    std::vector<DueAlert> due;
    for (const std::string& station : stations) {
      const std::optional<int64_t>& minimum = reference_.at(station)[slot_of_week];
      const int64_t vehicles = counts.value(station, int64_t{0});
      if (minimum && vehicles < *minimum) {
        due.push_back({station, vehicles, *minimum});
      }
    }
    return due;
  }

  // Each alert once: its marker (NotExists), then the publish.
  void PublishAlerts(int64_t slot_start_ms, const std::vector<DueAlert>& alerts,
                     sluice::Context& ctx) const {
    const std::string slot_start = IsoTime(slot_start_ms);
    for (const DueAlert& alert : alerts) {
      try {
        ctx.kv().Put(
            "alerted", alert.station + "#" + slot_start,
            json{{"vehicles", alert.vehicles}, {"min_vehicles", alert.min_vehicles}}.dump(),
            {sluice::kv::NotExists()});
      } catch (const sluice::ConditionalCheckFailed&) {
        continue;  // alerted before
      }
      nlohmann::ordered_json message;
      message["station_id"] = alert.station;
      message["slot_start"] = slot_start;
      message["slot_end"] = IsoTime(slot_start_ms + kSlotMs);
      message["vehicles"] = alert.vehicles;
      message["min_vehicles"] = alert.min_vehicles;
      const std::string id = ctx.Publish("station-alerts", "Low traffic", message.dump());
      ctx.Log("alerted " + alert.station + " at " + slot_start + " (" + id + ")");
    }
  }

  const Reference reference_;
};

}  // namespace

int main() {
  const char* task_root = std::getenv("LAMBDA_TASK_ROOT");
  if (task_root == nullptr) {
    return sluice::FailInit("StationAlert.NoTaskRoot", "LAMBDA_TASK_ROOT is not set");
  }
  Reference reference;
  try {
    reference = LoadReference(std::string(task_root) + "/reference.csv");
  } catch (const std::exception& e) {
    return sluice::FailInit("StationAlert.InvalidReference", e.what());
  }
  const StationAlert function(std::move(reference));
  return sluice::Run([&function](const sluice::StreamBatch& batch, sluice::Context& ctx) {
    return function.Handle(batch, ctx);
  });
}
