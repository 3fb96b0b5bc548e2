// The real `sluice gen` verbs: the plan, a small run against a real `sluice serve`, the check's
// verdict on a host that produced nothing, and bad flags.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "tests/support/kinesis_http.h"
#include "tests/support/run_command.h"
#include "tests/support/sluice_server.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::KinesisClient;
using sluice::testing::Lines;
using sluice::testing::RunCommand;
using sluice::testing::SluiceServer;

namespace {

const std::string kReference = SLUICE_SOURCE_DIR "/functions/station_alert/reference.csv";

CommandResult Gen(std::vector<std::string> args) {
  args.insert(args.begin(), {SLUICE_BIN, "gen"});
  return RunCommand(args);
}

// A temporary directory, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/sluice-gen-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string Read(const std::string& path) {
  sluice::Result<std::string> text = sluice::ReadFile(path);
  REQUIRE(text.ok());
  return *text;
}

// The small run of these tests: 2 stations, 20 customers, 1 day.
std::vector<std::string> SmallRun(const std::string& truth) {
  return {"tolls",       "--truth", truth,         "--stations", "2",
          "--customers", "20",      "--reference", kReference};
}

// Plans a small run's truth into `truth` (nothing put).
void PlanSmallRun(const std::string& truth) {
  std::vector<std::string> args = SmallRun(truth);
  args.push_back("--plan-only");
  REQUIRE(Gen(args).exit_code == 0);
}

}  // namespace

TEST_CASE("gen tolls --plan-only writes the truth files and puts nothing") {
  TempDir dir;
  std::vector<std::string> args = SmallRun(dir.path() + "/truth");
  args.push_back("--plan-only");
  args.insert(args.end(), {"--endpoint", "http://127.0.0.1:1"});  // never called
  const CommandResult result = Gen(args);
  REQUIRE(result.exit_code == 0);
  const std::string truth = dir.path() + "/truth/";
  const json summary = json::parse(Read(truth + "summary.json"));
  CHECK(summary["records"].get<int64_t>() > 2000);
  CHECK(summary["raw_lines"] == summary["records"].get<int64_t>() +
                                    summary["test_lane"].get<int64_t>() +
                                    summary["malformed"].get<int64_t>());
  CHECK(summary["lake_records"] == summary["records"]);
  CHECK(summary["test_lane"] == 4);
  CHECK(summary["first_event"].get<std::string>().rfind("2026-11-02T00:", 0) == 0);
  CHECK(summary["last_event"].get<std::string>() > "2026-11-02T23:");
  CHECK(summary["last_event"].get<std::string>() < "2026-11-03T00:10:00Z");
  CHECK_FALSE(std::filesystem::exists(truth + "puts.tsv"));

  for (const std::string& line : Lines(Read(truth + "thresholds.tsv"))) {
    CHECK(line.size() >= 11);
    CHECK(line.rfind("C-00", 0) == 0);
    CHECK(line.substr(6, 1) == "\t");
    CHECK(line.substr(line.size() - 3) == ".00");
  }
  // With only 2 stations, the other 18 of the reference see nothing: every slot with a minimum
  // alerts for them.
  const std::vector<std::string> alerts = Lines(Read(truth + "alerts.jsonl"));
  CHECK(alerts.size() > 18 * 30);
  CHECK(nlohmann::ordered_json::parse(alerts.front()).dump() == alerts.front());
  CHECK(alerts.front().rfind(R"({"station_id":"S-03","slot_start":"2026-11-02T06:00:00Z",)"
                             R"("slot_end":"2026-11-02T06:30:00Z","vehicles":0,"min_vehicles":16})",
                             0) == 0);
  for (const std::string& line : Lines(Read(truth + "notifications.jsonl"))) {
    const json n = json::parse(line);
    CHECK(n["spend"].get<double>() >= n["monthly_limit"].get<double>());
  }
  const std::vector<std::string> spend = Lines(Read(truth + "spend.jsonl"));
  CHECK(spend.size() == 20);
  CHECK(spend.front().rfind(R"({"customer_id":"C-0001","month":"2026-11","cents":)", 0) == 0);

  // Deterministic: the same arguments give the same files.
  const CommandResult again = Gen(args);
  REQUIRE(again.exit_code == 0);
  CHECK(Read(truth + "alerts.jsonl") == Read(dir.path() + "/truth/alerts.jsonl"));
}

