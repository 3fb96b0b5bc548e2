#include "poller/shard_poller.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "base/log.h"
#include "invoker/function_name.h"
#include "poller/failure_record.h"
#include "state/checkpoints.h"
#include "state/effect_stage.h"
#include "stream/sequence_number.h"
#include "stream/shard_reader.h"
#include "stream/stream_metadata.h"

namespace sluice::poller {
namespace {

namespace pb = runtime::v1;
using nlohmann::json;

// The Kinesis event's bytes for one record beyond its base64 data: the envelope's fields (ARNs,
// eventID, names), generously.
constexpr uint64_t kRecordEnvelopeBytes = 512;
// How long the reader blocks on the log before it looks at its flags again.
constexpr auto kReadWait = std::chrono::milliseconds(200);
// The shortest wait of an idle lane (so a window due but not ready is not polled in a spin).
constexpr auto kMinIdleWait = std::chrono::milliseconds(20);
// How often an idle poller writes a checkpoint that only filtered records moved.
constexpr auto kIdleCheckpointInterval = std::chrono::seconds(1);

uint64_t EstimatedEventBytes(const std::string& partition_key, const std::string& data) {
  return 4 * ((data.size() + 2) / 3) + partition_key.size() + kRecordEnvelopeBytes;
}

void ApplyWindowChange(WindowTracker* windows, int64_t window_start, ShardPollerWindowChange change,
                       std::string state_json) {
  switch (change) {
    case ShardPollerWindowChange::kNone: break;
    case ShardPollerWindowChange::kSetState:
      windows->SetState(window_start, std::move(state_json));
      break;
    case ShardPollerWindowChange::kClose: windows->Close(window_start); break;
    case ShardPollerWindowChange::kReset: windows->Reset(window_start); break;
  }
}

}  // namespace

struct ShardPoller::Record {
  std::string sequence_number;
  std::string partition_key;
  std::string data;
  int64_t arrival_ms = 0;
  std::optional<int64_t> window;  // its window's start, with tumbling windows
  uint64_t estimated_bytes = 0;
};

struct ShardPoller::Lane {
  int index = 0;
  std::deque<Record> queue;
  uint64_t queued_bytes = 0;
  // When the records at the queue's head became available: the batching window counts from it.
  Clock::Steady head_available{};
};

// The outcome of one attempt to invoke the function.
struct ShardPoller::Attempt {
  enum class Kind {
    kDone,           // succeeded and committed: the first `done` records are finished
    kFunctionError,  // the function ran and failed
    kConflict,       // the function succeeded, but a condition of its effects no longer held at
                     // commit: another invoke committed first (optimistic concurrency)
    kHostError,      // never reached the function, or the commit failed for a host reason
    kTooLarge,       // the batch is over the invoke payload limit
  };
  Kind kind = Kind::kHostError;
  size_t done = 0;  // kDone: records committed (fewer than all with a partial failure)
  std::string request_id;
  std::string executed_version;
  std::optional<std::string> function_error;  // for the failure record: "Unhandled" or null
  std::string message;                        // what went wrong, for the log
};

ShardPoller::ShardPoller(ShardPollerDeps deps, ShardPollerOptions options)
    : deps_(deps),
      options_(std::move(options)),
      shard_id_(stream::ShardIdString(options_.shard_index)),
      stats_(std::make_unique<ShardStats>(options_.mapping_uuid,
                                          options_.config.qualified_function_name(),
                                          options_.config.stream_name, shard_id_)),
      progress_(options_.config.parallelization_factor),
      max_pending_(4 * static_cast<size_t>(options_.config.batch_size) *
                       static_cast<size_t>(options_.config.parallelization_factor) +
                   10000),
      random_(std::random_device{}()) {
  if (options_.config.has_windows()) {
    windows_ = std::make_unique<WindowTracker>(options_.config);
  }
}

Result<std::unique_ptr<ShardPoller>> ShardPoller::Start(ShardPollerDeps deps,
                                                        ShardPollerOptions options) {
  std::unique_ptr<ShardPoller> poller(new ShardPoller(deps, std::move(options)));
  ShardPoller& p = *poller;
  const MappingConfig& config = p.options_.config;
  Result<std::shared_ptr<stream::ShardLog>> log =
      deps.streams->Shard(config.stream_name, p.options_.shard_index);
  if (!log.ok()) {
    return log.status();
  }
  state::Checkpoints checkpoints(deps.db);
  Result<std::optional<state::Checkpoint>> checkpoint =
      checkpoints.Get(p.options_.mapping_uuid, p.shard_id_);
  if (!checkpoint.ok()) {
    return checkpoint.status();
  }
  std::string after_sequence;
  json detail;
  if (*checkpoint) {
    detail = (*checkpoint)->detail_json.empty()
                 ? json(nullptr)
                 : json::parse((*checkpoint)->detail_json, nullptr, false);
    if (detail.is_discarded()) {
      return Internal("the checkpoint of " + p.shard_id_ + " has a detail that is not JSON");
    }
    if (detail.is_object() && detail.contains(kStreamCreatedKey) &&
        detail[kStreamCreatedKey] != p.options_.stream_created_ms) {
      // The stream was deleted and made again under the same name since: its positions (even
      // SHARD_END) belong to the old one. Start as a new mapping would.
      LogWarning("poller", "mapping " + p.options_.mapping_uuid + " " + p.shard_id_ +
                               ": the checkpoint belongs to an earlier stream of the same name; "
                               "starting from the mapping's starting position");
      checkpoint->reset();
    }
  }
  if (*checkpoint) {
    const state::Checkpoint& saved = **checkpoint;
    if (saved.sequence_number == kShardEnd) {
      p.stats_->set_position(kShardEnd);
      p.stats_->finished = true;
      return poller;
    }
    nlohmann::json lanes_detail = detail;
    if (lanes_detail.is_object()) {
      lanes_detail.erase("windows");  // the WindowTracker's part
      lanes_detail.erase(kStreamCreatedKey);
      if (lanes_detail.empty()) {
        lanes_detail = nullptr;  // a LATEST pin or SHARD_END: no lane positions
      }
    }
    SLUICE_RETURN_IF_ERROR(p.progress_.Restore(saved.sequence_number, lanes_detail)
                               .WithContext("restoring the checkpoint of " + p.shard_id_));
    if (p.windows_ && detail.is_object() && detail.contains("windows")) {
      // Windows saved under other settings (the mapping's window was changed) cannot go on.
      if (Status restored = p.windows_->Restore(detail["windows"]); !restored.ok()) {
        LogWarning("poller", "mapping " + p.options_.mapping_uuid + " " + p.shard_id_ +
                                 ": the open windows of the checkpoint do not fit the mapping's "
                                 "window settings; they start again empty: " +
                                 restored.message());
      }
    }
    after_sequence = saved.sequence_number;
    p.committed_checkpoint_ = saved.sequence_number;
    p.stats_->set_position(saved.sequence_number);
  }
  Result<uint64_t> ordinal = InvalidArgument("no position");
  if (!after_sequence.empty()) {
    const std::optional<stream::SequenceNumber> saved =
        stream::SequenceNumber::Parse(after_sequence);
    if (saved && saved->shard_index == p.options_.shard_index &&
        saved->generation <= (*log)->generation()) {
      ordinal = stream::ResumeAfter(**log, *saved);
      p.skip_through_ = after_sequence;
    } else {
      // Not a number this shard could have handed out: the stream was deleted and made again
      // under the same name. Its positions mean nothing here: start as a new mapping would.
      LogWarning("poller", "mapping " + p.options_.mapping_uuid + " " + p.shard_id_ +
                               ": the checkpoint " + after_sequence +
                               " does not belong to this shard (was the stream re-created?); "
                               "starting again from the mapping's starting position");
      SLUICE_RETURN_IF_ERROR(p.progress_.Restore("", nullptr));
      if (p.windows_) {
        p.windows_ = std::make_unique<WindowTracker>(config);
      }
      p.committed_checkpoint_.clear();
    }
  }
  if (!ordinal.ok()) {
    const bool at_timestamp = config.starting_position == StartingPosition::kAtTimestamp;
    ordinal = stream::ResolveStartingPosition(
        **log, p.options_.shard_index,
        at_timestamp ? stream::StartingPosition::kAtTimestamp
                     : stream::StartingPosition::kTrimHorizon,
        std::nullopt,
        at_timestamp ? std::optional<int64_t>(config.starting_position_timestamp_ms)
                     : std::nullopt);
    if (!ordinal.ok()) {
      return ordinal.status();
    }
  }
  p.reader_ = std::make_unique<stream::ShardReader>(*log, *ordinal);
  for (int i = 0; i < config.parallelization_factor; ++i) {
    auto lane = std::make_unique<Lane>();
    lane->index = i;
    p.lanes_.push_back(std::move(lane));
  }
  p.read_thread_ = std::thread([&p] { p.ReadLoop(); });
  for (const std::unique_ptr<Lane>& lane : p.lanes_) {
    p.lane_threads_.emplace_back([&p, raw = lane.get()] { p.LaneLoop(raw); });
  }
  return poller;
}

ShardPoller::~ShardPoller() {
  Stop();
}

void ShardPoller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (read_thread_.joinable()) {
    read_thread_.join();
  }
  for (std::thread& thread : lane_threads_) {
    if (thread.joinable()) {
      thread.join();
    }
  }
}

