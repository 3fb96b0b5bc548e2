// DirectoryStore: an ObjectStore over a local directory laid out like an S3 bucket: key
// "a/b/c.gz" is the file DIR/a/b/c.gz.
//
// Put writes a temporary file beside the target (".<name>.tmp-<random>"), fsyncs it, renames it
// over the target and fsyncs the directory, so after a crash the object is whole or absent, and
// the rename is on disk when Put returns. Directories are created as needed (mode 0755; files
// 0644). Readers of the lake never see temporary files under an object's name.
//
// Thread-safety: thread-safe (no shared state beyond the filesystem).
#pragma once

#include <string>

#include "delivery/object_store.h"

namespace sluice::delivery {

class DirectoryStore final : public ObjectStore {
 public:
  // `root` must be an absolute path; it is created on the first Put if missing.
  explicit DirectoryStore(std::string root) : root_(std::move(root)) {}

  Status Put(const std::string& key, std::string_view body) override;
  Result<std::string> Get(const std::string& key) override;
  std::string Describe() const override { return "file://" + root_; }

 private:
  const std::string root_;
};

// OK when `key` is a valid object key (see object_store.h), else INVALID_ARGUMENT saying why.
Status ValidateObjectKey(const std::string& key);

}  // namespace sluice::delivery
