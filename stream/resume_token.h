// ResumeToken: the opaque strings with which a client resumes: the ShardIterator of
// GetShardIterator and GetRecords, and the NextToken of ListShards and ListStreams (whose
// stream_name is the last stream listed). Clients must not parse them; the
// host encodes what it needs: which stream (by name and creation time, so a token of a deleted
// stream never reads a new one of the same name), which shard, the next ordinal (iterators), and
// when it was issued (both expire after five minutes).
// Plain values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::stream {

inline constexpr int64_t kTokenLifetimeMs = 5 * 60 * 1000;

struct ResumeToken {
  enum class Kind { kShardIterator, kListShards, kListStreams };

  Kind kind = Kind::kShardIterator;
  std::string stream_name;
  int64_t stream_created_ms = 0;
  uint32_t shard_index = 0;  // iterators: the shard; ListShards: the last shard listed
  uint64_t ordinal = 0;      // iterators: the next record; ListShards: 1 if only open shards
                             // are listed (the AT_LATEST filter carried to the next page)
  int64_t issued_ms = 0;

  // Standard base64 text, at most 512 characters for any valid stream name.
  std::string Encode() const;
  // nullopt for anything Encode() did not make (of either kind).
  static std::optional<ResumeToken> Decode(std::string_view text);
};

}  // namespace sluice::stream
