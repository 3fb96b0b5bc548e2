// ShardPoller: one event source mapping reading one shard, with Lambda's stream semantics.
//
// Threads: a reader and one worker per lane (ParallelizationFactor N, 1 by default).
// - The reader waits on the shard's log (woken by each commit, no polling interval), skips what
//   the checkpoint says is done, drops records the filter rejects, assigns tumbling windows, and
//   queues each record on lane PartitionKeyHash(key) mod N. It stops reading ahead when the lanes
//   hold 2 x BatchSize x N records or 2 x 6 MiB x N bytes.
// - A lane builds a batch from its queue: it closes at BatchSize records, at the estimated 6 MiB
//   invoke payload (base64 data plus the event's envelope), or when MaximumBatchingWindowInSeconds
//   has passed since the batch's first record was available, whichever comes first; a window
//   batch holds records of one window. One batch in flight per lane, records in sequence order.
//
// Each batch goes through the attempt loop (RunBatch):
// - records older than MaximumRecordAgeInSeconds are discarded before every attempt
//   (RecordAgeExceeded);
// - the function runs with the batch; its host-service effects are staged (state::EffectStage)
//   and commit only on success, together with the checkpoint (state::EffectCommitter), so after a
//   crash a batch whose effects committed is never invoked again and one whose effects did not is;
// - a function error (its own, a timeout, a crash, out of memory, an invalid response, a condition
//   that fails at commit) bisects the batch when BisectBatchOnFunctionError is on and it has more
//   than one record (a split spends no retry), otherwise counts a retry, waits an exponential
//   backoff with jitter, and tries again; past MaximumRetryAttempts the batch is discarded
//   (RetryAttemptsExhausted);
// - a throttle or host-side error (function not deployed, instance could not start, commit I/O)
//   waits the backoff and tries again without counting;
// - with ReportBatchItemFailures, records before the lowest failed sequence number are done (their
//   effects commit with the checkpoint), the rest is retried (as a retry when the first record
//   failed or bisection is off); an empty, unknown or malformed identifier fails the whole batch;
// - discarded records go to the on-failure destination (failure_record.h), then count as done.
//
// Tumbling windows (PF 1): every invoke carries the window and its state; the response's state
// is stored with the checkpoint. When a window is due (WindowTracker) and none of its records is
// queued, a final invoke (no records, isFinalInvokeForWindow) runs, fired by the clock even if no
// record arrives; its success closes the window. A state over 1 MiB ends the window early (a final
// invoke with isWindowTerminatedEarly). At the end of a closed shard every open window closes.
//
// The checkpoint row (state::Checkpoint, keyed by mapping UUID and shard id): sequence_number is
// the shard's finished prefix, "SHARD_END" once a closed shard is done; detail_json holds the
// lanes' positions (ShardProgress) and the open windows (WindowTracker) under "windows".
//
// Time (backoff, batching windows, record age, tumbling windows) comes from the Clock, so tests
// drive it with a ManualClock.
//
// Thread-safety: Start/Stop/destructor from one thread; stats() from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "poller/event_filter.h"
#include "poller/function_resolver.h"
#include "poller/mapping_config.h"
#include "poller/shard_progress.h"
#include "poller/shard_stats.h"
#include "poller/window_tracker.h"
#include "state/effect_committer.h"
#include "state/effect_stage.h"
#include "state/state_db.h"
#include "stream/hash_key.h"
#include "stream/shard_reader.h"
#include "stream/stream_store.h"

