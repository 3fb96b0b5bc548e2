// Kinesis hash keys, shared by the SDK and the host's stream so both map a partition key to a
// shard the same way. A partition key's hash key is the MD5 of its UTF-8 bytes read as a
// big-endian unsigned 128-bit integer; each shard owns an inclusive range of hash keys. Hash keys
// (and sequence numbers) travel as decimal strings, never hex.
// Stateless free functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice {

using Uint128 = unsigned __int128;

inline constexpr Uint128 kMaxUint128 = ~Uint128{0};

struct HashKeyRange {
  Uint128 start = 0;  // inclusive
  Uint128 end = 0;    // inclusive

  bool Contains(Uint128 key) const { return start <= key && key <= end; }
  friend bool operator==(const HashKeyRange&, const HashKeyRange&) = default;
};

// MD5(partition_key) as a big-endian unsigned 128-bit integer.
Uint128 PartitionKeyHash(std::string_view partition_key);

// "0", "340282366920938463463374607431768211455" and so on.
std::string ToDecimal(Uint128 value);

// Parses canonical decimal: "0" or a non-zero digit followed by digits, at most 2^128 - 1.
// Returns nullopt for anything else (signs, spaces, leading zeros, overflow, empty).
std::optional<Uint128> ParseDecimal(std::string_view text);

}  // namespace sluice
