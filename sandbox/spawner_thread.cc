#include "sandbox/spawner_thread.h"

namespace sluice::sandbox {

SpawnerThread::SpawnerThread() : thread_([this] { Loop(); }) {}

SpawnerThread::~SpawnerThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SpawnerThread::Run(const std::function<void()>& task) {
  std::lock_guard<std::mutex> one_at_a_time(run_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  task_ = &task;
  done_ = false;
  cv_.notify_all();
  cv_.wait(lock, [this] { return done_; });
  task_ = nullptr;
}

void SpawnerThread::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || (task_ != nullptr && !done_); });
    if (task_ != nullptr && !done_) {
      const std::function<void()>* task = task_;
      lock.unlock();
      (*task)();
      lock.lock();
      done_ = true;
      cv_.notify_all();
      continue;
    }
    return;  // stopping, nothing pending
  }
}

}  // namespace sluice::sandbox
