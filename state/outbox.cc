#include "state/outbox.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/time_format.h"

namespace sluice::state {
namespace {

// The row states.
constexpr int kPending = 0;
constexpr int kDelivered = 1;
constexpr int kFailed = 2;

}  // namespace

std::string NotificationBody(const std::string& message_id, const std::string& topic,
                             const std::string& subject, const std::string& message,
                             int64_t timestamp_unix_ms) {
  nlohmann::ordered_json body;
  body["Type"] = "Notification";
  body["MessageId"] = message_id;
  body["TopicArn"] = TopicArn(topic);
  if (!subject.empty()) {
    body["Subject"] = subject;
  }
  body["Message"] = message;
  body["Timestamp"] = IsoUtcMillis(timestamp_unix_ms);
  // Callers pass valid UTF-8; replacing what is not keeps dump() from throwing.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

Status Outbox::EnsureSchema(Transaction& txn) {
  SLUICE_RETURN_IF_ERROR(
      txn.Exec("CREATE TABLE IF NOT EXISTS outbox ("
               " id INTEGER PRIMARY KEY AUTOINCREMENT,"
               " message_id TEXT NOT NULL,"
               " topic TEXT NOT NULL,"
               " subscription_id TEXT NOT NULL,"
               " body TEXT NOT NULL,"
               " state INTEGER NOT NULL,"  // 0 pending, 1 delivered, 2 failed
               " attempts INTEGER NOT NULL,"
               " next_attempt_ms INTEGER NOT NULL,"
               " last_error TEXT NOT NULL,"
               " finished_ms INTEGER)"));
  SLUICE_RETURN_IF_ERROR(
      txn.Exec("CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_ms)"));
  return txn.Exec(
      "CREATE INDEX IF NOT EXISTS outbox_subscription ON outbox (subscription_id, state)");
}

Result<int> Outbox::Enqueue(Transaction& txn, const std::string& topic,
                            const std::string& message_id, const std::string& subject,
                            const std::string& message, int64_t now_unix_ms) {
  Result<std::vector<Subscription>> subscriptions = TopicCatalog::Subscriptions(txn, topic);
  SLUICE_RETURN_IF_ERROR(subscriptions.status());
  const std::string body = NotificationBody(message_id, topic, subject, message, now_unix_ms);
  for (const Subscription& subscription : *subscriptions) {
    Result<Statement*> statement = txn.Prepare(
        "INSERT INTO outbox (message_id, topic, subscription_id, body, state, attempts, "
        "next_attempt_ms, last_error) VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, '')");
    SLUICE_RETURN_IF_ERROR(statement.status());
    SLUICE_RETURN_IF_ERROR((*statement)
                               ->Bind(1, message_id)
                               .Bind(2, topic)
                               .Bind(3, subscription.id)
                               .Bind(4, body)
                               .Bind(5, now_unix_ms)
                               .Run());
  }
  return static_cast<int>(subscriptions->size());
}

Status Outbox::FailPending(Transaction& txn, const std::string& subscription_id,
                           const std::string& reason, int64_t now_unix_ms) {
  Result<Statement*> statement = txn.Prepare(
      "UPDATE outbox SET state = 2, last_error = ?1, finished_ms = ?2 "
      "WHERE subscription_id = ?3 AND state = 0");
  SLUICE_RETURN_IF_ERROR(statement.status());
  return (*statement)->Bind(1, reason).Bind(2, now_unix_ms).Bind(3, subscription_id).Run();
}

Result<std::vector<OutboxEntry>> Outbox::Due(int64_t now_unix_ms, size_t limit) {
  std::vector<OutboxEntry> due;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "SELECT o.id, o.message_id, o.topic, o.body, o.attempts, o.next_attempt_ms, o.last_error,"
        " s.id, s.endpoint, s.secret, s.num_retries, s.min_delay_ms, s.max_delay_ms,"
        " s.created_ms FROM outbox o JOIN subscriptions s ON s.id = o.subscription_id"
        " WHERE o.state = 0 AND o.next_attempt_ms <= ?1 ORDER BY o.next_attempt_ms, o.id"
        " LIMIT ?2");
    SLUICE_RETURN_IF_ERROR(statement.status());
    Statement& query = **statement;
    const auto max_rows = static_cast<int64_t>(
        std::min<size_t>(limit, static_cast<size_t>(std::numeric_limits<int64_t>::max())));
    query.Bind(1, now_unix_ms).Bind(2, max_rows);
    while (true) {
      Result<bool> row = query.Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        return Status::Ok();
      }
      OutboxEntry entry;
      entry.id = query.ColumnInt(0);
      entry.message_id = query.ColumnText(1);
      entry.topic = query.ColumnText(2);
      entry.body_json = query.ColumnText(3);
      entry.attempts = static_cast<uint32_t>(query.ColumnInt(4));
      entry.next_attempt_unix_ms = query.ColumnInt(5);
      entry.last_error = query.ColumnText(6);
      entry.subscription.id = query.ColumnText(7);
      entry.subscription.topic = entry.topic;
      entry.subscription.endpoint = query.ColumnText(8);
      entry.subscription.secret = query.ColumnText(9);
      entry.subscription.policy.num_retries = static_cast<uint32_t>(query.ColumnInt(10));
      entry.subscription.policy.min_delay_ms = query.ColumnInt(11);
      entry.subscription.policy.max_delay_ms = query.ColumnInt(12);
      entry.subscription.created_unix_ms = query.ColumnInt(13);
      due.push_back(std::move(entry));
    }
  }));
  return due;
}

