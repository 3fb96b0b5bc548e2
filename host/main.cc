// The `sluice` command: one binary for the CLI verbs (and, in later issues, the daemon).
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "host/control_cli.h"
#include "host/delivery_cli.h"
#include "host/gen_cli.h"
#include "host/local_invoke.h"
#include "host/serve.h"
#include "host/stream_cli.h"

namespace {

constexpr char kUsage[] =
    "usage: sluice <command> [arguments]\n"
    "\n"
    "commands:\n"
    "  serve [--listen HOST:PORT] [--data-dir DIR]\n"
    "                                       run the host: the Kinesis API on 127.0.0.1:4566,\n"
    "                                       deployed functions, the control API in DIR\n"
    "  streams create|list|describe|delete  manage streams on a running host\n"
    "  put STREAM --partition-key K --data TEXT\n"
    "                                       put a record (or one per line of stdin)\n"
    "  tail STREAM [--from trim-horizon|latest|at-timestamp]\n"
    "                                       print a stream's records as they arrive\n"
    "  delivery create|list|describe|delete|put\n"
    "                                       manage delivery streams (Firehose) on a running\n"
    "                                       host, and put records into them\n"
    "  gen reference|tolls|check            the ABC Tolls generator: reference file, traffic\n"
    "                                       with its ground truth, and the check of a run\n"
    "  local-invoke MANIFEST --event FILE   run a function once in the sandbox with an AWS JSON\n"
    "                                       event; print its response\n"
    "\n"
    "  deploy MANIFEST                      store a function's code and make it $LATEST\n"
    "  publish NAME [--description D]       publish $LATEST as a numbered version\n"
    "  functions                            list deployed functions\n"
    "  delete-function NAME                 delete every version of a function\n"
    "  invoke NAME [--qualifier V] --event FILE\n"
    "                                       invoke a deployed function; print its response\n"
    "  logs NAME [--follow] [--lines N]     print a function's stdout and stderr lines\n"
    "  kv get|put|delete|scan|tables        read and write key-value tables\n"
    "  topics [create|delete NAME]          list, create or delete notification topics\n"
    "  subscribe TOPIC ENDPOINT             subscribe an endpoint to a topic\n"
    "  unsubscribe TOPIC ENDPOINT | ID      remove a subscription\n"
    "  attach FUNCTION --stream NAME [...]  run a function on a stream's records (an event source\n"
    "                                       mapping, with Lambda's settings)\n"
    "  mappings                             list event source mappings\n"
    "  mapping get|update|enable|disable|delete UUID\n"
    "                                       show, change, pause, resume or delete a mapping\n"
    "  status                               functions, topics, notifications, streams,\n"
    "                                       mappings with their shard positions and delivery\n"
    "                                       streams\n"
    "  apply STACK                          make the host match a stack file: streams, topics,\n"
    "                                       subscriptions, functions, mappings and delivery\n"
    "                                       streams\n"
    "  The verbs above talk to the host running on --data-dir DIR (default $SLUICE_DATA_DIR,\n"
    "  else the host's default); each prints its own help with -h.\n"
    "\n"
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
  using Verb = int (*)(const std::vector<std::string>&);
  static const std::map<std::string, Verb> kControlVerbs = {
      {"deploy", sluice::host::DeployMain},
      {"publish", sluice::host::PublishMain},
      {"functions", sluice::host::FunctionsMain},
      {"delete-function", sluice::host::DeleteFunctionMain},
      {"invoke", sluice::host::InvokeMain},
      {"logs", sluice::host::LogsMain},
      {"kv", sluice::host::KvMain},
      {"topics", sluice::host::TopicsMain},
      {"subscribe", sluice::host::SubscribeMain},
      {"unsubscribe", sluice::host::UnsubscribeMain},
      {"status", sluice::host::StatusMain},
      {"attach", sluice::host::AttachMain},
      {"mappings", sluice::host::MappingsMain},
      {"mapping", sluice::host::MappingMain},
      {"apply", sluice::host::ApplyMain}};
  if (auto verb = kControlVerbs.find(command); verb != kControlVerbs.end()) {
    return verb->second(args);
  }
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
  if (command == "delivery") {
    return sluice::host::DeliveryMain(args);
  }
  if (command == "gen") {
    return sluice::host::GenMain(args);
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
