// The SDK's host-service calls: key-value tables and Publish (sluice/host_services.h).
#include "sluice/host_services.h"

#include "host_channel.h"

namespace sluice {

namespace pb = runtime::v1;

namespace internal {
namespace {

// "PERMISSION_DENIED" -> "PermissionDenied".
std::string CamelCode(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "Ok",       "Cancelled",      "Unknown",          "InvalidArgument",   "DeadlineExceeded",
      "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
      "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
      "DataLoss", "Unauthenticated"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < static_cast<int>(std::size(kNames)) ? kNames[index] : "Unknown";
}

HostChannel* Require(HostChannel* channel) {
  if (channel == nullptr) {
    throw HostServiceError("Sluice.Unavailable",
                           "host services are only available inside a function run by the host");
  }
  return channel;
}

}  // namespace

void HostChannel::Throw(const grpc::Status& status) {
  const std::string& message = status.error_message();
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
      message.rfind("ConditionalCheckFailed", 0) == 0) {
    throw ConditionalCheckFailed(message);
  }
  throw HostServiceError("Sluice." + CamelCode(status.error_code()), message);
}

std::string Publish(HostChannel* channel, const std::string& request_id, const std::string& record,
                    const std::string& topic, const std::string& subject,
                    const std::string& message) {
  pb::PublishRequest request;
  request.set_topic(topic);
  request.set_subject(subject);
  request.set_message(message);
  pb::PublishResponse response;
  Require(channel)->Call(&pb::HostServices::Stub::Publish, request_id, record, request, &response);
  return response.message_id();
}

}  // namespace internal

namespace kv {
namespace {

Condition MakeCondition(const std::string& attribute, Condition::Op op,
                        const std::string& value_json) {
  Condition condition;
  condition.set_attribute(attribute);
  condition.set_op(op);
  condition.set_value_json(value_json);
  return condition;
}

UpdateAction MakeAction(UpdateAction::Kind kind, const std::string& attribute,
                        const std::string& value_json) {
  UpdateAction action;
  action.set_kind(kind);
  action.set_attribute(attribute);
  action.set_value_json(value_json);
  return action;
}

}  // namespace

Condition Exists(const std::string& attribute) {
  return MakeCondition(attribute, Condition::EXISTS, "");
}
Condition NotExists(const std::string& attribute) {
  return MakeCondition(attribute, Condition::NOT_EXISTS, "");
}
Condition Compare(const std::string& attribute, Condition::Op op, const std::string& value_json) {
  return MakeCondition(attribute, op, value_json);
}
UpdateAction Set(const std::string& attribute, const std::string& value_json) {
  return MakeAction(UpdateAction::SET, attribute, value_json);
}
UpdateAction Add(const std::string& attribute, const std::string& number_json) {
  return MakeAction(UpdateAction::ADD, attribute, number_json);
}
UpdateAction Remove(const std::string& attribute) {
  return MakeAction(UpdateAction::REMOVE, attribute, "");
}

}  // namespace kv

namespace {

template <typename Field>
void CopyAll(const std::vector<typename Field::value_type>& from, Field* to) {
  to->Reserve(static_cast<int>(from.size()));
  for (const auto& element : from) {
    *to->Add() = element;
  }
}

}  // namespace

std::optional<std::string> Kv::Get(const std::string& table, const std::string& key) {
  pb::KvGetRequest request;
  request.set_table(table);
  request.set_key(key);
  pb::KvGetResponse response;
  internal::Require(channel_)->Call(&pb::HostServices::Stub::KvGet, request_id_, record_, request,
                                    &response);
  if (!response.found()) {
    return std::nullopt;
  }
  return std::move(*response.mutable_value_json());
}

void Kv::Put(const std::string& table, const std::string& key, const std::string& value_json,
             const std::vector<kv::Condition>& conditions) {
  pb::KvPutRequest request;
  request.set_table(table);
  request.set_key(key);
  request.set_value_json(value_json);
  CopyAll(conditions, request.mutable_conditions());
  pb::KvPutResponse response;
  internal::Require(channel_)->Call(&pb::HostServices::Stub::KvPut, request_id_, record_, request,
                                    &response);
}

bool Kv::Delete(const std::string& table, const std::string& key,
                const std::vector<kv::Condition>& conditions) {
  pb::KvDeleteRequest request;
  request.set_table(table);
  request.set_key(key);
  CopyAll(conditions, request.mutable_conditions());
  pb::KvDeleteResponse response;
  internal::Require(channel_)->Call(&pb::HostServices::Stub::KvDelete, request_id_, record_,
                                    request, &response);
  return response.existed();
}

kv::Page Kv::Query(const std::string& table, const std::string& key_prefix, uint32_t limit,
                   const std::string& exclusive_start_key) {
  pb::KvQueryRequest request;
  request.set_table(table);
  request.set_key_prefix(key_prefix);
  request.set_limit(limit);
  request.set_exclusive_start_key(exclusive_start_key);
  pb::KvQueryResponse response;
  internal::Require(channel_)->Call(&pb::HostServices::Stub::KvQuery, request_id_, record_, request,
                                    &response);
  kv::Page page;
  page.items.reserve(response.items_size());
  for (pb::KvItem& item : *response.mutable_items()) {
    page.items.push_back({std::move(*item.mutable_key()), std::move(*item.mutable_value_json())});
  }
  page.last_evaluated_key = response.last_evaluated_key();
  return page;
}

std::string Kv::Update(const std::string& table, const std::string& key,
                       const std::vector<kv::UpdateAction>& actions,
                       const std::vector<kv::Condition>& conditions) {
  pb::KvUpdateRequest request;
  request.set_table(table);
  request.set_key(key);
  CopyAll(actions, request.mutable_actions());
  CopyAll(conditions, request.mutable_conditions());
  pb::KvUpdateResponse response;
  internal::Require(channel_)->Call(&pb::HostServices::Stub::KvUpdate, request_id_, record_,
                                    request, &response);
  return std::move(*response.mutable_value_json());
}

}  // namespace sluice
