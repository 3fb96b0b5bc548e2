// Crash recovery of segment files and shard logs: torn tails cut at every byte, corrupt frames,
// broken middle segments set aside, torn headers, frames bigger than the recovery chunk.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "stream/record_frame.h"
#include "stream/segment.h"
#include "stream/shard_log.h"
#include "stream/shard_reader.h"
#include "stream_test_util.h"

namespace sluice::stream {
namespace {

using testing::Append;
using testing::FileSize;
using testing::ListNames;
using testing::NumberedData;
using testing::OpenLog;
using testing::ReadAll;
using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

std::string Key(uint64_t i) {
  return testing::Numbered("key-", i);
}

// Writes `count` numbered records, one write each, with sizes that differ record to record.
// Returns the end offset of each record's frame in the (single) segment file.
std::vector<uint64_t> WriteNumbered(ShardLog& log, uint64_t count, ManualClock& clock) {
  std::vector<uint64_t> ends;
  uint64_t offset = kSegmentHeaderSize;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string key = Key(i);
    const std::string data = NumberedData(i, 20 + 3 * i);
    REQUIRE(Append(log, key, data) == i);
    offset += kFrameHeaderSize + key.size() + data.size();
    ends.push_back(offset);
    clock.Advance(std::chrono::milliseconds(5));
  }
  return ends;
}

void CheckNumbered(const std::vector<StoredRecord>& records, uint64_t count, uint32_t generation) {
  REQUIRE(records.size() == count);
  for (uint64_t i = 0; i < count; ++i) {
    INFO("record " << i);
    CHECK(records[i].ordinal == i);
    CHECK(records[i].generation == generation);
    CHECK(records[i].partition_key == Key(i));
    CHECK(records[i].data == NumberedData(i, 20 + 3 * i));
  }
}

const std::string kFirstSegment = Segment::FileName(0);

TEST_CASE("recovery cuts a torn last record at every byte offset", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  constexpr uint64_t kRecords = 5;
  std::vector<uint64_t> ends;
  {
    auto log = OpenLog(tmp / "original", 1, ShardLogOptions{}, &clock);
    ends = WriteNumbered(*log, kRecords, clock);
  }
  const std::string original = ReadBytes(tmp / "original/" + kFirstSegment);
  REQUIRE(original.size() == ends.back());
  const uint64_t keep_end = ends[kRecords - 2];  // end of the last record that must survive

  for (uint64_t length = keep_end; length <= original.size(); ++length) {
    INFO("segment cut to " << length << " of " << original.size() << " bytes");
    const std::string dir = tmp / (testing::Numbered("cut-", length));
    REQUIRE(std::filesystem::create_directory(dir));
    const std::string path = dir + "/" + kFirstSegment;
    WriteBytes(path, std::string_view(original).substr(0, length));

    const bool whole = length == original.size();
    const uint64_t survivors = whole ? kRecords : kRecords - 1;
    {
      auto log = OpenLog(dir, 2, ShardLogOptions{}, &clock);
      CheckNumbered(ReadAll(*log), survivors, 1);
      CHECK(log->end_ordinal() == survivors);
      CHECK(log->trim_horizon() == 0);
      // The file was cut back to the end of the last whole record.
      CHECK(FileSize(path) == (whole ? original.size() : keep_end));
      CHECK(ReadBytes(path) == original.substr(0, whole ? original.size() : keep_end));
      // The log goes on from there: the next record takes the next ordinal.
      CHECK(Append(*log, "after", "cut") == survivors);
    }
    // And all of it is there after another reopen, in the same single segment.
    auto log = OpenLog(dir, 3, ShardLogOptions{}, &clock);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == survivors + 1);
    CHECK(records.back().ordinal == survivors);
    CHECK(records.back().generation == 2);
    CHECK(records.back().data == "cut");
    CHECK(ListNames(dir) == std::vector<std::string>{kFirstSegment});
    CHECK(ListNames(dir, true).empty());  // nothing set aside
  }
}

