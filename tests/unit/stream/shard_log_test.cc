// ShardLog: appends and group commit, reads and their limits, waiting for records, arrival-time
// lookups, closing, segment rolling and retention trimming.
#include "stream/shard_log.h"

#include <sys/resource.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "stream/record_frame.h"
#include "stream/segment.h"
#include "stream_test_util.h"

namespace sluice::stream {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using testing::Append;
using testing::FileSize;
using testing::ListNames;
using testing::NumberedData;
using testing::OpenLog;
using testing::ReadAll;
using testing::TempDir;

ShardLog::ReadResult MustRead(const ShardLog& log, uint64_t from, size_t max_records,
                              size_t max_bytes) {
  Result<ShardLog::ReadResult> result = log.Read(from, max_records, max_bytes);
  INFO(result.status().ToString());
  REQUIRE(result.ok());
  return std::move(*result);
}

std::vector<uint64_t> Ordinals(const std::vector<StoredRecord>& records) {
  std::vector<uint64_t> ordinals;
  for (const StoredRecord& record : records) {
    ordinals.push_back(record.ordinal);
  }
  return ordinals;
}

TEST_CASE("a new log appends dense ordinals and reads them back", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp / "shard", 5, ShardLogOptions{}, &clock);
  CHECK(log->end_ordinal() == 0);
  CHECK(log->trim_horizon() == 0);
  CHECK(log->last_arrival_ms() == 0);
  CHECK(log->generation() == 5);
  CHECK_FALSE(log->closed());
  CHECK(ReadAll(*log).empty());

  const int64_t t0 = clock.UnixMillis();
  CHECK(Append(*log, "k0", "v0") == 0);
  clock.Advance(milliseconds(10));
  // Several records in one Stage share a write, an arrival time and consecutive ordinals.
  Result<ShardLog::Ticket> ticket =
      log->Stage(std::vector<RecordInput>{{"k1", "v1"}, {"k2", ""}, {"", "v3"}});
  REQUIRE(ticket.ok());
  CHECK(ticket->first_ordinal == 1);
  CHECK(ticket->end_ordinal == 4);
  CHECK(ticket->arrival_ms == t0 + 10);
  // Not visible before it is durable.
  CHECK(log->end_ordinal() == 1);
  CHECK(MustRead(*log, 0, 100, 1 << 20).records.size() == 1);
  REQUIRE(log->WaitDurable(*ticket).ok());
  CHECK(log->end_ordinal() == 4);
  CHECK(log->last_arrival_ms() == t0 + 10);

  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 4);
  CHECK(Ordinals(records) == std::vector<uint64_t>{0, 1, 2, 3});
  CHECK(records[0].partition_key == "k0");
  CHECK(records[0].data == "v0");
  CHECK(records[0].arrival_ms == t0);
  CHECK(records[2].partition_key == "k2");
  CHECK(records[2].data.empty());
  CHECK(records[3].partition_key.empty());
  CHECK(records[3].data == "v3");
  for (const StoredRecord& record : records) {
    CHECK(record.generation == 5);
  }
  CHECK(records[1].arrival_ms == t0 + 10);
  CHECK(records[3].arrival_ms == t0 + 10);
}

TEST_CASE("records survive a reopen and later ones carry the new generation",
          "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    Append(*log, "a", "1");
    Append(*log, "b", "2");
  }
  auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
  CHECK(log->end_ordinal() == 2);
  CHECK(Append(*log, "c", "3") == 2);
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 3);
  CHECK(records[0].generation == 1);
  CHECK(records[1].generation == 1);
  CHECK(records[2].generation == 2);
  CHECK(records[2].data == "3");
}

TEST_CASE("arrival times never go backwards, even across a reopen", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  clock.Advance(seconds(100));
  const int64_t late = clock.UnixMillis();
  {
    auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
    Append(*log, "k", "late");
    clock.Advance(-seconds(50));  // the wall clock steps back
    Append(*log, "k", "stepped back");
    CHECK(log->last_arrival_ms() == late);
  }
  auto log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
  Append(*log, "k", "after reopen");
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 3);
  CHECK(records[0].arrival_ms == late);
  CHECK(records[1].arrival_ms == late);
  CHECK(records[2].arrival_ms == late);
}

