// Event source mappings on the real host, driven by the real `sluice` CLI and the Kinesis API:
// attach's validation and the mapping verbs; records flowing from a 2-shard stream into
// effects_probe's key-value effects; a disabled mapping keeping its position; mappings in a
// stack; kill -9 with retries and bisections in flight (every effect exactly once, poison records
// discarded to a directory, nothing the host started left running); the mapping's series in
// /metrics; ParallelizationFactor and BatchSize changed while records flow, with kill -9 between.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice/base64.h"
#include "tests/host/host_cli.h"
#include "tests/support/kinesis_http.h"

using nlohmann::json;
using sluice::testing::CommandResult;
using sluice::testing::FunctionDir;
using sluice::testing::KinesisClient;
using sluice::testing::Lines;
using sluice::testing::RunCommand;
using sluice::testing::Sluice;
using sluice::testing::SluiceServer;

namespace {

constexpr auto kWaitLimit = std::chrono::seconds(30);

// effects_probe with the tables the tests write: counters (what records add up), poison (what
// only poison records write, so it must stay empty).
constexpr char kProbeManifest[] =
    R"(, "Timeout": 20, "Tables": {"counters": "ReadWrite", "poison": "ReadWrite"})";

// Polls `done` every 50 ms until it is true or `limit` has passed; returns whether it became true.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit = kWaitLimit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// `sluice ARGS... --endpoint` (the stream verbs speak the Kinesis API).
CommandResult StreamVerb(const SluiceServer& server, std::vector<std::string> args) {
  args.insert(args.begin(), SLUICE_BIN);
  args.push_back("--endpoint");
  args.push_back(server.endpoint());
  return RunCommand(args);
}

void CreateStream(const SluiceServer& server, const std::string& name, int shards) {
  const CommandResult r =
      StreamVerb(server, {"streams", "create", name, "--shards", std::to_string(shards)});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

// Deploys effects_probe as `probe` from `dir`.
void DeployProbe(const SluiceServer& server, const FunctionDir& dir) {
  const CommandResult r = Sluice(server, {"deploy", dir.manifest()});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
}

// `sluice attach ARGS...`; the mapping it printed. REQUIRES success.
json Attach(const SluiceServer& server, const std::vector<std::string>& args) {
  std::vector<std::string> full = {"attach"};
  full.insert(full.end(), args.begin(), args.end());
  const CommandResult r = Sluice(server, full);
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const json mapping = json::parse(r.out, nullptr, false);
  REQUIRE(mapping.is_object());
  REQUIRE(mapping.contains("UUID"));
  return mapping;
}

// The data of a record that makes effects_probe add 1 to counters/<key>.n.
std::string AddOne(const std::string& key) {
  return json{{"add", {"counters", key, "n", 1}}}.dump();
}

struct Put {
  std::string partition_key;
  std::string data;
};

// Puts the records in order with PutRecords (500 a call); returns each shard's last sequence
// number.
std::map<std::string, std::string> PutAll(KinesisClient& client, const std::string& stream,
                                          const std::vector<Put>& records) {
  std::map<std::string, std::string> last_by_shard;
  for (size_t first = 0; first < records.size(); first += 500) {
    json entries = json::array();
    for (size_t i = first; i < std::min(records.size(), first + 500); ++i) {
      entries.push_back({{"PartitionKey", records[i].partition_key},
                         {"Data", sluice::Base64Encode(records[i].data)}});
    }
    const json reply = client.Ok("PutRecords", {{"StreamName", stream}, {"Records", entries}});
    REQUIRE(reply.value("FailedRecordCount", -1) == 0);
    for (const json& result : reply.at("Records")) {
      last_by_shard[result.at("ShardId").get<std::string>()] =
          result.at("SequenceNumber").get<std::string>();
    }
  }
  return last_by_shard;
}

// The items of a table as key -> value (`sluice kv scan`).
std::map<std::string, json> ScanTable(const SluiceServer& server, const std::string& table) {
  const CommandResult r = Sluice(server, {"kv", "scan", table, "--limit", "1000"});
  INFO("sluice kv scan " << table << ": " << r.err);
  REQUIRE(r.exit_code == 0);
  REQUIRE(r.err.empty());  // no "(more items ...)": every item is here
  std::map<std::string, json> items;
  for (const std::string& line : Lines(r.out)) {
    const size_t tab = line.find('\t');
    if (tab != std::string::npos) {
      items[line.substr(0, tab)] = json::parse(line.substr(tab + 1), nullptr, false);
    }
  }
  return items;
}

// counters/<key>.n for every key that has one.
std::map<std::string, int64_t> Counters(const SluiceServer& server) {
  std::map<std::string, int64_t> counters;
  for (const auto& [key, value] : ScanTable(server, "counters")) {
    if (value.is_object() && value.contains("n") && value["n"].is_number_integer()) {
      counters[key] = value["n"].get<int64_t>();
    }
  }
  return counters;
}

int64_t Total(const std::map<std::string, int64_t>& counters) {
  int64_t total = 0;
  for (const auto& [key, n] : counters) {
    total += n;
  }
  return total;
}

// One shard row of a mapping in `sluice status`.
struct ShardRow {
  std::string shard_id;
  std::string phase;
  std::string position;
  int64_t age_ms = 0;
  uint64_t polled = 0, invoked = 0, filtered = 0, failed = 0, dropped = 0;
};

// The shard rows under mapping `uuid` in `sluice status` (none if it is not shown).
std::vector<ShardRow> StatusShards(const SluiceServer& server, const std::string& uuid) {
  const CommandResult r = Sluice(server, {"status"});
  std::vector<ShardRow> rows;
  bool in_mappings = false;
  bool in_ours = false;
  for (const std::string& line : Lines(r.out)) {
    std::istringstream words(line);
    std::vector<std::string> tokens;
    for (std::string token; words >> token;) {
      tokens.push_back(token);
    }
    if (tokens.empty()) {
      continue;
    }
    if (tokens[0] == "MAPPINGS") {
      in_mappings = true;
      continue;
    }
    if (!in_mappings) {
      continue;
    }
    if (tokens[0].size() == 36 && tokens[0][8] == '-') {  // a mapping: UUID FUNCTION ...
      in_ours = tokens[0] == uuid;
      continue;
    }
    if (in_ours && tokens[0].rfind("shardId-", 0) == 0 && tokens.size() == 9) {
      ShardRow row;
      row.shard_id = tokens[0];
      row.phase = tokens[1];
      row.position = tokens[2];
      row.age_ms = std::stoll(tokens[3]);
      row.polled = std::stoull(tokens[4]);
      row.invoked = std::stoull(tokens[5]);
      row.filtered = std::stoull(tokens[6]);
      row.failed = std::stoull(tokens[7]);
      row.dropped = std::stoull(tokens[8]);
      rows.push_back(row);
    }
  }
  return rows;
}

// Whether every shard of the mapping has checkpointed the last record put into it.
bool ReachedEnd(const SluiceServer& server, const std::string& uuid,
                const std::map<std::string, std::string>& last_by_shard) {
  std::map<std::string, std::string> positions;
  for (const ShardRow& row : StatusShards(server, uuid)) {
    positions[row.shard_id] = row.position;
  }
  for (const auto& [shard, last] : last_by_shard) {
    if (positions[shard] != last) {
      return false;
    }
  }
  return true;
}

std::string Describe(const std::vector<ShardRow>& rows) {
  std::string text;
  for (const ShardRow& row : rows) {
    text += row.shard_id + " " + row.phase + " " + row.position + " polled " +
            std::to_string(row.polled) + " invoked " + std::to_string(row.invoked) + " failed " +
            std::to_string(row.failed) + " dropped " + std::to_string(row.dropped) + "\n";
  }
  return text;
}

bool IsSequenceNumber(const std::string& text) {
  return text.size() == 38 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The records for `count` increments over `keys` keys ("k00", "k01", ...), key i % keys.
std::vector<Put> Increments(int count, int keys, std::map<std::string, int64_t>* expected) {
  std::vector<Put> records;
  for (int i = 0; i < count; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02d", i % keys);
    records.push_back({key, AddOne(key)});
    ++(*expected)[key];
  }
  return records;
}

// The value of the /metrics sample `name{...}` whose labels include every one of `labels`
// (summed over the samples that match); nullopt when none does.
std::optional<double> MetricValue(const std::string& metrics, const std::string& name,
                                  const std::vector<std::string>& labels) {
  std::optional<double> sum;
  for (const std::string& line : Lines(metrics)) {
    if (line.rfind(name + "{", 0) != 0) {
      continue;
    }
    const size_t close = line.rfind('}');
    if (close == std::string::npos) {
      continue;
    }
    const std::string label_text = line.substr(name.size(), close - name.size() + 1);
    bool all = true;
    for (const std::string& label : labels) {
      all = all && label_text.find(label) != std::string::npos;
    }
    if (all) {
      sum = sum.value_or(0) + std::stod(line.substr(close + 1));
    }
  }
  return sum;
}

// A process, told apart from a later one with the same pid by its start time.
struct ProcessId {
  pid_t pid = 0;
  std::string start_time;  // /proc/PID/stat field 22, clock ticks since boot
  std::string name;
};

// /proc/PID/stat's fields after the command name (state is [0], ppid [1], starttime [19]); empty
// when the process is gone.
std::vector<std::string> StatFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t name_end = stat.rfind(')');
  if (name_end == std::string::npos) {
    return {};
  }
  std::istringstream words(stat.substr(name_end + 1));
  std::vector<std::string> fields;
  for (std::string field; words >> field;) {
    fields.push_back(field);
  }
  return fields.size() > 19 ? fields : std::vector<std::string>();
}

// Every process descending from `root` (its children, theirs, ...), from /proc.
std::vector<ProcessId> Descendants(pid_t root) {
  std::map<pid_t, std::vector<ProcessId>> children;
  std::error_code ec;
  for (const std::filesystem::directory_entry& entry :
       std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    const pid_t pid = std::stoi(name);
    const std::vector<std::string> fields = StatFields(pid);
    if (!fields.empty()) {
      std::ifstream comm(entry.path() / "comm");
      ProcessId process{pid, fields[19], ""};
      std::getline(comm, process.name);
      children[std::stoi(fields[1])].push_back(process);
    }
  }
  std::vector<ProcessId> found;
  std::vector<pid_t> parents = {root};
  while (!parents.empty()) {
    const pid_t parent = parents.back();
    parents.pop_back();
    for (const ProcessId& child : children[parent]) {
      found.push_back(child);
      parents.push_back(child.pid);
    }
  }
  return found;
}

// Whether the process still runs (a zombie has ended).
bool Running(const ProcessId& process) {
  const std::vector<std::string> fields = StatFields(process.pid);
  return !fields.empty() && fields[19] == process.start_time && fields[0] != "Z";
}

// Kills the host (-9) and checks that every process it had started (function instances and
// their sandbox inits) ends too.
void KillAndCheckNothingLeft(SluiceServer& server) {
  const std::vector<ProcessId> started = Descendants(server.pid());
  CHECK(!started.empty());  // the function's instances
  server.Kill();
  std::string left;
  const bool ended = WaitUntil(
      [&] {
        left.clear();
        for (const ProcessId& process : started) {
          if (Running(process)) {
            left += std::to_string(process.pid) + " " + process.name + "\n";
          }
        }
        return left.empty();
      },
      std::chrono::seconds(10));
  INFO("still running after the host was killed:\n" << left);
  CHECK(ended);
}

}  // namespace

TEST_CASE("attach refuses bad settings naming the property, the value and the range",
          "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 1);

  struct Refusal {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Refusal> refusals = {
      {{"probe", "--stream", "s", "--batch-size", "0"},
       "BatchSize: must be an integer from 1 to 10000, got 0"},
      {{"probe", "--stream", "s", "--parallelization-factor", "11"},
       "ParallelizationFactor: must be an integer from 1 to 10, got 11"},
      {{"probe", "--stream", "s", "--maximum-record-age", "30"},
       "MaximumRecordAgeInSeconds: must be -1 or from 60 to 604800, got 30"},
      {{"probe", "--stream", "s", "--starting-position", "BOGUS"},
       R"(StartingPosition: must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, got "BOGUS")"},
      {{"probe", "--stream", "s", "--starting-position", "AT_TIMESTAMP"},
       "StartingPositionTimestamp: required with StartingPosition AT_TIMESTAMP"},
      {{"probe", "--stream", "s", "--filter", R"({"data": 5})"},
       "FilterCriteria.Filters[0].Pattern: data: must be an object naming fields of the record's "
       "JSON data, got 5"},
      {{"nosuch", "--stream", "s"}, "FunctionName: function nosuch does not exist"},
      {{"probe", "--stream", "nosuch"}, "EventSourceArn: stream nosuch does not exist"},
  };
  for (const Refusal& refusal : refusals) {
    std::vector<std::string> args = {"attach"};
    args.insert(args.end(), refusal.args.begin(), refusal.args.end());
    const CommandResult r = Sluice(server, args);
    INFO("sluice attach " << refusal.args[0] << " " << refusal.args.back() << " -> " << r.exit_code
                          << " " << r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err == "sluice attach: " + refusal.message + "\n");
  }
  // None of them made a mapping.
  CommandResult r = Sluice(server, {"mappings", "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out) == json({{"EventSourceMappings", json::array()}}));

  // One function and stream can be attached once; the refusal names the mapping there is.
  const json first = Attach(server, {"probe", "--stream", "s"});
  r = Sluice(server, {"attach", "probe", "--stream", "s", "--batch-size", "7"});
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("already attached to stream \"s\"") != std::string::npos);
  CHECK(r.err.find(first["UUID"].get<std::string>()) != std::string::npos);
  r = Sluice(server, {"mappings", "--json"});
  CHECK(json::parse(r.out)["EventSourceMappings"].size() == 1);
}

TEST_CASE("a mapping from a file is listed, shown with every property, updated, paused and deleted",
          "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 1);
  const std::string mapping_file = probe.dir() + "/mapping.json";
  std::ofstream(mapping_file) << R"({"FunctionName": "probe", "EventSourceArn": "s"})";

  const json created = Attach(server, {"--file", mapping_file});
  const std::string uuid = created["UUID"];
  CHECK(uuid.size() == 36);

  CommandResult r = Sluice(server, {"mappings"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> listed = Lines(r.out);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].rfind("UUID", 0) == 0);
  CHECK(listed[1].rfind(uuid + "  probe ", 0) == 0);
  CHECK(listed[1].find(" s ") != std::string::npos);
  CHECK(listed[1].find(" Enabled ") != std::string::npos);
  CHECK(listed[1].find(" 100 TRIM_HORIZON") != std::string::npos);
  CHECK(Lines(Sluice(server, {"mappings", "--function", "other"}).out).size() == 1);

  r = Sluice(server, {"mapping", "get", uuid});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  json got = json::parse(r.out);
  CHECK(got == created);
  CHECK(got["UUID"] == uuid);
  CHECK(got["FunctionName"] == "probe");
  CHECK(got["FunctionArn"].get<std::string>().find(":function:probe") != std::string::npos);
  CHECK(got["EventSourceArn"].get<std::string>().rfind("arn:aws:kinesis:", 0) == 0);
  CHECK(got["EventSourceArn"].get<std::string>().ends_with(":stream/s"));
  CHECK(got["BatchSize"] == 100);
  CHECK(got["MaximumBatchingWindowInSeconds"] == 0);
  CHECK(got["StartingPosition"] == "TRIM_HORIZON");
  CHECK(got["ParallelizationFactor"] == 1);
  CHECK(got["MaximumRetryAttempts"] == -1);
  CHECK(got["MaximumRecordAgeInSeconds"] == -1);
  CHECK(got["BisectBatchOnFunctionError"] == false);
  CHECK(got["DestinationConfig"] == json::parse(R"({"OnFailure": {}})"));
  CHECK(got["FunctionResponseTypes"] == json::array());
  CHECK(got["TumblingWindowInSeconds"] == 0);
  CHECK(got["FilterCriteria"] == json::parse(R"({"Filters": []})"));
  CHECK(got["State"] == "Enabled");
  CHECK(got["Enabled"] == true);
  CHECK(got["LastModified"].is_number());

  r = Sluice(server, {"mapping", "update", uuid, "--batch-size", "5"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["BatchSize"] == 5);
  got = json::parse(Sluice(server, {"mapping", "get", uuid}).out);
  CHECK(got["BatchSize"] == 5);
  CHECK(got["MaximumRetryAttempts"] == -1);  // the rest is as it was
  // An update is checked as a creation is.
  r = Sluice(server, {"mapping", "update", uuid, "--batch-size", "10001"});
  CHECK(r.exit_code == 2);
  CHECK(r.err ==
        "sluice mapping update: BatchSize: must be an integer from 1 to 10000, got 10001\n");
  r = Sluice(server, {"mapping", "update", uuid, "--stream", "other"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("EventSourceArn") != std::string::npos);

  r = Sluice(server, {"mapping", "disable", uuid});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["State"] == "Disabled");
  CHECK(json::parse(Sluice(server, {"mapping", "get", uuid}).out)["State"] == "Disabled");
  CHECK(Sluice(server, {"mappings"}).out.find(" Disabled ") != std::string::npos);
  r = Sluice(server, {"mapping", "enable", uuid});
  REQUIRE(r.exit_code == 0);
  CHECK(json::parse(r.out)["State"] == "Enabled");
  CHECK(json::parse(r.out)["BatchSize"] == 5);

  r = Sluice(server, {"mapping", "delete", uuid});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "deleted mapping " + uuid + "\n");
  CHECK(json::parse(Sluice(server, {"mappings", "--json"}).out)["EventSourceMappings"].empty());

  // An unknown UUID is NOT_FOUND (exit 2), named, for every verb.
  for (const std::string action : {"get", "enable", "disable", "delete"}) {
    r = Sluice(server, {"mapping", action, uuid});
    INFO(action << ": " << r.out << r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.out.empty());
    CHECK(r.err ==
          "sluice mapping " + action + ": event source mapping " + uuid + " does not exist\n");
  }
  r = Sluice(server, {"mapping", "update", uuid, "--batch-size", "5"});
  CHECK(r.exit_code == 2);
  CHECK(r.err == "sluice mapping update: event source mapping " + uuid + " does not exist\n");
}

TEST_CASE("records of a 2-shard stream reach the function once each, and status shows each shard",
          "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 2);
  const std::string uuid = Attach(server, {"probe", "--stream", "s", "--batch-size", "10"})["UUID"];

  KinesisClient kinesis(server.port());
  std::map<std::string, int64_t> expected;
  const std::vector<Put> records = Increments(200, 20, &expected);
  const std::map<std::string, std::string> last_by_shard = PutAll(kinesis, "s", records);
  REQUIRE(last_by_shard.size() == 2);  // 20 keys land in both shards

  CHECK(WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); }));
  CHECK(json(Counters(server)) == json(expected));

