// The Sluice C++ SDK: write a function as a short program.
//
//   #include "sluice/function.h"
//
//   sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
//     sluice::StreamResponse response;
//     for (const sluice::KinesisRecord& record : batch.records()) {
//       if (!Process(record.data())) {
//         response.AddItemFailure(record.sequence_number());
//       }
//     }
//     ctx.Log("processed " + std::to_string(batch.records().size()) + " records");
//     return response;
//   }
//
//   int main() { return sluice::Run(Handle); }
//
// Everything before Run() is the function's init phase. Run() connects to the host (see
// sdk/protocol.md), reports ready, and handles invokes one at a time until the host asks it to
// stop; it returns the process's exit code. A handler reports a function error by throwing:
// sluice::FunctionError sets errorType and errorMessage; any other std::exception gives its C++
// type name as errorType (e.g. "std::runtime_error", as Lambda's runtimes use the exception's
// class) and what() as errorMessage.
//
// Threading: handlers run on the thread that called Run(), one invoke at a time. A Context is
// valid only during the handler call that received it.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/host_services.h"
#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice {

// A stream record: data(), partition_key(), sequence_number(),
// approximate_arrival_timestamp_ms(). The protocol's own message, read without copying.
using KinesisRecord = runtime::v1::KinesisRecord;
// A Firehose record to transform: record_id(), approximate_arrival_timestamp_ms(), data(), and
// kinesis_record_metadata() when the delivery stream reads a stream.
using FirehoseRecord = runtime::v1::FirehoseRecord;

// What the handler is given about the invoke in progress.
class Context {
 public:
  // `host` is the connection for host services; null (outside a host) makes them throw.
  Context(const runtime::v1::Invoke& invoke, const std::string& function_name,
          const std::string& function_version, internal::HostChannel* host = nullptr);
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const std::string& request_id() const { return invoke_.request_id(); }
  const std::string& invoked_function_arn() const { return invoke_.invoked_function_arn(); }
  const std::string& function_name() const { return function_name_; }
  const std::string& function_version() const { return function_version_; }
  // Time left before the host kills this instance for running over its timeout (never negative).
  std::chrono::milliseconds RemainingTime() const;
  // The deadline as Unix milliseconds (Lambda-Runtime-Deadline-Ms).
  int64_t deadline_unix_ms() const { return invoke_.deadline_unix_ms(); }

  // Writes "<request id>\tINFO\t<message>" as one line to stderr, which the host captures.
  void Log(std::string_view message) const;

  // Host services (sluice/host_services.h): the key-value tables, and notifications. Effects
  // are staged and commit only when the invoke succeeds.
  Kv& kv() { return kv_; }
  // Publishes to every subscriber of `topic`; returns the MessageId they will receive.
  std::string Publish(const std::string& topic, const std::string& subject,
                      const std::string& message);

  // Effects made from now on belong to this record (its sequence number), so that with partial
  // batch failures only those of records before the first failure commit. "" for none.
  // RunPerRecord sets it for each record.
  void SetCurrentRecord(std::string sequence_number) { record_ = std::move(sequence_number); }
  const std::string& current_record() const { return record_; }

 private:
  const runtime::v1::Invoke& invoke_;
  const std::string& function_name_;
  const std::string& function_version_;
  internal::HostChannel* host_;
  std::string record_;
  Kv kv_;
};

// A batch of one shard's records, in sequence order; for a tumbling-window mapping also the
// window and the state carried from the previous invoke of this window.
class StreamBatch {
 public:
  explicit StreamBatch(const runtime::v1::Invoke& invoke);

  const google::protobuf::RepeatedPtrField<KinesisRecord>& records() const {
    return batch().records();
  }
  const std::string& shard_id() const { return batch().shard_id(); }
  const std::string& event_source_arn() const { return batch().event_source_arn(); }
  // Sluice extension (sdk/protocol.md): the shard's inclusive hash key range in decimal, as
  // ListShards shows it; "" when unknown (an event read from a file).
  const std::string& starting_hash_key() const { return batch().starting_hash_key(); }
  const std::string& ending_hash_key() const { return batch().ending_hash_key(); }
  // Whether the stream routes a record with this partition key to this shard: MD5 of the key, a
  // big-endian unsigned 128-bit integer, within the range above. True when the range is unknown.
  // Throws std::invalid_argument when the host sent a range that is not decimal.
  bool OwnsPartitionKey(std::string_view partition_key) const;

