// Each destination end to end: a real DeliveryService (tests/delivery/delivery_fixture.h) with its
// real peer: s3rver for S3, an HTTP receiver for an HTTP endpoint, a private PostgreSQL for
// PostgreSQL. Peers are taken away and brought back to show the retries, the error prefixes past
// RetryOptions.DurationInSeconds, and loads that happen exactly once.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "base/files.h"
#include "delivery/delivery_store.h"
#include "delivery/s3_store.h"
#include "sluice/base64.h"
#include "tests/delivery/delivery_fixture.h"
#include "tests/support/http_receiver.h"
#include "tests/support/postgres_server.h"
#include "tests/support/run_command.h"
#include "tests/support/s3rver.h"

namespace sluice::delivery::testing {
namespace {

using nlohmann::json;
using sluice::testing::HttpReceiver;
using sluice::testing::PostgresServer;
using sluice::testing::ReceivedRequest;
using sluice::testing::RunCommand;
using sluice::testing::S3rver;
using sluice::testing::ScriptedResponse;
using Rows = std::vector<std::vector<std::string>>;

constexpr char kBucket[] = "lake";
constexpr int kUuidChars = 36;
// "-YYYY-MM-DD-HH-MM-SS-" before a key's uuid.
constexpr int kKeyTimeChars = 19;

// The regex of an object key of stream `name` (version 1) under `prefix` with Firehose's
// yyyy/MM/dd/HH/ appended: ...<name>-1-YYYY-MM-DD-HH-MM-SS-<uuid>.
std::regex KeyPattern(const std::string& prefix, const std::string& name) {
  return std::regex(prefix + R"(\d{4}/\d\d/\d\d/\d\d/)" + name +
                    R"(-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36})");
}

std::string UuidOf(const std::string& key) {
  return key.substr(key.size() - kUuidChars);
}

std::string Concatenated(const std::vector<std::string>& records) {
  std::string all;
  for (const std::string& record : records) {
    all += record;
  }
  return all;
}

// Sets environment variables for its lifetime; restores what was there before.
class ScopedEnvironment {
 public:
  explicit ScopedEnvironment(const std::map<std::string, std::string>& variables) {
    for (const auto& [name, value] : variables) {
      const char* old = std::getenv(name.c_str());
      saved_[name] = old == nullptr ? std::nullopt : std::optional<std::string>(old);
      ::setenv(name.c_str(), value.c_str(), 1);
    }
  }
  ~ScopedEnvironment() {
    for (const auto& [name, old] : saved_) {
      if (old) {
        ::setenv(name.c_str(), old->c_str(), 1);
      } else {
        ::unsetenv(name.c_str());
      }
    }
  }
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

// Sends this process's stderr (the host's log lines) to `path` for its lifetime.
class CapturedStderr {
 public:
  explicit CapturedStderr(std::string path) : path_(std::move(path)) {
    saved_ = ::dup(STDERR_FILENO);
    const int file = ::open(path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    REQUIRE(saved_ >= 0);
    REQUIRE(file >= 0);
    ::dup2(file, STDERR_FILENO);
    ::close(file);
  }
  ~CapturedStderr() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  std::string Text() const {
    Result<std::string> text = ReadFile(path_);
    return text.ok() ? *text : "";
  }

 private:
  const std::string path_;
  int saved_ = -1;
};

// --- S3 (s3rver) ---

// s3rver's one account, in the environment the pipeline reads credentials from.
std::map<std::string, std::string> S3rverCredentials() {
  return {{"AWS_ACCESS_KEY_ID", "S3RVER"}, {"AWS_SECRET_ACCESS_KEY", "S3RVER"}};
}

// DirectPut into the bucket at s3rver, buffering 1 MiB / 0 s, `extra` merged in.
json S3Request(const std::string& name, const S3rver& s3, const json& extra = json::object()) {
  json destination = {{"BucketARN", std::string("arn:aws:s3:::") + kBucket},
                      {"EndpointURL", s3.endpoint()},
                      {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 0}}}};
  destination.update(extra);
  return {{"DeliveryStreamName", name}, {"ExtendedS3DestinationConfiguration", destination}};
}

// Every object in the bucket, key -> content: listed with the aws CLI, read with S3Store.
std::map<std::string, std::string> BucketObjects(const S3rver& s3) {
  const sluice::testing::CommandResult listed =
      RunCommand({"/usr/bin/env", "AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
                  "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", AWS_BIN,
                  "s3api", "list-objects-v2", "--endpoint-url", s3.endpoint(), "--bucket", kBucket,
                  "--output", "json"});
  INFO(listed.out << listed.err);
  REQUIRE(listed.exit_code == 0);
  std::map<std::string, std::string> objects;
  if (listed.out.find_first_not_of(" \n") == std::string::npos) {
    return objects;  // an empty bucket may print nothing
  }
  const json listing = json::parse(listed.out);
  S3Store store(s3.endpoint(), kBucket, "us-east-1", {"S3RVER", "S3RVER", ""});
  for (const json& object : listing.value("Contents", json::array())) {
    const std::string key = object["Key"].get<std::string>();
    Result<std::string> content = store.Get(key);
    INFO(key << ": " << content.status().ToString());
    REQUIRE(content.ok());
    objects[key] = *content;
  }
  return objects;
}

TEST_CASE(
    "S3: transformed records land in the bucket under Firehose's keys, failed ones under "
    "processing-failed/") {
  S3rver s3({kBucket});
  const ScopedEnvironment credentials(S3rverCredentials());
  DeliveryFixture f;
  f.Create(S3Request("to-s3", s3, {{"ProcessingConfiguration", TransformWith()}}));
  f.Put("to-s3", {"keep one", "fail me", "drop me", "keep two"});
  f.WaitUntil([&] { return f.Stats("to-s3").records_delivered == 2; }, "two records delivered");

  const std::map<std::string, std::string> objects = BucketObjects(s3);
  const auto failed = Under(objects, "processing-failed/");
  REQUIRE(objects.size() == 2);
  REQUIRE(failed.size() == 1);
  std::string delivered_key;
  for (const auto& [key, content] : objects) {
    if (!failed.contains(key)) {
      delivered_key = key;
    }
  }
  INFO(delivered_key);
  CHECK(std::regex_match(delivered_key, KeyPattern("", "to-s3")));
  CHECK(objects.at(delivered_key) == "KEEP ONE\nKEEP TWO\n");

  const auto& [failed_key, failed_content] = *failed.begin();
  INFO(failed_key);
  CHECK(std::regex_match(failed_key, KeyPattern("processing-failed/", "to-s3")));
  CHECK(UuidOf(failed_key) == UuidOf(delivered_key));  // one batch
  const std::vector<json> lines = JsonLines(failed_content);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["errorCode"] == "Lambda.ProcessingFailed");
  CHECK(lines[0]["rawData"] == Base64Encode("fail me"));
  CHECK(lines[0]["lambdaArn"] == kTransformArn);
  CHECK(f.Stats("to-s3").records_dropped == 1);
}

TEST_CASE("S3 down for a while: the batch is retried and arrives once when S3 is back") {
  S3rver s3({kBucket});
  const ScopedEnvironment credentials(S3rverCredentials());
  DeliveryFixture f;
  f.Create(S3Request("patient", s3));
  s3.Stop();
  const std::vector<std::string> records = Numbered("toll ", 20);
  f.Put("patient", records);
  f.WaitUntil([&] { return f.Stats("patient").delivery_errors >= 1; }, "a failed attempt");
  CHECK(f.Stats("patient").records_delivered == 0);
  s3.Start();  // the same endpoint
  f.WaitUntil([&] { return f.Stats("patient").records_delivered == 20; }, "delivery");

  const std::map<std::string, std::string> objects = BucketObjects(s3);
  REQUIRE(objects.size() == 1);
  CHECK(std::regex_match(objects.begin()->first, KeyPattern("", "patient")));
  CHECK(objects.begin()->second == Concatenated(records));
  const DeliveryStats stats = f.Stats("patient");
  CHECK(stats.objects_delivered == 1);
  CHECK(stats.batches_failed == 0);
}

TEST_CASE(
    "S3 down past RetryOptions.DurationInSeconds: the batch goes to s3-failed/ once S3 is "
    "back") {
  S3rver s3({kBucket});
  const ScopedEnvironment credentials(S3rverCredentials());
  DeliveryFixture f;
  f.Create(S3Request("impatient", s3, {{"RetryOptions", {{"DurationInSeconds", 2}}}}));
  s3.Stop();
  const std::vector<std::string> records = {"first\n", "second\n", "third\n"};
  f.Put("impatient", records);
  f.WaitUntil([&] { return f.Stats("impatient").batches_failed == 1; }, "the batch given up");
  // The error prefix is in the same store, so its write waits for S3 to come back.
  s3.Start();
  f.WaitUntil([&] { return f.Stats("impatient").records_buffered == 0; },
              "the failed batch written and committed");

  const std::map<std::string, std::string> objects = BucketObjects(s3);
  REQUIRE(objects.size() == 1);
  const auto& [key, content] = *objects.begin();
  INFO(key);
  CHECK(std::regex_match(key, KeyPattern("s3-failed/", "impatient")));
  const std::vector<json> lines = JsonLines(content);
  REQUIRE(lines.size() == records.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["errorCode"] == "S3.PutObjectFailed");
    CHECK(lines[i]["rawData"] == Base64Encode(records[i]));
    CHECK(lines[i]["errorMessage"].get<std::string>() != "");
    CHECK(lines[i]["attemptsMade"].get<int>() >= 1);
    CHECK_FALSE(lines[i].contains("lambdaArn"));
  }
  const DeliveryStats stats = f.Stats("impatient");
  CHECK(stats.batches_failed == 1);
  CHECK(stats.records_delivered == 0);
}

