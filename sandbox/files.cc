#include "sandbox/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace sluice::sandbox {

Status WriteFile(const std::string& path, const std::string& content) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open " + path);
  }
  const ssize_t n = write(fd, content.data(), content.size());
  Status status;
  if (n != static_cast<ssize_t>(content.size())) {
    status = ErrnoStatus("write '" + content + "' to " + path);
  }
  close(fd);
  return status;
}

Result<std::string> ReadFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return ErrnoStatus("open " + path);
  }
  std::string content;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) {
    content.append(buf, static_cast<size_t>(n));
  }
  Status status = n < 0 ? ErrnoStatus("read " + path) : Status::Ok();
  close(fd);
  if (!status.ok()) {
    return status;
  }
  return content;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) {
    close(fd_);
  }
  fd_ = fd;
}

}  // namespace sluice::sandbox
