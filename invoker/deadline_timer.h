// DeadlineTimer: runs a callback when a deadline passes, unless cancelled first. One background
// thread serves every armed deadline, so arming per invoke costs a map insert, not a thread.
//
// Callbacks run on the timer's thread and must be short (they kill a process and cancel a
// stream). Thread-safety: Arm/Cancel may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace sluice::invoker {

class DeadlineTimer {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  DeadlineTimer();
  ~DeadlineTimer();  // stops the thread; pending callbacks never run
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Returns an id for Cancel().
  uint64_t Arm(TimePoint deadline, std::function<void()> callback);

  // True if the callback had not started and now never will. False if it already ran (or is
  // running): the caller must treat the deadline as passed.
  bool Cancel(uint64_t id);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  uint64_t next_id_ = 1;
  // Ordered by deadline, then id.
  std::map<std::pair<TimePoint, uint64_t>, std::function<void()>> pending_;
  std::map<uint64_t, TimePoint> deadline_of_;
  std::thread thread_;
};

}  // namespace sluice::invoker
