#include "stream/stream_store.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <shared_mutex>

#include "base/files.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/random.h"
#include "stream/hash_key.h"

namespace sluice::stream {
namespace {

constexpr char kMetadataFile[] = "stream.json";

std::string ShardDir(const std::string& stream_dir, uint32_t index) {
  return stream_dir + "/" + ShardIdString(index);
}

Status RemoveTree(const std::string& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);
  if (error) {
    return Internal("remove " + path + ": " + error.message());
  }
  return Status::Ok();
}

}  // namespace

bool IsValidStreamName(std::string_view name) {
  // "." and ".." would name the streams directory and the data directory themselves.
  if (name.empty() || name.size() > 128 || name == "." || name == "..") {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

struct StreamStore::Stream {
  std::string dir;
  // Shared: puts and reads of the metadata. Exclusive: resharding, retention changes, deletion.
  mutable std::shared_mutex mu;
  StreamMetadata metadata;
  std::map<uint32_t, std::shared_ptr<ShardLog>> logs;  // every shard, open or closed
  std::vector<uint32_t> open_by_start;  // open shards, by the start of their hash key range
  bool deleted = false;
  Counter* records_in = nullptr;  // sluice_stream_records_in_total{stream}

  void SetName(const std::string& name) {
    records_in = &MetricsRegistry::Global().GetCounter(
        "sluice_stream_records_in_total", "Records stored by puts.", {{"stream", name}});
  }

  void IndexOpenShards() {
    open_by_start.clear();
    for (const ShardMetadata& shard : metadata.shards) {
      if (!shard.closed) {
        open_by_start.push_back(shard.index);
      }
    }
    std::sort(open_by_start.begin(), open_by_start.end(), [this](uint32_t a, uint32_t b) {
      return metadata.shards[a].range.start < metadata.shards[b].range.start;
    });
  }

  // The open shard whose range holds `hash_key`. The open ranges always cover the whole space.
  uint32_t Route(Uint128 hash_key) const {
    auto it = std::upper_bound(
        open_by_start.begin(), open_by_start.end(), hash_key,
        [this](Uint128 key, uint32_t index) { return key < metadata.shards[index].range.start; });
    return *std::prev(it);
  }
};

StreamStore::StreamStore(const StreamStoreOptions& options, Clock* clock)
    : options_(options), clock_(clock), streams_dir_(options.data_dir + "/streams") {}

StreamStore::~StreamStore() {
  {
    std::lock_guard lock(retention_mu_);
    stopping_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) {
    retention_thread_.join();
  }
  WriteSealedIndexes();  // so that the next start reads only the last segment of each shard
}

Result<std::unique_ptr<StreamStore>> StreamStore::Open(const StreamStoreOptions& options,
                                                       Clock* clock) {
  if (options.data_dir.empty()) {
    return InvalidArgument("data directory: must be set");
  }
  std::unique_ptr<StreamStore> store(new StreamStore(options, clock));
  SLUICE_RETURN_IF_ERROR(store->Load());
  store->EnforceRetention();
  if (options.retention_check_interval_ms > 0) {
    store->retention_thread_ = std::thread([s = store.get()] { s->RetentionLoop(); });
  }
  return store;
}

Status StreamStore::Load() {
  SLUICE_RETURN_IF_ERROR(MakeDirectory(options_.data_dir));
  SLUICE_RETURN_IF_ERROR(MakeDirectory(streams_dir_));
  DIR* d = ::opendir(streams_dir_.c_str());
  if (d == nullptr) {
    return ErrnoStatus("open directory " + streams_dir_);
  }
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(d)) {
    names.emplace_back(entry->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& entry : names) {
    const std::string dir = streams_dir_ + "/" + entry;
    if (entry.rfind("deleted-", 0) == 0) {
      SLUICE_RETURN_IF_ERROR(RemoveTree(dir));  // a deletion cut short by a crash
      continue;
    }
    if (entry.rfind("s-", 0) != 0) {
      continue;
    }
    const std::string metadata_path = dir + "/" + kMetadataFile;
    if (::access(metadata_path.c_str(), F_OK) != 0 && errno == ENOENT) {
      // A CreateStream cut short before its metadata was written: it holds no records.
      LogWarning("stream", dir + " has no " + kMetadataFile + "; removing the unfinished stream");
      SLUICE_RETURN_IF_ERROR(RemoveTree(dir));
      continue;
    }
    // Any other failure to read it stops the start: the stream's records are never removed for
    // a file that is merely unreadable (permissions, I/O errors).
    Result<std::string> text = ReadFile(metadata_path);
    if (!text.ok()) {
      return text.status();
    }
    Result<StreamMetadata> metadata = StreamMetadata::FromJson(*text);
    if (!metadata.ok()) {
      return metadata.status().WithContext(dir + "/" + kMetadataFile);
    }
    if (entry != "s-" + metadata->name) {
      return FailedPrecondition(dir + "/" + kMetadataFile + " names stream '" + metadata->name +
                                "', not the one its directory is for");
    }
    auto stream = std::make_shared<Stream>();
    stream->dir = dir;
    stream->metadata = std::move(*metadata);
    stream->SetName(stream->metadata.name);
    if (stream->metadata.generation >= kMaxGeneration) {
      return FailedPrecondition(dir + ": generation space exhausted");
    }
    ++stream->metadata.generation;
    SLUICE_RETURN_IF_ERROR(
        WriteFileAtomically(dir + "/" + kMetadataFile, stream->metadata.ToJson()));
    for (const ShardMetadata& shard : stream->metadata.shards) {
      Result<std::unique_ptr<ShardLog>> log =
          ShardLog::Open(ShardDir(dir, shard.index), stream->metadata.generation, shard.closed,
                         options_.log, clock_);
      if (!log.ok()) {
        return log.status();
      }
      stream->logs[shard.index] = std::move(*log);
    }
    stream->IndexOpenShards();
    streams_[stream->metadata.name] = stream;
  }
  return Status::Ok();
}

uint32_t StreamStore::OpenShardCount() const {
  uint32_t count = 0;
  for (const auto& [name, shards] : creating_) {
    count += shards;
  }
  for (const auto& [name, stream] : streams_) {
    std::shared_lock lock(stream->mu);
    count += static_cast<uint32_t>(stream->open_by_start.size());
  }
  return count;
}

Result<std::shared_ptr<StreamStore::Stream>> StreamStore::Find(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = streams_.find(name);
  if (it == streams_.end()) {
    return NotFound("stream " + name + " not found");
  }
  return it->second;
}

template <typename Lock>
Result<std::shared_ptr<StreamStore::Stream>> StreamStore::FindAndLock(const std::string& name,
                                                                      Lock* lock) const {
  Result<std::shared_ptr<Stream>> found = Find(name);
  if (!found.ok()) {
    return found;
  }
  *lock = Lock((*found)->mu);
  if ((*found)->deleted) {
    return NotFound("stream " + name + " not found");
  }
  return found;
}

Status StreamStore::CreateStream(const std::string& name, uint32_t shard_count) {
  if (!IsValidStreamName(name)) {
    return InvalidArgument("stream name must be 1-128 characters of [a-zA-Z0-9_.-], not . or ..");
  }
  if (shard_count < 1) {
    return InvalidArgument("shard count must be at least 1");
  }
  {
    std::lock_guard lock(mu_);
    if (streams_.count(name) != 0 || creating_.count(name) != 0) {
      return Status(Code::kAlreadyExists, "stream " + name + " already exists");
    }
    const uint32_t open = OpenShardCount();
    if (shard_count > options_.shard_limit || open + shard_count > options_.shard_limit) {
      return ResourceExhausted("this host allows " + std::to_string(options_.shard_limit) +
                               " open shards; " + std::to_string(open) + " are open and " +
                               std::to_string(shard_count) + " more were asked for");
    }
    creating_[name] = shard_count;  // reserved: the files are made without holding mu_
  }
  Result<std::shared_ptr<Stream>> created = MakeStream(name, shard_count);
  std::lock_guard lock(mu_);
  creating_.erase(name);
  if (!created.ok()) {
    return created.status();
  }
  streams_[name] = *created;
  return Status::Ok();
}

Result<std::shared_ptr<StreamStore::Stream>> StreamStore::MakeStream(const std::string& name,
                                                                     uint32_t shard_count) {
  auto stream = std::make_shared<Stream>();
  stream->SetName(name);
  stream->dir = streams_dir_ + "/s-" + name;
  SLUICE_RETURN_IF_ERROR(RemoveTree(stream->dir));  // leftovers of an unfinished create
  SLUICE_RETURN_IF_ERROR(MakeDirectory(stream->dir));
  StreamMetadata& meta = stream->metadata;
  meta.name = name;
  meta.created_ms = clock_->UnixMillis();
  meta.generation = 1;
  const std::vector<HashKeyRange> ranges = EvenHashKeyRanges(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) {
    meta.shards.push_back({i, ranges[i], std::nullopt, std::nullopt, false});
    Result<std::unique_ptr<ShardLog>> log =
        ShardLog::Open(ShardDir(stream->dir, i), meta.generation, false, options_.log, clock_);
    if (!log.ok()) {
      return log.status();
    }
    stream->logs[i] = std::move(*log);
  }
  meta.next_shard_index = shard_count;
  // The metadata file is written last: a stream directory without one is an unfinished create.
  SLUICE_RETURN_IF_ERROR(WriteFileAtomically(stream->dir + "/" + kMetadataFile, meta.ToJson()));
  stream->IndexOpenShards();
  return stream;
}

Status StreamStore::DeleteStream(const std::string& name) {
  const std::string trash =
      streams_dir_ + "/deleted-" + std::to_string(clock_->UnixMillis()) + "-" + RandomHex(4);
  {
    // The directory moves out of the way before the name is free again. Renaming it after
    // releasing mu_ let a CreateStream of the same name run in between, and the rename then
    // moved the new stream's directory to the trash.
    std::lock_guard lock(mu_);
    auto it = streams_.find(name);
    if (it == streams_.end()) {
      return NotFound("stream " + name + " not found");
    }
    const std::shared_ptr<Stream> stream = it->second;
    std::unique_lock stream_lock(stream->mu);
    // No put can stage now (they stage under the shared lock); let the writes under way finish,
    // so that no segment is created in the directory after it moved.
    for (auto& [index, log] : stream->logs) {
      log->Settle();
    }
    if (::rename(stream->dir.c_str(), trash.c_str()) != 0) {
      return ErrnoStatus("move " + stream->dir + " to " + trash);  // the stream stays as it was
    }
    for (auto& [index, log] : stream->logs) {
      log->Close();  // wakes waiting readers; they see the end
    }
    stream->deleted = true;
    streams_.erase(it);
  }
  SLUICE_RETURN_IF_ERROR(SyncDirectory(streams_dir_));
  return RemoveTree(trash);
}

std::vector<std::string> StreamStore::ListStreams() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, stream] : streams_) {
    names.push_back(name);
  }
  return names;
}

