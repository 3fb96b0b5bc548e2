// Host log lines: one JSON object per line, valid even when a message is not UTF-8.
#include "base/log.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice {
namespace {

// What Log() writes to stderr during `log`.
template <typename Fn>
std::string CaptureStderr(Fn log) {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(::fileno(file), STDERR_FILENO);
  log();
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  std::string text;
  std::rewind(file);
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, file)) > 0;) {
    text.append(buffer, n);
  }
  std::fclose(file);
  return text;
}

TEST_CASE("a log line is one JSON object with time, level, component and message") {
  const std::string line = CaptureStderr([] { LogWarning("notify", "HTTP 503 from \"x\"\n"); });
  REQUIRE(line.back() == '\n');
  REQUIRE(line.find('\n') == line.size() - 1);
  const nlohmann::json parsed = nlohmann::json::parse(line);
  CHECK(parsed["level"] == "warning");
  CHECK(parsed["component"] == "notify");
  CHECK(parsed["message"] == "HTTP 503 from \"x\"\n");
  CHECK(parsed["time"].get<std::string>().size() == 24);  // 2026-11-22T05:30:00.123Z
}

TEST_CASE("bytes that are not UTF-8 become U+FFFD and the line stays valid JSON") {
  const std::string line = CaptureStderr([] { LogError("notify", "body: \xff\xfe ok"); });
  const nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
  REQUIRE_FALSE(parsed.is_discarded());
  CHECK(parsed["message"] == "body: \xEF\xBF\xBD\xEF\xBF\xBD ok");
}

}  // namespace
}  // namespace sluice
