// The `sluice` command: one binary for the CLI verbs (and, in later issues, the daemon).
#include <iostream>
#include <string>
#include <vector>

#include "host/local_invoke.h"

namespace {

constexpr char kUsage[] =
    "usage: sluice <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  local-invoke MANIFEST --event FILE   run a function once in the sandbox with an AWS JSON\n"
    "                                       event; print its response\n"
    "  version                              print the version and the runtime protocol version\n"
    "  help                                 print this message\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "local-invoke") {
    return sluice::host::LocalInvokeMain(args);
  }
  if (command == "version" || command == "--version") {
    std::cout << "sluice 0.1.0 (runtime protocol 1)" << std::endl;
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "sluice: unknown command \"" << command << "\"\n\n" << kUsage;
  return 2;
}