Result<StreamMetadata> StreamStore::Describe(const std::string& name) const {
  Result<std::shared_ptr<Stream>> stream = Find(name);
  if (!stream.ok()) {
    return stream.status();
  }
  std::shared_lock lock((*stream)->mu);
  return (*stream)->metadata;
}

Result<std::vector<PutOutcome>> StreamStore::Put(const std::string& name,
                                                 std::span<const PutInput> records) {
  Result<std::shared_ptr<Stream>> found = Find(name);
  if (!found.ok()) {
    return found.status();
  }
  Stream& stream = **found;
  std::vector<PutOutcome> outcomes(records.size());

  // Group the records by shard, keeping their order within each shard.
  struct Group {
    uint32_t shard_index = 0;
    std::vector<size_t> positions;
    std::vector<RecordInput> inputs;
    Result<ShardLog::Ticket> ticket = Status(Code::kUnknown, "not staged");
    std::shared_ptr<ShardLog> log;
  };
  std::vector<Group> groups;
  {
    std::shared_lock lock(stream.mu);
    if (stream.deleted) {
      return NotFound("stream " + name + " not found");
    }
    for (size_t i = 0; i < records.size(); ++i) {
      const PutInput& record = records[i];
      const Uint128 hash_key = record.explicit_hash_key ? *record.explicit_hash_key
                                                        : PartitionKeyHash(record.partition_key);
      const uint32_t shard_index = stream.Route(hash_key);
      auto group = std::find_if(groups.begin(), groups.end(),
                                [&](const Group& g) { return g.shard_index == shard_index; });
      if (group == groups.end()) {
        groups.emplace_back();
        group = std::prev(groups.end());
        group->shard_index = shard_index;
        group->log = stream.logs.at(shard_index);
      }
      group->positions.push_back(i);
      group->inputs.push_back({record.partition_key, record.data});
    }
    for (Group& group : groups) {
      group.ticket = group.log->Stage(group.inputs);
    }
  }
  // Wait outside the stream lock: resharding need not wait for an fsync.
  uint64_t stored = 0;
  for (Group& group : groups) {
    Status status =
        group.ticket.ok() ? group.log->WaitDurable(*group.ticket) : group.ticket.status();
    for (size_t k = 0; k < group.positions.size(); ++k) {
      PutOutcome& outcome = outcomes[group.positions[k]];
      outcome.status = status;
      outcome.shard_index = group.shard_index;
      if (status.ok()) {
        outcome.sequence_number = {group.shard_index, group.log->generation(),
                                   group.ticket->first_ordinal + k};
        ++stored;
      }
    }
  }
  stream.records_in->Increment(stored);
  return outcomes;
}