TEST_CASE("Stage refuses records that do not fit a frame", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  Append(*log, "k", "before");
  const std::string long_key(65536, 'k');
  const std::string huge(kMaxFrameSize - kFrameHeaderSize, 'd');
  Result<ShardLog::Ticket> refused =
      log->Stage(std::vector<RecordInput>{{"ok", "fine"}, {long_key, "v"}});
  CHECK(refused.status().code() == Code::kInvalidArgument);
  refused = log->Stage(std::vector<RecordInput>{{"k", huge}});
  CHECK(refused.status().code() == Code::kInvalidArgument);
  // Nothing of a refused batch was staged; the limits themselves are fine.
  CHECK(Append(*log, std::string(65535, 'k'), "max key") == 1);
  CHECK(Append(*log, "", std::string_view(huge).substr(1)) == 2);
  CHECK(Append(*log, "k", "after") == 3);
  log.reset();
  log = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock);
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 4);
  CHECK(records[1].partition_key.size() == 65535);
  CHECK(records[2].data.size() == huge.size() - 1);
  CHECK(records[3].data == "after");
}

// Makes writes past `max_bytes` in any file fail with EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored) for
// as long as it lives: a real failing write(2), without a special file system.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t max_bytes) {
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_) == 0);
    saved_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = max_bytes;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, saved_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*saved_handler_)(int) = SIG_DFL;
};

TEST_CASE("a failed write stores nothing and the log goes on", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 300;
  auto log = OpenLog(tmp.path(), 1, options, &clock);
  Append(*log, "k", "zero");
  const std::string first = tmp / Segment::FileName(0);
  const uint64_t size = FileSize(first);
  const std::string big(250, 'b');

  SECTION("in the active segment") {
    {
      FileSizeLimit limit(size + 50);  // the write gets 50 bytes in, then fails
      Result<ShardLog::Ticket> ticket = log->Stage(std::vector<RecordInput>{{"k", big}});
      REQUIRE(ticket.ok());
      CHECK(ticket->first_ordinal == 1);
      CHECK(log->WaitDurable(*ticket).code() == Code::kUnavailable);
    }
    CHECK(FileSize(first) == size);  // the partial frame was cut back
  }
  SECTION("in a new segment") {
    Append(*log, "k", big);  // the first segment is now full: the next write rolls
    const uint64_t full_size = FileSize(first);
    REQUIRE(full_size >= options.segment_max_bytes);
    {
      FileSizeLimit limit(100);  // the new segment's header fits, the record does not
      Result<ShardLog::Ticket> ticket = log->Stage(std::vector<RecordInput>{{"k", big}});
      REQUIRE(ticket.ok());
      CHECK(log->WaitDurable(*ticket).code() == Code::kUnavailable);
    }
    CHECK(FileSize(first) == full_size);
    // No empty segment is left behind for a later roll to skip over.
    CHECK(ListNames(tmp.path()) == std::vector<std::string>{Segment::FileName(0)});
  }
  const uint64_t end = log->end_ordinal();
  CHECK(MustRead(*log, 0, 100, 1 << 20).records.size() == end);
  // The failed record's ordinal is taken by the next one.
  CHECK(Append(*log, "k", "after") == end);
  log.reset();
  log = OpenLog(tmp.path(), 2, options, &clock);
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == end + 1);
  CHECK(records.back().data == "after");
  CHECK(ListNames(tmp.path(), true).empty());  // nothing set aside
}

