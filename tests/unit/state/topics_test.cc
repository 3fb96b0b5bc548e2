// TopicCatalog: topics and subscriptions, idempotence, deleting, and endpoint validation.
#include "state/topics.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <string>

#include "state/outbox.h"
#include "state_test_util.h"

namespace sluice::state::testing {
namespace {

void RequireInvalid(const Status& status, const std::string& mentions) {
  INFO(status.ToString());
  REQUIRE(status.code() == Code::kInvalidArgument);
  REQUIRE_THAT(status.message(), Catch::Contains(mentions));
}

// Queues one notification for every subscriber of `topic`; returns the rows written.
int Enqueue(StateDb* db, const std::string& topic) {
  int rows = 0;
  REQUIRE_OK(db->Write([&](Transaction& txn) {
    Result<int> written = Outbox::Enqueue(txn, topic, "m-1", "", "hello", 1000);
    SLUICE_RETURN_IF_ERROR(written.status());
    rows = *written;
    return Status::Ok();
  }));
  return rows;
}

TEST_CASE("creating a topic is idempotent", "[topics]") {
  TestDb test;
  TopicCatalog topics(test.db(), &test.clock());
  REQUIRE_OK(topics.CreateTopic("orders"));
  const int64_t created = test.clock().UnixMillis();
  test.clock().Advance(std::chrono::seconds(5));
  REQUIRE_OK(topics.CreateTopic("orders"));
  const std::vector<Topic> all = Must(topics.List());
  REQUIRE(all.size() == 1);
  REQUIRE(all[0].name == "orders");
  REQUIRE(all[0].arn == "arn:aws:sns:local:000000000000:orders");
  REQUIRE(all[0].created_unix_ms == created);
  REQUIRE(Must(topics.Get("orders")).arn == TopicArn("orders"));
  REQUIRE(topics.Get("missing").status().code() == Code::kNotFound);
  RequireInvalid(topics.CreateTopic("bad.name"), "topic name");
  RequireInvalid(topics.CreateTopic(std::string(257, 't')), "1-256");
  REQUIRE_OK(topics.CreateTopic(std::string(256, 't')));
}

TEST_CASE("subscribing an endpoint again keeps its id and updates secret and policy", "[topics]") {
  TestDb test;
  TopicCatalog topics(test.db(), &test.clock());
  REQUIRE(topics.Subscribe("orders", "stdout", "", {}).status().code() == Code::kNotFound);
  REQUIRE_OK(topics.CreateTopic("orders"));

  const Subscription first = Must(topics.Subscribe("orders", "http://localhost:9/hook", "s1", {}));
  REQUIRE(IsUuidV4(first.id));
  REQUIRE(first.topic == "orders");
  REQUIRE(first.policy.num_retries == 12);

  test.clock().Advance(std::chrono::seconds(1));
  DeliveryPolicy policy;
  policy.num_retries = 3;
  policy.min_delay_ms = 50;
  policy.max_delay_ms = 500;
  const Subscription again =
      Must(topics.Subscribe("orders", "http://localhost:9/hook", "s2", policy));
  REQUIRE(again.id == first.id);
  REQUIRE(again.created_unix_ms == first.created_unix_ms);
  REQUIRE(again.secret == "s2");

  const Subscription other = Must(topics.Subscribe("orders", "stdout", "", {}));
  REQUIRE(other.id != first.id);

  const Topic topic = Must(topics.Get("orders"));
  REQUIRE(topic.subscriptions.size() == 2);
  REQUIRE(topic.subscriptions[0].id == first.id);
  REQUIRE(topic.subscriptions[0].secret == "s2");
  REQUIRE(topic.subscriptions[0].policy.num_retries == 3);
  REQUIRE(topic.subscriptions[0].policy.min_delay_ms == 50);
  REQUIRE(topic.subscriptions[0].policy.max_delay_ms == 500);
  REQUIRE(topic.subscriptions[1].endpoint == "stdout");

  RequireInvalid(topics.Subscribe("orders", "ftp://x", "", {}).status(), "unsupported");
  policy.num_retries = 101;
  RequireInvalid(topics.Subscribe("orders", "stdout", "", policy).status(), "num_retries");
}

TEST_CASE("unsubscribing by id or by endpoint fails the pending notifications", "[topics]") {
  TestDb test;
  TopicCatalog topics(test.db(), &test.clock());
  Outbox outbox(test.db(), &test.clock());
  REQUIRE_OK(topics.CreateTopic("orders"));
  const Subscription a = Must(topics.Subscribe("orders", "file:///tmp/a.jsonl", "", {}));
  Must(topics.Subscribe("orders", "stdout", "", {}));
  REQUIRE(Enqueue(test.db(), "orders") == 2);

  REQUIRE_OK(topics.Unsubscribe(a.id));
  REQUIRE(topics.Unsubscribe(a.id).code() == Code::kNotFound);
  OutboxCounts counts = Must(outbox.Counts());
  REQUIRE(counts.pending == 1);
  REQUIRE(counts.failed == 1);

  REQUIRE_OK(topics.Unsubscribe("orders", "stdout"));
  REQUIRE(topics.Unsubscribe("orders", "stdout").code() == Code::kNotFound);
  counts = Must(outbox.Counts());
  REQUIRE(counts.pending == 0);
  REQUIRE(counts.failed == 2);
  REQUIRE(Must(topics.Get("orders")).subscriptions.empty());
}

TEST_CASE("deleting a topic drops its subscriptions and fails their pending notifications",
          "[topics]") {
  TestDb test;
  TopicCatalog topics(test.db(), &test.clock());
  Outbox outbox(test.db(), &test.clock());
  REQUIRE_OK(topics.CreateTopic("orders"));
  REQUIRE_OK(topics.CreateTopic("other"));
  Must(topics.Subscribe("orders", "stdout", "", {}));
  Must(topics.Subscribe("orders", "https://example.com/n", "", {}));
  Must(topics.Subscribe("other", "stdout", "", {}));
  REQUIRE(Enqueue(test.db(), "orders") == 2);
  REQUIRE(Enqueue(test.db(), "other") == 1);

  REQUIRE_OK(topics.DeleteTopic("orders"));
  REQUIRE(topics.Get("orders").status().code() == Code::kNotFound);
  REQUIRE(topics.DeleteTopic("orders").code() == Code::kNotFound);
  const OutboxCounts counts = Must(outbox.Counts());
  REQUIRE(counts.failed == 2);
  REQUIRE(counts.pending == 1);
  const std::vector<OutboxEntry> due = Must(outbox.Due(INT64_MAX, 10));
  REQUIRE(due.size() == 1);
  REQUIRE(due[0].topic == "other");

  // Created again, the topic starts with no subscriptions.
  REQUIRE_OK(topics.CreateTopic("orders"));
  REQUIRE(Must(topics.Get("orders")).subscriptions.empty());
  REQUIRE(Enqueue(test.db(), "orders") == 0);
}

TEST_CASE("endpoints: http, https, file:///absolute and stdout", "[topics]") {
  REQUIRE_OK(ValidateEndpoint("http://localhost:8080/hook"));
  REQUIRE_OK(ValidateEndpoint("https://example.com"));
  REQUIRE_OK(ValidateEndpoint("file:///var/log/notifications.jsonl"));
  REQUIRE_OK(ValidateEndpoint("stdout"));
  RequireInvalid(ValidateEndpoint("ftp://example.com"), "unsupported");
  RequireInvalid(ValidateEndpoint(""), "unsupported");
  RequireInvalid(ValidateEndpoint("STDOUT"), "unsupported");
  RequireInvalid(ValidateEndpoint("file://relative/path"), "absolute path");
  RequireInvalid(ValidateEndpoint("file:///tmp/"), "directory");
  RequireInvalid(ValidateEndpoint("http://"), "no host");
  RequireInvalid(ValidateEndpoint("https:///path"), "no host");
  RequireInvalid(ValidateEndpoint("http://a b"), "spaces");
  RequireInvalid(ValidateEndpoint("http://a\n"), "control");
  RequireInvalid(ValidateEndpoint("http://" + std::string(2100, 'a')), "2048");
}

TEST_CASE("delivery policies", "[topics]") {
  REQUIRE_OK(ValidateDeliveryPolicy({}));
  REQUIRE_OK(ValidateDeliveryPolicy({0, 10, 10}));
  REQUIRE_OK(ValidateDeliveryPolicy({100, 3'600'000, 3'600'000}));
  RequireInvalid(ValidateDeliveryPolicy({101, 1000, 2000}), "num_retries");
  RequireInvalid(ValidateDeliveryPolicy({1, 9, 2000}), "min_delay_ms");
  RequireInvalid(ValidateDeliveryPolicy({1, 1000, 999}), "max_delay_ms");
  RequireInvalid(ValidateDeliveryPolicy({1, 1000, 3'600'001}), "max_delay_ms");
}

}  // namespace
}  // namespace sluice::state::testing
