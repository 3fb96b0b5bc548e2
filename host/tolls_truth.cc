#include "host/tolls_truth.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <sstream>

#include "base/files.h"
#include "sluice/aws_json.h"

namespace sluice::host {
namespace {

using nlohmann::ordered_json;

std::vector<std::string> SplitCommas(std::string_view line) {
  std::vector<std::string> fields;
  size_t start = 0;
  for (size_t comma; (comma = line.find(',', start)) != std::string_view::npos; start = comma + 1) {
    fields.emplace_back(line.substr(start, comma - start));
  }
  fields.emplace_back(line.substr(start));
  return fields;
}

// "HH:MM" on the half hour -> slot 0..47, or -1.
int SlotOfDay(const std::string& text) {
  if (text.size() != 5 || text[2] != ':') {
    return -1;
  }
  int hour = -1;
  int minute = -1;
  std::from_chars(text.data(), text.data() + 2, hour);
  std::from_chars(text.data() + 3, text.data() + 5, minute);
  if (hour < 0 || hour > 23 || (minute != 0 && minute != 30)) {
    return -1;
  }
  return hour * 2 + minute / 30;
}

double Units(int64_t cents) {
  return static_cast<double>(cents) / 100;
}

int64_t Cents(const nlohmann::json& number) {
  return std::llround(number.get<double>() * 100);
}

Result<int64_t> Millis(const std::string& iso) {
  int64_t ms = 0;
  if (!aws_json::MillisFromIso8601(iso, &ms)) {
    return InvalidArgument("not an ISO-8601 UTC time: \"" + iso + "\"");
  }
  return ms;
}

std::string JsonLines(const std::vector<ordered_json>& lines) {
  std::string text;
  for (const ordered_json& line : lines) {
    text.append(line.dump()).append("\n");
  }
  return text;
}

// Each non-empty line of `dir`/`name` parsed as JSON; errors name the file and line.
Result<std::vector<nlohmann::json>> ReadJsonLines(const std::string& dir, const std::string& name) {
  const std::string path = dir + "/" + name;
  Result<std::string> text = ReadFile(path);
  SLUICE_RETURN_IF_ERROR(text.status().WithContext(path));
  std::vector<nlohmann::json> lines;
  std::istringstream in(*text);
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (line.empty()) {
      continue;
    }
    nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!value.is_object()) {
      return InvalidArgument(path + ": line " + std::to_string(number) + ": not a JSON object");
    }
    lines.push_back(std::move(value));
  }
  return lines;
}

}  // namespace

Result<StationReference> ParseReference(std::string_view csv) {
  StationReference reference;
  std::istringstream in{std::string(csv)};
  size_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (number == 1 || line.empty()) {
      continue;  // the header
    }
    const std::vector<std::string> fields = SplitCommas(line);
    const std::string where = "reference line " + std::to_string(number) + ": ";
    if (fields.size() != 4) {
      return InvalidArgument(where + "expected 4 fields, got " + std::to_string(fields.size()));
    }
    int day = 0;
    while (day < 7 && fields[1] != DayOfWeekName(day)) {
      ++day;
    }
    const int slot = SlotOfDay(fields[2]);
    int64_t minimum = -1;
    const auto [end, error] =
        std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), minimum);
    if (day == 7 || slot < 0 || error != std::errc() ||
        end != fields[3].data() + fields[3].size() || minimum < 0) {
      return InvalidArgument(where + "expected station_id,Mon..Sun,HH:MM,count, got \"" + line +
                             "\"");
    }
    reference[{fields[0], day, slot}] = minimum;
  }
  return reference;
}

