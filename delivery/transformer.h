// Transformer: runs a delivery stream's Lambda processor over its records, as Firehose does
// (wire-formats.md §5.2).
//
// Transform() invokes the function once per chunk with Firehose's transform event and reads a
// result per record: Ok with new data, Dropped, or ProcessingFailed. Invocation failures (a
// function error, a timeout, a crash, a throttle, a function that is not deployed or cannot
// start) are retried NumberOfRetries times, 1 s apart doubling to at most 8 s; then every record
// of the chunk has failed with the last error (Lambda.FunctionError, Lambda.FunctionTimedOut,
// Lambda.InvokeLimitExceeded, Lambda.ResourceNotFound). A response that breaks the protocol is
// not retried (Firehose records attemptsMade 1 for it) and fails every record:
// Lambda.MissingRecordId (an input id not answered), Lambda.DuplicatedRecordId (an id answered
// twice), Lambda.JsonProcessingException (an id not in the chunk, an invalid result, or an
// answer that is not a transform response).
//
// A ProcessingFailed record's message is the function's reason when it gave one (a Sluice
// extension), cut to kMaxProcessingFailedReasonBytes on a UTF-8 character boundary, else
// Firehose's fixed text.
//
// Thread-safety: Transform() from one thread at a time (each delivery stream has one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/stop_signal.h"
#include "delivery/delivery_config.h"
#include "poller/function_resolver.h"
#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice::delivery {

// The most bytes of a function's ProcessingFailed reason an error record keeps.
inline constexpr size_t kMaxProcessingFailedReasonBytes = 1024;

// A record to transform. `metadata` is set when the source is a Kinesis stream.
struct TransformInput {
  std::string record_id;
  int64_t arrival_ms = 0;
  const std::string* data = nullptr;                             // not owned
  const runtime::v1::KinesisRecordMetadata* metadata = nullptr;  // may be null
};

struct TransformOutcome {
  enum Kind { kOk, kDropped, kFailed };
  Kind kind = kFailed;
  std::string data;  // kOk: the transformed record
  // kFailed: Firehose's error code and message, and the invokes spent on the record.
  std::string error_code;
  std::string error_message;
  int32_t attempts = 0;
};

struct TransformerOptions {
  ProcessorConfig processor;
  std::string delivery_stream_arn;
  std::string source_stream_arn;  // empty for DirectPut
  std::string region;
};

class Transformer {
 public:
  Transformer(TransformerOptions options, poller::FunctionResolver* functions, Clock* clock);

  // Outcomes line up with `chunk`. Returns early once `stop` is signalled, so a stopping
  // pipeline does not wait out retries; the caller then discards the outcomes.
  std::vector<TransformOutcome> Transform(std::span<const TransformInput> chunk,
                                          const StopSignal& stop);

  // The processor's function ARN, for error records.
  const std::string& function_arn() const { return function_arn_; }

 private:
  const TransformerOptions options_;
  poller::FunctionResolver* const functions_;
  Clock* const clock_;
  const std::string function_arn_;
};

}  // namespace sluice::delivery
