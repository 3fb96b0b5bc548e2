// The event source mapping verbs: attach, mappings, mapping get|update|enable|disable|delete.
// Options become the AWS JSON properties of CreateEventSourceMapping; the host validates them
// (poller/mapping_config.h), so the CLI, mapping files and stacks share one set of rules.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json_fields.h"
#include "host/control_cli.h"
#include "host/control_client.h"

namespace sluice::host {
namespace {

namespace pb = control::v1;
using nlohmann::json;

constexpr char kAttachUsage[] =
    "usage: sluice attach FUNCTION --stream NAME [options]\n"
    "       sluice attach --file MAPPING.json\n"
    "Attaches a function to a stream (an event source mapping) and prints the mapping.\n"
    "FUNCTION may be NAME or NAME:VERSION. Options (AWS's names and ranges):\n"
    "  --batch-size N                      BatchSize, 1-10000 (default 100)\n"
    "  --batching-window S                 MaximumBatchingWindowInSeconds, 0-300 (default 0)\n"
    "  --starting-position P               TRIM_HORIZON (default), LATEST or AT_TIMESTAMP\n"
    "  --starting-position-timestamp T     StartingPositionTimestamp, Unix seconds\n"
    "  --parallelization-factor N          ParallelizationFactor, 1-10 (default 1)\n"
    "  --maximum-retry-attempts N          MaximumRetryAttempts, -1 or 0-10000 (default -1)\n"
    "  --maximum-record-age S              MaximumRecordAgeInSeconds, -1 or 60-604800\n"
    "  --bisect-batch-on-function-error    BisectBatchOnFunctionError\n"
    "  --on-failure DESTINATION            stream:NAME, topic:NAME, file:///DIR or an ARN\n"
    "  --report-batch-item-failures        FunctionResponseTypes [ReportBatchItemFailures]\n"
    "  --tumbling-window S                 TumblingWindowInSeconds, 1-86400\n"
    "  --tumbling-window-time-field F      event-time windows from the JSON field F\n"
    "  --allowed-lateness S                TumblingWindowAllowedLatenessInSeconds\n"
    "  --filter PATTERN                    FilterCriteria with one pattern (a mapping file can\n"
    "                                      hold up to 10)\n"
    "  --disabled                          create it disabled (Enabled false)\n"
    "  --data-dir DIR                      the host's data directory\n";

constexpr char kMappingsUsage[] =
    "usage: sluice mappings [--function NAME] [--stream NAME] [--json]\n"
    "Lists event source mappings (all, or those of a function or stream).\n";

constexpr char kMappingUsage[] =
    "usage: sluice mapping get UUID\n"
    "       sluice mapping update UUID [attach's options] | --file UPDATE.json\n"
    "       sluice mapping enable|disable|delete UUID\n"
    "Shows, changes, pauses, resumes or deletes an event source mapping. A disabled mapping keeps\n"
    "its position in every shard and resumes from it.\n";

// attach's options and the properties they set.
const std::set<std::string> kValueOptions = {"--stream",
                                             "--batch-size",
                                             "--batching-window",
                                             "--starting-position",
                                             "--starting-position-timestamp",
                                             "--parallelization-factor",
                                             "--maximum-retry-attempts",
                                             "--maximum-record-age",
                                             "--on-failure",
                                             "--tumbling-window",
                                             "--tumbling-window-time-field",
                                             "--allowed-lateness",
                                             "--filter",
                                             "--file"};
const std::set<std::string> kSwitches = {"--bisect-batch-on-function-error",
                                         "--report-batch-item-failures", "--disabled"};

// The JSON properties the options give. Numbers stay numbers when they parse as JSON, so the host
// reports a wrong value with the property's name and range.
json PropertiesFromFlags(const CliFlags& flags) {
  json doc = json::object();
  const auto number = [&](const std::string& option, const std::string& property) {
    if (std::optional<std::string> value = flags.Get(option)) {
      json parsed = json::parse(*value, nullptr, false);
      doc[property] = parsed.is_number() ? parsed : json(*value);
    }
  };
  if (std::optional<std::string> stream = flags.Get("--stream")) {
    doc["EventSourceArn"] = *stream;
  }
  number("--batch-size", "BatchSize");
  number("--batching-window", "MaximumBatchingWindowInSeconds");
  if (std::optional<std::string> position = flags.Get("--starting-position")) {
    doc["StartingPosition"] = *position;
  }
  number("--starting-position-timestamp", "StartingPositionTimestamp");
  number("--parallelization-factor", "ParallelizationFactor");
  number("--maximum-retry-attempts", "MaximumRetryAttempts");
  number("--maximum-record-age", "MaximumRecordAgeInSeconds");
  if (flags.Has("--bisect-batch-on-function-error")) {
    doc["BisectBatchOnFunctionError"] = true;
  }
  if (std::optional<std::string> destination = flags.Get("--on-failure")) {
    doc["DestinationConfig"] = {{"OnFailure", {{"Destination", *destination}}}};
  }
  if (flags.Has("--report-batch-item-failures")) {
    doc["FunctionResponseTypes"] = json::array({"ReportBatchItemFailures"});
  }
  number("--tumbling-window", "TumblingWindowInSeconds");
  if (std::optional<std::string> field = flags.Get("--tumbling-window-time-field")) {
    doc["TumblingWindowTimeField"] = *field;
  }
  number("--allowed-lateness", "TumblingWindowAllowedLatenessInSeconds");
  if (std::optional<std::string> pattern = flags.Get("--filter")) {
    doc["FilterCriteria"] = {{"Filters", json::array({{{"Pattern", *pattern}}})}};
  }
  if (flags.Has("--disabled")) {
    doc["Enabled"] = false;
  }
  return doc;
}

// The mapping definition or update from --file (which excludes the other options).
Result<std::optional<json>> PropertiesFromFile(const CliFlags& flags, const std::string& what) {
  std::optional<std::string> path = flags.Get("--file");
  if (!path) {
    return std::optional<json>();
  }
  for (const std::string& option : kValueOptions) {
    if (option != "--file" && flags.Has(option)) {
      return InvalidArgument("--file and " + option + " cannot be combined");
    }
  }
  Result<std::string> text = ReadCliInput(*path, what);
  if (!text.ok()) {
    return text.status();
  }
  Result<json> doc = ParseJsonDocument(*text, *path);
  SLUICE_RETURN_IF_ERROR(doc.status());
  return std::optional<json>(std::move(*doc));
}

void PrintMapping(const std::string& mapping_json) {
  json doc = json::parse(mapping_json, nullptr, false);
  std::cout << (doc.is_discarded() ? mapping_json : doc.dump(2)) << std::endl;
}

int CallUpdate(const ControlVerb& verb, const CliFlags& flags, const std::string& uuid,
               const json& update) {
  pb::UpdateMappingRequest request;
  request.set_uuid(uuid);
  request.set_update_json(update.dump());
  pb::UpdateMappingResponse response;
  if (int code = CallHost(verb, flags, &pb::Control::Stub::UpdateMapping, request, &response);
      code != 0) {
    return code;
  }
  PrintMapping(response.mapping_json());
  return 0;
}

}  // namespace

int AttachMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"attach", kAttachUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, kValueOptions, kSwitches, 0, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  Result<std::optional<json>> from_file = PropertiesFromFile(*flags, "mapping file");
  if (!from_file.ok()) {
    return verb.Fail(from_file.status());
  }
  json doc;
  if (*from_file) {
    if (!flags->positionals().empty()) {
      return verb.Usage("give the function in the mapping file or on the command line, not both");
    }
    doc = std::move(**from_file);
  } else {
    if (flags->positionals().empty()) {
      return verb.Usage("FUNCTION is required");
    }
    if (!flags->Has("--stream")) {
      return verb.Usage("--stream is required");
    }
    doc = PropertiesFromFlags(*flags);
    doc["FunctionName"] = flags->positionals()[0];
  }
  pb::CreateMappingRequest request;
  request.set_mapping_json(doc.dump());
  pb::CreateMappingResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::CreateMapping, request, &response);
      code != 0) {
    return code;
  }
  PrintMapping(response.mapping_json());
  return 0;
}

int MappingsMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"mappings", kMappingsUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags =
      verb.Parse(args, {"--function", "--stream"}, {"--json"}, 0, 0, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::ListMappingsRequest request;
  request.set_function_name(flags->Get("--function").value_or(""));
  request.set_stream_name(flags->Get("--stream").value_or(""));
  pb::ListMappingsResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::ListMappings, request, &response);
      code != 0) {
    return code;
  }
  if (flags->Has("--json")) {
    json all = json::array();
    for (const std::string& text : response.mappings_json()) {
      all.push_back(json::parse(text, nullptr, false));
    }
    std::cout << json{{"EventSourceMappings", all}}.dump(2) << std::endl;
    return 0;
  }
  std::printf("%-36s  %-24s %-20s %-9s %6s %s\n", "UUID", "FUNCTION", "STREAM", "STATE", "BATCH",
              "STARTING POSITION");
  for (const std::string& text : response.mappings_json()) {
    json m = json::parse(text, nullptr, false);
    if (m.is_discarded()) {
      continue;
    }
    const std::string arn = m.value("EventSourceArn", "");
    const std::string stream = arn.substr(arn.rfind('/') + 1);
    std::printf("%-36s  %-24s %-20s %-9s %6d %s\n", m.value("UUID", "").c_str(),
                m.value("FunctionName", "").c_str(), stream.c_str(), m.value("State", "").c_str(),
                m.value("BatchSize", 0), m.value("StartingPosition", "").c_str());
  }
  return 0;
}

