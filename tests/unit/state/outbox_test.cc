// Outbox: one row per subscriber with one MessageId, the SNS body, due order and limits,
// rescheduling, finishing, counts, the next due time and housekeeping.
#include "state/outbox.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

constexpr int64_t kNoneDue = std::numeric_limits<int64_t>::max();

// A database with topic "orders" subscribed by `subscribers` endpoints.
struct Fixture {
  explicit Fixture(int subscribers) {
    TopicCatalog topics(test.db(), &test.clock());
    REQUIRE_OK(topics.CreateTopic("orders"));
    for (int i = 0; i < subscribers; ++i) {
      Must(topics.Subscribe("orders", "file:///tmp/sub" + std::to_string(i), "secret", {}));
    }
  }

  int Enqueue(const std::string& message_id, int64_t now_unix_ms,
              const std::string& topic = "orders") {
    int rows = 0;
    REQUIRE_OK(test.db()->Write([&](Transaction& txn) {
      Result<int> written = Outbox::Enqueue(txn, topic, message_id, "Subject line",
                                            "body of " + message_id, now_unix_ms);
      SLUICE_RETURN_IF_ERROR(written.status());
      rows = *written;
      return Status::Ok();
    }));
    return rows;
  }

  TestDb test;
  Outbox outbox{test.db(), &test.clock()};
};

TEST_CASE("the notification body is SNS's JSON", "[outbox]") {
  const std::string body = NotificationBody("3f1c0e2a-0000-4000-8000-000000000001", "orders",
                                            "Order shipped", "{\"id\":7} ü", 1795325400123);
  REQUIRE_THAT(body, Catch::StartsWith(R"({"Type":"Notification","MessageId":)"));
  const nlohmann::json json = nlohmann::json::parse(body);
  REQUIRE(json.at("Type") == "Notification");
  REQUIRE(json.at("MessageId") == "3f1c0e2a-0000-4000-8000-000000000001");
  REQUIRE(json.at("TopicArn") == "arn:aws:sns:local:000000000000:orders");
  REQUIRE(json.at("Subject") == "Order shipped");
  REQUIRE(json.at("Message") == "{\"id\":7} ü");
  REQUIRE(json.at("Timestamp") == "2026-11-22T05:30:00.123Z");
  REQUIRE(json.size() == 6);

  const nlohmann::json no_subject =
      nlohmann::json::parse(NotificationBody("m", "t", "", "x", 1'700'000'000'005));
  REQUIRE_FALSE(no_subject.contains("Subject"));
  REQUIRE(no_subject.at("Timestamp") == "2023-11-14T22:13:20.005Z");
}

TEST_CASE("enqueue writes one row per subscriber, all with one MessageId", "[outbox]") {
  Fixture f(3);
  REQUIRE(f.Enqueue("m-1", 1000) == 3);
  const std::vector<OutboxEntry> due = Must(f.outbox.Due(1000, 10));
  REQUIRE(due.size() == 3);
  std::set<std::string> endpoints;
  for (const OutboxEntry& entry : due) {
    REQUIRE(entry.message_id == "m-1");
    REQUIRE(entry.topic == "orders");
    REQUIRE(entry.attempts == 0);
    REQUIRE(entry.next_attempt_unix_ms == 1000);
    REQUIRE(entry.subscription.secret == "secret");
    REQUIRE(entry.body_json == due[0].body_json);
    REQUIRE(nlohmann::json::parse(entry.body_json).at("MessageId") == "m-1");
    endpoints.insert(entry.subscription.endpoint);
  }
  REQUIRE(endpoints.size() == 3);
  // No subscribers, no rows; nothing due before its time.
  TopicCatalog topics(f.test.db(), &f.test.clock());
  REQUIRE_OK(topics.CreateTopic("quiet"));
  REQUIRE(f.Enqueue("m-2", 1000, "quiet") == 0);
  REQUIRE(Must(f.outbox.Due(999, 10)).empty());
}