  const std::vector<ShardRow> rows = StatusShards(server, uuid);
  INFO(Describe(rows));
  REQUIRE(rows.size() == 2);
  uint64_t polled = 0;
  uint64_t invoked = 0;
  for (const ShardRow& row : rows) {
    CHECK(row.phase == "running");
    CHECK(IsSequenceNumber(row.position));
    CHECK(row.position == last_by_shard.at(row.shard_id));
    CHECK(row.polled > 0);
    CHECK(row.invoked == row.polled);
    CHECK(row.failed == 0);
    CHECK(row.dropped == 0);
    CHECK(row.age_ms >= 0);
    polled += row.polled;
    invoked += row.invoked;
  }
  CHECK(polled == records.size());
  CHECK(invoked == records.size());
  const std::string status = Sluice(server, {"status"}).out;
  CHECK(status.find(uuid + " probe                s                Enabled") != std::string::npos);
}

TEST_CASE(
    "commit conflicts between two shards updating one item are retried without counting, and "
    "no record is lost",
    "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 2);
  // No retries allowed: a conflict counted as a function error would discard its record.
  const std::string uuid = Attach(server, {"probe", "--stream", "s", "--batch-size", "1",
                                           "--maximum-retry-attempts", "0"})["UUID"];
  KinesisClient kinesis(server.port());
  std::vector<Put> records;
  for (int i = 0; i < 40; ++i) {
    // Read, then wait, so that the other shard commits between this read and this commit.
    records.push_back(
        {std::string("k").append(std::to_string(i)),
         json::array({json{{"cas_add", {"counters", "total", "n", 1}}}, json{{"sleep_ms", 20}}})
             .dump()});
  }
  const std::map<std::string, std::string> last_by_shard = PutAll(kinesis, "s", records);
  REQUIRE(last_by_shard.size() == 2);
  CHECK(WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); }));
  INFO("counters: " << json(Counters(server)).dump());
  CHECK(Counters(server) == std::map<std::string, int64_t>{{"total", 40}});
  uint64_t dropped = 0;
  for (const ShardRow& row : StatusShards(server, uuid)) {
    dropped += row.dropped;
  }
  CHECK(dropped == 0);
}

