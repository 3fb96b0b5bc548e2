// The real `sluice serve` with the real CLI: deploy, publish, invoke, logs, delete-function, and
// a host killed with SIGKILL and started again.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "sluice/base64.h"
#include "tests/host/host_cli.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::EchoManifestExtra;
using sluice::testing::FirehoseEvent;
using sluice::testing::FunctionDir;
using sluice::testing::KinesisEvent;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

// What env_echo answered (its ECHO variable), from `sluice invoke`'s stdout.
std::string Echoed(const CommandResult& r) {
  const json out = json::parse(r.out, nullptr, false);
  if (out.is_discarded() || !out.contains("records")) {
    return "<unparsable: " + r.out + r.err + ">";
  }
  std::string decoded;
  if (!sluice::Base64Decode(out["records"][0]["data"].get<std::string>(), &decoded)) {
    return "<bad base64>";
  }
  return decoded;
}

CommandResult InvokeEcho(const SluiceServer& server, const std::string& qualifier = "") {
  std::vector<std::string> args = {"invoke", "echo", "--event", FirehoseEvent()};
  if (!qualifier.empty()) {
    args.push_back("--qualifier");
    args.push_back(qualifier);
  }
  return Sluice(server, args);
}

// Reads what `fd` yields until it contains `needle` or the deadline passes.
bool ReadUntil(int fd, const std::string& needle, std::string* seen) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  while (seen->find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      return false;
    }
    seen->append(buf, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

TEST_CASE("deploy then list then invoke and an identical deploy changes nothing", "[host]") {
  SluiceServer server;
  auto r = Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"});
  INFO(r.err << server.Log());
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.rfind("deployed hello_stream $LATEST (code ", 0) == 0);

  r = Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("unchanged: hello_stream $LATEST", 0) == 0);

  r = Sluice(server, {"functions"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("hello_stream") != std::string::npos);
  CHECK(r.out.find("$LATEST") != std::string::npos);
  CHECK(r.out.find("3s") != std::string::npos);
  CHECK(r.out.find("128MB") != std::string::npos);
  CHECK(r.out.find("DESCRIPTION") != std::string::npos);
  CHECK(r.out.find("Logs each record of a stream batch") != std::string::npos);  // the manifest's

  r = Sluice(server, {"invoke", "hello_stream", "--event", KinesisEvent()});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");

  // The event from stdin.
  std::ifstream in(KinesisEvent());
  const std::string event((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  r = Sluice(server, {"invoke", "hello_stream", "--event", "-"}, event);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");

  // Identical code is stored once.
  CHECK(std::distance(fs::directory_iterator(server.data_dir() + "/functions/code"),
                      fs::directory_iterator()) == 1);
}

TEST_CASE("a function error prints the error body on stdout and exits 1", "[host]") {
  SluiceServer server;
  FunctionDir fn("misbehave", MISBEHAVE_BIN);
  REQUIRE(Sluice(server, {"deploy", fn.manifest()}).exit_code == 0);
  std::ofstream(fn.dir() + "/event.json") << sluice::testing::KinesisEventJson({"error"});
  auto r = Sluice(server, {"invoke", "misbehave", "--event", fn.dir() + "/event.json"});
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out) ==
        json({{"errorType", "App.Failure"}, {"errorMessage", "asked to fail"}}));
  CHECK(r.err == "sluice invoke: function error: App.Failure: asked to fail\n");
}

