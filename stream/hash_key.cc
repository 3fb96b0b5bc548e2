#include "stream/hash_key.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <iostream>
#include <memory>

namespace sluice::stream {
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

std::vector<HashKeyRange> EvenHashKeyRanges(uint32_t shard_count) {
  std::vector<HashKeyRange> ranges;
  if (shard_count == 0) {
    return ranges;
  }
  // floor(2^128 / N) computed without 2^128: (2^128 - 1) / N, plus one when N divides 2^128.
  Uint128 step = kMaxUint128 / shard_count;
  if (kMaxUint128 % shard_count == shard_count - 1) {
    ++step;
  }
  ranges.reserve(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) {
    const Uint128 start = step * i;
    const Uint128 end = i + 1 == shard_count ? kMaxUint128 : step * (i + 1) - 1;
    ranges.push_back({start, end});
  }
  return ranges;
}

}  // namespace sluice::stream
