// Resource limits applied in the child (soft = hard, so the function cannot raise them).
// Child-side functions (see child.h): no allocation; return 0 or an errno.
//
// Deliberately not RLIMIT_AS: gRPC reserves ~8 MiB of stack and up to 64 MiB of malloc arena per
// thread, so an address-space cap breaks thread creation long before real memory use matters.
// Memory is capped by the memory cgroup instead.
#pragma once

#include <cstdint>

namespace sluice::sandbox {

// Raises RLIMIT_NOFILE so that fd number `fd` can be created (the handler fd sits above the
// function's final limit).
int AllowFdNumber(int fd);

// RLIMIT_NOFILE, RLIMIT_NPROC (unless max_processes is 0: inherited), RLIMIT_FSIZE as given;
// RLIMIT_CORE = 0.
int ApplyRlimits(uint64_t max_open_files, uint64_t max_processes, uint64_t max_file_size);

}  // namespace sluice::sandbox
