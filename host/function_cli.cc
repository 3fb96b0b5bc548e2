// deploy, publish, functions, delete-function, invoke, logs.
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "host/control_cli.h"
#include "host/control_client.h"
#include "sluice/aws_json.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
namespace pb = control::v1;

constexpr size_t kHashPrefix = 12;

constexpr char kDeployUsage[] =
    "usage: sluice deploy path/to/function.json [--data-dir DIR]\n"
    "  Validates the manifest, stores the function's code and makes it the function's $LATEST\n"
    "  version on the running host. Invokes already running finish on the old code.\n";
constexpr char kPublishUsage[] =
    "usage: sluice publish NAME [--description D] [--data-dir DIR]\n"
    "  Publishes the function's $LATEST as an immutable numbered version (1, 2, ...). When\n"
    "  $LATEST has not changed since the last published version, that version is returned.\n";
constexpr char kFunctionsUsage[] =
    "usage: sluice functions [--data-dir DIR]\n"
    "  Lists the deployed functions: versions, code hash, last modified, timeout, memory and\n"
    "  description (of $LATEST).\n";
constexpr char kDeleteUsage[] =
    "usage: sluice delete-function NAME [--data-dir DIR]\n"
    "  Deletes every version of the function. Invokes already running finish.\n";
constexpr char kInvokeUsage[] =
    "usage: sluice invoke NAME [--qualifier VERSION] --event event.json [--data-dir DIR]\n"
    "  Invokes a deployed function with an AWS JSON event ('-' reads stdin) and prints its\n"
    "  response. A function error prints Lambda's error body and exits 1. VERSION is $LATEST\n"
    "  (the default) or a published version number.\n";
constexpr char kLogsUsage[] =
    "usage: sluice logs NAME [--lines N] [--follow] [--data-dir DIR]\n"
    "  Prints the function's last N (default 50) stdout and stderr lines, each with its time,\n"
    "  request id and stream; --follow then prints new lines as they come, until interrupted.\n";

std::string ShortHash(const std::string& hash) {
  return hash.substr(0, kHashPrefix);
}

}  // namespace

int DeployMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"deploy", kDeployUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  std::error_code ec;
  const std::string manifest = fs::absolute(flags->positionals()[0], ec).lexically_normal();
  if (ec || !fs::is_regular_file(manifest, ec)) {
    return verb.Fail(InvalidArgument(flags->positionals()[0] + ": no such manifest file"));
  }
  pb::DeployRequest request;
  request.set_manifest_path(manifest);
  pb::DeployResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Deploy, request, &response);
      code != 0) {
    return code;
  }
  std::cout << (response.unchanged() ? "unchanged: " : "deployed ") << response.function_name()
            << " $LATEST (code " << ShortHash(response.code_sha256()) << ")" << std::endl;
  return 0;
}

int PublishMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"publish", kPublishUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {"--description"}, {}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::PublishRequest request;
  request.set_function_name(flags->positionals()[0]);
  request.set_description(flags->Get("--description").value_or(""));
  pb::PublishResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Publish, request, &response);
      code != 0) {
    return code;
  }
  if (response.existing()) {
    std::cout << "unchanged: " << response.function_name() << " version " << response.version()
              << " is $LATEST (code " << ShortHash(response.code_sha256()) << ")" << std::endl;
  } else {
    std::cout << "published " << response.function_name() << " version " << response.version()
              << " (code " << ShortHash(response.code_sha256()) << ")" << std::endl;
  }
  return 0;
}

int FunctionsMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"functions", kFunctionsUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 0, 0, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::ListFunctionsResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::ListFunctions,
                          pb::ListFunctionsRequest(), &response);
      code != 0) {
    return code;
  }
  std::printf("%-24s %-16s %-12s %-24s %-8s %-7s %s\n", "NAME", "VERSIONS", "CODE", "LAST MODIFIED",
              "TIMEOUT", "MEMORY", "DESCRIPTION");
  for (const pb::FunctionSummary& f : response.functions()) {
    std::string versions;
    for (const pb::FunctionVersion& v : f.versions()) {
      versions += (versions.empty() ? "" : ",") + v.version();
    }
    const pb::FunctionVersion& latest = f.versions(0);  // $LATEST comes first
    std::printf("%-24s %-16s %-12s %-24s %-8s %-7s %s\n", f.name().c_str(), versions.c_str(),
                ShortHash(latest.code_sha256()).c_str(),
                aws_json::Iso8601FromMillis(latest.last_modified_unix_ms()).c_str(),
                (std::to_string(latest.timeout_ms() / 1000) + "s").c_str(),
                (std::to_string(latest.memory_mb()) + "MB").c_str(), latest.description().c_str());
  }
  return 0;
}

int DeleteFunctionMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"delete-function", kDeleteUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {}, {}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  pb::DeleteFunctionRequest request;
  request.set_function_name(flags->positionals()[0]);
  pb::DeleteFunctionResponse response;
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::DeleteFunction, request, &response);
      code != 0) {
    return code;
  }
  std::cout << "deleted " << request.function_name() << " (" << response.versions_deleted()
            << (response.versions_deleted() == 1 ? " version)" : " versions)") << std::endl;
  return 0;
}

int InvokeMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"invoke", kInvokeUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags =
      verb.Parse(args, {"--qualifier", "--event"}, {}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  const std::optional<std::string> event_path = flags->Get("--event");
  if (!event_path) {
    return verb.Usage("--event is required");
  }
  Result<std::string> event = ReadCliInput(*event_path, "event file");
  if (!event.ok()) {
    return verb.Fail(event.status());
  }
  pb::InvokeRequest request;
  request.set_function_name(flags->positionals()[0]);
  request.set_qualifier(flags->Get("--qualifier").value_or(""));
  request.set_event_json(*event);
  pb::InvokeResponse response;
  // The host rejects a bad event as INVALID_ARGUMENT: say which event.
  const auto name_event = [&](Status status) {
    return status.code() == Code::kInvalidArgument
               ? status.WithContext(*event_path == "-" ? "the event on stdin" : *event_path)
               : status;
  };
  if (int code = CallHost(verb, *flags, &pb::Control::Stub::Invoke, request, &response, name_event);
      code != 0) {
    return code;
  }
  std::cout << response.response_json() << std::endl;
  if (response.function_error()) {
    std::cerr << "sluice invoke: function error: " << response.error_type() << ": "
              << response.error_message() << std::endl;
    return 1;
  }
  return 0;
}

int LogsMain(const std::vector<std::string>& args) {
  const ControlVerb verb{"logs", kLogsUsage};
  int exit_code = 0;
  std::optional<CliFlags> flags = verb.Parse(args, {"--lines"}, {"--follow"}, 1, 1, &exit_code);
  if (!flags) {
    return exit_code;
  }
  Result<int64_t> lines = flags->Integer("--lines", 50, 1, 100000);
  if (!lines.ok()) {
    return verb.Usage(lines.status().message());
  }
  Result<std::unique_ptr<ControlClient>> client = ControlClient::Connect(*flags);
  if (!client.ok()) {
    return verb.Fail(client.status());
  }
  grpc::ClientContext context;
  pb::LogsRequest request;
  request.set_function_name(flags->positionals()[0]);
  request.set_lines(static_cast<uint32_t>(*lines));
  request.set_follow(flags->Has("--follow"));
  std::unique_ptr<grpc::ClientReader<pb::LogsResponse>> reader =
      (*client)->stub().Logs(&context, request);
  pb::LogsResponse batch;
  while (reader->Read(&batch)) {
    for (const std::string& line : batch.lines()) {
      std::cout << line << '\n';
    }
    std::cout << std::flush;
  }
  Status status = (*client)->Check(reader->Finish());
  return status.ok() ? 0 : verb.Fail(status);
}

}  // namespace sluice::host
