// Delivery streams on the real host: data put by the real aws CLI (`aws firehose
// put-record-batch`) arriving transformed in a directory lake; the CLI verbs,
// DescribeDeliveryStream and status; and a PostgreSQL warehouse loaded while the host is killed -9
// and restarted in the middle of deliveries: every acknowledged record is loaded, none twice.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "tests/host/host_cli.h"
#include "tests/support/kinesis_http.h"
#include "tests/support/postgres_server.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::HttpConnection;
using sluice::testing::HttpReply;
using sluice::testing::PostgresServer;
using sluice::testing::RunCommand;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

namespace fs = std::filesystem;
constexpr auto kWaitLimit = std::chrono::seconds(60);

bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitLimit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// The content of every file under `dir` (temporary files excluded) by its path relative to `dir`.
std::map<std::string, std::string> LakeFiles(const std::string& dir) {
  std::map<std::string, std::string> files;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return files;
  }
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir, error)) {
    if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') {
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      files[fs::relative(entry.path(), dir).string()] = content.str();
    }
  }
  return files;
}

// The files under `dir` whose relative path starts with `prefix` or, with `except`, does not,
// concatenated in path order.
std::string LakeContent(const std::string& dir, const std::string& prefix = "",
                        bool except = false) {
  std::string all;
  for (const auto& [path, content] : LakeFiles(dir)) {
    if (path.starts_with(prefix) != except) {
      all += content;
    }
  }
  return all;
}

// `sluice delivery ARGS...` against the host's HTTP port (the delivery verbs use the Firehose API,
// as the stream verbs use the Kinesis API).
CommandResult Delivery(const SluiceServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), {SLUICE_BIN, "delivery"});
  args.push_back("--endpoint");
  args.push_back(server.endpoint());
  return RunCommand(args);
}

// The real aws CLI v2 against the host, with throwaway credentials.
CommandResult Aws(const SluiceServer& server, std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/env",
                                   "AWS_ACCESS_KEY_ID=x",
                                   "AWS_SECRET_ACCESS_KEY=x",
                                   "AWS_DEFAULT_REGION=us-east-1",
                                   "AWS_PAGER=",
                                   AWS_BIN,
                                   "--endpoint-url",
                                   server.endpoint(),
                                   "--output",
                                   "json"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

// One Firehose JSON 1.1 call over a fresh connection (a restarted host has a new port).
HttpReply Firehose(const SluiceServer& server, const std::string& operation, const json& body) {
  HttpConnection connection(server.port());
  return connection.RoundTrip(
      sluice::testing::HttpRequestBytes({{"X-Amz-Target", "Firehose_20150804." + operation},
                                         {"Content-Type", "application/x-amz-json-1.1"}},
                                        body.dump()));
}

TEST_CASE("aws firehose put-record-batch: records arrive transformed in the directory lake",
          "[host][delivery]") {
  SluiceServer server;
  REQUIRE(
      Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/upper_transform/function.json"}).exit_code ==
      0);
  const std::string lake = server.temp_dir() + "/lake";
  CommandResult created =
      Delivery(server, {"create", "tolls-raw", "--directory", lake, "--transform",
                        "upper_transform", "--buffer-interval", "0"});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);

  // The CLI's JSON form: v2's shorthand (Data=...) would send the text "Data=..." itself.
  const json records = json::array({{{"Data", sluice::Base64Encode("car 1 station 7")}},
                                    {{"Data", sluice::Base64Encode("car 2 station 7")}},
                                    {{"Data", ""}}});
  const CommandResult put = Aws(server, {"firehose", "put-record-batch", "--delivery-stream-name",
                                         "tolls-raw", "--records", records.dump()});
  INFO(put.out << put.err);
  REQUIRE(put.exit_code == 0);
  const json reply = json::parse(put.out);
  CHECK(reply["FailedPutCount"] == 0);
  REQUIRE(reply["RequestResponses"].size() == 3);
  CHECK(reply["RequestResponses"][0]["RecordId"].is_string());

  // upper_transform upper-cases and adds a newline, and drops empty records.
  const std::string expected = "CAR 1 STATION 7\nCAR 2 STATION 7\n";
  WaitUntil([&] { return LakeContent(lake) == expected; });
  REQUIRE(LakeContent(lake) == expected);

  const CommandResult described =
      Aws(server, {"firehose", "describe-delivery-stream", "--delivery-stream-name", "tolls-raw"});
  INFO(described.out << described.err);
  REQUIRE(described.exit_code == 0);
  const json description = json::parse(described.out)["DeliveryStreamDescription"];
  CHECK(description["DeliveryStreamStatus"] == "ACTIVE");
  CHECK(description["DeliveryStreamARN"] ==
        "arn:aws:firehose:us-east-1:000000000000:deliverystream/tolls-raw");
  CHECK(description["Destinations"][0]["ExtendedS3DestinationDescription"]["BucketARN"] ==
        "file://" + lake);

  const CommandResult listed = Aws(server, {"firehose", "list-delivery-streams"});
  REQUIRE(listed.exit_code == 0);
  CHECK(json::parse(listed.out)["DeliveryStreamNames"] == json::array({"tolls-raw"}));

  const CommandResult status = Sluice(server, {"status"});
  INFO(status.out);
  CHECK(status.out.find("tolls-raw") != std::string::npos);

  const CommandResult metrics =
      RunCommand({"/usr/bin/curl", "-sS", server.endpoint() + "/metrics"});
  CHECK(metrics.out.find(
            "sluice_delivery_delivered_records_total{delivery_stream=\"tolls-raw\"} 2") !=
        std::string::npos);
  CHECK(
      metrics.out.find("sluice_delivery_dropped_records_total{delivery_stream=\"tolls-raw\"} 1") !=
      std::string::npos);

  // Bad input: a stream that does not exist, and data that is not base64.
  const HttpReply missing = Firehose(
      server, "PutRecord", {{"DeliveryStreamName", "nope"}, {"Record", {{"Data", "eA=="}}}});
  CHECK(missing.status == 400);
  CHECK(missing.ErrorType() == "ResourceNotFoundException");
  const HttpReply garbage =
      Firehose(server, "PutRecordBatch",
               {{"DeliveryStreamName", "tolls-raw"}, {"Records", json::array({{{"Data", "!!"}}})}});
  CHECK(garbage.status == 400);
  CHECK(garbage.ErrorType() == "InvalidArgumentException");

  REQUIRE(Delivery(server, {"delete", "tolls-raw"}).exit_code == 0);
  CHECK(
      json::parse(Aws(server, {"firehose", "list-delivery-streams"}).out)["DeliveryStreamNames"] ==
      json::array());
}

