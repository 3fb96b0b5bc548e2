// `sluice gen check` in process (host/tolls_check.h): what a host's files look like while it is
// still writing them, and records that match the truth's counts but not its contents.
#include "host/tolls_check.h"

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "delivery/error_records.h"
#include "host/tolls_model.h"
#include "host/tolls_truth.h"

namespace {

using nlohmann::json;
using sluice::host::CheckOptions;
using sluice::host::EventTime;
using sluice::host::TollsOptions;
using sluice::host::TollsPlan;
using sluice::host::TollsTruth;

constexpr int64_t kNov2 = 1793577600000;  // 2026-11-02T00:00:00Z

// A truth directory of a small run (2 stations, 20 customers) with one expected notification,
// and the subscribers' files holding exactly the truth; removed by the destructor.
class CheckFixture {
 public:
  CheckFixture() {
    char tmpl[] = "/tmp/sluice-check-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    options_.stations = 2;
    options_.customers = 20;
    options_.start_ms = kNov2;
    plan_ = sluice::host::GenerateTolls(options_);
    sluice::Result<sluice::host::StationReference> reference =
        sluice::host::ParseReference(sluice::host::ReferenceCsv());
    REQUIRE(reference.ok());
    truth_ = sluice::host::ComputeTruth(plan_.records, plan_.limits_cents, *reference,
                                        options_.start_ms, plan_.days_end_ms);
    const int64_t spent = truth_.spend_cents.at({"C-0001", "2026-11"});
    truth_.notifications = {{"C-0001", "2026-11", spent, spent, kNov2 + 3'600'000}};
    REQUIRE(sluice::host::WriteTruthFiles(dir_ + "/truth", options_, plan_, truth_).ok());
    std::ofstream(billing()) << Envelope("b-1", Notification(spent)) << "\n";
    std::ofstream stations(dir_ + "/stations.jsonl");
    size_t id = 0;
    for (const sluice::host::ExpectedAlert& alert : truth_.alerts) {
      const json message = {{"station_id", alert.station_id},
                            {"slot_start", EventTime(alert.slot_start_ms)},
                            {"slot_end", EventTime(sluice::host::SlotEnd(alert.slot_start_ms))},
                            {"vehicles", alert.vehicles},
                            {"min_vehicles", alert.min_vehicles}};
      stations << Envelope("s-" + std::to_string(++id), message) << "\n";
    }
  }
  ~CheckFixture() { std::filesystem::remove_all(dir_); }
  CheckFixture(const CheckFixture&) = delete;
  CheckFixture& operator=(const CheckFixture&) = delete;

  CheckOptions Options() const {
    CheckOptions options;
    options.truth_dir = dir_ + "/truth";
    options.billing_alerts = billing();
    options.station_alerts = dir_ + "/stations.jsonl";
    options.timeout_ms = 0;
    options.read_spend = [this] { return truth_.spend_cents; };
    return options;
  }

  // A billing-alerts envelope, one line without its "\n".
  static std::string Envelope(const std::string& id, const json& message) {
    return json({{"Type", "Notification"},
                 {"MessageId", id},
                 {"TopicArn", "arn:aws:sns:us-east-1:000000000000:billing-alerts"},
                 {"Subject", "Monthly spend limit reached"},
                 {"Message", message.dump()},
                 {"Timestamp", "2026-11-02T01:00:11.000Z"}})
        .dump();
  }
  static json Notification(int64_t cents) {
    return {{"customer_id", "C-0001"},
            {"month", "2026-11"},
            {"spend", static_cast<double>(cents) / 100},
            {"monthly_limit", static_cast<double>(cents) / 100}};
  }

  // The lake as json_transform and the delivery stream would leave it, with `failed` as the
  // processing-failed records' raw data.
  std::string Lake(const std::vector<std::string>& failed) const {
    const std::string lake = dir_ + "/lake";
    std::filesystem::create_directories(lake + "/tolls/2026/11/02/00");
    std::filesystem::create_directories(lake + "/errors/processing-failed/2026/11/02/00");
    std::ofstream records(lake + "/tolls/2026/11/02/00/tolls-raw-1");
    for (const sluice::host::Passage& record : plan_.records) {
      records << sluice::host::StreamRecordJson(record) << "\n";
    }
    std::ofstream errors(lake + "/errors/processing-failed/2026/11/02/00/tolls-raw-1");
    for (const std::string& raw : failed) {
      sluice::delivery::FailedRecord record;
      record.attempts_made = 1;
      record.error_code = "Lambda.ProcessingFailed";
      record.raw_data = raw;
      record.lambda_arn = "json_transform";
      errors << sluice::delivery::FailedRecordLine(record);
    }
    return lake;
  }

  std::string billing() const { return dir_ + "/billing.jsonl"; }
  const TollsPlan& plan() const { return plan_; }
  const TollsTruth& truth() const { return truth_; }

