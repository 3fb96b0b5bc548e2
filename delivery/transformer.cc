#include "delivery/transformer.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <unordered_map>

#include "base/random.h"
#include "base/text.h"
#include "invoker/function_name.h"
#include "invoker/instance.h"

namespace sluice::delivery {
namespace {

namespace pb = runtime::v1;

constexpr std::chrono::milliseconds kFirstRetryDelay{1000};
constexpr std::chrono::milliseconds kMaxRetryDelay{8000};

// One invoke's verdict: outcomes for every record, or a failure of the whole chunk.
struct Attempt {
  bool retryable = false;
  std::string error_code;  // empty: `outcomes` holds the answer
  std::string error_message;
  std::vector<TransformOutcome> outcomes;
};

// Firehose's code for a function error the invoker reported.
std::string ErrorCodeFor(const pb::FunctionError& error) {
  if (error.error_type() == invoker::kSandboxTimedout) {
    return "Lambda.FunctionTimedOut";
  }
  if (error.error_type() == invoker::kRuntimeInvalidResponse) {
    return "Lambda.JsonProcessingException";
  }
  return "Lambda.FunctionError";
}

// Reads the per-record results, moving their data out of `response`; fails the chunk when the
// ids do not match one for one. Functions answer in the order they were given, so the i-th
// answer is looked for at the i-th record first, and in an index only when that misses.
Attempt ReadResponse(std::span<const TransformInput> chunk, pb::InvokeResponse& response) {
  Attempt attempt;
  if (!response.has_firehose()) {
    attempt.error_code = "Lambda.JsonProcessingException";
    attempt.error_message = "the function's response is not a transform response (\"records\")";
    return attempt;
  }
  std::unordered_map<std::string_view, size_t> index;  // built on the first answer out of order
  auto position_of = [&](size_t nth, const std::string& id) -> std::optional<size_t> {
    if (nth < chunk.size() && chunk[nth].record_id == id) {
      return nth;
    }
    if (index.empty()) {
      index.reserve(chunk.size());
      for (size_t i = 0; i < chunk.size(); ++i) {
        index.emplace(chunk[i].record_id, i);
      }
    }
    auto it = index.find(id);
    return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
  };
  std::vector<TransformOutcome> outcomes(chunk.size());
  std::vector<bool> answered(chunk.size(), false);
  auto* results = response.mutable_firehose()->mutable_records();
  for (int nth = 0; nth < results->size(); ++nth) {
    pb::FirehoseRecordResult& result = (*results)[nth];
    const std::optional<size_t> at = position_of(static_cast<size_t>(nth), result.record_id());
    if (!at) {
      attempt.error_code = "Lambda.JsonProcessingException";
      attempt.error_message =
          "the response names record id \"" + result.record_id() + "\", which is not in the batch";
      return attempt;
    }
    if (answered[*at]) {
      attempt.error_code = "Lambda.DuplicatedRecordId";
      attempt.error_message =
          "record id \"" + result.record_id() + "\" appears more than once in the response";
      return attempt;
    }
    answered[*at] = true;
    TransformOutcome& outcome = outcomes[*at];
    outcome.attempts = 1;
    switch (result.result()) {
      case pb::FirehoseRecordResult::OK:
        outcome.kind = TransformOutcome::kOk;
        outcome.data = std::move(*result.mutable_data());
        break;
      case pb::FirehoseRecordResult::DROPPED: outcome.kind = TransformOutcome::kDropped; break;
      default:
        outcome.kind = TransformOutcome::kFailed;
        outcome.error_code = "Lambda.ProcessingFailed";
        outcome.error_message =
            result.error_message().empty()
                ? "the function returned ProcessingFailed for the record"
                : std::string(Utf8Prefix(result.error_message(), kMaxProcessingFailedReasonBytes));
        break;
    }
  }
  const auto missing = std::find(answered.begin(), answered.end(), false);
  if (missing != answered.end()) {
    attempt.error_code = "Lambda.MissingRecordId";
    attempt.error_message =
        "One or more record Ids were not returned. Ensure that the Lambda "
        "function returns all received record Ids (first missing: \"" +
        chunk[missing - answered.begin()].record_id + "\")";
    return attempt;
  }
  attempt.outcomes = std::move(outcomes);
  return attempt;
}

}  // namespace

Transformer::Transformer(TransformerOptions options, poller::FunctionResolver* functions,
                         Clock* clock)
    : options_(std::move(options)),
      functions_(functions),
      clock_(clock),
      function_arn_(invoker::FunctionArn(
          options_.processor.function_name,
          options_.processor.qualifier == "$LATEST" ? "" : options_.processor.qualifier)) {}

std::vector<TransformOutcome> Transformer::Transform(std::span<const TransformInput> chunk,
                                                     const StopSignal& stop) {
  const ProcessorConfig& processor = options_.processor;
  auto invoke_once = [&]() -> Attempt {
    Attempt attempt;
    std::shared_ptr<invoker::FunctionPool> pool =
        functions_->Find(processor.function_name, processor.qualifier);
    if (!pool) {
      attempt.retryable = true;
      attempt.error_code = "Lambda.ResourceNotFound";
      attempt.error_message =
          "function " + processor.function_name + ":" + processor.qualifier + " is not deployed";
      return attempt;
    }
    pb::Invoke invoke;
    pb::FirehoseTransformBatch* batch = invoke.mutable_firehose();
    batch->set_invocation_id(RandomUuid());
    batch->set_delivery_stream_arn(options_.delivery_stream_arn);
    batch->set_source_kinesis_stream_arn(options_.source_stream_arn);
    batch->set_region(options_.region);
    for (const TransformInput& input : chunk) {
      pb::FirehoseRecord* record = batch->add_records();
      record->set_record_id(input.record_id);
      record->set_approximate_arrival_timestamp_ms(input.arrival_ms);
      record->set_data(*input.data);
      if (input.metadata != nullptr) {
        *record->mutable_kinesis_record_metadata() = *input.metadata;
      }
    }
    Result<invoker::InvokeResult> result = pool->Invoke(std::move(invoke));
    if (!result.ok()) {
      attempt.retryable = result.status().code() != Code::kInvalidArgument;
      attempt.error_code = result.status().code() == Code::kResourceExhausted
                               ? "Lambda.InvokeLimitExceeded"
                               : "Lambda.FunctionError";
      attempt.error_message = result.status().message();
      return attempt;
    }
    if (result->response.has_error()) {
      const pb::FunctionError& error = result->response.error();
      attempt.error_code = ErrorCodeFor(error);
      attempt.retryable = attempt.error_code != "Lambda.JsonProcessingException";
      attempt.error_message = error.error_type() + ": " + error.error_message();
      return attempt;
    }
    return ReadResponse(chunk, result->response);
  };

  std::chrono::milliseconds delay = kFirstRetryDelay;
  int32_t attempts = 0;
  Attempt attempt;
  while (true) {
    attempt = invoke_once();
    ++attempts;
    if (attempt.error_code.empty()) {
      return std::move(attempt.outcomes);
    }
    if (!attempt.retryable || attempts > processor.number_of_retries ||
        !stop.SleepUntil(*clock_, clock_->SteadyNow() + delay)) {
      break;
    }
    delay = std::min(delay * 2, kMaxRetryDelay);
  }
  std::vector<TransformOutcome> failed(chunk.size());
  for (TransformOutcome& outcome : failed) {
    outcome.kind = TransformOutcome::kFailed;
    outcome.error_code = attempt.error_code;
    outcome.error_message = attempt.error_message;
    outcome.attempts = attempts;
  }
  return failed;
}

}  // namespace sluice::delivery
