#include "utf8.h"

#include <cstddef>
#include <cstdint>

namespace sluice::internal {
namespace {

// The length of the well-formed sequence starting at text[i], or 0.
size_t SequenceLength(const std::string& text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t lead = byte(i);
  if (lead < 0x80) {
    return 1;
  }
  size_t length = 0;
  uint8_t min_second = 0x80;
  uint8_t max_second = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    min_second = lead == 0xE0 ? 0xA0 : 0x80;  // no overlongs
    max_second = lead == 0xED ? 0x9F : 0xBF;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    min_second = lead == 0xF0 ? 0x90 : 0x80;  // no overlongs
    max_second = lead == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size() || byte(i + 1) < min_second || byte(i + 1) > max_second) {
    return 0;
  }
  for (size_t k = i + 2; k < i + length; ++k) {
    if (byte(k) < 0x80 || byte(k) > 0xBF) {
      return 0;
    }
  }
  return length;
}

}  // namespace

std::string ValidUtf8(std::string text) {
  size_t i = 0;
  while (i < text.size() && SequenceLength(text, i) > 0) {
    i += SequenceLength(text, i);
  }
  if (i == text.size()) {
    return text;  // the common case: nothing to replace
  }
  std::string valid = text.substr(0, i);
  while (i < text.size()) {
    const size_t length = SequenceLength(text, i);
    if (length == 0) {
      valid.append("\xEF\xBF\xBD");  // U+FFFD
      ++i;
    } else {
      valid.append(text, i, length);
      i += length;
    }
  }
  return valid;
}

}  // namespace sluice::internal
