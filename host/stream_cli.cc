#include "host/stream_cli.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "base/text.h"
#include "host/aws_json_client.h"
#include "host/batch_putter.h"
#include "host/cli_flags.h"
#include "sluice/aws_json.h"
#include "sluice/base64.h"
#include "stream/kinesis_api.h"

namespace sluice::host {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordBytes = 1u << 20;  // a record's data
constexpr size_t kMaxPartitionKeyChars = 256;

constexpr char kStreamsUsage[] =
    "usage: sluice streams create NAME [--shards N]\n"
    "       sluice streams list\n"
    "       sluice streams describe NAME\n"
    "       sluice streams delete NAME\n"
    "  Every verb takes --endpoint URL (default $SLUICE_ENDPOINT, else http://127.0.0.1:4566).\n";

constexpr char kPutUsage[] =
    "usage: sluice put STREAM --partition-key K --data TEXT\n"
    "       sluice put STREAM (--partition-key K | --partition-key-field FIELD) < records\n"
    "  With no --data, each line of stdin is a record; --partition-key-field takes the key from\n"
    "  that field of each line, read as a JSON object.\n";

constexpr char kTailUsage[] =
    "usage: sluice tail STREAM [--from trim-horizon|latest|at-timestamp] [--timestamp T]\n"
    "                          [--format text|json] [--exit-at-end]\n"
    "  Prints the stream's records as they arrive, parents before children. T is epoch seconds\n"
    "  or YYYY-MM-DDTHH:MM:SSZ. --exit-at-end stops once every shard is read to its end.\n";

int StreamsCreate(AwsJsonClient& client, const CliFlags& flags) {
  Result<int64_t> shards = flags.Integer("--shards", 1, 1, 100000);
  if (!shards.ok()) {
    return UsageError("streams create", shards.status().message(), kStreamsUsage);
  }
  const std::string& name = flags.positionals()[1];
  Result<json> reply = client.Call("CreateStream", {{"StreamName", name}, {"ShardCount", *shards}});
  if (!reply.ok()) {
    return ReportFailure("streams create", reply.status());
  }
  std::cout << "created stream " << name << " with " << *shards << " shard"
            << (*shards == 1 ? "" : "s") << std::endl;
  return 0;
}

int StreamsList(AwsJsonClient& client) {
  json request = json::object();
  while (true) {
    Result<json> reply = client.Call("ListStreams", request);
    if (!reply.ok()) {
      return ReportFailure("streams list", reply.status());
    }
    for (const json& name : (*reply)["StreamNames"]) {
      std::cout << name.get<std::string>() << "\n";
    }
    if (!reply->value("HasMoreStreams", false) || !reply->contains("NextToken")) {
      break;
    }
    request = {{"NextToken", (*reply)["NextToken"]}};
  }
  std::cout << std::flush;
  return 0;
}

Result<std::vector<json>> ListAllShards(AwsJsonClient& client, const std::string& name) {
  std::vector<json> shards;
  json request = {{"StreamName", name}};
  while (true) {
    Result<json> reply = client.Call("ListShards", request);
    if (!reply.ok()) {
      return reply.status();
    }
    for (const json& shard : (*reply)["Shards"]) {
      shards.push_back(shard);
    }
    if (!reply->contains("NextToken")) {
      return shards;
    }
    request = {{"NextToken", (*reply)["NextToken"]}};
  }
}

int StreamsDescribe(AwsJsonClient& client, const CliFlags& flags) {
  const std::string& name = flags.positionals()[1];
  Result<json> summary = client.Call("DescribeStreamSummary", {{"StreamName", name}});
  if (!summary.ok()) {
    return ReportFailure("streams describe", summary.status());
  }
  Result<std::vector<json>> shards = ListAllShards(client, name);
  if (!shards.ok()) {
    return ReportFailure("streams describe", shards.status());
  }
  const json& s = (*summary)["StreamDescriptionSummary"];
  std::cout << "stream     " << name << "\n"
            << "arn        " << s["StreamARN"].get<std::string>() << "\n"
            << "status     " << s["StreamStatus"].get<std::string>() << "\n"
            << "retention  " << s["RetentionPeriodHours"].get<int>() << " hours\n"
            << "created    "
            << aws_json::Iso8601FromMillis(
                   static_cast<int64_t>(s["StreamCreationTimestamp"].get<double>() * 1000))
            << "\n"
            << "open shards " << s["OpenShardCount"].get<int>() << " of " << shards->size()
            << "\n\n";
  for (const json& shard : *shards) {
    const bool closed = shard["SequenceNumberRange"].contains("EndingSequenceNumber");
    std::cout << shard["ShardId"].get<std::string>() << (closed ? "  closed" : "  open  ")
              << "  hash keys " << shard["HashKeyRange"]["StartingHashKey"].get<std::string>()
              << " - " << shard["HashKeyRange"]["EndingHashKey"].get<std::string>();
    if (shard.contains("ParentShardId")) {
      std::cout << "  parent " << shard["ParentShardId"].get<std::string>();
    }
    if (shard.contains("AdjacentParentShardId")) {
      std::cout << " + " << shard["AdjacentParentShardId"].get<std::string>();
    }
    std::cout << "\n";
  }
  std::cout << std::flush;
  return 0;
}

int StreamsDelete(AwsJsonClient& client, const CliFlags& flags) {
  const std::string& name = flags.positionals()[1];
  Result<json> reply = client.Call("DeleteStream", {{"StreamName", name}});
  if (!reply.ok()) {
    return ReportFailure("streams delete", reply.status());
  }
  std::cout << "deleted stream " << name << std::endl;
  return 0;
}

// The partition key of one stdin line: the fixed key, or the field of the line's JSON object.
Result<std::string> PartitionKeyOf(const std::string& line, const CliFlags& flags) {
  if (std::optional<std::string> key = flags.Get("--partition-key")) {
    return *key;
  }
  const std::string field = *flags.Get("--partition-key-field");
  const json record = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded() || !record.is_object()) {
    return InvalidArgument("not a JSON object, so it has no field \"" + field + "\"");
  }
  auto it = record.find(field);
  if (it == record.end() || !(it->is_string() || it->is_number())) {
    return InvalidArgument("no string or number field \"" + field + "\"");
  }
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// The partition key back if the record fits Kinesis's limits, so one bad line is reported on
// its own instead of failing the whole PutRecords batch it would be sent in.
Result<std::string> CheckRecord(std::string partition_key, const std::string& data) {
  const size_t chars = Utf8CharCount(partition_key);
  if (chars < 1 || chars > kMaxPartitionKeyChars) {
    return InvalidArgument("the partition key must be 1-256 characters, got " +
                           std::to_string(chars));
  }
  if (data.size() > kMaxRecordBytes) {
    return InvalidArgument("the record is " + std::to_string(data.size()) +
                           " bytes; Kinesis records hold at most 1 MiB");
  }
  return partition_key;
}

}  // namespace

