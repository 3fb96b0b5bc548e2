// The station_alert sample function on the real host: 30-minute event-time windows over a 2-shard
// stream, its own reference file, alerts to a file subscriber; a slot below its minimum, a
// station without a vehicle in a slot, a slot the whole shard saw nothing of (gap fill), none at
// or above the minimum, none twice across a kill -9. Also the SDK's OwnsPartitionKey against the
// stream's own routing, and a malformed reference file failing the function's init.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "sluice/function.h"
#include "sluice/hash_key.h"
#include "tests/host/host_cli.h"
#include "tests/support/kinesis_http.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::FileLines;
using sluice::testing::KinesisClient;
using sluice::testing::RunCommand;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

// Stations by the shard of a 2-shard stream their partition key goes to (MD5 below 2^127 goes to
// shard 0); the OwnsPartitionKey test checks the stream agrees.
constexpr char kShard0A[] = "S-04";
constexpr char kShard0B[] = "S-05";
constexpr char kShard1C[] = "S-01";
constexpr char kShard1D[] = "S-02";

// 2026-11-02 is a Monday. A slot missing here has no minimum: S-01 at 08:30.
constexpr char kReference[] =
    "station_id,day_of_week,slot_start,min_vehicles\n"
    "S-04,Mon,08:00,3\n"
    "S-04,Mon,08:30,1\n"
    "S-04,Mon,09:00,2\n"
    "S-05,Mon,08:00,2\n"
    "S-05,Mon,08:30,0\n"
    "S-05,Mon,09:00,1\n"
    "S-01,Mon,08:00,2\n"
    "S-01,Mon,09:00,1\n"
    "S-02,Mon,08:00,4\n"
    "S-02,Mon,08:30,3\n"
    "S-02,Mon,09:00,1\n";

// A directory with station_alert, its manifest and `reference`; removed by the destructor.
class StationAlertDir {
 public:
  explicit StationAlertDir(const std::string& reference) {
    char tmpl[] = "/tmp/sluice-station-alert-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string built = SLUICE_FUNCTIONS_DIR "/station_alert/";
    std::filesystem::copy_file(built + "station_alert", dir_ + "/station_alert");
    std::filesystem::copy_file(built + "function.json", dir_ + "/function.json");
    std::ofstream(dir_ + "/reference.csv") << reference;
  }
  ~StationAlertDir() { std::filesystem::remove_all(dir_); }
  StationAlertDir(const StationAlertDir&) = delete;
  StationAlertDir& operator=(const StationAlertDir&) = delete;

  std::string manifest() const { return dir_ + "/function.json"; }

 private:
  std::string dir_;
};

std::string Toll(const std::string& station, const std::string& time) {
  static int next_id = 0;
  char id[16];
  std::snprintf(id, sizeof(id), "T-%08d", ++next_id);
  return json{{"transaction_id", id},
              {"customer_id", "C-0001"},
              {"tag", "TAG-0001"},
              {"station_id", station},
              {"lane", 1},
              {"amount", 2.5},
              {"event_time", time}}
      .dump();
}

// Puts the tolls (station, event time) in order with one PutRecords call, partition key = station.
void PutTolls(const SluiceServer& server,
              const std::vector<std::pair<std::string, std::string>>& tolls) {
  json entries = json::array();
  for (const auto& [station, time] : tolls) {
    entries.push_back(
        {{"PartitionKey", station}, {"Data", sluice::Base64Encode(Toll(station, time))}});
  }
  KinesisClient client(server.port());
  const json reply = client.Ok("PutRecords", {{"StreamName", "tolls"}, {"Records", entries}});
  REQUIRE(reply.value("FailedRecordCount", -1) == 0);
}

CommandResult StreamVerb(const SluiceServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), SLUICE_BIN);
  args.push_back("--endpoint");
  args.push_back(server.endpoint());
  return RunCommand(args);
}

// The alerts delivered to the file subscriber, deduplicated by MessageId (delivery is at least
// once), as their messages.
std::map<std::string, json> AlertsById(const std::string& path) {
  std::map<std::string, json> alerts;
  for (const std::string& line : FileLines(path)) {
    const json envelope = json::parse(line);
    REQUIRE(envelope["Subject"] == "Low traffic");
    alerts[envelope["MessageId"].get<std::string>()] =
        json::parse(envelope["Message"].get<std::string>());
  }
  return alerts;
}

bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

std::string Alert(const std::string& station, const std::string& start, const std::string& end,
                  int vehicles, int min_vehicles) {
  return R"({"station_id":")" + station + R"(","slot_start":"2026-11-02T)" + start +
         R"(:00Z","slot_end":"2026-11-02T)" + end + R"(:00Z","vehicles":)" +
         std::to_string(vehicles) + R"(,"min_vehicles":)" + std::to_string(min_vehicles) + "}";
}

}  // namespace

