#include "invoker/deadline_timer.h"

namespace sluice::invoker {

DeadlineTimer::DeadlineTimer() : thread_([this] { Loop(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t DeadlineTimer::Arm(TimePoint deadline, std::function<void()> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t id = next_id_++;
  const bool earliest = pending_.empty() || deadline < pending_.begin()->first.first;
  pending_.emplace(std::make_pair(deadline, id), std::move(callback));
  deadline_of_[id] = deadline;
  if (earliest) {
    cv_.notify_all();  // only an earlier deadline changes what the thread waits for
  }
  return id;
}

bool DeadlineTimer::Cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = deadline_of_.find(id);
  if (it == deadline_of_.end()) {
    return false;
  }
  pending_.erase(std::make_pair(it->second, id));
  deadline_of_.erase(it);
  return true;
}

void DeadlineTimer::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      cv_.wait(lock);
      continue;
    }
    auto first = pending_.begin();
    if (std::chrono::steady_clock::now() < first->first.first) {
      cv_.wait_until(lock, first->first.first);
      continue;
    }
    std::function<void()> callback = std::move(first->second);
    deadline_of_.erase(first->first.second);
    pending_.erase(first);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace sluice::invoker
