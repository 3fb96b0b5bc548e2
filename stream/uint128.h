// Uint128: the unsigned 128-bit integers of Kinesis hash keys and sequence numbers, and their
// decimal text form (hash keys and sequence numbers travel as decimal strings, never hex).
// Stateless free functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::stream {

using Uint128 = unsigned __int128;

inline constexpr Uint128 kMaxUint128 = ~Uint128{0};

// "0", "340282366920938463463374607431768211455" and so on.
std::string ToDecimal(Uint128 value);

// Parses canonical decimal: "0" or a non-zero digit followed by digits, at most 2^128 - 1.
// Returns nullopt for anything else (signs, spaces, leading zeros, overflow, empty).
std::optional<Uint128> ParseDecimal(std::string_view text);

}  // namespace sluice::stream
