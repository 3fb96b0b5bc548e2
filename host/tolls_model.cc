#include "host/tolls_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <tuple>

namespace sluice::host {
namespace {

// Vehicles a normal station expects per 30-minute slot, by hour of the day (both slots of an
// hour alike): night low, morning and evening rush on weekdays, a flatter weekend.
constexpr int64_t kWeekdayProfile[24] = {2,  1,  1,  1,  2,  10,  40,  110, 120, 70, 55, 55,
                                         60, 60, 60, 65, 90, 125, 115, 70,  45,  30, 15, 5};
constexpr int64_t kWeekendProfile[24] = {3,  2,  1,  1,  1,  3,  8,  15, 30, 45, 60, 70,
                                         70, 70, 65, 60, 55, 50, 45, 35, 25, 15, 8,  4};
constexpr int64_t kQuietSlot = 30;  // expected vehicles below which a slot has no minimum

constexpr int kTestPassagesPerStationDay = 2;  // technicians' checks, 03:00-04:00
constexpr uint64_t kMalformedEvery = 2000;     // about one glitched line per 2000 passages

// Traffic relative to a normal station: normal stations vary between 0.9 and 1.1.
double StationFactor(int station) {
  if (station == kLowTrafficStation) {
    return 0.25;
  }
  return 0.9 + 0.02 * ((station * 37) % 11);
}

int64_t StationTollCents(int station) {
  return 150 + 25 * ((station * 7) % 11);
}

int StationLanes(int station) {
  return 4 + station % 5;
}

bool SensorBroken(int station, int64_t event_ms) {
  const int64_t in_day = event_ms % kDayMs;
  return station == kBrokenSensorStation && in_day >= 14 * 3'600'000 && in_day < 15 * 3'600'000;
}

// Customers' shares of the traffic: most drive a little, a few (fleets, commuters) a lot.
std::vector<double> CustomerWeightsCumulative(SplitMix64& random, int customers) {
  std::vector<double> cumulative;
  double total = 0;
  for (int c = 0; c < customers; ++c) {
    const double u = random.Uniform();
    total += 1 + 9 * u * u * u * u;
    cumulative.push_back(total);
  }
  return cumulative;
}

int PickCustomer(SplitMix64& random, const std::vector<double>& cumulative) {
  const double point = random.Uniform() * cumulative.back();
  const size_t index = static_cast<size_t>(
      std::upper_bound(cumulative.begin(), cumulative.end(), point) - cumulative.begin());
  return static_cast<int>(std::min(index, cumulative.size() - 1)) + 1;
}

// A sensor glitch's copy of a passage's line: truncated, a bad amount or a bad timestamp.
std::string MalformedLine(const Passage& passage, uint64_t kind) {
  std::string line = RawLineText(passage);
  line.pop_back();  // "\n"
  switch (kind % 3) {
    case 0: {
      size_t cut = 0;
      for (int field = 0; field < 4; ++field) {
        cut = line.find(',', cut) + 1;
      }
      line.resize(cut - 1);
      break;
    }
    case 1:
      line.replace(line.rfind(',') + 1, std::string::npos,
                   Decimal2(passage.cents).substr(0, 3) + "x");
      break;
    default:
      line[10] = ' ';  // "2026-11-02 08:00:05Z"
      break;
  }
  return line + "\n";
}

// Limits (in cents, of whole currency units), set from each customer's spend in the first month:
// about 4% set one they cross within the run, 30% one they stay under, the rest none.
std::map<int, int64_t> Limits(SplitMix64& random, int customers,
                              const std::vector<Passage>& records) {
  std::vector<int64_t> first_month_cents(static_cast<size_t>(customers) + 1, 0);
  const std::string first_month = records.empty() ? "" : Month(records.front().event_ms);
  for (const Passage& passage : records) {
    if (Month(passage.event_ms) == first_month) {
      first_month_cents[static_cast<size_t>(passage.customer)] += passage.cents;
    }
  }
  std::map<int, int64_t> limits;
  for (int c = 1; c <= customers; ++c) {
    const double choice = random.Uniform();
    const double fraction = random.Uniform();
    const int64_t spent = first_month_cents[static_cast<size_t>(c)];
    if (choice < 0.04 && spent >= 200) {
      const auto units = static_cast<int64_t>(static_cast<double>(spent) * (0.5 + 0.4 * fraction));
      limits[c] = std::max<int64_t>(1, units / 100) * 100;
    } else if (choice < 0.34) {
      const auto units = static_cast<int64_t>(static_cast<double>(spent) * (1.2 + fraction));
      limits[c] = (units / 100 + 1) * 100;
    }
  }
  return limits;
}

}  // namespace

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double SplitMix64::Uniform() {
  return static_cast<double>(Next() >> 11) * 0x1.0p-53;
}

uint64_t SplitMix64::Below(uint64_t n) {
  return Next() % n;
}

int64_t SplitMix64::Poisson(double mean) {
  const double limit = std::exp(-mean);
  int64_t count = 0;
  for (double product = Uniform(); product > limit; product *= Uniform()) {
    ++count;
  }
  return count;
}

int64_t ExpectedVehicles(int day_of_week, int slot) {
  const int64_t* profile = day_of_week >= 5 ? kWeekendProfile : kWeekdayProfile;
  return profile[slot / 2];
}

int64_t MinimumVehicles(int day_of_week, int slot) {
  const int64_t expected = ExpectedVehicles(day_of_week, slot);
  return expected < kQuietSlot ? 0 : expected * 2 / 5;
}

std::string ReferenceCsv() {
  std::string csv = "station_id,day_of_week,slot_start,min_vehicles\n";
  char line[64];
  for (int station = 1; station <= kReferenceStations; ++station) {
    for (int day = 0; day < 7; ++day) {
      for (int slot = 0; slot < 48; ++slot) {
        std::snprintf(line, sizeof(line), "%s,%s,%02d:%02d,%lld\n", StationId(station).c_str(),
                      DayOfWeekName(day), slot / 2, slot % 2 * 30,
                      static_cast<long long>(MinimumVehicles(day, slot)));
        csv += line;
      }
    }
  }
  return csv;
}

TollsPlan GenerateTolls(const TollsOptions& options) {
  SplitMix64 random(options.seed);
  const std::vector<double> customer_weights = CustomerWeightsCumulative(random, options.customers);
  TollsPlan plan;
  plan.days_end_ms = options.start_ms + options.days * kDayMs;

  std::vector<Passage> passages;
  const int64_t slots = options.days * 48 + 1;  // the last one is the tail's
  for (int64_t s = 0; s < slots; ++s) {
    const int64_t slot_start = options.start_ms + s * kSlotMs;
    const int day_of_week = DayOfWeek(slot_start);
    const int slot = static_cast<int>(s % 48);
    for (int station = 1; station <= options.stations; ++station) {
      const double mean =
          static_cast<double>(ExpectedVehicles(day_of_week, slot)) * StationFactor(station);
      const int64_t count = random.Poisson(mean);
      for (int64_t i = 0; i < count; ++i) {
        Passage passage;
        passage.event_ms = slot_start + static_cast<int64_t>(random.Below(1800)) * 1000;
        passage.station = station;
        passage.lane =
            1 + static_cast<int>(random.Below(static_cast<uint64_t>(StationLanes(station))));
        passage.customer = PickCustomer(random, customer_weights);
        passage.cents = StationTollCents(station);
        if (passage.event_ms < plan.days_end_ms + kTailMs &&
            !SensorBroken(station, passage.event_ms)) {
          passages.push_back(passage);
        }
      }
      if (slot == 6 && s < options.days * 48) {  // 03:00: the technicians' test passages
        for (int i = 0; i < kTestPassagesPerStationDay; ++i) {
          Passage test;
          test.event_ms = slot_start + static_cast<int64_t>(random.Below(3600)) * 1000;
          test.station = station;
          passages.push_back(test);
        }
      }
    }
  }
  for (int station = 1; station <= options.stations; ++station) {
    Passage closing;  // the tail's guaranteed passage (kTailMs)
    closing.event_ms =
        plan.days_end_ms + 60'000 + static_cast<int64_t>(random.Below(kTailMs / 1000 - 60)) * 1000;
    closing.station = station;
    closing.lane = 1;
    closing.customer = PickCustomer(random, customer_weights);
    closing.cents = StationTollCents(station);
    passages.push_back(closing);
  }
  std::sort(passages.begin(), passages.end(), [](const Passage& a, const Passage& b) {
    return std::tie(a.event_ms, a.station, a.lane, a.customer) <
           std::tie(b.event_ms, b.station, b.lane, b.customer);
  });
  for (size_t i = 0; i < passages.size(); ++i) {
    Passage& passage = passages[i];
    passage.transaction = i + 1;
    plan.raw.push_back({passage.event_ms, RawLineText(passage), false});
    if (passage.test_lane()) {
      ++plan.test_lane;
      continue;
    }
    plan.records.push_back(passage);
    if (random.Below(kMalformedEvery) == 0) {
      plan.raw.push_back({passage.event_ms, MalformedLine(passage, plan.malformed), true});
      ++plan.malformed;
    }
  }
  plan.limits_cents = Limits(random, options.customers, plan.records);
  return plan;
}

std::string StationId(int station) {
  char id[16];
  std::snprintf(id, sizeof(id), "S-%02d", station);
  return id;
}

std::string CustomerId(int customer) {
  char id[16];
  std::snprintf(id, sizeof(id), "C-%04d", customer);
  return id;
}

std::string TransactionId(uint64_t transaction) {
  char id[24];
  std::snprintf(id, sizeof(id), "T-%08llu", static_cast<unsigned long long>(transaction));
  return id;
}

const char* DayOfWeekName(int day_of_week) {
  static const char* const kNames[7] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  return kNames[day_of_week];
}

int DayOfWeek(int64_t unix_ms) {
  // 1970-01-01 was a Thursday (3 when Monday is 0).
  const int64_t days = unix_ms >= 0 ? unix_ms / kDayMs : (unix_ms - kDayMs + 1) / kDayMs;
  return static_cast<int>(((days + 3) % 7 + 7) % 7);
}

namespace {

std::tm UtcParts(int64_t unix_ms) {
  const time_t seconds = static_cast<time_t>(unix_ms / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  return parts;
}

}  // namespace

std::string EventTime(int64_t unix_ms) {
  const std::tm parts = UtcParts(unix_ms);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string Month(int64_t unix_ms) {
  const std::tm parts = UtcParts(unix_ms);
  char text[16];
  std::strftime(text, sizeof(text), "%Y-%m", &parts);
  return text;
}

std::string Decimal2(int64_t cents) {
  char text[32];
  std::snprintf(text, sizeof(text), "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return text;
}

std::string StreamRecordJson(const Passage& passage) {
  // The amount as the shortest decimal: 2.5, 3, 2.25.
  std::string amount = Decimal2(passage.cents);
  while (amount.back() == '0') {
    amount.pop_back();
  }
  if (amount.back() == '.') {
    amount.pop_back();
  }
  std::string json = "{\"transaction_id\":\"" + TransactionId(passage.transaction);
  json.append("\",\"customer_id\":\"").append(CustomerId(passage.customer));
  json.append("\",\"tag\":\"TAG-").append(CustomerId(passage.customer).substr(2));
  json.append("\",\"station_id\":\"").append(StationId(passage.station));
  json.append("\",\"lane\":").append(std::to_string(passage.lane));
  json.append(",\"amount\":").append(amount);
  json.append(",\"event_time\":\"").append(EventTime(passage.event_ms)).append("\"}");
  return json;
}

std::string RawLineText(const Passage& passage) {
  std::string line = EventTime(passage.event_ms);
  line.append(",").append(StationId(passage.station));
  if (passage.test_lane()) {
    line.append(",T,").append(TransactionId(passage.transaction)).append(",C-0000,TAG-TEST,0.00");
  } else {
    line.append(",").append(std::to_string(passage.lane));
    line.append(",").append(TransactionId(passage.transaction));
    line.append(",").append(CustomerId(passage.customer));
    line.append(",TAG-").append(CustomerId(passage.customer).substr(2));
    line.append(",").append(Decimal2(passage.cents));
  }
  return line + "\n";
}

}  // namespace sluice::host