TEST_CASE("due rows come oldest first, at most the limit, with the current subscription",
          "[outbox]") {
  Fixture f(1);
  REQUIRE(f.Enqueue("m-1000", 1000) == 1);
  REQUIRE(f.Enqueue("m-3000", 3000) == 1);
  REQUIRE(f.Enqueue("m-2000", 2000) == 1);

  std::vector<OutboxEntry> due = Must(f.outbox.Due(2500, 10));
  REQUIRE(due.size() == 2);
  REQUIRE(due[0].message_id == "m-1000");
  REQUIRE(due[1].message_id == "m-2000");
  due = Must(f.outbox.Due(5000, 1));
  REQUIRE(due.size() == 1);
  REQUIRE(due[0].message_id == "m-1000");
  REQUIRE(Must(f.outbox.Due(5000, 0)).empty());

  // Subscribing again changes the secret every pending row is sent with.
  TopicCatalog topics(f.test.db(), &f.test.clock());
  Must(topics.Subscribe("orders", "file:///tmp/sub0", "rotated", {}));
  for (const OutboxEntry& entry : Must(f.outbox.Due(5000, 10))) {
    REQUIRE(entry.subscription.secret == "rotated");
  }
}

TEST_CASE("reschedule, deliver and fail - counts and the next due time", "[outbox]") {
  Fixture f(2);
  REQUIRE(Must(f.outbox.NextDueUnixMs()) == kNoneDue);
  REQUIRE(f.Enqueue("m-1", 1000) == 2);
  REQUIRE(Must(f.outbox.NextDueUnixMs()) == 1000);
  const std::vector<OutboxEntry> due = Must(f.outbox.Due(1000, 10));
  REQUIRE(due.size() == 2);

  REQUIRE_OK(f.outbox.Reschedule(due[0].id, 5000, "HTTP 503"));
  REQUIRE(Must(f.outbox.Due(4999, 10)).size() == 1);
  REQUIRE(Must(f.outbox.NextDueUnixMs()) == 1000);
  REQUIRE_OK(f.outbox.MarkDelivered(due[1].id, "HTTP 200"));
  REQUIRE(Must(f.outbox.NextDueUnixMs()) == 5000);
  const std::vector<OutboxEntry> retry = Must(f.outbox.Due(5000, 10));
  REQUIRE(retry.size() == 1);
  REQUIRE(retry[0].id == due[0].id);
  REQUIRE(retry[0].attempts == 1);
  REQUIRE(retry[0].last_error == "HTTP 503");
  REQUIRE(retry[0].next_attempt_unix_ms == 5000);
  REQUIRE(retry[0].body_json == due[0].body_json);  // the same bytes on every retry

  OutboxCounts counts = Must(f.outbox.Counts());
  REQUIRE(counts.pending == 1);
  REQUIRE(counts.delivered == 1);
  REQUIRE(counts.failed == 0);

  REQUIRE_OK(f.outbox.MarkFailed(due[0].id, "HTTP 404"));
  counts = Must(f.outbox.Counts());
  REQUIRE(counts.pending == 0);
  REQUIRE(counts.delivered == 1);
  REQUIRE(counts.failed == 1);
  REQUIRE(Must(f.outbox.NextDueUnixMs()) == kNoneDue);
  REQUIRE(Must(f.outbox.Due(kNoneDue, 10)).empty());

  // Finished rows cannot change again.
  REQUIRE(f.outbox.MarkDelivered(due[0].id, "HTTP 200").code() == Code::kNotFound);
  REQUIRE(f.outbox.Reschedule(due[1].id, 9000, "x").code() == Code::kNotFound);
  REQUIRE(f.outbox.MarkFailed(12345, "x").code() == Code::kNotFound);
}

TEST_CASE("finished rows older than the cutoff are deleted", "[outbox]") {
  Fixture f(1);
  REQUIRE(f.Enqueue("m-1", 1000) == 1);
  REQUIRE(f.Enqueue("m-2", 1000) == 1);
  REQUIRE(f.Enqueue("m-3", 1000) == 1);
  const std::vector<OutboxEntry> due = Must(f.outbox.Due(1000, 10));
  const int64_t first = f.test.clock().UnixMillis();
  REQUIRE_OK(f.outbox.MarkDelivered(due[0].id, "HTTP 200"));
  f.test.clock().Advance(std::chrono::hours(1));
  REQUIRE_OK(f.outbox.MarkFailed(due[1].id, "HTTP 400"));

  REQUIRE_OK(f.outbox.DeleteFinishedBefore(first + 1));
  const OutboxCounts counts = Must(f.outbox.Counts());
  REQUIRE(counts.delivered == 0);
  REQUIRE(counts.failed == 1);
  REQUIRE(counts.pending == 1);  // pending rows are never deleted
  REQUIRE_OK(f.outbox.DeleteFinishedBefore(kNoneDue));
  REQUIRE(Must(f.outbox.Counts()).failed == 0);
  REQUIRE(Must(f.outbox.Counts()).pending == 1);
}

}  // namespace
}  // namespace sluice::state::testing
