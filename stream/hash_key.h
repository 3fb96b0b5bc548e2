// Hash keys: how Kinesis maps a record to a shard. A partition key's hash key is the MD5 of its
// UTF-8 bytes read as a big-endian unsigned 128-bit integer; an ExplicitHashKey replaces it. Each
// shard owns an inclusive range of hash keys.
// Stateless free functions; safe from any thread.
#pragma once

#include <cstdint>
#include <vector>

#include "stream/uint128.h"

namespace sluice::stream {

// The range type and the partition key hash are the SDK's (sluice/hash_key.h), so a function
// can tell the partition keys its shard owns exactly as the stream routes them.
using ::sluice::HashKeyRange;
using ::sluice::PartitionKeyHash;

// The ranges CreateStream gives `shard_count` (>= 1) shards, as AWS and kinesalite split them:
// step = floor(2^128 / N); shard i covers [i*step, (i+1)*step - 1]; the last ends at 2^128 - 1.
std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count);

}  // namespace sluice::stream
