// `sluice invoke` with host services: a successful invoke's effects commit exactly once, a
// partial batch failure commits only the records before it, a failed invoke commits nothing, and
// a condition that no longer holds at commit turns the invoke into Sluice.ConditionalCheckFailed.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/host/host_cli.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::FunctionDir;
using sluice::testing::KinesisEventJson;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

constexpr char kProbeManifest[] =
    R"(, "Timeout": 20, "Tables": {"spend": "ReadWrite"}, "Topics": ["alerts"])";

CommandResult InvokeProbe(const SluiceServer& server, const std::vector<std::string>& records) {
  return Sluice(server, {"invoke", "probe", "--event", "-"}, KinesisEventJson(records));
}

std::string Get(const SluiceServer& server, const std::string& key) {
  CommandResult r = Sluice(server, {"kv", "get", "spend", key});
  return r.exit_code == 0 ? r.out : "<none>";
}

}  // namespace

TEST_CASE("invoke commits all effects or those before a failed record or none", "[host]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  auto r = Sluice(server, {"deploy", probe.manifest()});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "alerts"}).exit_code == 0);
  const std::string notes = server.temp_dir() + "/notes.jsonl";
  REQUIRE(Sluice(server, {"subscribe", "alerts", "file://" + notes}).exit_code == 0);

  r = InvokeProbe(server, {R"({"put": ["spend", "c1", {"n": 1}]})",
                           R"({"publish": ["alerts", "subject", "over the limit"]})"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");
  CHECK(json::parse(Get(server, "c1")) == json({{"n", 1}}));
  // The notifier, woken by the commit, delivers the notification.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::string delivered;
  while (delivered.find("over the limit") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(notes);
    delivered.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  CHECK(json::parse(delivered)["Message"] == "over the limit");
  r = Sluice(server, {"status"});
  CHECK(r.out.find("NOTIFICATIONS  pending 0  delivered 1  failed 0") != std::string::npos);

  r = InvokeProbe(server, {R"({"put": ["spend", "c2", 2]})", R"({"fail": "no"})",
                           R"({"put": ["spend", "c3", 3]})"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(r.out) == json::parse(R"({"batchItemFailures":[{"itemIdentifier":"2"}]})"));
  CHECK(Get(server, "c2") == "2\n");
  CHECK(Get(server, "c3") == "<none>");

  r = InvokeProbe(server, {R"([{"put": ["spend", "c4", 4]}, {"crash": true}])"});
  CHECK(r.exit_code == 1);
  CHECK(Get(server, "c4") == "<none>");

  // Without permission the record fails and nothing commits.
  r = InvokeProbe(server, {R"({"put": ["other", "k", 1]})"});
  CHECK(json::parse(r.out) == json::parse(R"({"batchItemFailures":[{"itemIdentifier":"1"}]})"));
}

TEST_CASE("a condition broken before the commit fails the invoke as ConditionalCheckFailed",
          "[host]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);

  CommandResult racing;
  std::thread invoke([&] {
    racing = InvokeProbe(server, {R"([{"put_if_absent": ["spend", "k", 1]}, {"log": "staged"},
                                      {"wait_for": ["spend", "gate"]}])"});
  });
  // Once the invoke staged its conditional put, the item appears underneath it.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Sluice(server, {"logs", "probe"}).out.find("staged") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(Sluice(server, {"kv", "put", "spend", "k", "5"}).exit_code == 0);
  REQUIRE(Sluice(server, {"kv", "put", "spend", "gate", "1"}).exit_code == 0);
  invoke.join();

  INFO(racing.err);
  CHECK(racing.exit_code == 1);
  CHECK(json::parse(racing.out)["errorType"] == "Sluice.ConditionalCheckFailed");
  CHECK(racing.err.find("sluice invoke: function error: Sluice.ConditionalCheckFailed: ") == 0);
  CHECK(Get(server, "k") == "5\n");
}
