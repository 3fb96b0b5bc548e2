#include "base/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "base/time_format.h"

namespace sluice {
namespace {

// Appends `text` as a JSON string (quotes included). Bytes that are not valid UTF-8 are not
// checked here: messages are the host's own, and names in them were validated on the way in.
void AppendJsonString(std::string* out, std::string_view text) {
  out->push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
          *out += escaped;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

void Log(LogLevel level, std::string_view component, std::string_view message) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const char* level_name = level == LogLevel::kInfo      ? "info"
                           : level == LogLevel::kWarning ? "warning"
                                                         : "error";
  std::string line;
  line.reserve(80 + component.size() + message.size());
  line += "{\"time\":\"" + IsoUtcMillis(ms) + "\",\"level\":\"" + level_name + "\",\"component\":";
  AppendJsonString(&line, component);
  line += ",\"message\":";
  AppendJsonString(&line, message);
  line += "}\n";
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
