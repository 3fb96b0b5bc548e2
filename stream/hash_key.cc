#include "stream/hash_key.h"

namespace sluice::stream {

std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count) {
  std::vector<HashKeyRange> ranges;
  if (shard_count == 0) {
    return ranges;
  }
  // floor(2^128 / N) computed without 2^128: (2^128 - 1) / N, plus one when N divides 2^128.
  Uint128 step = kMaxUint128 / shard_count;
  if (kMaxUint128 % shard_count == shard_count - 1) {
    ++step;
  }
  ranges.reserve(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) {
    const Uint128 start = step * i;
    const Uint128 end = i + 1 == shard_count ? kMaxUint128 : step * (i + 1) - 1;
    ranges.push_back({start, end});
  }
  return ranges;
}

}  // namespace sluice::stream
