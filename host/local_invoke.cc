#include "host/local_invoke.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "host/cli_flags.h"
#include "host/manifest.h"
#include "invoker/function_pool.h"
#include "sandbox/launcher.h"
#include "sluice/aws_json.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
namespace pb = runtime::v1;

constexpr char kUsage[] =
    "usage: sluice local-invoke path/to/function.json --event event.json\n"
    "  Runs the function once in the sandbox with an AWS JSON event (a Kinesis event, a\n"
    "  tumbling-window Kinesis event, or a Firehose transform event; '-' reads stdin).\n";

int Fail(const std::string& message) {
  std::cerr << "sluice local-invoke: " << message << std::endl;
  return 2;
}

// A private work directory (under $TMPDIR, default /tmp) for the runtime sockets, the staged code
// and scratch space. Mode 0711: the function's unprivileged user may reach paths inside, but not
// list them.
class WorkDir {
 public:
  WorkDir() {
    const char* tmpdir = std::getenv("TMPDIR");
    std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") +
                       "/sluice-local-XXXXXX";
    if (::mkdtemp(tmpl.data()) != nullptr) {
      path_ = tmpl;
      std::error_code ec;
      fs::permissions(path_, fs::perms(0711), ec);
    }
  }
  ~WorkDir() {
    if (!path_.empty()) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

int LocalInvokeMain(const std::vector<std::string>& args) {
  std::string manifest_path, event_path;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--event" && i + 1 < args.size()) {
      event_path = args[++i];
    } else if (args[i] == "-h" || args[i] == "--help") {
      std::cout << kUsage;
      return 0;
    } else if (!args[i].empty() && args[i][0] == '-' && args[i] != "-") {
      return Fail("unknown option " + args[i] + "\n" + kUsage);
    } else if (manifest_path.empty()) {
      manifest_path = args[i];
    } else {
      return Fail("unexpected argument " + args[i] + "\n" + kUsage);
    }
  }
  if (manifest_path.empty() || event_path.empty()) {
    return Fail(std::string("a manifest and --event are required\n") + kUsage);
  }

  Result<FunctionManifest> manifest = LoadManifest(manifest_path);
  if (!manifest.ok()) {
    return Fail(manifest.status().message());
  }
  Result<std::string> event_text = ReadCliInput(event_path, "event file");
  if (!event_text.ok()) {
    return Fail(event_text.status().message());
  }
  pb::Invoke invoke;
  std::string error;
  if (!aws_json::EventFromJson(*event_text, &invoke, &error)) {
    return Fail(event_path + ": " + error);
  }

  WorkDir work;
  if (work.path().empty()) {
    return Fail("cannot create a work directory under /tmp");
  }
  invoker::FunctionConfig config = manifest->config;
  config.code_dir = work.path() + "/code";
  Status staged = StageFunctionFiles(*manifest, config.code_dir);
  if (!staged.ok()) {
    return Fail(staged.message());
  }
  const std::string scratch_root = work.path() + "/scratch";
  fs::create_directories(scratch_root);

  // Create() honours SLUICE_REQUIRE_SANDBOX=1 itself.
  Result<std::unique_ptr<sandbox::SandboxLauncher>> launcher =
      sandbox::SandboxLauncher::Create(sandbox::SandboxOptions{});
  if (!launcher.ok()) {
    return Fail("sandbox: " + launcher.status().message());
  }
  std::cerr << sandbox::LayerSummary((*launcher)->layers()) << std::endl;

  Result<std::unique_ptr<invoker::RuntimeServer>> server = invoker::RuntimeServer::Start(
      work.path() + "/runtime", !(*launcher)->FunctionSeesFixedPaths());
  if (!server.ok()) {
    return Fail(server.status().message());
  }
  std::mutex print_mu;
  invoker::LogCapture logs([&print_mu](const invoker::LogLine& line) {
    std::lock_guard<std::mutex> lock(print_mu);
    std::cerr << line.text << '\n' << std::flush;
  });
  invoker::DeadlineTimer timer;
  invoker::InstanceDeps deps;
  deps.launcher = launcher->get();
  deps.runtime_server = server->get();
  deps.logs = &logs;
  deps.timer = &timer;
  deps.scratch_root = scratch_root;

  int exit_code = 0;
  {
    invoker::FunctionPool pool(config, deps);
    Result<invoker::InvokeResult> result = pool.Invoke(std::move(invoke));
    if (!result.ok()) {
      return Fail(result.status().message());
    }
    const double ms = std::chrono::duration<double, std::milli>(result->duration).count();
    {
      std::lock_guard<std::mutex> lock(print_mu);
      std::fprintf(stderr, "REPORT RequestId: %s\tDuration: %.2f ms\tCold start: %s\n",
                   result->response.request_id().c_str(), ms, result->cold_start ? "yes" : "no");
    }
    std::cout << aws_json::ResponseToJson(result->response) << std::endl;
    if (result->is_function_error()) {
      const pb::FunctionError& e = result->response.error();
      std::cerr << "sluice local-invoke: function error: " << e.error_type() << ": "
                << e.error_message() << std::endl;
      exit_code = 1;
    }
  }
  return exit_code;
}

}  // namespace sluice::host
