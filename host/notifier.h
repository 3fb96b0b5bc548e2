// Notifier: delivers the durable notification outbox (state/outbox.h) to subscribers.
//
// Each outbox row is one notification for one subscription; its body (SNS's notification JSON)
// was fixed when the row was written and is sent unchanged on every attempt, so MessageId is
// stable and receivers drop duplicates by it. By endpoint (state/topics.h):
//
//   http(s)://...  an HTTP POST of the body, with these request headers (as SNS sends them):
//                    Content-Type: text/plain; charset=UTF-8
//                    x-amz-sns-message-type: Notification
//                    x-amz-sns-message-id: <MessageId>
//                    x-amz-sns-topic-arn: <TopicArn>
//                    x-amz-sns-subscription-arn: <TopicArn>:<subscription id>
//                    User-Agent: Sluice-Notifications/0.1
//                    X-Sluice-Signature: sha256=<hex>   only when the subscription has a secret
//                                                       (host/notification_signature.h)
//                  2xx: delivered. 3xx and 4xx: failed, not retried (as SNS; redirects are not
//                  followed). 5xx, a timeout or a connection error: retried.
//   file:///path   the body and "\n" appended to the file in one write (O_APPEND), then
//                  fdatasync: delivered. An I/O error is retried like a 5xx.
//   stdout         the body and "\n" written to the host's stdout: delivered.
//
// Retries follow the subscription's DeliveryPolicy: after the n-th failed try (n = 1, 2, ...)
// the row is rescheduled min(min_delay_ms * 2^(n-1), max_delay_ms) +-20% later, while fewer than
// num_retries retries have been made; then it is marked failed ("retries exhausted: ...").
// Delivery is at least once: a row being delivered when the Notifier is destroyed (or the
// process dies) stays pending and is sent again by the next Notifier on the same database.
//
// Threads: one dispatcher takes due rows (Outbox::Due) that are not already queued or in
// flight, queues them for `workers` delivery threads, and sleeps until the next row is due, a
// Wake(), a worker finishing while rows wait, or `poll_interval`. Each worker keeps one libcurl
// handle, so connections to a receiver are kept alive and reused.
//
// Metrics (base/metrics.h, the process-wide registry): sluice_notifications_delivered_total,
// sluice_notifications_failed_total, sluice_notification_attempts_total{outcome=delivered|
// rejected|server_error|timeout|network_error|io_error}. Rows pending are the outbox's to tell
// (Outbox::Counts), for whoever renders /metrics.
//
// Logs (base/log.h, component "notifier"): a warning per failed try and an error per
// notification given up, each at most 10 per 10 s (then one line says how many were
// suppressed).
//
// Thread-safety: Wake() and stats() are safe from any thread. The destructor stops the threads
// promptly: HTTP requests under way are abandoned (their rows stay pending), a file write under
// way finishes. The Outbox and Clock must outlive the Notifier.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "state/outbox.h"

namespace sluice::host {

struct NotifierOptions {
  unsigned workers = 8;  // 1-256 delivery threads, each with its own connection
  // The whole of one HTTP request (connect, send, wait for the answer); a request that takes
  // longer is a timeout, retried.
  std::chrono::milliseconds request_timeout{15'000};
  size_t batch_size = 256;  // rows read per Outbox::Due, and the most queued for the workers
  // The outbox is read at least this often even without Wake(), and after a database error.
  std::chrono::milliseconds poll_interval{1'000};
  // Delivered and failed rows are deleted once they are this old (checked about hourly), so the
  // outbox keeps what is pending plus a week of history for `sluice status` and debugging.
  std::chrono::milliseconds keep_finished{7LL * 24 * 3600 * 1000};
};

// Counts since Start(), by how each try ended.
struct NotifierStats {
  uint64_t delivered = 0;       // 2xx, or written to the file or stdout
  uint64_t rejected = 0;        // 3xx or 4xx (or an unusable endpoint): failed, no retry
  uint64_t server_errors = 0;   // 5xx (and any other status outside 200-499)
  uint64_t timeouts = 0;        // no complete answer within request_timeout
  uint64_t network_errors = 0;  // connection refused, reset, DNS, TLS, ...
  uint64_t io_errors = 0;       // file endpoint write or fdatasync failed
  uint64_t retries_scheduled = 0;
  uint64_t given_up = 0;  // marked failed: rejected, retries exhausted or unusable endpoint
};

class Notifier {
 public:
  // Starts the dispatcher and the workers; they begin with the rows already due (rows left
  // pending by a previous run included). `clock` gives the Unix time rows are due at and
  // rescheduled to; the dispatcher's sleeps are real time, at most poll_interval each.
  // INVALID_ARGUMENT for options out of range.
  static Result<std::unique_ptr<Notifier>> Start(NotifierOptions options, state::Outbox* outbox,
                                                 Clock* clock);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Rows were queued (a commit wrote to the outbox): look at the outbox now. Cheap, never
  // blocks on delivery; calls while the dispatcher is busy coalesce.
  void Wake();

  NotifierStats stats() const;

 private:
  struct Worker;
  enum class Outcome {
    kDelivered,
    kRejected,
    kServerError,
    kTimeout,
    kNetworkError,
    kIoError,
    kAbandoned,  // stopped while the request was under way: the row stays as it is
  };
  struct Attempt {
    Outcome outcome;
    std::string detail;      // "HTTP 503", curl's message, strerror, ...
    bool permanent = false;  // fail without retry, whatever the outcome
  };

  Notifier(NotifierOptions options, state::Outbox* outbox, Clock* clock);
  void DispatchLoop();
  void WorkLoop(Worker* worker);
  Attempt Deliver(Worker* worker, const state::OutboxEntry& entry);
  Attempt PostHttp(Worker* worker, const state::OutboxEntry& entry);
  // Records the try's outcome in the outbox, the counters and the log. REQUIRES: the try was
  // not abandoned.
  void Record(const state::OutboxEntry& entry, const Attempt& attempt);
  // Logs at most 10 lines per 10 s per level, then says how many were left out.
  struct LogBudget {
    int64_t window_start_ms = 0;
    int lines = 0;
    uint64_t suppressed = 0;
  };
  void LogLimited(LogBudget& budget, LogLevel level, const std::string& message);

  const NotifierOptions options_;
  state::Outbox* const outbox_;
  Clock* const clock_;

  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable dispatch_cv_;  // Wake(), stop, a worker finished
  std::condition_variable work_cv_;      // rows queued, stop
  bool wake_ = false;
  uint64_t finished_ = 0;  // tries finished, so the dispatcher knows when in-flight rows moved
  std::deque<state::OutboxEntry> queue_;
  std::set<int64_t> in_flight_;  // ids queued or being delivered
  // While the dispatcher reads due rows (reading_), ids whose try finished meanwhile: its read
  // may still show them pending, and they must not be queued again from it.
  bool reading_ = false;
  std::set<int64_t> finished_while_reading_;
  NotifierStats stats_;
  std::mutex log_mu_;  // guards the budgets; never held with mu_ acquired after it
  LogBudget warnings_;
  LogBudget errors_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::thread dispatcher_;
};

}  // namespace sluice::host
