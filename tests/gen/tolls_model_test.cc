// The ABC Tolls model and its ground truth (host/tolls_model.h, host/tolls_truth.h), in process.
#include "host/tolls_model.h"

#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "base/files.h"
#include "host/tolls_truth.h"

namespace {

using sluice::host::ComputeTruth;
using sluice::host::GenerateTolls;
using sluice::host::Passage;
using sluice::host::StationReference;
using sluice::host::TollsOptions;
using sluice::host::TollsPlan;
using sluice::host::TollsTruth;

constexpr int64_t kNov2 = 1793577600000;  // 2026-11-02T00:00:00Z, a Monday
constexpr int64_t kMinuteMs = 60'000;

TollsOptions Default() {
  TollsOptions options;
  options.start_ms = kNov2;
  return options;
}

StationReference ModelReference() {
  sluice::Result<StationReference> reference =
      sluice::host::ParseReference(sluice::host::ReferenceCsv());
  REQUIRE(reference.ok());
  return *reference;
}

TollsTruth TruthOf(const TollsPlan& plan, const TollsOptions& options) {
  return ComputeTruth(plan.records, plan.limits_cents, ModelReference(), options.start_ms,
                      plan.days_end_ms);
}

Passage At(int64_t event_ms, int station, int customer, int64_t cents, uint64_t transaction) {
  Passage passage;
  passage.event_ms = event_ms;
  passage.station = station;
  passage.lane = 1;
  passage.customer = customer;
  passage.cents = cents;
  passage.transaction = transaction;
  return passage;
}

}  // namespace

TEST_CASE("the same seed gives the same traffic, another seed other traffic") {
  TollsOptions options = Default();
  options.stations = 3;
  options.customers = 40;
  const TollsPlan first = GenerateTolls(options);
  const TollsPlan again = GenerateTolls(options);
  REQUIRE(first.raw.size() == again.raw.size());
  for (size_t i = 0; i < first.raw.size(); ++i) {
    REQUIRE(first.raw[i].text == again.raw[i].text);
  }
  CHECK(first.limits_cents == again.limits_cents);
  options.seed = 8;
  const TollsPlan other = GenerateTolls(options);
  CHECK((other.raw.size() != first.raw.size() || other.raw[100].text != first.raw[100].text));
}

