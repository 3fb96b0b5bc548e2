#include "sluice/base64.h"

#include <array>
#include <cstdint>

namespace sluice {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) {
    v = -1;
  }
  for (int i = 0; i < 64; ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  }
  return table;
}

constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.resize((bytes.size() + 2) / 3 * 4);
  const auto* in = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t i = 0;
  size_t o = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (in[i] << 16) | (in[i + 1] << 8) | in[i + 2];
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = in[i] << 16;
    if (rest == 2) {
      v |= in[i + 1] << 8;
    }
    out[o++] = kAlphabet[(v >> 18) & 63];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  out->clear();
  if (text.size() % 4 != 0) {
    return false;
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = text[text.size() - 2] == '=' ? 2 : 1;
  }
  out->resize(text.size() / 4 * 3 - pad);
  auto* o = reinterpret_cast<uint8_t*>(out->data());
  const auto* in = reinterpret_cast<const uint8_t*>(text.data());
  const size_t full = text.size() / 4 - (pad > 0 ? 1 : 0);
  for (size_t g = 0; g < full; ++g, in += 4, o += 3) {
    const int32_t v =
        (kDecode[in[0]] << 18) | (kDecode[in[1]] << 12) | (kDecode[in[2]] << 6) | kDecode[in[3]];
    if (v < 0) {  // some character was outside the alphabet (its entry is -1)
      return false;
    }
    o[0] = static_cast<uint8_t>(v >> 16);
    o[1] = static_cast<uint8_t>(v >> 8);
    o[2] = static_cast<uint8_t>(v);
  }
  if (pad > 0) {
    const int8_t a = kDecode[in[0]];
    const int8_t b = kDecode[in[1]];
    const int8_t c = pad == 1 ? kDecode[in[2]] : 0;
    if (a < 0 || b < 0 || c < 0) {
      return false;
    }
    const uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                       (static_cast<uint32_t>(c) << 6);
    // Canonical form: the bits after the last whole byte are zero.
    if ((pad == 2 && (v & 0xffff) != 0) || (pad == 1 && (v & 0xff) != 0)) {
      return false;
    }
    o[0] = static_cast<uint8_t>(v >> 16);
    if (pad == 1) {
      o[1] = static_cast<uint8_t>(v >> 8);
    }
  }
  return true;
}

}  // namespace sluice