bool ShardPoller::WaitUntil(std::unique_lock<std::mutex>& lock, Clock::Steady deadline) {
  while (!stopping_ && deps_.clock->SteadyNow() < deadline) {
    cv_.wait_for(lock, deps_.clock->RealWaitUntil(deadline));
  }
  return !stopping_;
}

bool ShardPoller::Backoff(int attempt) {
  return WaitBackoff(attempt, options_.backoff_initial, options_.backoff_max);
}

ShardPoller::ConflictRetry ShardPoller::RetryConflict(const Attempt& attempt, int* conflicts) {
  if (attempt.kind != Attempt::Kind::kConflict || *conflicts >= kMaxConflictRetries) {
    *conflicts = 0;
    return ConflictRetry::kNone;
  }
  ++*conflicts;
  stats_->retries.Increment();
  return WaitBackoff(*conflicts, kConflictBackoffInitial, kConflictBackoffMax)
             ? ConflictRetry::kRetry
             : ConflictRetry::kStopping;
}

bool ShardPoller::WaitBackoff(int attempt, std::chrono::nanoseconds initial,
                              std::chrono::nanoseconds max) {
  const int doublings = std::clamp(attempt - 1, 0, 20);  // 2^20 x initial is past any max
  const std::chrono::nanoseconds delay = std::min(max, initial * (int64_t{1} << doublings));
  std::unique_lock<std::mutex> lock(mu_);
  const double jitter = std::uniform_real_distribution<double>(0.8, 1.2)(random_);
  const auto jittered = std::chrono::nanoseconds(static_cast<int64_t>(delay.count() * jitter));
  return WaitUntil(lock, deps_.clock->SteadyNow() + jittered);
}

