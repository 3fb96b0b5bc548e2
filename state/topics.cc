#include "state/topics.h"

#include <optional>

#include "base/random.h"
#include "state/outbox.h"

namespace sluice::state {
namespace {

constexpr size_t kMaxTopicNameChars = 256;
constexpr size_t kMaxEndpointBytes = 2048;
constexpr uint32_t kMaxRetries = 100;
constexpr int64_t kMinDelayFloorMs = 10;
constexpr int64_t kMaxDelayCeilingMs = 3'600'000;
constexpr char kSubscriptionDeleted[] = "subscription deleted";

// A row of subscriptions, all columns in declaration order.
Subscription ReadSubscription(const Statement& row) {
  Subscription subscription;
  subscription.id = row.ColumnText(0);
  subscription.topic = row.ColumnText(1);
  subscription.endpoint = row.ColumnText(2);
  subscription.secret = row.ColumnText(3);
  subscription.policy.num_retries = static_cast<uint32_t>(row.ColumnInt(4));
  subscription.policy.min_delay_ms = row.ColumnInt(5);
  subscription.policy.max_delay_ms = row.ColumnInt(6);
  subscription.created_unix_ms = row.ColumnInt(7);
  return subscription;
}

Status NoSuchTopic(const std::string& topic) {
  return NotFound("topic \"" + topic + "\" does not exist");
}

// The subscription of `endpoint` to `topic`, if any.
Result<std::optional<Subscription>> FindSubscription(Transaction& txn, const std::string& topic,
                                                     const std::string& endpoint) {
  Result<Statement*> statement = txn.Prepare(
      "SELECT id, topic, endpoint, secret, num_retries, min_delay_ms, max_delay_ms, created_ms "
      "FROM subscriptions WHERE topic = ?1 AND endpoint = ?2");
  SLUICE_RETURN_IF_ERROR(statement.status());
  Result<bool> row = (*statement)->Bind(1, topic).Bind(2, endpoint).Step();
  SLUICE_RETURN_IF_ERROR(row.status());
  if (!*row) {
    return std::optional<Subscription>();
  }
  return std::optional<Subscription>(ReadSubscription(**statement));
}

// Deletes subscription `id` and fails its pending notifications; NOT_FOUND when there is none.
Status DeleteSubscription(Transaction& txn, const std::string& id, int64_t now_unix_ms) {
  SLUICE_RETURN_IF_ERROR(Outbox::FailPending(txn, id, kSubscriptionDeleted, now_unix_ms));
  Result<Statement*> statement = txn.Prepare("DELETE FROM subscriptions WHERE id = ?1");
  SLUICE_RETURN_IF_ERROR(statement.status());
  SLUICE_RETURN_IF_ERROR((*statement)->Bind(1, id).Run());
  if (txn.Changes() == 0) {
    return NotFound("subscription \"" + id + "\" does not exist");
  }
  return Status::Ok();
}

}  // namespace

std::string TopicArn(const std::string& topic) {
  return "arn:aws:sns:local:000000000000:" + topic;
}

Status ValidateTopicName(const std::string& topic) {
  if (topic.empty() || topic.size() > kMaxTopicNameChars) {
    return InvalidArgument("topic name: must be 1-" + std::to_string(kMaxTopicNameChars) +
                           " characters, got " + std::to_string(topic.size()));
  }
  for (char c : topic) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) {
      return InvalidArgument("topic name: may hold only A-Z, a-z, 0-9, '_' and '-'");
    }
  }
  return Status::Ok();
}

Status ValidateEndpoint(const std::string& endpoint) {
  const std::string what = "endpoint \"" + endpoint + "\"";
  if (endpoint.size() > kMaxEndpointBytes) {
    return InvalidArgument("endpoint: longer than " + std::to_string(kMaxEndpointBytes) + " bytes");
  }
  for (char c : endpoint) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) {
      return InvalidArgument("endpoint: may not hold spaces or control characters");
    }
  }
  if (endpoint == "stdout") {
    return Status::Ok();
  }
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (endpoint.starts_with(scheme)) {
      const std::string_view rest = std::string_view(endpoint).substr(scheme.size());
      if (rest.empty() || rest.front() == '/') {
        return InvalidArgument(what + ": names no host");
      }
      return Status::Ok();
    }
  }
  if (endpoint.starts_with("file://")) {
    const std::string path = endpoint.substr(7);
    if (path.empty() || path.front() != '/') {
      return InvalidArgument(what + ": a file endpoint needs an absolute path (file:///path)");
    }
    if (path.back() == '/') {
      return InvalidArgument(what + ": names a directory, not a file");
    }
    return Status::Ok();
  }
  return InvalidArgument(
      what + ": unsupported; use http://..., https://..., file:///absolute/path or stdout");
}