int StreamsMain(const std::vector<std::string>& args) {
  Result<CliFlags> flags = CliFlags::Parse(args, {"--endpoint", "--shards"});
  if (!flags.ok()) {
    return UsageError("streams", flags.status().message(), kStreamsUsage);
  }
  const std::vector<std::string>& positionals = flags->positionals();
  const std::string verb = positionals.empty() ? "" : positionals[0];
  const size_t wanted = verb == "list" ? 1 : 2;
  if (verb != "create" && verb != "list" && verb != "describe" && verb != "delete") {
    return UsageError("streams", verb.empty() ? "missing verb" : "unknown verb '" + verb + "'",
                      kStreamsUsage);
  }
  if (positionals.size() != wanted) {
    return UsageError("streams " + verb,
                      positionals.size() < wanted ? "missing stream name" : "too many arguments",
                      kStreamsUsage);
  }
  if (flags->Has("--shards") && verb != "create") {
    return UsageError("streams " + verb, "--shards is only for create", kStreamsUsage);
  }
  AwsJsonClient client(flags->Get("--endpoint").value_or(DefaultEndpoint()),
                       stream::kKinesisTargetPrefix);
  if (verb == "create") {
    return StreamsCreate(client, *flags);
  }
  if (verb == "list") {
    return StreamsList(client);
  }
  if (verb == "describe") {
    return StreamsDescribe(client, *flags);
  }
  return StreamsDelete(client, *flags);
}

