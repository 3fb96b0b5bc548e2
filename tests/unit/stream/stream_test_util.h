// Helpers shared by the stream core's unit tests: a fresh temporary directory per test, file
// helpers, and short ways to append to and read back a ShardLog.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stream/shard_log.h"

namespace sluice::stream::testing {

// A directory made with mkdtemp under $TMPDIR (or /tmp), removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
                          "/sluice-stream-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      FAIL("mkdtemp " << pattern << " failed");
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  REQUIRE(out.good());
}

inline uint64_t FileSize(const std::string& path) {
  struct stat st;
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return static_cast<uint64_t>(st.st_size);
}

// The regular files (or directories, with `dirs`) directly in `dir`, sorted by name.
inline std::vector<std::string> ListNames(const std::string& dir, bool dirs = false) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (dirs ? entry.is_directory() : entry.is_regular_file()) {
      names.push_back(entry.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::unique_ptr<ShardLog> OpenLog(const std::string& dir, uint32_t generation,
                                         const ShardLogOptions& options, Clock* clock,
                                         bool closed = false) {
  Result<std::unique_ptr<ShardLog>> log = ShardLog::Open(dir, generation, closed, options, clock);
  INFO(log.status().ToString());
  REQUIRE(log.ok());
  return std::move(*log);
}

// Appends records (one Stage, one WaitDurable) and returns the first ordinal.
inline uint64_t Append(ShardLog& log, const std::vector<RecordInput>& records) {
  Result<ShardLog::Ticket> ticket = log.Stage(records);
  INFO(ticket.status().ToString());
  REQUIRE(ticket.ok());
  const Status status = log.WaitDurable(*ticket);
  INFO(status.ToString());
  REQUIRE(status.ok());
  REQUIRE(ticket->end_ordinal - ticket->first_ordinal == records.size());
  return ticket->first_ordinal;
}

inline uint64_t Append(ShardLog& log, std::string_view key, std::string_view data) {
  return Append(log, std::vector<RecordInput>{{key, data}});
}

// Every readable record from `from` on, read in small batches so that reads cross segments.
inline std::vector<StoredRecord> ReadAll(const ShardLog& log, uint64_t from = 0, size_t batch = 7) {
  std::vector<StoredRecord> all;
  uint64_t position = from;
  while (true) {
    Result<ShardLog::ReadResult> result = log.Read(position, batch, 1 << 30);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    if (result->records.empty()) {
      break;
    }
    for (StoredRecord& record : result->records) {
      all.push_back(std::move(record));
    }
    REQUIRE(result->next_ordinal > position);
    position = result->next_ordinal;
  }
  return all;
}

// prefix + decimal n. (Spelled out: GCC 12 warns falsely on "literal" + std::to_string(n).)
inline std::string Numbered(std::string_view prefix, uint64_t n) {
  std::string text(prefix);
  text.append(std::to_string(n));
  return text;
}

// "t<writer>-<index>": the data of a concurrent writer's record.
inline std::string WriterData(uint64_t writer, uint64_t index) {
  std::string text = Numbered("t", writer);
  text.push_back('-');
  text.append(std::to_string(index));
  return text;
}

// The data of record `i` in the tests that write numbered records.
inline std::string NumberedData(uint64_t i, size_t size = 40) {
  std::string data = Numbered("record-", i);
  data.push_back('-');
  while (data.size() < size) {
    data.push_back(static_cast<char>('a' + (data.size() + i) % 26));
  }
  return data;
}

}  // namespace sluice::stream::testing
