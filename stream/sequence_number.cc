#include "stream/sequence_number.h"

namespace sluice::stream {
namespace {

constexpr Uint128 kMarker = Uint128{2} << 124;

}  // namespace

Uint128 SequenceNumber::ToUint128() const {
  return kMarker | (Uint128{shard_index} << 92) | (Uint128{generation & kMaxGeneration} << 64) |
         Uint128{ordinal};
}

std::string SequenceNumber::ToString() const {
  return ToDecimal(ToUint128());
}

std::optional<SequenceNumber> SequenceNumber::Parse(std::string_view text) {
  const std::optional<Uint128> value = ParseDecimal(text);
  if (!value || (*value >> 124) != 2) {
    return std::nullopt;
  }
  SequenceNumber number;
  number.shard_index = static_cast<uint32_t>(*value >> 92);
  number.generation = static_cast<uint32_t>(*value >> 64) & kMaxGeneration;
  number.ordinal = static_cast<uint64_t>(*value);
  return number;
}

}  // namespace sluice::stream
