// The notifier against real receivers: a local HTTP server (tests/support/http_receiver.h),
// real libcurl, a real SQLite outbox in a fresh temporary directory, files. Waits are bounded
// polls on outcomes, never timing assertions.
#include "host/notifier.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/metrics.h"
#include "base/random.h"
#include "host/notification_signature.h"
#include "state/outbox.h"
#include "state/state_db.h"
#include "state/topics.h"
#include "tests/support/http_receiver.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;
using state::DeliveryPolicy;
using state::Outbox;
using state::OutboxCounts;
using state::StateDb;
using state::Subscription;
using state::TopicCatalog;
using testing::HttpReceiver;
using testing::ScriptedResponse;

constexpr int64_t kPublishedAt = 1'700'000'000'000;  // due at once against the real clock

// Polls `condition` every 5 ms for up to `timeout`.
bool Eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

DeliveryPolicy FastPolicy(uint32_t retries) {
  return DeliveryPolicy{.num_retries = retries, .min_delay_ms = 20, .max_delay_ms = 80};
}

// A StateDb over a fresh temporary directory (removed at the end), with topics and an outbox.
class World {
 public:
  World() {
    char dir[] = "/tmp/sluice-notify-test.XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    dir_ = dir;
    Open();
  }
  ~World() {
    outbox_.reset();
    db_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Closes and opens the database again, as a restarted host does.
  void Open() {
    outbox_.reset();
    db_.reset();
    auto db = StateDb::Open(dir_ + "/sluice.db", state::DbDurability::kOs);
    REQUIRE(db.ok());
    db_ = std::move(db).value();
    outbox_ = std::make_unique<Outbox>(db_.get());
  }

  const std::string& dir() const { return dir_; }
  Outbox* outbox() { return outbox_.get(); }

  Subscription Subscribe(const std::string& topic, const std::string& endpoint,
                         const std::string& secret = "",
                         const DeliveryPolicy& policy = FastPolicy(3)) {
    TopicCatalog catalog(db_.get());
    REQUIRE(catalog.CreateTopic(topic).ok());
    auto subscription = catalog.Subscribe(topic, endpoint, secret, policy);
    REQUIRE(subscription.ok());
    return *subscription;
  }

  // Queues a notification as a commit does; returns its MessageId.
  std::string Publish(const std::string& topic, const std::string& subject,
                      const std::string& message, int* rows = nullptr) {
    const std::string message_id = RandomHex(16);
    Result<int> written = 0;
    REQUIRE(db_->Write([&](state::Transaction& txn) {
                 written = Outbox::Enqueue(txn, topic, message_id, subject, message, kPublishedAt);
                 return written.ok() ? Status::Ok() : written.status();
               })
                .ok());
    if (rows != nullptr) {
      *rows = *written;
    }
    return message_id;
  }

  OutboxCounts Counts() {
    auto counts = outbox_->Counts();
    REQUIRE(counts.ok());
    return *counts;
  }

 private:
  std::string dir_;
  std::unique_ptr<StateDb> db_;
  std::unique_ptr<Outbox> outbox_;
};

std::unique_ptr<Notifier> StartNotifier(World& world, NotifierOptions options = {}) {
  auto notifier = Notifier::Start(options, world.outbox(), &Clock::Real());
  REQUIRE(notifier.ok());
  return std::move(notifier).value();
}

// The value of one series in the process-wide registry's Prometheus text, e.g.
// `sluice_notification_attempts_total{outcome="timeout"}`; 0 when absent.
uint64_t MetricValue(const std::string& series) {
  const std::string text = MetricsRegistry::Global().RenderPrometheus();
  const std::string prefix = series + " ";
  size_t at = text.starts_with(prefix) ? 0 : text.find("\n" + prefix);
  if (at == std::string::npos) {
    return 0;
  }
  at = text.find(' ', at + 1);
  return std::stoull(text.substr(at + 1, text.find('\n', at) - at - 1));
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then closed).
uint16_t UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  socklen_t size = sizeof(address);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

TEST_CASE("an HTTP subscriber gets SNS's body and headers, signed with its secret", "[notify]") {
  World world;
  HttpReceiver receiver;
  const Subscription subscription = world.Subscribe("orders", receiver.url("/hook"), "s3cret");
  auto notifier = StartNotifier(world);
  const std::string id = world.Publish("orders", "New order", "{\"id\": 7}");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().delivered == 1; }));
  const auto requests = receiver.Requests();
  REQUIRE(requests.size() == 1);
  const auto& request = requests[0];
  const std::string expected_body =
      state::NotificationBody(id, "orders", "New order", "{\"id\": 7}", kPublishedAt);
  CHECK(request.method == "POST");
  CHECK(request.path == "/hook");
  CHECK(request.body == expected_body);
  const auto body = nlohmann::json::parse(request.body);
  CHECK(body["Type"] == "Notification");
  CHECK(body["MessageId"] == id);
  CHECK(body["TopicArn"] == state::TopicArn("orders"));
  CHECK(body["Subject"] == "New order");
  CHECK(body["Message"] == "{\"id\": 7}");
  CHECK(body["Timestamp"].is_string());

  const std::string arn = state::TopicArn("orders");
  CHECK(request.Header("Content-Type") == "text/plain; charset=UTF-8");
  CHECK(request.Header("x-amz-sns-message-type") == "Notification");
  CHECK(request.Header("x-amz-sns-message-id") == id);
  CHECK(request.Header("x-amz-sns-topic-arn") == arn);
  CHECK(request.Header("x-amz-sns-subscription-arn") == arn + ":" + subscription.id);
  CHECK(request.Header("User-Agent") == "Sluice-Notifications/0.1");
  CHECK_FALSE(request.HasHeader("Expect"));
  const std::string signature = request.Header("X-Sluice-Signature");
  CHECK(signature == SignNotification("s3cret", request.body));
  CHECK(signature.size() == 7 + 64);
  CHECK(VerifyNotificationSignature("s3cret", request.body, signature));
  CHECK_FALSE(VerifyNotificationSignature("wrong", request.body, signature));
  CHECK_FALSE(VerifyNotificationSignature("s3cret", request.body + " ", signature));

  const NotifierStats stats = notifier->stats();
  CHECK(stats.delivered == 1);
  CHECK(stats.given_up == 0);
  CHECK(world.Counts().pending == 0);
}

