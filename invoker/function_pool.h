// FunctionPool: the instances of one function version, and the way to invoke it.
//
// Warm instances are reused (most recently used first). A new instance starts when none is idle
// and fewer than max_concurrency (ReservedConcurrentExecutions) are running; at the limit an
// invoke is throttled at once, as Lambda does. An instance that timed out, crashed, ran out of
// memory or broke the protocol is discarded, and so is an idle one found dead; the next invoke
// gets a fresh one. After init failures, new instances start only after an exponential backoff,
// and invokes in the meantime fail at once with the last init error. The Timeout counts from
// when the instance receives the invoke: init is not charged to it.
//
// Thread-safety: Invoke() may be called from many threads at once. The destructor must not race
// with Invoke(): stop callers first. It shuts every instance down gracefully.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "base/status.h"
#include "invoker/function_config.h"
#include "invoker/init_backoff.h"
#include "invoker/instance.h"
#include "invoker/metrics.h"

namespace sluice::invoker {

class FunctionPool {
 public:
  FunctionPool(FunctionConfig config, InstanceDeps deps);
  ~FunctionPool();
  FunctionPool(const FunctionPool&) = delete;
  FunctionPool& operator=(const FunctionPool&) = delete;

  // Invokes the function once with `invoke`'s event. Sets request_id when empty, the deadline
  // (Timeout from when an initialised instance takes the invoke) and the function ARN. A function
  // error is a successful Result whose response has error(). Non-OK Status: INVALID_ARGUMENT when
  // the request is over the payload limit or has no event; RESOURCE_EXHAUSTED when throttled
  // (TooManyRequestsException); INTERNAL/UNAVAILABLE when an instance could not be launched.
  // While the invoke is in flight, the function's host-service calls for it go to `services`;
  // with none (null), they are refused.
  Result<InvokeResult> Invoke(runtime::v1::Invoke invoke,
                              std::shared_ptr<InvokeServices> services = nullptr);

  MetricsSnapshot metrics() const { return metrics_.Snapshot(); }
  // Instances running now (busy or idle).
  size_t live_instances() const;
  const FunctionConfig& config() const { return config_; }

 private:
  // Gets a live idle instance, or permission to start one (*start_new), or neither while the
  // init backoff lasts (then *init_error says why); RESOURCE_EXHAUSTED at the concurrency limit.
  Status Acquire(std::unique_ptr<Instance>* idle, bool* start_new,
                 runtime::v1::FunctionError* init_error);
  void Release(std::unique_ptr<Instance> instance);

  const FunctionConfig config_;
  const InstanceDeps deps_;
  FunctionMetrics metrics_;

  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Instance>> idle_;  // back = most recently used
  size_t live_ = 0;                              // idle + busy + starting
  InitBackoff backoff_;
  runtime::v1::FunctionError last_init_error_;
};

}  // namespace sluice::invoker
