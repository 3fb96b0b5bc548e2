// Small file helpers for the launcher's parent side (cgroup files, probes). Thread-safe.
#pragma once

#include <string>

#include "base/status.h"

namespace sluice::sandbox {

// Writes `content` to an existing file (no O_CREAT, no O_TRUNC: cgroup and proc files).
Status WriteFile(const std::string& path, const std::string& content);

// Reads a whole (small) file.
Result<std::string> ReadFile(const std::string& path);

// True when `path` exists (any type, symlinks not followed).
bool PathExists(const std::string& path);

// Owns one file descriptor; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { Reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace sluice::sandbox
