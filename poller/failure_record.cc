#include "poller/failure_record.h"

#include <sys/stat.h>

#include <cerrno>
#include <span>
#include <string>
#include <string_view>

#include "base/files.h"
#include "base/time_format.h"
#include "sluice/aws_json.h"

namespace sluice::poller {
namespace {

using nlohmann::json;
namespace pb = runtime::v1;

// Serialises without throwing: strings that are not valid UTF-8 (a function ARN, a partition key)
// get U+FFFD instead of an exception.
std::string DumpRecord(const json& record) {
  return record.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The Kinesis event of the records, as the function would have received it.
json KinesisEvent(const pb::KinesisBatch& records) {
  pb::Invoke invoke;
  *invoke.mutable_kinesis() = records;
  // EventToJson's output is valid JSON, so the parse cannot fail (and is told not to throw).
  return json::parse(aws_json::EventToJson(invoke), nullptr, /*allow_exceptions=*/false);
}

// A name usable as one directory or file name component: not empty, not "." or "..", no '/'.
bool IsPlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find_first_of(std::string_view("/\0", 2)) == std::string::npos;
}

Status CheckDiscardedBatch(const DiscardedBatch& batch) {
  if (batch.records.records().empty()) {
    return InvalidArgument("discarded batch of shard " + batch.records.shard_id() + ": no records");
  }
  return Status::Ok();
}

// Creates every missing directory of the absolute or relative `path` (mode 0755), fsyncing the
// parent of each one it creates so that the new entry survives a crash.
Status MakeDirectoriesDurably(const std::string& path) {
  size_t end = path.find_first_not_of('/');
  while (end != std::string::npos) {
    end = path.find('/', end);
    const std::string dir = path.substr(0, end);
    if (::mkdir(dir.c_str(), 0755) == 0) {
      const size_t slash = dir.rfind('/');
      const std::string parent =
          slash == std::string::npos ? "." : (slash == 0 ? "/" : dir.substr(0, slash));
      SLUICE_RETURN_IF_ERROR(SyncDirectory(parent));
    } else if (errno != EEXIST) {
      return ErrnoStatus("create directory " + dir);
    }
    if (end != std::string::npos) {
      end = path.find_first_not_of('/', end);
    }
  }
  return Status::Ok();
}

}  // namespace

json InvocationRecord(const DiscardedBatch& batch, bool include_payload) {
  const pb::KinesisBatch& records = batch.records;
  // Batches have records (the delivery functions refuse empty ones); the default record only
  // keeps a misuse from reading out of bounds.
  const pb::KinesisRecord& first =
      records.records().empty() ? pb::KinesisRecord::default_instance() : records.records(0);
  const pb::KinesisRecord& last = records.records().empty()
                                      ? pb::KinesisRecord::default_instance()
                                      : records.records(records.records_size() - 1);
  json record = json::object();
  record["requestContext"] = {{"requestId", batch.request_id},
                              {"functionArn", batch.function_arn},
                              {"condition", batch.condition},
                              {"approximateInvokeCount", batch.approximate_invoke_count}};
  if (batch.function_ran) {
    record["responseContext"] = {
        {"statusCode", batch.status_code},
        {"executedVersion", batch.executed_version},
        {"functionError", batch.function_error ? json(*batch.function_error) : json(nullptr)}};
  }
  record["version"] = "1.0";
  record["timestamp"] = IsoUtcMillis(batch.timestamp_ms);
  record["KinesisBatchInfo"] = {
      {"shardId", records.shard_id()},
      {"startSequenceNumber", first.sequence_number()},
      {"endSequenceNumber", last.sequence_number()},
      {"approximateArrivalOfFirstRecord", IsoUtcMillis(first.approximate_arrival_timestamp_ms())},
      {"approximateArrivalOfLastRecord", IsoUtcMillis(last.approximate_arrival_timestamp_ms())},
      {"batchSize", records.records_size()},
      {"streamArn", records.event_source_arn()}};
  if (include_payload) {
    record["payload"] = KinesisEvent(records);
  }
  return record;
}

Status SendToStream(stream::StreamStore* streams, const std::string& stream_name,
                    const DiscardedBatch& batch) {
  SLUICE_RETURN_IF_ERROR(CheckDiscardedBatch(batch));
  const std::string context = "on-failure destination stream " + stream_name;
  const std::string data = DumpRecord(InvocationRecord(batch, /*include_payload=*/false));
  stream::PutInput input;
  input.partition_key = batch.records.shard_id();
  input.data = data;
  Result<std::vector<stream::PutOutcome>> outcomes =
      streams->Put(stream_name, std::span<const stream::PutInput>(&input, 1));
  if (!outcomes.ok()) {
    return outcomes.status().WithContext(context);
  }
  // One outcome per record put.
  return outcomes->front().status.WithContext(context);
}

Result<std::string> WriteToDirectory(const std::string& dir, const DiscardedBatch& batch) {
  SLUICE_RETURN_IF_ERROR(CheckDiscardedBatch(batch));
  const pb::KinesisBatch& records = batch.records;
  const std::string& start = records.records(0).sequence_number();
  const std::string& end = records.records(records.records_size() - 1).sequence_number();
  for (const std::string* name : {&batch.mapping_uuid, &records.shard_id(), &start, &end}) {
    if (!IsPlainName(*name)) {
      return InvalidArgument("on-failure destination directory " + dir + ": \"" + *name +
                             "\" cannot be part of a file name");
    }
  }
  // "YYYY-MM-DD..." of the first record's arrival, UTC.
  const std::string arrival = IsoUtcMillis(records.records(0).approximate_arrival_timestamp_ms());
  const std::string file_dir = dir + "/" + batch.mapping_uuid + "/" + records.shard_id() + "/" +
                               arrival.substr(0, 4) + "/" + arrival.substr(5, 2) + "/" +
                               arrival.substr(8, 2);
  const std::string path = file_dir + "/" + start + "-" + end + ".json";
  SLUICE_RETURN_IF_ERROR(MakeDirectoriesDurably(file_dir));
  SLUICE_RETURN_IF_ERROR(
      WriteFileAtomically(path, DumpRecord(InvocationRecord(batch, /*include_payload=*/true))));
  return path;
}

}  // namespace sluice::poller