TEST_CASE("no signature header without a secret", "[notify]") {
  World world;
  HttpReceiver receiver;
  world.Subscribe("plain", receiver.url("/"));
  auto notifier = StartNotifier(world);
  world.Publish("plain", "", "hello");
  notifier->Wake();
  REQUIRE(Eventually([&] { return world.Counts().delivered == 1; }));
  const auto requests = receiver.Requests();
  REQUIRE(requests.size() == 1);
  CHECK_FALSE(requests[0].HasHeader("X-Sluice-Signature"));
  CHECK(requests[0].Header("x-amz-sns-message-type") == "Notification");
}

TEST_CASE("5xx answers are retried with the same MessageId and body until delivered", "[notify]") {
  World world;
  HttpReceiver receiver;
  receiver.Script({{503}, {500}});
  world.Subscribe("retry", receiver.url("/"), "key", FastPolicy(5));
  const uint64_t server_errors_before =
      MetricValue("sluice_notification_attempts_total{outcome=\"server_error\"}");
  const uint64_t delivered_before = MetricValue("sluice_notifications_delivered_total");
  auto notifier = StartNotifier(world);
  const std::string id = world.Publish("retry", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().delivered == 1; }));
  const auto requests = receiver.Requests();
  REQUIRE(requests.size() == 3);
  for (const auto& request : requests) {
    CHECK(request.body == requests[0].body);
    CHECK(request.Header("x-amz-sns-message-id") == id);
    CHECK(nlohmann::json::parse(request.body)["MessageId"] == id);
    CHECK(VerifyNotificationSignature("key", request.body, request.Header("X-Sluice-Signature")));
  }
  const NotifierStats stats = notifier->stats();
  CHECK(stats.server_errors == 2);
  CHECK(stats.retries_scheduled == 2);
  CHECK(stats.delivered == 1);
  CHECK(world.Counts().pending == 0);
  CHECK(MetricValue("sluice_notification_attempts_total{outcome=\"server_error\"}") ==
        server_errors_before + 2);
  CHECK(MetricValue("sluice_notifications_delivered_total") == delivered_before + 1);
}

TEST_CASE("a 3xx or 4xx answer ends delivery: failed after one request", "[notify]") {
  const int status = GENERATE(404, 400, 301);
  INFO("HTTP " << status);
  World world;
  HttpReceiver receiver;
  receiver.SetDefault({status});
  world.Subscribe("rejected", receiver.url("/"), "", FastPolicy(5));
  auto notifier = StartNotifier(world);
  world.Publish("rejected", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().failed == 1; }));
  CHECK(receiver.RequestCount() == 1);
  CHECK(world.Counts().pending == 0);
  const NotifierStats stats = notifier->stats();
  CHECK(stats.rejected == 1);
  CHECK(stats.retries_scheduled == 0);
  CHECK(stats.given_up == 1);
}