  // Tumbling windows. has_window() is false for plain batches, and the rest is then empty.
  bool has_window() const { return window_ != nullptr; }
  int64_t window_start_ms() const { return window_ ? window_->window_start_ms() : 0; }
  int64_t window_end_ms() const { return window_ ? window_->window_end_ms() : 0; }
  // The carried state, a JSON object ("{}" when a window starts).
  const std::string& state_json() const;
  bool is_final_invoke_for_window() const {
    return window_ && window_->is_final_invoke_for_window();
  }
  bool is_window_terminated_early() const {
    return window_ && window_->is_window_terminated_early();
  }

  // The event exactly as Lambda would have delivered it as JSON (for handlers ported from
  // Lambda that parse JSON). Costs a conversion; typed access above is the fast path.
  std::string ToAwsJson() const;

 private:
  const runtime::v1::KinesisBatch& batch() const;

  const runtime::v1::Invoke& invoke_;
  const runtime::v1::KinesisWindowBatch* window_;
};

// The answer to a StreamBatch. Empty means every record succeeded.
class StreamResponse {
 public:
  // Reports a record as failed (ReportBatchItemFailures): the host retries from the lowest
  // failed sequence number.
  void AddItemFailure(std::string sequence_number);
  // The state to carry to the next invoke of the window. REQUIRED for window batches: a JSON
  // object, e.g. R"({"count": 3})".
  void SetState(std::string state_json);

  const std::vector<std::string>& item_failures() const { return item_failures_; }
  const std::optional<std::string>& state_json() const { return state_json_; }

 private:
  std::vector<std::string> item_failures_;
  std::optional<std::string> state_json_;
};

// A Firehose data-transformation batch.
class TransformBatch {
 public:
  explicit TransformBatch(const runtime::v1::FirehoseTransformBatch& batch) : batch_(batch) {}

  const google::protobuf::RepeatedPtrField<FirehoseRecord>& records() const {
    return batch_.records();
  }
  const std::string& invocation_id() const { return batch_.invocation_id(); }
  const std::string& delivery_stream_arn() const { return batch_.delivery_stream_arn(); }

 private:
  const runtime::v1::FirehoseTransformBatch& batch_;
};

// The answer to a TransformBatch: one result per input record id, each exactly once.
class TransformResponse {
 public:
  void Ok(const std::string& record_id, std::string data);
  void Dropped(const std::string& record_id);
  // `reason` (a Sluice extension) says why; the delivery stream writes it as the error record's
  // errorMessage (its first 1,024 bytes), Firehose's fixed text when empty. Bytes that are not
  // UTF-8 become U+FFFD (the protocol's strings must be UTF-8).
  void ProcessingFailed(const std::string& record_id, std::string data = {},
                        std::string reason = {});

  runtime::v1::FirehoseTransformResponse& proto() { return proto_; }

 private:
  runtime::v1::FirehoseTransformResponse proto_;
};

// Thrown by a handler to report a function error with Lambda's errorType / errorMessage.
class FunctionError : public std::runtime_error {
 public:
  FunctionError(std::string error_type, const std::string& message)
      : std::runtime_error(message), error_type_(std::move(error_type)) {}
  const std::string& error_type() const { return error_type_; }

 private:
  std::string error_type_;
};

using StreamHandler = std::function<StreamResponse(const StreamBatch&, Context&)>;
// Handles one record. Throwing marks the record failed.
using RecordHandler = std::function<void(const KinesisRecord&, Context&)>;
using TransformHandler = std::function<TransformResponse(const TransformBatch&, Context&)>;

// Connects to the host and serves invokes until shutdown. Returns the process exit code: 0 after
// a graceful shutdown, non-zero when the host could not be reached or the protocol failed.
int Run(StreamHandler handler);
int Run(TransformHandler handler);
// Handles a stream batch record by record, in order, with the Context's current record set to
// each. When a record's handler throws, the error is logged, that record is reported as the
// batch's item failure and the records after it are left for the retry (which starts at the
// failed record): use it with a mapping that has FunctionResponseTypes ReportBatchItemFailures.
// Effects of the records before the failed one commit; those of the failed record do not.
int RunPerRecord(RecordHandler handler);

// Reports a failed initialisation to the host (Runtime.InitError with this type and message)
// instead of becoming ready. Returns the exit code to return from main (1).
int FailInit(const std::string& error_type, const std::string& message);

}  // namespace sluice
