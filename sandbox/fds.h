// File descriptors in the child: stdio wiring and closing everything inherited.
// Child-side functions (see child.h): no allocation; return 0 or an errno.
#pragma once

namespace sluice::sandbox {

// stdin = /dev/null; stdout/stderr = the given fds, or /dev/null when -1. Safe when the given fds
// are themselves 0, 1 or 2 (they are first moved out of the way).
int WireStdio(int stdout_fd, int stderr_fd);

// Closes every fd >= 3 except those in keep[0..n) (any order, n <= 8).
int CloseFdsExcept(const int* keep, int n);

}  // namespace sluice::sandbox
