#include "invoker/function_pool.h"

#include "base/random.h"

namespace sluice::invoker {

namespace pb = runtime::v1;

FunctionPool::FunctionPool(FunctionConfig config, InstanceDeps deps)
    : config_(std::move(config)), deps_(deps), metrics_(config_.name, config_.version) {}

FunctionPool::~FunctionPool() {
  std::vector<std::unique_ptr<Instance>> idle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle.swap(idle_);
    metrics_.RecordInstances(-static_cast<int>(live_));  // all idle: no Invoke() is running
  }
  idle.clear();  // each destructor shuts its instance down
}

size_t FunctionPool::live_instances() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

Status FunctionPool::Acquire(std::unique_ptr<Instance>* idle, bool* start_new,
                             pb::FunctionError* init_error) {
  std::vector<std::unique_ptr<Instance>> dead;  // destroyed after the lock is released
  Status status = Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    // An idle instance may have died between invokes (a background thread crashed, say): such
    // an instance is discarded here rather than charged to this invoke.
    while (!idle_.empty() && !*idle) {
      std::unique_ptr<Instance> candidate = std::move(idle_.back());
      idle_.pop_back();
      if (candidate->Alive()) {
        *idle = std::move(candidate);
      } else {
        dead.push_back(std::move(candidate));
        --live_;
        metrics_.RecordInstances(-1);
      }
    }
    if (*idle) {
      // found one
    } else if (live_ < config_.max_concurrency) {
      const auto wait = backoff_.RemainingAt(deps_.clock->SteadyNow());
      if (wait.count() > 0) {
        *init_error = last_init_error_;
        init_error->set_error_message(
            init_error->error_message() + " (" + std::to_string(backoff_.consecutive_failures()) +
            " consecutive init failures; next attempt in " + std::to_string(wait.count()) + " ms)");
      } else {
        ++live_;
        metrics_.RecordInstances(+1);
        *start_new = true;
      }
    } else {
      // Lambda throttles at once (429); the caller (a poller) backs off and retries.
      metrics_.RecordThrottle();
      status = ResourceExhausted("TooManyRequestsException: Rate Exceeded: " + config_.name +
                                 " is at its concurrency limit (ReservedConcurrentExecutions " +
                                 std::to_string(config_.max_concurrency) + ")");
    }
  }
  return status;
}

void FunctionPool::Release(std::unique_ptr<Instance> instance) {
  std::lock_guard<std::mutex> lock(mu_);
  if (instance) {
    idle_.push_back(std::move(instance));
  } else {
    --live_;
    metrics_.RecordInstances(-1);
  }
}

Result<InvokeResult> FunctionPool::Invoke(pb::Invoke invoke,
                                          std::shared_ptr<InvokeServices> services) {
  if (invoke.event_case() == pb::Invoke::EVENT_NOT_SET) {
    return InvalidArgument("the invoke carries no event");
  }
  if (invoke.request_id().empty()) {
    invoke.set_request_id(RandomUuid());  // Lambda's request ids are UUIDs
  }
  invoke.set_invoked_function_arn(config_.arn);
  pb::HostMessage message;
  *message.mutable_invoke() = std::move(invoke);
  const size_t size = message.ByteSizeLong();
  if (size > config_.max_request_bytes) {
    return InvalidArgument("RequestEntityTooLargeException: the request is " +
                           std::to_string(size) + " bytes; the limit is " +
                           std::to_string(config_.max_request_bytes));
  }

  std::unique_ptr<Instance> instance;
  bool start_new = false;
  pb::FunctionError init_error;
  SLUICE_RETURN_IF_ERROR(Acquire(&instance, &start_new, &init_error));
  InvokeResult result;
  result.response.set_request_id(message.invoke().request_id());
  if (!instance && !start_new) {  // init backoff in force
    *result.response.mutable_error() = init_error;
    result.init_backoff = true;
    metrics_.RecordInvoke(std::chrono::nanoseconds(0), init_error.error_type());
    return result;
  }
  if (start_new) {
    const Status launched = Instance::Start(config_, deps_, &instance, &init_error);
    if (!launched.ok() || !instance) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (launched.ok()) {
          backoff_.RecordFailure(deps_.clock->SteadyNow());
          last_init_error_ = init_error;
        }
      }
      Release(nullptr);
      if (!launched.ok()) {
        return launched;
      }
      metrics_.RecordInitFailure();
      metrics_.RecordInvoke(std::chrono::nanoseconds(0), init_error.error_type());
      result.cold_start = true;
      *result.response.mutable_error() = init_error;
      return result;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      backoff_.RecordSuccess();
    }
    metrics_.RecordColdStart();
  }

  // The Timeout starts when the instance has the invoke, as in Lambda: init does not count.
  message.mutable_invoke()->set_deadline_unix_ms(deps_.clock->UnixMillis() +
                                                 config_.timeout.count());
  result = instance->Invoke(message, std::move(services));
  result.cold_start = start_new;
  metrics_.RecordInvoke(result.duration,
                        result.is_function_error() ? result.response.error().error_type() : "");
  if (result.instance_lost) {
    instance.reset();  // kills and reaps before the slot is given back
    Release(nullptr);
  } else {
    Release(std::move(instance));
  }
  return result;
}

}  // namespace sluice::invoker