Status ValidateDeliveryPolicy(const DeliveryPolicy& policy) {
  if (policy.num_retries > kMaxRetries) {
    return InvalidArgument("delivery policy: num_retries must be 0-" + std::to_string(kMaxRetries) +
                           ", got " + std::to_string(policy.num_retries));
  }
  if (policy.min_delay_ms < kMinDelayFloorMs || policy.min_delay_ms > kMaxDelayCeilingMs) {
    return InvalidArgument("delivery policy: min_delay_ms must be 10-3600000, got " +
                           std::to_string(policy.min_delay_ms));
  }
  if (policy.max_delay_ms < policy.min_delay_ms || policy.max_delay_ms > kMaxDelayCeilingMs) {
    return InvalidArgument("delivery policy: max_delay_ms must be min_delay_ms-3600000, got " +
                           std::to_string(policy.max_delay_ms));
  }
  return Status::Ok();
}

Status TopicCatalog::EnsureSchema(Transaction& txn) {
  SLUICE_RETURN_IF_ERROR(
      txn.Exec("CREATE TABLE IF NOT EXISTS topics ("
               " name TEXT PRIMARY KEY,"
               " created_ms INTEGER NOT NULL) WITHOUT ROWID"));
  return txn.Exec(
      "CREATE TABLE IF NOT EXISTS subscriptions ("
      " id TEXT PRIMARY KEY,"
      " topic TEXT NOT NULL REFERENCES topics (name),"
      " endpoint TEXT NOT NULL,"
      " secret TEXT NOT NULL,"
      " num_retries INTEGER NOT NULL,"
      " min_delay_ms INTEGER NOT NULL,"
      " max_delay_ms INTEGER NOT NULL,"
      " created_ms INTEGER NOT NULL,"
      " UNIQUE (topic, endpoint)) WITHOUT ROWID");
}

Status TopicCatalog::CreateTopic(const std::string& topic) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(topic));
  return db_->Write([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare(
        "INSERT INTO topics (name, created_ms) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING");
    SLUICE_RETURN_IF_ERROR(statement.status());
    return (*statement)->Bind(1, topic).Bind(2, clock_->UnixMillis()).Run();
  });
}

Status TopicCatalog::DeleteTopic(const std::string& topic) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(topic));
  return db_->Write([&](Transaction& txn) {
    Result<std::vector<Subscription>> subscriptions = Subscriptions(txn, topic);
    SLUICE_RETURN_IF_ERROR(subscriptions.status());
    for (const Subscription& subscription : *subscriptions) {
      SLUICE_RETURN_IF_ERROR(DeleteSubscription(txn, subscription.id, clock_->UnixMillis()));
    }
    Result<Statement*> statement = txn.Prepare("DELETE FROM topics WHERE name = ?1");
    SLUICE_RETURN_IF_ERROR(statement.status());
    SLUICE_RETURN_IF_ERROR((*statement)->Bind(1, topic).Run());
    return txn.Changes() > 0 ? Status::Ok() : NoSuchTopic(topic);
  });
}

Result<std::vector<Topic>> TopicCatalog::List() {
  std::vector<Topic> topics;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare("SELECT name, created_ms FROM topics ORDER BY name");
    SLUICE_RETURN_IF_ERROR(statement.status());
    while (true) {
      Result<bool> row = (*statement)->Step();
      SLUICE_RETURN_IF_ERROR(row.status());
      if (!*row) {
        break;
      }
      const std::string name = (*statement)->ColumnText(0);
      topics.push_back({name, TopicArn(name), (*statement)->ColumnInt(1), {}});
    }
    for (Topic& topic : topics) {
      Result<std::vector<Subscription>> subscriptions = Subscriptions(txn, topic.name);
      SLUICE_RETURN_IF_ERROR(subscriptions.status());
      topic.subscriptions = std::move(*subscriptions);
    }
    return Status::Ok();
  }));
  return topics;
}