int PutMain(const std::vector<std::string>& args) {
  Result<CliFlags> flags =
      CliFlags::Parse(args, {"--endpoint", "--partition-key", "--partition-key-field", "--data"});
  if (!flags.ok()) {
    return UsageError("put", flags.status().message(), kPutUsage);
  }
  if (flags->positionals().size() != 1) {
    return UsageError("put",
                      flags->positionals().empty() ? "missing stream name" : "too many arguments",
                      kPutUsage);
  }
  const std::string& stream = flags->positionals()[0];
  if (flags->Has("--partition-key") == flags->Has("--partition-key-field")) {
    return UsageError("put", "give exactly one of --partition-key and --partition-key-field",
                      kPutUsage);
  }
  AwsJsonClient client(flags->Get("--endpoint").value_or(DefaultEndpoint()),
                       stream::kKinesisTargetPrefix);
  if (std::optional<std::string> data = flags->Get("--data")) {
    if (!flags->Has("--partition-key")) {
      return UsageError("put", "--data needs --partition-key", kPutUsage);
    }
    Result<json> reply = client.Call("PutRecord", {{"StreamName", stream},
                                                   {"PartitionKey", *flags->Get("--partition-key")},
                                                   {"Data", Base64Encode(*data)}});
    if (!reply.ok()) {
      return ReportFailure("put", reply.status());
    }
    std::cout << (*reply)["ShardId"].get<std::string>() << " "
              << (*reply)["SequenceNumber"].get<std::string>() << std::endl;
    return 0;
  }

  BatchPutter putter(client, KinesisPutRecords(), "put", stream);
  size_t bad_lines = 0;
  const Status status = ForEachInputLine(
      STDIN_FILENO,
      [&](size_t line_number, std::string line) {
        Result<std::string> key = PartitionKeyOf(line, *flags);
        if (key.ok()) {
          key = CheckRecord(*key, line);
        }
        if (!key.ok()) {
          std::cerr << "sluice put: line " << line_number << ": " << key.status().message()
                    << "; not sent" << std::endl;
          ++bad_lines;
          return Status::Ok();
        }
        return putter.Add(line_number, std::move(*key), std::move(line));
      },
      [&] { return putter.Flush(); });
  if (!status.ok()) {
    return ReportFailure("put", status);
  }
  std::cerr << "sluice put: stored " << putter.stored() << " records in " << stream;
  if (putter.failed() + bad_lines > 0) {
    std::cerr << "; " << putter.failed() + bad_lines << " not stored (see above)";
  }
  std::cerr << std::endl;
  return putter.failed() + bad_lines > 0 ? 1 : 0;
}