TEST_CASE("a notification is failed when its retries are exhausted", "[notify]") {
  World world;
  HttpReceiver receiver;
  receiver.SetDefault({502});
  world.Subscribe("down", receiver.url("/"), "", FastPolicy(2));
  const uint64_t failed_before = MetricValue("sluice_notifications_failed_total");
  auto notifier = StartNotifier(world);
  const std::string id = world.Publish("down", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().failed == 1; }));
  const auto requests = receiver.Requests();
  CHECK(requests.size() == 3);  // the first try and 2 retries
  for (const auto& request : requests) {
    CHECK(request.Header("x-amz-sns-message-id") == id);
  }
  const NotifierStats stats = notifier->stats();
  CHECK(stats.server_errors == 3);
  CHECK(stats.retries_scheduled == 2);
  CHECK(stats.given_up == 1);
  CHECK(MetricValue("sluice_notifications_failed_total") == failed_before + 1);
}

TEST_CASE("a request that times out is retried", "[notify]") {
  World world;
  HttpReceiver receiver;
  receiver.Script({{200, std::chrono::seconds(5)}});  // then answers at once
  world.Subscribe("slow", receiver.url("/"), "", FastPolicy(3));
  NotifierOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  auto notifier = StartNotifier(world, options);
  world.Publish("slow", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().delivered == 1; }));
  CHECK(receiver.RequestCount() == 2);
  const NotifierStats stats = notifier->stats();
  CHECK(stats.timeouts == 1);
  CHECK(stats.delivered == 1);
}

TEST_CASE("a refused connection is retried, then failed", "[notify]") {
  World world;
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/";
  world.Subscribe("nobody", url, "", FastPolicy(2));
  auto notifier = StartNotifier(world);
  world.Publish("nobody", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().failed == 1; }));
  const NotifierStats stats = notifier->stats();
  CHECK(stats.network_errors == 3);
  CHECK(stats.retries_scheduled == 2);
  CHECK(stats.given_up == 1);
}

TEST_CASE("a file subscriber gets one JSON line per notification", "[notify]") {
  World world;
  const std::string path = world.dir() + "/notifications.jsonl";
  world.Subscribe("local", "file://" + path);
  auto notifier = StartNotifier(world);
  std::set<std::string> expected;
  for (int i = 0; i < 5; ++i) {
    const std::string message = "message " + std::to_string(i);
    const std::string id = world.Publish("local", "subject", message);
    expected.insert(state::NotificationBody(id, "local", "subject", message, kPublishedAt));
  }
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().delivered == 5; }));
  std::ifstream file(path);
  std::set<std::string> lines;
  size_t count = 0;
  for (std::string line; std::getline(file, line); ++count) {
    lines.insert(line);
  }
  CHECK(count == 5);
  CHECK(lines == expected);
}

TEST_CASE("a stdout subscriber gets one JSON line per notification on stdout", "[notify]") {
  World world;
  world.Subscribe("console", "stdout");
  const std::string path = world.dir() + "/stdout.txt";
  std::set<std::string> expected;
  bool delivered = false;
  {
    // stdout goes to a file while the notifier runs; no Catch assertion until it is restored.
    std::fflush(stdout);
    const int saved = ::dup(STDOUT_FILENO);
    const int file = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    ::dup2(file, STDOUT_FILENO);
    ::close(file);
    {
      auto notifier = Notifier::Start({}, world.outbox(), &Clock::Real());
      for (int i = 0; i < 2; ++i) {
        const std::string id = world.Publish("console", "", "line " + std::to_string(i));
        expected.insert(
            state::NotificationBody(id, "console", "", "line " + std::to_string(i), kPublishedAt));
      }
      if (notifier.ok()) {
        (*notifier)->Wake();
        delivered = Eventually([&] {
          auto counts = world.outbox()->Counts();
          return counts.ok() && counts->delivered == 2;
        });
      }
    }
    ::dup2(saved, STDOUT_FILENO);
    ::close(saved);
  }
  REQUIRE(delivered);
  std::ifstream file(path);
  std::set<std::string> lines;
  size_t count = 0;
  for (std::string line; std::getline(file, line); ++count) {
    lines.insert(line);
  }
  CHECK(count == 2);
  CHECK(lines == expected);
}

