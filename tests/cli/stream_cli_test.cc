// The real `sluice streams|put|tail` verbs against a real `sluice serve`.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

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

// Runs `sluice <args> --endpoint <server>`.
CommandResult Sluice(const SluiceServer& server, std::vector<std::string> args,
                     const std::string& stdin_text = "") {
  args.insert(args.begin(), SLUICE_BIN);
  args.push_back("--endpoint");
  args.push_back(server.endpoint());
  return RunCommand(args, stdin_text);
}

}  // namespace

TEST_CASE("streams create, list, describe and delete manage streams") {
  SluiceServer server;
  CommandResult created = Sluice(server, {"streams", "create", "tolls", "--shards", "3"});
  REQUIRE(created.exit_code == 0);
  CHECK(created.out == "created stream tolls with 3 shards\n");
  REQUIRE(Sluice(server, {"streams", "create", "other"}).exit_code == 0);

  CommandResult listed = Sluice(server, {"streams", "list"});
  REQUIRE(listed.exit_code == 0);
  CHECK(listed.out == "other\ntolls\n");

  CommandResult described = Sluice(server, {"streams", "describe", "tolls"});
  REQUIRE(described.exit_code == 0);
  CHECK(described.out.find("open shards 3 of 3") != std::string::npos);
  CHECK(described.out.find("shardId-000000000002  open    hash keys "
                           "226854911280625642308916404954512140970 - "
                           "340282366920938463463374607431768211455") != std::string::npos);

  CommandResult again = Sluice(server, {"streams", "create", "tolls"});
  CHECK(again.exit_code == 1);
  CHECK(again.err.find("ResourceInUseException") != std::string::npos);

  REQUIRE(Sluice(server, {"streams", "delete", "other"}).exit_code == 0);
  CHECK(Sluice(server, {"streams", "list"}).out == "tolls\n");
  CommandResult missing = Sluice(server, {"streams", "describe", "other"});
  CHECK(missing.exit_code == 1);
  CHECK(missing.err.find("ResourceNotFoundException: Stream other under account") !=
        std::string::npos);
}

TEST_CASE("bad CLI arguments get a message that names them, exit 2") {
  SluiceServer server;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"streams"}, "missing verb"},
      {{"streams", "explode", "x"}, "unknown verb 'explode'"},
      {{"streams", "create"}, "missing stream name"},
      {{"streams", "create", "x", "--shards", "0"}, "--shards: must be an integer from 1"},
      {{"streams", "create", "x", "--shards"}, "--shards needs a value"},
      {{"streams", "list", "--bogus", "1"}, "unknown option --bogus"},
      {{"put", "s", "--data", "x"}, "give exactly one of --partition-key"},
      {{"put", "s", "--partition-key-field", "k", "--data", "x"}, "--data needs --partition-key"},
      {{"tail", "s", "--from", "yesterday"}, "--from must be trim-horizon, latest or at-timestamp"},
      {{"tail", "s", "--from", "at-timestamp"}, "--timestamp goes with --from at-timestamp"},
      {{"tail", "s", "--from", "at-timestamp", "--timestamp", "noon"}, "is neither epoch seconds"},
  };
  for (const auto& [args, message] : cases) {
    INFO(args[0] << " " << (args.size() > 1 ? args[1] : ""));
    CommandResult result = Sluice(server, args);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(message) != std::string::npos);
  }
  // Names that the API refuses come back as the API's error.
  CommandResult bad_name = Sluice(server, {"streams", "create", "no spaces"});
  CHECK(bad_name.exit_code == 1);
  CHECK(bad_name.err.find("ValidationException") != std::string::npos);
}