void ShardPoller::ReadLoop() {
  const MappingConfig& config = options_.config;
  const size_t lanes = lanes_.size();
  const size_t max_queued_records = 2 * static_cast<size_t>(config.batch_size) * lanes;
  const uint64_t max_queued_bytes = 2 * kMaxBatchPayloadBytes * lanes;
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (reader_at_end_ || queued_records_ >= max_queued_records ||
        queued_bytes_ >= max_queued_bytes || progress_.pending() >= max_pending_) {
      cv_.wait(lock);
      continue;
    }
    const size_t room = std::min<size_t>(max_queued_records - queued_records_, 10000);
    lock.unlock();
    Result<stream::ShardLog::ReadResult> read =
        reader_->Next(room, kMaxBatchPayloadBytes, std::chrono::steady_clock::now() + kReadWait);
    const int64_t now_ms = deps_.clock->UnixMillis();
    // What needs no lock: sequence numbers and filters (JSON parsing).
    std::vector<Record> records;
    std::vector<bool> kept;
    if (read.ok()) {
      records.reserve(read->records.size());
      kept.reserve(read->records.size());
      for (stream::StoredRecord& stored : read->records) {
        Record record;
        record.sequence_number =
            stream::SequenceNumber{options_.shard_index, stored.generation, stored.ordinal}
                .ToString();
        kept.push_back(!options_.filter || options_.filter->Matches(stored.data));
        record.arrival_ms = stored.arrival_ms;
        record.estimated_bytes = EstimatedEventBytes(stored.partition_key, stored.data);
        record.partition_key = std::move(stored.partition_key);
        record.data = std::move(stored.data);
        records.push_back(std::move(record));
      }
    }
    lock.lock();
    if (!read.ok()) {
      LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                               ": reading the shard failed: " + read.status().message());
      WaitUntil(lock, deps_.clock->SteadyNow() + std::chrono::seconds(1));
      continue;
    }
    stats_->polled.Increment(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      Record& record = records[i];
      if (!skip_through_.empty() && record.sequence_number <= skip_through_) {
        continue;  // at or before the checkpoint (see Start): already processed
      }
      const int lane = progress_.LaneOf(record.partition_key);
      progress_.Add(record.sequence_number, lane);
      if (progress_.FinishedBeforeRestart(record.sequence_number, record.partition_key)) {
        progress_.FinishOne(record.sequence_number);
        continue;
      }
      if (!kept[i]) {
        stats_->filtered.Increment();
        progress_.FinishOne(record.sequence_number);
        continue;
      }
      if (windows_) {
        record.window = windows_->Assign(record.data, record.arrival_ms, now_ms);
        if (!record.window) {
          stats_->dropped.Increment();  // late for its event-time window
          progress_.FinishOne(record.sequence_number);
          continue;
        }
        ++queued_by_window_[*record.window];
      }
      Lane& target = *lanes_[lane];
      if (target.queue.empty()) {
        target.head_available = deps_.clock->SteadyNow();
      }
      target.queued_bytes += record.estimated_bytes;
      queued_bytes_ += record.estimated_bytes;
      ++queued_records_;
      target.queue.push_back(std::move(record));
    }
    reader_at_end_ = read->end_of_shard;
    reader_caught_up_ = reader_->ordinal() >= reader_->log().end_ordinal();
    cv_.notify_all();
  }
}

bool ShardPoller::WindowRecordsQueued(int64_t window_start) const {
  auto count = queued_by_window_.find(window_start);
  return count != queued_by_window_.end() && count->second > 0;
}