// --- HTTP endpoint (HttpReceiver) ---

// DirectPut to `url`, buffering 1 MiB / 0 s, failed data into the directory `backup`, `extra`
// merged in.
json HttpEndpointRequest(const std::string& name, const std::string& url, const std::string& backup,
                         const json& extra = json::object()) {
  json destination = {
      {"EndpointConfiguration", {{"Url", url}, {"Name", "receiver"}}},
      {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 0}}},
      {"S3Configuration", {{"BucketARN", "file://" + backup}}},
  };
  destination.update(extra);
  return {{"DeliveryStreamName", name}, {"HttpEndpointDestinationConfiguration", destination}};
}

ScriptedResponse JsonResponse(int status, const json& body) {
  ScriptedResponse response(status, {}, body.dump());
  response.content_type = "application/json";
  return response;
}

// The request id of the first request, once it has arrived.
std::string FirstRequestId(HttpReceiver& receiver) {
  REQUIRE(receiver.WaitForRequests(1, kWaitLimit));
  return receiver.Requests()[0].Header("X-Amz-Firehose-Request-Id");
}

TEST_CASE("HTTP endpoint: two 503s, then a conforming 200 delivers the batch once") {
  const std::string mode = GENERATE(std::string("FailedDataOnly"), std::string("AllData"));
  const std::string name = "hook-" + mode;
  HttpReceiver receiver;
  receiver.Script({503, 503});
  receiver.SetDefault(500);  // until the acknowledgement is scripted
  DeliveryFixture f;
  const std::string backup = f.Path("backup");
  f.Create(HttpEndpointRequest(name, receiver.url("/firehose"), backup, {{"S3BackupMode", mode}}));
  const std::vector<std::string> records = {"one", std::string("\0\xff", 2), "three\n"};
  f.Put(name, records);
  // Retries come 1 s and then about 2 s later: time enough to script the answer to this id.
  const std::string request_id = FirstRequestId(receiver);
  receiver.Script({JsonResponse(200, {{"requestId", request_id}, {"timestamp", 1}})});
  f.WaitUntil([&] { return f.Stats(name).records_delivered == 3; }, "delivery");

  const std::vector<ReceivedRequest> requests = receiver.Requests();
  REQUIRE(requests.size() == 3);
  for (const ReceivedRequest& request : requests) {
    CHECK(request.method == "POST");
    CHECK(request.path == "/firehose");
    CHECK(request.Header("X-Amz-Firehose-Request-Id") == request_id);
    CHECK(request.Header("X-Amz-Firehose-Protocol-Version") == "1.0");
    CHECK(request.Header("X-Amz-Firehose-Source-Arn") ==
          "arn:aws:firehose:us-east-1:000000000000:deliverystream/" + name);
    CHECK(request.Header("Content-Type") == "application/json");
    const json body = json::parse(request.body);
    CHECK(body["requestId"] == request_id);
    CHECK(body["timestamp"].is_number_integer());
    std::vector<std::string> sent;
    for (const json& record : body["records"]) {
      std::string data;
      CHECK(Base64Decode(record["data"].get<std::string>(), &data));
      sent.push_back(data);
    }
    CHECK(sent == records);
  }
  const DeliveryStats stats = f.Stats(name);
  CHECK(stats.delivery_errors == 2);
  CHECK(stats.objects_delivered == 1);
  CHECK(stats.batches_failed == 0);

  const std::map<std::string, std::string> backed_up = f.Files(backup);
  if (mode == "AllData") {  // the object is in the backup store too
    REQUIRE(backed_up.size() == 1);
    const auto& [key, content] = *backed_up.begin();
    INFO(key);
    CHECK(std::regex_match(key, KeyPattern("", name)));
    CHECK(UuidOf(key) == request_id);
    CHECK(content == Concatenated(records));
  } else {
    CHECK(backed_up.empty());
  }
}

