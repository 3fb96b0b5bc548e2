// Helpers shared by the stream API integration tests (header-only, test code only).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <exception>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing {

// The hash key ranges AWS gives a 4-shard stream (wire-formats.md §2.2).
inline const char* const kFourShardStart[4] = {"0", "85070591730234615865843651857942052864",
                                               "170141183460469231731687303715884105728",
                                               "255211775190703847597530955573826158592"};
inline const char* const kFourShardEnd[4] = {
    "85070591730234615865843651857942052863", "170141183460469231731687303715884105727",
    "255211775190703847597530955573826158591", "340282366920938463463374607431768211455"};
inline const char kMaxHashKey[] = "340282366920938463463374607431768211455";

inline std::string ShardId(int index) {
  char id[32];
  snprintf(id, sizeof(id), "shardId-%012d", index);
  return id;
}

// Wall-clock Unix milliseconds (the server stamps arrivals with the same clock).
inline int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "2026-11-22T03:52:08.633000+00:00" (the aws CLI's iso8601 output with TZ=UTC) as Unix ms;
// throws if it is not in that shape.
inline int64_t ParseIsoMs(const std::string& text) {
  int year, month, day, hour, minute, second;
  char rest[64] = {0};
  if (sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%63s", &year, &month, &day, &hour, &minute,
             &second, rest) < 6) {
    throw std::runtime_error("not an ISO 8601 timestamp: " + text);
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000;
  std::string tail = rest;
  if (!tail.empty() && tail[0] == '.') {
    size_t digits = 1;
    int64_t fraction = 0, scale = 1000;
    while (digits < tail.size() && isdigit(static_cast<unsigned char>(tail[digits]))) {
      if (scale > 1) {
        scale /= 10;
        fraction += (tail[digits] - '0') * scale;
      }
      ++digits;
    }
    ms += fraction;
    tail = tail.substr(digits);
  }
  if (tail != "+00:00" && tail != "Z" && tail != "") {
    throw std::runtime_error("timestamp not in UTC: " + text);
  }
  return ms;
}

// Runs the jobs on their own threads and waits for all; rethrows the first exception. Jobs
// must not use Catch2 macros (they are not thread-safe): they return or throw.
inline void RunParallel(const std::vector<std::function<void()>>& jobs) {
  std::vector<std::exception_ptr> errors(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        jobs[i]();
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (const std::exception_ptr& e : errors) {
    if (e) {
      std::rethrow_exception(e);
    }
  }
}

inline std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string out(n, '\0');
  for (char& c : out) {
    c = static_cast<char>(rng() & 0xff);
  }
  return out;
}

}  // namespace sluice::testing
