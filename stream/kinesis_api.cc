#include "stream/kinesis_api.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "base/log.h"
#include "base/metrics.h"
#include "base/text.h"
#include "sluice/base64.h"
#include "stream/aws_json_api.h"
#include "stream/resume_token.h"
#include "stream/shard_reader.h"

namespace sluice::stream {
namespace {

using nlohmann::json;

constexpr size_t kMaxRecordDataBytes = 1u << 20;  // 1 MiB
constexpr size_t kMaxPutRecordsBytes = 5u << 20;  // 5 MiB, keys included
constexpr size_t kMaxPutRecordsCount = 500;
constexpr size_t kMaxGetRecordsBytes = 10u << 20;  // 10 MiB
constexpr int64_t kMaxGetRecordsCount = 10000;
constexpr size_t kMaxPartitionKeyChars = 256;

// Unix milliseconds as JSON 1.1 timestamp seconds: "1700000000.123".
void AppendTimestamp(std::string* out, int64_t ms) {
  char text[32];
  snprintf(text, sizeof(text), "%" PRId64 ".%03d", ms / 1000, static_cast<int>(ms % 1000));
  out->append(text);
}

json TimestampJson(int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

void CheckStreamName(std::string_view name, const char* path) {
  CheckLength(name, name.size(), 1, 128, path);
  if (!IsValidStreamName(name)) {
    FailValidation(name, path,
                   "satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and not be . or ..");
  }
}

uint32_t ShardIndexOf(std::string_view shard_id, const char* path) {
  CheckLength(shard_id, shard_id.size(), 1, 128, path);
  std::optional<uint32_t> index = ParseShardId(shard_id);
  if (!index) {
    // Well-formed but never issued here: AWS says the shard does not exist.
    FailApi("ResourceNotFoundException", "Shard " + std::string(shard_id) + " does not exist");
  }
  return *index;
}

Uint128 HashKeyOf(std::string_view text, const char* path) {
  std::optional<Uint128> value = ParseDecimal(text);
  if (!value) {
    const bool digits =
        !text.empty() && text.size() <= 39 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
        (text.size() == 1 || text[0] != '0');
    if (digits) {  // well-formed, but 2^128 or more
      FailApi("InvalidArgumentException",
              "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
              "Specified value was " +
                  std::string(text));
    }
    FailValidation(text, path, "satisfy regular expression pattern: 0|([1-9]\\d{0,38})");
  }
  return *value;
}

std::string_view DecodeData(std::string_view base64, std::string* scratch, const char* path) {
  if (!Base64Decode(base64, scratch)) {
    FailApi("SerializationException", std::string(path) + ": not valid base64");
  }
  if (scratch->size() > kMaxRecordDataBytes) {
    FailValidation("java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(scratch->size()) +
                       " cap=" + std::to_string(scratch->size()) + "]",
                   path, "have length less than or equal to 1048576");
  }
  return *scratch;
}

std::string_view CheckPartitionKey(std::string_view key, const char* path) {
  CheckLength(key, Utf8CharCount(key), 1, kMaxPartitionKeyChars, path);
  return key;
}

}  // namespace

// One request being handled: the operations, with the context they share.
class KinesisApi::Call {
 public:
  Call(StreamStore* store, const KinesisApiOptions& options, const json& body)
      : store_(*store), options_(options), fields_(body) {}

  std::string CreateStream();
  std::string DeleteStream();
  std::string ListStreams();
  std::string DescribeStream();
  std::string DescribeStreamSummary();
  std::string ListShards();
  std::string PutRecord();
  std::string PutRecords();
  std::string GetShardIterator();
  std::string GetRecords();
  std::string SplitShard();
  std::string MergeShards();
  std::string IncreaseStreamRetentionPeriod();
  std::string DecreaseStreamRetentionPeriod();

 private:
  std::string Arn(const std::string& name) const {
    return "arn:aws:kinesis:" + options_.region + ":" + options_.account_id + ":stream/" + name;
  }
  std::string StreamName() const;
  std::string NotFoundMessage(const std::string& name) const {
    return "Stream " + name + " under account " + options_.account_id + " not found.";
  }
  // Turns a store error into AWS's exception for it.
  [[noreturn]] void FailFrom(const Status& status, const std::string& name) const;
  StreamMetadata Describe(const std::string& name) const;
  json ShardJson(const ShardMetadata& shard) const;
  std::string SetRetention(bool increase);

