// Small file helpers for the launcher's parent side (cgroup files, probes). Thread-safe.
#pragma once

#include <string>

#include "base/files.h"
#include "base/status.h"

namespace sluice::sandbox {

using ::sluice::ReadFile;
using ::sluice::UniqueFd;

// Writes `content` to an existing file (no O_CREAT, no O_TRUNC: cgroup and proc files).
Status WriteFile(const std::string& path, const std::string& content);

// True when `path` exists (any type, symlinks not followed).
bool PathExists(const std::string& path);

}  // namespace sluice::sandbox
