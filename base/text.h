// Small text helpers. Stateless; safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice {

// The number of characters (code points) in UTF-8 `text`: the bytes that do not continue a
// character. Kinesis counts partition key lengths this way.
size_t Utf8CharCount(std::string_view text);

// Whether `text` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing
// above U+10FFFF, no truncated characters.
bool IsValidUtf8(std::string_view text);

// The longest prefix of UTF-8 `text` of at most `max_bytes` bytes that does not cut a character
// in two: `text` itself when it fits.
std::string_view Utf8Prefix(std::string_view text, size_t max_bytes);

// "name[index]": an array element in the JSON paths that error messages name.
std::string Indexed(std::string_view name, size_t index);

}  // namespace sluice
