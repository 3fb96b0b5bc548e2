// Gzip (RFC 1952) with zlib: for GZIP objects and HTTP endpoint bodies.
//
// Stateless; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice::delivery {

std::string GzipCompress(std::string_view data);
// INVALID_ARGUMENT when `data` is not a whole gzip stream (several members are concatenated).
Result<std::string> GzipDecompress(std::string_view data);

}  // namespace sluice::delivery