TEST_CASE("recovery cuts a last record with any corrupt byte", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  constexpr uint64_t kRecords = 4;
  std::vector<uint64_t> ends;
  {
    auto log = OpenLog(tmp / "original", 1, ShardLogOptions{}, &clock);
    ends = WriteNumbered(*log, kRecords, clock);
  }
  const std::string original = ReadBytes(tmp / "original/" + kFirstSegment);
  const uint64_t keep_end = ends[kRecords - 2];

  SECTION("a flipped bit in the payload") {
    for (uint64_t at = keep_end + kFrameHeaderSize; at < original.size(); ++at) {
      INFO("byte " << at << " flipped");
      const std::string dir = tmp / (testing::Numbered("flip-", at));
      REQUIRE(std::filesystem::create_directory(dir));
      std::string bytes = original;
      bytes[at] = static_cast<char>(bytes[at] ^ 0x20);
      WriteBytes(dir + "/" + kFirstSegment, bytes);
      auto log = OpenLog(dir, 2, ShardLogOptions{}, &clock);
      CheckNumbered(ReadAll(*log), kRecords - 1, 1);
      CHECK(FileSize(dir + "/" + kFirstSegment) == keep_end);
    }
  }
  SECTION("a changed header field of the last frame") {
    for (uint64_t at = keep_end; at < keep_end + kFrameHeaderSize; ++at) {
      INFO("byte " << at << " changed");
      const std::string dir = tmp / (testing::Numbered("header-", at));
      REQUIRE(std::filesystem::create_directory(dir));
      std::string bytes = original;
      bytes[at] = static_cast<char>(bytes[at] + 1);
      WriteBytes(dir + "/" + kFirstSegment, bytes);
      auto log = OpenLog(dir, 2, ShardLogOptions{}, &clock);
      CheckNumbered(ReadAll(*log), kRecords - 1, 1);
      CHECK(FileSize(dir + "/" + kFirstSegment) == keep_end);
    }
  }
  SECTION("a corrupt first record leaves an empty log that starts at ordinal 0") {
    std::string bytes = original;
    bytes[kSegmentHeaderSize + kFrameHeaderSize + 1] ^= 0x01;
    REQUIRE(std::filesystem::create_directory(tmp / "first"));
    WriteBytes(tmp / ("first/" + kFirstSegment), bytes);
    auto log = OpenLog(tmp / "first", 2, ShardLogOptions{}, &clock);
    CHECK(ReadAll(*log).empty());
    CHECK(log->end_ordinal() == 0);
    CHECK(FileSize(tmp / ("first/" + kFirstSegment)) == kSegmentHeaderSize);
    CHECK(Append(*log, "k", "v") == 0);
  }
}

TEST_CASE("recovery cuts a frame whose ordinal is out of sequence", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    WriteNumbered(*log, 3, clock);
  }
  const std::string path = tmp / kFirstSegment;
  const uint64_t good_size = FileSize(path);
  // A well-formed frame (good checksum) that skips ordinal 3, and one after it.
  std::string bytes = ReadBytes(path);
  AppendFrame(&bytes, 4, 1, clock.UnixMillis(), "k", "skipped one");
  AppendFrame(&bytes, 5, 1, clock.UnixMillis(), "k", "and another");
  WriteBytes(path, bytes);
  auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
  CheckNumbered(ReadAll(*log), 3, 1);
  CHECK(FileSize(path) == good_size);
  CHECK(Append(*log, "k", "v") == 3);
}

