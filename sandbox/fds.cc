#include "sandbox/fds.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace sluice::sandbox {

int WireStdio(int stdout_fd, int stderr_fd) {
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) {
    return errno;
  }
  // Move every source above 2 first, so dup2 onto 0..2 cannot clobber a later source.
  int sources[3] = {null_fd, stdout_fd < 0 ? null_fd : stdout_fd,
                    stderr_fd < 0 ? null_fd : stderr_fd};
  for (int& fd : sources) {
    if (fd <= 2) {
      fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
      if (fd < 0) {
        return errno;
      }
    }
  }
  for (int target = 0; target < 3; ++target) {
    if (dup2(sources[target], target) < 0) {  // dup2 clears O_CLOEXEC on the target
      return errno;
    }
  }
  return 0;  // the sources are closed by CloseFdsExcept
}

int CloseFdsExcept(const int* keep, int n) {
  int sorted[8];
  for (int i = 0; i < n; ++i) {  // insertion sort: n is tiny, and std::sort may allocate
    int j = i;
    for (; j > 0 && sorted[j - 1] > keep[i]; --j) {
      sorted[j] = sorted[j - 1];
    }
    sorted[j] = keep[i];
  }
  unsigned first = 3;
  for (int i = 0; i <= n; ++i) {
    const unsigned end = i < n ? static_cast<unsigned>(sorted[i]) : UINT_MAX;
    if (end > first && close_range(first, end == UINT_MAX ? UINT_MAX : end - 1, 0) != 0) {
      return errno;
    }
    first = std::max(first, end + 1);
  }
  return 0;
}

}  // namespace sluice::sandbox
