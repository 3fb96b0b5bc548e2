#include "host/notifier.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <string_view>

#include "base/files.h"
#include "base/metrics.h"
#include "host/notification_signature.h"
#include "state/topics.h"

namespace sluice::host {
namespace {

constexpr std::string_view kComponent = "notifier";
constexpr size_t kMaxResponseBytes = 200;  // of a receiver's answer, kept for the error text

size_t KeepResponseStart(char* data, size_t size, size_t count, void* out) {
  auto* response = static_cast<std::string*>(out);
  const size_t n = size * count;
  if (response->size() < kMaxResponseBytes) {
    response->append(data, std::min(n, kMaxResponseBytes - response->size()));
  }
  return n;
}

// Writes all of `data` to `fd` (one write(2) unless the kernel takes less).
Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return ErrnoStatus("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// min(min_delay * 2^(retry-1), max_delay), then +-20% uniform jitter.
int64_t RetryDelayMs(const state::DeliveryPolicy& policy, uint32_t retry) {
  int64_t delay = std::max<int64_t>(policy.min_delay_ms, 1);
  for (uint32_t i = 1; i < retry && delay < policy.max_delay_ms; ++i) {
    delay *= 2;
  }
  delay = std::min(delay, std::max(policy.max_delay_ms, policy.min_delay_ms));
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(delay) * jitter(random)));
}

// The process-wide Prometheus series, registered on first use.
struct Series {
  Counter& delivered;
  Counter& failed;
  std::array<Counter*, 6> attempts;  // by Outcome, except kAbandoned (not a try)
};

const Series& Metrics() {
  static const Series series = [] {
    MetricsRegistry& registry = MetricsRegistry::Global();
    const char* const kAttemptsHelp = "Notification delivery tries, by how they ended.";
    auto attempts = [&](const char* outcome) {
      return &registry.GetCounter("sluice_notification_attempts_total", kAttemptsHelp,
                                  {{"outcome", outcome}});
    };
    return Series{
        registry.GetCounter("sluice_notifications_delivered_total",
                            "Notifications delivered to a subscriber."),
        registry.GetCounter("sluice_notifications_failed_total",
                            "Notifications given up: refused (3xx/4xx), retries exhausted or "
                            "an unusable endpoint."),
        {attempts("delivered"), attempts("rejected"), attempts("server_error"), attempts("timeout"),
         attempts("network_error"), attempts("io_error")}};
  }();
  return series;
}

}  // namespace

struct Notifier::Worker {
  ~Worker() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
  CURL* easy = nullptr;
  CURLM* multi = nullptr;  // holds `easy` during a request, so the destructor can interrupt it
  std::string response;
  char error[CURL_ERROR_SIZE] = {};
  std::thread thread;
};

Result<std::unique_ptr<Notifier>> Notifier::Start(NotifierOptions options, state::Outbox* outbox,
                                                  Clock* clock) {
  if (options.workers < 1 || options.workers > 256) {
    return InvalidArgument("notifier workers must be 1-256, got " +
                           std::to_string(options.workers));
  }
  if (options.request_timeout.count() <= 0 || options.poll_interval.count() <= 0 ||
      options.batch_size < 1) {
    return InvalidArgument("notifier request_timeout, poll_interval and batch_size must be > 0");
  }
  static const CURLcode global_init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global_init != CURLE_OK) {
    return Internal(std::string("cannot initialise libcurl: ") + curl_easy_strerror(global_init));
  }
  std::unique_ptr<Notifier> notifier(new Notifier(options, outbox, clock));
  for (unsigned i = 0; i < options.workers; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->easy = curl_easy_init();
    worker->multi = curl_multi_init();
    if (worker->easy == nullptr || worker->multi == nullptr) {
      return Internal("cannot create a libcurl handle");
    }
    CURL* easy = worker->easy;
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options.request_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &KeepResponseStart);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &worker->response);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, worker->error);
    notifier->workers_.push_back(std::move(worker));
  }
  for (auto& worker : notifier->workers_) {
    worker->thread = std::thread([n = notifier.get(), w = worker.get()] { n->WorkLoop(w); });
  }
  notifier->dispatcher_ = std::thread([n = notifier.get()] { n->DispatchLoop(); });
  return notifier;
}