TollsTruth ComputeTruth(const std::vector<Passage>& records,
                        const std::map<int, int64_t>& limits_cents,
                        const StationReference& reference, int64_t start_ms, int64_t days_end_ms) {
  TollsTruth truth;
  std::map<std::pair<std::string, int64_t>, int64_t> vehicles;  // (station, slot start)
  std::map<std::pair<std::string, std::string>, ExpectedNotification> notified;
  for (const Passage& passage : records) {
    if (passage.event_ms >= days_end_ms) {
      break;  // the tail (records are in event-time order)
    }
    const std::string customer = CustomerId(passage.customer);
    const std::pair<std::string, std::string> key(customer, Month(passage.event_ms));
    const int64_t total = truth.spend_cents[key] += passage.cents;
    const auto limit = limits_cents.find(passage.customer);
    if (limit != limits_cents.end() && total >= limit->second && notified.count(key) == 0) {
      notified[key] = {customer, key.second, 0, limit->second, passage.event_ms};
    }
    const int64_t slot_start = passage.event_ms - (passage.event_ms - start_ms) % kSlotMs;
    ++vehicles[{StationId(passage.station), slot_start}];
  }
  for (auto& [key, notification] : notified) {
    notification.spend_cents = truth.spend_cents[key];
    truth.notifications.push_back(notification);
  }
  for (int64_t slot_start = start_ms; slot_start < days_end_ms; slot_start += kSlotMs) {
    const int day = DayOfWeek(slot_start);
    const int slot = static_cast<int>(slot_start % kDayMs / kSlotMs);
    for (const auto& [where, minimum] : reference) {
      const auto& [station, reference_day, reference_slot] = where;
      if (reference_day != day || reference_slot != slot) {
        continue;
      }
      const auto seen = vehicles.find({station, slot_start});
      const int64_t count = seen == vehicles.end() ? 0 : seen->second;
      if (count < minimum) {
        truth.alerts.push_back({station, slot_start, count, minimum});
      }
    }
  }
  return truth;
}

Status WriteTruthFiles(const std::string& dir, const TollsOptions& options, const TollsPlan& plan,
                       const TollsTruth& truth) {
  SLUICE_RETURN_IF_ERROR(MakeDirectory(dir));
  std::string thresholds;
  for (const auto& [customer, limit] : plan.limits_cents) {
    thresholds.append(CustomerId(customer)).append("\t").append(Decimal2(limit)).append("\n");
  }
  std::vector<ordered_json> notifications;
  for (const ExpectedNotification& n : truth.notifications) {
    notifications.push_back({{"customer_id", n.customer_id},
                             {"month", n.month},
                             {"spend", Units(n.spend_cents)},
                             {"monthly_limit", Units(n.limit_cents)},
                             {"crossed_at", EventTime(n.crossed_at_ms)}});
  }
  std::vector<ordered_json> alerts;
  for (const ExpectedAlert& a : truth.alerts) {
    alerts.push_back({{"station_id", a.station_id},
                      {"slot_start", EventTime(a.slot_start_ms)},
                      {"slot_end", EventTime(SlotEnd(a.slot_start_ms))},
                      {"vehicles", a.vehicles},
                      {"min_vehicles", a.min_vehicles}});
  }
  std::vector<ordered_json> spend;
  for (const auto& [key, cents] : truth.spend_cents) {
    spend.push_back({{"customer_id", key.first}, {"month", key.second}, {"cents", cents}});
  }
  const ordered_json summary = {
      {"records", plan.records.size()},
      {"raw_lines", plan.raw.size()},
      {"test_lane", plan.test_lane},
      {"malformed", plan.malformed},
      {"lake_records", plan.raw.size() - plan.test_lane - plan.malformed},
      {"first_event", plan.records.empty() ? "" : EventTime(plan.records.front().event_ms)},
      {"last_event", plan.records.empty() ? "" : EventTime(plan.records.back().event_ms)},
      {"notifications", truth.notifications.size()},
      {"alerts", truth.alerts.size()},
      {"customers_with_limits", plan.limits_cents.size()},
      {"seed", options.seed},
      {"stations", options.stations},
      {"customers", options.customers},
      {"days", options.days},
      {"start", EventTime(options.start_ms).substr(0, 10)}};
  for (const auto& [name, text] : std::vector<std::pair<std::string, std::string>>{
           {kThresholdsFile, thresholds},
           {kNotificationsFile, JsonLines(notifications)},
           {kAlertsFile, JsonLines(alerts)},
           {kSpendFile, JsonLines(spend)},
           {kSummaryFile, summary.dump(2) + "\n"}}) {
    SLUICE_RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + name, text));
  }
  return Status::Ok();
}

