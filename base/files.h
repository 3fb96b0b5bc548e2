// File helpers: an owned descriptor, whole-file reads, and writes that survive a crash.
// Free functions are safe from any thread; a UniqueFd is a value owned by one thread at a time.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

namespace sluice {

// Creates `dir` (mode 0755) unless it exists; its parent must exist.
Status MakeDirectory(const std::string& dir);

// fsyncs the directory itself, so that entries created, renamed or removed in it are durable.
Status SyncDirectory(const std::string& dir);

// Replaces `path` with `contents` so that after a crash the file holds either the old or the new
// contents, never a mix: writes "<path>.tmp", fsyncs it, renames it over `path`, fsyncs the
// directory.
Status WriteFileAtomically(const std::string& path, std::string_view contents);

// Reads a whole file.
Result<std::string> ReadFile(const std::string& path);

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

}  // namespace sluice