Notifier::Notifier(NotifierOptions options, state::Outbox* outbox, Clock* clock)
    : options_(options), outbox_(outbox), clock_(clock) {}

Notifier::~Notifier() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  dispatch_cv_.notify_all();
  work_cv_.notify_all();
  for (auto& worker : workers_) {
    curl_multi_wakeup(worker->multi);
  }
  if (dispatcher_.joinable()) {
    dispatcher_.join();
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) {
      worker->thread.join();
    }
  }
}

void Notifier::Wake() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  dispatch_cv_.notify_one();
}

NotifierStats Notifier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Notifier::DispatchLoop() {
  const size_t low_water = options_.batch_size / 2;
  constexpr int64_t kHousekeepingEveryMs = 3600 * 1000;
  int64_t next_housekeeping = 0;  // at start, then hourly
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (const int64_t now = clock_->UnixMillis(); now >= next_housekeeping) {
      next_housekeeping = now + kHousekeepingEveryMs;
      lock.unlock();
      const Status deleted = outbox_->DeleteFinishedBefore(now - options_.keep_finished.count());
      lock.lock();
      if (!deleted.ok()) {
        LogLimited(errors_, LogLevel::kError, "outbox housekeeping: " + deleted.ToString());
      }
    }
    wake_ = false;
    const uint64_t seen_finished = finished_;
    const size_t room = options_.batch_size - std::min(queue_.size(), options_.batch_size);
    const size_t limit = room + in_flight_.size();
    reading_ = true;
    finished_while_reading_.clear();
    lock.unlock();

    // Rows due now that are not queued or in flight go to the workers, at most `room`.
    bool backlog = false;  // due rows wait for a worker
    int64_t wait_ms = options_.poll_interval.count();
    Result<std::vector<state::OutboxEntry>> due = std::vector<state::OutboxEntry>();
    if (room > 0) {
      due = outbox_->Due(clock_->UnixMillis(), limit);
    }
    lock.lock();
    reading_ = false;
    if (!due.ok()) {
      LogLimited(errors_, LogLevel::kError, "reading the outbox: " + due.status().ToString());
      dispatch_cv_.wait_for(lock, options_.poll_interval, [&] { return stop_.load(); });
      continue;
    }
    size_t queued = 0;
    for (state::OutboxEntry& entry : *due) {
      if (queued == room) {
        backlog = true;
        break;
      }
      if (!finished_while_reading_.contains(entry.id) && in_flight_.insert(entry.id).second) {
        queue_.push_back(std::move(entry));
        ++queued;
      }
    }
    if (queued > 0) {
      work_cv_.notify_all();
    }
    lock.unlock();

    Result<int64_t> next_due = outbox_->NextDueUnixMs();
    const int64_t now = clock_->UnixMillis();
    lock.lock();
    if (!next_due.ok()) {
      LogLimited(errors_, LogLevel::kError, "reading the outbox: " + next_due.status().ToString());
    } else if (*next_due <= now) {
      backlog = true;  // rows due now are in flight or did not fit in the queue
    } else {
      wait_ms = std::min(wait_ms, *next_due - now);
    }
    dispatch_cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] {
      return stop_ || wake_ ||
             (backlog && finished_ != seen_finished && queue_.size() <= low_water);
    });
  }
}

void Notifier::WorkLoop(Worker* worker) {
  std::unique_lock lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (stop_) {
      return;
    }
    state::OutboxEntry entry = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    const Attempt attempt = Deliver(worker, entry);
    if (attempt.outcome != Outcome::kAbandoned) {
      Record(entry, attempt);
    }
    lock.lock();
    in_flight_.erase(entry.id);
    if (reading_) {
      finished_while_reading_.insert(entry.id);
    }
    ++finished_;
    dispatch_cv_.notify_one();
  }
}

