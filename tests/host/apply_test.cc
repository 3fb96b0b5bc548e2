// The real `sluice serve` with the real `sluice apply`: a whole stack applied, applied again
// without changes, changed one resource at a time; a stream whose shards differ; bad stacks.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/host/host_cli.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::EchoManifestExtra;
using sluice::testing::FirehoseEvent;
using sluice::testing::FunctionDir;
using sluice::testing::Lines;
using sluice::testing::RunCommand;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

// `sluice streams ARGS... --endpoint` (the stream verbs speak the Kinesis API).
CommandResult Streams(const SluiceServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), {SLUICE_BIN, "streams"});
  args.push_back("--endpoint");
  args.push_back(server.endpoint());
  return RunCommand(args);
}

// The lines of apply's output that report a change: not "unchanged ...", not the summary.
std::vector<std::string> Changes(const CommandResult& r) {
  std::vector<std::string> lines = Lines(r.out);
  std::vector<std::string> changes;
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].rfind("unchanged ", 0) != 0) {
      changes.push_back(lines[i]);
    }
  }
  return changes;
}

std::string Summary(const CommandResult& r) {
  const std::vector<std::string> lines = Lines(r.out);
  return lines.empty() ? "" : lines.back();
}

// What a second apply must leave exactly as it was.
std::string Snapshot(const SluiceServer& server) {
  std::string all = Sluice(server, {"functions"}).out + Sluice(server, {"topics"}).out +
                    Streams(server, {"list"}).out;
  for (const char* stream : {"tolls", "events"}) {
    all += Streams(server, {"describe", stream}).out;
  }
  return all;
}

// Two functions, two streams, two topics with subscriptions. stack.json sits in the echo
// function's directory, so its manifest is named relatively and the probe's absolutely.
class Pipeline {
 public:
  Pipeline() {
    stack_ = json::parse(R"({
      "Streams": [{"StreamName": "tolls", "ShardCount": 2},
                  {"StreamName": "events", "RetentionPeriodHours": 48}],
      "Functions": [{"Manifest": "function.json"}, {"Manifest": ")" +
                         probe_.manifest() + R"("}],
      "Topics": [{"TopicName": "billing-alerts",
                  "Subscriptions": [{"Endpoint": "file://)" +
                         alerts() + R"(", "Secret": "s1"},
                                    {"Endpoint": "stdout",
                                     "DeliveryPolicy": {"NumRetries": 3}}]},
                 {"TopicName": "audit", "Subscriptions": [{"Endpoint": "stdout"}]}]
    })");
  }

  json& stack() { return stack_; }
  std::string alerts() const { return echo_.dir() + "/alerts.jsonl"; }
  std::string path() const { return echo_.dir() + "/stack.json"; }
  // Rewrites the echo function's manifest to answer with `echo`.
  void SetEcho(const std::string& echo) const {
    std::ofstream(echo_.manifest())
        << R"({"FunctionName": "echo", "Handler": "env_echo")" << EchoManifestExtra(echo) << "}";
  }

  CommandResult Apply(const SluiceServer& server) const {
    std::ofstream(path()) << stack_.dump(2);
    return Sluice(server, {"apply", path()});
  }

 private:
  FunctionDir echo_{"echo", ENV_ECHO_BIN, EchoManifestExtra("one")};
  FunctionDir probe_{"probe", EFFECTS_PROBE_BIN};
  json stack_;
};