TEST_CASE("recovery of a log in several segments", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 200;  // about three records per segment
  const std::string dir = tmp / "shard";
  constexpr uint64_t kRecords = 20;
  {
    auto log = OpenLog(dir, 1, options, &clock);
    WriteNumbered(*log, kRecords, clock);
    CheckNumbered(ReadAll(*log), kRecords, 1);
  }
  const std::vector<std::string> files = ListNames(dir);
  REQUIRE(files.size() >= 4);
  // Each file is named by its first ordinal, and each continues the one before.
  std::vector<uint64_t> firsts;
  for (const std::string& name : files) {
    const int64_t first = Segment::ParseFileName(name);
    REQUIRE(first >= 0);
    firsts.push_back(static_cast<uint64_t>(first));
  }
  CHECK(firsts[0] == 0);
  for (size_t i = 1; i < firsts.size(); ++i) {
    CHECK(firsts[i] > firsts[i - 1]);
  }

  SECTION("a whole log reopens whole") {
    auto log = OpenLog(dir, 2, options, &clock);
    CheckNumbered(ReadAll(*log), kRecords, 1);
    CHECK(ListNames(dir) == files);
    CHECK(Append(*log, "k", "v") == kRecords);
  }

  SECTION("a corrupt record in a middle segment sets the later segments aside") {
    // Corrupt the payload of the second record of the second segment.
    const std::string middle = dir + "/" + files[1];
    const std::string middle_bytes = ReadBytes(middle);
    const uint64_t bad = firsts[1] + 1;
    REQUIRE(bad < firsts[2]);
    const uint64_t first_frame = kSegmentHeaderSize + kFrameHeaderSize + Key(firsts[1]).size() +
                                 NumberedData(firsts[1], 20 + 3 * firsts[1]).size();
    std::string bytes = middle_bytes;
    bytes[first_frame + kFrameHeaderSize + 2] ^= 0x40;  // inside the second frame's key
    WriteBytes(middle, bytes);
    std::vector<std::string> later_contents;
    for (size_t i = 2; i < files.size(); ++i) {
      later_contents.push_back(ReadBytes(dir + "/" + files[i]));
    }

    clock.Advance(std::chrono::seconds(1));
    const int64_t recovered_at = clock.UnixMillis();
    std::string aside_name;
    {
      auto log = OpenLog(dir, 2, options, &clock);
      CheckNumbered(ReadAll(*log), bad, 1);
      CHECK(log->end_ordinal() == bad);
      // The middle segment was cut after its first record.
      CHECK(FileSize(middle) == first_frame);
      // The bytes cut off the middle segment are kept beside it.
      const std::vector<std::string> names = ListNames(dir);
      REQUIRE(names.size() == 3);
      CHECK(names[0] == files[0]);
      CHECK(names[1] == files[1]);
      CHECK(names[2].rfind(files[1] + ".cut-", 0) == 0);
      CHECK(ReadBytes(dir + "/" + names[2]) == bytes.substr(first_frame));
      // The later segments were moved, whole and unchanged, not deleted.
      const std::string aside_prefix = testing::Numbered("set-aside-", recovered_at) + "-";
      const std::vector<std::string> asides = ListNames(dir, true);
      REQUIRE(asides.size() == 1);
      CHECK(asides[0].rfind(aside_prefix, 0) == 0);
      aside_name = asides[0];
      const std::string aside = dir + "/" + aside_name;
      CHECK(ListNames(aside) == std::vector<std::string>(files.begin() + 2, files.end()));
      for (size_t i = 2; i < files.size(); ++i) {
        CHECK(ReadBytes(aside + "/" + files[i]) == later_contents[i - 2]);
      }
      // Writing goes on at the cut, in the cut segment or a new one after it.
      CHECK(Append(*log, "new", "record") == bad);
    }
    auto log = OpenLog(dir, 3, options, &clock);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == bad + 1);
    CHECK(records.back().data == "record");
    CHECK(records.back().generation == 2);
    CHECK(ListNames(dir + "/" + aside_name).size() == files.size() - 2);
  }

  SECTION("a missing middle segment sets the later ones aside") {
    REQUIRE(std::filesystem::remove(dir + "/" + files[1]));
    auto log = OpenLog(dir, 2, options, &clock);
    CheckNumbered(ReadAll(*log), firsts[1], 1);
    CHECK(ListNames(dir) == std::vector<std::string>{files[0]});
    const std::vector<std::string> asides = ListNames(dir, true);
    REQUIRE(asides.size() == 1);
    CHECK(ListNames(dir + "/" + asides[0]) ==
          std::vector<std::string>(files.begin() + 2, files.end()));
    CHECK(Append(*log, "k", "v") == firsts[1]);
  }

  SECTION("a torn last segment is cut and its predecessors kept") {
    const std::string last = dir + "/" + files.back();
    const uint64_t size = FileSize(last);
    REQUIRE(size > kSegmentHeaderSize);
    std::filesystem::resize_file(last, size - 1);
    auto log = OpenLog(dir, 2, options, &clock);
    CheckNumbered(ReadAll(*log), kRecords - 1, 1);
    CHECK(ListNames(dir) == files);
    CHECK(ListNames(dir, true).empty());
  }
}