void ShardPoller::LaneLoop(Lane* lane) {
  std::unique_lock<std::mutex> lock(mu_);
  Clock::Steady last_idle_checkpoint{};
  while (!stopping_) {
    // A window whose time is over and whose records are all invoked gets its final invoke.
    if (windows_) {
      const bool shard_done = reader_at_end_ && lane->queue.empty();
      std::optional<int64_t> due;
      const std::vector<int64_t> candidates =
          shard_done ? windows_->open_windows()
                     : windows_->Due(deps_.clock->UnixMillis(), reader_caught_up_);
      for (int64_t start : candidates) {
        if (!WindowRecordsQueued(start)) {
          due = start;
          break;
        }
      }
      if (due) {
        lock.unlock();
        const bool ran = RunFinalInvoke(lane, *due, false);
        lock.lock();
        if (!ran) {
          break;
        }
        continue;
      }
    }
    if (lane->queue.empty()) {
      const bool all_empty = queued_records_ == 0;
      if (reader_at_end_ && all_empty && progress_.pending() == 0 &&
          (!windows_ || windows_->open_windows().empty())) {
        if (lane->index == 0) {
          lock.unlock();
          const Status ended = CommitShardEnd();
          lock.lock();
          if (ended.ok()) {
            break;
          }
          LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                                   ": committing SHARD_END failed: " + ended.message());
          WaitUntil(lock, deps_.clock->SteadyNow() + std::chrono::seconds(1));
          continue;
        }
        cv_.wait(lock);
        continue;
      }
      // Filtered records move the checkpoint without any invoke: write it now and then.
      const Clock::Steady now = deps_.clock->SteadyNow();
      if (lane->index == 0 && progress_.checkpoint_sequence() != committed_checkpoint_ &&
          now - last_idle_checkpoint >= kIdleCheckpointInterval) {
        last_idle_checkpoint = now;
        lock.unlock();
        const Status written = CommitProgress(CommitPlan{});
        lock.lock();
        if (!written.ok()) {
          LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                                   ": writing the checkpoint failed: " + written.message());
        }
        continue;
      }
      Clock::Steady wake = now + std::chrono::seconds(1);
      if (windows_) {
        if (std::optional<int64_t> due_at = windows_->NextDueAt()) {
          const int64_t ms = std::max<int64_t>(0, *due_at - deps_.clock->UnixMillis());
          wake = std::min(wake, now + std::chrono::milliseconds(ms));
        }
      }
      // Never spin: a due time already passed (the window waits for its queued records, or for
      // the reader to catch up) is looked at again shortly.
      wake = std::max(wake, now + kMinIdleWait);
      cv_.wait_for(lock, deps_.clock->RealWaitUntil(wake));
      continue;
    }
    std::vector<Record> batch = TakeBatch(lane, lock);
    if (batch.empty()) {
      continue;
    }
    const std::optional<int64_t> window = batch.front().window;
    lock.unlock();
    const bool completed = RunBatch(lane, std::move(batch), window);
    lock.lock();
    if (!completed) {
      break;
    }
    // Lambda: the next batching window starts when the previous invoke finishes.
    lane->head_available = deps_.clock->SteadyNow();
  }
}

bool ShardPoller::QueueHoldsAnotherWindow(const Lane& lane) {
  const std::optional<int64_t> window = lane.queue.front().window;
  return window && std::any_of(lane.queue.begin(), lane.queue.end(),
                               [&](const Record& record) { return record.window != window; });
}

std::vector<ShardPoller::Record> ShardPoller::TakeBatch(Lane* lane,
                                                        std::unique_lock<std::mutex>& lock) {
  const MappingConfig& config = options_.config;
  const size_t batch_size = static_cast<size_t>(config.batch_size);
  if (config.maximum_batching_window_seconds > 0) {
    const Clock::Steady deadline =
        lane->head_available + std::chrono::seconds(config.maximum_batching_window_seconds);
    // The reader holds back once the records behind this batch (filtered ones too) reach
    // max_pending_: nothing more can come, so waiting on would only stall the shard.
    // Nor can a window's batch grow past a record of another window queued behind it.
    while (!stopping_ && !reader_at_end_ && lane->queue.size() < batch_size &&
           lane->queued_bytes < kMaxBatchPayloadBytes && progress_.pending() < max_pending_ &&
           !QueueHoldsAnotherWindow(*lane) && deps_.clock->SteadyNow() < deadline) {
      cv_.wait_for(lock, deps_.clock->RealWaitUntil(deadline));
    }
    if (stopping_) {
      return {};
    }
  }
  std::vector<Record> batch;
  uint64_t bytes = 0;  // the records', as the queues count them
  uint64_t state_bytes = 0;
  const std::optional<int64_t> window = lane->queue.front().window;
  if (window) {
    // The window's state travels with the records: it counts towards the cap, not the queues.
    const OpenWindow* open = windows_->Find(*window);
    state_bytes = open != nullptr ? open->state_json.size() : 0;
  }
  while (!lane->queue.empty() && batch.size() < batch_size) {
    Record& next = lane->queue.front();
    if (next.window != window ||
        (!batch.empty() && state_bytes + bytes + next.estimated_bytes > kMaxBatchPayloadBytes)) {
      break;
    }
    bytes += next.estimated_bytes;
    if (next.window) {
      if (--queued_by_window_[*next.window] == 0) {
        queued_by_window_.erase(*next.window);
      }
    }
    batch.push_back(std::move(next));
    lane->queue.pop_front();
  }
  lane->queued_bytes -= bytes;
  queued_bytes_ -= bytes;
  queued_records_ -= batch.size();
  cv_.notify_all();  // the reader may read ahead again
  return batch;
}