// A temporary directory for stack files that need no functions.
class StackDir {
 public:
  StackDir() {
    char tmpl[] = "/tmp/sluice-stack-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~StackDir() { std::filesystem::remove_all(dir_); }
  StackDir(const StackDir&) = delete;
  StackDir& operator=(const StackDir&) = delete;

  // Writes `name` with `text`; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace

TEST_CASE("apply creates a whole stack, and applying it again changes nothing", "[host]") {
  SluiceServer server;
  Pipeline pipeline;
  auto r = pipeline.Apply(server);
  INFO(r.err << server.Log());
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 10);
  CHECK(lines[0] == "created stream tolls (2 shards)");
  CHECK(lines[1] == "created stream events (1 shard, retention 48 hours)");
  CHECK(lines[2] == "created topic billing-alerts");
  CHECK(lines[3] == "subscribed file://" + pipeline.alerts() + " to billing-alerts");
  CHECK(lines[4] == "subscribed stdout to billing-alerts");
  CHECK(lines[5] == "created topic audit");
  CHECK(lines[6] == "subscribed stdout to audit");
  CHECK(lines[7].rfind("deployed function echo ($LATEST code ", 0) == 0);
  CHECK(lines[8].rfind("deployed function probe ($LATEST code ", 0) == 0);
  CHECK(lines[9] == "9 created, 0 updated, 0 unchanged, 0 removed");

  // Everything is there.
  r = Sluice(server, {"functions"});
  CHECK(r.out.find("echo ") != std::string::npos);
  CHECK(r.out.find("probe ") != std::string::npos);
  r = Sluice(server, {"topics"});
  CHECK(r.out.find("billing-alerts  arn:aws:sns:local:000000000000:billing-alerts  (2 "
                   "subscriptions)") != std::string::npos);
  CHECK(r.out.find("audit  arn:aws:sns:local:000000000000:audit  (1 subscription)") !=
        std::string::npos);
  CHECK(r.out.find("file://" + pipeline.alerts() + "  (signed)  retries 12, 1000-300000 ms") !=
        std::string::npos);
  CHECK(r.out.find("stdout  retries 3, 1000-300000 ms") != std::string::npos);
  r = Streams(server, {"list"});
  CHECK(r.out.find("tolls") != std::string::npos);
  CHECK(r.out.find("events") != std::string::npos);
  r = Streams(server, {"describe", "tolls"});
  CHECK(r.out.find("retention  24 hours") != std::string::npos);
  CHECK(r.out.find("open shards 2 of 2") != std::string::npos);
  r = Streams(server, {"describe", "events"});
  CHECK(r.out.find("retention  48 hours") != std::string::npos);
  CHECK(r.out.find("open shards 1 of 1") != std::string::npos);
  r = Sluice(server, {"invoke", "echo", "--event", FirehoseEvent()});
  CHECK(r.exit_code == 0);

  // Again: every resource unchanged, nothing different.
  const std::string before = Snapshot(server);
  const std::string status_before = Sluice(server, {"status"}).out;
  r = pipeline.Apply(server);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Changes(r).empty());
  CHECK(Lines(r.out).size() == 10);
  CHECK(Summary(r) == "0 created, 0 updated, 9 unchanged, 0 removed");
  CHECK(Snapshot(server) == before);
  CHECK(Sluice(server, {"status"}).out == status_before);
}