TEST_CASE("json_transform: the lake holds the good toll lines as JSON, failures say why",
          "[host][delivery]") {
  SluiceServer server;
  REQUIRE(
      Sluice(server, {"deploy", SLUICE_FUNCTIONS_DIR "/json_transform/function.json"}).exit_code ==
      0);
  const std::string lake = server.temp_dir() + "/lake";
  const CommandResult created =
      Delivery(server, {"create", "tolls-raw", "--directory", lake, "--transform", "json_transform",
                        "--buffer-interval", "0"});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);

  const std::vector<std::string> lines = {
      "2026-11-02T08:00:05Z,S-03,2,T-00000042,C-0007,TAG-0007,2.50\n",
      "2026-11-02T08:00:06Z,S-03,T,T-00000043,C-0000,TAG-TEST,0.00\n",
      "2026-11-02T08:00:07Z,S-12,8,T-00000044,C-0300,TAG-0300,3.10\r\n",
      "2026-11-02T08:00:08Z,S-03,2,T-00000045\n",
      "2026-11-02T08:00:09Z,S-03,2,T-00000046,C-0007,TAG-0007,2.5x\n",
      "2026-11-02T08:00:10Z,S-05,1,T-00000047,C-0012,TAG-0012,12\n",
      "2026-02-29T08:00:11Z,S-05,1,T-00000048,C-0012,TAG-0012,1.00\n",
  };
  json records = json::array();
  for (const std::string& line : lines) {
    records.push_back({{"Data", sluice::Base64Encode(line)}});
  }
  const HttpReply put = Firehose(server, "PutRecordBatch",
                                 {{"DeliveryStreamName", "tolls-raw"}, {"Records", records}});
  REQUIRE(put.status == 200);
  CHECK(json::parse(put.body)["FailedPutCount"] == 0);

  const std::string expected =
      R"({"transaction_id":"T-00000042","customer_id":"C-0007","tag":"TAG-0007",)"
      R"("station_id":"S-03","lane":2,"amount":2.5,"event_time":"2026-11-02T08:00:05Z"})"
      "\n"
      R"({"transaction_id":"T-00000044","customer_id":"C-0300","tag":"TAG-0300",)"
      R"("station_id":"S-12","lane":8,"amount":3.1,"event_time":"2026-11-02T08:00:07Z"})"
      "\n"
      R"({"transaction_id":"T-00000047","customer_id":"C-0012","tag":"TAG-0012",)"
      R"("station_id":"S-05","lane":1,"amount":12,"event_time":"2026-11-02T08:00:10Z"})"
      "\n";
  auto failed_lines = [&] {
    std::vector<json> failed;
    std::istringstream in(LakeContent(lake, "processing-failed/"));
    for (std::string line; std::getline(in, line);) {
      failed.push_back(json::parse(line));
    }
    return failed;
  };
  WaitUntil([&] {
    return LakeContent(lake, "processing-failed/", /*except=*/true) == expected &&
           failed_lines().size() == 3;
  });
  CHECK(LakeContent(lake, "processing-failed/", /*except=*/true) == expected);
  const std::vector<json> failed = failed_lines();
  REQUIRE(failed.size() == 3);
  const std::vector<std::pair<std::string, std::string>> reasons = {
      {lines[3], "expected 7 comma-separated fields, got 4"},
      {lines[4], R"(field 7 (amount): not a decimal number: "2.5x")"},
      {lines[6],
       R"(field 1 (event_time): not a UTC time YYYY-MM-DDTHH:MM:SSZ: "2026-02-29T08:00:11Z")"}};
  for (size_t i = 0; i < reasons.size(); ++i) {
    CHECK(failed[i]["errorCode"] == "Lambda.ProcessingFailed");
    CHECK(failed[i]["errorMessage"] == reasons[i].second);
    CHECK(failed[i]["rawData"] == sluice::Base64Encode(reasons[i].first));
    CHECK(failed[i]["lambdaArn"] == "arn:aws:lambda:local:000000000000:function:json_transform");
  }
}