runtime::v1::Invoke ShardPoller::BuildInvoke(const std::vector<Record>& records,
                                             std::optional<int64_t> window, bool final_invoke,
                                             bool terminated_early,
                                             const std::optional<std::string>& final_state) {
  pb::Invoke invoke;
  pb::KinesisBatch* batch =
      window ? invoke.mutable_kinesis_window()->mutable_batch() : invoke.mutable_kinesis();
  FillBatchEnvelope(batch);
  for (const Record& record : records) {
    pb::KinesisRecord* out = batch->add_records();
    out->set_data(record.data);
    out->set_partition_key(record.partition_key);
    out->set_sequence_number(record.sequence_number);
    out->set_approximate_arrival_timestamp_ms(record.arrival_ms);
  }
  if (window) {
    pb::KinesisWindowBatch* w = invoke.mutable_kinesis_window();
    w->set_window_start_ms(*window);
    w->set_window_end_ms(*window + int64_t{options_.config.tumbling_window_seconds} * 1000);
    if (final_state) {
      w->set_state_json(*final_state);
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      const OpenWindow* open = windows_->Find(*window);
      w->set_state_json(open != nullptr ? open->state_json : "{}");
    }
    w->set_is_final_invoke_for_window(final_invoke);
    w->set_is_window_terminated_early(terminated_early);
  }
  return invoke;
}

void ShardPoller::FillBatchEnvelope(runtime::v1::KinesisBatch* batch) const {
  batch->set_event_source_arn(options_.stream_arn);
  batch->set_shard_id(shard_id_);
  batch->set_aws_region(options_.aws_region);
  batch->set_invoke_identity_arn("arn:aws:iam::000000000000:role/" + options_.config.function_name);
  batch->set_starting_hash_key(stream::ToDecimal(options_.hash_key_range.start));
  batch->set_ending_hash_key(stream::ToDecimal(options_.hash_key_range.end));
}

ShardPoller::Attempt ShardPoller::Invoke(Lane* lane, const std::vector<Record>& records,
                                         std::optional<int64_t> window, bool final_invoke,
                                         bool terminated_early,
                                         const std::optional<std::string>& final_state) {
  const MappingConfig& config = options_.config;
  Attempt attempt;
  std::shared_ptr<invoker::FunctionPool> pool =
      deps_.functions->Find(config.function_name, config.qualifier);
  if (!pool) {
    attempt.message = "function " + config.qualified_function_name() + " is not deployed";
    return attempt;  // kHostError
  }
  pb::Invoke invoke = BuildInvoke(records, window, final_invoke, terminated_early, final_state);
  std::set<std::string> batch_records;
  for (const Record& record : records) {
    batch_records.insert(batch_records.end(), record.sequence_number);  // in sequence order
  }
  // The stage takes the set; a copy stays here only when the response's failures need it.
  auto stage = std::make_shared<state::EffectStage>(deps_.db, pool->config(),
                                                    config.report_batch_item_failures
                                                        ? std::set<std::string>(batch_records)
                                                        : std::move(batch_records));
  if (!records.empty()) {
    stats_->invoked.Increment(records.size());
    stats_->iterator_age_ms.Set(deps_.clock->UnixMillis() - records.back().arrival_ms);
  }
  stats_->last_invoke_unix_ms = deps_.clock->UnixMillis();
  Result<invoker::InvokeResult> result = pool->Invoke(std::move(invoke), stage);
  if (!result.ok()) {
    stage->Seal();
    attempt.kind = result.status().code() == Code::kInvalidArgument ? Attempt::Kind::kTooLarge
                                                                    : Attempt::Kind::kHostError;
    attempt.message = result.status().message();
    if (attempt.kind == Attempt::Kind::kHostError) {
      stats_->throttles.Increment();
    }
    return attempt;
  }
  if (result->init_backoff) {
    stage->Seal();
    stats_->throttles.Increment();
    attempt.message = "the function's instances fail to start (" +
                      result->response.error().error_type() + ": " +
                      result->response.error().error_message() + "); waiting for the backoff";
    return attempt;  // kHostError: the function did not run
  }
  const pb::InvokeResponse& response = result->response;
  attempt.request_id = response.request_id();
  attempt.executed_version = pool->config().version;
  attempt.function_error = "Unhandled";
  if (response.has_error()) {
    stage->Seal();
    attempt.kind = Attempt::Kind::kFunctionError;
    attempt.message = response.error().error_type() + ": " + response.error().error_message();
    return attempt;
  }
  CommitPlan plan;
  plan.lane = lane;
  plan.stage = stage.get();
  if (config.report_batch_item_failures) {
    plan.first_failed = state::FirstFailedRecord(batch_records, response);
  } else if (response.kinesis().batch_item_failures_size() +
                     response.kinesis_window().batch_item_failures_size() >
                 0 &&
             !warned_ignored_failures_.exchange(true)) {
    LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                             ": the function reports batch item failures, which this mapping "
                             "ignores (its FunctionResponseTypes lacks ReportBatchItemFailures), "
                             "so those records count as processed, as in Lambda; said once");
  }
  size_t done = records.size();
  if (plan.first_failed) {
    done = 0;
    while (done < records.size() &&
           state::CompareSequenceNumbers(records[done].sequence_number, *plan.first_failed) < 0) {
      ++done;
    }
  }
  if (done > 0) {
    plan.finished_through = records[done - 1].sequence_number;
  }
  if (window) {
    plan.window = *window;
    if (final_invoke) {
      plan.window_change =
          terminated_early ? ShardPollerWindowChange::kReset : ShardPollerWindowChange::kClose;
    } else {
      plan.window_change = ShardPollerWindowChange::kSetState;
      plan.window_state = response.kinesis_window().state_json();
    }
  }
  if (done == 0 && !final_invoke) {
    stage->Seal();  // the first record failed: nothing of the batch commits
  } else {
    const Status committed = CommitProgress(std::move(plan));
    if (!committed.ok()) {
      attempt.message = committed.message();
      attempt.kind =
          committed.code() == Code::kAborted ? Attempt::Kind::kConflict : Attempt::Kind::kHostError;
      return attempt;
    }
  }
  attempt.kind = Attempt::Kind::kDone;
  attempt.done = done;
  if (done < records.size()) {
    attempt.function_error.reset();  // the function succeeded; its answer named failures
    attempt.message = "the response reported batch item failures from " + *plan.first_failed;
  }
  return attempt;
}

