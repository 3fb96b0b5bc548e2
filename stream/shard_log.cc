#include "stream/shard_log.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "base/files.h"
#include "base/log.h"
#include "base/random.h"
#include "stream/record_frame.h"

namespace sluice::stream {
namespace {

Result<std::vector<uint64_t>> ListSegments(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return ErrnoStatus("open directory " + dir);
  }
  std::vector<uint64_t> firsts;
  std::vector<std::string> index_files;
  while (const dirent* entry = ::readdir(d)) {
    const int64_t first = Segment::ParseFileName(entry->d_name);
    if (first >= 0) {
      firsts.push_back(static_cast<uint64_t>(first));
    }
    const std::string_view name(entry->d_name);
    if (name.size() > 4 && name.substr(name.size() - 4) == ".idx") {
      index_files.emplace_back(name);
    }
  }
  ::closedir(d);
  std::sort(firsts.begin(), firsts.end());
  // An index file whose segment is gone (retention removed it while the index was written).
  for (const std::string& name : index_files) {
    const bool orphan = std::none_of(firsts.begin(), firsts.end(), [&](uint64_t first) {
      return Segment::IndexFileName(first) == name;
    });
    if (orphan) {
      ::unlink((dir + "/" + name).c_str());
    }
  }
  return firsts;
}

// Segment::Scan over committed bytes, where anything but a whole frame is data loss.
Status ScanCommitted(const Segment& segment, uint64_t offset, uint64_t end_offset,
                     const std::function<bool(const FrameView&)>& visit) {
  Result<Segment::ScanStop> stop = segment.Scan(offset, end_offset, visit);
  if (!stop.ok()) {
    return stop.status();
  }
  if (*stop == Segment::ScanStop::kTorn || *stop == Segment::ScanStop::kCorrupt) {
    return Status(Code::kDataLoss, "a committed frame of " + segment.path() + " after offset " +
                                       std::to_string(offset) + " no longer reads back");
  }
  return Status::Ok();
}

}  // namespace

ShardLog::ShardLog(std::string dir, uint32_t generation, bool closed,
                   const ShardLogOptions& options, Clock* clock)
    : dir_(std::move(dir)),
      generation_(generation),
      options_(options),
      clock_(clock),
      closed_(closed) {}

ShardLog::~ShardLog() = default;