Result<Topic> TopicCatalog::Get(const std::string& topic) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(topic));
  Topic result;
  SLUICE_RETURN_IF_ERROR(db_->Read([&](Transaction& txn) {
    Result<Statement*> statement = txn.Prepare("SELECT created_ms FROM topics WHERE name = ?1");
    SLUICE_RETURN_IF_ERROR(statement.status());
    Result<bool> row = (*statement)->Bind(1, topic).Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (!*row) {
      return NoSuchTopic(topic);
    }
    result = {topic, TopicArn(topic), (*statement)->ColumnInt(0), {}};
    Result<std::vector<Subscription>> subscriptions = Subscriptions(txn, topic);
    SLUICE_RETURN_IF_ERROR(subscriptions.status());
    result.subscriptions = std::move(*subscriptions);
    return Status::Ok();
  }));
  return result;
}

Result<Subscription> TopicCatalog::Subscribe(const std::string& topic, const std::string& endpoint,
                                             const std::string& secret,
                                             const DeliveryPolicy& policy) {
  SLUICE_RETURN_IF_ERROR(ValidateTopicName(topic));
  SLUICE_RETURN_IF_ERROR(ValidateEndpoint(endpoint));
  SLUICE_RETURN_IF_ERROR(ValidateDeliveryPolicy(policy));
  Subscription subscription;
  SLUICE_RETURN_IF_ERROR(db_->Write([&](Transaction& txn) {
    Result<bool> exists = Exists(txn, topic);
    SLUICE_RETURN_IF_ERROR(exists.status());
    if (!*exists) {
      return NoSuchTopic(topic);
    }
    Result<std::optional<Subscription>> existing = FindSubscription(txn, topic, endpoint);
    SLUICE_RETURN_IF_ERROR(existing.status());
    if (*existing) {
      subscription = std::move(**existing);
    } else {
      subscription.id = RandomUuid();
      subscription.topic = topic;
      subscription.endpoint = endpoint;
      subscription.created_unix_ms = clock_->UnixMillis();
    }
    subscription.secret = secret;
    subscription.policy = policy;
    Result<Statement*> statement = txn.Prepare(
        "INSERT INTO subscriptions (id, topic, endpoint, secret, num_retries, min_delay_ms, "
        "max_delay_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO "
        "UPDATE SET secret = excluded.secret, num_retries = excluded.num_retries, "
        "min_delay_ms = excluded.min_delay_ms, max_delay_ms = excluded.max_delay_ms");
    SLUICE_RETURN_IF_ERROR(statement.status());
    return (*statement)
        ->Bind(1, subscription.id)
        .Bind(2, topic)
        .Bind(3, endpoint)
        .Bind(4, secret)
        .Bind(5, static_cast<int64_t>(policy.num_retries))
        .Bind(6, policy.min_delay_ms)
        .Bind(7, policy.max_delay_ms)
        .Bind(8, subscription.created_unix_ms)
        .Run();
  }));
  return subscription;
}

Status TopicCatalog::Unsubscribe(const std::string& subscription_id) {
  return db_->Write([&](Transaction& txn) {
    return DeleteSubscription(txn, subscription_id, clock_->UnixMillis());
  });
}

Status TopicCatalog::Unsubscribe(const std::string& topic, const std::string& endpoint) {
  return db_->Write([&](Transaction& txn) {
    Result<std::optional<Subscription>> existing = FindSubscription(txn, topic, endpoint);
    SLUICE_RETURN_IF_ERROR(existing.status());
    if (!*existing) {
      return NotFound("\"" + endpoint + "\" is not subscribed to topic \"" + topic + "\"");
    }
    return DeleteSubscription(txn, (*existing)->id, clock_->UnixMillis());
  });
}

Result<bool> TopicCatalog::Exists(Transaction& txn, const std::string& topic) {
  Result<Statement*> statement = txn.Prepare("SELECT 1 FROM topics WHERE name = ?1");
  SLUICE_RETURN_IF_ERROR(statement.status());
  return (*statement)->Bind(1, topic).Step();
}

Result<std::vector<Subscription>> TopicCatalog::Subscriptions(Transaction& txn,
                                                              const std::string& topic) {
  Result<Statement*> statement = txn.Prepare(
      "SELECT id, topic, endpoint, secret, num_retries, min_delay_ms, max_delay_ms, created_ms "
      "FROM subscriptions WHERE topic = ?1 ORDER BY created_ms, id");
  SLUICE_RETURN_IF_ERROR(statement.status());
  (*statement)->Bind(1, topic);
  std::vector<Subscription> subscriptions;
  while (true) {
    Result<bool> row = (*statement)->Step();
    SLUICE_RETURN_IF_ERROR(row.status());
    if (!*row) {
      return subscriptions;
    }
    subscriptions.push_back(ReadSubscription(**statement));
  }
}

}  // namespace sluice::state