TEST_CASE(
    "HTTP endpoint failing past RetryOptions.DurationInSeconds: the batch goes to "
    "http-endpoint-failed/ in the backup store") {
  HttpReceiver receiver;
  receiver.Script({JsonResponse(500, {{"errorMessage", "first failure"}})});
  receiver.SetDefault(JsonResponse(500, {{"errorMessage", "still failing"}}));
  DeliveryFixture f;
  const std::string backup = f.Path("backup");
  // 2 s: attempts at 0 and 1 s; the next (about 2 s later) would be past the duration.
  f.Create(HttpEndpointRequest("refused", receiver.url("/"), backup,
                               {{"RetryOptions", {{"DurationInSeconds", 2}}}}));
  const std::vector<std::string> records = {"a\n", "b\n", "c\n"};
  f.Put("refused", records);
  f.WaitUntil(
      [&] {
        return f.Stats("refused").records_buffered == 0 && f.Stats("refused").batches_failed == 1;
      },
      "the failed batch written and committed");

  const std::map<std::string, std::string> backed_up = f.Files(backup);
  REQUIRE(backed_up.size() == 1);
  const auto& [key, content] = *backed_up.begin();
  INFO(key);
  CHECK(std::regex_match(key, KeyPattern("http-endpoint-failed/", "refused")));
  const std::vector<ReceivedRequest> requests = receiver.Requests();
  REQUIRE(requests.size() >= 2);
  CHECK(UuidOf(key) == requests[0].Header("X-Amz-Firehose-Request-Id"));
  const std::vector<json> lines = JsonLines(content);
  REQUIRE(lines.size() == records.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    CHECK(lines[i]["errorCode"] == "HttpEndpoint.DestinationException");
    CHECK_THAT(lines[i]["errorMessage"].get<std::string>(), Catch::Contains("still failing"));
    CHECK(lines[i]["attemptsMade"] == requests.size());
    CHECK(lines[i]["rawData"] == Base64Encode(records[i]));
  }
  CHECK(f.Stats("refused").records_delivered == 0);
}

