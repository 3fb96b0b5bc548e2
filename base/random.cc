#include "base/random.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <vector>

namespace sluice {

std::string RandomHex(size_t bytes) {
  std::vector<uint8_t> raw(bytes);
  size_t filled = 0;
  while (filled < bytes) {
    const ssize_t n = getrandom(raw.data() + filled, bytes - filled, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      // Can't happen on Linux >= 3.17 once the pool is initialised (Envoy's rule: crash).
      std::cerr << "sluice: fatal: getrandom failed" << std::endl;
      std::abort();
    }
    filled += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes * 2);
  for (uint8_t b : raw) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

std::string RandomUuid() {
  std::string hex = RandomHex(16);
  hex[12] = '4';  // the version
  const int variant = hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10;
  hex[16] = "89ab"[variant & 3];  // the variant, binary 10xx
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace sluice
