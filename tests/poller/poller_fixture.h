// PollerFixture: the real pieces of event source mappings, in process, for the poller integration
// tests: a fresh temporary data directory with a StreamStore and a StateDb, an EffectCommitter,
// a real sandboxed function pool of batch_probe (tests/functions/batch_probe.cc) behind a
// FunctionResolver, a ManualClock that the stream store, the committer and the pollers read
// (the invoker's own timeouts stay real), and a PollerService with a short discovery interval.
//
// Tests put records, attach mappings, and watch what the function got through its "BATCH" log
// lines; time-based behaviour moves only when the test advances the clock. Waits are real time,
// bounded (kWaitLimit), polling every few milliseconds, only to let the threads catch up.
//
// Every process a test starts belongs to the pool, which ends them when the fixture goes (after
// the service, so no invoke is in flight).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "poller/function_resolver.h"
#include "poller/poller_service.h"
#include "state/checkpoints.h"
#include "state/effect_committer.h"
#include "state/outbox.h"
#include "state/state_db.h"
#include "stream/stream_store.h"
#include "tests/support/invoke_harness.h"

namespace sluice::poller::testing {

inline constexpr char kStream[] = "events";  // made by the fixture, one shard
inline constexpr char kShard0[] = "shardId-000000000000";
inline constexpr char kFunction[] = "batch_probe";
inline constexpr auto kWaitLimit = std::chrono::seconds(20);
// How long a test lets the threads catch up before it checks that something did NOT happen.
inline constexpr auto kSettle = std::chrono::milliseconds(300);
// The pollers' retry backoff: the n-th wait is min(max, initial x 2^(n-1)), +-20% jitter.
inline constexpr auto kBackoffInitial = std::chrono::seconds(1);
inline constexpr auto kBackoffMax = std::chrono::seconds(8);

struct PollerFixtureOptions {
  std::chrono::milliseconds function_timeout{3000};
};

// One record as batch_probe logged it.
struct SeenRecord {
  std::string seq;
  std::string key;
  std::string data;  // at most 64 bytes, then "..."
  uint64_t bytes = 0;
};

// One invoke as batch_probe logged it (its "BATCH" line).
struct SeenBatch {
  std::string request_id;
  std::string shard_id;
  std::vector<SeenRecord> records;
  bool has_window = false;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  nlohmann::json state;  // the incoming state; a "big" member shows as its length
  bool final_invoke = false;
  bool terminated_early = false;

  std::vector<std::string> Data() const;
  std::vector<std::string> Seqs() const;
};

// prefix + decimal n. (Spelled out: GCC 12 warns falsely on "literal" + std::to_string(n).)
std::string Numbered(std::string_view prefix, int n);

// The records of `batches`, in order, repeats included.
std::vector<std::string> SeqsOf(const std::vector<SeenBatch>& batches);
std::vector<std::string> DataOf(const std::vector<SeenBatch>& batches);

// A mapping's "DestinationConfig" with an on-failure destination (mapping_config.h's forms).
nlohmann::json OnFailure(const std::string& destination);

class PollerFixture {
 public:
  explicit PollerFixture(PollerFixtureOptions options = {});
  ~PollerFixture();
  PollerFixture(const PollerFixture&) = delete;
  PollerFixture& operator=(const PollerFixture&) = delete;

  ManualClock& clock() { return clock_; }
  stream::StreamStore& streams() { return *streams_; }
  state::StateDb& db() { return *db_; }
  invoker::FunctionPool& pool() { return harness_->pool(); }
  // A path inside the fixture's temporary directory (not created).
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Destroys the service (invokes in flight finish) and starts a new one on the same database.
  void RestartService();

  void CreateStream(const std::string& name, uint32_t shards);
  // Puts records (partition key, data) in one call; returns their sequence numbers.
  std::vector<std::string> Put(const std::vector<std::pair<std::string, std::string>>& records,
                               const std::string& stream = kStream);
  std::string Put(const std::string& key, const std::string& data,
                  const std::string& stream = kStream);

  // Creates a mapping of batch_probe on kStream with these properties added (mapping_config.h's
  // JSON form); returns its UUID.
  std::string Attach(const nlohmann::json& properties = nlohmann::json::object());
  void Update(const std::string& uuid, const nlohmann::json& update);

  // Every invoke batch_probe logged so far, in the order they started.
  std::vector<SeenBatch> Batches() const;
  // Waits until at least `count` invokes were logged; returns them all.
  std::vector<SeenBatch> WaitForBatches(size_t count);
  // Lets the threads catch up (kSettle), then checks that exactly `count` invokes were logged.
  void ExpectBatchCountStays(size_t count);

  // Polls `done` every few milliseconds until it holds; fails the test after kWaitLimit.
  void WaitUntil(const std::function<bool()>& done, const std::string& what);
  // Advances the clock by `step`, lets the threads react, and again, until `done` holds; fails
  // the test after kWaitLimit. Returns how far the clock moved. For waits whose start the test
  // cannot see exactly (a backoff begins a moment after the invoke it follows).
  std::chrono::milliseconds AdvanceUntil(std::chrono::milliseconds step,
                                         const std::function<bool()>& done,
                                         const std::string& what);

  std::optional<state::Checkpoint> Checkpoint(const std::string& uuid,
                                              const std::string& shard_id = kShard0);
  // The checkpoint's sequence number ("" when there is none).
  std::string Position(const std::string& uuid, const std::string& shard_id = kShard0);
  void WaitForPosition(const std::string& uuid, const std::string& sequence_number,
                       const std::string& shard_id = kShard0);
  ShardStatus StatusOf(const std::string& uuid, const std::string& shard_id = kShard0);

  // Attribute "n" of item `key` of table "counts": how many records of that key committed.
  int64_t Count(const std::string& key);
  // Items of table "switches" that batch_probe's *-while:NAME commands look at.
  void SetSwitch(const std::string& name);
  void ClearSwitch(const std::string& name);

  // The data of every record of a stream, shard by shard.
  std::vector<std::string> StreamData(const std::string& stream);
  // The outbox rows waiting for delivery (no notifier runs here).
  std::vector<state::OutboxEntry> PendingNotifications();
  // The JSON files under `dir` (recursively), by path, parsed.
  std::vector<std::pair<std::string, nlohmann::json>> JsonFilesUnder(const std::string& dir);

 private:
  class PoolResolver;

  std::string dir_;
  ManualClock clock_;
  std::unique_ptr<stream::StreamStore> streams_;
  std::unique_ptr<state::StateDb> db_;
  std::unique_ptr<state::EffectCommitter> committer_;
  std::unique_ptr<sluice::testing::InvokeHarness> harness_;
  std::unique_ptr<PoolResolver> resolver_;
  std::unique_ptr<PollerService> service_;
};

}  // namespace sluice::poller::testing
