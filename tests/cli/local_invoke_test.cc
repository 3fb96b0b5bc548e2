// The real `sluice local-invoke` binary, with AWS's own sample events and with bad input.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "tests/host/host_cli.h"
#include "tests/support/run_command.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sluice::testing::RunCommand;

namespace {

const std::string kFunctions = SLUICE_FUNCTIONS_DIR;

// A temporary function directory holding the misbehave binary, a manifest and an event.
class MisbehaveDir {
 public:
  explicit MisbehaveDir(const std::string& manifest_extra = "") {
    char tmpl[] = "/tmp/sluice-cli-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::copy_file(MISBEHAVE_BIN, dir_ + "/misbehave");
    std::ofstream(dir_ + "/function.json")
        << R"({"FunctionName": "misbehave", "Handler": "misbehave")" << manifest_extra << "}";
  }
  ~MisbehaveDir() { fs::remove_all(dir_); }

  // Writes a Kinesis event whose one record's data is `command`; returns its path.
  std::string Event(const std::string& command) {
    const json event = {{"Records",
                         {{{"kinesis",
                            {{"partitionKey", "p"},
                             {"sequenceNumber", "1"},
                             {"data", sluice::Base64Encode(command)},
                             {"approximateArrivalTimestamp", 1.5}}},
                           {"eventSource", "aws:kinesis"},
                           {"eventID", "shardId-000000000000:1"},
                           {"eventSourceARN", "arn:aws:kinesis:local:000000000000:stream/s"}}}}};
    std::ofstream(dir_ + "/event.json") << event.dump();
    return dir_ + "/event.json";
  }
  std::string manifest() const { return dir_ + "/function.json"; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE("local-invoke runs a stream function on AWS's sample Kinesis event", "[cli]") {
  auto r = RunCommand({SLUICE_BIN, "local-invoke", kFunctions + "/hello_stream/function.json",
                       "--event", kFunctions + "/hello_stream/kinesis-event.json"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");
  CHECK(r.err.find("\tINFO\tpartition key partitionKey-03: Hello, this is a test 123.\n") !=
        std::string::npos);
  CHECK(r.err.find("REPORT RequestId: ") != std::string::npos);
  CHECK(r.err.find("sandbox layers on: seccomp") != std::string::npos);
}

TEST_CASE("local-invoke runs a transform on AWS's sample Firehose event", "[cli]") {
  auto r = RunCommand({SLUICE_BIN, "local-invoke", kFunctions + "/upper_transform/function.json",
                       "--event", kFunctions + "/upper_transform/firehose-event.json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json out = json::parse(r.out);
  CHECK(out == json::parse(R"({"records": [{"recordId":
      "49546986683135544286507457936321625675700192471156785154", "result": "Ok",
      "data": "SEVMTE8gV09STEQK"}]})"));  // "HELLO WORLD\n"
}

TEST_CASE("local-invoke runs json_transform on its sample toll lines", "[cli]") {
  const std::string event = kFunctions + "/json_transform/firehose-event.json";
  auto r = RunCommand(
      {SLUICE_BIN, "local-invoke", kFunctions + "/json_transform/function.json", "--event", event});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const json records = json::parse(r.out)["records"];
  const json sent = json::parse(std::ifstream(event))["records"];
  REQUIRE(records.size() == sent.size());
  for (size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i]["recordId"] == sent[i]["recordId"]);
  }
  std::string data;
  CHECK(records[0]["result"] == "Ok");
  REQUIRE(sluice::Base64Decode(records[0]["data"].get<std::string>(), &data));
  CHECK(data == R"({"transaction_id":"T-00000042","customer_id":"C-0007","tag":"TAG-0007",)"
                R"("station_id":"S-03","lane":2,"amount":2.5,"event_time":"2026-11-02T08:00:05Z"})"
                "\n");
  CHECK(records[1]["result"] == "Ok");
  REQUIRE(sluice::Base64Decode(records[1]["data"].get<std::string>(), &data));
  CHECK(data == R"({"transaction_id":"T-00000043","customer_id":"C-0120","tag":"TAG-0120",)"
                R"("station_id":"S-11","lane":5,"amount":3.1,"event_time":"2026-11-02T08:00:09Z"})"
                "\n");
  CHECK(records[2]["result"] == "Dropped");
  const std::vector<std::string> reasons = {
      "expected 7 comma-separated fields, got 4",
      R"(field 7 (amount): not a decimal number: "2.5x")",
      R"(field 1 (event_time): not a UTC time YYYY-MM-DDTHH:MM:SSZ: "2026-11-31T08:00:20Z")"};
  for (size_t i = 0; i < reasons.size(); ++i) {
    CHECK(records[3 + i]["result"] == "ProcessingFailed");
    CHECK(records[3 + i]["errorMessage"] == reasons[i]);
  }
  CHECK(r.err.find("2 transactions, 1 test-lane, 3 malformed") != std::string::npos);
}

TEST_CASE("a function that calls host services under local-invoke is told there are none",
          "[cli]") {
  const std::string toll =
      R"({"customer_id": "C-1", "amount": 2.5, "event_time": "2026-11-02T08:00:00Z"})";
  auto r = RunCommand(
      {SLUICE_BIN, "local-invoke", kFunctions + "/billing_threshold/function.json", "--event", "-"},
      sluice::testing::KinesisEventJson({toll}));
  INFO(r.out << r.err);
  CHECK(r.exit_code == 1);  // billing_threshold's kv call throws: a function error
  CHECK(r.out.find("this invoke offers no host services") != std::string::npos);
  CHECK(r.out.find("sluice invoke") != std::string::npos);
}

TEST_CASE("local-invoke reads the event from stdin with --event -", "[cli]") {
  std::ifstream in(kFunctions + "/hello_stream/kinesis-event.json");
  const std::string event((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = RunCommand(
      {SLUICE_BIN, "local-invoke", kFunctions + "/hello_stream/function.json", "--event", "-"},
      event);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");
}

TEST_CASE("a function error prints Lambda's error body and exits 1", "[cli]") {
  MisbehaveDir dir;
  auto r = RunCommand({SLUICE_BIN, "local-invoke", dir.manifest(), "--event", dir.Event("error")});
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out) ==
        json({{"errorType", "App.Failure"}, {"errorMessage", "asked to fail"}}));
  CHECK(r.err.find("sluice local-invoke: function error: App.Failure: asked to fail\n") !=
        std::string::npos);
}

TEST_CASE("a timeout is reported as Sandbox.Timedout", "[cli]") {
  MisbehaveDir dir(R"(, "Timeout": 1)");
  auto r =
      RunCommand({SLUICE_BIN, "local-invoke", dir.manifest(), "--event", dir.Event("sleep 10000")});
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out)["errorType"] == "Sandbox.Timedout");
}

TEST_CASE("bad input gets a clear message and exit code 2", "[cli]") {
  MisbehaveDir dir(R"(, "Timeout": 0)");
  auto r = RunCommand({SLUICE_BIN, "local-invoke", dir.manifest(), "--event", dir.Event("echo")});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice local-invoke: " + dir.manifest() +
                     ": Timeout: must be from 1 to 900 seconds, got 0\n");
  CHECK(r.out.empty());

