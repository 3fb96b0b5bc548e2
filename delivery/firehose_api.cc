#include "delivery/firehose_api.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/log.h"
#include "sluice/base64.h"
#include "stream/aws_json_api.h"

namespace sluice::delivery {
namespace {

using nlohmann::json;
using stream::FailApi;
using stream::FailValidation;
using stream::JsonMembers;

constexpr size_t kMaxRecordBytes = 1'024'000;
constexpr size_t kMaxBatchRecords = 500;
constexpr size_t kMaxBatchBytes = 4u << 20;
constexpr int64_t kDefaultListLimit = 10;
constexpr int64_t kMaxListLimit = 10000;

std::string DeliveryStreamName(const JsonMembers& fields) {
  const std::string_view name = fields.RequiredString("DeliveryStreamName", "deliveryStreamName");
  stream::CheckLength(name, name.size(), 1, 64, "deliveryStreamName");
  if (!IsValidDeliveryStreamName(name)) {
    FailValidation(name, "deliveryStreamName",
                   "satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and not be . or ..");
  }
  return std::string(name);
}

// Turns a DeliveryService error into Firehose's exception for it.
[[noreturn]] void FailFrom(const Status& status) {
  switch (status.code()) {
    case Code::kNotFound: FailApi("ResourceNotFoundException", status.message());
    case Code::kAlreadyExists: FailApi("ResourceInUseException", status.message());
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition: FailApi("InvalidArgumentException", status.message());
    case Code::kResourceExhausted: FailApi("LimitExceededException", status.message());
    case Code::kUnavailable: FailApi("ServiceUnavailableException", status.message());
    default:
      LogError("firehose", status.ToString());
      FailApi("InternalFailure", status.message(), 500);
  }
}

template <typename T>
T ValueOr(Result<T> result) {
  if (!result.ok()) {
    FailFrom(result.status());
  }
  return std::move(*result);
}

// One record's data: `data` decoded into *out, within Firehose's record size limit. `path` is
// the member's lowerCamel path for validation messages ("records.3.member.data"), `where` the
// request's ("Records[2].Data").
void DecodeRecordData(const json& record, const std::string& where, const std::string& path,
                      std::string* out) {
  if (!record.is_object()) {
    FailApi("SerializationException", where + ": expected an object");
  }
  const JsonMembers fields(record);
  const std::string_view base64 = fields.RequiredString("Data", path.c_str());
  if (!Base64Decode(base64, out)) {
    FailApi("InvalidArgumentException", where + ".Data: not valid base64");
  }
  if (out->size() > kMaxRecordBytes) {
    FailValidation("java.nio.HeapByteBuffer[pos=0 lim=" + std::to_string(out->size()) +
                       " cap=" + std::to_string(out->size()) + "]",
                   path, "have length less than or equal to " + std::to_string(kMaxRecordBytes));
  }
}

// The Kinesis stream ARN a KinesisStreamAsSource stream reads, in the region and account of the
// delivery stream's own ARN (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME).
std::string SourceStreamArn(const DeliveryStreamInfo& info) {
  const size_t region_at = std::string_view("arn:aws:firehose:").size();
  const size_t resource_at = info.arn.find(":deliverystream/");
  return "arn:aws:kinesis:" + info.arn.substr(region_at, resource_at - region_at) + ":stream/" +
         info.config.source_stream;
}

const char* TypeName(SourceKind source) {
  return source == SourceKind::kDirectPut ? "DirectPut" : "KinesisStreamAsSource";
}

double EpochSeconds(int64_t ms) {
  return static_cast<double>(ms) / 1000.0;
}

// One request: the operations, with what they share.
class Call {
 public:
  Call(DeliveryService& service, const json& body)
      : service_(service), body_(body), fields_(body) {}

  std::string CreateDeliveryStream();
  std::string DescribeDeliveryStream();
  std::string ListDeliveryStreams();
  std::string DeleteDeliveryStream();
  std::string PutRecord();
  std::string PutRecordBatch();