Result<int64_t> ParseDate(const std::string& date) {
  Result<int64_t> ms = Millis(date + "T00:00:00Z");
  // Millis takes "2026-02-30" as March 2 and " 202-11-02" as the year 202: only a date that
  // comes back the same, from 1970 on (the model's day arithmetic), is one.
  if (!ms.ok() || date.size() != 10 || *ms < 0 || EventTime(*ms).substr(0, 10) != date) {
    return InvalidArgument("not a date YYYY-MM-DD: \"" + date + "\"");
  }
  return ms;
}

Result<TruthFiles> ReadTruthFiles(const std::string& dir) {
  TruthFiles files;
  const std::string summary_path = dir + "/" + kSummaryFile;
  Result<std::string> summary_text = ReadFile(summary_path);
  SLUICE_RETURN_IF_ERROR(summary_text.status().WithContext(summary_path));
  files.summary = nlohmann::json::parse(*summary_text, nullptr, /*allow_exceptions=*/false);
  // The truth files are the generator's own output: a wrong type is a broken file, said once.
  const std::string broken = " is not a truth file of `sluice gen tolls`";
  try {
    Result<std::vector<nlohmann::json>> notifications = ReadJsonLines(dir, kNotificationsFile);
    SLUICE_RETURN_IF_ERROR(notifications.status());
    for (const nlohmann::json& n : *notifications) {
      Result<int64_t> crossed = Millis(n.at("crossed_at").get<std::string>());
      SLUICE_RETURN_IF_ERROR(crossed.status().WithContext(dir + "/" + kNotificationsFile));
      files.truth.notifications.push_back({n.at("customer_id").get<std::string>(),
                                           n.at("month").get<std::string>(), Cents(n.at("spend")),
                                           Cents(n.at("monthly_limit")), *crossed});
    }
    Result<std::vector<nlohmann::json>> alerts = ReadJsonLines(dir, kAlertsFile);
    SLUICE_RETURN_IF_ERROR(alerts.status());
    for (const nlohmann::json& a : *alerts) {
      Result<int64_t> start = Millis(a.at("slot_start").get<std::string>());
      SLUICE_RETURN_IF_ERROR(start.status().WithContext(dir + "/" + kAlertsFile));
      files.truth.alerts.push_back({a.at("station_id").get<std::string>(), *start,
                                    a.at("vehicles").get<int64_t>(),
                                    a.at("min_vehicles").get<int64_t>()});
    }
    Result<std::vector<nlohmann::json>> spend = ReadJsonLines(dir, kSpendFile);
    SLUICE_RETURN_IF_ERROR(spend.status());
    for (const nlohmann::json& s : *spend) {
      files.truth
          .spend_cents[{s.at("customer_id").get<std::string>(), s.at("month").get<std::string>()}] =
          s.at("cents").get<int64_t>();
    }
    const nlohmann::json& summary = files.summary;
    files.options.seed = summary.at("seed").get<uint64_t>();
    files.options.stations = summary.at("stations").get<int>();
    files.options.customers = summary.at("customers").get<int>();
    files.options.days = summary.at("days").get<int>();
    Result<int64_t> start = ParseDate(summary.at("start").get<std::string>());
    SLUICE_RETURN_IF_ERROR(start.status().WithContext(summary_path));
    files.options.start_ms = *start;
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(dir + broken + " (" + e.what() + ")");
  }
  return files;
}

}  // namespace sluice::host