  MisbehaveDir good;
  const std::string bad_event = "/tmp/sluice-cli-bad-event-" + std::to_string(::getpid());
  std::ofstream(bad_event) << R"({"Records": [{"eventSource": "aws:kinesis"}]})";
  r = RunCommand({SLUICE_BIN, "local-invoke", good.manifest(), "--event", bad_event});
  CHECK(r.exit_code == 2);
  CHECK(r.err ==
        "sluice local-invoke: " + bad_event + ": Records[0].kinesis: missing or not an object\n");
  fs::remove(bad_event);

  r = RunCommand({SLUICE_BIN, "local-invoke", good.manifest(), "--event", "/nonexistent.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice local-invoke: /nonexistent.json: no such event file\n");

  r = RunCommand({SLUICE_BIN, "local-invoke", "/nonexistent/function.json", "--event", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice local-invoke: /nonexistent/function.json: cannot read the manifest\n");

  r = RunCommand({SLUICE_BIN, "local-invoke", good.manifest()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("a manifest and --event are required") != std::string::npos);

  r = RunCommand({SLUICE_BIN, "frobnicate"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice: unknown command \"frobnicate\"") == 0);
}

TEST_CASE("a host that is not root still sandboxes, with a user namespace", "[cli][nonroot]") {
  // Everything the unprivileged host needs is copied where uid 65534 can read it.
  MisbehaveDir dir;
  fs::permissions(dir.dir(), fs::perms(0755));
  fs::copy_file(SLUICE_BIN, dir.dir() + "/sluice");
  // Without root there are never cgroups, so SLUICE_REQUIRE_SANDBOX=1 (which demands them) is
  // not passed on; this test itself still fails under it if the namespaces are missing.
  const std::vector<std::string> as_nobody = {"/usr/bin/env",
                                              "-u",
                                              "SLUICE_REQUIRE_SANDBOX",
                                              "/usr/bin/setpriv",
                                              "--reuid=65534",
                                              "--regid=65534",
                                              "--clear-groups",
                                              dir.dir() + "/sluice",
                                              "local-invoke",
                                              dir.manifest(),
                                              "--event"};
  auto run = [&](const std::string& command) {
    std::vector<std::string> argv = as_nobody;
    argv.push_back(dir.Event(command));
    fs::permissions(dir.dir() + "/event.json", fs::perms(0644));
    return RunCommand(argv);
  };
  auto r = run("echo");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  if (r.err.find("off: user-namespace") != std::string::npos) {
    const char* require = std::getenv("SLUICE_REQUIRE_SANDBOX");
    CHECK_FALSE((require != nullptr && std::string(require) == "1"));
    WARN("skipped: this kernel does not let an unprivileged user make a user namespace");
    return;
  }
  CHECK(r.err.find("user-namespace pid-namespace mount-namespace network-namespace "
                   "ipc-namespace uts-namespace") != std::string::npos);
  // The same escape attempts as for a root host, with the same outcomes.
  r = run("read /etc/passwd");
  CHECK(r.err.find("RESULT open=-1 ENOENT") != std::string::npos);
  r = run("write /var/task/evil");
  CHECK(r.err.find("RESULT open=-1 EROFS") != std::string::npos);
  r = run("kill-all");
  CHECK(r.err.find("RESULT kill=-1 EPERM") != std::string::npos);
  r = run("socket-inet");
  CHECK(r.err.find("RESULT socket=-1 EAFNOSUPPORT") != std::string::npos);
  r = run("crash ABRT");
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out)["errorMessage"] == "Runtime exited with error: signal 6 (Aborted)");
}

namespace {

// Pids of the processes whose parent is `parent` and whose command line starts with `prefix`.
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& prefix) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state, ppid;
    std::ifstream cmdline_file(entry.path() / "cmdline");
    std::string cmdline;
    std::getline(cmdline_file, cmdline, '\0');
    if (stat >> pid >> comm >> state >> ppid && ppid == std::to_string(parent) &&
        cmdline.rfind(prefix, 0) == 0) {
      found.push_back(std::stoi(pid));
    }
  }
  return found;
}

