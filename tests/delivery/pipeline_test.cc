// Delivery pipelines in process: a real DeliveryService with real buffers, a real SQLite store,
// a real sandboxed transform (transform_probe) and a directory destination.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "delivery/gzip.h"
#include "delivery/transformer.h"
#include "sluice/base64.h"
#include "tests/delivery/delivery_fixture.h"

namespace sluice::delivery::testing {
namespace {

using nlohmann::json;

TEST_CASE("DirectPut records arrive in the directory in order, under Firehose's keys") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("raw", lake, {{"Prefix", "tolls/"}}));
  const std::vector<std::string> records = Numbered("passage ", 50);
  const std::vector<std::string> ids = f.Put("raw", records);
  REQUIRE(ids.size() == 50);
  CHECK(ids[0] != ids[1]);
  f.WaitUntil([&] { return f.Stats("raw").records_delivered == 50; }, "50 records delivered");
  const auto files = f.Files(lake);
  std::string expected;
  for (const std::string& record : records) {
    expected += record;
  }
  CHECK(AllContent(files) == expected);
  const std::regex key(
      R"(tolls/\d{4}/\d\d/\d\d/\d\d/raw-1-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f-]{36})");
  for (const auto& [path, content] : files) {
    INFO(path);
    CHECK(std::regex_match(path, key));
  }
  const DeliveryStats stats = f.Stats("raw");
  CHECK(stats.records_in == 50);
  CHECK(stats.freshness_ms >= 0);
  CHECK(stats.records_buffered == 0);
}

TEST_CASE("A buffer flushes at its size hint") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("big", lake,
                            {{"BufferingHints", {{"SizeInMBs", 1}, {"IntervalInSeconds", 900}}}}));
  // 33 records of 100 KiB: three objects of 11 (the eleventh passes 1 MiB); the interval
  // (15 min) never passes here.
  const std::vector<std::string> records(33, std::string(100 * 1024, 'x'));
  f.Put("big", records);
  f.WaitUntil([&] { return f.Stats("big").records_delivered == 33; }, "three objects");
  const auto files = f.Files(lake);
  CHECK(files.size() == 3);
  for (const auto& [path, content] : files) {
    INFO(path);
    CHECK(content.size() == 11 * 100 * 1024);
  }
}

TEST_CASE("A buffer flushes at its interval hint") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("slow", lake,
                            {{"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", 1}}}}));
  f.Put("slow", {"one\n", "two\n"});
  f.WaitUntil([&] { return f.Stats("slow").records_delivered == 2; }, "delivery by interval");
  CHECK(AllContent(f.Files(lake)) == "one\ntwo\n");
}

TEST_CASE("GZIP objects hold the records and end in .gz") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("zipped", lake, {{"CompressionFormat", "GZIP"}}));
  f.Put("zipped", {"a\n", "b\n"});
  f.WaitUntil([&] { return f.Stats("zipped").records_delivered == 2; }, "delivery");
  const auto files = f.Files(lake);
  REQUIRE(files.size() == 1);
  CHECK(files.begin()->first.ends_with(".gz"));
  Result<std::string> plain = GzipDecompress(files.begin()->second);
  REQUIRE(plain.ok());
  CHECK(*plain == "a\nb\n");
}

