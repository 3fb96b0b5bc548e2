// Notification delivery benchmark: the notifier (host/notifier.h) draining a SQLite outbox to a
// local HTTP receiver that answers 200 at once. Prints one JSON line per figure:
// {"bench": "notify", "metric": ..., "value": ..., "unit": ...}
//
//   delivery_throughput: 20,000 notifications to one subscriber queued (in transactions of 500)
//     before the notifier starts; notifications delivered and marked delivered per second, from
//     the notifier's start to the last row marked delivered. Default options (8 workers).
//   enqueue_to_delivery_p50_ms / p99_ms: with the notifier running, one notification committed
//     (and Wake() called) every millisecond for 2 s; latency = arrival at the receiver - time
//     before the commit.
//
// usage: notify_bench [DATA_DIR_PARENT]   (default $TMPDIR or /tmp)
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "host/http_server.h"
#include "host/notifier.h"
#include "state/outbox.h"
#include "state/state_db.h"
#include "state/topics.h"

namespace {

using Steady = std::chrono::steady_clock;
using namespace sluice;

void Emit(const std::string& metric, double value, const std::string& unit) {
  std::printf("{\"bench\": \"notify\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n",
              metric.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

[[noreturn]] void Fail(const std::string& what, const Status& status) {
  std::fprintf(stderr, "notify_bench: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::exit(1);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Arrival times at the receiver, by MessageId.
struct Arrivals {
  std::mutex mu;
  std::map<std::string, Steady::time_point> at;
};

// Commits `count` notifications to `topic`, `per_transaction` to a transaction.
void Publish(state::StateDb& db, const std::string& topic, int first, int count,
             int per_transaction) {
  for (int done = 0; done < count;) {
    const int n = std::min(per_transaction, count - done);
    const Status status = db.Write([&](state::Transaction& txn) {
      for (int i = 0; i < n; ++i) {
        const std::string id = "msg-" + std::to_string(first + done + i);
        Result<int> rows = state::Outbox::Enqueue(txn, topic, id, "bench", std::string(200, 'x'),
                                                  Clock::Real().UnixMillis());
        if (!rows.ok()) {
          return rows.status();
        }
      }
      return Status::Ok();
    });
    if (!status.ok()) {
      Fail("enqueue", status);
    }
    done += n;
  }
}

std::unique_ptr<host::Notifier> StartNotifier(state::Outbox& outbox) {
  auto notifier = host::Notifier::Start(host::NotifierOptions{}, &outbox, &Clock::Real());
  if (!notifier.ok()) {
    Fail("starting the notifier", notifier.status());
  }
  return std::move(notifier).value();
}

int64_t Delivered(state::Outbox& outbox) {
  auto counts = outbox.Counts();
  if (!counts.ok()) {
    Fail("counts", counts.status());
  }
  return counts->delivered;
}

}  // namespace

int main(int argc, char** argv) {
  const char* tmp = std::getenv("TMPDIR");
  std::string parent = argc > 1 ? argv[1] : (tmp != nullptr ? tmp : "/tmp");
  std::string dir_template = parent + "/notify-bench.XXXXXX";
  if (::mkdtemp(dir_template.data()) == nullptr) {
    std::perror("notify_bench: mkdtemp");
    return 1;
  }
  const std::string dir = dir_template;

  Arrivals arrivals;
  host::HttpServerOptions server_options;
  server_options.port = 0;
  server_options.threads = 4;
  auto server = host::HttpServer::Start(server_options, [&](const host::HttpRequest& request) {
    const auto now = Steady::now();
    std::lock_guard lock(arrivals.mu);
    arrivals.at.emplace(std::string(request.Header("x-amz-sns-message-id")), now);
    return host::HttpResponse{
        .status = 200, .content_type = "text/plain", .body = "", .headers = {}};
  });
  if (!server.ok()) {
    Fail("starting the receiver", server.status());
  }
  const std::string url = "http://127.0.0.1:" + std::to_string((*server)->port()) + "/hook";

  int status = 0;
  {
    auto db = state::StateDb::Open(dir + "/sluice.db", state::DbDurability::kOs);
    if (!db.ok()) {
      Fail("opening the database", db.status());
    }
    state::TopicCatalog catalog(db->get());
    if (Status s = catalog.CreateTopic("bench"); !s.ok()) {
      Fail("creating the topic", s);
    }
    if (auto s = catalog.Subscribe("bench", url, "secret", state::DeliveryPolicy{}); !s.ok()) {
      Fail("subscribing", s.status());
    }
    state::Outbox outbox(db->get());

    // Throughput: a backlog drained from the start.
    constexpr int kBacklog = 20'000;
    Publish(**db, "bench", 0, kBacklog, 500);
    const auto start = Steady::now();
    auto notifier = StartNotifier(outbox);
    const auto deadline = start + std::chrono::seconds(120);
    while (Delivered(outbox) < kBacklog && Steady::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const double seconds = std::chrono::duration<double>(Steady::now() - start).count();
    if (Delivered(outbox) < kBacklog) {
      std::fprintf(stderr, "notify_bench: only %lld of %d delivered in 120 s\n",
                   static_cast<long long>(Delivered(outbox)), kBacklog);
      status = 1;
    } else {
      Emit("delivery_throughput", kBacklog / seconds, "notifications/s");
    }

    // Latency: one commit a millisecond, each followed by Wake(), as the host does.
    constexpr int kSamples = 2'000;
    std::vector<Steady::time_point> published(kSamples);
    const auto begin = Steady::now();
    for (int i = 0; i < kSamples; ++i) {
      std::this_thread::sleep_until(begin + std::chrono::milliseconds(i));
      published[i] = Steady::now();
      Publish(**db, "bench", kBacklog + i, 1, 1);
      notifier->Wake();
    }
    while (Delivered(outbox) < kBacklog + kSamples &&
           Steady::now() < begin + std::chrono::seconds(120)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::vector<double> latencies_ms;
    {
      std::lock_guard lock(arrivals.mu);
      for (int i = 0; i < kSamples; ++i) {
        auto it = arrivals.at.find("msg-" + std::to_string(kBacklog + i));
        if (it != arrivals.at.end()) {
          latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(it->second - published[i]).count());
        }
      }
    }
    if (latencies_ms.size() < static_cast<size_t>(kSamples)) {
      std::fprintf(stderr, "notify_bench: only %zu of %d latency samples arrived\n",
                   latencies_ms.size(), kSamples);
      status = 1;
    }
    if (!latencies_ms.empty()) {
      Emit("enqueue_to_delivery_p50_ms", Percentile(latencies_ms, 0.50), "ms");
      Emit("enqueue_to_delivery_p99_ms", Percentile(latencies_ms, 0.99), "ms");
    }
  }
  server->reset();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return status;
}