Status StreamStore::Reshard(Stream& stream, StreamMetadata next, std::vector<uint32_t> closing) {
  std::map<uint32_t, std::shared_ptr<ShardLog>> opened;
  for (uint32_t index = stream.metadata.next_shard_index; index < next.next_shard_index; ++index) {
    Result<std::unique_ptr<ShardLog>> log =
        ShardLog::Open(ShardDir(stream.dir, index), next.generation, false, options_.log, clock_);
    if (!log.ok()) {
      return log.status();
    }
    opened[index] = std::move(*log);
  }
  SLUICE_RETURN_IF_ERROR(WriteFileAtomically(stream.dir + "/" + kMetadataFile, next.ToJson()));
  for (const uint32_t index : closing) {
    stream.logs.at(index)->Close();
  }
  stream.logs.merge(opened);
  stream.metadata = std::move(next);
  stream.IndexOpenShards();
  return Status::Ok();
}

Status StreamStore::SplitShard(const std::string& name, uint32_t shard_index,
                               Uint128 new_starting_hash_key) {
  Result<std::shared_ptr<Stream>> found = Find(name);
  if (!found.ok()) {
    return found.status();
  }
  std::lock_guard store_lock(mu_);  // the shard limit counts every stream
  // Counted before taking this stream's lock, which is then held from the checks to the change:
  // unlocking in between let a MergeShards close the parent after it was checked, and the split
  // then added children overlapping the merge's child. While mu_ is held no stream is created
  // and no other split runs; a merge meanwhile only lowers the count.
  const uint32_t open = OpenShardCount();
  Stream& stream = **found;
  std::unique_lock lock(stream.mu);
  if (stream.deleted) {
    return NotFound("stream " + name + " not found");
  }
  if (shard_index >= stream.metadata.shards.size()) {
    return NotFound("shard " + ShardIdString(shard_index) + " in stream " + name +
                    " does not exist");
  }
  const ShardMetadata parent = stream.metadata.shards[shard_index];
  if (parent.closed) {
    return InvalidArgument("shard " + ShardIdString(shard_index) + " in stream " + name +
                           " is closed and cannot be split");
  }
  if (!(new_starting_hash_key > parent.range.start + 1 &&
        new_starting_hash_key < parent.range.end)) {
    return InvalidArgument("NewStartingHashKey " + ToDecimal(new_starting_hash_key) +
                           " is not both greater than one plus the shard's StartingHashKey " +
                           ToDecimal(parent.range.start) + " and less than its EndingHashKey " +
                           ToDecimal(parent.range.end));
  }
  if (open + 1 > options_.shard_limit) {
    return ResourceExhausted("this host allows " + std::to_string(options_.shard_limit) +
                             " open shards and " + std::to_string(open) + " are open");
  }
  StreamMetadata next = stream.metadata;
  next.shards[shard_index].closed = true;
  const uint32_t low = next.next_shard_index++;
  const uint32_t high = next.next_shard_index++;
  next.shards.push_back(
      {low, {parent.range.start, new_starting_hash_key - 1}, shard_index, std::nullopt, false});
  next.shards.push_back(
      {high, {new_starting_hash_key, parent.range.end}, shard_index, std::nullopt, false});
  return Reshard(stream, std::move(next), {shard_index});
}