TEST_CASE("records committed before a later failed write are reported stored",
          "[stream][shard_log]") {
  // A PutRecords waits on one shard while others' flushes commit its records on another; a
  // failure after that must not make it report those records failed (the client would retry
  // and store them twice).
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  Result<ShardLog::Ticket> a = log->Stage(std::vector<RecordInput>{{"k", "a"}});
  Result<ShardLog::Ticket> b = log->Stage(std::vector<RecordInput>{{"k", "b"}});
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(log->WaitDurable(*b).ok());  // writes a and b together
  const uint64_t size = FileSize(tmp / Segment::FileName(0));
  {
    FileSizeLimit limit(size + 10);
    Result<ShardLog::Ticket> c = log->Stage(std::vector<RecordInput>{{"k", std::string(100, 'c')}});
    REQUIRE(c.ok());
    CHECK(log->WaitDurable(*c).code() == Code::kUnavailable);
  }
  CHECK(log->WaitDurable(*a).ok());
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 2);
  CHECK(records[0].data == "a");
  CHECK(records[1].data == "b");
}

TEST_CASE("a roll that failed does not break the chain when the next write does not roll",
          "[stream][shard_log]") {
  // The roll condition can turn false between two writes when the wall clock steps back.
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_age_ms = 1000;
  auto log = OpenLog(tmp.path(), 1, options, &clock);
  Append(*log, "k", "0");
  clock.Advance(milliseconds(1500));
  {
    FileSizeLimit limit(40);  // the header fits, the record does not
    Result<ShardLog::Ticket> ticket =
        log->Stage(std::vector<RecordInput>{{"k", std::string(100, 'x')}});
    REQUIRE(ticket.ok());
    CHECK(log->WaitDurable(*ticket).code() == Code::kUnavailable);
  }
  clock.Advance(-milliseconds(1000));  // now the first segment is only 500 ms old
  CHECK(Append(*log, "k", "1") == 1);
  CHECK(Append(*log, "k", "2") == 2);
  clock.Advance(milliseconds(2000));
  CHECK(Append(*log, "k", "3") == 3);  // rolls, at ordinal 3
  log.reset();
  log = OpenLog(tmp.path(), 2, options, &clock);
  CHECK(Ordinals(ReadAll(*log)) == std::vector<uint64_t>{0, 1, 2, 3});
  CHECK(ListNames(tmp.path(), true).empty());
}

TEST_CASE("Read honours max_records and max_bytes", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  for (int i = 0; i < 10; ++i) {
    // Ten-byte records, except record 5 which has 100 bytes.
    Append(*log, testing::Numbered("k", i), i == 5 ? std::string(100, 'x') : NumberedData(i, 10));
  }

  ShardLog::ReadResult r = MustRead(*log, 0, 3, 1 << 20);
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{0, 1, 2});
  CHECK(r.next_ordinal == 3);
  CHECK_FALSE(r.end_of_shard);

  r = MustRead(*log, 0, 100, 25);  // 10 + 10 fit; a third would make 30
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{0, 1});
  CHECK(r.next_ordinal == 2);

  r = MustRead(*log, 0, 100, 30);  // exactly at the limit is allowed
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{0, 1, 2});

  r = MustRead(*log, 5, 100, 50);  // a first record bigger than max_bytes still comes back
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{5});
  CHECK(r.records[0].data.size() == 100);
  CHECK(r.next_ordinal == 6);

  r = MustRead(*log, 5, 100, 0);
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{5});

  r = MustRead(*log, 4, 100, 50);  // but not as a second one
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{4});
  CHECK(r.next_ordinal == 5);

  r = MustRead(*log, 3, 1, 0);
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{3});
  CHECK(r.next_ordinal == 4);

  r = MustRead(*log, 6, 100, 1 << 20);  // to the end
  CHECK(Ordinals(r.records) == std::vector<uint64_t>{6, 7, 8, 9});
  CHECK(r.next_ordinal == 10);

  r = MustRead(*log, 10, 100, 1 << 20);  // at the end: nothing yet, continue there
  CHECK(r.records.empty());
  CHECK(r.next_ordinal == 10);
  CHECK_FALSE(r.end_of_shard);

  r = MustRead(*log, 2, 0, 1 << 20);
  CHECK(r.records.empty());
  CHECK(r.next_ordinal == 2);
}