bool Gone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string p, comm, state;
  return !(stat >> p >> comm >> state) || state == "Z";
}

}  // namespace

TEST_CASE("when the host dies, its sandboxes die with it", "[cli]") {
  MisbehaveDir dir(R"(, "Timeout": 60)");
  const std::string event = dir.Event("sleep 30000");
  const pid_t host = ::fork();
  REQUIRE(host >= 0);
  if (host == 0) {
    // The killed host cannot remove its work directory: keep it inside the test's.
    ::setenv("TMPDIR", dir.dir().c_str(), 1);
    const int null_fd = ::open("/dev/null", O_WRONLY);
    ::dup2(null_fd, 1);
    ::dup2(null_fd, 2);
    ::execl(SLUICE_BIN, SLUICE_BIN, "local-invoke", dir.manifest().c_str(), "--event",
            event.c_str(), nullptr);
    ::_exit(127);
  }
  // The host's sandbox: its init (a child of the host) and the function (a child of the init).
  std::vector<pid_t> inits, functions;
  for (int i = 0; i < 200 && functions.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    inits = ChildrenNamed(host, "sluice-init");
    if (!inits.empty()) {
      functions = ChildrenNamed(inits[0], "/var/task/misbehave");
    }
  }
  // The killed host cannot remove the sandbox's cgroups; the test does, once it is gone.
  std::vector<std::string> cgroups;
  if (!functions.empty()) {
    std::ifstream lines("/proc/" + std::to_string(functions[0]) + "/cgroup");
    for (std::string line; std::getline(lines, line);) {
      for (const char* controller : {":memory:", ":pids:"}) {
        const size_t at = line.find(controller);
        if (at != std::string::npos && line.find("/sluice/") != std::string::npos) {
          cgroups.push_back(std::string("/sys/fs/cgroup/") +
                            (controller[1] == 'm' ? "memory" : "pids") +
                            line.substr(at + std::strlen(controller)));
        }
      }
    }
  }
  ::kill(host, SIGKILL);
  int status = 0;
  ::waitpid(host, &status, 0);
  REQUIRE(inits.size() == 1);
  REQUIRE(functions.size() == 1);
  bool all_gone = false;
  for (int i = 0; i < 300 && !all_gone; ++i) {
    all_gone = Gone(inits[0]) && Gone(functions[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(all_gone);
  if (!all_gone) {  // end them anyway: a test ends every process it started
    ::kill(functions[0], SIGKILL);
    ::kill(inits[0], SIGKILL);
  }
  for (const std::string& cgroup : cgroups) {
    for (int i = 0; i < 100 && ::rmdir(cgroup.c_str()) != 0 && errno == EBUSY; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}
