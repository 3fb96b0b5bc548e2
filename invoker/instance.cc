#include "invoker/instance.h"

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/random.h"
#include "sluice/aws_json.h"

namespace sluice::invoker {

namespace pb = runtime::v1;

struct Instance::Shared {
  std::shared_ptr<RuntimeSession> session;
  std::unique_ptr<sandbox::Process> process;

  void KillNow() {
    process->Kill();
    session->Cancel();
  }
};

namespace {

// How long to wait for a process that broke its stream to finish dying, to learn why it died.
constexpr auto kExitWait = std::chrono::milliseconds(1000);
// How often init checks whether the process already exited while waiting for Ready.
constexpr auto kInitPoll = std::chrono::milliseconds(20);

std::vector<std::string> BuildEnvironment(const FunctionConfig& config, bool fixed_paths,
                                          const std::string& socket, const std::string& id,
                                          const std::string& token, const std::string& scratch) {
  const std::string task_dir = fixed_paths ? sandbox::kTaskDirInside : config.code_dir;
  const std::string scratch_dir = fixed_paths ? sandbox::kScratchDirInside : scratch;
  std::map<std::string, std::string> env = {
      {"SLUICE_PROTOCOL_VERSION", std::to_string(pb::PROTOCOL_VERSION_1)},
      {"SLUICE_RUNTIME_SOCKET", fixed_paths ? sandbox::kRuntimeSocketInside : socket},
      {"SLUICE_INSTANCE_ID", id},
      {"SLUICE_INSTANCE_TOKEN", token},
      {"SLUICE_FUNCTION_NAME", config.name},
      {"SLUICE_FUNCTION_VERSION", config.version},
      {"SLUICE_FUNCTION_MEMORY_MB", std::to_string(config.memory_mb)},
      {"SLUICE_FUNCTION_TIMEOUT_S", std::to_string(config.timeout.count() / 1000)},
      {"AWS_LAMBDA_FUNCTION_NAME", config.name},
      {"AWS_LAMBDA_FUNCTION_VERSION", config.version},
      {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", std::to_string(config.memory_mb)},
      {"LAMBDA_TASK_ROOT", task_dir},
      {"HOME", scratch_dir},
      {"TMPDIR", scratch_dir},
      {"TZ", "UTC"},
      // gRPC's threads each get a malloc arena otherwise, which inflates memory use under the
      // instance's memory limit (sandbox-and-style.md A6).
      {"MALLOC_ARENA_MAX", "2"},
      {"GRPC_VERBOSITY", "ERROR"},
  };
  for (const auto& [k, v] : config.environment) {
    env[k] = v;  // the manifest refuses reserved names, so this only adds or tunes
  }
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [k, v] : env) {
    out.push_back(k + "=" + v);
  }
  return out;
}

std::string SecondsText(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", ms.count() / 1000.0);
  return buf;
}

}  // namespace

void SetError(pb::FunctionError* error, const std::string& type, const std::string& message) {
  error->Clear();
  error->set_error_type(type);
  error->set_error_message(message);
}

Instance::Instance(const FunctionConfig& config, const InstanceDeps& deps)
    : config_(config), deps_(deps), shared_(std::make_shared<Shared>()) {}

bool Instance::Alive() {
  if (!lost_ && shared_->process->Wait(std::chrono::milliseconds(0)).ok()) {
    lost_ = true;
  }
  return !lost_;
}

Status Instance::Start(const FunctionConfig& config, const InstanceDeps& deps,
                       std::unique_ptr<Instance>* out, pb::FunctionError* init_error) {
  out->reset();
  std::unique_ptr<Instance> self(new Instance(config, deps));
  self->id_ = config.name.substr(0, 40) + "-" + RandomHex(8);
  self->scratch_dir_ = deps.scratch_root + "/" + self->id_;
  const std::string token = RandomHex(16);
  self->shared_->session = std::make_shared<RuntimeSession>(self->id_, token);
  Result<std::string> socket = deps.runtime_server->Expect(self->shared_->session);
  if (!socket.ok()) {
    self->lost_ = true;
    return socket.status().WithContext("starting " + config.name);
  }
  Result<std::shared_ptr<LogSource>> log = deps.logs->Open(config.name, self->id_);
  if (!log.ok()) {
    self->lost_ = true;
    return log.status().WithContext("starting " + config.name);
  }
  self->log_ = std::move(log).value();

  sandbox::SandboxSpec spec;
  spec.instance_id = self->id_;
  spec.code_dir = config.code_dir;
  spec.handler = config.handler;
  spec.runtime_socket = *socket;
  spec.scratch_dir = self->scratch_dir_;
  spec.env = BuildEnvironment(config, deps.launcher->FunctionSeesFixedPaths(), spec.runtime_socket,
                              self->id_, token, self->scratch_dir_);
  spec.memory_limit_bytes = uint64_t{config.memory_mb} << 20;
  spec.scratch_limit_bytes = uint64_t{config.ephemeral_storage_mb} << 20;
  spec.max_processes = config.max_processes;
  spec.max_open_files = config.max_open_files;
  spec.stdout_fd = self->log_->stdout_write_fd();
  spec.stderr_fd = self->log_->stderr_write_fd();

  Result<std::unique_ptr<sandbox::Process>> process = deps.launcher->Launch(spec);
  self->log_->CloseWriteEnds();
  if (!process.ok()) {
    self->lost_ = true;
    return process.status().WithContext("launching " + config.name);
  }
  self->shared_->process = std::move(process).value();

  // Init: wait for Ready or InitError, noticing an early exit and the init timeout.
  const Clock::Steady deadline = std::chrono::steady_clock::now() + config.init_timeout;
  pb::FunctionMessage first;
  bool said_something = false;
  while (!said_something) {
    const Clock::Steady now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      SetError(init_error, kRuntimeInitError,
               "init did not finish within " + SecondsText(config.init_timeout) + " seconds");
      break;
    }
    said_something = self->shared_->session->WaitForFirstMessage(
        std::min<Clock::Steady>(now + kInitPoll, deadline), &first);
    if (said_something) {
      break;
    }
    Result<sandbox::ExitInfo> exit = self->shared_->process->Wait(std::chrono::milliseconds(0));
    if (exit.ok()) {
      self->log_->Drain();
      SetError(init_error, exit->oom_killed ? kRuntimeOutOfMemory : kRuntimeExitError,
               "Runtime exited during init: " + exit->Describe());
      break;
    }
  }
  if (said_something && first.has_ready()) {
    *out = std::move(self);
    return Status::Ok();
  }
  if (said_something && first.has_init_error()) {
    const pb::FunctionError& e = first.init_error().error();
    SetError(init_error, kRuntimeInitError, e.error_type() + ": " + e.error_message());
  }
  self->lost_ = true;
  return Status::Ok();  // the destructor ends the process
}

