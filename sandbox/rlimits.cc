#include "sandbox/rlimits.h"

#include <sys/resource.h>

#include <cerrno>
#include <utility>

namespace sluice::sandbox {
namespace {

int SetLimit(int resource, uint64_t value) {
  const rlimit limit = {value, value};
  return setrlimit(resource, &limit) == 0 ? 0 : errno;
}

}  // namespace

int AllowFdNumber(int fd) {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return errno;
  }
  if (limit.rlim_cur > static_cast<rlim_t>(fd)) {
    return 0;
  }
  return SetLimit(RLIMIT_NOFILE, static_cast<uint64_t>(fd) + 1);
}

int ApplyRlimits(uint64_t max_open_files, uint64_t max_processes, uint64_t max_file_size) {
  for (auto [resource, value] :
       {std::pair{RLIMIT_NOFILE, max_open_files}, std::pair{RLIMIT_NPROC, max_processes},
        std::pair{RLIMIT_FSIZE, max_file_size}, std::pair{RLIMIT_CORE, uint64_t{0}}}) {
    if (resource == RLIMIT_NPROC && value == 0) {
      continue;
    }
    if (int err = SetLimit(resource, value); err != 0) {
      return err;
    }
  }
  return 0;
}

}  // namespace sluice::sandbox
