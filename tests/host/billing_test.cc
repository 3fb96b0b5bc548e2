// The billing_threshold sample function on the real host: spend per customer and month in the
// key-value table, one notification when the monthly limit is reached, never two.
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/host/host_cli.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::FileLines;
using sluice::testing::KinesisEventJson;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

std::string Toll(const std::string& customer, double amount, const std::string& time) {
  return json{{"transaction_id", "T-" + customer + time},
              {"customer_id", customer},
              {"station_id", "S-07"},
              {"amount", amount},
              {"event_time", time}}
      .dump();
}

// Deploys billing_threshold with its topic, a file subscriber and C-1's limit of 5.00; returns
// the subscriber's file.
std::string DeployBilling(const SluiceServer& server) {
  const std::string alerts = server.temp_dir() + "/billing-alerts.jsonl";
  REQUIRE(Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/billing_threshold/function.json"})
              .exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "billing-alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "billing-alerts", "file://" + alerts}).exit_code == 0);
  REQUIRE(
      Sluice(server, {"kv", "put", "thresholds", "C-1", R"({"monthly_limit": 5.00})"}).exit_code ==
      0);
  return alerts;
}

}  // namespace

TEST_CASE("billing_threshold notifies once per customer and month when the limit is reached",
          "[host]") {
  SluiceServer server;
  const std::string alerts = DeployBilling(server);

  auto invoke = [&](const std::vector<std::string>& records) {
    const CommandResult r =
        Sluice(server, {"invoke", "billing_threshold", "--event", "-"}, KinesisEventJson(records));
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    return r;
  };
  // The batch's total for C-1 (2.50 + 2.50 + 1.00) reaches 5.00: one notification, with the
  // total; a later batch of the same month must not notify again. C-2 has no limit.
  invoke({Toll("C-1", 2.50, "2026-11-01T08:00:00Z"), Toll("C-2", 9.99, "2026-11-01T08:00:01Z"),
          Toll("C-1", 2.50, "2026-11-02T08:00:00Z"), Toll("C-1", 1.00, "2026-11-03T08:00:00Z")});
  invoke({Toll("C-1", 4.00, "2026-11-04T08:00:00Z")});
  // A new month starts from zero.
  invoke({Toll("C-1", 6.00, "2026-12-01T08:00:00Z")});
  // A malformed record fails alone; the records before it commit.
  const CommandResult partial = invoke({Toll("C-3", 1.25, "2026-11-05T08:00:00Z"), "not json"});
  CHECK(json::parse(partial.out) ==
        json::parse(R"({"batchItemFailures":[{"itemIdentifier":"2"}]})"));

  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-1#2026-11"}).out) ==
        json{{"cents", 1000}});
  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-1#2026-12"}).out) ==
        json{{"cents", 600}});
  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-2#2026-11"}).out) ==
        json{{"cents", 999}});
  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-3#2026-11"}).out) ==
        json{{"cents", 125}});

  // Two notifications (November and December), each delivered once.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (FileLines(alerts).size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const std::vector<std::string> lines = FileLines(alerts);
  REQUIRE(lines.size() == 2);
  const json november = json::parse(json::parse(lines[0])["Message"].get<std::string>());
  CHECK(november ==
        json{{"customer_id", "C-1"}, {"month", "2026-11"}, {"spend", 6.0}, {"monthly_limit", 5.0}});
  const json december = json::parse(json::parse(lines[1])["Message"].get<std::string>());
  CHECK(december["month"] == "2026-12");
  CHECK(december["spend"] == 6.0);
}

TEST_CASE("billing_threshold notifies once when invokes for one customer race", "[host]") {
  SluiceServer server;
  const std::string alerts = DeployBilling(server);
  // Invokes the batch until its record succeeds, as a poller retries a failed batch or record.
  // The only failures expected come from the other invoke committing the spend first: at commit
  // (the invoke fails with Sluice.ConditionalCheckFailed), or already when this one updates it
  // (the record fails, reported in batchItemFailures).
  auto invoke_until_committed = [&](const std::string& toll) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      const CommandResult r =
          Sluice(server, {"invoke", "billing_threshold", "--event", "-"}, KinesisEventJson({toll}));
      if (r.exit_code == 0 && r.out == "{\"batchItemFailures\":[]}\n") {
        return true;
      }
      const bool conflict = r.out.find("Sluice.ConditionalCheckFailed") != std::string::npos ||
                            (r.exit_code == 0 && r.out.find("itemIdentifier") != std::string::npos);
      if (!conflict) {
        return false;
      }
    }
    return false;
  };
  // Two shards, the same customer, three rounds of 3.00 each: the limit is crossed in the first.
  for (int round = 0; round < 3; ++round) {
    bool a = false, b = false;
    std::thread other(
        [&] { b = invoke_until_committed(Toll("C-1", 3.00, "2026-11-01T08:00:00Z")); });
    a = invoke_until_committed(Toll("C-1", 3.00, "2026-11-01T09:00:00Z"));
    other.join();
    REQUIRE(a);
    REQUIRE(b);
  }
  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-1#2026-11"}).out) ==
        json{{"cents", 1800}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (FileLines(alerts).empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a second one would show here
  const std::vector<std::string> lines = FileLines(alerts);
  REQUIRE(lines.size() == 1);
  CHECK(json::parse(json::parse(lines[0])["Message"].get<std::string>())["spend"] == 6.0);
}

TEST_CASE("billing_threshold reports a toll it cannot bill as the batch's item failure", "[host]") {
  SluiceServer server;
  DeployBilling(server);
  const auto bad = [](const std::string& customer, const json& amount, const json& time) {
    return json{{"customer_id", customer}, {"amount", amount}, {"event_time", time}}.dump();
  };
  for (const std::string& record :
       {bad("C-9", 2.675, "2026-11-05T08:00:00Z"),  // not whole cents
        bad("C-9", -1, "2026-11-05T08:00:00Z"), bad("C-9", "2.50", "2026-11-05T08:00:00Z"),
        bad("C-9", 2.5, "garbage"), bad("C-9", 2.5, "2026-13-01T00:00:00Z"),
        bad("C-9#2026-11", 2.5, "2026-11-05T08:00:00Z")}) {
    INFO(record);
    const CommandResult r =
        Sluice(server, {"invoke", "billing_threshold", "--event", "-"},
               KinesisEventJson({Toll("C-8", 1.00, "2026-11-05T08:00:00Z"), record}));
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out) == json::parse(R"({"batchItemFailures":[{"itemIdentifier":"2"}]})"));
  }
  // The good toll before each bad one counted, every time; nothing of the bad ones did.
  CHECK(json::parse(Sluice(server, {"kv", "get", "spend", "C-8#2026-11"}).out) ==
        json{{"cents", 600}});
  CHECK(Sluice(server, {"kv", "scan", "spend"}).out.find("C-9") == std::string::npos);
}
