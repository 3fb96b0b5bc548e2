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

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace sluice::sandbox
