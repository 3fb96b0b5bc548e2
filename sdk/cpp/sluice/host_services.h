// Host services for functions: key-value tables and notifications, reached through the host on
// the function's own connection (sdk/protocol.md, "Host services"). A function needs no network
// and no files of its own.
//
//   sluice::StreamResponse Handle(const sluice::StreamBatch& batch, sluice::Context& ctx) {
//     for (const sluice::KinesisRecord& record : batch.records()) {
//       ctx.SetCurrentRecord(record.sequence_number());
//       std::string total = ctx.kv().Update("spend", "c-42",
//                                           {sluice::kv::Add("cents", "125")});
//       if (...) ctx.Publish("billing-alerts", "Threshold crossed", R"({"customer":"c-42"})");
//     }
//     return {};
//   }
//
// Exactly once: writes and publishes are staged by the host. This invoke's own reads see them;
// nothing else does until the invoke succeeds, when they commit together (with the mapping's
// checkpoint). A failed, timed-out or crashed invoke commits nothing, so a retry starts clean.
// With partial batch failures, each effect belongs to the record set with SetCurrentRecord()
// (RunPerRecord does it for you), and only effects of records before the first failure commit.
//
// Values are JSON documents, passed as JSON text. Attributes are the top-level members of an
// object value. Conditions are checked when the call is made and again at commit; when one fails
// at commit, the invoke fails (Sluice.ConditionalCheckFailed) and is retried.
//
// Errors throw: ConditionalCheckFailed when a condition does not hold now, HostServiceError for
// the rest (errorType "Sluice.PermissionDenied" for a table or topic missing from the manifest,
// "Sluice.InvalidArgument", "Sluice.NotFound", ...). Uncaught, they fail the invoke with that
// errorType. Calls are valid only during the handler call that received the Context; they are
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice {

namespace internal {
class HostChannel;  // the connection and the instance's identity (runtime_client.cc)
}  // namespace internal

namespace kv {

using Condition = runtime::v1::KvCondition;
using UpdateAction = runtime::v1::KvUpdateAction;

// Conditions. With attribute "" Exists/NotExists test the item itself.
Condition Exists(const std::string& attribute = "");
Condition NotExists(const std::string& attribute = "");
// Compares attribute with a JSON value: op is one of EQ, NE, LT, LE, GT, GE.
Condition Compare(const std::string& attribute, Condition::Op op, const std::string& value_json);

// Update actions.
UpdateAction Set(const std::string& attribute, const std::string& value_json);
UpdateAction Add(const std::string& attribute, const std::string& number_json);
UpdateAction Remove(const std::string& attribute);

struct Item {
  std::string key;
  std::string value_json;
};

struct Page {
  std::vector<Item> items;
  std::string last_evaluated_key;  // non-empty when more may follow: pass it to continue
};

}  // namespace kv

// A host-service call failed. error_type() is "Sluice.<Code>" (Sluice.PermissionDenied, ...).
class HostServiceError : public std::runtime_error {
 public:
  HostServiceError(std::string error_type, const std::string& message)
      : std::runtime_error(message), error_type_(std::move(error_type)) {}
  const std::string& error_type() const { return error_type_; }

 private:
  std::string error_type_;
};

// A condition did not hold (errorType "Sluice.ConditionalCheckFailed").
class ConditionalCheckFailed : public HostServiceError {
 public:
  explicit ConditionalCheckFailed(const std::string& message)
      : HostServiceError("Sluice.ConditionalCheckFailed", message) {}
};

// The key-value tables, as this invoke sees them.
class Kv {
 public:
  Kv(internal::HostChannel* channel, const std::string& request_id, const std::string& record)
      : channel_(channel), request_id_(request_id), record_(record) {}

  // The item's value, or nullopt when there is no such item.
  std::optional<std::string> Get(const std::string& table, const std::string& key);
  void Put(const std::string& table, const std::string& key, const std::string& value_json,
           const std::vector<kv::Condition>& conditions = {});
  // Returns whether the item existed.
  bool Delete(const std::string& table, const std::string& key,
              const std::vector<kv::Condition>& conditions = {});
  // Items whose key starts with key_prefix, in key order; limit 1-1000.
  kv::Page Query(const std::string& table, const std::string& key_prefix, uint32_t limit = 100,
                 const std::string& exclusive_start_key = "");
  // Applies the actions in order (a missing item starts as {}); returns the item after them.
  std::string Update(const std::string& table, const std::string& key,
                     const std::vector<kv::UpdateAction>& actions,
                     const std::vector<kv::Condition>& conditions = {});

 private:
  internal::HostChannel* channel_;
  const std::string& request_id_;
  const std::string& record_;
};

namespace internal {
// Publishes through `channel`; used by Context::Publish.
std::string Publish(HostChannel* channel, const std::string& request_id, const std::string& record,
                    const std::string& topic, const std::string& subject,
                    const std::string& message);
}  // namespace internal

}  // namespace sluice