Result<std::unique_ptr<ShardLog>> ShardLog::Open(const std::string& dir, uint32_t generation,
                                                 bool closed, const ShardLogOptions& options,
                                                 Clock* clock) {
  SLUICE_RETURN_IF_ERROR(MakeDirectory(dir));
  std::unique_ptr<ShardLog> log(new ShardLog(dir, generation, closed, options, clock));
  Result<std::vector<uint64_t>> firsts = ListSegments(dir);
  if (!firsts.ok()) {
    return firsts.status();
  }
  // The log is the longest whole prefix: recovery stops at the first segment that had to be cut
  // or that does not continue its predecessor, and sets the rest aside (never deletes them).
  size_t kept = 0;
  for (; kept < firsts->size(); ++kept) {
    const uint64_t first = (*firsts)[kept];
    if (!log->segments_.empty() && first != log->segments_.rbegin()->second->end_ordinal()) {
      LogError("stream", dir + ": segment " + Segment::FileName(first) +
                             " does not continue the log (expected ordinal " +
                             std::to_string(log->segments_.rbegin()->second->end_ordinal()) + ")");
      break;
    }
    const std::string path = dir + "/" + Segment::FileName(first);
    std::string cut;
    // A sealed segment with a good index file opens without reading its frames; the last
    // segment (the one being written when the host stopped) is always checked frame by frame.
    Result<std::unique_ptr<Segment>> segment = NotFound("the last segment is always scanned");
    if (kept + 1 < firsts->size()) {
      segment = Segment::OpenSealed(path, first);
      if (segment.ok()) {
        log->indexed_segments_.insert(first);
      }
    }
    if (!segment.ok() && segment.status().code() == Code::kNotFound) {
      const std::string index = dir + "/" + Segment::IndexFileName(first);
      if (::unlink(index.c_str()) != 0 && errno != ENOENT) {
        return ErrnoStatus("remove stale " + index);
      }
      segment = Segment::Recover(path, first, &cut);
    }
    if (!segment.ok()) {
      return segment.status();
    }
    if (!log->segments_.empty()) {
      // Not the last segment after all: give its descriptor up now, not after the loop, so a
      // shard of thousands of segments never holds thousands of descriptors.
      log->segments_.rbegin()->second->ReleaseDescriptor();
    }
    log->segments_[first] = std::move(*segment);
    if (!cut.empty()) {
      LogWarning("stream", dir + "/" + Segment::FileName(first) + ": recovery " + cut);
      ++kept;
      break;
    }
  }
  if (kept < firsts->size()) {
    const std::string aside =
        dir + "/set-aside-" + std::to_string(clock->UnixMillis()) + "-" + RandomHex(4);
    SLUICE_RETURN_IF_ERROR(MakeDirectory(aside));
    for (size_t i = kept; i < firsts->size(); ++i) {
      const std::string name = Segment::FileName((*firsts)[i]);
      if (::rename((dir + "/" + name).c_str(), (aside + "/" + name).c_str()) != 0) {
        return ErrnoStatus("move " + name + " to " + aside);
      }
      // Its index file goes with it: left here, it could describe a later segment that starts
      // at the same ordinal.
      const std::string index = Segment::IndexFileName((*firsts)[i]);
      if (::rename((dir + "/" + index).c_str(), (aside + "/" + index).c_str()) != 0 &&
          errno != ENOENT) {
        return ErrnoStatus("move " + index + " to " + aside);
      }
      LogError("stream", dir + "/" + name + " no longer follows the log after recovery; moved to " +
                             aside + " for inspection");
    }
    SLUICE_RETURN_IF_ERROR(SyncDirectory(dir));
  }
  if (!log->segments_.empty() && log->indexed_segments_.erase(log->segments_.rbegin()->first)) {
    // Opened as sealed, but the segments after it were set aside: it is written again now. Its
    // index file would go stale, and it needs a writable descriptor: recover it as the last
    // segment.
    const uint64_t first = log->segments_.rbegin()->first;
    const std::string index = dir + "/" + Segment::IndexFileName(first);
    if (::unlink(index.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus("remove " + index);
    }
    std::string cut;
    Result<std::unique_ptr<Segment>> reopened =
        Segment::Recover(dir + "/" + Segment::FileName(first), first, &cut);
    if (!reopened.ok()) {
      return reopened.status();
    }
    if (!cut.empty()) {
      LogWarning("stream", dir + "/" + Segment::FileName(first) + ": recovery " + cut);
    }
    log->segments_[first] = std::move(*reopened);
  }
  if (log->segments_.empty()) {
    Result<std::unique_ptr<Segment>> segment = Segment::Create(dir, 0);
    if (!segment.ok()) {
      return segment.status();
    }
    log->segments_[0] = std::move(*segment);
  }
  log->trim_horizon_ = log->segments_.begin()->first;
  log->next_ordinal_ = log->segments_.rbegin()->second->end_ordinal();
  log->committed_ordinal_ = log->next_ordinal_;
  for (const auto& [first, segment] : log->segments_) {
    if (!segment->empty()) {
      log->last_staged_arrival_ms_ = segment->last_arrival_ms();
    }
  }
  return log;
}

Result<ShardLog::Ticket> ShardLog::Stage(std::span<const RecordInput> records) {
  // The frame has 16 bits for the key size and kMaxFrameSize bounds the whole frame: a record
  // beyond either would be written as a frame that never parses, which every later read of the
  // segment reports as data loss and recovery cuts, with every record after it.
  for (const RecordInput& record : records) {
    if (record.partition_key.size() > UINT16_MAX ||
        record.data.size() > kMaxFrameSize - kFrameHeaderSize - record.partition_key.size()) {
      return InvalidArgument("record too large for a frame: partition key " +
                             std::to_string(record.partition_key.size()) + " bytes, data " +
                             std::to_string(record.data.size()) + " bytes");
    }
  }
  std::lock_guard lock(mu_);
  if (!failed_.ok()) {
    return Unavailable("shard log " + dir_ + " cannot be written: " + failed_.message());
  }
  if (closed_) {
    return FailedPrecondition("shard is closed");
  }
  Ticket ticket;
  ticket.arrival_ms = std::max(clock_->UnixMillis(), last_staged_arrival_ms_);
  last_staged_arrival_ms_ = ticket.arrival_ms;
  ticket.first_ordinal = next_ordinal_;
  for (const RecordInput& record : records) {
    AppendFrame(&staged_, next_ordinal_++, generation_, ticket.arrival_ms, record.partition_key,
                record.data);
  }
  ticket.end_ordinal = next_ordinal_;
  ticket.failure_epoch = failure_epoch_;
  return ticket;
}

Status ShardLog::WaitDurable(const Ticket& ticket) {
  std::unique_lock lock(mu_);
  while (true) {
    if (ticket.failure_epoch != failure_epoch_) {
      // A write failed since these records were staged. They are stored if they were committed
      // before that failure (ordinals below it are never reused); otherwise they were dropped.
      if (ticket.end_ordinal <= committed_at_failure_[ticket.failure_epoch]) {
        return Status::Ok();
      }
      return Unavailable("the write of these records failed; see the host log");
    }
    if (committed_ordinal_ >= ticket.end_ordinal) {
      return Status::Ok();
    }
    if (!flushing_) {
      Flush(lock);  // a failure shows up as a new failure epoch
      continue;
    }
    committed_cv_.wait(lock);
  }
}

void ShardLog::Flush(std::unique_lock<std::mutex>& lock) {
  flushing_ = true;
  std::string batch;
  batch.swap(staged_);
  const uint64_t batch_first = committed_ordinal_;
  const uint64_t batch_end = next_ordinal_;
  std::shared_ptr<Segment> active = segments_.rbegin()->second;
  const bool roll = !active->empty() && (active->size() >= options_.segment_max_bytes ||
                                         clock_->UnixMillis() - active->first_arrival_ms() >=
                                             options_.segment_max_age_ms);
  lock.unlock();

  Status status;
  std::shared_ptr<Segment> target = active;
  if (roll) {
    Result<std::unique_ptr<Segment>> created = Segment::Create(dir_, batch_first);
    if (created.ok()) {
      target = std::move(*created);
    } else {
      status = created.status();
    }
  }
  if (status.ok()) {
    status = target->Write(batch);
  }
  if (status.ok() && options_.durability == Durability::kFsync) {
    status = target->Sync();
  }

  lock.lock();
  if (status.ok()) {
    if (roll) {
      segments_[batch_first] = target;
      active->ReleaseDescriptor();  // sealed now
    }
    target->Commit(batch);
    committed_ordinal_ = batch_end;
  } else {
    if (roll) {
      // The new segment holds no committed record. Left behind, and not recreated by the next
      // roll (which may start at a later ordinal), it would break the chain of segments at the
      // next open and set every later segment aside.
      ::unlink((dir_ + "/" + Segment::FileName(batch_first)).c_str());
    }
    if (!roll) {
      // The batch may be in the file past the committed end (a failed fsync): cut it now, so
      // that neither a roll nor a restart can ever take it for records.
      if (Status dropped = target->DropUncommitted(); !dropped.ok()) {
        failed_ = dropped;
      }
    }
    // Drop this batch and everything staged behind it: ordinals stay dense, and every waiter
    // whose records were dropped sees the new epoch and fails.
    LogError("stream", dir_ + ": write failed, " + std::to_string(next_ordinal_ - batch_first) +
                           " records were not stored: " + status.message());
    committed_at_failure_.push_back(committed_ordinal_);
    ++failure_epoch_;
    staged_.clear();
    next_ordinal_ = committed_ordinal_;
    if (status.code() == Code::kDataLoss) {
      failed_ = status;
    }
  }
  flushing_ = false;
  committed_cv_.notify_all();
}

std::shared_ptr<Segment> ShardLog::SegmentFor(uint64_t ordinal) const {
  auto it = segments_.upper_bound(ordinal);
  if (it == segments_.begin()) {
    return nullptr;
  }
  return std::prev(it)->second;
}

Result<ShardLog::ReadResult> ShardLog::Read(uint64_t from_ordinal, size_t max_records,
                                            size_t max_bytes) const {
  ReadResult result;
  uint64_t position;
  {
    std::lock_guard lock(mu_);
    position = std::max(from_ordinal, trim_horizon_);
  }
  size_t bytes = 0;
  bool full = false;
  while (!full && result.records.size() < max_records) {
    std::shared_ptr<Segment> segment;
    Segment::IndexEntry entry;
    uint64_t segment_size = 0;
    uint64_t segment_end = 0;
    {
      std::lock_guard lock(mu_);
      position = std::max(position, trim_horizon_);
      if (position >= committed_ordinal_) {
        break;
      }
      segment = SegmentFor(position);
      if (segment == nullptr) {
        return Internal("no segment holds ordinal " + std::to_string(position) + " in " + dir_);
      }
      entry = segment->SeekOrdinal(position);
      segment_size = segment->size();
      segment_end = segment->end_ordinal();
    }
    const Status scanned =
        ScanCommitted(*segment, entry.offset, segment_size, [&](const FrameView& frame) {
          if (frame.ordinal < position) {
            return true;
          }
          if (result.records.size() >= max_records ||
              (!result.records.empty() && bytes + frame.data.size() > max_bytes)) {
            full = true;
            return false;
          }
          bytes += frame.data.size();
          result.records.push_back({frame.ordinal, frame.generation, frame.arrival_ms,
                                    std::string(frame.partition_key), std::string(frame.data)});
          position = frame.ordinal + 1;
          return true;
        });
    if (!scanned.ok()) {
      std::lock_guard lock(mu_);
      if (segment->first_ordinal() < trim_horizon_) {
        continue;  // retention removed the segment meanwhile: go on from the trim horizon
      }
      return scanned;
    }
    if (!full && result.records.size() < max_records && position < segment_end) {
      return Status(Code::kDataLoss, "segment " + segment->path() + " ends before ordinal " +
                                         std::to_string(segment_end));
    }
  }
  std::lock_guard lock(mu_);
  result.next_ordinal = position;
  result.end_of_shard =
      closed_ && position >= committed_ordinal_ && next_ordinal_ == committed_ordinal_;
  return result;
}

bool ShardLog::WaitForRecords(uint64_t ordinal,
                              std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return committed_cv_.wait_until(lock, deadline, [&] {
    return committed_ordinal_ > ordinal || (closed_ && committed_ordinal_ == next_ordinal_);
  });
}

uint64_t ShardLog::OrdinalAtOrAfter(int64_t arrival_ms) const {
  std::shared_ptr<Segment> segment;
  Segment::IndexEntry entry;
  uint64_t segment_size = 0;
  uint64_t answer;
  {
    std::lock_guard lock(mu_);
    answer = committed_ordinal_;
    for (const auto& [first, candidate] : segments_) {
      if (!candidate->empty() && candidate->last_arrival_ms() >= arrival_ms) {
        segment = candidate;
        break;
      }
    }
    if (segment == nullptr) {
      return answer;
    }
    if (segment->first_arrival_ms() >= arrival_ms) {
      return segment->first_ordinal();
    }
    entry = segment->SeekArrival(arrival_ms);
    segment_size = segment->size();
  }
  const Status status =
      ScanCommitted(*segment, entry.offset, segment_size, [&](const FrameView& frame) {
        if (frame.arrival_ms >= arrival_ms) {
          answer = frame.ordinal;
          return false;
        }
        return true;
      });
  if (!status.ok()) {
    // Retention removed the segment meanwhile (or it no longer reads): every record kept now
    // lies after it, and all of them arrived at or after `arrival_ms`.
    std::lock_guard lock(mu_);
    if (segment->first_ordinal() >= trim_horizon_) {
      LogError("stream", status.message());
    }
    return std::max(segment->first_ordinal(), trim_horizon_);
  }
  return answer;
}

void ShardLog::Close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  committed_cv_.notify_all();
}