Notifier::Attempt Notifier::Deliver(Worker* worker, const state::OutboxEntry& entry) {
  const std::string& endpoint = entry.subscription.endpoint;
  if (endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
    return PostHttp(worker, entry);
  }
  if (endpoint == "stdout") {
    const Status written = WriteAll(STDOUT_FILENO, entry.body_json + "\n");
    if (!written.ok()) {
      return {Outcome::kIoError, "stdout: " + written.message()};
    }
    return {Outcome::kDelivered, "written to stdout"};
  }
  constexpr std::string_view kFile = "file://";
  if (endpoint.starts_with(kFile) && endpoint.size() > kFile.size() &&
      endpoint[kFile.size()] == '/') {
    const std::string path = endpoint.substr(kFile.size());
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      return {Outcome::kIoError, ErrnoStatus("opening " + path).message()};
    }
    const Status written = WriteAll(fd.get(), entry.body_json + "\n");
    if (!written.ok()) {
      return {Outcome::kIoError, path + ": " + written.message()};
    }
    if (::fdatasync(fd.get()) != 0) {
      return {Outcome::kIoError, ErrnoStatus("fdatasync " + path).message()};
    }
    return {Outcome::kDelivered, "appended to " + path};
  }
  return {Outcome::kRejected, "unsupported endpoint " + endpoint, /*permanent=*/true};
}

Notifier::Attempt Notifier::PostHttp(Worker* worker, const state::OutboxEntry& entry) {
  const std::string topic_arn = state::TopicArn(entry.topic);
  const std::vector<std::string> header_lines = [&] {
    std::vector<std::string> lines = {
        "Content-Type: text/plain; charset=UTF-8",
        "x-amz-sns-message-type: Notification",
        "x-amz-sns-message-id: " + entry.message_id,
        "x-amz-sns-topic-arn: " + topic_arn,
        "x-amz-sns-subscription-arn: " + topic_arn + ":" + entry.subscription.id,
        "User-Agent: Sluice-Notifications/0.1",
        "Expect:",  // no "Expect: 100-continue" round trip for larger bodies
    };
    if (!entry.subscription.secret.empty()) {
      lines.push_back(std::string(kSignatureHeader) + ": " +
                      SignNotification(entry.subscription.secret, entry.body_json));
    }
    return lines;
  }();
  curl_slist* headers = nullptr;
  for (const std::string& line : header_lines) {
    headers = curl_slist_append(headers, line.c_str());
  }
  CURL* easy = worker->easy;
  worker->response.clear();
  worker->error[0] = '\0';
  curl_easy_setopt(easy, CURLOPT_URL, entry.subscription.endpoint.c_str());
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, entry.body_json.data());
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                   static_cast<curl_off_t>(entry.body_json.size()));

  // Through the worker's multi handle, so that the destructor's curl_multi_wakeup ends the wait.
  CURLMcode multi_code = curl_multi_add_handle(worker->multi, easy);
  int running = 1;
  if (multi_code == CURLM_OK) {
    multi_code = curl_multi_perform(worker->multi, &running);
  }
  while (multi_code == CURLM_OK && running > 0 && !stop_) {
    multi_code = curl_multi_poll(worker->multi, nullptr, 0, 1000, nullptr);
    if (multi_code == CURLM_OK) {
      multi_code = curl_multi_perform(worker->multi, &running);
    }
  }
  bool done = false;
  CURLcode code = CURLE_OK;
  int messages = 0;
  while (CURLMsg* message = curl_multi_info_read(worker->multi, &messages)) {
    if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
      done = true;
      code = message->data.result;
    }
  }
  curl_multi_remove_handle(worker->multi, easy);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  if (!done) {
    if (stop_) {
      return {Outcome::kAbandoned, "stopped"};
    }
    return {Outcome::kNetworkError, std::string("libcurl: ") + curl_multi_strerror(multi_code)};
  }
  if (code != CURLE_OK) {
    const std::string what = worker->error[0] != '\0' ? worker->error : curl_easy_strerror(code);
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return {Outcome::kTimeout, "timeout: " + what};
    }
    const bool permanent = code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL;
    return {Outcome::kNetworkError, what, permanent};
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  std::string detail = "HTTP " + std::to_string(status);
  if (!worker->response.empty()) {
    detail += ": " + worker->response;
  }
  if (status >= 200 && status < 300) {
    return {Outcome::kDelivered, std::move(detail)};
  }
  if (status >= 300 && status < 500) {
    return {Outcome::kRejected, std::move(detail), /*permanent=*/true};
  }
  return {Outcome::kServerError, std::move(detail)};
}

