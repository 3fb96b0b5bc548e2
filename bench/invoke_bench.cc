// Invoke-path benchmark. Prints one JSON line per figure:
//   {"bench": "invoke", "metric": ..., "value": ..., "unit": ...}
// Figures: cold start (spawn to first completed invoke) with every available sandbox layer on;
// warm round trip for batches of 1, 100 and 1000 records of 100 bytes; records per second through
// a pass-through function at batch 1000. Baselines, measured in the same run: the same cold
// start through an unsandboxed fork+exec launcher (what the sandbox costs), and a bare gRPC
// bidirectional-stream echo over a Unix socket in this process, with the same messages (gRPC's
// floor on this machine).
//
// usage: invoke_bench PASSTHROUGH_BINARY [--quick]
#include <grpcpp/grpcpp.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "invoker/function_pool.h"
#include "sandbox/launcher.h"
#include "sluice/runtime/v1/runtime.grpc.pb.h"

namespace {

namespace fs = std::filesystem;
namespace pb = sluice::runtime::v1;
using Clock = std::chrono::steady_clock;
using sluice::invoker::FunctionPool;

void Emit(const std::string& metric, double value, const std::string& unit) {
  std::printf("{\"bench\": \"invoke\", \"metric\": \"%s\", \"value\": %.3f, \"unit\": \"%s\"}\n",
              metric.c_str(), value, unit.c_str());
  std::fflush(stdout);
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

pb::Invoke Batch(int records) {
  pb::Invoke invoke;
  pb::KinesisBatch* b = invoke.mutable_kinesis();
  b->set_shard_id("shardId-000000000000");
  b->set_event_source_arn("arn:aws:kinesis:local:000000000000:stream/bench");
  for (int i = 0; i < records; ++i) {
    pb::KinesisRecord* r = b->add_records();
    r->set_data(std::string(100, 'x'));
    r->set_partition_key("pk-" + std::to_string(i % 64));
    r->set_sequence_number("4959033827149025660855969253836157109592157598913658" +
                           std::to_string(1000 + i));
    r->set_approximate_arrival_timestamp_ms(1700000000000 + i);
  }
  return invoke;
}

// Baseline launcher: plain fork+exec, no confinement at all. Only for measuring what the
// sandbox adds to a cold start; the host never runs functions this way.
class UnsandboxedProcess : public sluice::sandbox::Process {
 public:
  explicit UnsandboxedProcess(pid_t pid) : pid_(pid), pidfd_(syscall(SYS_pidfd_open, pid, 0)) {}
  ~UnsandboxedProcess() override {
    Kill();
    (void)Wait(std::chrono::seconds(5));
    ::close(pidfd_);
  }
  pid_t pid() const override { return pid_; }
  void Kill() override {
    if (!exit_) {
      ::kill(pid_, SIGKILL);
    }
  }
  sluice::Result<sluice::sandbox::ExitInfo> Wait(std::chrono::milliseconds timeout) override {
    if (!exit_) {
      pollfd pfd = {pidfd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) {
        return sluice::DeadlineExceeded("still running");
      }
      int status = 0;
      ::waitpid(pid_, &status, 0);
      exit_.emplace();
      exit_->exited = WIFEXITED(status);
      exit_->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
      exit_->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return *exit_;
  }

 private:
  const pid_t pid_;
  const int pidfd_;
  std::optional<sluice::sandbox::ExitInfo> exit_;
};

class UnsandboxedLauncher : public sluice::sandbox::ProcessLauncher {
 public:
  sluice::Result<std::unique_ptr<sluice::sandbox::Process>> Launch(
      const sluice::sandbox::SandboxSpec& spec) override {
    const std::string path = spec.code_dir + "/" + spec.handler;
    std::vector<char*> envp;
    for (const std::string& e : spec.env) {
      envp.push_back(const_cast<char*>(e.c_str()));
    }
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(spec.stderr_fd, 2);
      ::execve(path.c_str(), argv, envp.data());
      ::_exit(127);
    }
    return std::unique_ptr<sluice::sandbox::Process>(new UnsandboxedProcess(pid));
  }
  bool FunctionSeesFixedPaths() const override { return false; }
};

// The invoker stack around one function binary.
class Stack {
 public:
  Stack(const std::string& binary, sluice::sandbox::ProcessLauncher* launcher) {
    char tmpl[] = "/tmp/sluice-bench-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    fs::permissions(dir_, fs::perms(0711));
    fs::create_directories(dir_ + "/code");
    fs::permissions(dir_ + "/code", fs::perms(0755));
    fs::create_directories(dir_ + "/scratch");
    fs::copy_file(binary, dir_ + "/code/handler");
    server_ = std::move(sluice::invoker::RuntimeServer::Start(dir_ + "/runtime",
                                                              !launcher->FunctionSeesFixedPaths()))
                  .value();
    logs_ = std::make_unique<sluice::invoker::LogCapture>([](const sluice::invoker::LogLine&) {});
    config_.name = "passthrough";
    config_.code_dir = dir_ + "/code";
    config_.handler = "handler";
    deps_.launcher = launcher;
    deps_.runtime_server = server_.get();
    deps_.logs = logs_.get();
    deps_.timer = &timer_;
    deps_.scratch_root = dir_ + "/scratch";
  }
  ~Stack() { fs::remove_all(dir_); }

  std::unique_ptr<FunctionPool> NewPool() { return std::make_unique<FunctionPool>(config_, deps_); }

 private:
  std::string dir_;
  std::unique_ptr<sluice::invoker::RuntimeServer> server_;
  std::unique_ptr<sluice::invoker::LogCapture> logs_;
  sluice::invoker::DeadlineTimer timer_;
  sluice::invoker::FunctionConfig config_;
  sluice::invoker::InstanceDeps deps_;
};

// Cold start: a new pool each time, so each invoke launches, initialises and invokes.
void BenchColdStart(Stack& stack, int iterations, const std::string& prefix) {
  std::vector<double> ms;
  for (int i = 0; i < iterations; ++i) {
    auto pool = stack.NewPool();
    const auto start = Clock::now();
    auto r = pool->Invoke(Batch(1));
    const auto end = Clock::now();
    if (!r.ok() || r->is_function_error()) {
      std::cerr << "cold start invoke failed" << std::endl;
      std::exit(1);
    }
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  Emit(prefix + "cold_start_p50", Percentile(ms, 0.5), "ms");
  Emit(prefix + "cold_start_p99", Percentile(ms, 0.99), "ms");
}

void BenchWarm(FunctionPool& pool, int records, int iterations) {
  const pb::Invoke batch = Batch(records);
  for (int i = 0; i < 50; ++i) {
    (void)pool.Invoke(batch);  // warm up
  }
  std::vector<double> us;
  us.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    pb::Invoke copy = batch;  // the copy is outside the timed section
    const auto start = Clock::now();
    auto r = pool.Invoke(std::move(copy));
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    if (!r.ok() || r->is_function_error()) {
      std::cerr << "warm invoke failed" << std::endl;
      std::exit(1);
    }
  }
  Emit("warm_rtt_p50_batch" + std::to_string(records), Percentile(us, 0.5), "us");
  Emit("warm_rtt_p99_batch" + std::to_string(records), Percentile(us, 0.99), "us");
}

void BenchThroughput(FunctionPool& pool, double seconds) {
  const pb::Invoke batch = Batch(1000);
  std::vector<pb::Invoke> copies(64, batch);
  size_t records = 0;
  double busy = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    for (auto& c : copies) {
      c = batch;
    }
    const auto start = Clock::now();
    for (auto& c : copies) {
      auto r = pool.Invoke(std::move(c));
      if (!r.ok() || r->is_function_error()) {
        std::exit(1);
      }
      records += 1000;
    }
    busy += std::chrono::duration<double>(Clock::now() - start).count();
  }
  Emit("passthrough_records_per_s_batch1000", records / busy, "records/s");
}

// Baseline: the same messages through a bare gRPC bidi stream over a Unix socket, echoing an
// empty response, with no invoker, no sandbox and no separate process.
class EchoService final : public pb::Runtime::Service {
  grpc::Status Connect(
      grpc::ServerContext*,
      grpc::ServerReaderWriter<pb::HostMessage, pb::FunctionMessage>* stream) override {
    pb::FunctionMessage in;
    pb::HostMessage out;
    while (stream->Read(&in)) {
      out.mutable_invoke()->set_request_id(in.response().request_id());
      if (!stream->Write(out)) {
        break;
      }
    }
    return grpc::Status::OK;
  }
};

void BenchBaseline(int iterations) {
  const std::string path = "/tmp/sluice-bench-baseline-" + std::to_string(::getpid()) + ".sock";
  EchoService service;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  builder.SetMaxReceiveMessageSize(64 << 20);
  auto server = builder.BuildAndStart();
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = pb::Runtime::NewStub(
      grpc::CreateCustomChannel("unix:" + path, grpc::InsecureChannelCredentials(), args));
  for (int records : {1, 100, 1000}) {
    // The client sends what the host sends (a batch), the server answers small, as a function.
    pb::FunctionMessage msg;
    pb::Invoke batch = Batch(records);
    msg.mutable_response()->set_request_id("r");
    // Carry the batch's bytes (a bytes field) so the payload size matches the host's invoke.
    msg.mutable_response()->mutable_firehose()->add_records()->set_data(batch.SerializeAsString());
    grpc::ClientContext ctx;
    auto stream = stub->Connect(&ctx);
    pb::HostMessage reply;
    std::vector<double> us;
    for (int i = 0; i < iterations + 50; ++i) {
      const auto start = Clock::now();
      stream->Write(msg);
      stream->Read(&reply);
      if (i >= 50) {
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
      }
    }
    stream->WritesDone();
    (void)stream->Finish();
    Emit("baseline_grpc_stream_rtt_p50_batch" + std::to_string(records), Percentile(us, 0.5), "us");
  }
  server->Shutdown();
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: invoke_bench PASSTHROUGH_BINARY [--quick]" << std::endl;
    return 2;
  }
  const bool quick = argc > 2 && std::string(argv[2]) == "--quick";
  auto launcher = sluice::sandbox::SandboxLauncher::Create({});
  if (!launcher.ok()) {
    std::cerr << launcher.status().ToString() << std::endl;
    return 1;
  }
  int on = 0;
  std::string off;
  for (const auto& layer : (*launcher)->layers()) {
    on += layer.on;
    if (!layer.on) {
      off += " " + layer.name + " (" + layer.detail + ")";
    }
  }
  std::cerr << "sandbox layers on: " << on << " of " << (*launcher)->layers().size()
            << (off.empty() ? "" : "; off:" + off) << std::endl;

  Stack stack(argv[1], launcher->get());
  BenchColdStart(stack, quick ? 5 : 50, "");
  {
    UnsandboxedLauncher unsandboxed;
    Stack plain(argv[1], &unsandboxed);
    BenchColdStart(plain, quick ? 5 : 50, "baseline_unsandboxed_");
  }
  auto pool = stack.NewPool();
  const int iterations = quick ? 200 : 3000;
  BenchWarm(*pool, 1, iterations);
  BenchWarm(*pool, 100, iterations);
  BenchWarm(*pool, 1000, quick ? 100 : 1000);
  BenchThroughput(*pool, quick ? 0.5 : 3.0);
  BenchBaseline(iterations);
  return 0;
}