namespace sluice::poller {

inline constexpr char kShardEnd[] = "SHARD_END";
// The checkpoint detail's record of which stream it belongs to (its creation time): a stream
// deleted and made again under the same name starts its mappings over.
inline constexpr char kStreamCreatedKey[] = "streamCreatedMs";
inline constexpr uint64_t kMaxBatchPayloadBytes = 6u << 20;
inline constexpr size_t kMaxWindowStateBytes = 1u << 20;
// A commit conflict (a condition of the invoke's effects no longer held because another invoke
// committed first) is retried after a short backoff without counting toward
// MaximumRetryAttempts or bisecting, up to this many times in a row; past that it counts as a
// function error.
inline constexpr int kMaxConflictRetries = 100;
inline constexpr std::chrono::milliseconds kConflictBackoffInitial{10};
inline constexpr std::chrono::milliseconds kConflictBackoffMax{1000};

// What a commit does to a window's state once it succeeds.
enum class ShardPollerWindowChange { kNone, kSetState, kClose, kReset };

struct ShardPollerDeps {
  stream::StreamStore* streams = nullptr;
  state::StateDb* db = nullptr;
  state::EffectCommitter* committer = nullptr;
  FunctionResolver* functions = nullptr;
  Clock* clock = nullptr;
};

struct ShardPollerOptions {
  std::string mapping_uuid;
  MappingConfig config;
  std::string stream_arn;
  uint32_t shard_index = 0;
  // The shard's hash key range (ShardMetadata::range), sent with every invoke (a Sluice
  // extension: KinesisBatch.starting_hash_key / ending_hash_key).
  stream::HashKeyRange hash_key_range;
  int64_t stream_created_ms = 0;  // StreamMetadata::created_ms, stored with every checkpoint
  std::shared_ptr<const EventFilter> filter;  // may be null: keep everything
  // Retry backoff: the n-th wait is min(max, initial x 2^(n-1)), +-20% jitter.
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60'000};
  std::string aws_region = "us-east-1";
};

class ShardPoller {
 public:
  // Loads the shard's checkpoint, resolves where to start and starts the threads. A shard already
  // checkpointed at SHARD_END starts finished (no threads).
  static Result<std::unique_ptr<ShardPoller>> Start(ShardPollerDeps deps,
                                                    ShardPollerOptions options);
  ~ShardPoller();  // Stop()
  ShardPoller(const ShardPoller&) = delete;
  ShardPoller& operator=(const ShardPoller&) = delete;

  // Stops reading, lets each lane's invoke in flight finish (its outcome is committed or
  // dropped as usual, never half), and joins the threads. Records queued but not invoked are
  // simply read again by the next poller, from the checkpoint.
  void Stop();

  // True once the shard was read to its end and SHARD_END committed.
  bool finished() const { return stats_->finished.load(); }
  const ShardStats& stats() const { return *stats_; }
  const std::string& shard_id() const { return shard_id_; }

 private:
  struct Record;
  struct Lane;
  struct Attempt;
  // A batch, or a part of one after bisection, with what its attempts have spent.
  struct SubBatch {
    std::vector<Record> records;
    int retries = 0;       // function errors retried (MaximumRetryAttempts counts these)
    int invoke_count = 0;  // attempts that reached the function
    int host_errors = 0;   // consecutive attempts that did not (not counted as retries)
    int conflicts = 0;     // consecutive commit conflicts (not counted, up to a limit)
  };
  // What one commit writes besides the invoke's staged effects.
  struct CommitPlan {
    Lane* lane = nullptr;  // the lane whose records `finished_through` ends
    state::EffectStage* stage = nullptr;
    std::optional<std::string> first_failed;      // partial batch failure
    std::optional<std::string> finished_through;  // the lane's records up to here are done
    std::optional<int64_t> window;
    ShardPollerWindowChange window_change = ShardPollerWindowChange::kNone;
    std::string window_state;  // kSetState
    std::vector<state::StagedEffect> host_publishes;
  };

  ShardPoller(ShardPollerDeps deps, ShardPollerOptions options);

  void ReadLoop();
  void LaneLoop(Lane* lane);

  // Waits until `deadline` on the clock, or Stop(); false when stopping. REQUIRES: lock holds mu_.
  bool WaitUntil(std::unique_lock<std::mutex>& lock, Clock::Steady deadline);
  // Waits the backoff before attempt `attempt` (1, 2, ...); false when stopping.
  bool Backoff(int attempt);
  // What to do after an attempt, as far as commit conflicts go.
  enum class ConflictRetry {
    kRetry,     // a conflict within kMaxConflictRetries in a row: its backoff has passed
    kStopping,  // the same, but the poller is stopping
    kNone,      // not a conflict, or one past the limit (then it counts as a function error)
  };
  // `*conflicts` counts the attempt's conflicts in a row (reset by anything else, and after the
  // limit). A conflict is retried after the shorter backoff (kConflictBackoffInitial doubling to
  // kConflictBackoffMax): the other invoke has committed, so the retry can decide at once.
  ConflictRetry RetryConflict(const Attempt& attempt, int* conflicts);
  // initial x 2^(attempt-1), at most max, +-20% jitter; false when stopping.
  bool WaitBackoff(int attempt, std::chrono::nanoseconds initial, std::chrono::nanoseconds max);
  // Whether the lane's queue holds a record of another window than its first record's (whose
  // batch then cannot grow). REQUIRES: lock holds mu_ and the queue is not empty.
  static bool QueueHoldsAnotherWindow(const Lane& lane);
  // Takes the lane's next batch, waiting out the batching window; empty when stopping.
  // REQUIRES: lock holds mu_ and the lane's queue is not empty.
  std::vector<Record> TakeBatch(Lane* lane, std::unique_lock<std::mutex>& lock);
  // Whether any queued record belongs to the window. REQUIRES: mu_ held.
  bool WindowRecordsQueued(int64_t window_start) const;

