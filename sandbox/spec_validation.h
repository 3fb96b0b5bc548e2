// Checking a SandboxSpec before anything is created for it.
#pragma once

#include <string>

#include "base/status.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {

// The spec's paths with every symlink and ".." resolved.
struct ResolvedPaths {
  std::string code_dir;     // absolute, canonical
  std::string handler_rel;  // canonical, relative to code_dir, no ".." (stays inside)
};

// INVALID_ARGUMENT naming the field and the problem ("handler: escapes code_dir ...") unless:
// instance_id is 1-64 of [A-Za-z0-9_-]; code_dir is a directory; handler is a regular file with
// an execute bit whose canonical path lies inside code_dir; runtime_socket is a socket; each env
// entry has a '='; limits are non-zero; stdout_fd/stderr_fd are -1 or open; and, when
// `needs_scratch_dir` (no mount layer), scratch_dir is an absolute path.
Result<ResolvedPaths> ValidateSpec(const SandboxSpec& spec, bool needs_scratch_dir);

}  // namespace sluice::sandbox