TEST_CASE("station_alert alerts once per station and slot below the minimum, gap slots included",
          "[host]") {
  SluiceServer server;
  const std::string alerts = server.temp_dir() + "/station-alerts.jsonl";
  StationAlertDir function(kReference);
  CommandResult r = Sluice(server, {"deploy", function.manifest()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "station-alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "station-alerts", "file://" + alerts}).exit_code == 0);
  REQUIRE(StreamVerb(server, {"streams", "create", "tolls", "--shards", "2"}).exit_code == 0);
  r = Sluice(server, {"attach", "station_alert", "--stream", "tolls", "--tumbling-window", "1800",
                      "--tumbling-window-time-field", "event_time", "--allowed-lateness", "60",
                      "--parallelization-factor", "1"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);

  // 08:00 on both shards; shard 1 then moves past 08:30 + lateness, so its 08:00 slot closes:
  // S-02 saw 3 of 4. Shard 0's stays open over the kill -9.
  PutTolls(server, {{kShard1D, "2026-11-02T08:00:01Z"},
                    {kShard0A, "2026-11-02T08:01:00Z"},
                    {kShard0B, "2026-11-02T08:02:00Z"},
                    {kShard1C, "2026-11-02T08:03:00Z"},
                    {kShard0A, "2026-11-02T08:04:00Z"},
                    {kShard1D, "2026-11-02T08:05:00Z"},
                    {kShard1C, "2026-11-02T08:10:00Z"},
                    {kShard0A, "2026-11-02T08:20:00Z"},
                    {kShard1D, "2026-11-02T08:29:59Z"},
                    {kShard1D, "2026-11-02T08:35:00Z"}});
  REQUIRE(WaitUntil([&] { return !AlertsById(alerts).empty(); }));
  server.Kill();
  server.Restart();

  // Shard 0 sees nothing from 08:30 to 09:00: its 08:30 slot never opens (gap fill: S-04 saw 0 of
  // 1; S-05's minimum is 0). S-01 sees nothing at 08:30 either, but has no minimum there.
  // 09:00: S-05 and S-02 see nothing. The tail at 09:45 closes 09:00 on both shards.
  PutTolls(server, {{kShard1D, "2026-11-02T08:40:00Z"},
                    {kShard0A, "2026-11-02T09:00:00Z"},
                    {kShard1C, "2026-11-02T09:10:00Z"},
                    {kShard0A, "2026-11-02T09:29:59Z"},
                    {kShard0A, "2026-11-02T09:45:00Z"},
                    {kShard1C, "2026-11-02T09:45:00Z"}});
  const std::set<json> expected = {
      json::parse(Alert(kShard1D, "08:00", "08:30", 3, 4)),
      json::parse(Alert(kShard0B, "08:00", "08:30", 1, 2)),
      json::parse(Alert(kShard0A, "08:30", "09:00", 0, 1)),
      json::parse(Alert(kShard1D, "08:30", "09:00", 2, 3)),
      json::parse(Alert(kShard0B, "09:00", "09:30", 0, 1)),
      json::parse(Alert(kShard1D, "09:00", "09:30", 0, 1)),
  };
  REQUIRE(WaitUntil([&] { return AlertsById(alerts).size() >= expected.size(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a duplicate would show here
  std::set<json> got;
  for (const auto& [id, message] : AlertsById(alerts)) {
    INFO(message.dump());
    CHECK(got.insert(message).second);  // one MessageId per alert
  }
  CHECK(got == expected);
  // The message text keeps the documented field order.
  CHECK(json::parse(FileLines(alerts).front())["Message"] ==
        Alert(kShard1D, "08:00", "08:30", 3, 4));

  // Each shard has evaluated every slot up to 09:30.
  const int64_t evaluated_before = 1793606400000 + 3 * 1800000;  // 2026-11-02T08:00Z + 1.5 h
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
    r = Sluice(server, {"kv", "get", "alert_progress", shard});
    INFO(shard << ": " << r.out << r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(json::parse(r.out) == json{{"evaluated_before_ms", evaluated_before}});
  }
  r = Sluice(server, {"kv", "get", "alerted", "S-04#2026-11-02T08:30:00Z"});
  CHECK(json::parse(r.out) == json{{"vehicles", 0}, {"min_vehicles", 1}});
}

TEST_CASE("OwnsPartitionKey agrees with the shard the stream routes a partition key to", "[host]") {
  SluiceServer server;
  REQUIRE(StreamVerb(server, {"streams", "create", "tolls", "--shards", "3"}).exit_code == 0);
  KinesisClient client(server.port());
  std::map<std::string, json> ranges;  // shard id -> HashKeyRange
  const json shards = client.Ok("ListShards", {{"StreamName", "tolls"}}).at("Shards");
  for (const json& shard : shards) {
    ranges[shard["ShardId"].get<std::string>()] = shard["HashKeyRange"];
  }
  REQUIRE(ranges.size() == 3);
  for (int i = 1; i <= 40; ++i) {
    const std::string station = (i < 10 ? "S-0" : "S-") + std::to_string(i);
    const json reply = client.Ok(
        "PutRecord", {{"StreamName", "tolls"}, {"PartitionKey", station}, {"Data", "eA=="}});
    const std::string routed_to = reply["ShardId"];
    for (const auto& [shard_id, range] : ranges) {
      sluice::runtime::v1::Invoke invoke;
      sluice::runtime::v1::KinesisBatch* batch = invoke.mutable_kinesis();
      batch->set_shard_id(shard_id);
      batch->set_starting_hash_key(range["StartingHashKey"].get<std::string>());
      batch->set_ending_hash_key(range["EndingHashKey"].get<std::string>());
      INFO(station << " went to " << routed_to << ", asking " << shard_id);
      CHECK(sluice::StreamBatch(invoke).OwnsPartitionKey(station) == (shard_id == routed_to));
    }
  }
  // The stations the alert test relies on.
  const auto owner_of_2 = [](const std::string& key) {
    return sluice::PartitionKeyHash(key) < (sluice::Uint128{1} << 127) ? 0 : 1;
  };
  CHECK(owner_of_2(kShard0A) == 0);
  CHECK(owner_of_2(kShard0B) == 0);
  CHECK(owner_of_2(kShard1C) == 1);
  CHECK(owner_of_2(kShard1D) == 1);
  // An event without a range (read from a file) owns every key.
  CHECK(sluice::StreamBatch(sluice::runtime::v1::Invoke()).OwnsPartitionKey("S-01"));
}

TEST_CASE("station_alert refuses a malformed reference file at init, naming the line", "[host]") {
  SluiceServer server;
  StationAlertDir function(
      "station_id,day_of_week,slot_start,min_vehicles\nS-01,Mon,08:00,3\nS-01,Mon,08:15,3\n");
  REQUIRE(Sluice(server, {"deploy", function.manifest()}).exit_code == 0);
  const CommandResult r = Sluice(server, {"invoke", "station_alert", "--event", "-"},
                                 sluice::testing::KinesisEventJson({"{}"}));
  INFO(r.out << r.err);
  CHECK(r.exit_code != 0);
  CHECK((r.out + r.err)
            .find("reference.csv line 3: slot_start must be HH:MM at a multiple of 30 "
                  "minutes, got \"08:15\"") != std::string::npos);
}

TEST_CASE(
    "a gap of days with more alerts than one invoke may publish evaluates its newest slots and "
    "says so",
    "[host]") {
  // Four stations with a minimum of 1 in every slot of the week; one shard owns them all.
  std::string reference = "station_id,day_of_week,slot_start,min_vehicles\n";
  for (const char* station : {"S-01", "S-02", "S-03", "S-04"}) {
    for (const char* day : {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}) {
      for (int slot = 0; slot < 48; ++slot) {
        char line[64];
        std::snprintf(line, sizeof(line), "%s,%s,%02d:%02d,1\n", station, day, slot / 2,
                      slot % 2 * 30);
        reference += line;
      }
    }
  }
  SluiceServer server;
  const std::string alerts = server.temp_dir() + "/station-alerts.jsonl";
  StationAlertDir function(reference);
  REQUIRE(Sluice(server, {"deploy", function.manifest()}).exit_code == 0);
  REQUIRE(Sluice(server, {"topics", "create", "station-alerts"}).exit_code == 0);
  REQUIRE(Sluice(server, {"subscribe", "station-alerts", "file://" + alerts}).exit_code == 0);
  REQUIRE(StreamVerb(server, {"streams", "create", "tolls", "--shards", "1"}).exit_code == 0);
  REQUIRE(
      Sluice(server, {"attach", "station_alert", "--stream", "tolls", "--tumbling-window", "1800",
                      "--tumbling-window-time-field", "event_time", "--allowed-lateness", "10"})
          .exit_code == 0);
  // Monday 08:00 (S-02..S-04 silent: 3 alerts), then nothing until Thursday 08:00 (3 alerts):
  // the 143 slots between would be 572 alerts; the newest 111 slots (444) fit with the 6.
  PutTolls(server, {{"S-01", "2026-11-02T08:00:00Z"},
                    {"S-01", "2026-11-05T08:00:00Z"},
                    {"S-01", "2026-11-05T08:40:00Z"}});
  REQUIRE(WaitUntil([&] { return AlertsById(alerts).size() >= 450; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // more would show here
  const std::map<std::string, json> got = AlertsById(alerts);
  CHECK(got.size() == 450);
  std::set<std::string> slots;
  for (const auto& [id, message] : got) {
    slots.insert(message["slot_start"].get<std::string>());
  }
  CHECK(*slots.begin() == "2026-11-02T08:00:00Z");
  CHECK(slots.count("2026-11-02T08:30:00Z") == 0);  // left out: the oldest of the gap
  CHECK(slots.count("2026-11-03T00:00:00Z") == 0);
  CHECK(slots.count("2026-11-03T00:30:00Z") == 1);  // the oldest that fit
  CHECK(slots.count("2026-11-05T08:00:00Z") == 1);
  CHECK(slots.size() == 1 + 111 + 1);
  CHECK(WaitUntil([&] {
    return Sluice(server, {"logs", "station_alert", "--lines", "2000"})
               .out.find(
                   "the slots from 2026-11-02T08:30:00Z to 2026-11-03T00:30:00Z are not "
                   "evaluated") != std::string::npos;
  }));
}
