// InvokeHarness: a real invoker (sandbox launcher, runtime server, log capture, deadline timer,
// function pool) around one function binary, for integration tests. Every process it starts
// belongs to its pool and is ended when the harness is destroyed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "invoker/function_pool.h"
#include "sandbox/launcher.h"

namespace sluice::testing {

class InvokeHarness {
 public:
  // Stages `binary` as the function's handler. `adjust` may change the config (Timeout, ...);
  // `turned_off_layers` leaves those sandbox layers off (SandboxOptions::turned_off_layers).
  explicit InvokeHarness(const std::string& binary,
                         const std::function<void(invoker::FunctionConfig*)>& adjust = nullptr,
                         const std::set<std::string>& turned_off_layers = {});
  ~InvokeHarness();

  // Invokes with a one-record Kinesis batch whose data is `command`.
  Result<invoker::InvokeResult> InvokeCommand(const std::string& command);
  // Invokes with a tumbling-window batch whose first record's data is `command`.
  Result<invoker::InvokeResult> InvokeWindowCommand(const std::string& command);

  // Invokes `command`, REQUIREs a successful invoke (no function error), and returns its RESULT.
  std::string Observe(const std::string& command);
  // Invokes `command`, REQUIREs a function error, and returns its type and message.
  std::pair<std::string, std::string> ErrorOf(const std::string& command);

  // The text after "RESULT " in the log line the misbehave function wrote for `request_id`,
  // or "" when there is none.
  std::string ResultOf(const std::string& request_id) const;
  // The log lines captured for `request_id` (the first 1000).
  std::vector<std::string> LogsOf(const std::string& request_id) const;
  // The request ids that logged, in the order of their first line.
  std::vector<std::string> RequestIds() const;

  invoker::FunctionPool& pool() { return *pool_; }
  sandbox::SandboxLauncher& launcher() { return *launcher_; }
  const std::string& work_dir() const { return work_dir_; }
  // Whether a sandbox layer is on (e.g. "pid-namespace").
  bool LayerOn(const std::string& name) const;

 private:
  std::string work_dir_;
  std::unique_ptr<sandbox::SandboxLauncher> launcher_;
  std::unique_ptr<invoker::RuntimeServer> server_;
  std::unique_ptr<invoker::LogCapture> logs_;
  std::unique_ptr<invoker::DeadlineTimer> timer_;
  std::unique_ptr<invoker::FunctionPool> pool_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> lines_;
  std::vector<std::string> request_order_;
};

}  // namespace sluice::testing