TEST_CASE(
    "item failures reported to a mapping without ReportBatchItemFailures are ignored, as in "
    "Lambda, and the log says so once",
    "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 1);
  const std::string uuid = Attach(server, {"probe", "--stream", "s"})["UUID"];
  KinesisClient kinesis(server.port());
  const std::map<std::string, std::string> last = PutAll(
      kinesis, "s",
      {{"k", AddOne("before")}, {"k", json{{"fail", "bad toll"}}.dump()}, {"k", AddOne("after")}});
  CHECK(WaitUntil([&] { return ReachedEnd(server, uuid, last); }));
  // The probe stops at the failed record; the mapping takes the batch as done, so "after" is
  // never run: what the warning is for.
  CHECK(Counters(server) == std::map<std::string, int64_t>{{"before", 1}});
  const std::string log = server.Log();
  const std::string warning = "reports batch item failures, which this mapping ignores";
  const size_t first = log.find(warning);
  CHECK(first != std::string::npos);
  CHECK(log.find(warning, first + 1) == std::string::npos);
}

TEST_CASE("a disabled mapping invokes nothing and, enabled again, goes on from where it stopped",
          "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 1);
  const std::string uuid = Attach(server, {"probe", "--stream", "s"})["UUID"];

  // `sluice put`, one record per line, the key from each line's "key".
  const auto put_lines = [&](int count) {
    std::string lines;
    for (int i = 0; i < count; ++i) {
      lines += R"({"key": "k", "add": ["counters", "k", "n", 1]})"
               "\n";
    }
    const CommandResult r = RunCommand(
        {SLUICE_BIN, "put", "s", "--partition-key-field", "key", "--endpoint", server.endpoint()},
        lines);
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
  };
  const auto counter = [&] { return Counters(server)["k"]; };

  put_lines(5);
  REQUIRE(WaitUntil([&] { return counter() == 5; }));
  std::vector<ShardRow> rows = StatusShards(server, uuid);
  REQUIRE(rows.size() == 1);
  const std::string position = rows[0].position;
  CHECK(IsSequenceNumber(position));

  REQUIRE(Sluice(server, {"mapping", "disable", uuid}).exit_code == 0);
  put_lines(7);
  // Nothing can be waited for here: give a running poller ample time to (wrongly) invoke.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(counter() == 5);
  rows = StatusShards(server, uuid);
  INFO(Describe(rows));
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].position == position);
  CHECK(rows[0].phase == "disabled");

  REQUIRE(Sluice(server, {"mapping", "enable", uuid}).exit_code == 0);
  CHECK(WaitUntil([&] { return counter() == 12; }));
  // Every record once: the shard's position reaches its last record and the sum stays 12.
  KinesisClient kinesis(server.port());
  const std::vector<sluice::testing::ReadRecord> all =
      sluice::testing::ReadWholeShard(kinesis, "s", "shardId-000000000000");
  REQUIRE(all.size() == 12);
  CHECK(WaitUntil([&] {
    return ReachedEnd(server, uuid, {{"shardId-000000000000", all.back().sequence_number}});
  }));
  CHECK(counter() == 12);
  rows = StatusShards(server, uuid);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].phase == "running");
  CHECK(rows[0].invoked == 12);
}

