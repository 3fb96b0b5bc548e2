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
  // The longest socket the host makes: an instance's runtime socket (OneShotListeners names it
  // with 16 hex digits).
  const std::string runtime = data_dir + "/run/runtime/0123456789abcdef.sock";
  if (runtime.size() > kMax) {
    return InvalidArgument(
        "the data directory " + data_dir +
        " is too long: function instances' "
        "sockets inside it (like " +
        runtime + ", " + std::to_string(runtime.size()) + " bytes) must fit in " +
        std::to_string(kMax) + " bytes; use a --data-dir of at most " +
        std::to_string(kMax - (runtime.size() - data_dir.size())) + " characters");
  }
  return path;
}

}  // namespace sluice::host