TEST_CASE("a segment whose header was torn at creation starts over empty", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    WriteNumbered(*log, 3, clock);
  }
  // A crash right after the next segment was created, before its header was whole.
  for (size_t header_bytes : {size_t{0}, size_t{5}, kSegmentHeaderSize - 1}) {
    INFO(header_bytes << " header bytes");
    const std::string next = tmp / Segment::FileName(3);
    WriteBytes(
        next,
        std::string("SLUICELG\x01\0\0\0\0\0\0\0", kSegmentHeaderSize).substr(0, header_bytes));
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    CheckNumbered(ReadAll(*log), 3, 1);
    CHECK(FileSize(next) == kSegmentHeaderSize);
    CHECK(log->end_ordinal() == 3);
    REQUIRE(std::filesystem::remove(next));
  }
}

TEST_CASE("a damaged header in front of records keeps the file aside", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    WriteNumbered(*log, 3, clock);
  }
  const std::string segment = tmp / kFirstSegment;
  std::string bytes = ReadBytes(segment);
  bytes[0] ^= 0x01;  // "SLUICELG" -> "RLUICELG"
  WriteBytes(segment, bytes);
  auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
  CHECK(ReadAll(*log).empty());
  // The damaged file is kept, byte for byte, beside the fresh segment.
  std::vector<std::string> kept;
  for (const std::string& name : ListNames(tmp.path())) {
    if (name.rfind(kFirstSegment + ".bad-header-", 0) == 0) {
      kept.push_back(name);
    }
  }
  REQUIRE(kept.size() == 1);
  CHECK(ReadBytes(tmp / kept[0]) == bytes);
  CHECK(FileSize(segment) == kSegmentHeaderSize);
}

TEST_CASE("frames bigger than the read and recovery chunks", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  const std::string big(1536 * 1024, 'B');  // above both the 256 KiB and 1 MiB chunks
  std::string big_varied = big;
  for (size_t i = 0; i < big_varied.size(); i += 4096) {
    big_varied[i] = static_cast<char>('a' + (i / 4096) % 26);
  }
  uint64_t end_of_small = 0;
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    REQUIRE(Append(*log, "s", "small") == 0);
    end_of_small = FileSize(tmp / kFirstSegment);
    REQUIRE(Append(*log, "b", big_varied) == 1);
    REQUIRE(Append(*log, "s", "tail") == 2);
    Result<ShardLog::ReadResult> read = log->Read(1, 1, 1);
    REQUIRE(read.ok());
    REQUIRE(read->records.size() == 1);
    CHECK(read->records[0].data == big_varied);
  }
  const std::string path = tmp / kFirstSegment;
  const std::string whole = ReadBytes(path);
  {
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    const std::vector<StoredRecord> records = ReadAll(*log, 0, 10);
    REQUIRE(records.size() == 3);
    CHECK(records[1].data == big_varied);
    CHECK(records[2].data == "tail");
  }
  // Cut inside the big frame, at a few places including past the first recovery chunk.
  for (uint64_t cut : {end_of_small + 3, end_of_small + 300 * 1024, end_of_small + (1 << 20) + 7,
                       whole.size() - 40}) {
    INFO("cut at " << cut);
    WriteBytes(path, std::string_view(whole).substr(0, cut));
    auto log = OpenLog(tmp.path(), 3, ShardLogOptions{}, &clock);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == 1);
    CHECK(records[0].data == "small");
    CHECK(FileSize(path) == end_of_small);
  }
}

