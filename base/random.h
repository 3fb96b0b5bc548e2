// Random identifiers for names and secrets (instance ids, instance tokens, socket names).
// Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace sluice {

// 2 * `bytes` lowercase hex digits from the kernel's CSPRNG (getrandom(2)): unpredictable, so
// fit for secrets such as instance tokens.
std::string RandomHex(size_t bytes);

}  // namespace sluice