int MappingMain(const std::vector<std::string>& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << kMappingUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string action = args[0];
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  const ControlVerb verb{"mapping " + action, kMappingUsage};
  int exit_code = 0;
  if (action == "get" || action == "enable" || action == "disable" || action == "delete") {
    std::optional<CliFlags> flags = verb.Parse(rest, {}, {}, 1, 1, &exit_code);
    if (!flags) {
      return exit_code;
    }
    const std::string& uuid = flags->positionals()[0];
    if (action == "enable" || action == "disable") {
      return CallUpdate(verb, *flags, uuid, json{{"Enabled", action == "enable"}});
    }
    if (action == "delete") {
      pb::DeleteMappingRequest request;
      request.set_uuid(uuid);
      pb::DeleteMappingResponse response;
      if (int code = CallHost(verb, *flags, &pb::Control::Stub::DeleteMapping, request, &response);
          code != 0) {
        return code;
      }
      std::cout << "deleted mapping " << uuid << std::endl;
      return 0;
    }
    pb::GetMappingRequest request;
    request.set_uuid(uuid);
    pb::GetMappingResponse response;
    if (int code = CallHost(verb, *flags, &pb::Control::Stub::GetMapping, request, &response);
        code != 0) {
      return code;
    }
    PrintMapping(response.mapping_json());
    return 0;
  }
  if (action == "update") {
    std::optional<CliFlags> flags = verb.Parse(rest, kValueOptions, kSwitches, 1, 1, &exit_code);
    if (!flags) {
      return exit_code;
    }
    Result<std::optional<json>> from_file = PropertiesFromFile(*flags, "update file");
    if (!from_file.ok()) {
      return verb.Fail(from_file.status());
    }
    json update;
    if (*from_file) {
      update = std::move(**from_file);
    } else {
      update = PropertiesFromFlags(*flags);
      if (update.empty()) {
        return verb.Usage("nothing to change: give options or --file");
      }
    }
    return CallUpdate(verb, *flags, flags->positionals()[0], update);
  }
  return verb.Usage("unknown action \"" + action + "\" (get, update, enable, disable, delete)");
}

}  // namespace sluice::host
