// Standard base64 (RFC 4648, with padding), as AWS uses for record data in JSON events.
// Stateless free functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice {

std::string Base64Encode(std::string_view bytes);

// Decodes `text` into *out. Returns false (and leaves *out unspecified) when `text` is not
// valid canonical padded base64: a length that is not a multiple of 4, a character outside the
// alphabet, padding anywhere but the end, or a last character whose unused bits are not zero
// (so that re-encoding gives back `text`, as AWS requires).
bool Base64Decode(std::string_view text, std::string* out);

}  // namespace sluice