TEST_CASE("publish freezes a version while $LATEST moves on", "[host]") {
  SluiceServer server;
  FunctionDir v1("echo", ENV_ECHO_BIN, EchoManifestExtra("one"));
  FunctionDir v2("echo", ENV_ECHO_BIN, EchoManifestExtra("two"));
  REQUIRE(Sluice(server, {"deploy", v1.manifest()}).exit_code == 0);
  auto r = Sluice(server, {"publish", "echo", "--description", "first"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("published echo version 1 ", 0) == 0);
  r = Sluice(server, {"publish", "echo"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("unchanged: echo version 1 ", 0) == 0);

  REQUIRE(Sluice(server, {"deploy", v2.manifest()}).exit_code == 0);
  CHECK(Echoed(InvokeEcho(server, "1")) == "one");
  CHECK(Echoed(InvokeEcho(server, "$LATEST")) == "two");
  CHECK(Echoed(InvokeEcho(server)) == "two");
  r = Sluice(server, {"publish", "echo"});
  CHECK(r.out.rfind("published echo version 2 ", 0) == 0);
  CHECK(Echoed(InvokeEcho(server, "2")) == "two");

  r = Sluice(server, {"functions"});
  CHECK(r.out.find("$LATEST,1,2") != std::string::npos);

  r = InvokeEcho(server, "3");
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice invoke: function echo has no version 3\n");

  r = Sluice(server, {"delete-function", "echo"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "deleted echo (3 versions)\n");
  r = InvokeEcho(server);
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice invoke: function echo does not exist\n");
  r = Sluice(server, {"functions"});
  CHECK(r.out.find("echo") == std::string::npos);
  // The code nothing references any more is removed once its instances are gone.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!fs::is_empty(server.data_dir() + "/functions/code") &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(fs::is_empty(server.data_dir() + "/functions/code"));
}

TEST_CASE("a redeploy under load fails no invoke and new invokes run the new code", "[host]") {
  SluiceServer server;
  FunctionDir v1("echo", ENV_ECHO_BIN, EchoManifestExtra("one"));
  FunctionDir v2("echo", ENV_ECHO_BIN, EchoManifestExtra("two"));
  REQUIRE(Sluice(server, {"deploy", v1.manifest()}).exit_code == 0);
  REQUIRE(Echoed(InvokeEcho(server)) == "one");

  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, invokes{0};
  std::mutex mu;
  std::string first_failure;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      while (!stop) {
        CommandResult r = InvokeEcho(server);
        const std::string echoed = Echoed(r);
        ++invokes;
        if (r.exit_code != 0 || (echoed != "one" && echoed != "two")) {
          ++failures;
          std::lock_guard<std::mutex> lock(mu);
          first_failure = r.out + r.err;
        }
      }
    });
  }
  // Let some invokes run on the old code first (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (invokes < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto r = Sluice(server, {"deploy", v2.manifest()});
  const int after_deploy = invokes;
  while (invokes < after_deploy + 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(Echoed(InvokeEcho(server)) == "two");
  stop = true;
  for (std::thread& t : threads) {
    t.join();
  }
  INFO(first_failure);
  CHECK(r.exit_code == 0);
  CHECK(failures == 0);
  CHECK(invokes >= after_deploy + 6);
}

TEST_CASE("logs shows lines with request ids and --follow streams new ones", "[host]") {
  SluiceServer server;
  REQUIRE(
      Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"}).exit_code ==
      0);
  REQUIRE(Sluice(server, {"invoke", "hello_stream", "--event", KinesisEvent()}).exit_code == 0);
  auto r = Sluice(server, {"logs", "hello_stream", "--lines", "10"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("partition key partitionKey-03: Hello, this is a test 123.") !=
        std::string::npos);
  // "<time>\t<request id>\t<stream>\t<text>": the request id is a UUID.
  const size_t tab = r.out.find('\t');
  REQUIRE(tab != std::string::npos);
  CHECK(r.out.substr(tab + 1, 36).size() == 36);
  CHECK(r.out[tab + 1 + 36] == '\t');

  // --follow as a child process, ended by pid.
  int out[2];
  REQUIRE(::pipe2(out, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(SLUICE_BIN, SLUICE_BIN, "logs", "hello_stream", "--follow", "--lines", "1",
            "--data-dir", server.data_dir().c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string seen;
  CHECK(ReadUntil(out[0], "processed 1 records", &seen));  // the stored line
  seen.clear();
  REQUIRE(Sluice(server, {"invoke", "hello_stream", "--event", KinesisEvent()}).exit_code == 0);
  CHECK(ReadUntil(out[0], "Hello, this is a test 123.", &seen));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::close(out[0]);
}

TEST_CASE("a host killed with SIGKILL restarts with everything in place", "[host]") {
  SluiceServer server;
  FunctionDir v1("echo", ENV_ECHO_BIN, EchoManifestExtra("one"));
  FunctionDir v2("echo", ENV_ECHO_BIN, EchoManifestExtra("two"));
  REQUIRE(Sluice(server, {"deploy", v1.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"publish", "echo"}).exit_code == 0);
  REQUIRE(Sluice(server, {"deploy", v2.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"kv", "put", "thresholds", "cust-1", R"({"limit": 25})"}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "alerts", "https://example.com/hook"}).exit_code == 0);

  server.Kill();
  auto r = Sluice(server, {"functions"});
  CHECK(r.exit_code == 2);  // no host now
  server.Restart();

  r = Sluice(server, {"functions"});
  CHECK(r.out.find("$LATEST,1") != std::string::npos);
  CHECK(Echoed(InvokeEcho(server, "1")) == "one");
  CHECK(Echoed(InvokeEcho(server)) == "two");
  r = Sluice(server, {"kv", "get", "thresholds", "cust-1"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out) == json({{"limit", 25}}));
  r = Sluice(server, {"topics"});
  CHECK(r.out.find("alerts") != std::string::npos);
  CHECK(r.out.find("https://example.com/hook") != std::string::npos);
}

TEST_CASE("the control socket is private and one host owns a data directory", "[host]") {
  SluiceServer server;
  struct stat st {};
  REQUIRE(::stat(server.control_socket().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  // The state is the host's alone: tables, secrets and logs are not for other users.
  const auto mode = [](const std::string& path) {
    struct stat s {};
    return ::stat(path.c_str(), &s) == 0 ? static_cast<int>(s.st_mode & 0777) : -1;
  };
  CHECK(mode(server.data_dir()) == 0711);  // made by the host
  CHECK(mode(server.data_dir() + "/sluice.db") == 0600);
  CHECK(mode(server.data_dir() + "/sluice.db-wal") == 0600);
  CHECK(mode(server.data_dir() + "/sluice.db-shm") == 0600);
  CHECK(mode(server.data_dir() + "/streams") == 0700);
  CHECK(mode(server.data_dir() + "/logs") == 0700);

  auto r = sluice::testing::RunCommand(
      {SLUICE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", server.data_dir()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("another Sluice host is running with data directory " + server.data_dir()) !=
        std::string::npos);

  // A socket path longer than a Unix socket address allows is refused up front, by both sides.
  const std::string long_dir = server.temp_dir() + "/" + std::string(100, 'd');
  r = sluice::testing::RunCommand(
      {SLUICE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", long_dir});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("a Unix socket path may have 107 at most: use a shorter --data-dir") !=
        std::string::npos);
  r = sluice::testing::RunCommand({SLUICE_BIN, "functions", "--data-dir", long_dir});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("use a shorter --data-dir") != std::string::npos);
  // Short enough for the control socket, too long for the instances' runtime sockets.
  const std::string middle_dir = "/tmp/" + std::string(80, 'm');
  r = sluice::testing::RunCommand(
      {SLUICE_BIN, "serve", "--listen", "127.0.0.1:0", "--data-dir", middle_dir});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("use a --data-dir of at most 73 characters") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(middle_dir));
}

TEST_CASE("an existing data directory keeps its mode, and what is inside is made private",
          "[host]") {
  sluice::testing::SluiceServerOptions shared;
  shared.prepare_data_dir = [](const std::string& dir) {
    std::filesystem::create_directory(dir);
    std::filesystem::permissions(dir, std::filesystem::perms(01777));  // like /tmp
  };
  SluiceServer server(shared);
  const auto mode = [](const std::string& path) {
    struct stat s {};
    return ::stat(path.c_str(), &s) == 0 ? static_cast<int>(s.st_mode & 07777) : -1;
  };
  CHECK(mode(server.data_dir()) == 01777);
  CHECK(mode(server.data_dir() + "/sluice.db") == 0600);
  CHECK(mode(server.data_dir() + "/streams") == 0700);
  CHECK(mode(server.data_dir() + "/logs") == 0700);
}

TEST_CASE("an event larger than gRPC's default 4 MB message limit is invoked", "[host]") {
  SluiceServer server;
  FunctionDir fn("echo", ENV_ECHO_BIN, sluice::testing::EchoManifestExtra("big"));
  REQUIRE(Sluice(server, {"deploy", fn.manifest()}).exit_code == 0);
  const json event = {{"invocationId", "i"},
                      {"deliveryStreamArn", "arn:aws:firehose:local:000000000000:deliverystream/d"},
                      {"region", "local"},
                      {"records",
                       {{{"recordId", "1"},
                         {"approximateArrivalTimestamp", 1495072949453},
                         {"data", sluice::Base64Encode(std::string(4 << 20, 'x'))}}}}};
  auto r = Sluice(server, {"invoke", "echo", "--event", "-"}, event.dump());
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(Echoed(r) == "big");
}