bool ShardPoller::RunBatch(Lane* lane, std::vector<Record> records, std::optional<int64_t> window) {
  const MappingConfig& config = options_.config;
  std::deque<SubBatch> work;
  work.push_back(SubBatch{std::move(records)});
  while (!work.empty()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        return false;
      }
    }
    SubBatch& sub = work.front();
    if (config.maximum_record_age_seconds >= 0) {
      const int64_t cutoff =
          deps_.clock->UnixMillis() - int64_t{config.maximum_record_age_seconds} * 1000;
      size_t expired = 0;
      while (expired < sub.records.size() && sub.records[expired].arrival_ms < cutoff) {
        ++expired;
      }
      if (expired > 0) {
        std::vector<Record> old(std::make_move_iterator(sub.records.begin()),
                                std::make_move_iterator(sub.records.begin() + expired));
        sub.records.erase(sub.records.begin(), sub.records.begin() + expired);
        Attempt none;  // the function did not run on the last attempt for these records
        if (!Discard(lane, old, kRecordAgeExceeded, sub.invoke_count, none, window)) {
          return false;
        }
        if (sub.records.empty()) {
          work.pop_front();
          continue;
        }
      }
    }
    const Attempt attempt = Invoke(lane, sub.records, window, false, false);
    switch (RetryConflict(attempt, &sub.conflicts)) {
      case ConflictRetry::kStopping: return false;
      case ConflictRetry::kRetry:
        ++sub.invoke_count;
        sub.host_errors = 0;
        continue;
      case ConflictRetry::kNone: break;
    }
    switch (attempt.kind) {
      case Attempt::Kind::kHostError:
        if (!attempt.request_id.empty()) {
          ++sub.invoke_count;  // the function ran; its commit failed for a host reason
        }
        if (++sub.host_errors == 1 || sub.host_errors % 10 == 0) {
          LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                                   ": invoke did not reach the function (will retry, not counted "
                                   "as a retry): " +
                                   attempt.message);
        }
        if (!Backoff(sub.host_errors)) {
          return false;
        }
        continue;
      case Attempt::Kind::kTooLarge:
        if (sub.records.size() > 1) {
          SplitFront(&work);
          continue;
        }
        break;  // one record over the limit: it can never succeed
      case Attempt::Kind::kDone:
        ++sub.invoke_count;
        sub.host_errors = 0;
        if (attempt.done == sub.records.size()) {
          const bool early = window && WindowStateTooLarge(*window);
          work.pop_front();
          if (early && !RunFinalInvoke(lane, *window, true)) {
            return false;
          }
          continue;
        }
        if (attempt.done > 0) {
          sub.records.erase(sub.records.begin(),
                            sub.records.begin() + static_cast<ptrdiff_t>(attempt.done));
          if (config.bisect_batch_on_function_error) {
            continue;  // Lambda splits at the failed record and retries the rest
          }
        }
        break;
      case Attempt::Kind::kConflict:  // past the limit: counted as a function error
      case Attempt::Kind::kFunctionError:
        ++sub.invoke_count;
        sub.host_errors = 0;
        break;
    }
    // The attempt failed.
    stats_->failed.Increment(sub.records.size());
    if (attempt.kind != Attempt::Kind::kTooLarge && config.bisect_batch_on_function_error &&
        sub.records.size() > 1) {
      stats_->bisections.Increment();
      SplitFront(&work);
      continue;
    }
    ++sub.retries;
    const bool exhausted =
        attempt.kind == Attempt::Kind::kTooLarge ||
        (config.maximum_retry_attempts >= 0 && sub.retries > config.maximum_retry_attempts);
    if (exhausted) {
      std::vector<Record> failed = std::move(sub.records);
      const int invokes = sub.invoke_count;
      work.pop_front();
      if (!Discard(lane, failed, kRetryAttemptsExhausted, invokes, attempt, window)) {
        return false;
      }
      continue;
    }
    stats_->retries.Increment();
    if (!Backoff(sub.retries)) {
      return false;
    }
  }
  return true;
}

