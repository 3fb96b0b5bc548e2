// SequenceNumber: the identity of a record within a stream, as Kinesis shows it: a decimal string
// of a 128-bit integer, strictly increasing within a shard and never reused.
//
// Layout (most significant first): 4 bits 0b0010 (so every number has 38 digits and compares the
// same as text and as a number), 32 bits shard index, 28 bits generation, 64 bits ordinal.
// - ordinal: the record's dense position in its shard's log (0, 1, 2, ...).
// - generation: how many times the stream was opened when the record was written. It rises on
//   every start, so if a crash ever cut acknowledged records off a log tail, the records that
//   later take their ordinals still get new, higher numbers.
// Plain values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "stream/uint128.h"

namespace sluice::stream {

inline constexpr uint32_t kMaxGeneration = (1u << 28) - 1;

struct SequenceNumber {
  uint32_t shard_index = 0;
  uint32_t generation = 0;  // <= kMaxGeneration
  uint64_t ordinal = 0;

  Uint128 ToUint128() const;
  std::string ToString() const;  // 38 decimal digits

  // The first number a shard could ever hand out, and the last (its EndingSequenceNumber once
  // closed): every record of the shard lies between the two.
  static SequenceNumber First(uint32_t shard_index) { return {shard_index, 0, 0}; }
  static SequenceNumber Last(uint32_t shard_index) {
    return {shard_index, kMaxGeneration, UINT64_MAX};
  }

  // Parses a decimal string made by ToString(); nullopt for anything else.
  static std::optional<SequenceNumber> Parse(std::string_view text);

  friend bool operator==(const SequenceNumber&, const SequenceNumber&) = default;
};

}  // namespace sluice::stream