TEST_CASE("Read starts anywhere in a long segment", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  constexpr uint64_t kRecords = 400;  // about 90 KB: several sparse index entries
  for (uint64_t i = 0; i < kRecords; i += 4) {
    std::vector<std::string> data;
    for (uint64_t k = i; k < i + 4; ++k) {
      data.push_back(NumberedData(k, 180));
    }
    Append(*log, {{"k", data[0]}, {"k", data[1]}, {"k", data[2]}, {"k", data[3]}});
  }
  for (uint64_t from : {0ull, 1ull, 89ull, 90ull, 91ull, 200ull, 255ull, 398ull, 399ull}) {
    INFO("from " << from);
    const ShardLog::ReadResult r = MustRead(*log, from, 2, 1 << 20);
    REQUIRE(!r.records.empty());
    CHECK(r.records[0].ordinal == from);
    CHECK(r.records[0].data == NumberedData(from, 180));
    CHECK(r.next_ordinal == std::min<uint64_t>(from + 2, kRecords));
  }
  const std::vector<StoredRecord> all = ReadAll(*log, 0, 33);
  REQUIRE(all.size() == kRecords);
  for (uint64_t i = 0; i < kRecords; ++i) {
    REQUIRE(all[i].ordinal == i);
    REQUIRE(all[i].data == NumberedData(i, 180));
  }
}

TEST_CASE("group commit: concurrent writers each get every record stored once, in order",
          "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 4096;  // roll while writers race
  Durability durability = GENERATE(Durability::kOs, Durability::kFsync);
  options.durability = durability;
  const int per_thread = durability == Durability::kFsync ? 30 : 200;
  constexpr int kThreads = 4;
  auto log = OpenLog(tmp.path(), 1, options, &clock);

  // What each writer was told: ordinal -> data.
  std::vector<std::map<uint64_t, std::string>> acknowledged(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread;) {
        // Mostly one record per Stage, sometimes three.
        const int n = (i % 7 == 3 && i + 3 <= per_thread) ? 3 : 1;
        std::vector<std::string> data;
        std::vector<RecordInput> inputs;
        for (int k = 0; k < n; ++k) {
          data.push_back(testing::WriterData(t, i + k));
        }
        for (const std::string& d : data) {
          inputs.push_back({"key", d});
        }
        Result<ShardLog::Ticket> ticket = log->Stage(inputs);
        if (!ticket.ok() || !log->WaitDurable(*ticket).ok() ||
            ticket->end_ordinal - ticket->first_ordinal != static_cast<uint64_t>(n)) {
          ++failures;
          return;
        }
        for (int k = 0; k < n; ++k) {
          acknowledged[t][ticket->first_ordinal + k] = data[k];
        }
        i += n;
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  REQUIRE(failures == 0);
  const uint64_t total = static_cast<uint64_t>(kThreads) * per_thread;
  CHECK(log->end_ordinal() == total);

  auto check = [&](const ShardLog& reader) {
    const std::vector<StoredRecord> records = ReadAll(reader, 0, 50);
    REQUIRE(records.size() == total);
    std::map<std::string, int> seen;
    std::vector<int> last_index(kThreads, -1);
    for (uint64_t i = 0; i < total; ++i) {
      const StoredRecord& record = records[i];
      REQUIRE(record.ordinal == i);
      ++seen[record.data];
      const int t = record.data[1] - '0';
      const int index = std::stoi(record.data.substr(3));
      REQUIRE(t >= 0);
      REQUIRE(t < kThreads);
      // Each writer's records appear in the order it wrote them.
      CHECK(index == last_index[t] + 1);
      last_index[t] = index;
      // And at the ordinal the writer was told.
      CHECK(acknowledged[t].at(record.ordinal) == record.data);
    }
    CHECK(seen.size() == total);
    for (const auto& [data, count] : seen) {
      CHECK(count == 1);
    }
  };
  check(*log);
  CHECK(ListNames(tmp.path()).size() > 1);
  log.reset();
  auto reopened = OpenLog(tmp.path(), 2, options, &clock);
  check(*reopened);
}

TEST_CASE("Durability::kFsync stores and reads back", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.durability = Durability::kFsync;
  options.segment_max_bytes = 100;
  {
    auto log = OpenLog(tmp.path(), 1, options, &clock);
    for (int i = 0; i < 5; ++i) {
      CHECK(Append(*log, "k", NumberedData(i, 50)) == static_cast<uint64_t>(i));
    }
    CHECK(ReadAll(*log).size() == 5);
  }
  auto log = OpenLog(tmp.path(), 2, options, &clock);
  const std::vector<StoredRecord> records = ReadAll(*log);
  REQUIRE(records.size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(records[i].data == NumberedData(i, 50));
  }
  CHECK(ListNames(tmp.path()).size() == 5);  // a roll before every record after the first
}

TEST_CASE("WaitForRecords wakes when another thread appends", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  const auto far = steady_clock::now() + std::chrono::hours(1);

  std::atomic<bool> woke{false};
  bool result = false;
  uint64_t end_when_woken = 0;
  std::thread waiter([&] {
    result = log->WaitForRecords(3, far);
    end_when_woken = log->end_ordinal();
    woke = true;
  });
  const auto started = steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    Append(*log, "k", "v");
  }
  // Three records (ordinals 0-2) are not what it waits for.
  Append(*log, "k", "the one");
  waiter.join();
  const auto waited = steady_clock::now() - started;
  CHECK(woke);
  CHECK(result);
  CHECK(end_when_woken >= 4);               // it did not return before ordinal 3 was committed
  CHECK(waited < std::chrono::minutes(1));  // woken, not timed out
}