 private:
  DeliveryService& service_;
  const json& body_;
  const JsonMembers fields_;
};

std::string Call::CreateDeliveryStream() {
  Result<DeliveryStreamConfig> config = ParseDeliveryStreamConfig(body_);
  if (!config.ok()) {
    FailApi("InvalidArgumentException", config.status().message());
  }
  if (const Status status = service_.Create(*config); !status.ok()) {
    FailFrom(status);
  }
  const DeliveryStreamInfo info = ValueOr(service_.Describe(config->name));
  return json{{"DeliveryStreamARN", info.arn}}.dump();
}

std::string Call::DescribeDeliveryStream() {
  const std::string name = DeliveryStreamName(fields_);
  fields_.IntegerIn("Limit", "limit", 1, kMaxListLimit);  // destinations: there is only one
  fields_.String("ExclusiveStartDestinationId");
  const DeliveryStreamInfo info = ValueOr(service_.Describe(name));
  json description = {{"DeliveryStreamName", info.config.name},
                      {"DeliveryStreamARN", info.arn},
                      {"DeliveryStreamStatus", "ACTIVE"},
                      {"DeliveryStreamType", TypeName(info.config.source)},
                      {"VersionId", std::to_string(info.version)},
                      {"CreateTimestamp", EpochSeconds(info.created_ms)},
                      {"LastUpdateTimestamp", EpochSeconds(info.updated_ms)},
                      {"Destinations", DescribeDestinations(info.config)},
                      {"HasMoreDestinations", false}};
  if (json source = DescribeSource(info.config, SourceStreamArn(info)); !source.is_null()) {
    description["Source"] = std::move(source);
  }
  return json{{"DeliveryStreamDescription", std::move(description)}}.dump();
}

std::string Call::ListDeliveryStreams() {
  const int64_t limit =
      fields_.IntegerIn("Limit", "limit", 1, kMaxListLimit).value_or(kDefaultListLimit);
  const std::optional<std::string_view> type = fields_.String("DeliveryStreamType");
  if (type && *type != "DirectPut" && *type != "KinesisStreamAsSource" && *type != "MSKAsSource" &&
      *type != "DatabaseAsSource") {
    FailValidation(*type, "deliveryStreamType",
                   "satisfy enum value set: [DirectPut, KinesisStreamAsSource, MSKAsSource, "
                   "DatabaseAsSource]");
  }
  const std::string start(fields_.String("ExclusiveStartDeliveryStreamName").value_or(""));
  json names = json::array();
  bool more = false;
  for (const std::string& name : service_.List()) {
    if (name <= start) {
      continue;
    }
    if (type) {
      Result<DeliveryStreamInfo> info = service_.Describe(name);
      if (!info.ok() || TypeName(info->config.source) != *type) {
        continue;  // deleted since it was listed, or of another type
      }
    }
    if (static_cast<int64_t>(names.size()) == limit) {
      more = true;
      break;
    }
    names.push_back(name);
  }
  return json{{"DeliveryStreamNames", std::move(names)}, {"HasMoreDeliveryStreams", more}}.dump();
}

std::string Call::DeleteDeliveryStream() {
  const std::string name = DeliveryStreamName(fields_);
  if (const json* force = fields_.Member("AllowForceDelete"); force && !force->is_boolean()) {
    FailApi("SerializationException", "AllowForceDelete: expected a boolean");
  }
  if (const Status status = service_.Delete(name); !status.ok()) {
    FailFrom(status);
  }
  return "{}";
}

std::string Call::PutRecord() {
  const std::string name = DeliveryStreamName(fields_);
  const json* record = fields_.Object("Record");
  if (record == nullptr) {
    FailValidation("null", "record", "not be null");
  }
  std::string data;
  DecodeRecordData(*record, "Record", "record.data", &data);
  const std::vector<std::string> ids = ValueOr(service_.Put(name, {std::string_view(data)}));
  return json{{"RecordId", ids.at(0)}, {"Encrypted", false}}.dump();
}

std::string Call::PutRecordBatch() {
  const std::string name = DeliveryStreamName(fields_);
  const json* records = fields_.Array("Records");
  if (records == nullptr) {
    FailValidation("null", "records", "not be null");
  }
  stream::CheckLength(records->empty() ? "[]" : "[" + std::to_string(records->size()) + " records]",
                      records->size(), 1, kMaxBatchRecords, "records");
  std::vector<std::string> data(records->size());
  size_t total_bytes = 0;
  for (size_t i = 0; i < records->size(); ++i) {
    DecodeRecordData((*records)[i], "Records[" + std::to_string(i) + "]",
                     "records." + std::to_string(i + 1) + ".member.data", &data[i]);
    total_bytes += data[i].size();
  }
  if (total_bytes > kMaxBatchBytes) {
    FailApi("InvalidArgumentException",
            "Records size exceeds 4 MiB limit: " + std::to_string(total_bytes) + " bytes of data");
  }
  const std::vector<std::string_view> views(data.begin(), data.end());
  Result<std::vector<std::string>> ids = service_.Put(name, views);
  json responses = json::array();
  if (!ids.ok() && ids.status().code() == Code::kUnavailable) {
    // The buffer took none of the batch: every record failed, and the caller retries them.
    for (size_t i = 0; i < views.size(); ++i) {
      responses.push_back(
          {{"ErrorCode", "ServiceUnavailableException"}, {"ErrorMessage", ids.status().message()}});
    }
    return json{{"FailedPutCount", views.size()},
                {"Encrypted", false},
                {"RequestResponses", std::move(responses)}}
        .dump();
  }
  for (std::string& id : ValueOr(std::move(ids))) {
    responses.push_back({{"RecordId", std::move(id)}});
  }
  return json{
      {"FailedPutCount", 0}, {"Encrypted", false}, {"RequestResponses", std::move(responses)}}
      .dump();
}

}  // namespace

stream::ApiResponse FirehoseApi::Handle(const stream::ApiRequest& request) {
  using Operation = std::string (Call::*)();
  static const std::pair<std::string_view, Operation> kOperations[] = {
      {"CreateDeliveryStream", &Call::CreateDeliveryStream},
      {"DescribeDeliveryStream", &Call::DescribeDeliveryStream},
      {"ListDeliveryStreams", &Call::ListDeliveryStreams},
      {"DeleteDeliveryStream", &Call::DeleteDeliveryStream},
      {"PutRecord", &Call::PutRecord},
      {"PutRecordBatch", &Call::PutRecordBatch},
  };
  return stream::HandleJsonApi(request, kFirehoseTargetPrefix, "Firehose", kOperations,
                               [&](const json& body) { return Call(*service_, body); });
}

}  // namespace sluice::delivery
