// ObjectStore: where a delivery stream writes objects: an S3 bucket through its API (S3Store), or
// a local directory laid out like a bucket (DirectoryStore), the embedded default.
//
// Keys are S3 keys ("prefix/2026/11/22/10/name-1-2026-11-22-10-20-30-uuid.gz"): '/'-separated,
// no empty segment, no "." or ".." segment, no NUL (DirectoryStore refuses others with
// INVALID_ARGUMENT, so a prefix cannot escape the directory).
//
// Thread-safety: implementations are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "delivery/delivery_config.h"

namespace sluice::delivery {

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;
  // Stores `body` under `key` atomically: a reader sees the whole object or nothing; putting the
  // same key again replaces it (so a retried batch with a planned key is never stored twice).
  // UNAVAILABLE for what may pass (connection refused, 5xx, ENOSPC), other codes otherwise; the
  // message names the store and key.
  virtual Status Put(const std::string& key, std::string_view body) = 0;
  // The object's bytes; NOT_FOUND when there is none.
  virtual Result<std::string> Get(const std::string& key) = 0;
  // For messages and `sluice delivery describe`: "file:///var/lake" or "s3://bucket at URL".
  virtual std::string Describe() const = 0;
};

// The store a config names. `region` picks AWS's endpoint when EndpointURL is empty.
Result<std::unique_ptr<ObjectStore>> OpenObjectStore(const ObjectStoreConfig& config,
                                                     const std::string& region);

}  // namespace sluice::delivery
