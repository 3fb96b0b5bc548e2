// Gzip: round trips, interchange with the real gzip(1) binary (files in a fresh temporary
// directory), concatenated members, and what is not gzip.
#include "delivery/gzip.h"

#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "tests/support/run_command.h"
#include "tests/unit/stream/stream_test_util.h"

namespace sluice::delivery {
namespace {

using stream::testing::TempDir;
using stream::testing::WriteBytes;
using testing::CommandResult;
using testing::RunCommand;

constexpr char kGzip[] = "/bin/gzip";

// `size` bytes that compress poorly (xorshift), so that output spans several zlib buffers.
std::string NoisyBytes(size_t size) {
  std::string bytes(size, '\0');
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (char& byte : bytes) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    byte = static_cast<char>(state);
  }
  return bytes;
}

TEST_CASE("gzip round trips empty, text and binary data") {
  const std::string text = std::string(200'000, 'a') + "{\"car\":\"c-1\"}\n";
  for (const std::string& data : {std::string(), text, NoisyBytes(300'000)}) {
    INFO("size " << data.size());
    const std::string compressed = GzipCompress(data);
    REQUIRE(compressed.size() >= 18);  // a gzip header and trailer at least
    CHECK(static_cast<uint8_t>(compressed[0]) == 0x1f);
    CHECK(static_cast<uint8_t>(compressed[1]) == 0x8b);
    const Result<std::string> back = GzipDecompress(compressed);
    INFO(back.status().ToString());
    REQUIRE(back.ok());
    CHECK(*back == data);
  }
  CHECK(GzipCompress(text).size() < text.size() / 100);
}

TEST_CASE("gzip -d reads what GzipCompress writes, and GzipDecompress reads gzip's output") {
  TempDir tmp;
  const std::string data = "line one\n" + NoisyBytes(100'000) + std::string(50'000, 'z');
  WriteBytes(tmp / "ours.gz", GzipCompress(data));
  const CommandResult unzipped = RunCommand({kGzip, "-dc", tmp / "ours.gz"});
  INFO(unzipped.err);
  REQUIRE(unzipped.exit_code == 0);
  CHECK(unzipped.out == data);

  WriteBytes(tmp / "theirs", data);
  const CommandResult zipped = RunCommand({kGzip, "-9c", tmp / "theirs"});
  REQUIRE(zipped.exit_code == 0);
  const Result<std::string> back = GzipDecompress(zipped.out);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(*back == data);
}

TEST_CASE("concatenated gzip members decompress to their concatenated data") {
  const std::string first = "first member\n";
  const std::string second = NoisyBytes(70'000);
  const Result<std::string> back =
      GzipDecompress(GzipCompress(first) + GzipCompress("") + GzipCompress(second));
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(*back == first + second);
}

TEST_CASE("what is not a whole gzip stream is INVALID_ARGUMENT") {
  const std::string good = GzipCompress("some data that is long enough to matter");
  const std::string bad_crc = [&] {
    std::string copy = good;
    copy[copy.size() - 5] ^= 0x01;  // in the CRC-32 of the trailer
    return copy;
  }();
  for (const std::string& data :
       {std::string(), std::string("plain text, not gzip"), good.substr(0, good.size() - 1),
        good.substr(0, 10), good + "trailing garbage", bad_crc}) {
    INFO("input of " << data.size() << " bytes");
    const Result<std::string> back = GzipDecompress(data);
    CHECK(back.status().code() == Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace sluice::delivery