TEST_CASE("apply creates a stack's mapping, leaves it unchanged, and updates its BatchSize",
          "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  json stack = json::parse(R"({
    "Streams": [{"StreamName": "s", "ShardCount": 2}],
    "Functions": [{"Manifest": "function.json"}],
    "EventSourceMappings": [{"FunctionName": "probe", "EventSourceArn": "s", "BatchSize": 10}]
  })");
  const std::string stack_path = probe.dir() + "/stack.json";
  const auto apply = [&] {
    std::ofstream(stack_path) << stack.dump(2);
    return Sluice(server, {"apply", stack_path});
  };

  CommandResult r = apply();
  INFO(r.out << r.err << server.Log());
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> lines = Lines(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "created stream s (2 shards)");
  CHECK(lines[1].rfind("deployed function probe ($LATEST code ", 0) == 0);
  const json mappings = json::parse(Sluice(server, {"mappings", "--json"}).out);
  REQUIRE(mappings["EventSourceMappings"].size() == 1);
  const std::string uuid = mappings["EventSourceMappings"][0]["UUID"];
  CHECK(lines[2] == "created mapping probe <- s (" + uuid + ")");
  CHECK(lines[3] == "3 created, 0 updated, 0 unchanged, 0 removed");
  CHECK(mappings["EventSourceMappings"][0]["BatchSize"] == 10);

  r = apply();
  lines = Lines(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(lines[2] == "unchanged mapping probe <- s");
  CHECK(lines[3] == "0 created, 0 updated, 3 unchanged, 0 removed");

  stack["EventSourceMappings"][0]["BatchSize"] = 20;
  r = apply();
  lines = Lines(r.out);
  REQUIRE(lines.size() == 4);
  CHECK(lines[2] == "updated mapping probe <- s: BatchSize");
  CHECK(lines[3] == "0 created, 1 updated, 2 unchanged, 0 removed");
  const json got = json::parse(Sluice(server, {"mapping", "get", uuid}).out);
  CHECK(got["BatchSize"] == 20);

  // The stack's mapping runs.
  KinesisClient kinesis(server.port());
  std::map<std::string, int64_t> expected;
  const auto last_by_shard = PutAll(kinesis, "s", Increments(40, 4, &expected));
  CHECK(WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); }));
  CHECK(json(Counters(server)) == json(expected));
}

