// `sluice invoke` with host services: a successful invoke's effects commit exactly once, a
// partial batch failure commits only the records before it, a failed invoke commits nothing, and
// a condition that no longer holds at commit turns the invoke into Sluice.ConditionalCheckFailed.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "host/notification_signature.h"
#include "tests/host/host_cli.h"
#include "tests/support/http_receiver.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::FunctionDir;
using sluice::testing::HttpReceiver;
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

// Waits until `sluice logs probe` shows `needle`.
bool WaitForLog(const SluiceServer& server, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Sluice(server, {"logs", "probe"}).out.find(needle) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Waits until `sluice status` shows `needle`.
bool WaitForStatus(const SluiceServer& server, const std::string& needle) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Sluice(server, {"status"}).out.find(needle) != std::string::npos) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
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

TEST_CASE("an invoke reads its own staged writes, and each success commits exactly once",
          "[host]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);
  const std::vector<std::string> records = {R"({"put": ["spend", "k", {"v": 1}]})",
                                            R"({"expect": ["spend", "k", {"v": 1}]})",
                                            R"({"add": ["spend", "n", "c", 5]})"};
  CommandResult r = InvokeProbe(server, records);
  INFO(r.out << r.err);
  CHECK(r.out == "{\"batchItemFailures\":[]}\n");
  CHECK(json::parse(Get(server, "n")) == json({{"c", 5}}));
  // Before the invoke the item was not there: the expect saw the staged put.
  r = InvokeProbe(server, {R"({"add": ["spend", "n", "c", 5]})"});
  CHECK(r.exit_code == 0);
  CHECK(json::parse(Get(server, "n")) == json({{"c", 10}}));

  // The calls and the invokes are counted.
  r = sluice::testing::RunCommand({"/usr/bin/curl", "-sS", server.endpoint() + "/metrics"});
  CHECK(r.out.find(R"(sluice_host_service_calls_total{method="KvPut",code="OK"} 1)") !=
        std::string::npos);
  CHECK(r.out.find(R"(sluice_host_service_calls_total{method="KvUpdate",code="OK"} 2)") !=
        std::string::npos);
  CHECK(r.out.find(R"(sluice_invocations_total{function="probe",version="$LATEST"} 2)") !=
        std::string::npos);
  CHECK(r.out.find(
            R"(sluice_invocation_duration_seconds_count{function="probe",version="$LATEST"} 2)") !=
        std::string::npos);
  CHECK(r.out.find(R"(sluice_instances{function="probe",version="$LATEST"} 1)") !=
        std::string::npos);
}

TEST_CASE("a timed-out invoke commits nothing", "[host]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN,
                    R"(, "Timeout": 1, "Tables": {"spend": "ReadWrite"})");
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);
  const CommandResult r =
      InvokeProbe(server, {R"([{"put": ["spend", "t", 1]}, {"sleep_ms": 3000}])"});
  CHECK(r.exit_code == 1);
  CHECK(json::parse(r.out)["errorType"] == "Sandbox.Timedout");
  CHECK(Get(server, "t") == "<none>");
}

TEST_CASE("tables and topics the manifest does not grant are refused, naming the grant", "[host]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN,
                    R"(, "Tables": {"spend": "ReadWrite", "ro": "Read"}, "Topics": ["alerts"])");
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"kv", "put", "ro", "k", "1"}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "other"}).exit_code == 0);
  for (const std::string record : {R"({"put": ["ro", "k", 2]})", R"({"get": ["secret", "k"]})",
                                   R"({"publish": ["other", "s", "m"]})"}) {
    const CommandResult r = InvokeProbe(server, {record});
    INFO(record << " -> " << r.out << r.err);
    CHECK(json::parse(r.out) == json::parse(R"({"batchItemFailures":[{"itemIdentifier":"1"}]})"));
  }
  CHECK(Sluice(server, {"kv", "get", "ro", "k"}).out == "1\n");
  // Reading a table granted "Read" is allowed.
  CHECK(InvokeProbe(server, {R"({"expect": ["ro", "k", 1]})"}).out ==
        "{\"batchItemFailures\":[]}\n");
  const std::string logs = Sluice(server, {"logs", "probe"}).out;
  CHECK(logs.find("may not write table \"ro\"") != std::string::npos);
  CHECK(logs.find("may not use table \"secret\"") != std::string::npos);
  CHECK(logs.find("may not publish to topic \"other\"") != std::string::npos);
}

TEST_CASE(
    "a committed publish reaches an HTTP subscriber signed, in SNS's shape, and a failed one "
    "never leaves",
    "[host]") {
  SluiceServer server;
  HttpReceiver receiver;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "alerts", receiver.url("/hook"), "--secret", "s3cret"})
              .exit_code == 0);
  const CommandResult failed =
      InvokeProbe(server, {R"([{"publish": ["alerts", "Dropped", "never"]}, {"fail": "no"}])"});
  REQUIRE(json::parse(failed.out) ==
          json::parse(R"({"batchItemFailures":[{"itemIdentifier":"1"}]})"));
  REQUIRE(InvokeProbe(server, {R"({"publish": ["alerts", "Threshold", "hello"]})"}).exit_code == 0);
  REQUIRE(WaitForStatus(server, "NOTIFICATIONS  pending 0  delivered 1  failed 0"));
  const auto requests = receiver.Requests();
  REQUIRE(requests.size() == 1);
  const auto& request = requests[0];
  CHECK(request.method == "POST");
  CHECK(request.path == "/hook");
  CHECK(sluice::host::VerifyNotificationSignature("s3cret", request.body,
                                                  request.Header("X-Sluice-Signature")));
  CHECK_FALSE(sluice::host::VerifyNotificationSignature("wrong", request.body,
                                                        request.Header("X-Sluice-Signature")));
  const json body = json::parse(request.body);
  CHECK(body["Type"] == "Notification");
  CHECK(body["TopicArn"] == "arn:aws:sns:local:000000000000:alerts");
  CHECK(body["Subject"] == "Threshold");
  CHECK(body["Message"] == "hello");
  CHECK(request.Header("x-amz-sns-message-id") == body["MessageId"].get<std::string>());
  // The MessageId the function was given is the one delivered.
  CHECK(WaitForLog(server, "published " + body["MessageId"].get<std::string>()));
}

TEST_CASE("notifications pending when the host is killed -9 are delivered after the restart",
          "[host]") {
  SluiceServer server;
  HttpReceiver receiver;
  receiver.SetDefault({503});
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  REQUIRE(Sluice(server, {"deploy", probe.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "alerts", receiver.url("/hook"), "--min-delay-ms", "100",
                          "--max-delay-ms", "200", "--num-retries", "100"})
              .exit_code == 0);
  REQUIRE(InvokeProbe(server, {R"({"publish": ["alerts", "S", "survives"]})"}).exit_code == 0);
  REQUIRE(receiver.WaitForRequests(2, std::chrono::seconds(20)));  // it is retrying
  server.Kill();
  receiver.SetDefault({200});
  server.Restart();
  REQUIRE(WaitForStatus(server, "NOTIFICATIONS  pending 0  delivered 1  failed 0"));
  const auto requests = receiver.Requests();
  REQUIRE(requests.size() >= 3);
  const json first = json::parse(requests.front().body);
  for (const auto& request : requests) {
    CHECK(request.body == requests.front().body);  // the same bytes, MessageId included
  }
  CHECK(first["Message"] == "survives");
}
