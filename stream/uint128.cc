#include "stream/uint128.h"

namespace sluice::stream {

std::string ToDecimal(Uint128 value) {
  // Every record's sequence number goes through here (the pollers format one per record read),
  // so avoid a 128-bit division per digit: split into 19-digit chunks (at most three) with two
  // 128-bit divisions each, and write each chunk with 64-bit arithmetic.
  constexpr uint64_t kTenPow19 = 10'000'000'000'000'000'000ull;
  char buffer[40];
  char* const end = buffer + sizeof(buffer);
  char* p = end;
  while (value >= kTenPow19) {
    uint64_t chunk = static_cast<uint64_t>(value % kTenPow19);
    value /= kTenPow19;
    for (int i = 0; i < 19; ++i) {
      *--p = static_cast<char>('0' + chunk % 10);
      chunk /= 10;
    }
  }
  uint64_t top = static_cast<uint64_t>(value);
  do {
    *--p = static_cast<char>('0' + top % 10);
    top /= 10;
  } while (top != 0);
  return std::string(p, end);
}

std::optional<Uint128> ParseDecimal(std::string_view text) {
  if (text.empty() || text.size() > 39 || (text.size() > 1 && text[0] == '0')) {
    return std::nullopt;
  }
  Uint128 value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    const auto digit = static_cast<Uint128>(c - '0');
    if (value > (kMaxUint128 - digit) / 10) {
      return std::nullopt;
    }
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace sluice::stream