TEST_CASE("Transform results: Ok data is delivered, Dropped is gone, failures are recorded") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("t", lake, {{"ProcessingConfiguration", TransformWith()}}));
  const std::vector<std::string> ids = f.Put("t", {"keep one", "drop me", "fail me", "keep two"});
  f.WaitUntil([&] { return f.Stats("t").records_delivered == 2; }, "two records delivered");
  const auto files = f.Files(lake);
  const auto failed = Under(files, "processing-failed/");
  CHECK(AllContent(files) != "");
  std::string delivered;
  for (const auto& [key, content] : files) {
    if (key.rfind("processing-failed/", 0) != 0) {
      delivered += content;
    }
  }
  CHECK(delivered == "KEEP ONE\nKEEP TWO\n");
  REQUIRE(failed.size() == 1);
  const std::vector<json> lines = JsonLines(failed.begin()->second);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["attemptsMade"] == 1);
  CHECK(lines[0]["errorCode"] == "Lambda.ProcessingFailed");
  CHECK(lines[0]["rawData"] == Base64Encode("fail me"));
  CHECK(lines[0]["lambdaArn"] == kTransformArn);
  CHECK(lines[0]["arrivalTimestamp"].is_number_integer());
  CHECK(lines[0]["attemptEndingTimestamp"].get<int64_t>() >=
        lines[0]["arrivalTimestamp"].get<int64_t>());
  const DeliveryStats stats = f.Stats("t");
  CHECK(stats.records_transformed == 2);
  CHECK(stats.records_dropped == 1);
  CHECK(stats.records_failed == 1);
}

TEST_CASE("A ProcessingFailed reason is the error record's errorMessage, cut at 1,024 bytes") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest("why", lake, {{"ProcessingConfiguration", TransformWith()}}));
  // "x" then 600 two-byte characters: byte 1,024 continues a character, so the cut keeps 1,023.
  std::string long_reason = "x";
  for (int i = 0; i < 600; ++i) {
    long_reason += "\u00e9";
  }
  const std::string short_reason = R"(field 7 (amount): not a decimal number: "2.5x")";
  f.Put("why", {"fail-with " + short_reason, "fail me", "fail-with " + long_reason});
  f.WaitUntil([&] { return f.Stats("why").records_failed == 3; }, "three records failed");
  f.WaitUntil([&] { return !Under(f.Files(lake), "processing-failed/").empty(); },
              "the error object");
  const std::vector<json> lines =
      JsonLines(Under(f.Files(lake), "processing-failed/").begin()->second);
  REQUIRE(lines.size() == 3);
  for (const json& line : lines) {
    CHECK(line["errorCode"] == "Lambda.ProcessingFailed");
  }
  CHECK(lines[0]["errorMessage"] == short_reason);
  CHECK(lines[0]["rawData"] == Base64Encode("fail-with " + short_reason));
  CHECK(lines[1]["errorMessage"] == "the function returned ProcessingFailed for the record");
  const std::string cut = lines[2]["errorMessage"].get<std::string>();
  CHECK(cut.size() == kMaxProcessingFailedReasonBytes - 1);
  CHECK(cut == long_reason.substr(0, kMaxProcessingFailedReasonBytes - 1));
}

TEST_CASE("Transform chunks are bounded by the processor's BufferSizeInMBs") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest(
      "chunks", lake,
      {{"BufferingHints", {{"SizeInMBs", 2}, {"IntervalInSeconds", 900}}},
       {"ProcessingConfiguration", TransformWith({{"BufferSizeInMBs", "0.25"}})}}));
  // 2 MiB of 64 KiB records: one object, transformed in chunks of at most 256 KiB (4 records).
  f.Put("chunks", std::vector<std::string>(32, std::string(64 * 1024, 'y')));
  f.WaitUntil([&] { return f.Stats("chunks").records_delivered == 32; }, "delivery");
  const std::vector<std::string> chunks = f.Chunks();
  CHECK(chunks.size() == 8);
  for (const std::string& chunk : chunks) {
    CHECK(chunk.rfind("CHUNK 4 ", 0) == 0);
  }
}

