// EffectCommitter: commits an invoke's staged effects, exactly once, together with the checkpoint
// that the invoke's success advances, in one SQLite transaction.
//
// Which effects commit: all of them for a fully successful invoke. With partial batch failures
// (ReportBatchItemFailures) only the effects of records before the first failed record: effects
// whose record sequence number is lower than `first_failed_record`; effects made outside any
// record then commit only when nothing failed. A failed invoke commits nothing: the caller
// simply drops the stage (or commits only a checkpoint, with no stage, when it moves on).
//
// At commit the effects are re-applied in call order to the committed tables: puts and deletes
// write what was staged, updates re-run their actions on the committed item (so concurrent ADDs
// all count), and every condition is checked again against the item as it is now. A failed
// condition aborts the whole commit (ABORTED "ConditionalCheckFailed: <table>/<key>: ..."):
// nothing is written, not even the checkpoint, and the caller treats the invoke as failed
// (error type Sluice.ConditionalCheckFailed) and retries it, as any failed invoke.
// An update whose actions no longer apply to the committed item (an ADD meeting a value that is
// no longer a number) aborts the commit the same way, ABORTED "<table>/<key>: the update no longer
// applies ...".
//
// Publishes become outbox rows (one per subscriber, see outbox.h), written in the same
// transaction; on_enqueued (if set) is called after the commit so the notifier wakes.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "state/checkpoints.h"
#include "state/effect_stage.h"
#include "state/state_db.h"

namespace sluice::state {

inline constexpr char kConditionalCheckFailed[] = "Sluice.ConditionalCheckFailed";

struct CommitRequest {
  EffectStage* stage = nullptr;  // may be null: commit only the checkpoint
  // The lowest failed record's sequence number (decimal), or nullopt when none failed.
  std::optional<std::string> first_failed_record;
  std::optional<Checkpoint> checkpoint;
  // Publishes the host makes itself, committed whatever the stage holds (an event source
  // mapping's on-failure record sent to a topic, with the checkpoint that moves past the
  // discarded records). Each needs topic, subject, message and message_id. A topic that does not
  // exist fails the commit (NOT_FOUND), so the caller can decide what becomes of the record.
  std::vector<StagedEffect> host_publishes;
};

struct CommitResult {
  int kv_writes = 0;
  int notifications = 0;    // publishes committed
  int outbox_rows = 0;      // deliveries queued (publishes x subscribers)
  int effects_dropped = 0;  // staged but not committed (records at or after the failure)
};

// The record from which nothing of a Kinesis (or window) batch commits: the lowest sequence
// number among the response's batch item failures (numeric order), or nullopt when it reports
// none. `batch_records` are the batch's sequence numbers (BatchRecords, effect_stage.h). An
// identifier that is empty or not a sequence number of the batch fails the whole batch,
// as Lambda does: the result is then the batch's lowest sequence number (and since a stage
// accepts only the batch's records as effects' records, nothing of the batch commits).
std::optional<std::string> FirstFailedRecord(const std::set<std::string>& batch_records,
                                             const runtime::v1::InvokeResponse& response);
// Numeric order of two decimal sequence numbers without leading zeros (-1, 0, 1).
int CompareSequenceNumbers(const std::string& a, const std::string& b);

class EffectCommitter {
 public:
  EffectCommitter(StateDb* db, Clock* clock, std::function<void()> on_enqueued = nullptr);

  // Seals the stage and commits as described above.
  Result<CommitResult> Commit(const CommitRequest& request);

 private:
  StateDb* db_;
  Clock* clock_;
  std::function<void()> on_enqueued_;
};

}  // namespace sluice::state