TEST_CASE("WaitForRecords returns at once when records are there, false at a past deadline",
          "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  const auto past = steady_clock::now() - seconds(1);
  CHECK_FALSE(log->WaitForRecords(0, past));
  CHECK_FALSE(log->WaitForRecords(0, steady_clock::now()));
  Append(*log, "k", "v");
  CHECK(log->WaitForRecords(0, past));
  CHECK_FALSE(log->WaitForRecords(1, past));
  CHECK_FALSE(log->WaitForRecords(100, past));
}

TEST_CASE("Close wakes waiters, refuses appends and shows the end of the shard",
          "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  auto log = OpenLog(tmp.path(), 1, ShardLogOptions{}, &clock);
  Append(*log, "k", "0");
  // Staged before Close: still commits.
  Result<ShardLog::Ticket> ticket = log->Stage(std::vector<RecordInput>{{"k", "1"}});
  REQUIRE(ticket.ok());

  bool result = false;
  std::thread waiter([&] { result = log->WaitForRecords(10, steady_clock::now() + seconds(600)); });
  log->Close();
  CHECK(log->closed());
  REQUIRE(log->WaitDurable(*ticket).ok());
  waiter.join();
  CHECK(result);

  Result<ShardLog::Ticket> refused = log->Stage(std::vector<RecordInput>{{"k", "2"}});
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(log->end_ordinal() == 2);

  ShardLog::ReadResult r = MustRead(*log, 0, 1, 1 << 20);
  CHECK(r.records.size() == 1);
  CHECK_FALSE(r.end_of_shard);  // one more to read
  r = MustRead(*log, r.next_ordinal, 10, 1 << 20);
  CHECK(r.records.size() == 1);
  CHECK(r.records[0].data == "1");
  CHECK(r.end_of_shard);
  CHECK(r.next_ordinal == 2);

  // Opened closed: stays closed.
  log.reset();
  auto reopened = OpenLog(tmp.path(), 2, ShardLogOptions{}, &clock, /*closed=*/true);
  CHECK(reopened->closed());
  CHECK(reopened->Stage(std::vector<RecordInput>{{"k", "3"}}).status().code() ==
        Code::kFailedPrecondition);
  CHECK(reopened->WaitForRecords(2, steady_clock::now() - seconds(1)));
  CHECK(MustRead(*reopened, 2, 10, 100).end_of_shard);
}

