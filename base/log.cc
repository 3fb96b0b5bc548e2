#include "base/log.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "base/time_format.h"

namespace sluice {

void Log(LogLevel level, std::string_view component, std::string_view message) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const char* level_name = level == LogLevel::kInfo      ? "info"
                           : level == LogLevel::kWarning ? "warning"
                                                         : "error";
  // Invalid UTF-8 (a receiver's error text, say) becomes U+FFFD: every line stays valid JSON.
  std::string line = nlohmann::ordered_json{
      {"time", IsoUtcMillis(ms)},
      {"level", level_name},
      {"component", component},
      {"message",
       message}}.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  line.push_back('\n');
  // One write(2) per line: lines from different threads never interleave.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) {
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace sluice