Instance::~Instance() {
  Shared& s = *shared_;
  if (s.process) {
    if (!lost_) {
      // Graceful: ask the instance to exit, end the stream, give it the grace period.
      pb::HostMessage bye;
      bye.mutable_shutdown()->set_deadline_unix_ms(deps_.clock->UnixMillis() +
                                                   config_.shutdown_grace.count());
      bye.mutable_shutdown()->set_reason("host-stopping");
      s.session->Write(bye);
      s.session->Close();
      if (!s.process->Wait(config_.shutdown_grace).ok()) {
        s.process->Kill();
      }
    }
    s.process->Kill();
    (void)s.process->Wait(kExitWait);
  }
  s.session->Close();
  deps_.runtime_server->Forget(id_);
  log_.reset();  // emits the last lines
  std::error_code ignored;
  std::filesystem::remove_all(scratch_dir_, ignored);
}

InvokeResult Instance::Invoke(const pb::HostMessage& message,
                              std::shared_ptr<InvokeServices> services) {
  const pb::Invoke& invoke = message.invoke();
  InvokeResult result;
  result.response.set_request_id(invoke.request_id());
  log_->SetRequest(invoke.request_id());

  const auto start = std::chrono::steady_clock::now();
  const auto deadline =
      start + std::chrono::milliseconds(invoke.deadline_unix_ms() - deps_.clock->UnixMillis());
  std::shared_ptr<Shared> shared = shared_;
  const uint64_t timer_id = deps_.timer->Arm(deadline, [shared] { shared->KillNow(); });

  pb::FunctionMessage reply;
  shared_->session->BeginInvoke(invoke.request_id(), std::move(services));
  bool answered = shared_->session->Write(message);
  // Anything but this request's response (a late duplicate of an earlier answer, a message sent
  // while idle) is ignored, as Lambda's Runtime API refuses a response for an unknown request:
  // it must not be charged to this invoke. The deadline bounds the loop.
  while (answered && (answered = shared_->session->Read(&reply)) &&
         !(reply.has_response() && reply.response().request_id() == invoke.request_id())) {
  }
  const bool in_time = deps_.timer->Cancel(timer_id);
  shared_->session->EndInvoke();
  result.duration = std::chrono::steady_clock::now() - start;
  log_->Drain();  // lines written before the answer belong to this request

  if (!answered || !in_time) {
    ExplainLostInstance(!in_time, &result);
  } else {
    Validate(invoke, &reply, &result);
  }
  log_->SetRequest("");
  return result;
}