void ShardPoller::SplitFront(std::deque<SubBatch>* work) {
  SubBatch whole = std::move(work->front());
  work->pop_front();
  const size_t half = whole.records.size() / 2;
  SubBatch first;
  SubBatch second;
  first.records.assign(std::make_move_iterator(whole.records.begin()),
                       std::make_move_iterator(whole.records.begin() + half));
  second.records.assign(std::make_move_iterator(whole.records.begin() + half),
                        std::make_move_iterator(whole.records.end()));
  // A split spends no retry: both halves keep the count so far.
  first.retries = second.retries = whole.retries;
  first.invoke_count = second.invoke_count = whole.invoke_count;
  work->push_front(std::move(second));
  work->push_front(std::move(first));
}

bool ShardPoller::WindowStateTooLarge(int64_t window_start) {
  std::lock_guard<std::mutex> lock(mu_);
  const OpenWindow* open = windows_->Find(window_start);
  return open != nullptr && open->state_json.size() > kMaxWindowStateBytes;
}

bool ShardPoller::RunFinalInvoke(Lane* lane, int64_t window_start, bool terminated_early) {
  std::string state;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const OpenWindow* open = windows_->Find(window_start);
    state = open != nullptr ? open->state_json : "{}";
    if (!terminated_early) {
      // Closed now, not when the final invoke commits: a record read meanwhile must not join a
      // window whose total is being reported (it goes to the next window, or counts as late).
      // Should the host stop first, the checkpoint still has the window open, and it is reported
      // again after the restart.
      windows_->Close(window_start);
    }
  }
  int retries = 0;
  int host_errors = 0;
  int conflicts = 0;
  for (;;) {
    const Attempt attempt = Invoke(lane, {}, window_start, true, terminated_early, state);
    switch (RetryConflict(attempt, &conflicts)) {
      case ConflictRetry::kStopping: return false;
      case ConflictRetry::kRetry: continue;
      case ConflictRetry::kNone: break;
    }
    if (attempt.kind == Attempt::Kind::kDone) {
      return true;
    }
    if (attempt.kind == Attempt::Kind::kHostError) {
      if (!Backoff(++host_errors)) {
        return false;
      }
      continue;
    }
    ++retries;
    const int max_retries = options_.config.maximum_retry_attempts;
    if (max_retries >= 0 && retries > max_retries) {
      // Nothing to send anywhere: the window had no records of its own in this invoke. Close it,
      // so the shard goes on, and say so.
      LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                               ": the final invoke of the window starting " +
                               std::to_string(window_start) + " failed " + std::to_string(retries) +
                               " times; closing it: " + attempt.message);
      CommitPlan plan;
      plan.lane = lane;
      plan.window = window_start;
      plan.window_change =
          terminated_early ? ShardPollerWindowChange::kReset : ShardPollerWindowChange::kClose;
      Status closed = CommitProgress(std::move(plan));
      if (closed.ok()) {
        return true;
      }
      if (!Backoff(++host_errors)) {
        return false;
      }
      continue;
    }
    stats_->retries.Increment();
    if (!Backoff(retries)) {
      return false;
    }
  }
}