void Notifier::Record(const state::OutboxEntry& entry, const Attempt& attempt) {
  const uint32_t tries = entry.attempts + 1;
  const state::DeliveryPolicy& policy = entry.subscription.policy;
  const bool delivered = attempt.outcome == Outcome::kDelivered;
  const bool retry = !delivered && !attempt.permanent && entry.attempts < policy.num_retries;
  const bool give_up = !delivered && !retry;
  {  // counted before the outbox changes, so whoever sees the outbox change sees the counts
    const Series& metrics = Metrics();
    metrics.attempts[static_cast<size_t>(attempt.outcome)]->Increment();
    if (delivered) {
      metrics.delivered.Increment();
    }
    if (give_up) {
      metrics.failed.Increment();
    }
    std::lock_guard lock(mu_);
    switch (attempt.outcome) {
      case Outcome::kDelivered: ++stats_.delivered; break;
      case Outcome::kRejected: ++stats_.rejected; break;
      case Outcome::kServerError: ++stats_.server_errors; break;
      case Outcome::kTimeout: ++stats_.timeouts; break;
      case Outcome::kNetworkError: ++stats_.network_errors; break;
      case Outcome::kIoError: ++stats_.io_errors; break;
      case Outcome::kAbandoned: break;
    }
    stats_.retries_scheduled += retry ? 1 : 0;
    stats_.given_up += give_up ? 1 : 0;
  }

  const std::string what =
      "notification " + entry.message_id + " to " + entry.subscription.endpoint;
  Status recorded;
  if (delivered) {
    recorded = outbox_->MarkDelivered(entry.id, attempt.detail);
  } else if (retry) {
    const int64_t delay_ms = RetryDelayMs(policy, tries);
    recorded = outbox_->Reschedule(entry.id, clock_->UnixMillis() + delay_ms, attempt.detail);
    LogLimited(warnings_, LogLevel::kWarning,
               what + ": try " + std::to_string(tries) + " of " +
                   std::to_string(policy.num_retries + 1) + " failed (" + attempt.detail +
                   "); retrying in " + std::to_string(delay_ms) + " ms");
  } else if (attempt.permanent) {
    recorded = outbox_->MarkFailed(entry.id, attempt.detail);
    LogLimited(errors_, LogLevel::kError, what + " failed: " + attempt.detail);
  } else {
    recorded = outbox_->MarkFailed(entry.id, "retries exhausted: " + attempt.detail);
    LogLimited(errors_, LogLevel::kError,
               what + " failed after " + std::to_string(tries) + " tries: " + attempt.detail);
  }
  // NOT_FOUND: the row is no longer pending (its subscription was deleted meanwhile).
  if (!recorded.ok() && recorded.code() != Code::kNotFound) {
    LogLimited(errors_, LogLevel::kError,
               "recording the outcome of " + what + ": " + recorded.ToString());
  }
}

void Notifier::LogLimited(LogBudget& budget, LogLevel level, const std::string& message) {
  constexpr int64_t kWindowMs = 10'000;
  constexpr int kLinesPerWindow = 10;
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(log_mu_);
    const int64_t now = clock_->UnixMillis();
    if (now - budget.window_start_ms >= kWindowMs) {
      budget.window_start_ms = now;
      budget.lines = 0;
      suppressed = std::exchange(budget.suppressed, 0);
    }
    if (budget.lines >= kLinesPerWindow) {
      ++budget.suppressed;
      return;
    }
    ++budget.lines;
  }
  if (suppressed > 0) {
    Log(level, kComponent,
        std::to_string(suppressed) + " similar messages suppressed in the last 10 s");
  }
  Log(level, kComponent, message);
}

}  // namespace sluice::host