TEST_CASE("kill -9 during deliveries into PostgreSQL: every record loaded, none twice",
          "[host][delivery]") {
  PostgresServer postgres;
  postgres.Query("CREATE TABLE tolls (id bigint, station text, amount numeric)");
  SluiceServer server;
  const std::string staging = server.temp_dir() + "/staging";
  const json request = {{"DeliveryStreamName", "warehouse"},
                        {"PostgreSQLDestinationConfiguration",
                         {{"ConnectionString", postgres.conninfo()},
                          {"CopyCommand",
                           {{"DataTableName", "tolls"},
                            {"DataTableColumns", "id,station,amount"},
                            {"CopyOptions", "JSON 'auto'"}}},
                          {"RetryOptions", {{"DurationInSeconds", 600}}},
                          {"S3Configuration",
                           {{"BucketARN", "file://" + staging},
                            {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 0}}}}}}}};
  const std::string request_file = server.temp_dir() + "/warehouse.json";
  std::ofstream(request_file) << request.dump();
  CommandResult created = Delivery(server, {"create", "--file", request_file});
  INFO(created.out << created.err);
  REQUIRE(created.exit_code == 0);

  // 40 batches of 500 records; the host is killed -9 after batches 10, 20 and 30, while earlier
  // batches are still being loaded, and started again. Every put is acknowledged before the kill
  // (puts and kills come from this thread), so every record must be loaded, and exactly once.
  constexpr int kBatches = 40;
  constexpr int kPerBatch = 500;
  int64_t id = 0;
  for (int batch = 0; batch < kBatches; ++batch) {
    json records = json::array();
    for (int i = 0; i < kPerBatch; ++i, ++id) {
      const json row = {{"id", id}, {"station", "st-" + std::to_string(id % 17)}, {"amount", 2.5}};
      records.push_back({{"Data", sluice::Base64Encode(row.dump() + "\n")}});
    }
    const HttpReply reply = Firehose(server, "PutRecordBatch",
                                     {{"DeliveryStreamName", "warehouse"}, {"Records", records}});
    INFO(reply.Describe());
    REQUIRE(reply.status == 200);
    REQUIRE(reply.Json()["FailedPutCount"] == 0);
    if (batch % 10 == 9 && batch + 1 < kBatches) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * (batch / 10 + 1)));
      server.Kill();
      server.Restart();
    }
  }
  const std::string expected = std::to_string(kBatches * kPerBatch);
  REQUIRE(
      WaitUntil([&] { return postgres.Query("SELECT count(*) FROM tolls")[0][0] == expected; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // a second load would show now
  const auto counts =
      postgres.Query("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM tolls");
  INFO(server.Log());
  CHECK(counts[0][0] == expected);
  CHECK(counts[0][1] == expected);
  CHECK(counts[0][2] == "0");
  CHECK(counts[0][3] == std::to_string(kBatches * kPerBatch - 1));
  // Every load is tracked once, and each is an object in the staging store.
  const auto loads = postgres.Query(
      "SELECT count(*), count(DISTINCT object_key), sum(records) FROM sluice_delivery_loads");
  CHECK(loads[0][0] == loads[0][1]);
  CHECK(loads[0][2] == expected);
}

}  // namespace
