// SpawnerThread: one long-lived thread on which the launcher clones its children.
//
// PR_SET_PDEATHSIG fires when the *thread* that created a child exits, not when its process
// does. Cloning from whatever thread called Launch() would kill a warm instance as soon as that
// thread ended (a worker pool shrinking, a request thread finishing); cloning from this thread,
// which lives as long as the launcher, ties each sandbox's life to the host's.
//
// Thread-safety: Run() may be called from any thread; calls run one at a time, in order.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sluice::sandbox {

class SpawnerThread {
 public:
  SpawnerThread();
  ~SpawnerThread();  // finishes the call in progress, then stops the thread
  SpawnerThread(const SpawnerThread&) = delete;
  SpawnerThread& operator=(const SpawnerThread&) = delete;

  // Runs `task` on the spawner thread and returns when it has returned.
  void Run(const std::function<void()>& task);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* task_ = nullptr;  // guarded by mu_; the task being handed over
  bool done_ = false;                            // guarded by mu_; task_ has run
  bool stopping_ = false;                        // guarded by mu_
  std::mutex run_mu_;                            // one Run() at a time
  std::thread thread_;
};

}  // namespace sluice::sandbox