TEST_CASE("Segment::Recover reports what it cut", "[stream][recovery][segment]") {
  TempDir tmp;
  const std::string path = tmp / Segment::FileName(10);
  {
    Result<std::unique_ptr<Segment>> created = Segment::Create(tmp.path(), 10);
    REQUIRE(created.ok());
    CHECK((*created)->empty());
    CHECK((*created)->size() == kSegmentHeaderSize);
  }
  std::string bytes = ReadBytes(path);
  CHECK(bytes.substr(0, 8) == "SLUICELG");
  AppendFrame(&bytes, 10, 1, 100, "a", "one");
  AppendFrame(&bytes, 11, 1, 200, "b", "two");
  const size_t good = bytes.size();
  bytes += "torn";
  WriteBytes(path, bytes);

  std::string cut;
  Result<std::unique_ptr<Segment>> segment = Segment::Recover(path, 10, &cut);
  REQUIRE(segment.ok());
  CHECK_FALSE(cut.empty());
  CHECK((*segment)->first_ordinal() == 10);
  CHECK((*segment)->end_ordinal() == 12);
  CHECK((*segment)->size() == good);
  CHECK((*segment)->first_arrival_ms() == 100);
  CHECK((*segment)->last_arrival_ms() == 200);
  CHECK(FileSize(path) == good);
  segment->reset();

  // Now whole: nothing to cut.
  segment = Segment::Recover(path, 10, &cut);
  REQUIRE(segment.ok());
  CHECK(cut.empty());
  CHECK((*segment)->end_ordinal() == 12);
}

}  // namespace
}  // namespace sluice::stream

