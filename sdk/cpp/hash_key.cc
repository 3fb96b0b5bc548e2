#include "sluice/hash_key.h"

#include <openssl/evp.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>

namespace sluice {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

}  // namespace

Uint128 PartitionKeyHash(std::string_view partition_key) {
  // One digest context per thread, reused: fetching and allocating per call costs more than the
  // digest of a short key. The digest is fetched explicitly, once: given the legacy EVP_md5(),
  // OpenSSL 3 fetches it again on every EVP_DigestInit_ex, under a lock every thread shares
  // (more than half the cost of hashing a short key).
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  static const EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);  // kept for good
  unsigned char digest[16];
  unsigned int length = 0;
  if (!ctx || EVP_DigestInit_ex(ctx.get(), md5, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), partition_key.data(), partition_key.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), digest, &length) != 1 || length != 16) {
    // MD5 is built into every OpenSSL 3 default provider; failing here is can't-happen.
    std::cerr << "sluice: OpenSSL MD5 failed" << std::endl;
    std::abort();
  }
  Uint128 value = 0;
  for (const unsigned char byte : digest) {
    value = (value << 8) | byte;
  }
  return value;
}

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

}  // namespace sluice