TEST_CASE("a file subscriber whose file cannot be written is retried, then failed", "[notify]") {
  World world;
  world.Subscribe("local", "file://" + world.dir() + "/no-such-directory/out.jsonl", "",
                  FastPolicy(1));
  auto notifier = StartNotifier(world);
  world.Publish("local", "s", "m");
  notifier->Wake();

  REQUIRE(Eventually([&] { return world.Counts().failed == 1; }));
  const NotifierStats stats = notifier->stats();
  CHECK(stats.io_errors == 2);
  CHECK(stats.given_up == 1);
}

TEST_CASE("rows pending when a notifier stops are delivered by the next one", "[notify]") {
  World world;
  HttpReceiver receiver;
  receiver.SetDefault({200, std::chrono::seconds(60)});  // holds the first notifier's requests
  world.Subscribe("restart", receiver.url("/"));
  std::vector<std::string> ids;
  {
    NotifierOptions options;
    options.request_timeout = std::chrono::seconds(120);
    options.workers = 1;  // one request under way, two rows queued
    auto notifier = StartNotifier(world, options);
    for (int i = 0; i < 3; ++i) {
      ids.push_back(world.Publish("restart", "s", std::to_string(i)));
    }
    notifier->Wake();
    REQUIRE(receiver.WaitForRequests(1));
  }  // destroyed with a request under way
  CHECK(world.Counts().pending == 3);
  CHECK(world.Counts().delivered == 0);

  world.Open();  // as a restarted host
  receiver.SetDefault({200});
  auto notifier = StartNotifier(world);
  REQUIRE(Eventually([&] { return world.Counts().delivered == 3; }));
  std::map<std::string, int> by_id;
  const auto requests = receiver.Requests();
  for (const auto& request : requests) {
    ++by_id[request.Header("x-amz-sns-message-id")];
  }
  REQUIRE(requests.size() == 4);
  CHECK(by_id.size() == 3);
  // The abandoned request's row was sent again, with the same MessageId.
  CHECK(by_id[requests[0].Header("x-amz-sns-message-id")] == 2);
  for (const std::string& id : ids) {
    CHECK(by_id.contains(id));
  }
  CHECK(notifier->stats().delivered == 3);
}

TEST_CASE("many notifications to several subscribers are each delivered exactly once", "[notify]") {
  World world;
  HttpReceiver receiver;
  const std::vector<std::string> paths_a = {"/a1", "/a2", "/a3"};
  const std::vector<std::string> paths_b = {"/b1", "/b2"};
  for (const auto& path : paths_a) {
    world.Subscribe("topic-a", receiver.url(path), "secret-a");
  }
  for (const auto& path : paths_b) {
    world.Subscribe("topic-b", receiver.url(path));
  }
  NotifierOptions options;
  options.batch_size = 32;  // many dispatcher passes
  auto notifier = StartNotifier(world, options);
  std::set<std::pair<std::string, std::string>> expected;  // (path, MessageId)
  for (int i = 0; i < 300; ++i) {
    const bool a = i % 2 == 0;
    int rows = 0;
    const std::string id = world.Publish(a ? "topic-a" : "topic-b", "s", std::to_string(i), &rows);
    CHECK(rows == static_cast<int>(a ? paths_a.size() : paths_b.size()));
    for (const auto& path : a ? paths_a : paths_b) {
      expected.insert({path, id});
    }
    if (i % 50 == 0) {
      notifier->Wake();
    }
  }
  notifier->Wake();

  const int64_t total = static_cast<int64_t>(expected.size());
  REQUIRE(Eventually([&] { return world.Counts().delivered == total; }, std::chrono::seconds(30)));
  const auto requests = receiver.Requests();
  std::map<std::pair<std::string, std::string>, int> seen;
  for (const auto& request : requests) {
    ++seen[{request.path, request.Header("x-amz-sns-message-id")}];
  }
  CHECK(requests.size() == expected.size());
  CHECK(seen.size() == expected.size());
  for (const auto& [key, count] : seen) {
    INFO(key.first << " " << key.second);
    CHECK(count == 1);
    CHECK(expected.contains(key));
  }
  CHECK(world.Counts().pending == 0);
  CHECK(notifier->stats().delivered == static_cast<uint64_t>(total));
}

TEST_CASE("notifier options out of range are rejected", "[notify]") {
  World world;
  NotifierOptions options;
  options.workers = 0;
  auto notifier = Notifier::Start(options, world.outbox(), &Clock::Real());
  REQUIRE_FALSE(notifier.ok());
  CHECK(notifier.status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::host
