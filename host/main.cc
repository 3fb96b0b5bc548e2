// The `sluice` command: one binary for the CLI verbs (and, in later issues, the daemon).
#include <iostream>
#include <string>
#include <vector>

#include "host/local_invoke.h"
#include "host/serve.h"
#include "host/stream_cli.h"

namespace {

constexpr char kUsage[] =
    "usage: sluice <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  serve [--listen HOST:PORT]           run the host: the Kinesis API on 127.0.0.1:4566\n"
    "  streams create|list|describe|delete  manage streams on a running host\n"
    "  put STREAM --partition-key K --data TEXT\n"
    "                                       put a record (or one per line of stdin)\n"
    "  tail STREAM [--from trim-horizon|latest|at-timestamp]\n"
    "                                       print a stream's records as they arrive\n"
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
  if (command == "serve") {
    return sluice::host::ServeMain(args);
  }
  if (command == "streams") {
    return sluice::host::StreamsMain(args);
  }
  if (command == "put") {
    return sluice::host::PutMain(args);
  }
  if (command == "tail") {
    return sluice::host::TailMain(args);
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