TEST_CASE("A transform that fails is retried NumberOfRetries times, then its records fail") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  const std::string command =
      GENERATE(std::string("error"), std::string("crash"), std::string("timeout"));
  const std::string code =
      command == "timeout" ? "Lambda.FunctionTimedOut" : "Lambda.FunctionError";
  // Counters are per name for the life of the process: a name per generated case.
  const std::string name = "retried-" + command;
  f.Create(DirectoryRequest(
      name, lake, {{"ProcessingConfiguration", TransformWith({{"NumberOfRetries", "1"}})}}));
  f.Put(name, {command, "fine"});
  f.WaitUntil([&] { return f.Stats(name).records_failed == 2; }, "both records failed");
  f.WaitUntil([&] { return !Under(f.Files(lake), "processing-failed/").empty(); },
              "the error object");
  const auto failed = Under(f.Files(lake), "processing-failed/");
  const std::vector<json> lines = JsonLines(failed.begin()->second);
  REQUIRE(lines.size() == 2);
  for (const json& line : lines) {
    CHECK(line["errorCode"] == code);
    CHECK(line["attemptsMade"] == 2);
  }
  CHECK(f.Chunks().size() >= (command == "error" ? 2u : 0u));
  CHECK(f.Stats(name).records_delivered == 0);
}

TEST_CASE("A response with wrong record ids fails the chunk without a retry") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  const auto [command, code] =
      GENERATE(std::pair<std::string, std::string>{"skip-id", "Lambda.MissingRecordId"},
               std::pair<std::string, std::string>{"twice", "Lambda.DuplicatedRecordId"},
               std::pair<std::string, std::string>{"stranger", "Lambda.JsonProcessingException"},
               std::pair<std::string, std::string>{"invalid", "Lambda.JsonProcessingException"});
  const std::string name = "ids-" + command;
  f.Create(DirectoryRequest(name, lake, {{"ProcessingConfiguration", TransformWith()}}));
  f.Put(name, {"fine", command});
  f.WaitUntil([&] { return f.Stats(name).records_failed == 2; }, "both records failed");
  f.WaitUntil([&] { return !Under(f.Files(lake), "processing-failed/").empty(); },
              "the error object");
  const std::vector<json> lines =
      JsonLines(Under(f.Files(lake), "processing-failed/").begin()->second);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["errorCode"] == code);
  CHECK(lines[0]["attemptsMade"] == 1);
  CHECK(f.Chunks().size() == 1);
}

TEST_CASE("A transform failing for a while delivers once it recovers within its retries") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest(
      "heal", lake, {{"ProcessingConfiguration", TransformWith({{"NumberOfRetries", "3"}})}}));
  f.Put("heal", {"error-times:2 then fine"});
  f.WaitUntil([&] { return f.Stats("heal").records_delivered == 1; }, "delivery after recovery");
  CHECK(f.Chunks().size() == 3);
  CHECK(AllContent(f.Files(lake)) == "ERROR-TIMES:2 THEN FINE\n");
  CHECK(f.Stats("heal").records_failed == 0);
}

TEST_CASE("Records put before a restart are delivered after it, none twice") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest(
      "durable", lake, {{"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", 900}}}}));
  const std::vector<std::string> records = Numbered("r", 100);
  f.Put("durable", records);
  f.RestartService();  // the 15-minute buffer had not flushed
  CHECK(f.Files(lake).empty());
  // Made to flush at once now: the configuration changes, the buffer stays.
  json request = DirectoryRequest("durable", lake);
  Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(request);
  REQUIRE(config.ok());
  bool changed = false;
  REQUIRE(f.service().Update(*config, &changed).ok());
  CHECK(changed);
  f.WaitUntil([&] { return f.Stats("durable").records_delivered == 100; }, "delivery");
  std::string expected;
  for (const std::string& record : records) {
    expected += record;
  }
  CHECK(AllContent(f.Files(lake)) == expected);
  for (const auto& [key, content] : f.Files(lake)) {
    CHECK(key.find("durable-2-") != std::string::npos);  // the version rose
  }
}