bool ShardPoller::Discard(Lane* lane, const std::vector<Record>& records,
                          const std::string& condition, int invoke_count, const Attempt& last,
                          std::optional<int64_t> window) {
  const MappingConfig& config = options_.config;
  DiscardedBatch discarded;
  discarded.condition = condition;
  discarded.request_id = last.request_id;
  discarded.approximate_invoke_count = invoke_count;
  std::shared_ptr<invoker::FunctionPool> pool =
      deps_.functions->Find(config.function_name, config.qualifier);
  discarded.function_arn =
      pool ? pool->config().arn : invoker::FunctionArn(config.function_name, config.qualifier);
  discarded.function_ran = condition == kRetryAttemptsExhausted && !last.request_id.empty();
  discarded.executed_version = last.executed_version;
  discarded.function_error = last.function_error;
  discarded.timestamp_ms = deps_.clock->UnixMillis();
  discarded.mapping_uuid = options_.mapping_uuid;
  FillBatchEnvelope(&discarded.records);
  for (const Record& record : records) {
    pb::KinesisRecord* out = discarded.records.add_records();
    out->set_data(record.data);
    out->set_partition_key(record.partition_key);
    out->set_sequence_number(record.sequence_number);
    out->set_approximate_arrival_timestamp_ms(record.arrival_ms);
  }
  LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ + ": discarding " +
                           std::to_string(records.size()) + " records from " +
                           records.front().sequence_number + " (" + condition + ")" +
                           (last.message.empty() ? "" : ": " + last.message));
  CommitPlan plan;
  plan.lane = lane;
  plan.finished_through = records.back().sequence_number;
  if (window) {
    plan.window = *window;  // the window stays open; its state is unchanged
  }
  bool delivered = false;
  Status sent = Status::Ok();
  switch (config.on_failure.kind) {
    case FailureDestination::Kind::kNone: break;
    case FailureDestination::Kind::kStream:
      sent = SendToStream(deps_.streams, config.on_failure.target, discarded);
      delivered = sent.ok();
      break;
    case FailureDestination::Kind::kDirectory: {
      Result<std::string> path = WriteToDirectory(config.on_failure.target, discarded);
      sent = path.status();
      delivered = path.ok();
      break;
    }
    case FailureDestination::Kind::kTopic: {
      state::StagedEffect publish;
      publish.kind = state::StagedEffect::Kind::kPublish;
      publish.topic = config.on_failure.target;
      publish.subject = "Sluice event source mapping " + options_.mapping_uuid + ": " + condition;
      publish.message = InvocationRecord(discarded, false).dump();
      publish.message_id = records.front().sequence_number + "-" + records.back().sequence_number;
      plan.host_publishes.push_back(std::move(publish));
      break;
    }
  }
  if (!sent.ok()) {
    stats_->destination_failures.Increment();
    LogWarning("poller", "mapping " + options_.mapping_uuid + " " + shard_id_ +
                             ": the on-failure destination " + config.on_failure.text +
                             " could not take the discarded records: " + sent.message());
  }
  for (int host_errors = 1;; ++host_errors) {
    Status committed = CommitProgress(plan);
    if (committed.ok()) {
      break;
    }
    if (!plan.host_publishes.empty() && committed.code() == Code::kNotFound) {
      stats_->destination_failures.Increment();
      LogWarning("poller",
                 "mapping " + options_.mapping_uuid + " " + shard_id_ +
                     ": the on-failure topic could not take the record: " + committed.message());
      plan.host_publishes.clear();
      continue;
    }
    LogWarning("poller",
               "mapping " + options_.mapping_uuid + " " + shard_id_ +
                   ": committing the discard failed (will retry): " + committed.message());
    if (!Backoff(host_errors)) {
      return false;
    }
  }
  if (!plan.host_publishes.empty()) {
    delivered = true;
  }
  stats_->dropped.Increment(records.size());
  if (delivered) {
    stats_->sent_to_destination.Increment(records.size());
  }
  return true;
}

Status ShardPoller::CommitProgress(CommitPlan plan) {
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  state::Checkpoint checkpoint;
  checkpoint.mapping_id = options_.mapping_uuid;
  checkpoint.shard_id = shard_id_;
  checkpoint.updated_unix_ms = deps_.clock->UnixMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    json detail;
    if (plan.finished_through) {
      auto [sequence, lanes_detail] = progress_.Preview(plan.lane->index, *plan.finished_through);
      checkpoint.sequence_number = std::move(sequence);
      detail = std::move(lanes_detail);
    } else {
      checkpoint.sequence_number = progress_.checkpoint_sequence();
      detail = progress_.Detail();
    }
    if (windows_) {
      WindowTracker after = *windows_;
      if (plan.window) {
        ApplyWindowChange(&after, *plan.window, plan.window_change, plan.window_state);
      }
      detail["windows"] = after.ToJson();
    }
    detail[kStreamCreatedKey] = options_.stream_created_ms;
    checkpoint.detail_json = detail.dump();
  }
  state::CommitRequest request;
  request.stage = plan.stage;
  request.first_failed_record = plan.first_failed;
  request.checkpoint = checkpoint;
  request.host_publishes = std::move(plan.host_publishes);
  Result<state::CommitResult> committed = deps_.committer->Commit(request);
  if (!committed.ok()) {
    return committed.status();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (plan.finished_through) {
    progress_.Finish(plan.lane->index, *plan.finished_through);
  }
  if (windows_ && plan.window) {
    ApplyWindowChange(windows_.get(), *plan.window, plan.window_change,
                      std::move(plan.window_state));
  }
  committed_checkpoint_ = checkpoint.sequence_number;
  stats_->set_position(checkpoint.sequence_number);
  cv_.notify_all();
  return Status::Ok();
}

Status ShardPoller::CommitShardEnd() {
  std::lock_guard<std::mutex> commit_lock(commit_mu_);
  state::CommitRequest request;
  request.checkpoint = state::Checkpoint{
      options_.mapping_uuid, shard_id_, kShardEnd,
      json{{kStreamCreatedKey, options_.stream_created_ms}}.dump(), deps_.clock->UnixMillis()};
  Result<state::CommitResult> committed = deps_.committer->Commit(request);
  if (!committed.ok()) {
    return committed.status();
  }
  stats_->set_position(kShardEnd);
  stats_->finished = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;  // nothing more to do: the reader and the other lanes exit
  }
  cv_.notify_all();
  LogInfo("poller", "mapping " + options_.mapping_uuid + " finished " + shard_id_ +
                        " (the shard is closed and every record is processed)");
  return Status::Ok();
}

}  // namespace sluice::poller
