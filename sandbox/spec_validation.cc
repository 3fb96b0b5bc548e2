#include "sandbox/spec_validation.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace sluice::sandbox {
namespace {

Status Invalid(const char* field, const std::string& problem) {
  return InvalidArgument(std::string(field) + ": " + problem);
}

Result<std::string> Canonical(const char* field, const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return Invalid(field, "'" + path + "': " + strerror(errno));
  }
  return std::string(resolved);
}

bool ValidInstanceId(const std::string& id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<ResolvedPaths> ValidateSpec(const SandboxSpec& spec, bool needs_scratch_dir) {
  if (!ValidInstanceId(spec.instance_id)) {
    return Invalid("instance_id", "'" + spec.instance_id + "' is not 1-64 of [A-Za-z0-9_-]");
  }
  struct stat st;
  auto code_dir = Canonical("code_dir", spec.code_dir);
  if (!code_dir.ok()) {
    return code_dir.status();
  }
  if (stat(code_dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Invalid("code_dir", "'" + spec.code_dir + "' is not a directory");
  }
  if (spec.handler.empty() || spec.handler[0] == '/') {
    return Invalid("handler", "'" + spec.handler + "' must be a path relative to code_dir");
  }
  auto handler = Canonical("handler", *code_dir + "/" + spec.handler);
  if (!handler.ok()) {
    return handler.status();
  }
  if (handler->compare(0, code_dir->size() + 1, *code_dir + "/") != 0) {
    return Invalid("handler", "'" + spec.handler + "' resolves to " + *handler +
                                  ", outside code_dir " + *code_dir);
  }
  if (stat(handler->c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Invalid("handler", "'" + spec.handler + "' is not a regular file");
  }
  if ((st.st_mode & 0111) == 0) {
    return Invalid("handler", "'" + spec.handler + "' is not executable");
  }
  if (stat(spec.runtime_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return Invalid("runtime_socket", "'" + spec.runtime_socket + "' is not a Unix socket");
  }
  for (const std::string& entry : spec.env) {
    if (entry.find('=') == std::string::npos || entry[0] == '=') {
      return Invalid("env", "'" + entry + "' is not NAME=value");
    }
  }
  if (spec.scratch_limit_bytes == 0 || spec.max_processes == 0 || spec.max_open_files < 3) {
    return Invalid("limits",
                   "scratch_limit_bytes and max_processes must be > 0, "
                   "max_open_files >= 3");
  }
  for (auto [field, fd] :
       {std::pair{"stdout_fd", spec.stdout_fd}, std::pair{"stderr_fd", spec.stderr_fd}}) {
    if (fd != -1 && fcntl(fd, F_GETFD) < 0) {
      return Invalid(field, std::to_string(fd) + " is not an open fd");
    }
  }
  if (needs_scratch_dir && (spec.scratch_dir.empty() || spec.scratch_dir[0] != '/')) {
    return Invalid("scratch_dir", "'" + spec.scratch_dir + "' must be an absolute path");
  }
  return ResolvedPaths{*code_dir, handler->substr(code_dir->size() + 1)};
}

}  // namespace sluice::sandbox