namespace sluice::stream {
namespace {

// A log of several sealed segments and an active one, with their records.
struct SealedLog {
  std::vector<std::string> segments;  // file names, oldest first
  std::vector<StoredRecord> records;
};

SealedLog WriteSegments(const std::string& dir, ManualClock& clock) {
  ShardLogOptions options;
  options.segment_max_bytes = 200;
  auto log = OpenLog(dir, 1, options, &clock);
  for (uint64_t i = 0; i < 20; ++i) {
    Append(*log, "k", testing::NumberedData(i));
    clock.Advance(std::chrono::milliseconds(10));
  }
  Result<int> written = log->WriteSealedIndexes();
  REQUIRE(written.ok());
  SealedLog sealed;
  for (const std::string& name : ListNames(dir)) {
    if (Segment::ParseFileName(name) >= 0) {
      sealed.segments.push_back(name);
    }
  }
  REQUIRE(sealed.segments.size() >= 4);
  CHECK(*written == static_cast<int>(sealed.segments.size()) - 1);  // all but the active one
  CHECK(*log->WriteSealedIndexes() == 0);                           // once each
  sealed.records = ReadAll(*log);
  return sealed;
}

bool Exists(const std::string& path) {
  return std::filesystem::exists(path);
}

TEST_CASE("a consumer resumes after its checkpoint, also when a cut log lost it",
          "[stream][recovery][reader]") {
  TempDir tmp;
  ManualClock clock;
  constexpr uint64_t kRecords = 5;
  std::vector<uint64_t> ends;
  {
    auto log = OpenLog(tmp / "original", 1, ShardLogOptions{}, &clock);
    ends = WriteNumbered(*log, kRecords, clock);
    // Nothing lost: just after the checkpoint.
    CHECK(ResumeAfter(*log, SequenceNumber{0, 1, 2}) == 3);
    CHECK(ResumeAfter(*log, SequenceNumber{0, 1, kRecords - 1}) == kRecords);
  }
  const std::string original = ReadBytes(tmp / "original/" + kFirstSegment);

  // A consumer checkpointed record 4, then a power loss cut the log after record 2, and producers
  // wrote 4 records (ordinals 3-6, generation 2) before the consumer came back: it must read all of
  // them, from ordinal 3, though ordinal 4 exists again.
  {
    const std::string dir = tmp / "refilled";
    REQUIRE(std::filesystem::create_directory(dir));
    WriteBytes(dir + "/" + kFirstSegment, std::string_view(original).substr(0, ends[2]));
    auto log = OpenLog(dir, 2, ShardLogOptions{}, &clock);
    REQUIRE(log->end_ordinal() == 3);
    for (int i = 0; i < 4; ++i) {
      Append(*log, "new", "after the cut");
    }
    CHECK(ResumeAfter(*log, SequenceNumber{0, 1, 4}) == 3);
  }

  // The cut took exactly the checkpointed record, and nothing was written since: the consumer
  // waits at the end, where the next record (generation 2, ordinal 4) will be.
  {
    const std::string dir = tmp / "cut-at-checkpoint";
    REQUIRE(std::filesystem::create_directory(dir));
    WriteBytes(dir + "/" + kFirstSegment, std::string_view(original).substr(0, ends[3]));
    auto log = OpenLog(dir, 2, ShardLogOptions{}, &clock);
    REQUIRE(log->end_ordinal() == 4);
    CHECK(ResumeAfter(*log, SequenceNumber{0, 1, 4}) == 4);
    Append(*log, "new", "next");
    CHECK(ResumeAfter(*log, SequenceNumber{0, 1, 4}) == 4);
  }
}

}  // namespace

TEST_CASE("sealed segments reopen from their index files", "[stream][recovery]") {
  TempDir tmp;
  ManualClock clock;
  const SealedLog sealed = WriteSegments(tmp.path(), clock);
  const auto index_of = [&](size_t i) {
    return tmp / Segment::IndexFileName(Segment::ParseFileName(sealed.segments[i]));
  };
  for (size_t i = 0; i + 1 < sealed.segments.size(); ++i) {
    CHECK(Exists(index_of(i)));
  }
  CHECK(!Exists(index_of(sealed.segments.size() - 1)));

  SECTION("a clean reopen reads the same records and goes on appending") {
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == sealed.records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      CHECK(records[i].data == sealed.records[i].data);
      CHECK(records[i].arrival_ms == sealed.records[i].arrival_ms);
    }
    CHECK(log->OrdinalAtOrAfter(sealed.records[7].arrival_ms) == 7);
    CHECK(Append(*log, "k", "next") == sealed.records.size());
  }
  SECTION("a damaged index file is ignored and the segment is scanned") {
    std::string bytes = ReadBytes(index_of(1));
    bytes[bytes.size() / 2] ^= 0x10;
    WriteBytes(index_of(1), bytes);
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    CHECK(ReadAll(*log).size() == sealed.records.size());
    CHECK(!Exists(index_of(1)));  // the stale file went; the next pass writes a good one
    CHECK(*log->WriteSealedIndexes() == 1);
  }
  SECTION("an index file that no longer matches its segment is ignored") {
    // The segment lost its last frame behind the index file's back: the scan finds out.
    const std::string segment = tmp / sealed.segments[1];
    const uint64_t size = FileSize(segment);
    REQUIRE(::truncate(segment.c_str(), static_cast<off_t>(size - 3)) == 0);
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    const uint64_t kept = static_cast<uint64_t>(Segment::ParseFileName(sealed.segments[2])) - 1;
    CHECK(log->end_ordinal() == kept);
    CHECK(ListNames(tmp.path(), true).size() == 1);  // the later segments were set aside
  }
  SECTION("a sealed segment that becomes the last one is written again") {
    // The segments after segment 1 no longer follow it (segment 2 is missing): they are set
    // aside, and segment 1, opened from its index file, is written from now on.
    REQUIRE(std::filesystem::remove(tmp / sealed.segments[2]));
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    const uint64_t end = static_cast<uint64_t>(Segment::ParseFileName(sealed.segments[2]));
    CHECK(log->end_ordinal() == end);
    CHECK(!Exists(index_of(1)));  // it will change
    CHECK(Append(*log, "k", "written again") == end);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == end + 1);
    CHECK(records.back().data == "written again");
    // The set-aside segments took their index files with them.
    const std::vector<std::string> asides = ListNames(tmp.path(), true);
    REQUIRE(asides.size() == 1);
    const std::vector<std::string> aside_files = ListNames(tmp / asides[0]);
    CHECK(std::count_if(aside_files.begin(), aside_files.end(), [](const std::string& name) {
            return name.size() > 4 && name.substr(name.size() - 4) == ".idx";
          }) >= 1);
  }
  SECTION("an index file whose segment is gone is removed") {
    const std::string orphan = tmp / Segment::IndexFileName(1000);
    WriteBytes(orphan, "x");
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    CHECK(!Exists(orphan));
  }
  SECTION("retention removes a segment's index file with it") {
    auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
    REQUIRE(*log->TrimBefore(sealed.records.back().arrival_ms) >= 1);
    CHECK(!Exists(tmp / sealed.segments[0]));
    CHECK(!Exists(index_of(0)));
  }
}

}  // namespace sluice::stream