int TailMain(const std::vector<std::string>& args) {
  Result<CliFlags> flags =
      CliFlags::Parse(args, {"--endpoint", "--from", "--timestamp", "--format"}, {"--exit-at-end"});
  if (!flags.ok()) {
    return UsageError("tail", flags.status().message(), kTailUsage);
  }
  if (flags->positionals().size() != 1) {
    return UsageError("tail",
                      flags->positionals().empty() ? "missing stream name" : "too many arguments",
                      kTailUsage);
  }
  const std::string& stream = flags->positionals()[0];
  const std::string from = flags->Get("--from").value_or("trim-horizon");
  const std::string format = flags->Get("--format").value_or("text");
  if (from != "trim-horizon" && from != "latest" && from != "at-timestamp") {
    return UsageError("tail", "--from must be trim-horizon, latest or at-timestamp", kTailUsage);
  }
  if (format != "text" && format != "json") {
    return UsageError("tail", "--format must be text or json", kTailUsage);
  }
  if ((from == "at-timestamp") != flags->Has("--timestamp")) {
    return UsageError("tail", "--timestamp goes with --from at-timestamp, and only with it",
                      kTailUsage);
  }
  json start = {{"ShardIteratorType", from == "trim-horizon" ? "TRIM_HORIZON"
                                      : from == "latest"     ? "LATEST"
                                                             : "AT_TIMESTAMP"}};
  if (from == "at-timestamp") {
    const std::string text = *flags->Get("--timestamp");
    int64_t ms = 0;
    double seconds = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (error == std::errc() && end == text.data() + text.size() && seconds >= 0 &&
        seconds < 1e11) {
      ms = static_cast<int64_t>(seconds * 1000);
    } else if (!aws_json::MillisFromIso8601(text, &ms)) {
      return UsageError("tail",
                        "--timestamp: '" + text +
                            "' is neither epoch seconds nor "
                            "YYYY-MM-DDTHH:MM:SSZ",
                        kTailUsage);
    }
    start["Timestamp"] = static_cast<double>(ms) / 1000.0;
  }
  AwsJsonClient client(flags->Get("--endpoint").value_or(DefaultEndpoint()),
                       stream::kKinesisTargetPrefix);
  Result<std::vector<json>> shards = ListAllShards(client, stream);
  if (!shards.ok()) {
    return ReportFailure("tail", shards.status());
  }

  // Shards being read, by id, with their iterators. A child starts once all its parents ended.
  std::map<std::string, std::string> iterators;
  std::set<std::string> known;
  std::map<std::string, std::set<std::string>> waiting_children;  // child -> parents not done
  std::set<std::string> done;
  auto open_shard = [&](const std::string& shard_id, const json& iterator_type) -> Status {
    json request = iterator_type;
    request["StreamName"] = stream;
    request["ShardId"] = shard_id;
    Result<json> reply = client.Call("GetShardIterator", request);
    if (!reply.ok()) {
      return reply.status();
    }
    iterators[shard_id] = (*reply)["ShardIterator"].get<std::string>();
    return Status::Ok();
  };
  for (const json& shard : *shards) {
    known.insert(shard["ShardId"].get<std::string>());
  }
  for (const json& shard : *shards) {
    const std::string id = shard["ShardId"].get<std::string>();
    const bool closed = shard["SequenceNumberRange"].contains("EndingSequenceNumber");
    bool has_live_parent = false;
    for (const char* key : {"ParentShardId", "AdjacentParentShardId"}) {
      if (shard.contains(key) && known.count(shard[key].get<std::string>()) != 0) {
        has_live_parent = true;
        waiting_children[id].insert(shard[key].get<std::string>());
      }
    }
    if (from == "latest" ? !closed : !has_live_parent) {
      waiting_children.erase(id);
      if (const Status status = open_shard(id, start); !status.ok()) {
        return ReportFailure("tail", status);
      }
    }
  }
  if (from == "latest") {
    waiting_children.clear();
  }

  while (true) {
    bool any_records = false;
    bool all_caught_up = true;
    for (auto it = iterators.begin(); it != iterators.end();) {
      const std::string shard_id = it->first;
      Result<json> reply = client.Call("GetRecords", {{"ShardIterator", it->second}});
      if (!reply.ok()) {
        return ReportFailure("tail", reply.status());
      }
      for (const json& record : (*reply)["Records"]) {
        any_records = true;
        std::string data;
        Base64Decode(record["Data"].get<std::string>(), &data);
        if (format == "text") {
          std::cout << data << "\n";
        } else {
          std::cout << json{{"shardId", shard_id},
                            {"sequenceNumber", record["SequenceNumber"]},
                            {"partitionKey", record["PartitionKey"]},
                            {"approximateArrivalTimestamp", record["ApproximateArrivalTimestamp"]},
                            {"data", record["Data"]}}
                           .dump()
                    << "\n";
        }
      }
      if (reply->value("MillisBehindLatest", 0) > 0) {
        all_caught_up = false;
      }
      if (reply->contains("NextShardIterator") && !(*reply)["NextShardIterator"].is_null()) {
        it->second = (*reply)["NextShardIterator"].get<std::string>();
        ++it;
        continue;
      }
      // The shard ended: start each child whose parents have all ended.
      done.insert(shard_id);
      it = iterators.erase(it);
      for (const json& child : reply->value("ChildShards", json::array())) {
        const std::string child_id = child["ShardId"].get<std::string>();
        auto& parents = waiting_children[child_id];
        for (const json& parent : child["ParentShards"]) {
          if (done.count(parent.get<std::string>()) == 0) {
            parents.insert(parent.get<std::string>());
          } else {
            parents.erase(parent.get<std::string>());
          }
        }
      }
      for (auto child = waiting_children.begin(); child != waiting_children.end();) {
        if (child->second.empty() && iterators.count(child->first) == 0 &&
            done.count(child->first) == 0) {
          if (const Status status =
                  open_shard(child->first, {{"ShardIteratorType", "TRIM_HORIZON"}});
              !status.ok()) {
            return ReportFailure("tail", status);
          }
          child = waiting_children.erase(child);
          it = iterators.begin();  // the map changed; resume from the start of this round
        } else {
          ++child;
        }
      }
    }
    std::cout << std::flush;
    if (iterators.empty() && waiting_children.empty()) {
      return 0;  // every shard read to its end (a deleted or fully resharded stream)
    }
    if (!any_records) {
      if (flags->Has("--exit-at-end") && all_caught_up) {
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

}  // namespace sluice::host