TEST_CASE(
    "kill -9 with retries and bisections in flight: after the restart every effect is applied "
    "once and each poison record is discarded to the directory",
    "[host][mapping]") {
  // One lane per shard, and three (lanes finish out of order, so the checkpoint holds each
  // lane's position beyond the shard's finished prefix).
  const std::string lanes = GENERATE("1", "3");
  INFO("ParallelizationFactor " << lanes);
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 2);
  const std::string failed_dir = server.temp_dir() + "/failed";
  const std::string uuid =
      Attach(server, {"probe", "--stream", "s", "--batch-size", "50", "--parallelization-factor",
                      lanes, "--bisect-batch-on-function-error", "--maximum-retry-attempts", "2",
                      "--on-failure", "file://" + failed_dir})["UUID"];

  // 1,000 records over 20 keys; each takes 2 ms, so invokes are in flight most of the time. A
  // poison record adds too, then crashes the function: a function error that nothing of its
  // batch survives, so bisection must isolate it and discard it alone. (Its "log", never reached,
  // makes each poison record's data unique.)
  constexpr int kRecords = 1000;
  constexpr int kKeys = 20;
  const std::set<int> poison_indices = {137, 411, 688, 912};
  std::vector<Put> records;
  std::map<std::string, int64_t> expected;
  std::set<std::string> poison_datas;
  for (int i = 0; i < kRecords; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02d", i % kKeys);
    json commands = {{{"add", {"counters", key, "n", 1}}}, {{"sleep_ms", 2}}};
    if (poison_indices.count(i)) {
      commands = {{{"add", {"counters", key, "n", 1}}},
                  {{"add", {"poison", key, "n", 1}}},
                  {{"crash", true}},
                  {{"log", std::to_string(i)}}};
      poison_datas.insert(commands.dump());
    } else {
      ++expected[key];
    }
    records.push_back({key, commands.dump()});
  }
  KinesisClient kinesis(server.port());
  const std::map<std::string, std::string> last_by_shard = PutAll(kinesis, "s", records);
  REQUIRE(last_by_shard.size() == 2);

  // Once a few hundred records' effects are visible, kill the host in the middle of it.
  REQUIRE(WaitUntil([&] { return Total(Counters(server)) >= 300; }));
  const std::vector<ShardRow> before_kill = StatusShards(server, uuid);
  server.Kill();
  server.Restart();  // at once, as a supervisor would
  INFO("before the kill:\n" << Describe(before_kill));
  bool unfinished_at_kill = false;
  for (const ShardRow& row : before_kill) {
    unfinished_at_kill = unfinished_at_kill || row.position != last_by_shard.at(row.shard_id);
  }
  CHECK(unfinished_at_kill);

  const bool reached = WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); });
  const std::vector<ShardRow> after = StatusShards(server, uuid);
  INFO("after the restart:\n" << Describe(after) << server.Log());
  REQUIRE(reached);
  CHECK(json(Counters(server)) == json(expected));
  CHECK(ScanTable(server, "poison").empty());

  // One file per poison record, each with the record alone.
  std::vector<json> discards;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(failed_dir)) {
    if (entry.is_regular_file()) {
      INFO(entry.path());
      REQUIRE(entry.path().extension() == ".json");
      std::ifstream in(entry.path());
      discards.push_back(json::parse(in));
    }
  }
  REQUIRE(discards.size() == poison_datas.size());
  std::set<std::string> discarded_datas;
  for (const json& discard : discards) {
    INFO(discard.dump());
    CHECK(discard["requestContext"]["condition"] == "RetryAttemptsExhausted");
    CHECK(discard["requestContext"]["approximateInvokeCount"].get<int>() >= 3);
    CHECK(discard["requestContext"]["functionArn"].get<std::string>().find(":function:probe") !=
          std::string::npos);
    CHECK(discard["responseContext"]["functionError"] == "Unhandled");
    const json& info = discard["KinesisBatchInfo"];
    CHECK(info["batchSize"] == 1);
    CHECK(info["startSequenceNumber"] == info["endSequenceNumber"]);
    const json& payload_records = discard["payload"]["Records"];
    REQUIRE(payload_records.size() == 1);
    const json& kinesis_record = payload_records[0]["kinesis"];
    CHECK(kinesis_record["sequenceNumber"] == info["startSequenceNumber"]);
    std::string data;
    CHECK(sluice::Base64Decode(kinesis_record["data"].get<std::string>(), &data));
    discarded_datas.insert(data);
  }
  CHECK(discarded_datas == poison_datas);
  KillAndCheckNothingLeft(server);
}