  // The attempt loop for records of one lane (and one window, if any). Returns true when every
  // record is done (committed or discarded), false when stopping first.
  bool RunBatch(Lane* lane, std::vector<Record> records, std::optional<int64_t> window);
  // The final invoke of a window (or its early end); false when stopping first.
  bool RunFinalInvoke(Lane* lane, int64_t window_start, bool terminated_early);
  // One invoke and, on success, its commit. A final invoke passes the state it reports
  // (`final_state`); other window invokes read their window's state.
  Attempt Invoke(Lane* lane, const std::vector<Record>& records, std::optional<int64_t> window,
                 bool final_invoke, bool terminated_early,
                 const std::optional<std::string>& final_state = std::nullopt);
  runtime::v1::Invoke BuildInvoke(const std::vector<Record>& records, std::optional<int64_t> window,
                                  bool final_invoke, bool terminated_early,
                                  const std::optional<std::string>& final_state);
  void FillBatchEnvelope(runtime::v1::KinesisBatch* batch) const;
  // Replaces the front sub-batch by its two halves.
  static void SplitFront(std::deque<SubBatch>* work);
  bool WindowStateTooLarge(int64_t window_start);
  // Sends records to the on-failure destination and moves the checkpoint past them; false when
  // stopping first.
  bool Discard(Lane* lane, const std::vector<Record>& records, const std::string& condition,
               int invoke_count, const Attempt& last, std::optional<int64_t> window);
  // Commits the plan with the checkpoint it leads to; on success applies it to the progress and
  // the windows. Commits are serialised (commit_mu_), so checkpoints are written in order.
  Status CommitProgress(CommitPlan plan);
  Status CommitShardEnd();

  const ShardPollerDeps deps_;
  const ShardPollerOptions options_;
  const std::string shard_id_;
  std::unique_ptr<ShardStats> stats_;

  std::mutex mu_;  // everything below, up to commit_mu_
  std::condition_variable cv_;
  bool stopping_ = false;
  ShardProgress progress_;
  // The reader stops reading ahead when this many records wait for the checkpoint: filtered and
  // skipped ones need no lane but wait behind unfinished ones, and a stuck batch must not let the
  // reader run through the whole retention period.
  const size_t max_pending_;
  std::unique_ptr<WindowTracker> windows_;  // null without tumbling windows
  std::vector<std::unique_ptr<Lane>> lanes_;
  size_t queued_records_ = 0;
  uint64_t queued_bytes_ = 0;
  bool reader_at_end_ = false;        // a closed shard was read to its end
  bool reader_caught_up_ = false;     // the last read reached the shard's committed end
  std::string committed_checkpoint_;  // the sequence number last written
  // Records at or before it are skipped as they are read: the checkpoint Start resumed from
  // (they can be met again when the log lost its tail after the checkpoint was written).
  std::string skip_through_;
  std::map<int64_t, size_t> queued_by_window_;  // window start -> its records in the queues
  std::mt19937_64 random_;                      // backoff jitter
  // Whether the log has said that the function reports item failures this mapping ignores.
  std::atomic<bool> warned_ignored_failures_{false};

  std::mutex commit_mu_;

  std::unique_ptr<stream::ShardReader> reader_;  // the read thread's
  std::thread read_thread_;
  std::vector<std::thread> lane_threads_;
};

}  // namespace sluice::poller