TEST_CASE("apply reports exactly the one change each edit of the stack makes", "[host]") {
  SluiceServer server;
  Pipeline pipeline;
  REQUIRE(pipeline.Apply(server).exit_code == 0);
  const std::string file_endpoint = "file://" + pipeline.alerts();

  // A subscription's secret.
  pipeline.stack()["Topics"][0]["Subscriptions"][0]["Secret"] = "s2";
  auto r = pipeline.Apply(server);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(Changes(r) == std::vector<std::string>{"updated subscription " + file_endpoint +
                                               " on billing-alerts (secret)"});
  CHECK(Summary(r) == "0 created, 1 updated, 8 unchanged, 0 removed");

  // A subscription's delivery policy and secret (dropped: unsigned from now on).
  pipeline.stack()["Topics"][0]["Subscriptions"][0].erase("Secret");
  pipeline.stack()["Topics"][0]["Subscriptions"][0]["DeliveryPolicy"] = {{"NumRetries", 5}};
  r = pipeline.Apply(server);
  CHECK(Changes(r) == std::vector<std::string>{"updated subscription " + file_endpoint +
                                               " on billing-alerts (secret, delivery policy)"});
  r = Sluice(server, {"topics"});
  CHECK(r.out.find(file_endpoint + "  retries 5, 1000-300000 ms") != std::string::npos);

  // A subscription the stack no longer lists.
  pipeline.stack()["Topics"][0]["Subscriptions"].erase(1);
  r = pipeline.Apply(server);
  CHECK(Changes(r) == std::vector<std::string>{"unsubscribed stdout from billing-alerts"});
  CHECK(Summary(r) == "0 created, 0 updated, 8 unchanged, 1 removed");
  r = Sluice(server, {"topics"});
  CHECK(r.out.find("billing-alerts  arn:aws:sns:local:000000000000:billing-alerts  (1 "
                   "subscription)") != std::string::npos);
  CHECK(r.out.find("audit  arn:aws:sns:local:000000000000:audit  (1 subscription)") !=
        std::string::npos);

  // A function's Environment.
  pipeline.SetEcho("two");
  r = pipeline.Apply(server);
  REQUIRE(Changes(r).size() == 1);
  CHECK(Changes(r)[0].rfind("deployed function echo ($LATEST code ", 0) == 0);
  CHECK(Summary(r) == "0 created, 1 updated, 7 unchanged, 0 removed");
  r = Sluice(server, {"invoke", "echo", "--event", FirehoseEvent()});
  CHECK(r.out.find(sluice::Base64Encode("two")) != std::string::npos);

  // A stream's retention.
  pipeline.stack()["Streams"][0]["RetentionPeriodHours"] = 72;
  r = pipeline.Apply(server);
  CHECK(Changes(r) == std::vector<std::string>{"updated stream tolls: retention 24 -> 72 hours"});
  CHECK(Streams(server, {"describe", "tolls"}).out.find("retention  72 hours") !=
        std::string::npos);
  // Leaving RetentionPeriodHours out leaves the stream's retention alone: never shortened unasked.
  pipeline.stack()["Streams"][0].erase("RetentionPeriodHours");
  r = pipeline.Apply(server);
  CHECK(Summary(r) == "0 created, 0 updated, 8 unchanged, 0 removed");
  CHECK(Streams(server, {"describe", "tolls"}).out.find("retention  72 hours") !=
        std::string::npos);

  // Resources the stack does not mention are left alone.
  REQUIRE(Sluice(server, {"topics", "create", "other"}).exit_code == 0);
  pipeline.stack()["Topics"].erase(1);
  r = pipeline.Apply(server);
  CHECK(Changes(r).empty());
  CHECK(Summary(r) == "0 created, 0 updated, 6 unchanged, 0 removed");
  r = Sluice(server, {"topics"});
  CHECK(r.out.find("audit  ") != std::string::npos);
  CHECK(r.out.find("other  ") != std::string::npos);
}

TEST_CASE("apply refuses to reshard a stream and stops at the first error", "[host]") {
  SluiceServer server;
  REQUIRE(Streams(server, {"create", "tolls", "--shards", "3"}).exit_code == 0);
  StackDir dir;
  const std::string stack = dir.Write("stack.json", R"({"Streams": [
      {"StreamName": "events"},
      {"StreamName": "tolls", "ShardCount": 2, "RetentionPeriodHours": 48}],
    "Topics": [{"TopicName": "never"}]})");
  auto r = Sluice(server, {"apply", stack});
  CHECK(r.exit_code == 2);
  CHECK(r.out.empty());
  CHECK(r.err == "sluice apply: " + stack +
                     ": Streams[1]: stream tolls has 3 open shards, the stack says ShardCount 2; "
                     "apply never reshards a stream (set ShardCount to 3, or reshard it with the "
                     "Kinesis API) (stopped after applying 1 resource; they stay applied)\n");
  // tolls is untouched; events (before it) stays created; the topic (after it) never came.
  r = Streams(server, {"describe", "tolls"});
  CHECK(r.out.find("open shards 3 of 3") != std::string::npos);
  CHECK(r.out.find("retention  24 hours") != std::string::npos);
  CHECK(Streams(server, {"describe", "events"}).exit_code == 0);
  CHECK(Sluice(server, {"topics"}).out.find("never") == std::string::npos);
}