TEST_CASE("put stores a record and lines of stdin; tail prints them, parents before children") {
  SluiceServer server;
  REQUIRE(Sluice(server, {"streams", "create", "tolls", "--shards", "2"}).exit_code == 0);

  CommandResult one = Sluice(server, {"put", "tolls", "--partition-key", "a", "--data", "first"});
  REQUIRE(one.exit_code == 0);
  // md5("a") is in the lower half of the key space: shard 0 of 2.
  CHECK(one.out.rfind("shardId-000000000000 ", 0) == 0);

  const std::string lines =
      "{\"customer\":\"C-1\",\"n\":1}\n"
      "not json\n"
      "\n"
      "{\"customer\":\"C-1\",\"n\":2}\n"
      "{\"other\":1}\n"
      "{\"customer\":\"C-1\",\"n\":3}";  // no final newline
  CommandResult batch =
      Sluice(server, {"put", "tolls", "--partition-key-field", "customer"}, lines);
  CHECK(batch.exit_code == 1);  // two lines could not be sent
  CHECK(batch.err.find("line 2: not a JSON object") != std::string::npos);
  CHECK(batch.err.find("line 5: no string or number field \"customer\"") != std::string::npos);
  CHECK(batch.err.find("stored 3 records in tolls; 2 not stored") != std::string::npos);

  // Split the shard holding C-1 after its records, then put more: they land in a child.
  KinesisClient client(server.port());
  const json shards = client.Ok("ListShards", {{"StreamName", "tolls"}})["Shards"];
  CommandResult before = Sluice(server, {"tail", "tolls", "--exit-at-end", "--format", "json"});
  REQUIRE(before.exit_code == 0);
  std::string c1_shard;
  for (const std::string& line : Lines(before.out)) {
    const json record = json::parse(line);
    if (record["partitionKey"] == "C-1") {
      c1_shard = record["shardId"];
    }
  }
  REQUIRE(!c1_shard.empty());
  json parent;
  for (const json& shard : shards) {
    if (shard["ShardId"] == c1_shard) {
      parent = shard;
    }
  }
  const auto start =
      sluice::testing::ParseU128(parent["HashKeyRange"]["StartingHashKey"].get<std::string>());
  const auto end =
      sluice::testing::ParseU128(parent["HashKeyRange"]["EndingHashKey"].get<std::string>());
  client.Ok("SplitShard",
            {{"StreamName", "tolls"},
             {"ShardToSplit", c1_shard},
             {"NewStartingHashKey", sluice::testing::U128ToString(start + (end - start) / 2)}});
  REQUIRE(Sluice(server, {"put", "tolls", "--partition-key-field", "customer"},
                 "{\"customer\":\"C-1\",\"n\":4}\n{\"customer\":\"C-1\",\"n\":5}\n")
              .exit_code == 0);

  CommandResult tail = Sluice(server, {"tail", "tolls", "--exit-at-end"});
  REQUIRE(tail.exit_code == 0);
  std::vector<std::string> c1;
  for (const std::string& line : Lines(tail.out)) {
    if (line.find("C-1") != std::string::npos) {
      c1.push_back(line);
    }
  }
  // The parent's records, then the child's, in order: one partition key stays ordered.
  REQUIRE(c1.size() == 5);
  for (size_t i = 0; i < c1.size(); ++i) {
    CHECK(c1[i] == "{\"customer\":\"C-1\",\"n\":" + std::to_string(i + 1) + "}");
  }
  CHECK(tail.out.find("first\n") != std::string::npos);

  CommandResult latest = Sluice(server, {"tail", "tolls", "--from", "latest", "--exit-at-end"});
  CHECK(latest.exit_code == 0);
  CHECK(latest.out.empty());
}

TEST_CASE("a CLI call with no host running says so and how to start one") {
  std::string endpoint;
  {
    SluiceServer server;
    endpoint = server.endpoint();
  }  // stopped: nothing listens on its port now
  CommandResult result = RunCommand({SLUICE_BIN, "streams", "list", "--endpoint", endpoint});
  CHECK(result.exit_code == 2);
  CHECK(result.err.find("no Sluice host is answering at " + endpoint) != std::string::npos);
  CHECK(result.err.find("Start one with `sluice serve`") != std::string::npos);
}

TEST_CASE("sluice serve refuses bad settings with a message that names them") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--durability", "sometimes"}, "--durability: must be os or fsync, got 'sometimes'"},
      {{"--listen", "localhost"}, "--listen: expected HOST:PORT, got 'localhost'"},
      {{"--listen", "127.0.0.1:99999"}, "--listen: the port must be 0-65535, got '99999'"},
      {{"--listen", "example.com:4566"}, "is not an IPv4 address"},
      {{"--http-threads", "0"}, "--http-threads: must be an integer from 1 to 256"},
      {{"--bogus"}, "unknown option --bogus"},
      {{"extra"}, "unexpected argument 'extra'"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> args = {SLUICE_BIN, "serve", "--data-dir", "/nonexistent/never"};
    args.insert(args.end(), flags.begin(), flags.end());
    INFO(flags[0]);
    CommandResult result = RunCommand(args);
    CHECK(result.exit_code == 2);
    CHECK(result.err.find(message) != std::string::npos);
  }
  // A port another server holds: the second server says so and exits.
  SluiceServer first;
  CommandResult second =
      RunCommand({SLUICE_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(first.port()),
                  "--data-dir", first.temp_dir() + "/second"});
  CHECK(second.exit_code == 2);
  CHECK(second.err.find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) !=
        std::string::npos);
}
