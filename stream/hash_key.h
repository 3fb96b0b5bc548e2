// Hash keys: how Kinesis maps a record to a shard. A partition key's hash key is the MD5 of its
// UTF-8 bytes read as a big-endian unsigned 128-bit integer; an ExplicitHashKey replaces it. Each
// shard owns an inclusive range of hash keys.
// Stateless free functions; safe from any thread.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "stream/uint128.h"

namespace sluice::stream {

struct HashKeyRange {
  Uint128 start = 0;  // inclusive
  Uint128 end = 0;    // inclusive

  bool Contains(Uint128 key) const { return start <= key && key <= end; }
  friend bool operator==(const HashKeyRange&, const HashKeyRange&) = default;
};

// MD5(partition_key) as a big-endian unsigned 128-bit integer.
Uint128 PartitionKeyHash(std::string_view partition_key);

// The ranges CreateStream gives `shard_count` (>= 1) shards, as AWS and kinesalite split them:
// step = floor(2^128 / N); shard i covers [i*step, (i+1)*step - 1]; the last ends at 2^128 - 1.
std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count);

}  // namespace sluice::stream