TEST_CASE("apply refuses bad stacks with the JSON path and changes nothing", "[host]") {
  SluiceServer server;
  StackDir dir;
  FunctionDir bad("bad", MISBEHAVE_BIN, R"(, "Timeout": 0)");
  struct Case {
    std::string stack;
    std::string err;  // after "sluice apply: <stack path>: "
  };
  const std::vector<Case> cases = {
      {"{", "not valid JSON"},
      {R"({"Streams": [{"StreamName": "a", "Shards": 2}]})",
       "Streams[0].Shards: unknown property (known: RetentionPeriodHours, ShardCount, "
       "StreamName)"},
      {R"({"Streams": [{"StreamName": "a", "ShardCount": 0}]})",
       "Streams[0].ShardCount: must be an integer from 1 to 500, got 0"},
      {R"({"Topics": [{"TopicName": "t", "Subscriptions": [{"Endpoint": "ftp://x"}]}]})",
       "Topics[0].Subscriptions[0].Endpoint: "},
      // Manifests are checked before anything is applied: the stream never comes.
      {R"({"Streams": [{"StreamName": "a"}], "Functions": [{"Manifest": "nope/function.json"}]})",
       "Functions[0].Manifest: " + dir.dir() + "/nope/function.json: cannot read the manifest"},
      {R"({"Streams": [{"StreamName": "a"}], "Functions": [{"Manifest": ")" + bad.manifest() +
           R"("}]})",
       "Functions[0].Manifest: " + bad.manifest() +
           ": Timeout: must be from 1 to 900 seconds, got 0"},
  };
  for (const Case& c : cases) {
    const std::string stack = dir.Write("stack.json", c.stack);
    auto r = Sluice(server, {"apply", stack});
    INFO(c.stack << "\n" << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err.rfind("sluice apply: " + stack + ": " + c.err, 0) == 0);
    CHECK(r.out.empty());
  }
  CHECK(Streams(server, {"list"}).out.find("a\n") == std::string::npos);
  CHECK(Sluice(server, {"functions"}).out.find("bad") == std::string::npos);

  // The same function twice.
  FunctionDir twin("twin", MISBEHAVE_BIN);
  const std::string twice =
      dir.Write("twice.json", R"({"Functions": [{"Manifest": ")" + twin.manifest() +
                                  R"("}, {"Manifest": ")" + twin.manifest() + R"("}]})");
  auto r = Sluice(server, {"apply", twice});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice apply: " + twice +
                     ": Functions[1].Manifest: function twin is declared twice (also by "
                     "Functions[0])\n");

  // The command line.
  r = Sluice(server, {"apply", dir.dir() + "/missing.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice apply: " + dir.dir() + "/missing.json: no such stack file\n");
  r = Sluice(server, {"apply"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("sluice apply: missing arguments\n\nusage: sluice apply stack.json", 0) == 0);
  r = Sluice(server, {"apply", twice, "--force"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("sluice apply: unknown option --force", 0) == 0);
  r = Sluice(server, {"apply", "-h"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.rfind("usage: sluice apply stack.json", 0) == 0);
  r = RunCommand({SLUICE_BIN, "help"});
  CHECK(r.out.find("  apply STACK ") != std::string::npos);
}

TEST_CASE("apply with no host running says so and exits 2", "[host]") {
  StackDir dir;
  const std::string stack = dir.Write("stack.json", R"({"Topics": [{"TopicName": "t"}]})");
  auto r = RunCommand({SLUICE_BIN, "apply", stack, "--data-dir", dir.dir()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("sluice apply: no Sluice host is running with data directory " + dir.dir()) ==
        0);
  // A bad stack is reported without a host.
  const std::string bad = dir.Write("bad.json", R"({"Topic": []})");
  r = RunCommand({SLUICE_BIN, "apply", bad, "--data-dir", dir.dir()});
  CHECK(r.exit_code == 2);
  CHECK(r.err.rfind("sluice apply: " + bad + ": Topic: unknown property", 0) == 0);
}

TEST_CASE("two applies of one stack at once both succeed and create each stream once", "[host]") {
  SluiceServer server;
  json streams = json::array();
  for (int i = 0; i < 20; ++i) {
    streams.push_back({{"StreamName", std::string("s") + std::to_string(i)}});
  }
  const std::string path = server.temp_dir() + "/race.json";
  std::ofstream(path) << json{{"Streams", streams}}.dump();
  CommandResult first, second;
  std::thread other([&] { second = Sluice(server, {"apply", path}); });
  first = Sluice(server, {"apply", path});
  other.join();
  INFO(first.out << first.err << second.out << second.err);
  CHECK(first.exit_code == 0);
  CHECK(second.exit_code == 0);
  // Between them, each stream was created exactly once.
  const std::string both = first.out + second.out;
  size_t created = 0;
  for (size_t at = both.find("created stream "); at != std::string::npos;
       at = both.find("created stream ", at + 1)) {
    ++created;
  }
  CHECK(created == 20);
}