TEST_CASE("A KinesisStreamAsSource delivery stream reads the stream from its creation on") {
  DeliveryFixture f;
  REQUIRE(f.streams().CreateStream("tolls", 2).ok());
  auto put = [&](const std::string& key, const std::string& data) {
    const stream::PutInput input{key, std::nullopt, data};
    REQUIRE(f.streams().Put("tolls", std::span<const stream::PutInput>(&input, 1)).ok());
  };
  put("a", "before\n");
  const std::string lake = f.Path("lake");
  json request =
      DirectoryRequest("from-stream", lake, {{"ProcessingConfiguration", TransformWith()}});
  request["DeliveryStreamType"] = "KinesisStreamAsSource";
  request["KinesisStreamSourceConfiguration"] = {
      {"KinesisStreamARN", "arn:aws:kinesis:us-east-1:000000000000:stream/tolls"},
      {"RoleARN", "arn:aws:iam::000000000000:role/firehose"}};
  f.Create(request);
  for (int i = 0; i < 20; ++i) {
    put("key" + std::to_string(i), "after " + std::to_string(i));
  }
  f.WaitUntil([&] { return f.Stats("from-stream").records_delivered == 20; }, "20 delivered");
  const std::string all = AllContent(f.Files(lake));
  CHECK(all.find("BEFORE") == std::string::npos);
  for (int i = 0; i < 20; ++i) {
    CHECK(all.find("AFTER " + std::to_string(i) + "\n") != std::string::npos);
  }
  CHECK(f.service().Put("from-stream", {"x"}).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("Delete removes a delivery stream and its buffer, and the name can be used again") {
  DeliveryFixture f;
  const std::string lake = f.Path("lake");
  f.Create(DirectoryRequest(
      "gone", lake, {{"BufferingHints", {{"SizeInMBs", 128}, {"IntervalInSeconds", 900}}}}));
  f.Put("gone", {"lost\n"});
  REQUIRE(f.service().Delete("gone").ok());
  CHECK(f.service().Describe("gone").status().code() == Code::kNotFound);
  CHECK(f.service().Put("gone", {"x"}).status().code() == Code::kNotFound);
  CHECK(f.service().Delete("gone").code() == Code::kNotFound);
  f.Create(DirectoryRequest("gone", lake));
  f.Put("gone", {"new\n"});
  f.WaitUntil([&] { return f.Stats("gone").records_delivered == 1; }, "delivery");
  CHECK(AllContent(f.Files(lake)) == "new\n");
}

TEST_CASE("Create refuses a taken name, a missing function and a missing source stream") {
  DeliveryFixture f;
  f.Create(DirectoryRequest("once", f.Path("lake")));
  Result<DeliveryStreamConfig> again =
      ParseDeliveryStreamConfig(DirectoryRequest("once", f.Path("l")));
  REQUIRE(again.ok());
  CHECK(f.service().Create(*again).code() == Code::kAlreadyExists);

  json request = DirectoryRequest("nofn", f.Path("lake"));
  request["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"] = TransformWith();
  request["ExtendedS3DestinationConfiguration"]["ProcessingConfiguration"]["Processors"][0]
         ["Parameters"][0]["ParameterValue"] = "no_such_function";
  Result<DeliveryStreamConfig> nofn = ParseDeliveryStreamConfig(request);
  REQUIRE(nofn.ok());
  const Status refused = f.service().Create(*nofn);
  CHECK(refused.code() == Code::kInvalidArgument);
  CHECK_THAT(refused.message(), Catch::Contains("no_such_function"));

  json source = DirectoryRequest("nostream", f.Path("lake"));
  source["DeliveryStreamType"] = "KinesisStreamAsSource";
  source["KinesisStreamSourceConfiguration"] = {{"KinesisStreamARN", "missing"}};
  Result<DeliveryStreamConfig> nostream = ParseDeliveryStreamConfig(source);
  REQUIRE(nostream.ok());
  CHECK(f.service().Create(*nostream).code() == Code::kNotFound);
  CHECK(f.service().List() == std::vector<std::string>{"once"});
}

}  // namespace
}  // namespace sluice::delivery::testing
