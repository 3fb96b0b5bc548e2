// StreamStore: every stream of one host, on disk under one data directory:
//
//   <data_dir>/streams/s-<name>/stream.json           metadata (stream_metadata.h)
//   <data_dir>/streams/s-<name>/shard-<index>/*.log   each shard's log (shard_log.h)
//
// It implements Kinesis's model: records route to the open shard whose hash key range holds
// their hash key; SplitShard and MergeShards close parents and open children; retention trims
// old segments (a background thread checks every minute, and EnforceRetention() does it now),
// and the same thread writes index files for sealed segments so that restarts stay fast.
// The Kinesis API (kinesis_api.h) and the in-process pollers sit on top of it.
//
// Errors are Status values with these codes, which the API maps to Kinesis's exceptions:
// NotFound (stream or shard), AlreadyExists (stream), InvalidArgument (bad request),
// ResourceExhausted (shard limit), FailedPrecondition (e.g. shard closed), Unavailable (I/O).
//
// Thread-safety: every method is safe from any thread. Puts to one stream run in parallel with
// each other and with reads; resharding a stream briefly excludes its puts.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "stream/sequence_number.h"
#include "stream/shard_log.h"
#include "stream/stream_metadata.h"

namespace sluice::stream {

struct StreamStoreOptions {
  std::string data_dir;  // required; created if missing
  ShardLogOptions log;
  // Open shards allowed across all streams (AWS's default account limit is 500).
  uint32_t shard_limit = 500;
  // How often the background thread applies retention; 0 turns the thread off.
  int64_t retention_check_interval_ms = 60 * 1000;
};

inline constexpr int32_t kMinRetentionHours = 24;
inline constexpr int32_t kMaxRetentionHours = 8760;

// True for a valid stream name: 1-128 characters of [a-zA-Z0-9_.-], not "." or ".." (a name is a
// directory of the host's).
bool IsValidStreamName(std::string_view name);

// One record of a PutRecords call.
struct PutInput {
  std::string_view partition_key;
  std::optional<Uint128> explicit_hash_key;
  std::string_view data;
};

// The outcome of one record: its shard and sequence number, or why it was not stored.
struct PutOutcome {
  Status status;
  uint32_t shard_index = 0;
  SequenceNumber sequence_number;
};

class StreamStore {
 public:
  static Result<std::unique_ptr<StreamStore>> Open(const StreamStoreOptions& options, Clock* clock);
  ~StreamStore();  // stops the background thread, writes sealed segments' index files

  Status CreateStream(const std::string& name, uint32_t shard_count);
  Status DeleteStream(const std::string& name);
  std::vector<std::string> ListStreams() const;  // sorted
  // A consistent copy of the stream's metadata, for Describe* and ListShards.
  Result<StreamMetadata> Describe(const std::string& name) const;

  // Stores each record, in order per shard; outcomes line up with `records`. The call itself
  // fails only when the stream does not exist.
  Result<std::vector<PutOutcome>> Put(const std::string& name, std::span<const PutInput> records);

  Status SplitShard(const std::string& name, uint32_t shard_index, Uint128 new_starting_hash_key);
  Status MergeShards(const std::string& name, uint32_t shard_index, uint32_t adjacent_index);
  Status SetRetention(const std::string& name, int32_t hours);

  // A shard's log, for readers. The pointer stays valid (and readable) even if the stream is
  // deleted meanwhile. NotFound for an unknown stream or shard.
  Result<std::shared_ptr<ShardLog>> Shard(const std::string& name, uint32_t shard_index) const;

  // Applies retention to every stream now.
  void EnforceRetention();
  // Writes the index files of sealed segments (ShardLog::WriteSealedIndexes) of every stream;
  // the background thread does it every interval, and the destructor once more.
  void WriteSealedIndexes();

  Clock& clock() const { return *clock_; }

 private:
  struct Stream;
  StreamStore(const StreamStoreOptions& options, Clock* clock);
  Status Load();
  Result<std::shared_ptr<Stream>> Find(const std::string& name) const;
  // Find(), then locks the stream with `lock` (a shared or unique lock of Stream::mu); NotFound
  // if it was deleted meanwhile.
  template <typename Lock>
  Result<std::shared_ptr<Stream>> FindAndLock(const std::string& name, Lock* lock) const;
  uint32_t OpenShardCount() const;  // REQUIRES: mu_ held; streams being created count too
  // Makes a new stream's directory, logs and metadata. REQUIRES: its name is reserved in
  // creating_ (so no other call touches that directory).
  Result<std::shared_ptr<Stream>> MakeStream(const std::string& name, uint32_t shard_count);
  Status Reshard(Stream& stream, StreamMetadata next, std::vector<uint32_t> closing);
  void RetentionLoop();

  const StreamStoreOptions options_;
  Clock* const clock_;
  const std::string streams_dir_;

  mutable std::mutex mu_;  // guards streams_ (the map, not the streams)
  std::map<std::string, std::shared_ptr<Stream>> streams_;
  std::map<std::string, uint32_t> creating_;  // names being created, with their shard counts

  std::mutex retention_mu_;
  std::condition_variable retention_cv_;
  bool stopping_ = false;
  std::thread retention_thread_;
};

}  // namespace sluice::stream
