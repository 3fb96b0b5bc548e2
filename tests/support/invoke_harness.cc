#include "tests/support/invoke_harness.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

namespace sluice::testing {

namespace fs = std::filesystem;
namespace pb = runtime::v1;

constexpr size_t kMaxLinesPerRequest = 1000;

InvokeHarness::InvokeHarness(const std::string& binary,
                             const std::function<void(invoker::FunctionConfig*)>& adjust,
                             const std::set<std::string>& turned_off_layers) {
  char tmpl[] = "/tmp/sluice-test-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  work_dir_ = tmpl;
  fs::permissions(work_dir_, fs::perms(0711));
  fs::create_directories(work_dir_ + "/code");
  fs::permissions(work_dir_ + "/code", fs::perms(0755));
  fs::create_directories(work_dir_ + "/scratch");
  fs::copy_file(binary, work_dir_ + "/code/handler");
  fs::permissions(work_dir_ + "/code/handler", fs::perms(0755));

  sandbox::SandboxOptions options;
  options.turned_off_layers = turned_off_layers;
  auto launcher = sandbox::SandboxLauncher::Create(options);
  REQUIRE(launcher.ok());
  launcher_ = std::move(launcher).value();

  auto server =
      invoker::RuntimeServer::Start(work_dir_ + "/runtime", !launcher_->FunctionSeesFixedPaths());
  REQUIRE(server.ok());
  server_ = std::move(server).value();
  logs_ = std::make_unique<invoker::LogCapture>([this](const invoker::LogLine& line) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, first] = lines_.try_emplace(line.request_id);
    if (first && !line.request_id.empty()) {
      request_order_.push_back(line.request_id);
    }
    std::vector<std::string>& lines = it->second;
    if (lines.size() < kMaxLinesPerRequest) {  // a flooding function must not fill the memory
      lines.push_back(line.text);
    }
  });
  timer_ = std::make_unique<invoker::DeadlineTimer>();

  invoker::FunctionConfig config;
  config.name = "misbehave";
  config.arn = "arn:aws:lambda:local:000000000000:function:misbehave";
  config.code_dir = work_dir_ + "/code";
  config.handler = "handler";
  if (adjust) {
    adjust(&config);
  }
  invoker::InstanceDeps deps;
  deps.launcher = launcher_.get();
  deps.runtime_server = server_.get();
  deps.logs = logs_.get();
  deps.timer = timer_.get();
  deps.scratch_root = work_dir_ + "/scratch";
  pool_ = std::make_unique<invoker::FunctionPool>(config, deps);
}

InvokeHarness::~InvokeHarness() {
  pool_.reset();  // ends every instance (and its process tree) before anything else goes
  timer_.reset();
  logs_.reset();
  server_.reset();
  std::error_code ec;
  fs::remove_all(work_dir_, ec);
}

namespace {

void FillBatch(const std::string& command, pb::KinesisBatch* batch) {
  batch->set_shard_id("shardId-000000000000");
  batch->set_event_source_arn("arn:aws:kinesis:local:000000000000:stream/test");
  pb::KinesisRecord* record = batch->add_records();
  record->set_data(command);
  record->set_partition_key("pk");
  record->set_sequence_number("49590338271490256608559692538361571095921575989136588898");
  record->set_approximate_arrival_timestamp_ms(1545084650987);
}

}  // namespace

Result<invoker::InvokeResult> InvokeHarness::InvokeCommand(const std::string& command) {
  pb::Invoke invoke;
  FillBatch(command, invoke.mutable_kinesis());
  return pool_->Invoke(std::move(invoke));
}

Result<invoker::InvokeResult> InvokeHarness::InvokeWindowCommand(const std::string& command) {
  pb::Invoke invoke;
  FillBatch(command, invoke.mutable_kinesis_window()->mutable_batch());
  invoke.mutable_kinesis_window()->set_state_json("{}");
  return pool_->Invoke(std::move(invoke));
}

std::string InvokeHarness::Observe(const std::string& command) {
  auto r = InvokeCommand(command);
  REQUIRE(r.ok());
  INFO(command << " -> " << r->response.DebugString());
  REQUIRE_FALSE(r->is_function_error());
  return ResultOf(r->response.request_id());
}

std::pair<std::string, std::string> InvokeHarness::ErrorOf(const std::string& command) {
  auto r = InvokeCommand(command);
  REQUIRE(r.ok());
  INFO(command << " -> " << r->response.DebugString());
  REQUIRE(r->is_function_error());
  return {r->response.error().error_type(), r->response.error().error_message()};
}

std::vector<std::string> InvokeHarness::LogsOf(const std::string& request_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = lines_.find(request_id);
  return it == lines_.end() ? std::vector<std::string>{} : it->second;
}

std::vector<std::string> InvokeHarness::RequestIds() const {
  std::lock_guard<std::mutex> lock(mu_);
  return request_order_;
}

std::string InvokeHarness::ResultOf(const std::string& request_id) const {
  const std::string marker = "\tINFO\tRESULT ";
  for (const std::string& line : LogsOf(request_id)) {
    const size_t at = line.find(marker);
    if (at != std::string::npos) {
      return line.substr(at + marker.size());
    }
  }
  return "";
}

bool InvokeHarness::LayerOn(const std::string& name) const {
  for (const sandbox::Layer& layer : launcher_->layers()) {
    if (layer.name == name) {
      return layer.on;
    }
  }
  return false;
}

}  // namespace sluice::testing
