// TopicCatalog: notification topics and their subscriptions (SNS's model), in StateDb (tables
// topics, subscriptions).
//
// Topic names are 1-256 of [A-Za-z0-9_-] (SNS's rule); a topic's ARN is
// arn:aws:sns:local:000000000000:<name>. An endpoint is one of
//   http://... or https://...  an HTTP POST per notification (see host/notifier.h)
//   file:///absolute/path      one JSON line per notification, appended to the file
//   stdout                     one JSON line per notification on the host's stdout
// A subscription's id is a UUID; its ARN is the topic's ARN + ":" + id.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "state/state_db.h"

namespace sluice::state {

// How deliveries to one subscription are retried (SNS's delivery policy, in milliseconds). A
// delivery that fails with a 5xx, a timeout or a connection error is retried after
// min(min_delay_ms * 2^(attempt-1), max_delay_ms), +-20% jitter, at most num_retries times.
struct DeliveryPolicy {
  uint32_t num_retries = 12;       // 0-100. Default 12 (about 30 minutes with the delays below)
  int64_t min_delay_ms = 1000;     // 10 ms-1 hour. Default 1 s
  int64_t max_delay_ms = 300'000;  // min_delay_ms-1 hour. Default 5 min

  friend bool operator==(const DeliveryPolicy&, const DeliveryPolicy&) = default;
};

struct Subscription {
  std::string id;  // UUID
  std::string topic;
  std::string endpoint;
  std::string secret;  // HMAC-SHA256 key for the signature header; may be empty (no signature)
  DeliveryPolicy policy;
  int64_t created_unix_ms = 0;
};

struct Topic {
  std::string name;
  std::string arn;
  int64_t created_unix_ms = 0;
  std::vector<Subscription> subscriptions;
};

std::string TopicArn(const std::string& topic);
Status ValidateTopicName(const std::string& topic);
// INVALID_ARGUMENT naming what is wrong with the endpoint (scheme, relative path, ...).
Status ValidateEndpoint(const std::string& endpoint);
Status ValidateDeliveryPolicy(const DeliveryPolicy& policy);

class TopicCatalog {
 public:
  // `clock` stamps creation times and the failing of pending notifications.
  explicit TopicCatalog(StateDb* db, Clock* clock = &Clock::Real()) : db_(db), clock_(clock) {}

  static Status EnsureSchema(Transaction& txn);

  // Idempotent, as SNS's CreateTopic: creating an existing topic is OK and changes nothing.
  Status CreateTopic(const std::string& topic);
  // Deletes the topic and its subscriptions; notifications still pending for them are dropped
  // (marked failed, reason "subscription deleted"). NOT_FOUND when there is no such topic.
  Status DeleteTopic(const std::string& topic);
  Result<std::vector<Topic>> List();
  Result<Topic> Get(const std::string& topic);  // NOT_FOUND
  // Subscribes `endpoint` to `topic` (NOT_FOUND when the topic does not exist). Subscribing an
  // endpoint that is already subscribed to the topic updates its secret and policy and keeps its
  // id, as SNS returns the existing subscription.
  Result<Subscription> Subscribe(const std::string& topic, const std::string& endpoint,
                                 const std::string& secret, const DeliveryPolicy& policy);
  // By subscription id, or by topic and endpoint. NOT_FOUND when there is no such subscription.
  Status Unsubscribe(const std::string& subscription_id);
  Status Unsubscribe(const std::string& topic, const std::string& endpoint);

  // Inside a caller's transaction.
  static Result<bool> Exists(Transaction& txn, const std::string& topic);
  static Result<std::vector<Subscription>> Subscriptions(Transaction& txn,
                                                         const std::string& topic);

 private:
  StateDb* db_;
  Clock* clock_;
};

}  // namespace sluice::state