TEST_CASE("OrdinalAtOrAfter finds the first record at or after a time", "[stream][shard_log]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 40 * 1024;  // a few segments, each with several index entries
  auto log = OpenLog(tmp.path(), 1, options, &clock);
  CHECK(log->OrdinalAtOrAfter(0) == 0);

  const int64_t t0 = clock.UnixMillis();
  std::vector<int64_t> arrivals;
  for (uint64_t i = 0; i < 300; ++i) {
    // Two records per millisecond step, and a gap of 1 s after every 50.
    if (i % 2 == 0) {
      clock.Advance(milliseconds(i % 50 == 0 ? 1000 : 1));
    }
    arrivals.push_back(clock.UnixMillis());
    Append(*log, "k", NumberedData(i, 500));
  }
  REQUIRE(ListNames(tmp.path()).size() >= 3);

  auto expected = [&](int64_t ms) {
    for (uint64_t i = 0; i < arrivals.size(); ++i) {
      if (arrivals[i] >= ms) {
        return i;
      }
    }
    return static_cast<uint64_t>(arrivals.size());
  };
  CHECK(log->OrdinalAtOrAfter(t0) == 0);
  CHECK(log->OrdinalAtOrAfter(INT64_MIN) == 0);
  CHECK(log->OrdinalAtOrAfter(arrivals.back() + 1) == 300);
  CHECK(log->OrdinalAtOrAfter(INT64_MAX) == 300);
  for (uint64_t i = 0; i < arrivals.size(); ++i) {
    for (int64_t delta : {-1, 0, 1}) {
      const int64_t ms = arrivals[i] + delta;
      INFO("record " << i << ", time " << ms);
      REQUIRE(log->OrdinalAtOrAfter(ms) == expected(ms));
    }
  }
}

// Retention: records at t0, t0+100, t0+200 in segment A; t0+1200, t0+1300 in B; t0+2400,
// t0+2500 in C (segments roll by age after 1 s).
struct RetentionFixture {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  int64_t t0 = 0;
  std::unique_ptr<ShardLog> log;

  RetentionFixture() {
    options.segment_max_age_ms = 1000;
    log = OpenLog(tmp.path(), 1, options, &clock);
    t0 = clock.UnixMillis();
    const int64_t offsets[] = {0, 100, 200, 1200, 1300, 2400, 2500};
    for (size_t i = 0; i < std::size(offsets); ++i) {
      clock.Advance(milliseconds(offsets[i] - (clock.UnixMillis() - t0)));
      REQUIRE(Append(*log, "k", testing::Numbered("r", i)) == i);
    }
    REQUIRE(ListNames(tmp.path()) == std::vector<std::string>{Segment::FileName(0),
                                                              Segment::FileName(3),
                                                              Segment::FileName(5)});
  }
};

TEST_CASE("segments roll by size", "[stream][shard_log][retention]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 150;
  auto log = OpenLog(tmp.path(), 1, options, &clock);
  // Each record is 34 + 1 + 60 = 95 bytes: after two (16 + 190 >= 150) the next write rolls.
  for (int i = 0; i < 5; ++i) {
    Append(*log, "k", std::string(60, 'x'));
  }
  CHECK(ListNames(tmp.path()) ==
        std::vector<std::string>{Segment::FileName(0), Segment::FileName(2), Segment::FileName(4)});
  CHECK(FileSize(tmp / Segment::FileName(0)) == 16 + 2 * 95);
  CHECK(FileSize(tmp / Segment::FileName(4)) == 16 + 95);
  CHECK(ReadAll(*log).size() == 5);
}