Result<int64_t> Outbox::NextDueUnixMs() {
  int64_t next = std::numeric_limits<int64_t>::max();
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement =
        txn.Prepare("SELECT MIN(next_attempt_ms) FROM outbox WHERE state = 0");
    SLUICE_RETURN_IF_ERROR(statement.status());
    Result<bool> row = (*statement)->Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (*row && !(*statement)->ColumnIsNull(0)) {
      next = (*statement)->ColumnInt(0);
    }
    return Status::Ok();
  }));
  return next;
}

Status Outbox::MarkDelivered(int64_t id, const std::string& outcome) {
  return Finish(id, kDelivered, outcome);
}

Status Outbox::MarkFailed(int64_t id, const std::string& reason) {
  return Finish(id, kFailed, reason);
}

Status Outbox::Finish(int64_t id, int state, const std::string& note) {
  return db_->Write([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "UPDATE outbox SET state = ?1, attempts = attempts + 1, last_error = ?2, "
        "finished_ms = ?3 WHERE id = ?4 AND state = 0");
    SLUICE_RETURN_IF_ERROR(statement.status());
    SLUICE_RETURN_IF_ERROR(
        (*statement)->Bind(1, state).Bind(2, note).Bind(3, clock_->UnixMillis()).Bind(4, id).Run());
    if (txn.Changes() == 0) {
      return NotFound("outbox row " + std::to_string(id) + " is not pending");
    }
    return Status::Ok();
  });
}

Status Outbox::Reschedule(int64_t id, int64_t next_attempt_unix_ms, const std::string& last_error) {
  return db_->Write([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?1, last_error = ?2 "
        "WHERE id = ?3 AND state = 0");
    SLUICE_RETURN_IF_ERROR(statement.status());
    SLUICE_RETURN_IF_ERROR(
        (*statement)->Bind(1, next_attempt_unix_ms).Bind(2, last_error).Bind(3, id).Run());
    if (txn.Changes() == 0) {
      return NotFound("outbox row " + std::to_string(id) + " is not pending");
    }
    return Status::Ok();
  });
}

Result<OutboxCounts> Outbox::Counts() {
  OutboxCounts counts;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare("SELECT state, COUNT(*) FROM outbox GROUP BY state");
    SLUICE_RETURN_IF_ERROR(statement.status());
    while (true) {
      Result<bool> row = (*statement)->Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        return Status::Ok();
      }
      const int64_t n = (*statement)->ColumnInt(1);
      switch ((*statement)->ColumnInt(0)) {
        case kPending: counts.pending = n; break;
        case kDelivered: counts.delivered = n; break;
        case kFailed: counts.failed = n; break;
        default: return Internal("outbox: unknown row state");
      }
    }
  }));
  return counts;
}

Status Outbox::DeleteFinishedBefore(int64_t before_unix_ms) {
  // In chunks of one short transaction each, so commits and reads wait for one chunk at most.
  constexpr int kChunk = 1000;
  int deleted = kChunk;
  while (deleted == kChunk) {
    SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
      Result<Statement*> statement = txn.Prepare(
          "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state != 0 AND "
          "finished_ms < ?1 LIMIT ?2)");
      SLUICE_RETURN_IF_ERROR(statement.status());
      SLUICE_RETURN_IF_ERROR((*statement)->Bind(1, before_unix_ms).Bind(2, kChunk).Run());
      deleted = txn.Changes();
      return Status::Ok();
    }));
  }
  return Status::Ok();
}

}  // namespace sluice::state