// --- PostgreSQL (PostgresServer) ---

constexpr char kColumns[] = "id,plate,amount,at";

// DirectPut into the table tolls with JSON 'auto', through the intermediate directory `staging`
// (buffering 1 MiB / 0 s).
json PostgresRequest(const std::string& name, const PostgresServer& postgres,
                     const std::string& staging) {
  return {{"DeliveryStreamName", name},
          {"PostgreSQLDestinationConfiguration",
           {{"ConnectionString", postgres.conninfo()},
            {"CopyCommand",
             {{"DataTableName", "tolls"},
              {"DataTableColumns", kColumns},
              {"CopyOptions", "JSON 'auto'"}}},
            {"S3Configuration",
             {{"BucketARN", "file://" + staging},
              {"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 0}}}}}}}};
}

void CreateTollsTable(const PostgresServer& postgres) {
  postgres.Query("CREATE TABLE tolls (id int, plate text, amount numeric(6,2), at timestamptz)");
}

// `n` passages as JSON lines, with a property that is not a column.
std::vector<std::string> Passages(int n) {
  std::vector<std::string> records;
  for (int i = 0; i < n; ++i) {
    records.push_back(json{{"id", i},
                           {"plate", "P-" + std::to_string(i)},
                           {"amount", 2.5 + i},
                           {"at", "2026-11-22T10:20:30Z"},
                           {"lane", 3}}
                          .dump() +
                      "\n");
  }
  return records;
}

TEST_CASE(
    "PostgreSQL: JSON records are loaded into typed columns through the intermediate "
    "store") {
  PostgresServer postgres;
  CreateTollsTable(postgres);
  DeliveryFixture f;
  const std::string staging = f.Path("staging");
  f.Create(PostgresRequest("to-pg", postgres, staging));
  const std::vector<std::string> records = Passages(3);
  f.Put("to-pg", records);
  f.WaitUntil([&] { return f.Stats("to-pg").records_delivered == 3; }, "the load");

  CHECK(postgres.Query("SELECT id, plate, amount, at AT TIME ZONE 'UTC' FROM tolls ORDER BY id") ==
        Rows{{"0", "P-0", "2.50", "2026-11-22 10:20:30"},
             {"1", "P-1", "3.50", "2026-11-22 10:20:30"},
             {"2", "P-2", "4.50", "2026-11-22 10:20:30"}});
  const std::map<std::string, std::string> staged = f.Files(staging);
  REQUIRE(staged.size() == 1);
  const auto& [key, content] = *staged.begin();
  INFO(key);
  CHECK(std::regex_match(key, KeyPattern("", "to-pg")));
  CHECK(content == Concatenated(records));
  CHECK(postgres.Query("SELECT delivery_stream, object_key, records FROM sluice_delivery_loads") ==
        Rows{{"to-pg", key, "3"}});
}

TEST_CASE("PostgreSQL stopped for a while: the rows arrive once when it is back") {
  PostgresServer postgres;
  CreateTollsTable(postgres);
  DeliveryFixture f;
  f.Create(PostgresRequest("patient-pg", postgres, f.Path("staging")));
  postgres.Stop();
  f.Put("patient-pg", Passages(20));
  f.WaitUntil([&] { return f.Stats("patient-pg").delivery_errors >= 1; }, "a failed load");
  postgres.Start();
  f.WaitUntil([&] { return f.Stats("patient-pg").records_delivered == 20; }, "the load");
  CHECK(postgres.Query("SELECT count(*), count(DISTINCT id) FROM tolls") == Rows{{"20", "20"}});
  CHECK(postgres.Query("SELECT count(*) FROM sluice_delivery_loads") == Rows{{"1"}});
  CHECK(f.Stats("patient-pg").batches_failed == 0);
}

// The time in a key (...-YYYY-MM-DD-HH-MM-SS-<uuid>), in epoch milliseconds.
int64_t KeyTimeMs(const std::string& key) {
  const std::string time = key.substr(key.size() - kUuidChars - 1 - kKeyTimeChars, kKeyTimeChars);
  std::tm parts{};
  REQUIRE(::strptime(time.c_str(), "%Y-%m-%d-%H-%M-%S", &parts) != nullptr);
  return static_cast<int64_t>(::timegm(&parts)) * 1000;
}

TEST_CASE(
    "PostgreSQL: a batch replayed after a stop between the load and the checkpoint is not "
    "loaded twice") {
  PostgresServer postgres;
  CreateTollsTable(postgres);
  DeliveryFixture f;
  const std::string staging = f.Path("staging");
  f.Create(PostgresRequest("once", postgres, staging));
  f.Put("once", Passages(5));
  f.WaitUntil([&] { return f.Stats("once").records_delivered == 5; }, "the load");
  const std::map<std::string, std::string> staged = f.Files(staging);
  REQUIRE(staged.size() == 1);
  const std::string key = staged.begin()->first;
  REQUIRE(f.Stats("once").records_delivered == 5);

  // As if the host had stopped after the COPY committed and before the checkpoint moved: the
  // checkpoint back before the batch, and the batch planned again under its uuid and time.
  f.StopService();
  DeliveryStore store(&f.db());
  Result<DeliveryProgress> loaded = store.LoadProgress("once");
  REQUIRE(loaded.ok());
  REQUIRE_FALSE(loaded->plan.has_value());
  const ShardPositions end = loaded->checkpoint;
  REQUIRE(end == ShardPositions{{0, 5}});
  REQUIRE(store.CommitBatch("once", {{0, 0}}).ok());
  REQUIRE(store.SavePlan("once", PlannedBatch{UuidOf(key), end, KeyTimeMs(key)}).ok());

  // A new service counts from zero.
  std::string log;
  {
    const CapturedStderr captured(f.Path("host.log"));
    f.StartService();
    f.WaitUntil([&] { return f.Stats("once").records_delivered == 5; },
                "the replayed batch");
    log = captured.Text();
  }
  INFO(log);
  CHECK(postgres.Query("SELECT count(*), count(DISTINCT id) FROM tolls") == Rows{{"5", "5"}});
  CHECK(postgres.Query("SELECT object_key FROM sluice_delivery_loads") == Rows{{key}});
  CHECK_THAT(log, Catch::Contains(key + " was loaded before"));
  CHECK(f.Files(staging).size() == 1);  // the replay wrote the same key
  f.WaitUntil(
      [&] {
        Result<DeliveryProgress> after = store.LoadProgress("once");
        return after.ok() && !after->plan && after->checkpoint == end;
      },
      "the replayed batch committed");
}

}  // namespace
}  // namespace sluice::delivery::testing