TEST_CASE("/metrics shows the mapping's iterator age and invoked records", "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 1);
  const std::string uuid = Attach(server, {"probe", "--stream", "s"})["UUID"];
  KinesisClient kinesis(server.port());
  std::map<std::string, int64_t> expected;
  const auto last_by_shard = PutAll(kinesis, "s", Increments(25, 5, &expected));
  REQUIRE(WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); }));

  const CommandResult r = RunCommand({"/usr/bin/curl", "-sS", server.endpoint() + "/metrics"});
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::vector<std::string> labels = {"mapping=\"" + uuid + "\"", R"(function="probe")",
                                           R"(stream="s")", R"(shard="shardId-000000000000")"};
  CHECK(MetricValue(r.out, "sluice_mapping_invoked_records_total", labels) == 25);
  CHECK(MetricValue(r.out, "sluice_mapping_polled_records_total", labels) == 25);
  const std::optional<double> age =
      MetricValue(r.out, "sluice_mapping_iterator_age_milliseconds", labels);
  REQUIRE(age);
  CHECK(*age >= 0);
  CHECK(*age < 30'000);
  CHECK(r.out.find("# TYPE sluice_mapping_iterator_age_milliseconds gauge") != std::string::npos);
  CHECK(r.out.find("# TYPE sluice_mapping_invoked_records_total counter") != std::string::npos);
}