Status StreamStore::MergeShards(const std::string& name, uint32_t shard_index,
                                uint32_t adjacent_index) {
  std::unique_lock<std::shared_mutex> lock;
  Result<std::shared_ptr<Stream>> found = FindAndLock(name, &lock);
  if (!found.ok()) {
    return found.status();
  }
  Stream& stream = **found;
  for (const uint32_t index : {shard_index, adjacent_index}) {
    if (index >= stream.metadata.shards.size()) {
      return NotFound("shard " + ShardIdString(index) + " in stream " + name + " does not exist");
    }
    if (stream.metadata.shards[index].closed) {
      return InvalidArgument("shard " + ShardIdString(index) + " in stream " + name +
                             " is closed and cannot be merged");
    }
  }
  const HashKeyRange a = stream.metadata.shards[shard_index].range;
  const HashKeyRange b = stream.metadata.shards[adjacent_index].range;
  const bool a_then_b = a.end != kMaxUint128 && a.end + 1 == b.start;
  const bool b_then_a = b.end != kMaxUint128 && b.end + 1 == a.start;
  if (shard_index == adjacent_index || (!a_then_b && !b_then_a)) {
    return InvalidArgument("Shards " + ShardIdString(shard_index) + " and " +
                           ShardIdString(adjacent_index) + " in stream " + name +
                           " are not an adjacent pair of shards eligible for merging");
  }
  StreamMetadata next = stream.metadata;
  next.shards[shard_index].closed = true;
  next.shards[adjacent_index].closed = true;
  const uint32_t child = next.next_shard_index++;
  next.shards.push_back({child,
                         {a_then_b ? a.start : b.start, a_then_b ? b.end : a.end},
                         shard_index,
                         adjacent_index,
                         false});
  return Reshard(stream, std::move(next), {shard_index, adjacent_index});
}

