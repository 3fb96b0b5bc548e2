// A real gRPC C++ client (grpc_probe) under every layer, talking to a server in this process
// over the bind-mounted runtime socket; plus the cold-start measurement.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "sandbox/launcher.h"
#include "tests/sandbox/echo.grpc.pb.h"
#include "tests/sandbox/sandbox_test_util.h"

namespace sluice::sandbox {
namespace {

using sluice::sandboxtest::Chunk;
using sluice::sandboxtest::Echo;
using testing::Instance;
using testing::Launcher;
using Clock = std::chrono::steady_clock;

class EchoService final : public Echo::Service {
 public:
  grpc::Status Stream(grpc::ServerContext*,
                      grpc::ServerReaderWriter<Chunk, Chunk>* stream) override {
    Chunk chunk;
    while (stream->Read(&chunk)) {
      MarkFirstMessage();
      if (chunk.seq() == -1) {
        return {grpc::StatusCode::INVALID_ARGUMENT, "seq -1"};
      }
      stream->Write(chunk);
    }
    return grpc::Status::OK;
  }
  grpc::Status Unary(grpc::ServerContext* ctx, const Chunk* in, Chunk* out) override {
    MarkFirstMessage();
    if (in->seq() == -2) {
      while (!ctx->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    *out = *in;
    return grpc::Status::OK;
  }

  // The time of the first message since the last Reset().
  Clock::time_point first_message() const { return Clock::time_point(first_.load()); }
  void Reset() { first_ = Clock::duration::zero(); }

 private:
  void MarkFirstMessage() {
    Clock::duration zero = Clock::duration::zero();
    first_.compare_exchange_strong(zero, Clock::now().time_since_epoch());
  }
  std::atomic<Clock::duration> first_{Clock::duration::zero()};
};

// The runtime socket: a gRPC server on unix:<dir>/grpc.sock, connectable by the function's uid.
struct EchoServer {
  explicit EchoServer(const std::string& path) : path(path) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
    REQUIRE(server != nullptr);
    chmod(path.c_str(), 0666);
  }
  ~EchoServer() { server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }

  std::string path;
  EchoService service;
  std::unique_ptr<grpc::Server> server;
};

SandboxSpec GrpcSpec(const Instance& instance, const EchoServer& server, int threads, int rpcs) {
  SandboxSpec spec = instance.Spec();
  spec.runtime_socket = server.path;
  spec.memory_limit_bytes = 128 << 20;
  spec.max_processes = 256;
  spec.max_open_files = 1024;
  const std::string socket =
      Launcher().FunctionSeesFixedPaths() ? kRuntimeSocketInside : server.path;
  spec.env = {"SLUICE_RUNTIME_SOCKET=" + socket, "PROBE_THREADS=" + std::to_string(threads),
              "PROBE_RPCS=" + std::to_string(rpcs)};
  return spec;
}

TEST_CASE("a gRPC client completes many RPCs under every layer", "[sandbox][grpc]") {
  Instance instance(GRPC_PROBE_PATH);
  EchoServer server(instance.dir() + "/grpc.sock");
  SandboxSpec spec = GrpcSpec(instance, server, 8, 250);
  int out[2];
  REQUIRE(pipe2(out, O_CLOEXEC) == 0);
  spec.stdout_fd = out[1];
  spec.stderr_fd = out[1];
  auto process = Launcher().Launch(spec);
  close(out[1]);
  REQUIRE(process.ok());
  auto exit = (*process)->Wait(std::chrono::seconds(30));
  if (!exit.ok()) {
    (*process)->Kill();
  }
  const std::string output = testing::ReadAll(out[0]);
  close(out[0]);
  REQUIRE(exit.ok());
  INFO(exit->Describe() << "; output: " << output);
  CHECK(exit->exited);
  CHECK(exit->exit_code == 0);
  CHECK(output == "ok rpcs=2000\n");
}

}  // namespace
}  // namespace sluice::sandbox
