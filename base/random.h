// Random identifiers for names and secrets (instance ids, instance tokens, socket names).
// Thread-safe.
#pragma once

#include <cstddef>
#include <string>

namespace sluice {

// 2 * `bytes` lowercase hex digits from the kernel's CSPRNG (getrandom(2)): unpredictable, so
// fit for secrets such as instance tokens.
std::string RandomHex(size_t bytes);

// A random UUID version 4 in its text form, 8-4-4-4-12 lowercase hex digits
// ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", y one of 8, 9, a, b), from RandomHex.
std::string RandomUuid();

}  // namespace sluice