Status StreamStore::SetRetention(const std::string& name, int32_t hours) {
  if (hours < kMinRetentionHours || hours > kMaxRetentionHours) {
    return InvalidArgument("retention must be " + std::to_string(kMinRetentionHours) + "-" +
                           std::to_string(kMaxRetentionHours) + " hours");
  }
  std::unique_lock<std::shared_mutex> lock;
  Result<std::shared_ptr<Stream>> found = FindAndLock(name, &lock);
  if (!found.ok()) {
    return found.status();
  }
  Stream& stream = **found;
  StreamMetadata next = stream.metadata;
  next.retention_hours = hours;
  SLUICE_RETURN_IF_ERROR(WriteFileAtomically(stream.dir + "/" + kMetadataFile, next.ToJson()));
  stream.metadata = std::move(next);
  return Status::Ok();
}

Result<std::shared_ptr<ShardLog>> StreamStore::Shard(const std::string& name,
                                                     uint32_t shard_index) const {
  Result<std::shared_ptr<Stream>> found = Find(name);
  if (!found.ok()) {
    return found.status();
  }
  std::shared_lock lock((*found)->mu);
  auto it = (*found)->logs.find(shard_index);
  if (it == (*found)->logs.end()) {
    return NotFound("shard " + ShardIdString(shard_index) + " in stream " + name +
                    " does not exist");
  }
  return it->second;
}

void StreamStore::EnforceRetention() {
  std::vector<std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, stream] : streams_) {
      streams.push_back(stream);
    }
  }
  for (const std::shared_ptr<Stream>& stream : streams) {
    std::shared_lock lock(stream->mu);
    if (stream->deleted) {
      continue;  // its files are gone
    }
    const int64_t cutoff =
        clock_->UnixMillis() - int64_t{stream->metadata.retention_hours} * 3600 * 1000;
    for (const auto& [index, log] : stream->logs) {
      Result<int> removed = log->TrimBefore(cutoff);
      if (!removed.ok()) {
        LogError("stream", stream->metadata.name + " " + ShardIdString(index) +
                               ": retention: " + removed.status().message());
      } else if (*removed > 0) {
        LogInfo("stream", stream->metadata.name + " " + ShardIdString(index) +
                              ": retention removed " + std::to_string(*removed) +
                              " expired segment(s)");
      }
    }
  }
}

void StreamStore::WriteSealedIndexes() {
  std::vector<std::pair<std::string, std::shared_ptr<ShardLog>>> logs;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, stream] : streams_) {
      std::shared_lock stream_lock(stream->mu);
      for (const auto& [index, log] : stream->logs) {
        logs.emplace_back(name + " " + ShardIdString(index), log);
      }
    }
  }
  for (const auto& [name, log] : logs) {
    Result<int> written = log->WriteSealedIndexes();
    if (!written.ok()) {
      // Only start-up speed depends on it; a deleted stream's files are simply gone.
      LogWarning("stream", name + ": segment index: " + written.status().message());
    }
  }
}

void StreamStore::RetentionLoop() {
  std::unique_lock lock(retention_mu_);
  while (!retention_cv_.wait_for(lock,
                                 std::chrono::milliseconds(options_.retention_check_interval_ms),
                                 [this] { return stopping_; })) {
    lock.unlock();
    EnforceRetention();
    WriteSealedIndexes();
    lock.lock();
  }
}

}  // namespace sluice::stream