void Instance::ExplainLostInstance(bool timed_out, InvokeResult* result) {
  lost_ = true;
  result->instance_lost = true;
  pb::FunctionError* error = result->response.mutable_error();
  if (timed_out) {
    shared_->KillNow();
    SetError(error, kSandboxTimedout,
             "Task timed out after " + SecondsText(config_.timeout) + " seconds");
    return;
  }
  Result<sandbox::ExitInfo> exit = shared_->process->Wait(kExitWait);
  log_->Drain();
  if (!exit.ok()) {
    shared_->KillNow();
    SetError(error, kRuntimeInvalidResponse,
             "the instance broke its runtime stream without answering (garbage on the connection, "
             "or a message over the host's receive limit)");
  } else if (exit->oom_killed) {
    SetError(error, kRuntimeOutOfMemory,
             "Runtime exited with error: out of memory (MemorySize " +
                 std::to_string(config_.memory_mb) + " MB)");
  } else {
    SetError(error, kRuntimeExitError, "Runtime exited with error: " + exit->Describe());
  }
}

void Instance::Validate(const pb::Invoke& invoke, pb::FunctionMessage* reply_message,
                        InvokeResult* result) {
  pb::FunctionError* error = result->response.mutable_error();
  const pb::InvokeResponse& response = reply_message->response();
  const size_t size = response.ByteSizeLong();
  if (size > config_.max_response_bytes) {
    SetError(error, kResponseSizeTooLarge,
             "Response payload size (" + std::to_string(size) +
                 " bytes) exceeded maximum allowed payload size (" +
                 std::to_string(config_.max_response_bytes) + " bytes).");
    return;
  }
  const bool kind_matches = response.has_error() ||
                            (invoke.has_kinesis() && response.has_kinesis()) ||
                            (invoke.has_kinesis_window() && response.has_kinesis_window()) ||
                            (invoke.has_firehose() && response.has_firehose());
  if (!kind_matches) {
    SetError(error, kRuntimeInvalidResponse,
             "the response's payload kind does not match the invoke's event kind");
    return;
  }
  if (response.has_kinesis_window()) {
    const std::string& text = response.kinesis_window().state_json();
    const bool shallow = aws_json::JsonDepthWithin(text, aws_json::kMaxJsonDepth);
    if (!shallow || !nlohmann::json::parse(text, nullptr, false).is_object()) {
      SetError(error, kRuntimeInvalidResponse,
               "a tumbling-window response must carry a state that is a JSON object (nested at "
               "most " +
                   std::to_string(aws_json::kMaxJsonDepth) + " levels)");
      return;
    }
  }
  if (response.has_firehose()) {
    for (const pb::FirehoseRecordResult& r : response.firehose().records()) {
      if (r.result() == pb::FirehoseRecordResult::RESULT_UNSPECIFIED ||
          !pb::FirehoseRecordResult::Result_IsValid(r.result())) {
        SetError(error, kRuntimeInvalidResponse,
                 "record " + r.record_id() + ": result must be Ok, Dropped or ProcessingFailed");
        return;
      }
    }
  }
  result->response.Swap(reply_message->mutable_response());
}

}  // namespace sluice::invoker
