// Host logs: one JSON object per line on stderr, never interleaved, safe from any thread:
//   {"time":"2026-11-22T03:40:00.123Z","level":"warning","component":"stream","message":"..."}
// level is info, warning or error.
#pragma once

#include <string_view>

namespace sluice {

enum class LogLevel { kInfo, kWarning, kError };

void Log(LogLevel level, std::string_view component, std::string_view message);

inline void LogInfo(std::string_view component, std::string_view message) {
  Log(LogLevel::kInfo, component, message);
}
inline void LogWarning(std::string_view component, std::string_view message) {
  Log(LogLevel::kWarning, component, message);
}
inline void LogError(std::string_view component, std::string_view message) {
  Log(LogLevel::kError, component, message);
}

}  // namespace sluice
