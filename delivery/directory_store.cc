#include "delivery/directory_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/files.h"
#include "base/random.h"

namespace sluice::delivery {
namespace {

// A failed system call's status from errno: UNAVAILABLE for what may pass once the disk has room
// or recovers, so that the batch is retried rather than given up.
Status FileError(const std::string& what) {
  const int err = errno;
  if (err == ENOSPC || err == EDQUOT || err == EIO) {
    return Unavailable(what + ": " + std::strerror(err));
  }
  return ErrnoStatus(what);
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Creates `dir` and its missing ancestors (like mkdir -p), fsyncing the parent of each directory
// it creates so that the new entries survive a crash along with the object put under them.
Status MakeDirectories(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0) {
    return SyncDirectory(ParentOf(dir));
  }
  if (errno == EEXIST) {
    return Status::Ok();
  }
  if (errno != ENOENT || dir.find('/', 1) == std::string::npos) {
    return FileError("create directory " + dir);
  }
  SLUICE_RETURN_IF_ERROR(MakeDirectories(ParentOf(dir)));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return FileError("create directory " + dir);
  }
  return SyncDirectory(ParentOf(dir));
}

Status WriteAll(int fd, std::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return FileError("write " + path);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Creates the temporary file `tmp` in `dir`, making `dir` first when it is missing.
Result<UniqueFd> CreateTemporary(const std::string& tmp, const std::string& dir) {
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  UniqueFd fd(::open(tmp.c_str(), flags, 0644));
  if (fd.get() < 0 && errno == ENOENT) {
    // The first object under this prefix: make its directories and try once more.
    SLUICE_RETURN_IF_ERROR(MakeDirectories(dir));
    fd.Reset(::open(tmp.c_str(), flags, 0644));
  }
  if (fd.get() < 0) {
    return FileError("create " + tmp);
  }
  return fd;
}

}  // namespace

Status ValidateObjectKey(const std::string& key) {
  if (key.empty()) {
    return InvalidArgument("object key is empty");
  }
  if (key.find('\0') != std::string::npos) {
    return InvalidArgument("object key contains a NUL byte");
  }
  size_t start = 0;
  while (true) {
    const size_t end = std::min(key.find('/', start), key.size());
    const std::string_view segment = std::string_view(key).substr(start, end - start);
    if (segment.empty()) {
      return InvalidArgument("object key \"" + key + "\" has an empty segment");
    }
    if (segment == "." || segment == "..") {
      return InvalidArgument("object key \"" + key + "\" has a \"" + std::string(segment) +
                             "\" segment");
    }
    if (end == key.size()) {
      return Status::Ok();
    }
    start = end + 1;
  }
}

Status DirectoryStore::Put(const std::string& key, std::string_view body) {
  const std::string where = "put " + key + " in " + Describe();
  SLUICE_RETURN_IF_ERROR(ValidateObjectKey(key).WithContext(where));
  const std::string path = root_ + "/" + key;
  const std::string dir = ParentOf(path);
  const std::string tmp = dir + "/." + path.substr(dir.size() + 1) + ".tmp-" + RandomHex(8);

  Result<UniqueFd> fd = CreateTemporary(tmp, dir);
  if (!fd.ok()) {
    return fd.status().WithContext(where);
  }
  Status written = WriteAll(fd->get(), body, tmp);
  if (written.ok() && ::fsync(fd->get()) != 0) {
    written = FileError("fsync " + tmp);
  }
  fd->Reset();
  if (written.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    written = FileError("rename " + tmp + " to " + path);
  }
  if (!written.ok()) {
    ::unlink(tmp.c_str());
    return written.WithContext(where);
  }
  return SyncDirectory(dir).WithContext(where);
}

Result<std::string> DirectoryStore::Get(const std::string& key) {
  const std::string where = "get " + key + " from " + Describe();
  SLUICE_RETURN_IF_ERROR(ValidateObjectKey(key).WithContext(where));
  const std::string path = root_ + "/" + key;
  struct stat info;
  if (::stat(path.c_str(), &info) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return NotFound(where + ": no such object");
    }
    return FileError(where);
  }
  if (!S_ISREG(info.st_mode)) {  // a "directory" of a bucket is no object
    return NotFound(where + ": no such object");
  }
  Result<std::string> contents = ReadFile(path);
  if (!contents.ok()) {
    return contents.status().WithContext(where);
  }
  return contents;
}

}  // namespace sluice::delivery
