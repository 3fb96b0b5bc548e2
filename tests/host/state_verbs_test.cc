// The real `sluice serve` with the real CLI: kv, topics, subscriptions, status, and every verb's
// error paths.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/host/host_cli.h"

using nlohmann::json;
using sluice::testing::FunctionDir;
using sluice::testing::KinesisEvent;
using sluice::testing::RunCommand;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

TEST_CASE("kv put get scan tables and delete", "[host]") {
  SluiceServer server;
  auto r = Sluice(server, {"kv", "put", "thresholds", "cust-1", R"({"limit": 25})"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "put thresholds/cust-1\n");
  REQUIRE(Sluice(server, {"kv", "put", "thresholds", "cust-2", "7"}).exit_code == 0);
  REQUIRE(Sluice(server, {"kv", "put", "thresholds", "other", "-1.5"}).exit_code == 0);

  r = Sluice(server, {"kv", "get", "thresholds", "cust-1"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out) == json({{"limit", 25}}));

  r = Sluice(server, {"kv", "scan", "thresholds", "--prefix", "cust-"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "cust-1\t{\"limit\":25}\ncust-2\t7\n");
  r = Sluice(server, {"kv", "scan", "thresholds", "--limit", "1"});
  CHECK(r.out == "cust-1\t{\"limit\":25}\n");
  CHECK(r.err == "(more items: continue with --start 'cust-1')\n");
  r = Sluice(server, {"kv", "scan", "thresholds", "--limit", "1", "--start", "cust-1"});
  CHECK(r.out == "cust-2\t7\n");
  r = Sluice(server, {"kv", "scan", "thresholds", "--start", "cust-2"});
  CHECK(r.out == "other\t-1.5\n");
  CHECK(r.err.empty());

  r = Sluice(server, {"kv", "tables"});
  CHECK(r.out == "thresholds\t3 items\n");

  r = Sluice(server, {"kv", "delete", "thresholds", "cust-1"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == "deleted thresholds/cust-1\n");
  r = Sluice(server, {"kv", "get", "thresholds", "cust-1"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice kv get: no item with key \"cust-1\" in table thresholds\n");

  // Bad input.
  r = Sluice(server, {"kv", "put", "thresholds", "k", "{not json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice kv put: ") == 0);
  CHECK(r.err.find("JSON") != std::string::npos);
  r = Sluice(server, {"kv", "put", "bad table!", "k", "1"});
  CHECK(r.exit_code == 2);
  r = Sluice(server, {"kv", "scan", "thresholds", "--limit", "0"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--limit: must be an integer from 1 to 1000, got '0'") != std::string::npos);
  r = Sluice(server, {"kv", "frob"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice kv: unknown subcommand 'frob'") == 0);
  r = Sluice(server, {"kv", "get", "thresholds"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice kv get: missing arguments") == 0);
}

TEST_CASE("topics create list delete with subscribe and unsubscribe", "[host]") {
  SluiceServer server;
  auto r = Sluice(server, {"topics", "create", "alerts"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "created topic alerts (arn:aws:sns:local:000000000000:alerts)\n");

  r = Sluice(server, {"subscribe", "alerts", "https://example.com/hook", "--secret", "s3",
                      "--num-retries", "3", "--min-delay-ms", "100", "--max-delay-ms", "1000"});
  CHECK(r.exit_code == 0);
  const std::string marker = "(subscription ";
  REQUIRE(r.out.find(marker) != std::string::npos);
  const std::string id = r.out.substr(r.out.find(marker) + marker.size(), 36);
  REQUIRE(Sluice(server, {"subscribe", "alerts", "stdout"}).exit_code == 0);

  r = Sluice(server, {"topics"});
  CHECK(r.out.find("alerts  arn:aws:sns:local:000000000000:alerts  (2 subscriptions)") == 0);
  CHECK(r.out.find(id + "  https://example.com/hook  (signed)  retries 3, 100-1000 ms") !=
        std::string::npos);

  r = Sluice(server, {"unsubscribe", id});
  CHECK(r.exit_code == 0);
  r = Sluice(server, {"unsubscribe", "alerts", "stdout"});
  CHECK(r.exit_code == 0);
  r = Sluice(server, {"topics", "list"});
  CHECK(r.out.find("(0 subscriptions)") != std::string::npos);

  r = Sluice(server, {"unsubscribe", id});
  CHECK(r.exit_code == 2);
  r = Sluice(server, {"subscribe", "nope", "stdout"});
  CHECK(r.exit_code == 2);
  r = Sluice(server, {"subscribe", "alerts", "ftp://x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice subscribe: ") == 0);
  r = Sluice(server, {"subscribe", "alerts", "stdout", "--num-retries", "x"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--num-retries") != std::string::npos);

  r = Sluice(server, {"topics", "delete", "alerts"});
  CHECK(r.exit_code == 0);
  r = Sluice(server, {"topics", "delete", "alerts"});
  CHECK(r.exit_code == 2);
  r = Sluice(server, {"topics", "create", "bad name"});
  CHECK(r.exit_code == 2);
  r = Sluice(server, {"topics"});
  CHECK(r.out.empty());
}

TEST_CASE("status shows functions with instances and topics and notifications and streams",
          "[host]") {
  SluiceServer server;
  REQUIRE(
      Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"}).exit_code ==
      0);
  REQUIRE(Sluice(server, {"invoke", "hello_stream", "--event", KinesisEvent()}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "alerts"}).exit_code == 0);
  auto r = Sluice(server, {"status"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  // name, version, code, instances 1, invocations 1, errors 0
  const size_t at = r.out.find("hello_stream");
  REQUIRE(at != std::string::npos);
  std::istringstream row(r.out.substr(at));
  std::string name, version, code;
  int instances = -1, invocations = -1, errors = -1;
  row >> name >> version >> code >> instances >> invocations >> errors;
  CHECK(version == "$LATEST");
  CHECK(instances == 1);
  CHECK(invocations == 1);
  CHECK(errors == 0);
  CHECK(r.out.find("alerts") != std::string::npos);
  CHECK(r.out.find("NOTIFICATIONS  pending 0  delivered 0  failed 0") != std::string::npos);
  CHECK(r.out.find("STREAMS") != std::string::npos);

  // Prometheus metrics next to the Kinesis API.
  r = RunCommand({"/usr/bin/curl", "-sS", "-i", server.endpoint() + "/metrics"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(r.out.find("sluice_notifications_pending 0") != std::string::npos);
}

TEST_CASE("every verb's bad input exits non-zero with a clear message", "[host]") {
  SluiceServer server;
  struct Case {
    std::vector<std::string> args;
    std::string err_prefix;
  };
  FunctionDir bad("bad", MISBEHAVE_BIN, R"(, "Timeout": 0)");
  const std::vector<Case> cases = {
      {{"deploy"}, "sluice deploy: missing arguments"},
      {{"deploy", "/no/such/function.json"}, "sluice deploy: /no/such/function.json: no such"},
      {{"deploy", bad.manifest()},
       "sluice deploy: " + bad.manifest() + ": Timeout: must be from 1 to 900 seconds, got 0"},
      {{"deploy", "a.json", "--frob"}, "sluice deploy: unknown option --frob"},
      {{"publish"}, "sluice publish: missing arguments"},
      {{"publish", "nope"}, "sluice publish: function nope does not exist"},
      {{"delete-function", "nope"}, "sluice delete-function: function nope does not exist"},
      {{"invoke", "hello"}, "sluice invoke: --event is required"},
      {{"invoke", "nope", "--event", KinesisEvent()},
       "sluice invoke: function nope does not exist"},
      {{"invoke", "nope", "--event", "/no/event.json"},
       "sluice invoke: /no/event.json: no such event file"},
      {{"logs", "nope"}, "sluice logs: function nope does not exist"},
      {{"logs", "x", "--lines", "-1"}, "sluice logs: --lines: must be an integer"},
      {{"functions", "extra"}, "sluice functions: unexpected argument 'extra'"},
      {{"status", "--verbose"}, "sluice status: unknown option --verbose"},
      {{"unsubscribe"}, "sluice unsubscribe: missing arguments"},
      {{"topics", "frob"}, "sluice topics: unknown subcommand 'frob'"},
  };
  for (const Case& c : cases) {
    auto r = Sluice(server, c.args);
    INFO(c.args[0] << " " << (c.args.size() > 1 ? c.args[1] : "") << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind(c.err_prefix, 0) == 0);
  }
  // A bad event is refused with the file's name.
  REQUIRE(
      Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"}).exit_code ==
      0);
  auto r = Sluice(server, {"invoke", "hello_stream", "--event", "-"}, "{not json");
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("sluice invoke: the event on stdin: ", 0) == 0);
  // Help.
  r = Sluice(server, {"invoke", "-h"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("usage: sluice invoke NAME", 0) == 0);
}

TEST_CASE("with no host running every control verb says so and exits 2", "[host]") {
  char tmpl[] = "/tmp/sluice-nohost-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"functions"},
           {"status"},
           {"kv", "tables"},
           {"topics"},
           {"invoke", "f", "--event", KinesisEvent()},
           {"deploy", SLUICE_FUNCTIONS_DIR "/hello_stream/function.json"}}) {
    std::vector<std::string> argv = {SLUICE_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--data-dir");
    argv.push_back(dir);
    auto r = RunCommand(argv);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("no Sluice host is running with data directory " + dir +
                     " (no control socket at " + dir +
                     "/control.sock); start one with `sluice serve`") != std::string::npos);
  }
  std::filesystem::remove_all(dir);
}