  StreamStore& store_;
  const KinesisApiOptions& options_;
  JsonMembers fields_;
};

std::string KinesisApi::Call::StreamName() const {
  std::optional<std::string_view> name = fields_.String("StreamName");
  std::optional<std::string_view> arn = fields_.String("StreamARN");
  if (arn) {
    const std::string prefix =
        "arn:aws:kinesis:" + options_.region + ":" + options_.account_id + ":stream/";
    if (arn->substr(0, prefix.size()) != prefix) {
      FailApi("InvalidArgumentException", "StreamARN " + std::string(*arn) +
                                              " is not a stream of this host (" + prefix +
                                              "<name>)");
    }
    const std::string_view from_arn = arn->substr(prefix.size());
    CheckStreamName(from_arn, "streamARN");
    if (name && *name != from_arn) {
      FailApi("InvalidArgumentException", "StreamName and StreamARN name different streams");
    }
    return std::string(from_arn);
  }
  if (!name) {
    FailApi("InvalidArgumentException", "Either StreamName or StreamARN should be provided.");
  }
  CheckStreamName(*name, "streamName");
  return std::string(*name);
}

void KinesisApi::Call::FailFrom(const Status& status, const std::string& name) const {
  // The store's messages name the stream; AWS's also name the account, and start upper-case:
  // "Shard shardId-000000000009 in stream s under account 000000000000 does not exist".
  std::string message = status.message();
  const std::string in_stream = "in stream " + name;
  if (const size_t at = message.find(in_stream); at != std::string::npos) {
    message.insert(at + in_stream.size(), " under account " + options_.account_id);
  }
  if (!message.empty() && message[0] >= 'a' && message[0] <= 'z') {
    message[0] = static_cast<char>(message[0] - 'a' + 'A');
  }
  switch (status.code()) {
    case Code::kNotFound:
      if (status.message().rfind("stream ", 0) == 0) {
        FailApi("ResourceNotFoundException", NotFoundMessage(name));
      }
      FailApi("ResourceNotFoundException", message);
    case Code::kAlreadyExists:
      FailApi("ResourceInUseException",
              "Stream " + name + " under account " + options_.account_id + " already exists.");
    case Code::kResourceExhausted: FailApi("LimitExceededException", message);
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition: FailApi("InvalidArgumentException", message);
    default:
      LogError("kinesis", status.ToString());
      FailApi("InternalFailure", status.message(), 500);
  }
}

StreamMetadata KinesisApi::Call::Describe(const std::string& name) const {
  Result<StreamMetadata> metadata = store_.Describe(name);
  if (!metadata.ok()) {
    FailFrom(metadata.status(), name);
  }
  return std::move(*metadata);
}

json KinesisApi::Call::ShardJson(const ShardMetadata& shard) const {
  json out = {{"ShardId", ShardIdString(shard.index)},
              {"HashKeyRange",
               {{"StartingHashKey", ToDecimal(shard.range.start)},
                {"EndingHashKey", ToDecimal(shard.range.end)}}}};
  json range = {{"StartingSequenceNumber", SequenceNumber::First(shard.index).ToString()}};
  if (shard.closed) {
    range["EndingSequenceNumber"] = SequenceNumber::Last(shard.index).ToString();
  }
  out["SequenceNumberRange"] = range;
  if (shard.parent) {
    out["ParentShardId"] = ShardIdString(*shard.parent);
  }
  if (shard.adjacent_parent) {
    out["AdjacentParentShardId"] = ShardIdString(*shard.adjacent_parent);
  }
  return out;
}

std::string KinesisApi::Call::CreateStream() {
  const std::string name = StreamName();
  std::optional<int64_t> shard_count = fields_.IntegerIn("ShardCount", "shardCount", 1, 100000);
  if (const json* mode = fields_.Object("StreamModeDetails")) {
    const JsonMembers mode_fields(*mode);
    const std::string_view stream_mode =
        mode_fields.RequiredString("StreamMode", "streamModeDetails.streamMode");
    if (stream_mode == "ON_DEMAND" && !shard_count) {
      shard_count = 4;  // what an on-demand stream starts with
    } else if (stream_mode != "ON_DEMAND" && stream_mode != "PROVISIONED") {
      FailValidation(stream_mode, "streamModeDetails.streamMode",
                     "satisfy enum value set: [PROVISIONED, ON_DEMAND]");
    }
  }
  if (!shard_count) {
    FailApi("InvalidArgumentException", "ShardCount is required for a PROVISIONED stream.");
  }
  const Status status = store_.CreateStream(name, static_cast<uint32_t>(*shard_count));
  if (!status.ok()) {
    FailFrom(status, name);
  }
  return "";
}

std::string KinesisApi::Call::DeleteStream() {
  const std::string name = StreamName();
  const Status status = store_.DeleteStream(name);
  if (!status.ok()) {
    FailFrom(status, name);
  }
  return "";
}

std::string KinesisApi::Call::ListStreams() {
  const int64_t limit = fields_.IntegerIn("Limit", "limit", 1, 10000).value_or(100);
  std::string after(fields_.String("ExclusiveStartStreamName").value_or(""));
  if (std::optional<std::string_view> token = fields_.String("NextToken")) {
    std::optional<ResumeToken> decoded = ResumeToken::Decode(*token);
    if (!decoded || decoded->kind != ResumeToken::Kind::kListStreams) {
      FailApi("InvalidArgumentException", "NextToken is not a token ListStreams returned.");
    }
    after = decoded->stream_name;
  }
  const std::vector<std::string> names = store_.ListStreams();
  json stream_names = json::array();
  json summaries = json::array();
  bool more = false;
  std::string last;
  for (const std::string& name : names) {
    if (!after.empty() && name <= after) {
      continue;
    }
    if (static_cast<int64_t>(stream_names.size()) >= std::min<int64_t>(limit, 100)) {
      more = true;
      break;
    }
    Result<StreamMetadata> metadata = store_.Describe(name);
    if (!metadata.ok()) {
      continue;  // deleted meanwhile
    }
    stream_names.push_back(name);
    summaries.push_back({{"StreamName", name},
                         {"StreamARN", Arn(name)},
                         {"StreamStatus", "ACTIVE"},
                         {"StreamModeDetails", {{"StreamMode", "PROVISIONED"}}},
                         {"StreamCreationTimestamp", TimestampJson(metadata->created_ms)}});
    last = name;
  }
  json out = {
      {"StreamNames", stream_names}, {"HasMoreStreams", more}, {"StreamSummaries", summaries}};
  if (more) {
    ResumeToken next;
    next.kind = ResumeToken::Kind::kListStreams;
    next.stream_name = last;
    next.issued_ms = store_.clock().UnixMillis();
    out["NextToken"] = next.Encode();
  }
  return out.dump();
}

std::string KinesisApi::Call::DescribeStream() {
  const std::string name = StreamName();
  const int64_t limit = fields_.IntegerIn("Limit", "limit", 1, 10000).value_or(100);
  std::optional<uint32_t> after;
  if (std::optional<std::string_view> start = fields_.String("ExclusiveStartShardId")) {
    after = ParseShardId(*start);
    if (!after) {
      FailValidation(*start, "exclusiveStartShardId",
                     "satisfy regular expression pattern: shardId-[0-9]{1,12}");
    }
  }
  const StreamMetadata metadata = Describe(name);
  json shards = json::array();
  bool more = false;
  for (const ShardMetadata& shard : metadata.shards) {
    if (after && shard.index <= *after) {
      continue;
    }
    if (static_cast<int64_t>(shards.size()) >= std::min<int64_t>(limit, 100)) {
      more = true;
      break;
    }
    shards.push_back(ShardJson(shard));
  }
  const json out = {{"StreamDescription",
                     {{"StreamName", name},
                      {"StreamARN", Arn(name)},
                      {"StreamStatus", "ACTIVE"},
                      {"StreamModeDetails", {{"StreamMode", "PROVISIONED"}}},
                      {"Shards", shards},
                      {"HasMoreShards", more},
                      {"RetentionPeriodHours", metadata.retention_hours},
                      {"StreamCreationTimestamp", TimestampJson(metadata.created_ms)},
                      {"EnhancedMonitoring", json::array({{{"ShardLevelMetrics", json::array()}}})},
                      {"EncryptionType", "NONE"}}}};
  return out.dump();
}

std::string KinesisApi::Call::DescribeStreamSummary() {
  const std::string name = StreamName();
  const StreamMetadata metadata = Describe(name);
  const auto open = std::count_if(metadata.shards.begin(), metadata.shards.end(),
                                  [](const ShardMetadata& s) { return !s.closed; });
  const json out = {{"StreamDescriptionSummary",
                     {{"StreamName", name},
                      {"StreamARN", Arn(name)},
                      {"StreamStatus", "ACTIVE"},
                      {"StreamModeDetails", {{"StreamMode", "PROVISIONED"}}},
                      {"RetentionPeriodHours", metadata.retention_hours},
                      {"StreamCreationTimestamp", TimestampJson(metadata.created_ms)},
                      {"EnhancedMonitoring", json::array({{{"ShardLevelMetrics", json::array()}}})},
                      {"EncryptionType", "NONE"},
                      {"OpenShardCount", open},
                      {"ConsumerCount", 0}}}};
  return out.dump();
}

std::string KinesisApi::Call::ListShards() {
  const std::optional<std::string_view> token = fields_.String("NextToken");
  const bool has_name = fields_.String("StreamName") || fields_.String("StreamARN");
  if (token && has_name) {
    FailApi("InvalidArgumentException", "NextToken and StreamName cannot be provided together.");
  }
  const int64_t limit = std::min<int64_t>(
      fields_.IntegerIn("MaxResults", "maxResults", 1, 10000).value_or(1000), 1000);
  std::string name;
  std::optional<uint32_t> after;
  bool only_open = false;
  std::optional<int64_t> token_created_ms;  // the stream incarnation a NextToken belongs to
  const int64_t now = store_.clock().UnixMillis();
  if (token) {
    std::optional<ResumeToken> decoded = ResumeToken::Decode(*token);
    if (!decoded || decoded->kind != ResumeToken::Kind::kListShards) {
      FailApi("InvalidArgumentException", "NextToken is not a token ListShards returned.");
    }
    if (now - decoded->issued_ms > kTokenLifetimeMs) {
      FailApi("ExpiredNextTokenException", "The NextToken has expired; tokens last 300 seconds.");
    }
    name = decoded->stream_name;
    after = decoded->shard_index;
    only_open = decoded->ordinal == 1;  // the AT_LATEST filter, carried over
    token_created_ms = decoded->stream_created_ms;
  } else {
    if (!has_name) {
      FailApi("InvalidArgumentException", "Either NextToken or StreamName should be provided.");
    }
    name = StreamName();
    if (std::optional<std::string_view> start = fields_.String("ExclusiveStartShardId")) {
      after = ParseShardId(*start);
      if (!after) {
        FailValidation(*start, "exclusiveStartShardId",
                       "satisfy regular expression pattern: shardId-[0-9]{1,12}");
      }
    }
    if (const json* filter = fields_.Object("ShardFilter")) {
      const JsonMembers filter_fields(*filter);
      const std::string_view type = filter_fields.RequiredString("Type", "shardFilter.type");
      if (type == "AFTER_SHARD_ID") {
        after = ShardIndexOf(filter_fields.RequiredString("ShardId", "shardFilter.shardId"),
                             "shardFilter.shardId");
      } else if (type == "AT_LATEST") {
        only_open = true;
      } else if (type != "AT_TRIM_HORIZON" && type != "FROM_TRIM_HORIZON" &&
                 type != "AT_TIMESTAMP" && type != "FROM_TIMESTAMP") {
        FailValidation(type, "shardFilter.type",
                       "satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, "
                       "FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]");
      }
    }
  }
  const StreamMetadata metadata = Describe(name);
  if (token_created_ms && *token_created_ms != metadata.created_ms) {
    FailFrom(NotFound("stream " + name), name);
  }
  json shards = json::array();
  std::optional<uint32_t> last;
  bool more = false;
  for (const ShardMetadata& shard : metadata.shards) {
    if ((after && shard.index <= *after) || (only_open && shard.closed)) {
      continue;
    }
    if (static_cast<int64_t>(shards.size()) >= limit) {
      more = true;
      break;
    }
    shards.push_back(ShardJson(shard));
    last = shard.index;
  }
  json out = {{"Shards", shards}};
  if (more) {
    ResumeToken next;
    next.kind = ResumeToken::Kind::kListShards;
    next.stream_name = name;
    next.stream_created_ms = metadata.created_ms;
    next.shard_index = *last;
    next.ordinal = only_open ? 1 : 0;
    next.issued_ms = now;
    out["NextToken"] = next.Encode();
  }
  return out.dump();
}

std::string KinesisApi::Call::PutRecord() {
  const std::string name = StreamName();
  std::string data;
  PutInput input;
  input.data = DecodeData(fields_.RequiredString("Data", "data"), &data, "data");
  input.partition_key =
      CheckPartitionKey(fields_.RequiredString("PartitionKey", "partitionKey"), "partitionKey");
  if (std::optional<std::string_view> key = fields_.String("ExplicitHashKey")) {
    input.explicit_hash_key = HashKeyOf(*key, "explicitHashKey");
  }
  if (std::optional<std::string_view> ordering = fields_.String("SequenceNumberForOrdering")) {
    // Sequence numbers rise within a shard anyway; the value only has to be well-formed.
    if (!ParseDecimal(*ordering) && *ordering != "0") {
      FailValidation(*ordering, "sequenceNumberForOrdering",
                     "satisfy regular expression pattern: 0|([1-9]\\d{0,128})");
    }
  }
  Result<std::vector<PutOutcome>> outcomes = store_.Put(name, {&input, 1});
  if (!outcomes.ok()) {
    FailFrom(outcomes.status(), name);
  }
  const PutOutcome& outcome = (*outcomes)[0];
  if (!outcome.status.ok()) {
    FailFrom(outcome.status, name);
  }
  std::string out = "{\"ShardId\":\"" + ShardIdString(outcome.shard_index) +
                    "\",\"SequenceNumber\":\"" + outcome.sequence_number.ToString() +
                    "\",\"EncryptionType\":\"NONE\"}";
  return out;
}

std::string KinesisApi::Call::PutRecords() {
  const std::string name = StreamName();
  const json* records = fields_.Array("Records");
  if (records == nullptr) {
    FailValidation("null", "records", "not be null");
  }
  CheckLength(records->empty() ? "[]" : "[" + std::to_string(records->size()) + " records]",
              records->size(), 1, kMaxPutRecordsCount, "records");
  std::vector<std::string> data(records->size());
  std::vector<PutInput> inputs(records->size());
  size_t total_bytes = 0;
  char path[64];
  for (size_t i = 0; i < records->size(); ++i) {
    const json& record = (*records)[i];
    if (!record.is_object()) {
      FailApi("SerializationException", "Records[" + std::to_string(i) + "]: expected an object");
    }
    const JsonMembers record_fields(record);
    snprintf(path, sizeof(path), "records.%zu.member.data", i + 1);
    inputs[i].data = DecodeData(record_fields.RequiredString("Data", path), &data[i], path);
    snprintf(path, sizeof(path), "records.%zu.member.partitionKey", i + 1);
    inputs[i].partition_key =
        CheckPartitionKey(record_fields.RequiredString("PartitionKey", path), path);
    if (std::optional<std::string_view> key = record_fields.String("ExplicitHashKey")) {
      snprintf(path, sizeof(path), "records.%zu.member.explicitHashKey", i + 1);
      inputs[i].explicit_hash_key = HashKeyOf(*key, path);
    }
    total_bytes += inputs[i].data.size() + inputs[i].partition_key.size();
  }
  if (total_bytes > kMaxPutRecordsBytes) {
    FailApi("InvalidArgumentException",
            "Records size exceeds 5 MB limit: " + std::to_string(total_bytes) +
                " bytes of data and partition keys");
  }
  Result<std::vector<PutOutcome>> outcomes = store_.Put(name, inputs);
  if (!outcomes.ok()) {
    FailFrom(outcomes.status(), name);
  }
  size_t failed = 0;
  std::string entries;
  entries.reserve(outcomes->size() * 96);
  for (const PutOutcome& outcome : *outcomes) {
    entries.append(entries.empty() ? "{" : ",{");
    if (outcome.status.ok()) {
      entries.append("\"SequenceNumber\":\"")
          .append(outcome.sequence_number.ToString())
          .append("\",\"ShardId\":\"")
          .append(ShardIdString(outcome.shard_index))
          .append("\"}");
    } else {
      ++failed;
      entries.append("\"ErrorCode\":\"InternalFailure\",\"ErrorMessage\":");
      AppendJsonString(&entries, "Internal service failure: " + outcome.status.message());
      entries.push_back('}');
    }
  }
  return "{\"FailedRecordCount\":" + std::to_string(failed) + ",\"Records\":[" + entries +
         "],\"EncryptionType\":\"NONE\"}";
}

std::string KinesisApi::Call::GetShardIterator() {
  const std::string name = StreamName();
  const std::string_view shard_id = fields_.RequiredString("ShardId", "shardId");
  const std::string_view type = fields_.RequiredString("ShardIteratorType", "shardIteratorType");
  const std::optional<std::string_view> sequence = fields_.String("StartingSequenceNumber");
  const std::optional<int64_t> timestamp_ms = fields_.TimestampMs("Timestamp");
  if (type != "AT_SEQUENCE_NUMBER" && type != "AFTER_SEQUENCE_NUMBER" && type != "TRIM_HORIZON" &&
      type != "LATEST" && type != "AT_TIMESTAMP") {
    FailValidation(type, "shardIteratorType",
                   "satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, "
                   "TRIM_HORIZON, LATEST, AT_TIMESTAMP]");
  }
  const bool by_sequence = type == "AT_SEQUENCE_NUMBER" || type == "AFTER_SEQUENCE_NUMBER";
  if (by_sequence != sequence.has_value()) {
    FailApi("InvalidArgumentException",
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
            "StartingSequenceNumber or (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no "
            "StartingSequenceNumber. Request specified " +
                std::string(type) +
                (sequence ? " and StartingSequenceNumber " + std::string(*sequence)
                          : std::string(" and no StartingSequenceNumber")) +
                ".");
  }
  const uint32_t shard_index = ShardIndexOf(shard_id, "shardId");
  const StreamMetadata metadata = Describe(name);
  Result<std::shared_ptr<ShardLog>> found = store_.Shard(name, shard_index);
  if (!found.ok()) {
    FailApi("ResourceNotFoundException", "Shard " + ShardIdString(shard_index) + " in stream " +
                                             name + " under account " + options_.account_id +
                                             " does not exist");
  }
  const ShardLog& log = **found;
  const int64_t now = store_.clock().UnixMillis();
  StartingPosition position = StartingPosition::kTrimHorizon;
  std::optional<SequenceNumber> number;
  if (type == "LATEST") {
    position = StartingPosition::kLatest;
  } else if (type == "AT_TIMESTAMP") {
    position = StartingPosition::kAtTimestamp;
    if (!timestamp_ms) {
      FailApi("InvalidArgumentException",
              "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
              "request has no timestamp parameter.");
    }
    if (*timestamp_ms > now) {
      FailApi("InvalidArgumentException",
              "The timestampInMillis parameter cannot be greater than the "
              "currentTimestampInMillis. timestampInMillis: " +
                  std::to_string(*timestamp_ms) +
                  ", currentTimestampInMillis: " + std::to_string(now));
    }
  } else if (by_sequence) {
    position = type == "AT_SEQUENCE_NUMBER" ? StartingPosition::kAtSequenceNumber
                                            : StartingPosition::kAfterSequenceNumber;
    number = SequenceNumber::Parse(*sequence);
    if (!number && !ParseDecimal(*sequence)) {
      FailValidation(*sequence, "startingSequenceNumber",
                     "satisfy regular expression pattern: 0|([1-9]\\d{0,128})");
    }
    if (number && number->shard_index != shard_index) {
      FailApi("InvalidArgumentException",
              "Invalid StartingSequenceNumber. It encodes " + ShardIdString(number->shard_index) +
                  ", while it was used in a call to a shard with " + ShardIdString(shard_index));
    }
  }
  Result<uint64_t> ordinal =
      number || !by_sequence
          ? ResolveStartingPosition(log, shard_index, position, number, timestamp_ms)
          : Result<uint64_t>(InvalidArgument("not a sequence number of this stream"));
  if (!ordinal.ok()) {
    FailApi("InvalidArgumentException",
            "StartingSequenceNumber " + std::string(sequence.value_or("")) +
                " used in GetShardIterator on shard " + ShardIdString(shard_index) + " in stream " +
                name + " under account " + options_.account_id + " is invalid.");
  }
  ResumeToken token;
  token.stream_name = name;
  token.stream_created_ms = metadata.created_ms;
  token.shard_index = shard_index;
  token.ordinal = *ordinal;
  token.issued_ms = now;
  json out = {{"ShardIterator", token.Encode()}};
  return out.dump();
}

std::string KinesisApi::Call::GetRecords() {
  const std::string_view iterator = fields_.RequiredString("ShardIterator", "shardIterator");
  CheckLength(iterator, iterator.size(), 1, 512, "shardIterator");
  const int64_t limit =
      fields_.IntegerIn("Limit", "limit", 1, kMaxGetRecordsCount).value_or(kMaxGetRecordsCount);
  std::optional<ResumeToken> token = ResumeToken::Decode(iterator);
  if (!token || token->kind != ResumeToken::Kind::kShardIterator) {
    FailApi("InvalidArgumentException", "Invalid ShardIterator.");
  }
  const int64_t now = store_.clock().UnixMillis();
  if (now - token->issued_ms > kTokenLifetimeMs) {
    FailApi("ExpiredIteratorException",
            "Iterator expired. The iterator was created at " + std::to_string(token->issued_ms) +
                " ms while right now it is " + std::to_string(now) +
                " ms, which is further in the future than the tolerated delay of 300000 "
                "milliseconds.");
  }
  Result<StreamMetadata> metadata = store_.Describe(token->stream_name);
  if (!metadata.ok() || metadata->created_ms != token->stream_created_ms) {
    FailApi("ResourceNotFoundException", NotFoundMessage(token->stream_name));
  }
  Result<std::shared_ptr<ShardLog>> log = store_.Shard(token->stream_name, token->shard_index);
  if (!log.ok()) {
    FailApi("ResourceNotFoundException", "Shard " + ShardIdString(token->shard_index) +
                                             " in stream " + token->stream_name +
                                             " does not exist");
  }
  Result<ShardLog::ReadResult> read =
      (*log)->Read(token->ordinal, static_cast<size_t>(limit), kMaxGetRecordsBytes);
  if (!read.ok()) {
    FailFrom(read.status(), token->stream_name);
  }
  MetricsRegistry::Global()
      .GetCounter("sluice_stream_records_out_total", "Records returned by GetRecords.",
                  {{"stream", token->stream_name}})
      .Increment(read->records.size());
  std::string out;
  size_t reserve = 128;
  for (const StoredRecord& record : read->records) {
    reserve += 160 + record.partition_key.size() + record.data.size() * 4 / 3;
  }
  out.reserve(reserve);
  out.append("{\"Records\":[");
  for (size_t i = 0; i < read->records.size(); ++i) {
    const StoredRecord& record = read->records[i];
    out.append(i == 0 ? "{" : ",{");
    out.append("\"SequenceNumber\":\"")
        .append(SequenceNumber{token->shard_index, record.generation, record.ordinal}.ToString())
        .append("\",\"ApproximateArrivalTimestamp\":");
    AppendTimestamp(&out, record.arrival_ms);
    out.append(",\"Data\":\"").append(Base64Encode(record.data)).append("\",\"PartitionKey\":");
    AppendJsonString(&out, record.partition_key);
    out.push_back('}');
  }
  out.append("]");
  const bool caught_up = read->next_ordinal >= (*log)->end_ordinal();
  const int64_t behind = caught_up || read->records.empty()
                             ? 0
                             : std::max<int64_t>(0, now - read->records.back().arrival_ms);
  out.append(",\"MillisBehindLatest\":").append(std::to_string(behind));
  if (read->end_of_shard) {
    // Read the lineage again: a split or merge that closed this shard after the metadata was
    // read above has published its children by now (the store changes both under one lock).
    metadata = store_.Describe(token->stream_name);
    if (!metadata.ok()) {
      FailApi("ResourceNotFoundException", NotFoundMessage(token->stream_name));
    }
    json children = json::array();
    for (const ShardMetadata& shard : metadata->shards) {
      if (shard.parent == token->shard_index || shard.adjacent_parent == token->shard_index) {
        json parents = json::array({ShardIdString(*shard.parent)});
        if (shard.adjacent_parent) {
          parents.push_back(ShardIdString(*shard.adjacent_parent));
        }
        children.push_back({{"ShardId", ShardIdString(shard.index)},
                            {"ParentShards", parents},
                            {"HashKeyRange",
                             {{"StartingHashKey", ToDecimal(shard.range.start)},
                              {"EndingHashKey", ToDecimal(shard.range.end)}}}});
      }
    }
    out.append(",\"ChildShards\":").append(children.dump());
  } else {
    ResumeToken next = *token;
    next.ordinal = read->next_ordinal;
    next.issued_ms = now;
    out.append(",\"NextShardIterator\":\"").append(next.Encode()).append("\"");
  }
  out.push_back('}');
  return out;
}

std::string KinesisApi::Call::SplitShard() {
  const std::string name = StreamName();
  const uint32_t shard_index =
      ShardIndexOf(fields_.RequiredString("ShardToSplit", "shardToSplit"), "shardToSplit");
  const Uint128 new_start = HashKeyOf(
      fields_.RequiredString("NewStartingHashKey", "newStartingHashKey"), "newStartingHashKey");
  const Status status = store_.SplitShard(name, shard_index, new_start);
  if (!status.ok()) {
    FailFrom(status, name);
  }
  return "";
}

std::string KinesisApi::Call::MergeShards() {
  const std::string name = StreamName();
  const uint32_t shard =
      ShardIndexOf(fields_.RequiredString("ShardToMerge", "shardToMerge"), "shardToMerge");
  const uint32_t adjacent =
      ShardIndexOf(fields_.RequiredString("AdjacentShardToMerge", "adjacentShardToMerge"),
                   "adjacentShardToMerge");
  const Status status = store_.MergeShards(name, shard, adjacent);
  if (!status.ok()) {
    FailFrom(status, name);
  }
  return "";
}

std::string KinesisApi::Call::SetRetention(bool increase) {
  const std::string name = StreamName();
  const std::optional<int64_t> hours = fields_.Integer("RetentionPeriodHours");
  if (!hours) {
    FailValidation("null", "retentionPeriodHours", "not be null");
  }
  if (*hours < kMinRetentionHours || *hours > kMaxRetentionHours) {
    FailApi("InvalidArgumentException",
            "Minimum allowed retention period is 24 hours. Maximum allowed retention period is "
            "8760 hours. Requested retention period (" +
                std::to_string(*hours) + " hours) is out of range.");
  }
  const StreamMetadata metadata = Describe(name);
  if (increase && *hours < metadata.retention_hours) {
    FailApi("InvalidArgumentException", "Requested retention period (" + std::to_string(*hours) +
                                            " hours) for stream " + name +
                                            " can not be shorter than existing retention period (" +
                                            std::to_string(metadata.retention_hours) +
                                            " hours). Use DecreaseRetentionPeriod API.");
  }
  if (!increase && *hours > metadata.retention_hours) {
    FailApi("InvalidArgumentException", "Requested retention period (" + std::to_string(*hours) +
                                            " hours) for stream " + name +
                                            " can not be longer than existing retention period (" +
                                            std::to_string(metadata.retention_hours) +
                                            " hours). Use IncreaseRetentionPeriod API.");
  }
  const Status status = store_.SetRetention(name, static_cast<int32_t>(*hours));
  if (!status.ok()) {
    FailFrom(status, name);
  }
  return "";
}

std::string KinesisApi::Call::IncreaseStreamRetentionPeriod() {
  return SetRetention(true);
}
std::string KinesisApi::Call::DecreaseStreamRetentionPeriod() {
  return SetRetention(false);
}

KinesisApi::KinesisApi(StreamStore* store, KinesisApiOptions options)
    : store_(store), options_(std::move(options)) {}

ApiResponse KinesisApi::Handle(const ApiRequest& request) {
  using Operation = std::string (Call::*)();
  static const std::pair<std::string_view, Operation> kOperations[] = {
      {"CreateStream", &Call::CreateStream},
      {"DeleteStream", &Call::DeleteStream},
      {"ListStreams", &Call::ListStreams},
      {"DescribeStream", &Call::DescribeStream},
      {"DescribeStreamSummary", &Call::DescribeStreamSummary},
      {"ListShards", &Call::ListShards},
      {"PutRecord", &Call::PutRecord},
      {"PutRecords", &Call::PutRecords},
      {"GetShardIterator", &Call::GetShardIterator},
      {"GetRecords", &Call::GetRecords},
      {"SplitShard", &Call::SplitShard},
      {"MergeShards", &Call::MergeShards},
      {"IncreaseStreamRetentionPeriod", &Call::IncreaseStreamRetentionPeriod},
      {"DecreaseStreamRetentionPeriod", &Call::DecreaseStreamRetentionPeriod},
  };
  return HandleJsonApi(request, kKinesisTargetPrefix, "Kinesis", kOperations,
                       [&](const json& body) { return Call(store_, options_, body); });
}

}  // namespace sluice::stream