TEST_CASE(
    "changing ParallelizationFactor and BatchSize while records flow, with kill -9 between, "
    "applies every effect once",
    "[host][mapping]") {
  SluiceServer server;
  FunctionDir probe("probe", EFFECTS_PROBE_BIN, kProbeManifest);
  DeployProbe(server, probe);
  CreateStream(server, "s", 2);
  const std::string uuid = Attach(server, {"probe", "--stream", "s", "--batch-size", "20",
                                           "--parallelization-factor", "4"})["UUID"];
  // 1,000 records over 40 keys, 10 ms each.
  constexpr int kRecords = 1000;
  std::vector<Put> records;
  std::map<std::string, int64_t> expected;
  for (int i = 0; i < kRecords; ++i) {
    char key[8];
    std::snprintf(key, sizeof key, "k%02d", i % 40);
    records.push_back({key, json{{{"add", {"counters", key, "n", 1}}}, {{"sleep_ms", 10}}}.dump()});
    ++expected[key];
  }
  KinesisClient kinesis(server.port());
  const std::map<std::string, std::string> last_by_shard = PutAll(kinesis, "s", records);

  // Each change waits for some progress since the last one, so they land while records flow;
  // every second one is followed by kill -9 and a restart.
  const std::vector<std::string> factors = {"1", "3", "2", "4"};
  int64_t seen = 0;
  std::string progress;
  int changes = 0;
  for (; changes < 8; ++changes) {
    const bool progressed = WaitUntil([&] {
      const int64_t total = Total(Counters(server));
      return total >= seen + 60 || total == kRecords;
    });
    seen = Total(Counters(server));
    progress += std::to_string(seen) + " ";
    if (!progressed) {
      FAIL("no progress after change " << changes << ", effects seen: " << progress << "\n"
                                       << Describe(StatusShards(server, uuid)) << server.Log());
    }
    if (seen == kRecords) {
      break;
    }
    const CommandResult r = Sluice(
        server, {"mapping", "update", uuid, "--parallelization-factor",
                 factors[changes % factors.size()], "--batch-size", std::to_string(5 + changes)});
    INFO(r.out << r.err);
    REQUIRE(r.exit_code == 0);
    if (changes % 2 == 1) {
      server.Kill();
      server.Restart();
    }
  }
  INFO("effects seen at each change: " << progress);
  CHECK(changes >= 4);  // two of them with a kill
  const bool reached = WaitUntil([&] { return ReachedEnd(server, uuid, last_by_shard); });
  INFO(Describe(StatusShards(server, uuid)));
  REQUIRE(reached);
  CHECK(json(Counters(server)) == json(expected));
  KillAndCheckNothingLeft(server);
}