void ShardLog::Settle() {
  std::unique_lock lock(mu_);
  while (flushing_ || !staged_.empty()) {
    if (!flushing_) {
      Flush(lock);  // records staged earlier, whose producers have not flushed yet
      continue;
    }
    committed_cv_.wait(lock);
  }
}

Result<int> ShardLog::TrimBefore(int64_t cutoff_ms) {
  return TrimOldestWhile(
      [cutoff_ms](const Segment& oldest) { return oldest.last_arrival_ms() < cutoff_ms; },
      /*active_too=*/true);
}

Result<int> ShardLog::TrimBelow(uint64_t ordinal) {
  return TrimOldestWhile(
      [ordinal](const Segment& oldest) { return oldest.end_ordinal() <= ordinal; },
      /*active_too=*/false);
}

Result<int> ShardLog::TrimOldestWhile(const std::function<bool(const Segment&)>& expired,
                                      bool active_too) {
  std::lock_guard lock(mu_);
  int removed = 0;
  while (!segments_.empty()) {
    const std::shared_ptr<Segment> oldest = segments_.begin()->second;
    if (oldest->empty() || !expired(*oldest) || (segments_.size() == 1 && !active_too)) {
      break;
    }
    if (segments_.size() == 1) {
      // The active segment expired whole: start an empty one at the end first, so that the log
      // always remembers its next ordinal. Not while a write is under way.
      if (flushing_ || !staged_.empty()) {
        break;
      }
      Result<std::unique_ptr<Segment>> fresh = Segment::Create(dir_, committed_ordinal_);
      if (!fresh.ok()) {
        return fresh.status();
      }
      segments_[committed_ordinal_] = std::move(*fresh);
    }
    SLUICE_RETURN_IF_ERROR(oldest->Remove());
    indexed_segments_.erase(oldest->first_ordinal());
    segments_.erase(segments_.begin());
    trim_horizon_ = segments_.begin()->first;  // right away: a later failure must not leave
    ++removed;                                 // the horizon in a removed segment
  }
  if (removed > 0) {
    SLUICE_RETURN_IF_ERROR(SyncDirectory(dir_));
    committed_cv_.notify_all();
  }
  return removed;
}

