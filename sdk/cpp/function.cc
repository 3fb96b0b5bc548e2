// The SDK's types (Context, StreamBatch, responses). The invoke loop is in runtime_client.cc.
#include "sluice/function.h"

#include <unistd.h>

#include <chrono>

#include "sluice/aws_json.h"
#include "sluice/hash_key.h"
#include "utf8.h"

namespace sluice {

namespace pb = runtime::v1;

Context::Context(const pb::Invoke& invoke, const std::string& function_name,
                 const std::string& function_version, internal::HostChannel* host)
    : invoke_(invoke),
      function_name_(function_name),
      function_version_(function_version),
      host_(host),
      kv_(host, invoke.request_id(), record_) {}

std::string Context::Publish(const std::string& topic, const std::string& subject,
                             const std::string& message) {
  return internal::Publish(host_, request_id(), record_, topic, subject, message);
}

std::chrono::milliseconds Context::RemainingTime() const {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  return std::chrono::milliseconds(std::max<int64_t>(0, invoke_.deadline_unix_ms() - now_ms));
}

void Context::Log(std::string_view message) const {
  std::string line;
  line.reserve(request_id().size() + message.size() + 8);
  line.append(request_id()).append("\tINFO\t").append(message).push_back('\n');
  // One write() per line, so lines from the function never interleave mid-line.
  size_t off = 0;
  while (off < line.size()) {
    const ssize_t n = ::write(STDERR_FILENO, line.data() + off, line.size() - off);
    if (n <= 0) {
      return;
    }
    off += static_cast<size_t>(n);
  }
}

StreamBatch::StreamBatch(const pb::Invoke& invoke)
    : invoke_(invoke),
      window_(invoke.event_case() == pb::Invoke::kKinesisWindow ? &invoke.kinesis_window()
                                                                : nullptr) {}

const pb::KinesisBatch& StreamBatch::batch() const {
  return window_ ? window_->batch() : invoke_.kinesis();
}

const std::string& StreamBatch::state_json() const {
  static const std::string kEmpty;
  return window_ ? window_->state_json() : kEmpty;
}

bool StreamBatch::OwnsPartitionKey(std::string_view partition_key) const {
  if (starting_hash_key().empty() && ending_hash_key().empty()) {
    return true;
  }
  const std::optional<Uint128> start = ParseDecimal(starting_hash_key());
  const std::optional<Uint128> end = ParseDecimal(ending_hash_key());
  if (!start || !end) {
    throw std::invalid_argument("the invoke's hash key range is not decimal: \"" +
                                starting_hash_key() + "\" to \"" + ending_hash_key() + "\"");
  }
  return HashKeyRange{*start, *end}.Contains(PartitionKeyHash(partition_key));
}

std::string StreamBatch::ToAwsJson() const {
  return aws_json::EventToJson(invoke_);
}

void StreamResponse::AddItemFailure(std::string sequence_number) {
  item_failures_.push_back(std::move(sequence_number));
}

void StreamResponse::SetState(std::string state_json) {
  state_json_ = std::move(state_json);
}

void TransformResponse::Ok(const std::string& record_id, std::string data) {
  pb::FirehoseRecordResult* r = proto_.add_records();
  r->set_record_id(record_id);
  r->set_result(pb::FirehoseRecordResult::OK);
  r->set_data(std::move(data));
}

void TransformResponse::Dropped(const std::string& record_id) {
  pb::FirehoseRecordResult* r = proto_.add_records();
  r->set_record_id(record_id);
  r->set_result(pb::FirehoseRecordResult::DROPPED);
}

void TransformResponse::ProcessingFailed(const std::string& record_id, std::string data,
                                         std::string reason) {
  pb::FirehoseRecordResult* r = proto_.add_records();
  r->set_record_id(record_id);
  r->set_result(pb::FirehoseRecordResult::PROCESSING_FAILED);
  r->set_data(std::move(data));
  r->set_error_message(internal::ValidUtf8(std::move(reason)));
}

}  // namespace sluice
