// FunctionLogs: stored lines, rotation by size, tails and followers.
#include "host/function_logs.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-logs-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

invoker::LogLine Line(const std::string& text, const std::string& request_id = "req-1") {
  // 2023-11-14T22:13:20.123Z, function "f", instance "i", stderr.
  return invoker::LogLine{
      1'700'000'000'123, std::string(1, 'f'), std::string(1, 'i'), request_id, true, text};
}

TEST_CASE("lines are stored with time, request id and stream, and tailed oldest first") {
  TempDir dir;
  auto logs = FunctionLogs::Open({dir.path() + "/logs/functions"});
  REQUIRE(logs.ok());
  (*logs)->Append(Line("one"));
  (*logs)->Append(Line("two", ""));
  uint64_t last_seq = 0;
  Result<std::vector<std::string>> tail = (*logs)->Tail("f", 10, &last_seq);
  REQUIRE(tail.ok());
  CHECK(*tail == std::vector<std::string>{"2023-11-14T22:13:20.123Z\treq-1\tstderr\tone",
                                          "2023-11-14T22:13:20.123Z\t-\tstderr\ttwo"});
  CHECK(last_seq == 2);
  tail = (*logs)->Tail("f", 1, &last_seq);
  REQUIRE(tail.ok());
  CHECK(tail->size() == 1);
  CHECK(tail->front().find("\ttwo") != std::string::npos);
}

TEST_CASE("logs rotate by size and keep at most max_files files") {
  TempDir dir;
  FunctionLogOptions options{dir.path()};
  options.max_file_bytes = 1024;
  options.max_files = 3;
  auto logs = FunctionLogs::Open(options);
  REQUIRE(logs.ok());
  // 100 bytes of x, then the line's number.
  auto numbered = [](int i) {
    char text[128];
    std::snprintf(text, sizeof text, "%s%d", std::string(100, 'x').c_str(), i);
    return std::string(text);
  };
  for (int i = 0; i < 100; ++i) {
    (*logs)->Append(Line(numbered(i)));
  }
  CHECK(fs::exists(dir.path() + "/f/current.log"));
  CHECK(fs::exists(dir.path() + "/f/1.log"));
  CHECK(fs::exists(dir.path() + "/f/2.log"));
  CHECK_FALSE(fs::exists(dir.path() + "/f/3.log"));
  uintmax_t total = 0;
  for (const auto& entry : fs::directory_iterator(dir.path() + "/f")) {
    CHECK(entry.file_size() <= options.max_file_bytes);
    total += entry.file_size();
  }
  CHECK(total <= 3 * options.max_file_bytes);
  // The newest lines survive, in order.
  uint64_t last_seq = 0;
  auto tail = (*logs)->Tail("f", 0, &last_seq);
  REQUIRE(tail.ok());
  REQUIRE(!tail->empty());
  CHECK(tail->back().find(numbered(99)) != std::string::npos);
  CHECK(tail->size() < 100);
  CHECK(last_seq == 100);
}

TEST_CASE("a follower gets the lines appended after its position, waking when they come") {
  TempDir dir;
  auto logs = FunctionLogs::Open({dir.path()});
  REQUIRE(logs.ok());
  (*logs)->Append(Line("before"));
  uint64_t last_seq = 0;
  REQUIRE((*logs)->Tail("f", 10, &last_seq).ok());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    (*logs)->Append(Line("after"));
  });
  const auto lines =
      (*logs)->Follow("f", last_seq, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  writer.join();
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].seq == 2);
  CHECK(lines[0].text.find("\tafter") != std::string::npos);
  // Nothing new: the deadline ends the wait with nothing.
  CHECK((*logs)
            ->Follow("f", 2, std::chrono::steady_clock::now() + std::chrono::milliseconds(20))
            .empty());
}

}  // namespace
}  // namespace sluice::host