TEST_CASE("a default day has realistic counts and a handful of crossings") {
  const TollsOptions options = Default();
  const TollsPlan plan = GenerateTolls(options);
  CHECK(plan.records.size() >= 30'000);
  CHECK(plan.records.size() <= 60'000);
  CHECK(plan.test_lane == 40);
  CHECK(plan.malformed >= 5);
  CHECK(plan.raw.size() == plan.records.size() + plan.test_lane + plan.malformed);
  for (size_t i = 1; i < plan.records.size(); ++i) {
    REQUIRE(plan.records[i - 1].event_ms <= plan.records[i].event_ms);
  }
  CHECK(plan.records.back().event_ms < plan.days_end_ms + sluice::host::kTailMs);
  CHECK(plan.records.back().event_ms >= plan.days_end_ms);  // the tail
  // Every station passes in the tail after its first minute, so each shard's event time moves
  // past the last day's windows (and their allowed lateness).
  std::set<int> in_tail;
  for (const Passage& passage : plan.records) {
    if (passage.event_ms >= plan.days_end_ms + 60'000) {
      in_tail.insert(passage.station);
    }
  }
  CHECK(in_tail.size() == static_cast<size_t>(options.stations));

  const TollsTruth truth = TruthOf(plan, options);
  CHECK(truth.notifications.size() >= 5);
  CHECK(truth.notifications.size() <= 20);
  CHECK(plan.limits_cents.size() > truth.notifications.size() * 3);  // most limits not crossed
  std::map<std::string, size_t> alerts_by_station;
  for (const auto& alert : truth.alerts) {
    ++alerts_by_station[alert.station_id];
  }
  CHECK(alerts_by_station["S-07"] >= 10);
  CHECK(alerts_by_station["S-13"] == 2);
  size_t normal = 0;
  for (const auto& [station, count] : alerts_by_station) {
    normal += station == "S-07" || station == "S-13" ? 0 : count;
  }
  CHECK(normal <= 3);
}

TEST_CASE("the broken sensor is silent from 14:00 to 15:00 and S-07 sees a quarter of normal") {
  TollsOptions options = Default();
  options.days = 2;
  const TollsPlan plan = GenerateTolls(options);
  std::map<int, size_t> per_station;
  for (const Passage& passage : plan.records) {
    ++per_station[passage.station];
    const int64_t in_day = passage.event_ms % sluice::host::kDayMs;
    if (passage.station == 13) {
      REQUIRE((in_day < 14 * 60 * kMinuteMs || in_day >= 15 * 60 * kMinuteMs));
    }
  }
  CHECK(per_station[7] * 3 < per_station[1]);
  CHECK(per_station[7] * 5 > per_station[1]);
  CHECK(per_station[13] > per_station[1] * 8 / 10);  // only one hour missing
  // Both days: the Tuesday's S-13 slots too.
  const TollsTruth truth = TruthOf(plan, options);
  std::set<std::string> s13;
  for (const auto& alert : truth.alerts) {
    if (alert.station_id == "S-13") {
      s13.insert(sluice::host::EventTime(alert.slot_start_ms));
      CHECK(alert.vehicles == 0);
    }
  }
  CHECK(s13 == std::set<std::string>{"2026-11-02T14:00:00Z", "2026-11-02T14:30:00Z",
                                     "2026-11-03T14:00:00Z", "2026-11-03T14:30:00Z"});
}

TEST_CASE("records and raw lines have the formats of docs/demo.md") {
  const Passage passage = At(kNov2 + 8 * 3'600'000 + 5'000, 3, 7, 250, 42);
  CHECK(sluice::host::StreamRecordJson(passage) ==
        R"({"transaction_id":"T-00000042","customer_id":"C-0007","tag":"TAG-0007",)"
        R"("station_id":"S-03","lane":1,"amount":2.5,"event_time":"2026-11-02T08:00:05Z"})");
  CHECK(sluice::host::RawLineText(passage) ==
        "2026-11-02T08:00:05Z,S-03,1,T-00000042,C-0007,TAG-0007,2.50\n");
  Passage test;
  test.event_ms = kNov2;
  test.station = 1;
  test.transaction = 9;
  CHECK(sluice::host::RawLineText(test) ==
        "2026-11-02T00:00:00Z,S-01,T,T-00000009,C-0000,TAG-TEST,0.00\n");

  const TollsPlan plan = GenerateTolls(Default());
  std::set<std::string> kinds;
  for (const auto& line : plan.raw) {
    if (line.malformed) {
      const size_t commas = std::count(line.text.begin(), line.text.end(), ',');
      kinds.insert(commas == 3                                  ? "truncated"
                   : line.text.find("x\n") != std::string::npos ? "amount"
                   : line.text[10] == ' '                       ? "time"
                                                                : "other");
    }
  }
  CHECK(kinds == std::set<std::string>{"amount", "time", "truncated"});
}

TEST_CASE("the committed reference file is the model's") {
  sluice::Result<std::string> committed =
      sluice::ReadFile(SLUICE_SOURCE_DIR "/functions/station_alert/reference.csv");
  REQUIRE(committed.ok());
  CHECK(*committed == sluice::host::ReferenceCsv());
  const StationReference reference = ModelReference();
  CHECK(reference.size() == 20 * 7 * 48);
  CHECK(reference.at({"S-01", 0, 0}) == 0);    // Monday 00:00: night
  CHECK(reference.at({"S-01", 0, 17}) == 48);  // Monday 08:30: 40% of 120
  CHECK(reference.at({"S-20", 6, 28}) == 26);  // Sunday 14:00: 40% of 65
}

TEST_CASE("a reference line that is not station,day,slot,count is refused with its line") {
  sluice::Result<StationReference> bad = sluice::host::ParseReference(
      "station_id,day_of_week,slot_start,min_vehicles\nS-01,Mon,00:00,0\nS-01,Mon,00:15,3\n");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "reference line 3: expected station_id,Mon..Sun,HH:MM,count, got \"S-01,Mon,00:15,3\"");
}

TEST_CASE("the truth of a hand-made day: spend, the crossing and alerts with empty slots") {
  // Monday 08:00 and 08:30 have minimums for S-01 and S-02; 09:00 has none (absent).
  sluice::Result<StationReference> reference = sluice::host::ParseReference(
      "station_id,day_of_week,slot_start,min_vehicles\n"
      "S-01,Mon,08:00,2\nS-01,Mon,08:30,2\nS-02,Mon,08:00,0\nS-02,Mon,08:30,1\n");
  REQUIRE(reference.ok());
  const int64_t at8 = kNov2 + 8 * 3'600'000;
  const std::vector<Passage> records = {
      At(at8 + 1 * kMinuteMs, 1, 1, 300, 1),  At(at8 + 2 * kMinuteMs, 2, 1, 300, 2),
      At(at8 + 35 * kMinuteMs, 1, 2, 250, 3), At(at8 + 40 * kMinuteMs, 1, 1, 500, 4),
      At(at8 + 70 * kMinuteMs, 1, 1, 100, 5),  // 09:10: the tail, outside the days below
  };
  const std::map<int, int64_t> limits = {{1, 1000}, {2, 10000}};
  const TollsTruth truth = ComputeTruth(records, limits, *reference, at8, at8 + 3'600'000);

  // The tail's 1.00 is not in the truth.
  CHECK(truth.spend_cents == std::map<std::pair<std::string, std::string>, int64_t>{
                                 {{"C-0001", "2026-11"}, 1100}, {{"C-0002", "2026-11"}, 250}});
  REQUIRE(truth.notifications.size() == 1);
  CHECK(truth.notifications[0].customer_id == "C-0001");
  CHECK(truth.notifications[0].month == "2026-11");
  CHECK(truth.notifications[0].spend_cents == 1100);
  CHECK(truth.notifications[0].limit_cents == 1000);
  CHECK(truth.notifications[0].crossed_at_ms == at8 + 40 * kMinuteMs);

  // 08:00: S-01 saw 1 < 2; S-02 saw 1, minimum 0. 08:30: S-01 saw 2, its minimum (no alert);
  // S-02 saw none < 1.
  REQUIRE(truth.alerts.size() == 2);
  CHECK(truth.alerts[0].station_id == "S-01");
  CHECK(truth.alerts[0].slot_start_ms == at8);
  CHECK(truth.alerts[0].vehicles == 1);
  CHECK(truth.alerts[0].min_vehicles == 2);
  CHECK(truth.alerts[1].station_id == "S-02");
  CHECK(truth.alerts[1].slot_start_ms == at8 + 30 * kMinuteMs);
  CHECK(truth.alerts[1].vehicles == 0);
  CHECK(truth.alerts[1].min_vehicles == 1);
}