TEST_CASE("gen tolls puts every record to a real host, and raw lines to the delivery stream") {
  SluiceServer server;
  TempDir dir;
  const std::string endpoint = server.endpoint();
  REQUIRE(RunCommand(
              {SLUICE_BIN, "streams", "create", "tolls", "--shards", "2", "--endpoint", endpoint})
              .exit_code == 0);
  REQUIRE(RunCommand({SLUICE_BIN, "delivery", "create", "tolls-raw", "--directory",
                      dir.path() + "/lake", "--endpoint", endpoint})
              .exit_code == 0);
  std::vector<std::string> args = SmallRun(dir.path() + "/truth");
  args.insert(args.end(), {"--endpoint", endpoint});
  const CommandResult result = Gen(args);
  INFO(result.err);
  REQUIRE(result.exit_code == 0);
  const json summary = json::parse(Read(dir.path() + "/truth/summary.json"));
  const int64_t records = summary["records"].get<int64_t>();
  CHECK(result.err.find("put " + std::to_string(records) + " records and " +
                        std::to_string(summary["raw_lines"].get<int64_t>()) + " raw lines") !=
        std::string::npos);

  KinesisClient kinesis(server.port());
  size_t read = 0;
  std::string last_event;
  for (const char* shard : {"shardId-000000000000", "shardId-000000000001"}) {
    for (const auto& record : sluice::testing::ReadWholeShard(kinesis, "tolls", shard)) {
      const json data = json::parse(record.data);
      CHECK(record.partition_key == data["station_id"]);
      last_event = std::max(last_event, data["event_time"].get<std::string>());
      ++read;
    }
  }
  CHECK(read == static_cast<size_t>(records));
  CHECK(last_event == summary["last_event"]);
  // A line per PutRecords call, its highest event time ascending.
  const std::vector<std::string> puts = Lines(Read(dir.path() + "/truth/puts.tsv"));
  CHECK(puts.size() == static_cast<size_t>((records + 499) / 500));
}

TEST_CASE("gen tolls refuses to start when the stream is missing") {
  SluiceServer server;
  TempDir dir;
  std::vector<std::string> args = SmallRun(dir.path() + "/truth");
  args.insert(args.end(), {"--endpoint", server.endpoint()});
  const CommandResult result = Gen(args);
  CHECK(result.exit_code == 1);
  CHECK(result.err.find("stream tolls: ResourceNotFoundException") != std::string::npos);
}

TEST_CASE("gen check reports the differences when the host produced nothing") {
  SluiceServer server;
  TempDir dir;
  const std::string truth = dir.path() + "/truth";
  PlanSmallRun(truth);
  // One notification delivered twice (a redelivery) that no customer should have had.
  std::ofstream(dir.path() + "/billing.jsonl")
      << R"({"Type":"Notification","MessageId":"m-1","TopicArn":"t","Subject":"s",)"
      << R"("Message":"{\"customer_id\":\"C-9999\",\"month\":\"2026-11\",\"spend\":50.0,)"
      << R"(\"monthly_limit\":40.0}","Timestamp":"2026-11-02T08:00:00.000Z"})"
      << "\n"
      << R"({"Type":"Notification","MessageId":"m-1","TopicArn":"t","Subject":"s",)"
      << R"("Message":"{\"customer_id\":\"C-9999\",\"month\":\"2026-11\",\"spend\":50.0,)"
      << R"(\"monthly_limit\":40.0}","Timestamp":"2026-11-02T08:00:00.000Z"})"
      << "\n";
  const CommandResult result =
      Gen({"check", "--truth", truth, "--billing-alerts", dir.path() + "/billing.jsonl",
           "--station-alerts", dir.path() + "/stations.jsonl", "--lake", dir.path() + "/lake",
           "--timeout", "1", "--data-dir", server.data_dir()});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 1);
  CHECK(result.out.find("(1 redeliveries ignored)") != std::string::npos);
  CHECK(result.out.find("DIFFERENT: ") != std::string::npos);
  CHECK(result.out.find("  alert S-03 2026-11-02T06:00:00Z: missing (vehicles 0 < 16)") !=
        std::string::npos);
  CHECK(result.out.find("unexpected: {\"customer_id\":\"C-9999\"") != std::string::npos);
  CHECK(result.out.find("spend C-0001#2026-11: missing") != std::string::npos);
  CHECK(result.out.find("MATCH") == std::string::npos);
}

