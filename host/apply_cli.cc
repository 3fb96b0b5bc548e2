// apply.
#include <filesystem>
#include <iostream>
#include <map>

#include "host/control_cli.h"
#include "host/control_client.h"
#include "host/stack.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
namespace pb = control::v1;

constexpr char kApplyUsage[] =
    "usage: sluice apply stack.json [--data-dir DIR]\n"
    "  Makes the running host match the stack file: creates its streams (one that exists keeps\n"
    "  its shards and gets the stack's retention), creates its topics and makes their\n"
    "  subscriptions exactly the stack's, then deploys its functions. Prints one line per\n"
    "  resource and a summary. Resources the stack does not mention are left alone; applying\n"
    "  the same stack again changes nothing. Format: docs/stacks.md.\n";

}  // namespace

int ApplyMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"apply", kApplyUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  const std::string& path = flags->positionals()[0];
  Result<std::string> text = ReadCliInput(path, "stack file");
  if (!text.ok()) {
    return verb.Fail(text.status());
  }
  std::error_code ec;
  const std::string base_dir = fs::absolute(path, ec).lexically_normal().parent_path().string();
  if (ec) {
    return verb.Fail(InvalidArgument(path + ": " + ec.message()));
  }
  // The host parses the stack again; parsing here too reports a bad stack without a host.
  if (Result<Stack> stack = ParseStack(*text, base_dir, path); !stack.ok()) {
    return verb.Fail(stack.status());
  }
  pb::ApplyRequest request;
  request.set_stack_json(*text);
  request.set_base_dir(base_dir);
  request.set_display_name(path);
  pb::ApplyResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Apply, request, &response); code != 0) {
    return code;
  }
  std::map<pb::ApplyResponse::Change, int> counts;
  for (const pb::ApplyResponse::Action& action : response.actions()) {
    std::cout << action.line() << '\n';
    ++counts[action.change()];
  }
  std::cout << counts[pb::ApplyResponse::CREATED] << " created, "
            << counts[pb::ApplyResponse::UPDATED] << " updated, "
            << counts[pb::ApplyResponse::UNCHANGED] << " unchanged, "
            << counts[pb::ApplyResponse::REMOVED] << " removed" << std::endl;
  return 0;
}

}  // namespace sluice::host
