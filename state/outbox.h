// Outbox: notifications waiting to be delivered, one row per (published message, subscription),
// in StateDb (table outbox). A row is written in the same transaction as the effects that
// published it, so a committed notification is never lost, and an uncommitted one never leaves.
// The notifier (host/notifier.h) takes due rows, delivers them and records the outcome here.
//
// The body (SNS's notification JSON: Type, MessageId, TopicArn, Subject, Message, Timestamp) is
// fixed when the row is written, so every retry sends the same bytes, MessageId included;
// receivers drop duplicates by MessageId. Delivery is at least once: a host killed after a
// receiver answered 200 but before the row was marked delivered sends it again on restart.
//
// Thread-safety: thread-safe (StateDb serialises transactions).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "state/state_db.h"
#include "state/topics.h"

namespace sluice::state {

struct OutboxEntry {
  int64_t id = 0;
  std::string message_id;
  std::string topic;
  Subscription subscription;  // as it is now (endpoint, secret, policy)
  std::string body_json;
  uint32_t attempts = 0;  // deliveries tried so far
  int64_t next_attempt_unix_ms = 0;
  std::string last_error;
};

struct OutboxCounts {
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t failed = 0;  // gave up: a 4xx answer, retries exhausted, or the subscription deleted
};

// The notification body, as SNS sends it to an HTTP subscriber: {"Type": "Notification",
// "MessageId", "TopicArn", "Subject" (left out when empty, as SNS does), "Message", "Timestamp"
// (ISO-8601 UTC with milliseconds, "2026-11-22T05:30:00.123Z")}, in that order.
std::string NotificationBody(const std::string& message_id, const std::string& topic,
                             const std::string& subject, const std::string& message,
                             int64_t timestamp_unix_ms);

class Outbox {
 public:
  // `clock` stamps when a row is finished (delivered or failed), for DeleteFinishedBefore.
  explicit Outbox(StateDb* db, Clock* clock = &Clock::Real()) : db_(db), clock_(clock) {}

  static Status EnsureSchema(Transaction& txn);

  // Inside the commit's transaction: one pending row per current subscription of `topic`, all
  // with `message_id`, due now. Returns the number of rows written (0 with no subscribers).
  static Result<int> Enqueue(Transaction& txn, const std::string& topic,
                             const std::string& message_id, const std::string& subject,
                             const std::string& message, int64_t now_unix_ms);
  // Inside the transaction that deletes a subscription: its pending rows become failed with
  // `reason`.
  static Status FailPending(Transaction& txn, const std::string& subscription_id,
                            const std::string& reason, int64_t now_unix_ms);

  // Pending rows due at or before `now_unix_ms`, oldest first, at most `limit`.
  Result<std::vector<OutboxEntry>> Due(int64_t now_unix_ms, size_t limit);
  // When the next pending row is due (INT64_MAX when none is pending).
  Result<int64_t> NextDueUnixMs();

  Status MarkDelivered(int64_t id, const std::string& outcome);
  Status MarkFailed(int64_t id, const std::string& reason);
  Status Reschedule(int64_t id, int64_t next_attempt_unix_ms, const std::string& last_error);

  Result<OutboxCounts> Counts();
  // Delivered and failed rows older than `before_unix_ms` are deleted (housekeeping).
  Status DeleteFinishedBefore(int64_t before_unix_ms);

 private:
  // Finishes pending row `id`: state 1 (delivered) or 2 (failed), with `note` as its last_error.
  Status Finish(int64_t id, int state, const std::string& note);

  StateDb* db_;
  Clock* clock_;
};

}  // namespace sluice::state
