// A gRPC C++ client run inside the sandbox: exercises start-up, steady load on several threads
// (bidi streams and unary calls), the error paths (server error, deadline exceeded) and shutdown
// over the runtime socket, then prints "ok rpcs=N" and exits 0. Any failure prints "fail ..."
// and exits 1. Configuration: SLUICE_RUNTIME_SOCKET (the socket path it sees), PROBE_THREADS,
// PROBE_RPCS (per thread).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/sandbox/echo.grpc.pb.h"

namespace {

using sluice::sandboxtest::Chunk;
using sluice::sandboxtest::Echo;

int EnvInt(const char* name, int fallback) {
  const char* value = getenv(name);
  return value == nullptr ? fallback : atoi(value);
}

std::chrono::system_clock::time_point Deadline(int ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

}  // namespace

int main() {
  const char* socket = getenv("SLUICE_RUNTIME_SOCKET");
  if (socket == nullptr) {
    std::cout << "fail no SLUICE_RUNTIME_SOCKET" << std::endl;
    return 1;
  }
  const int threads = EnvInt("PROBE_THREADS", 4);
  const int rpcs = EnvInt("PROBE_RPCS", 100);
  auto channel =
      grpc::CreateChannel(std::string("unix:") + socket, grpc::InsecureChannelCredentials());
  auto stub = Echo::NewStub(channel);
  std::atomic<int> done{0}, failed{0};

  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      grpc::ClientContext ctx;
      ctx.set_deadline(Deadline(20000));
      auto stream = stub->Stream(&ctx);
      Chunk out, in;
      out.set_data(std::string(1024, static_cast<char>('a' + t)));
      for (int i = 0; i < rpcs; ++i) {
        out.set_seq(i);
        if (!stream->Write(out) || !stream->Read(&in) || in.seq() != i) {
          ++failed;
          return;
        }
        ++done;
        if (i % 10 == 0) {  // interleave unary calls on the same channel
          grpc::ClientContext unary_ctx;
          unary_ctx.set_deadline(Deadline(5000));
          Chunk reply;
          if (!stub->Unary(&unary_ctx, out, &reply).ok()) {
            ++failed;
          }
        }
      }
      stream->WritesDone();
      if (!stream->Finish().ok()) {
        ++failed;
      }
    });
  }
  for (auto& w : workers) {
    w.join();
  }

  // Error paths: a server-side error status and a client deadline.
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(5000));
    auto stream = stub->Stream(&ctx);
    Chunk bad, in;
    bad.set_seq(-1);
    stream->Write(bad);
    stream->Read(&in);
    if (stream->Finish().error_code() != grpc::StatusCode::INVALID_ARGUMENT) {
      ++failed;
    }
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(Deadline(50));
    Chunk slow, reply;
    slow.set_seq(-2);
    if (stub->Unary(&ctx, slow, &reply).error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      ++failed;
    }
  }
  if (failed > 0) {
    std::cout << "fail rpcs=" << done << " failed=" << failed << std::endl;
    return 1;
  }
  std::cout << "ok rpcs=" << done << std::endl;
  return 0;
}