TEST_CASE("gen verbs refuse bad flags with exit 2, naming the flag") {
  TempDir dir;
  CommandResult stations = Gen({"tolls", "--truth", dir.path(), "--stations", "21"});
  CHECK(stations.exit_code == 2);
  CHECK(stations.err.find("--stations: must be an integer from 1 to 20, got '21'") !=
        std::string::npos);
  CommandResult unknown = Gen({"tolls", "--truth", dir.path(), "--shards", "2"});
  CHECK(unknown.exit_code == 2);
  CHECK(unknown.err.find("unknown option --shards") != std::string::npos);
  CommandResult start =
      Gen({"tolls", "--truth", dir.path(), "--start", "2026-13-01", "--reference", kReference});
  CHECK(start.exit_code == 2);
  CHECK(start.err.find("--start: not a date YYYY-MM-DD") != std::string::npos);
  for (const char* date : {"2026-02-30", " 202-11-02", "1969-12-31"}) {
    CommandResult day =
        Gen({"tolls", "--truth", dir.path(), "--start", date, "--reference", kReference});
    CHECK(day.exit_code == 2);
    CHECK(day.err.find("--start: not a date YYYY-MM-DD") != std::string::npos);
  }
  CommandResult no_truth = Gen({"check", "--billing-alerts", "b", "--station-alerts", "s"});
  CHECK(no_truth.exit_code == 2);
  CHECK(no_truth.err.find("--truth is required") != std::string::npos);
  CommandResult table = Gen({"check", "--truth", "t", "--billing-alerts", "b", "--station-alerts",
                             "s", "--postgres", "dbname=x"});
  CHECK(table.exit_code == 2);
  CHECK(table.err.find("--postgres and --table go together") != std::string::npos);
  CommandResult sub = Gen({"toll"});
  CHECK(sub.exit_code == 2);
  CHECK(sub.err.find("unknown subcommand 'toll'") != std::string::npos);
}

TEST_CASE("gen check matches a host whose results equal the truth") {
  SluiceServer server;
  TempDir dir;
  const std::string truth = dir.path() + "/truth";
  PlanSmallRun(truth);
  // What the functions would have produced: each notification and alert once (the first
  // alert twice, as a redelivery), and the spend table.
  const auto envelopes = [&](const std::string& truth_file, const std::string& out_file) {
    std::ofstream out(dir.path() + "/" + out_file);
    size_t id = 0;
    for (const std::string& line : Lines(Read(truth + "/" + truth_file))) {
      json message = json::parse(line);
      message.erase("crossed_at");
      const std::string envelope = json({{"Type", "Notification"},
                                         {"MessageId", out_file + std::to_string(id++)},
                                         {"Message", message.dump()},
                                         {"Timestamp", "2026-11-02T08:00:00.000Z"}})
                                       .dump();
      out << envelope << "\n" << (id == 1 ? envelope + "\n" : "");
    }
  };
  envelopes("notifications.jsonl", "billing.jsonl");
  envelopes("alerts.jsonl", "stations.jsonl");
  for (const std::string& line : Lines(Read(truth + "/spend.jsonl"))) {
    const json row = json::parse(line);
    REQUIRE(
        RunCommand({SLUICE_BIN, "kv", "put", "spend",
                    row["customer_id"].get<std::string>() + "#" + row["month"].get<std::string>(),
                    json({{"cents", row["cents"]}}).dump(), "--data-dir", server.data_dir()})
            .exit_code == 0);
  }
  const CommandResult result =
      Gen({"check", "--truth", truth, "--billing-alerts", dir.path() + "/billing.jsonl",
           "--station-alerts", dir.path() + "/stations.jsonl", "--timeout", "5", "--data-dir",
           server.data_dir()});
  INFO(result.out << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("  alerts         576 of 576 expected, 577 produced") == std::string::npos);
  CHECK(result.out.find("  alerts         576 of 576 expected, 576 produced (1 redeliveries "
                        "ignored)  ok\n") != std::string::npos);
  CHECK(result.out.find("  spend          20 of 20 rows match (20 in the table)  ok\n") !=
        std::string::npos);
  CHECK(result.out.find("\nMATCH\n") != std::string::npos);
}