 private:
  std::string dir_;
  TollsOptions options_;
  TollsPlan plan_;
  TollsTruth truth_;
};

int Check(const CheckOptions& options, std::string* report) {
  std::ostringstream out;
  sluice::Result<int> verdict = sluice::host::RunTollsCheck(options, out);
  REQUIRE(verdict.ok());
  *report = out.str();
  return *verdict;
}

}  // namespace

TEST_CASE("gen check matches while the host is appending a notification line") {
  CheckFixture fixture;
  std::ofstream(fixture.billing(), std::ios::app) << R"({"Type":"Notification","MessageId":)";
  std::string report;
  CHECK(Check(fixture.Options(), &report) == 0);
  INFO(report);
  CHECK(report.find("\nMATCH\n") != std::string::npos);
}

TEST_CASE("gen check sees a notification published after its file was read in a look") {
  CheckFixture fixture;
  CheckOptions options = fixture.Options();
  options.timeout_ms = 5'000;
  // The second notification lands after the check read billing-alerts, before it read spend:
  // that look matches everything, the next must not.
  bool published = false;
  options.read_spend = [&] {
    if (!published) {
      published = true;
      const int64_t spent = fixture.truth().spend_cents.at({"C-0001", "2026-11"});
      std::ofstream(fixture.billing(), std::ios::app)
          << CheckFixture::Envelope("b-2", CheckFixture::Notification(spent)) << "\n";
    }
    return fixture.truth().spend_cents;
  };
  std::string report;
  CHECK(Check(options, &report) == 1);
  INFO(report);
  CHECK(report.find("notification C-0001 2026-11: sent 2 times under different MessageIds") !=
        std::string::npos);
}

TEST_CASE("gen check refuses a notification whose spend exceeds the month's total") {
  CheckFixture fixture;
  const int64_t spent = fixture.truth().spend_cents.at({"C-0001", "2026-11"});
  json doubled = CheckFixture::Notification(spent);
  doubled["spend"] = static_cast<double>(2 * spent) / 100;
  std::ofstream(fixture.billing()) << CheckFixture::Envelope("b-1", doubled) << "\n";
  std::string report;
  CHECK(Check(fixture.Options(), &report) == 1);
  INFO(report);
  CHECK(report.find("notification C-0001 2026-11: got ") != std::string::npos);
}

TEST_CASE("gen check matches processing-failed records only for the malformed lines") {
  CheckFixture fixture;
  std::vector<std::string> malformed;
  std::string test_lane;
  for (const sluice::host::RawLine& line : fixture.plan().raw) {
    if (line.malformed) {
      malformed.push_back(line.text);
    } else if (line.text.find(",T,") != std::string::npos) {
      test_lane = line.text;
    }
  }
  REQUIRE_FALSE(malformed.empty());
  REQUIRE_FALSE(test_lane.empty());
  CheckOptions options = fixture.Options();
  std::string report;
  SECTION("the malformed lines") {
    options.lake_dir = fixture.Lake(malformed);
    CHECK(Check(options, &report) == 0);
  }
  SECTION("as many records, one of them a test-lane line json_transform should have dropped") {
    malformed.back() = test_lane;
    options.lake_dir = fixture.Lake(malformed);
    CHECK(Check(options, &report) == 1);
    INFO(report);
    CHECK(report.find("lake: 1 processing-failed records are not Lambda.ProcessingFailed of a "
                      "malformed line, e.g. \"" +
                      test_lane.substr(0, 20)) != std::string::npos);
  }
}

TEST_CASE("gen check reports what the host processed, and records a mapping dropped differ") {
  CheckFixture fixture;
  CheckOptions options = fixture.Options();
  sluice::host::PipelineCounts counts;
  counts.mappings = {{"billing_threshold", 120, 0}, {"station_alert", 120, 0}};
  counts.deliveries = {{"tolls-raw", 125, 120, 3, 4, 1, 30 * 1024}};
  options.read_pipeline = [&] { return counts; };
  std::ostringstream out;
  REQUIRE(sluice::host::RunTollsCheck(options, out).value() == 0);
  CHECK(out.str().find("processed      billing_threshold 120 invoked (0 dropped), station_alert "
                       "120 invoked (0 dropped)  ok") != std::string::npos);
  CHECK(out.str().find("delivered      tolls-raw: 125 in, 120 delivered (30 KiB in 3 objects), 4 "
                       "dropped, 1 failed") != std::string::npos);

  counts.mappings[1].dropped = 2;
  std::ostringstream dropped;
  REQUIRE(sluice::host::RunTollsCheck(options, dropped).value() == 1);
  CHECK(dropped.str().find("station_alert's mapping dropped 2 records (late for their window)") !=
        std::string::npos);
}
