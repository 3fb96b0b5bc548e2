// Instance: one running, sandboxed process of a function, connected over the runtime protocol.
//
// Start() launches the process and waits for it to say Ready (init). Invoke() sends one Invoke
// and waits for its response or the deadline; on timeout, crash, out-of-memory or a protocol
// violation the instance is lost (its whole process tree is killed) and the result says so.
//
// Thread-safety: one Invoke() at a time (FunctionPool hands an instance to one caller). The
// destructor shuts the process down (gracefully if it is healthy) and may block up to the
// function's shutdown grace period.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "invoker/deadline_timer.h"
#include "invoker/function_config.h"
#include "invoker/invoke_services.h"
#include "invoker/log_capture.h"
#include "invoker/runtime_server.h"
#include "sandbox/launcher.h"
#include "sluice/runtime/v1/runtime.pb.h"

namespace sluice::invoker {

// The host services an instance needs; all outlive every Instance.
struct InstanceDeps {
  sandbox::ProcessLauncher* launcher = nullptr;
  RuntimeServer* runtime_server = nullptr;
  LogCapture* logs = nullptr;
  DeadlineTimer* timer = nullptr;
  Clock* clock = &Clock::Real();
  std::string scratch_root;  // per-instance scratch dirs go here when the mount layer is off
};

// What an invoke produced.
struct InvokeResult {
  // The function's answer: a success payload matching the event kind, or error() (a function
  // error: the function's own, or one the host reports such as Sandbox.Timedout).
  runtime::v1::InvokeResponse response;
  bool instance_lost = false;  // the instance was killed and must not be reused
  bool cold_start = false;     // a new instance was started for this invoke
  // No instance ran the invoke: during the init backoff the pool answers at once with the last
  // init error (pollers retry that without spending MaximumRetryAttempts).
  bool init_backoff = false;
  std::chrono::nanoseconds duration{0};
  bool is_function_error() const { return response.has_error(); }
};

// Lambda's error types, as the host reports them.
inline constexpr char kSandboxTimedout[] = "Sandbox.Timedout";
inline constexpr char kRuntimeExitError[] = "Runtime.ExitError";
inline constexpr char kRuntimeOutOfMemory[] = "Runtime.OutOfMemory";
inline constexpr char kRuntimeInitError[] = "Runtime.InitError";
inline constexpr char kRuntimeInvalidResponse[] = "Runtime.InvalidResponse";
inline constexpr char kResponseSizeTooLarge[] = "Function.ResponseSizeTooLarge";

class Instance {
 public:
  // Launches an instance and waits for Ready. Returns a non-OK Status for host-side failures
  // (the sandbox could not launch). When the function fails to initialise, *instance stays null
  // and *init_error says why (Runtime.InitError, Runtime.ExitError, ...).
  static Status Start(const FunctionConfig& config, const InstanceDeps& deps,
                      std::unique_ptr<Instance>* instance, runtime::v1::FunctionError* init_error);

  ~Instance();
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // REQUIRES: message.has_invoke() with request_id and deadline set; the instance is not lost.
  // While the invoke is in flight, its host-service calls go to `services` (may be null).
  InvokeResult Invoke(const runtime::v1::HostMessage& message,
                      std::shared_ptr<InvokeServices> services);

  // False once the process has ended (checked now, without blocking); the instance is then
  // lost.
  bool Alive();

  const std::string& id() const { return id_; }

 private:
  struct Shared;  // what the deadline callback needs, shared so it can outlive the Instance
  Instance(const FunctionConfig& config, const InstanceDeps& deps);
  // Turns a broken stream into the function error that explains it, and marks the instance lost.
  void ExplainLostInstance(bool timed_out, InvokeResult* result);
  void Validate(const runtime::v1::Invoke& invoke, runtime::v1::FunctionMessage* reply,
                InvokeResult* result);

  const FunctionConfig& config_;
  InstanceDeps deps_;
  std::string id_;
  std::string scratch_dir_;
  std::shared_ptr<Shared> shared_;
  std::shared_ptr<LogSource> log_;
  bool lost_ = false;
};

// Fills *error as a host-reported function error.
void SetError(runtime::v1::FunctionError* error, const std::string& type,
              const std::string& message);

}  // namespace sluice::invoker