Result<int> ShardLog::WriteSealedIndexes() {
  std::vector<std::shared_ptr<Segment>> sealed;
  {
    std::lock_guard lock(mu_);
    // Every segment but the last is sealed: writes only ever go to the last one.
    for (auto it = segments_.begin(); it != segments_.end() && std::next(it) != segments_.end();
         ++it) {
      if (indexed_segments_.count(it->first) == 0) {
        sealed.push_back(it->second);
      }
    }
  }
  int written = 0;
  Status first_error;
  for (const std::shared_ptr<Segment>& segment : sealed) {
    // Outside the lock: a sealed segment's bookkeeping no longer changes, and the fsync must
    // not hold up the shard's writers and readers. One failure does not stop the others.
    if (Status status = segment->WriteIndexFile(); !status.ok()) {
      if (first_error.ok()) {
        first_error = status;
      }
      continue;
    }
    std::lock_guard lock(mu_);
    indexed_segments_.insert(segment->first_ordinal());
    ++written;
  }
  if (!first_error.ok()) {
    return first_error;
  }
  return written;
}

uint64_t ShardLog::trim_horizon() const {
  std::lock_guard lock(mu_);
  return trim_horizon_;
}

uint64_t ShardLog::end_ordinal() const {
  std::lock_guard lock(mu_);
  return committed_ordinal_;
}

int64_t ShardLog::last_arrival_ms() const {
  std::lock_guard lock(mu_);
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (!it->second->empty()) {
      return it->second->last_arrival_ms();
    }
  }
  return 0;
}

bool ShardLog::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

}  // namespace sluice::stream
