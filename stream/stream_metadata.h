// StreamMetadata: what a stream is, apart from its records: name, creation time, retention,
// generation and shards (hash key ranges, lineage, open or closed). Stored as stream.json in the
// stream's directory, replaced atomically on every change, so it survives restarts and crashes.
// Plain values; not thread-safe (StreamStore guards them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "stream/hash_key.h"

namespace sluice::stream {

struct ShardMetadata {
  uint32_t index = 0;  // shardId-%012d
  HashKeyRange range;
  std::optional<uint32_t> parent;           // ParentShardId
  std::optional<uint32_t> adjacent_parent;  // AdjacentParentShardId (merges)
  bool closed = false;

  friend bool operator==(const ShardMetadata&, const ShardMetadata&) = default;
};

struct StreamMetadata {
  std::string name;
  int64_t created_ms = 0;
  int32_t retention_hours = 24;
  uint32_t generation = 0;  // see sequence_number.h; raised on every open
  uint32_t next_shard_index = 0;
  std::vector<ShardMetadata> shards;  // by index

  std::string ToJson() const;
  // Parses ToJson()'s output; InvalidArgument naming the field that is wrong.
  static Result<StreamMetadata> FromJson(const std::string& text);

  friend bool operator==(const StreamMetadata&, const StreamMetadata&) = default;
};

// "shardId-000000000007".
std::string ShardIdString(uint32_t index);
// Accepts "shardId-" followed by 1-12 digits (as the API spells shard ids) and returns the index.
std::optional<uint32_t> ParseShardId(std::string_view text);

}  // namespace sluice::stream
