// Delivery streams at their edges, each case a bug a review found: both kinds of failed data of one
// batch at one error key, an Update to a store that cannot be opened, transform chunks of many
// small records, and names that are directories of the host.
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "tests/delivery/delivery_fixture.h"

namespace sluice::delivery::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A batch with ProcessingFailed records whose delivery then fails writes two error objects:
// processing-failed and s3-failed. With an ErrorOutputPrefix without expressions both keys are
// <ErrorOutputPrefix>yyyy/MM/dd/HH/<name>-<version>-<time>-<batch uuid>, so the second Put
// replaces the first and the processing-failed records are gone.
TEST_CASE("processing-failed records survive a failed delivery of the same batch") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  fs::create_directories(lake);
  // A file where the Prefix's directory should be: every Put under data/ fails.
  std::ofstream(lake + "/data") << "not a directory";
  f.Create(DirectoryRequest("collide", lake,
                            {{"Prefix", "data/"},
                             {"ErrorOutputPrefix", "errors/"},
                             {"RetryOptions", {{"DurationInSeconds", 0}}},
                             {"ProcessingConfiguration", TransformWith()}}));
  f.Put("collide", {"fail me", "keep one"});
  auto error_lines = [&] {
    std::vector<json> lines;
    for (const auto& [key, content] : Under(f.Files(lake), "errors/")) {
      for (json& line : JsonLines(content)) {
        lines.push_back(std::move(line));
      }
    }
    return lines;
  };
  f.WaitUntil(
      [&] {
        for (const json& line : error_lines()) {
          if (line["errorCode"] != "Lambda.ProcessingFailed") {
            return true;
          }
        }
        return false;
      },
      "the failed batch's error record");
  const std::vector<json> lines = error_lines();
  int processing_failed = 0;
  for (const json& line : lines) {
    INFO(line.dump());
    processing_failed += line["errorCode"] == "Lambda.ProcessingFailed" ? 1 : 0;
  }
  CHECK(lines.size() == 2);
  CHECK(processing_failed == 1);
}

// Update with a destination whose store cannot be opened (S3 without credentials): Create
// refuses such a configuration, Update stores it, stops the old pipeline and starts none.
TEST_CASE("an Update whose store cannot be opened keeps the old configuration delivering") {
  // Without credentials for the test, given back to the process when it ends.
  struct NoCredentials {
    std::optional<std::string> saved;
    NoCredentials() {
      if (const char* key = getenv("AWS_ACCESS_KEY_ID")) {
        saved = key;
      }
      unsetenv("AWS_ACCESS_KEY_ID");
    }
    ~NoCredentials() {
      if (saved) {
        setenv("AWS_ACCESS_KEY_ID", saved->c_str(), 1);
      }
    }
  } no_credentials;
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("keep", lake));
  json request = DirectoryRequest("keep", lake);
  request["ExtendedS3DestinationConfiguration"]["BucketARN"] = "arn:aws:s3:::no-credentials";
  Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(request);
  REQUIRE(config.ok());
  bool changed = false;
  const Status updated = f.service().Update(*config, &changed);
  INFO(updated.ToString());
  CHECK(!updated.ok());
  CHECK(!changed);
  Result<DeliveryStreamInfo> info = f.service().Describe("keep");
  REQUIRE(info.ok());
  CHECK(info->version == 1);
  f.Put("keep", {"after\n"});
  f.WaitUntil([&] { return f.Stats("keep").records_delivered == 1; }, "delivery goes on");
}

// Transform chunks are cut by data bytes only (at most 3 MiB), but the invoke's payload limit
// (6 MiB) counts every record's envelope too: many small records make an invoke that the pool
// refuses (RequestEntityTooLargeException), and every record of the chunk fails, unretried.
TEST_CASE("a transform chunk of many small records fits the invoke payload limit") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(
      DirectoryRequest("small", lake,
                       {{"BufferingHints", {{"SizeInMBs", 2}, {"IntervalInSeconds", 60}}},
                        {"ProcessingConfiguration", TransformWith({{"BufferSizeInMBs", "3"}})}}));
  constexpr int64_t kRecords = 131072;  // of 16 bytes: 2 MiB
  f.Put("small", std::vector<std::string>(kRecords, std::string(15, 'r') + "\n"));
  f.WaitUntil(
      [&] {
        const DeliveryStats stats = f.Stats("small");
        return stats.records_delivered + stats.records_failed == kRecords;
      },
      "every record delivered or failed");
  const DeliveryStats stats = f.Stats("small");
  INFO(stats.last_error);
  CHECK(stats.records_failed == 0);
  CHECK(stats.records_delivered == kRecords);
}

// DeliveryStreamName allows [a-zA-Z0-9_.-]{1,64}, so "." and ".." pass; Create then runs
// remove_all(DATA_DIR/delivery/<name>): "." removes every delivery stream's buffer (acknowledged
// records), ".." the host's whole data directory.
TEST_CASE("a delivery stream named . or .. removes no other data") {
  const std::string name = GENERATE(std::string("."), std::string(".."));
  DeliveryFixture f;
  f.Create(
      DirectoryRequest("keep", f.Path("lake"),
                       {{"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", 900}}}}));
  f.Put("keep", {"acknowledged\n"});
  REQUIRE(fs::exists(f.Path("data/delivery/keep/buffer")));
  Result<DeliveryStreamConfig> config =
      ParseDeliveryStreamConfig(DirectoryRequest(name, f.Path("l")));
  if (config.ok()) {
    (void)f.service().Create(*config);
  }
  CHECK(fs::exists(f.Path("data/delivery/keep/buffer")));
}

}  // namespace
}  // namespace sluice::delivery::testing
