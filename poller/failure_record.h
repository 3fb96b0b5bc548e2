// FailureRecord: what an event source mapping sends to its on-failure destination when it
// discards records (retries exhausted, or records older than MaximumRecordAgeInSeconds), in
// Lambda's invocation-record shape:
//
//   {"requestContext": {"requestId", "functionArn", "condition", "approximateInvokeCount"},
//    "responseContext": {"statusCode", "executedVersion", "functionError"},  // only if it ran
//    "version": "1.0", "timestamp": "<ISO-8601 ms>",
//    "KinesisBatchInfo": {"shardId", "startSequenceNumber", "endSequenceNumber",
//                         "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
//                         "batchSize", "streamArn"},
//    "payload": {"Records": [...]}}   // directory destinations only (as Lambda's S3 ones)
//
// and the three ways to deliver it (FailureDestination in mapping_config.h):
// - a Sluice stream: one record, partition key the shard id, data the JSON (without payload);
// - a topic: a notification whose message is the JSON (without payload), committed by the
//   poller in the same transaction as the checkpoint that moves past the records (see
//   state::CommitRequest::host_publishes), so it is sent exactly once;
// - a directory: one file per discarded batch, <dir>/<mapping uuid>/<shard id>/YYYY/MM/DD/
//   <startSequenceNumber>-<endSequenceNumber>.json (date of the first record's arrival, UTC),
//   written atomically (WriteFileAtomically: "<name>.tmp", fsync, rename, fsync of the
//   directory; directories it creates are fsynced into their parents). The name depends only on
//   the records, so sending the same discard again after a crash rewrites the same file (and
//   replaces a temp file the crash left).
// Stream and directory destinations are written before the checkpoint moves: after a crash
// between the two, the discard is sent again (at least once; a stream may see it twice).
//
// Thread-safety: plain functions; safe from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "base/status.h"
#include "sluice/runtime/v1/runtime.pb.h"
#include "stream/stream_store.h"

namespace sluice::poller {

inline constexpr char kRetryAttemptsExhausted[] = "RetryAttemptsExhausted";
inline constexpr char kRecordAgeExceeded[] = "RecordAgeExceeded";

struct DiscardedBatch {
  std::string condition;   // kRetryAttemptsExhausted or kRecordAgeExceeded
  std::string request_id;  // the last invoke's request id; "" when never invoked
  int approximate_invoke_count = 0;
  std::string function_arn;
  // responseContext: present when the function ran on the last attempt.
  bool function_ran = false;
  int status_code = 200;
  std::string executed_version;               // "$LATEST" or the version number
  std::optional<std::string> function_error;  // "Unhandled"; nullopt -> JSON null
  int64_t timestamp_ms = 0;                   // when the records were discarded
  std::string mapping_uuid;
  // The discarded records (at least one), in sequence order, with the shard id and stream ARN.
  runtime::v1::KinesisBatch records;
};

// The invocation record; with `include_payload`, also "payload": the Kinesis event of the
// records as the function would have received it.
nlohmann::json InvocationRecord(const DiscardedBatch& batch, bool include_payload);

// Both delivery functions refuse a batch without records (InvalidArgument).

// Puts the record (without payload) into stream `stream_name`. NotFound if the stream is gone;
// a record the stream could not store is that record's error, with the stream named.
Status SendToStream(stream::StreamStore* streams, const std::string& stream_name,
                    const DiscardedBatch& batch);

// Writes the record with its payload under `dir` (layout above), creating missing directories;
// returns the file's path. InvalidArgument if the mapping UUID, shard id or a sequence number
// is not a plain file name (empty, ".", "..", or with a '/'); I/O errors name the path.
Result<std::string> WriteToDirectory(const std::string& dir, const DiscardedBatch& batch);

}  // namespace sluice::poller
