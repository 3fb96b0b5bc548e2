// How a shard's records become batches: BatchSize, MaximumBatchingWindowInSeconds and the 6 MiB
// payload cap close them, and with ParallelizationFactor 1 one batch at a time is in flight, in
// sequence order.
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/poller/poller_fixture.h"

namespace sluice::poller::testing {
namespace {

using Strings = std::vector<std::string>;
using Records = std::vector<std::pair<std::string, std::string>>;

TEST_CASE("BatchSize closes a batch without waiting for the batching window") {
  PollerFixture f;
  Records records;
  for (int i = 0; i < 7; ++i) {
    records.emplace_back("k", Numbered("r", i));
  }
  f.Put(records);
  f.Attach({{"BatchSize", 3}, {"MaximumBatchingWindowInSeconds", 300}});

  const std::vector<SeenBatch> full = f.WaitForBatches(2);
  CHECK(full[0].Data() == Strings{"r0", "r1", "r2"});
  CHECK(full[1].Data() == Strings{"r3", "r4", "r5"});
  // The last record alone fills no batch: it waits for the window.
  f.ExpectBatchCountStays(2);
  f.clock().Advance(std::chrono::seconds(300));
  CHECK(f.WaitForBatches(3)[2].Data() == Strings{"r6"});
}

TEST_CASE("MaximumBatchingWindowInSeconds holds a small batch until the clock passes the window") {
  PollerFixture f;
  const std::string uuid = f.Attach({{"BatchSize", 10}, {"MaximumBatchingWindowInSeconds", 5}});
  f.Put({{"k", "r0"}, {"k", "r1"}, {"k", "r2"}});
  f.WaitUntil([&] { return f.StatusOf(uuid).polled == 3; }, "the poller to read 3 records");

  f.ExpectBatchCountStays(0);
  f.clock().Advance(std::chrono::milliseconds(4999));
  f.ExpectBatchCountStays(0);
  f.clock().Advance(std::chrono::milliseconds(1));
  const std::vector<SeenBatch> batches = f.WaitForBatches(1);
  CHECK(batches[0].Data() == Strings{"r0", "r1", "r2"});
  f.ExpectBatchCountStays(1);
}

TEST_CASE("the 6 MiB invoke payload cap splits a batch of big records") {
  PollerFixture f;
  // Each record is about 1.33 MB in the event (base64 and envelope): 4 fit in 6 MiB, 5 do not.
  constexpr size_t kRecordBytes = 1'000'000;
  Records records;
  for (int i = 0; i < 10; ++i) {
    records.emplace_back(Numbered("k", i), std::string(kRecordBytes, 'x'));
  }
  const Strings seqs = f.Put(records);
  // Neither BatchSize nor the window closes a batch here: only the payload cap does.
  f.Attach({{"BatchSize", 100}, {"MaximumBatchingWindowInSeconds", 300}});

  const std::vector<SeenBatch> capped = f.WaitForBatches(2);
  CHECK(capped[0].Seqs() == Strings(seqs.begin(), seqs.begin() + 4));
  CHECK(capped[1].Seqs() == Strings(seqs.begin() + 4, seqs.begin() + 8));
  for (const SeenRecord& record : capped[0].records) {
    CHECK(record.bytes == kRecordBytes);
  }
  f.ExpectBatchCountStays(2);
  f.clock().Advance(std::chrono::seconds(300));
  CHECK(f.WaitForBatches(3)[2].Seqs() == Strings(seqs.begin() + 8, seqs.end()));
}

TEST_CASE("a shard's records are delivered in sequence order with one batch in flight") {
  PollerFixture f;
  const std::string uuid = f.Attach({{"BatchSize", 4}});
  Records records;
  for (int i = 0; i < 20; ++i) {
    // Slow invokes, so a second batch in flight would overlap the first.
    records.emplace_back(Numbered("k", i % 3), Numbered("sleep:20 r", i));
  }
  const Strings seqs = f.Put(records);
  f.WaitForPosition(uuid, seqs.back());

  CHECK(SeqsOf(f.Batches()) == seqs);
  // Invokes never overlapped: one instance served them all.
  CHECK(f.pool().metrics().cold_starts == 1);
  CHECK(f.Count("k0") == 7);
  CHECK(f.Count("k1") == 7);
  CHECK(f.Count("k2") == 6);
}

}  // namespace
}  // namespace sluice::poller::testing