TEST_CASE("segments roll by age", "[stream][shard_log][retention]") {
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_age_ms = 60'000;
  auto log = OpenLog(tmp.path(), 1, options, &clock);
  Append(*log, "k", "0");
  clock.Advance(milliseconds(59'999));
  Append(*log, "k", "1");  // the segment is not yet a minute old
  CHECK(ListNames(tmp.path()) == std::vector<std::string>{Segment::FileName(0)});
  clock.Advance(milliseconds(1));
  Append(*log, "k", "2");
  Append(*log, "k", "3");
  CHECK(ListNames(tmp.path()) ==
        std::vector<std::string>{Segment::FileName(0), Segment::FileName(2)});
  // An idle log does not roll until something is written.
  clock.Advance(std::chrono::hours(5));
  CHECK(ListNames(tmp.path()).size() == 2);
  Append(*log, "k", "4");
  CHECK(ListNames(tmp.path()) ==
        std::vector<std::string>{Segment::FileName(0), Segment::FileName(2), Segment::FileName(4)});
  CHECK(ReadAll(*log).size() == 5);
}

TEST_CASE("TrimBefore removes whole expired segments and moves the trim horizon",
          "[stream][shard_log][retention]") {
  RetentionFixture f;
  ShardLog& log = *f.log;

  // A's newest record is at t0+200: not before a cutoff of t0+200.
  CHECK(*log.TrimBefore(f.t0) == 0);
  CHECK(*log.TrimBefore(f.t0 + 200) == 0);
  CHECK(log.trim_horizon() == 0);

  Result<int> removed = log.TrimBefore(f.t0 + 201);
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK(log.trim_horizon() == 3);
  CHECK(ListNames(f.tmp.path()) ==
        std::vector<std::string>{Segment::FileName(3), Segment::FileName(5)});
  CHECK(log.end_ordinal() == 7);

  // Reads from below the horizon start at it.
  ShardLog::ReadResult r = MustRead(log, 0, 1, 1 << 20);
  REQUIRE(r.records.size() == 1);
  CHECK(r.records[0].ordinal == 3);
  CHECK(r.records[0].data == "r3");
  CHECK(r.next_ordinal == 4);
  CHECK(Ordinals(ReadAll(log, 1)) == std::vector<uint64_t>{3, 4, 5, 6});
  CHECK(log.OrdinalAtOrAfter(f.t0) == 3);

  // Several at once; the cutoff below C's newest record keeps C.
  CHECK(*log.TrimBefore(f.t0 + 2500) == 1);
  CHECK(log.trim_horizon() == 5);
  CHECK(Ordinals(ReadAll(log)) == std::vector<uint64_t>{5, 6});
  CHECK(*log.TrimBefore(f.t0 + 2500) == 0);
}

TEST_CASE("TrimBelow removes the sealed segments wholly below an ordinal",
          "[stream][shard_log][retention]") {
  RetentionFixture f;
  ShardLog& log = *f.log;
  // Segments hold 0-2, 3-4 and 5-6 (the last is the active one).
  CHECK(*log.TrimBelow(0) == 0);
  CHECK(*log.TrimBelow(2) == 0);  // record 2 is still needed
  CHECK(log.trim_horizon() == 0);
  CHECK(*log.TrimBelow(3) == 1);
  CHECK(log.trim_horizon() == 3);
  CHECK(Ordinals(ReadAll(log)) == std::vector<uint64_t>{3, 4, 5, 6});
  CHECK(*log.TrimBelow(6) == 1);  // 3-4 go; 5-6 stays for record 6
  CHECK(Ordinals(ReadAll(log)) == std::vector<uint64_t>{5, 6});
  CHECK(*log.TrimBelow(7) == 0);  // everything was consumed, but 5-6 is the active segment
  CHECK(log.trim_horizon() == 5);
  CHECK(Append(log, "k", "next") == 7);
  CHECK(Ordinals(ReadAll(log)) == std::vector<uint64_t>{5, 6, 7});
}

TEST_CASE("the next ordinal is kept when every segment expired", "[stream][shard_log][retention]") {
  RetentionFixture f;
  Result<int> removed = f.log->TrimBefore(f.clock.UnixMillis() + 1);
  REQUIRE(removed.ok());
  CHECK(*removed == 3);
  CHECK(f.log->trim_horizon() == 7);
  CHECK(f.log->end_ordinal() == 7);
  CHECK(ListNames(f.tmp.path()) == std::vector<std::string>{Segment::FileName(7)});
  ShardLog::ReadResult r = MustRead(*f.log, 0, 10, 1 << 20);
  CHECK(r.records.empty());
  CHECK(r.next_ordinal == 7);
  CHECK(f.log->OrdinalAtOrAfter(0) == 7);
  // Trimming an empty log does nothing more.
  CHECK(*f.log->TrimBefore(f.clock.UnixMillis() + 100'000) == 0);

  SECTION("and the next record takes it") {
    CHECK(Append(*f.log, "k", "next") == 7);
    CHECK(Ordinals(ReadAll(*f.log)) == std::vector<uint64_t>{7});
  }
  SECTION("also across a reopen") {
    f.log.reset();
    auto log = OpenLog(f.tmp.path(), 2, f.options, &f.clock);
    CHECK(log->trim_horizon() == 7);
    CHECK(log->end_ordinal() == 7);
    CHECK(MustRead(*log, 0, 10, 1 << 20).next_ordinal == 7);
    CHECK(Append(*log, "k", "next") == 7);
    log.reset();
    log = OpenLog(f.tmp.path(), 3, f.options, &f.clock);
    const std::vector<StoredRecord> records = ReadAll(*log);
    REQUIRE(records.size() == 1);
    CHECK(records[0].ordinal == 7);
    CHECK(records[0].data == "next");
  }
}

TEST_CASE("a trimmed log keeps its horizon across a reopen", "[stream][shard_log][retention]") {
  RetentionFixture f;
  CHECK(*f.log->TrimBefore(f.t0 + 1301) == 2);
  f.log.reset();
  auto log = OpenLog(f.tmp.path(), 2, f.options, &f.clock);
  CHECK(log->trim_horizon() == 5);
  CHECK(log->end_ordinal() == 7);
  CHECK(Ordinals(ReadAll(*log, 0)) == std::vector<uint64_t>{5, 6});
  CHECK(Append(*log, "k", "v") == 7);
}

TEST_CASE("a read below a horizon with nothing left continues at the horizon",
          "[stream][shard_log][retention]") {
  RetentionFixture f;
  CHECK(*f.log->TrimBefore(f.clock.UnixMillis() + 1) == 3);
  ShardLog::ReadResult r = MustRead(*f.log, 2, 10, 1 << 20);
  CHECK(r.records.empty());
  CHECK(r.next_ordinal == 7);
}

}  // namespace
}  // namespace sluice::stream

namespace sluice::stream {
namespace {

size_t OpenDescriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++count;
  }
  return count;
}

}  // namespace

TEST_CASE("sealed segments hold no file descriptors", "[stream][shard_log]") {
  // A year of hourly segments on a few shards would otherwise run into RLIMIT_NOFILE.
  TempDir tmp;
  ManualClock clock;
  ShardLogOptions options;
  options.segment_max_bytes = 100;  // two records a segment
  const size_t before = OpenDescriptors();
  std::vector<std::string> written;
  {
    auto log = testing::OpenLog(tmp.path(), 1, options, &clock);
    for (uint64_t i = 0; i < 60; ++i) {
      written.push_back(testing::NumberedData(i));
      testing::Append(*log, "k", written.back());
    }
    CHECK(OpenDescriptors() <= before + 2);  // the active segment (and nothing per segment)
  }
  auto log = testing::OpenLog(tmp.path(), 2, options, &clock);
  CHECK(testing::ListNames(tmp.path()).size() >= 25);
  CHECK(OpenDescriptors() <= before + 2);
  const std::vector<StoredRecord> records = testing::ReadAll(*log);
  REQUIRE(records.size() == written.size());
  for (size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].data == written[i]);
  }
  CHECK(OpenDescriptors() <= before + 2);  // reads closed what they opened
}

}  // namespace sluice::stream
