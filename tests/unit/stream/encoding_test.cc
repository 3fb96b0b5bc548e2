// The stream core's stateless pieces: 128-bit decimal text, partition-key hashing, hash key
// ranges, CRC-32C, sequence numbers, record frames, shard ids and stream metadata.
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "stream/crc32c.h"
#include "stream/hash_key.h"
#include "stream/record_frame.h"
#include "stream/segment.h"
#include "stream/sequence_number.h"
#include "stream/stream_metadata.h"
#include "stream/uint128.h"
#include "stream_test_util.h"

namespace sluice::stream {
namespace {

Uint128 Dec(const char* text) {
  const std::optional<Uint128> value = ParseDecimal(text);
  INFO(text);
  REQUIRE(value.has_value());
  return *value;
}

constexpr char kMaxText[] = "340282366920938463463374607431768211455";  // 2^128 - 1

// ---------------------------------------------------------------------------------------------
// Uint128 decimal text

TEST_CASE("ToDecimal writes 0, powers of ten and 2^128 - 1", "[stream][uint128]") {
  CHECK(ToDecimal(0) == "0");
  CHECK(ToDecimal(1) == "1");
  CHECK(ToDecimal(9) == "9");
  CHECK(ToDecimal(10) == "10");
  CHECK(ToDecimal(UINT64_MAX) == "18446744073709551615");
  CHECK(ToDecimal(Uint128{UINT64_MAX} + 1) == "18446744073709551616");
  CHECK(ToDecimal(Uint128{1} << 127) == "170141183460469231731687303715884105728");
  CHECK(ToDecimal(kMaxUint128) == kMaxText);
  Uint128 power = 1;
  std::string text = "1";
  for (int i = 0; i < 38; ++i) {
    power *= 10;
    text += "0";
    CHECK(ToDecimal(power) == text);
  }
}

TEST_CASE("ParseDecimal reads canonical decimal up to 2^128 - 1", "[stream][uint128]") {
  CHECK(ParseDecimal("0") == Uint128{0});
  CHECK(ParseDecimal("7") == Uint128{7});
  CHECK(ParseDecimal("18446744073709551616") == Uint128{UINT64_MAX} + 1);
  CHECK(ParseDecimal(kMaxText) == kMaxUint128);
  CHECK(ParseDecimal("340282366920938463463374607431768211454") == kMaxUint128 - 1);
  // 39 digits below the maximum.
  CHECK(ParseDecimal("100000000000000000000000000000000000000").has_value());
}

TEST_CASE("ParseDecimal refuses overflow, leading zeros, signs and junk", "[stream][uint128]") {
  // Overflow: 2^128, 2^128 + 9, a larger 39-digit number, 40 digits.
  CHECK_FALSE(ParseDecimal("340282366920938463463374607431768211456").has_value());
  CHECK_FALSE(ParseDecimal("340282366920938463463374607431768211464").has_value());
  CHECK_FALSE(ParseDecimal("340282366920938463463374607431768211460").has_value());
  CHECK_FALSE(ParseDecimal("999999999999999999999999999999999999999").has_value());
  CHECK_FALSE(ParseDecimal("1000000000000000000000000000000000000000").has_value());
  // Leading zeros, even when the value would fit.
  CHECK_FALSE(ParseDecimal("00").has_value());
  CHECK_FALSE(ParseDecimal("01").has_value());
  CHECK_FALSE(ParseDecimal("0340282366920938463463374607431768211455").has_value());
  // Signs, spaces, empty, other characters.
  CHECK_FALSE(ParseDecimal("").has_value());
  CHECK_FALSE(ParseDecimal("-1").has_value());
  CHECK_FALSE(ParseDecimal("+1").has_value());
  CHECK_FALSE(ParseDecimal("-0").has_value());
  CHECK_FALSE(ParseDecimal(" 1").has_value());
  CHECK_FALSE(ParseDecimal("1 ").has_value());
  CHECK_FALSE(ParseDecimal("1a").has_value());
  CHECK_FALSE(ParseDecimal("0x10").has_value());
  CHECK_FALSE(ParseDecimal("1.0").has_value());
  CHECK_FALSE(ParseDecimal(std::string_view("1\0", 2)).has_value());
}

TEST_CASE("ToDecimal and ParseDecimal round-trip", "[stream][uint128]") {
  Uint128 value = 1;
  for (int i = 0; i < 300; ++i) {
    // A spread of magnitudes: multiply by an odd constant and add, wrapping.
    value = value * 6364136223846793005ull + 1442695040888963407ull;
    value ^= value << 64;
    INFO(ToDecimal(value));
    CHECK(ParseDecimal(ToDecimal(value)) == value);
  }
  for (int shift = 0; shift < 128; ++shift) {
    const Uint128 v = Uint128{1} << shift;
    CHECK(ParseDecimal(ToDecimal(v)) == v);
    CHECK(ParseDecimal(ToDecimal(v - 1)) == v - 1);
  }
}

// ---------------------------------------------------------------------------------------------
// Hashing and hash key ranges

TEST_CASE("PartitionKeyHash is MD5 read big-endian (reference vectors)", "[stream][hash]") {
  CHECK(ToDecimal(PartitionKeyHash("a")) == "16955237001963240173058271559858726497");
  CHECK(ToDecimal(PartitionKeyHash("hello")) == "123957004363873451094272536567338222994");
  CHECK(ToDecimal(PartitionKeyHash("partitionKey-0")) == "283893945402358862714065952676399797471");
  // md5("") = d41d8cd98f00b204e9800998ecf8427e
  CHECK(ToDecimal(PartitionKeyHash("")) == "281949768489412648962353822266799178366");
  // The high byte of md5("a") is 0x0c: big-endian, not little-endian.
  CHECK((PartitionKeyHash("a") >> 120) == 0x0c);
  CHECK((PartitionKeyHash("a") & 0xff) == 0x61);
}

TEST_CASE("reference keys land in the reference shards of 4", "[stream][hash]") {
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(4);
  REQUIRE(ranges.size() == 4);
  CHECK(ranges[0].Contains(PartitionKeyHash("a")));
  CHECK_FALSE(ranges[1].Contains(PartitionKeyHash("a")));
  CHECK(ranges[1].Contains(PartitionKeyHash("hello")));
  CHECK(ranges[3].Contains(PartitionKeyHash("partitionKey-0")));
  CHECK_FALSE(ranges[2].Contains(PartitionKeyHash("partitionKey-0")));
}

TEST_CASE("PartitionKeyHash is the same from many threads", "[stream][hash]") {
  const Uint128 expected = PartitionKeyHash("hello");
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (PartitionKeyHash("hello") != expected) {
          ++mismatches;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(mismatches == 0);
}

TEST_CASE("EvenHashKeyRanges matches the reference table for 1 to 4 shards", "[stream][hash]") {
  CHECK(EvenHashKeyRanges(0).empty());
  CHECK(EvenHashKeyRanges(1) == std::vector<HashKeyRange>{{0, kMaxUint128}});
  CHECK(EvenHashKeyRanges(2) ==
        std::vector<HashKeyRange>{{0, Dec("170141183460469231731687303715884105727")},
                                  {Dec("170141183460469231731687303715884105728"), kMaxUint128}});
  CHECK(EvenHashKeyRanges(3) ==
        std::vector<HashKeyRange>{{0, Dec("113427455640312821154458202477256070484")},
                                  {Dec("113427455640312821154458202477256070485"),
                                   Dec("226854911280625642308916404954512140969")},
                                  {Dec("226854911280625642308916404954512140970"), kMaxUint128}});
  CHECK(EvenHashKeyRanges(4) ==
        std::vector<HashKeyRange>{{0, Dec("85070591730234615865843651857942052863")},
                                  {Dec("85070591730234615865843651857942052864"),
                                   Dec("170141183460469231731687303715884105727")},
                                  {Dec("170141183460469231731687303715884105728"),
                                   Dec("255211775190703847597530955573826158591")},
                                  {Dec("255211775190703847597530955573826158592"), kMaxUint128}});
}

TEST_CASE("EvenHashKeyRanges tiles 0..2^128-1 for many shard counts", "[stream][hash]") {
  std::vector<uint32_t> counts;
  for (uint32_t n = 1; n <= 300; ++n) {
    counts.push_back(n);
  }
  for (uint32_t n : {512u, 1000u, 1024u, 4096u, 65536u, 100003u}) {
    counts.push_back(n);
  }
  for (const uint32_t n : counts) {
    INFO("shard count " << n);
    const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(n);
    REQUIRE(ranges.size() == n);
    // floor(2^128 / n), computed differently: floor((2^128 - n) / n) + 1.
    const Uint128 step = (kMaxUint128 - n + 1) / n + 1;
    REQUIRE(ranges.front().start == 0);
    REQUIRE(ranges.back().end == kMaxUint128);
    bool ok = true;
    for (uint32_t i = 0; i < n && ok; ++i) {
      ok = ranges[i].start <= ranges[i].end && ranges[i].start == step * i &&
           (i + 1 == n || ranges[i].end == step * (i + 1) - 1) &&
           (i == 0 || ranges[i].start == ranges[i - 1].end + 1);  // contiguous, no overlap
      if (!ok) {
        FAIL_CHECK("range " << i << " is [" << ToDecimal(ranges[i].start) << ", "
                            << ToDecimal(ranges[i].end) << "]");
      }
    }
    // The last range is never much longer than the others: the remainder is below n.
    CHECK(ranges.back().end - ranges.back().start - (step - 1) < n);
  }
  // A power of two splits exactly.
  const std::vector<HashKeyRange> eight = EvenHashKeyRanges(8);
  CHECK(eight[1].start == Uint128{1} << 125);
  CHECK(eight[7].start == Uint128{7} << 125);
}

TEST_CASE("every hash key routes to exactly one range", "[stream][hash]") {
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(5);
  for (int i = 0; i < 200; ++i) {
    const Uint128 key = PartitionKeyHash(testing::Numbered("key-", i));
    int owners = 0;
    for (const HashKeyRange& range : ranges) {
      owners += range.Contains(key) ? 1 : 0;
    }
    CHECK(owners == 1);
  }
  for (const HashKeyRange& range : ranges) {
    CHECK(range.Contains(range.start));
    CHECK(range.Contains(range.end));
  }
  CHECK_FALSE(ranges[1].Contains(ranges[0].end));
  CHECK_FALSE(ranges[0].Contains(ranges[1].start));
}

// ---------------------------------------------------------------------------------------------
// CRC-32C

TEST_CASE("Crc32c matches the standard check values", "[stream][crc32c]") {
  CHECK(Crc32c("", 0) == 0u);
  CHECK(Crc32c("123456789", 9) == 0xe3069283u);
  CHECK(Crc32c("a", 1) == 0xc1d04330u);
  // RFC 3720 appendix B.4.
  std::string zeros(32, '\0');
  CHECK(Crc32c(zeros.data(), zeros.size()) == 0x8a9136aau);
  std::string ones(32, '\xff');
  CHECK(Crc32c(ones.data(), ones.size()) == 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
  }
  CHECK(Crc32c(ascending.data(), ascending.size()) == 0x46dd794eu);
}

TEST_CASE("Crc32c continues across pieces at every split and alignment", "[stream][crc32c]") {
  std::string text;
  for (int i = 0; i < 100; ++i) {
    text.push_back(static_cast<char>(i * 37 + 11));
  }
  const uint32_t whole = Crc32c(text.data(), text.size());
  for (size_t split = 0; split <= text.size(); ++split) {
    const uint32_t first = Crc32c(text.data(), split);
    CHECK(Crc32c(text.data() + split, text.size() - split, first) == whole);
  }
  // Unaligned starts give the same values as a copy at an aligned address.
  for (size_t start = 0; start < 9; ++start) {
    const std::string copy = text.substr(start);
    CHECK(Crc32c(text.data() + start, text.size() - start) == Crc32c(copy.data(), copy.size()));
  }
}

// ---------------------------------------------------------------------------------------------
// Sequence numbers

TEST_CASE("sequence numbers round-trip and always have 38 digits", "[stream][sequence]") {
  CHECK(SequenceNumber::First(0).ToString() == "42535295865117307932921825928971026432");
  CHECK(SequenceNumber{7, 3, 12345}.ToString() == "42535295899779629088252705847275171897");
  CHECK(SequenceNumber::Last(UINT32_MAX).ToString() == "63802943797675961899382738893456539647");
  const std::vector<SequenceNumber> numbers = {SequenceNumber::First(0),
                                               SequenceNumber::Last(0),
                                               SequenceNumber::First(UINT32_MAX),
                                               SequenceNumber::Last(UINT32_MAX),
                                               {1, 1, 0},
                                               {2, kMaxGeneration, 1},
                                               {12, 5, UINT64_MAX},
                                               {123456, 77, 9876543210}};
  for (const SequenceNumber& number : numbers) {
    const std::string text = number.ToString();
    INFO(text);
    CHECK(text.size() == 38);
    // 0b0010 in the top nibble puts every number in [2^125, 3 * 2^124): 4.25e37 to 6.38e37.
    CHECK(text >= "42535295865117307932921825928971026432");
    CHECK(text <= "63802943797675961899382738893456539647");
    const std::optional<SequenceNumber> back = SequenceNumber::Parse(text);
    REQUIRE(back.has_value());
    CHECK(*back == number);
    CHECK(ParseDecimal(text) == number.ToUint128());
  }
}

TEST_CASE("sequence numbers order by shard, then generation, then ordinal", "[stream][sequence]") {
  const std::vector<SequenceNumber> ascending = {{0, 0, 0},
                                                 {0, 0, 1},
                                                 {0, 0, UINT64_MAX},
                                                 {0, 1, 0},
                                                 {0, 1, 5},
                                                 {0, 2, 0},
                                                 {0, kMaxGeneration, UINT64_MAX},
                                                 {1, 0, 0},
                                                 {1, 9, 3},
                                                 {UINT32_MAX, 0, 0},
                                                 SequenceNumber::Last(UINT32_MAX)};
  for (size_t i = 1; i < ascending.size(); ++i) {
    INFO(i);
    CHECK(ascending[i - 1].ToUint128() < ascending[i].ToUint128());
    // Same number of digits, so the text compares the same way.
    CHECK(ascending[i - 1].ToString() < ascending[i].ToString());
  }
  for (uint32_t shard : {0u, 3u}) {
    CHECK(SequenceNumber::First(shard).ToUint128() <= SequenceNumber{shard, 1, 0}.ToUint128());
    CHECK(SequenceNumber{shard, 9, 99}.ToUint128() < SequenceNumber::Last(shard).ToUint128());
  }
}

TEST_CASE("SequenceNumber::Parse refuses what ToString cannot make", "[stream][sequence]") {
  CHECK_FALSE(SequenceNumber::Parse("").has_value());
  CHECK_FALSE(SequenceNumber::Parse("0").has_value());
  CHECK_FALSE(SequenceNumber::Parse("12345").has_value());
  // 2^125 - 1 (top nibble 0001) and 3 * 2^124 (top nibble 0011).
  CHECK_FALSE(SequenceNumber::Parse("42535295865117307932921825928971026431").has_value());
  CHECK_FALSE(SequenceNumber::Parse("63802943797675961899382738893456539648").has_value());
  CHECK_FALSE(SequenceNumber::Parse(kMaxText).has_value());
  CHECK_FALSE(SequenceNumber::Parse("042535295865117307932921825928971026432").has_value());
  CHECK_FALSE(SequenceNumber::Parse("-42535295865117307932921825928971026432").has_value());
  CHECK_FALSE(SequenceNumber::Parse("4253529586511730793292182592897102643x").has_value());
  // AWS-shaped 56-digit numbers are not ours.
  CHECK_FALSE(SequenceNumber::Parse("49546986683135544286507457936321625675700192471156785154")
                  .has_value());
}

// ---------------------------------------------------------------------------------------------
// Record frames

TEST_CASE("record frames round-trip with the documented layout", "[stream][frame]") {
  std::string bytes;
  AppendFrame(&bytes, 42, 7, 1'700'000'000'123, "key", "some data");
  REQUIRE(bytes.size() == kFrameHeaderSize + 3 + 9);
  uint32_t size_field = 0;
  std::memcpy(&size_field, bytes.data(), 4);
  CHECK(size_field == bytes.size());
  uint32_t crc_field = 0;
  std::memcpy(&crc_field, bytes.data() + 4, 4);
  CHECK(crc_field == Crc32c(bytes.data() + 8, bytes.size() - 8));
  uint64_t ordinal_field = 0;
  std::memcpy(&ordinal_field, bytes.data() + 8, 8);
  CHECK(ordinal_field == 42);
  CHECK(bytes.substr(kFrameHeaderSize) == "keysome data");

  // A second frame after the first, with empty key and data and a negative time.
  AppendFrame(&bytes, 43, 0, -5, "", "");
  FrameView frame;
  REQUIRE(ParseFrame(bytes, &frame) == FrameParse::kOk);
  CHECK(frame.frame_size == kFrameHeaderSize + 12);
  CHECK(frame.ordinal == 42);
  CHECK(frame.generation == 7);
  CHECK(frame.arrival_ms == 1'700'000'000'123);
  CHECK(frame.partition_key == "key");
  CHECK(frame.data == "some data");
  REQUIRE(ParseFrame(std::string_view(bytes).substr(frame.frame_size), &frame) == FrameParse::kOk);
  CHECK(frame.frame_size == kFrameHeaderSize);
  CHECK(frame.ordinal == 43);
  CHECK(frame.arrival_ms == -5);
  CHECK(frame.partition_key.empty());
  CHECK(frame.data.empty());
}

TEST_CASE("a frame cut short is incomplete and a changed byte is corrupt", "[stream][frame]") {
  std::string bytes;
  std::string data(300, 'x');
  AppendFrame(&bytes, 1, 1, 1000, "pk", data);
  FrameView frame;
  for (size_t length = 0; length < bytes.size(); ++length) {
    INFO("length " << length);
    CHECK(ParseFrame(std::string_view(bytes).substr(0, length), &frame) == FrameParse::kIncomplete);
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    INFO("byte " << i);
    std::string bad = bytes;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    const FrameParse parse = ParseFrame(bad, &frame);
    if (i < 4) {
      // A changed size reads as corrupt (sizes differ from key + data) or as needing more bytes.
      CHECK(parse != FrameParse::kOk);
    } else {
      CHECK(parse == FrameParse::kCorrupt);
    }
  }
}

TEST_CASE("frame sizes outside the valid range are corrupt", "[stream][frame]") {
  FrameView frame;
  std::string bytes(64, '\0');
  uint32_t size = kFrameHeaderSize - 1;
  std::memcpy(bytes.data(), &size, 4);
  CHECK(ParseFrame(bytes, &frame) == FrameParse::kCorrupt);
  size = 0;
  std::memcpy(bytes.data(), &size, 4);
  CHECK(ParseFrame(bytes, &frame) == FrameParse::kCorrupt);
  size = kMaxFrameSize + 1;
  std::memcpy(bytes.data(), &size, 4);
  CHECK(ParseFrame(bytes, &frame) == FrameParse::kCorrupt);
  CHECK(ParseFrame(std::string_view(bytes).substr(0, 3), &frame) == FrameParse::kIncomplete);
}

// ---------------------------------------------------------------------------------------------
// Segment file names

TEST_CASE("segment file names are 20 digits and parse back", "[stream][segment]") {
  CHECK(Segment::FileName(0) == "00000000000000000000.log");
  CHECK(Segment::FileName(1234) == "00000000000000001234.log");
  CHECK(Segment::ParseFileName("00000000000000001234.log") == 1234);
  CHECK(Segment::ParseFileName(Segment::FileName(INT64_MAX)) == INT64_MAX);
  CHECK(Segment::ParseFileName("0000000000000001234.log") == -1);
  CHECK(Segment::ParseFileName("00000000000000001234.lag") == -1);
  CHECK(Segment::ParseFileName("0000000000000000123a.log") == -1);
  CHECK(Segment::ParseFileName("00000000000000001234.log.tmp") == -1);
  CHECK(Segment::ParseFileName("set-aside-1") == -1);
  // Above INT64_MAX, including values that do not even fit 64 bits.
  CHECK(Segment::ParseFileName("09223372036854775808.log") == -1);
  CHECK(Segment::ParseFileName("18446744073709551615.log") == -1);
  CHECK(Segment::ParseFileName("18446744073709551616.log") == -1);
  CHECK(Segment::ParseFileName("99999999999999999999.log") == -1);
}

// ---------------------------------------------------------------------------------------------
// Shard ids and stream metadata

TEST_CASE("shard ids format with 12 digits and parse back", "[stream][metadata]") {
  CHECK(ShardIdString(0) == "shardId-000000000000");
  CHECK(ShardIdString(7) == "shardId-000000000007");
  CHECK(ShardIdString(2147483647) == "shardId-002147483647");
  CHECK(ParseShardId("shardId-000000000007") == 7u);
  CHECK(ParseShardId("shardId-7") == 7u);
  CHECK(ParseShardId("shardId-002147483647") == 2147483647u);
  CHECK_FALSE(ParseShardId("shardId-002147483648").has_value());
  CHECK_FALSE(ParseShardId("shardId-").has_value());
  CHECK_FALSE(ParseShardId("shardId-0000000000007").has_value());
  CHECK_FALSE(ParseShardId("shardId--1").has_value());
  CHECK_FALSE(ParseShardId("shard-000000000007").has_value());
  CHECK_FALSE(ParseShardId("ShardId-000000000007").has_value());
  CHECK_FALSE(ParseShardId("shardId-00000000000x").has_value());
}

TEST_CASE("stream metadata round-trips through JSON", "[stream][metadata]") {
  StreamMetadata meta;
  meta.name = "tolls.v2-east_1";
  meta.created_ms = 1'700'000'000'123;
  meta.retention_hours = 168;
  meta.generation = 9;
  meta.next_shard_index = 3;
  meta.shards.push_back({0, {0, kMaxUint128}, std::nullopt, std::nullopt, true});
  meta.shards.push_back(
      {1, {0, Dec("170141183460469231731687303715884105727")}, 0u, std::nullopt, false});
  meta.shards.push_back(
      {2, {Dec("170141183460469231731687303715884105728"), kMaxUint128}, 0u, 1u, false});
  const std::string json = meta.ToJson();
  // Hash keys travel as decimal strings.
  CHECK(json.find("\"340282366920938463463374607431768211455\"") != std::string::npos);
  Result<StreamMetadata> back = StreamMetadata::FromJson(json);
  INFO(back.status().ToString());
  REQUIRE(back.ok());
  CHECK(*back == meta);
}

TEST_CASE("stream metadata refuses broken JSON", "[stream][metadata]") {
  StreamMetadata meta;
  meta.name = "s";
  meta.next_shard_index = 1;
  meta.shards.push_back({0, {0, kMaxUint128}, std::nullopt, std::nullopt, false});
  const std::string good = meta.ToJson();
  REQUIRE(StreamMetadata::FromJson(good).ok());

  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    return StreamMetadata::FromJson(text);
  };
  CHECK(StreamMetadata::FromJson("").status().code() == Code::kInvalidArgument);
  CHECK(StreamMetadata::FromJson("{").status().code() == Code::kInvalidArgument);
  CHECK(StreamMetadata::FromJson("[]").status().code() == Code::kInvalidArgument);
  CHECK(replaced("\"format\": 1", "\"format\": 2").status().code() == Code::kInvalidArgument);
  CHECK(replaced("\"name\": \"s\"", "\"name\": 5").status().code() == Code::kInvalidArgument);
  CHECK(replaced("\"next_shard_index\": 1", "\"next_shard_index\": 2").status().code() ==
        Code::kInvalidArgument);
  CHECK(replaced("\"index\": 0", "\"index\": 1").status().code() == Code::kInvalidArgument);
  CHECK(replaced("\"starting_hash_key\": \"0\"", "\"starting_hash_key\": \"01\"").status().code() ==
        Code::kInvalidArgument);
  // Open shards that leave part of the key space without a shard, and a retention out of range.
  CHECK(replaced("\"starting_hash_key\": \"0\"",
                 std::string("\"starting_hash_key\": \"") + kMaxText + "\"")
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(replaced("\"ending_hash_key\": \"340282366920938463463374607431768211455\"",
                 "\"ending_hash_key\": \"5\"")
            .status()
            .code() == Code::kInvalidArgument);
  CHECK(replaced("\"retention_hours\": 24", "\"retention_hours\": 0").status().code() ==
        Code::kInvalidArgument);
  StreamMetadata inverted = meta;
  inverted.shards[0].range = {10, 5};
  CHECK(StreamMetadata::FromJson(inverted.ToJson()).status().code() == Code::kInvalidArgument);
  CHECK(replaced("\"closed\": false", "\"closed\": \"no\"").status().code() ==
        Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::stream
