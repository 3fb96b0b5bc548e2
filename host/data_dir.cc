#include "host/data_dir.h"

#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

namespace sluice::host {

std::string DefaultDataDir() {
  if (const char* dir = std::getenv("SLUICE_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (::geteuid() == 0) {
    return "/var/lib/sluice";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/sluice";
}

Result<std::string> ControlSocketPath(const std::string& data_dir) {
  std::string path = data_dir + "/control.sock";
  constexpr size_t kMax = sizeof(sockaddr_un::sun_path) - 1;
  if (path.size() > kMax) {
    return InvalidArgument("the control socket path " + path + " is " +
                           std::to_string(path.size()) + " bytes; a Unix socket path may have " +
                           std::to_string(kMax) + " at most: use a shorter --data-dir");
  }
  return path;
}

}  // namespace sluice::host
