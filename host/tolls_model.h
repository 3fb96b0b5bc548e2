// The ABC Tolls traffic model behind `sluice gen` (docs/demo.md): toll stations with a daily
// traffic profile, customers who pay at them and set monthly limits, and the passages they make,
// as Kinesis records and raw booth lines.
//
// Everything is a pure function of TollsOptions (the seed included): the same options give the
// same passages, byte for byte, on any machine (a splitmix64 generator and integer or plainly
// rounded arithmetic; no std:: distributions, whose output differs between library versions).
// Stateless; safe from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice::host {

// splitmix64 (Steele, Lea, Flood 2014): a small seeded generator with a fixed output sequence.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // Uniform in [0, 1), from the top 53 bits.
  double Uniform();
  // Uniform in [0, n); n > 0.
  uint64_t Below(uint64_t n);
  // A Poisson-distributed count with mean `mean` (Knuth's product method; mean <= ~700).
  int64_t Poisson(double mean);

 private:
  uint64_t state_;
};

inline constexpr int64_t kSlotMs = 30 * 60 * 1000;
inline constexpr int64_t kDayMs = 24 * 60 * 60 * 1000;
// Traffic after the last day, so that the day's last windows close on event time: every
// station passes at least once in the tail after its first minute (past the stack's allowed
// lateness). The tail is not in the truth; its own billing window closes only after the stream
// has been idle for about the tail's length, which is longer than a check waits.
inline constexpr int64_t kTailMs = 5 * 60 * 1000;
inline constexpr int kReferenceStations = 20;    // the reference file covers S-01..S-20
inline constexpr int kLowTrafficStation = 7;     // S-07: about a quarter of normal traffic
inline constexpr int kBrokenSensorStation = 13;  // S-13: silent 14:00-15:00 every day

struct TollsOptions {
  uint64_t seed = 7;
  int stations = 20;  // S-01 .. S-<stations>, at most kReferenceStations
  int customers = 300;
  int days = 1;
  int64_t start_ms = 0;  // 00:00 UTC of the first day
};

// One passage at a booth. A test-lane passage (lane 0, shown as "T") is in the raw feed only.
struct Passage {
  int64_t event_ms = 0;  // whole seconds
  int station = 0;       // 1-based
  int lane = 0;          // 1..8; 0 = the technicians' test lane
  int customer = 0;      // 1-based; 0 for a test-lane passage
  int64_t cents = 0;
  uint64_t transaction = 0;  // the number in "T-00000042"

  bool test_lane() const { return lane == 0; }
};

// A line of the raw feed: a passage's line, or a sensor glitch's malformed line.
struct RawLine {
  int64_t event_ms = 0;
  std::string text;  // with its "\n"
  bool malformed = false;
};

struct TollsPlan {
  std::vector<Passage> records;  // the Kinesis stream's records, in event-time order
  std::vector<RawLine> raw;      // the raw feed, in event-time order
  size_t test_lane = 0;
  size_t malformed = 0;
  std::map<int, int64_t> limits_cents;  // customer -> monthly limit, in cents of whole units
  int64_t days_end_ms = 0;              // start + days; later records are the tail
};

// The passages, raw lines and limits of `options` (validated by the caller: stations 1..20,
// customers >= 1, days >= 1).
TollsPlan GenerateTolls(const TollsOptions& options);

// Vehicles a normal station expects in the 30-minute slot `slot` (0..47) of a day of week
// (0 = Monday), and the reference minimum derived from it: 40% of it, rounded down, or 0 for a
// slot expected to see fewer than 30 (Poisson noise alone would raise alerts there).
int64_t ExpectedVehicles(int day_of_week, int slot);
int64_t MinimumVehicles(int day_of_week, int slot);

// The station reference file (docs/demo.md, The data), header included.
std::string ReferenceCsv();

// "S-03", "C-0007", "TAG-0007", "T-00000042"; "Mon".."Sun" for 0..6.
std::string StationId(int station);
std::string CustomerId(int customer);
std::string TransactionId(uint64_t transaction);
const char* DayOfWeekName(int day_of_week);
// 0 = Monday, for a Unix time in milliseconds (UTC).
int DayOfWeek(int64_t unix_ms);
// "2026-11-02T08:00:05Z" and "2026-11" (UTC).
std::string EventTime(int64_t unix_ms);
std::string Month(int64_t unix_ms);
// "2.50" for 250 cents.
std::string Decimal2(int64_t cents);

// A stream record's data (docs/demo.md, The data) and a passage's raw line (with "\n").
std::string StreamRecordJson(const Passage& passage);
std::string RawLineText(const Passage& passage);

}  // namespace sluice::host
