// Valid UTF-8 for the protocol's string fields (proto3 `string`, which the host refuses to parse
// when they are not UTF-8): SDK-internal.
#pragma once

#include <string>

namespace sluice::internal {

// `text` with every byte that does not belong to a well-formed UTF-8 sequence (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF) replaced by U+FFFD. Valid text is returned
// unchanged.
std::string ValidUtf8(std::string text);

}  // namespace sluice::internal
