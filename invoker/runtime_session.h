// RuntimeSession: the meeting point between a function instance's Runtime.Connect stream (served
// on a gRPC thread) and the Instance that owns that process (driven by invoking threads).
//
// The gRPC thread calls Serve() with the instance's first message; Serve publishes the stream and
// blocks until Close(), because a sync gRPC stream lives exactly as long as its handler call. The
// instance side waits for the first message, then Write()s invokes and Read()s responses on the
// published stream directly (no thread hop on the hot path).
//
// Thread-safety: all methods may be called from any thread. At most one Read() and one Write()
// may be in flight at a time (gRPC's rule for a sync stream); Instance guarantees it.
// Ownership: shared by the RuntimeServer's registry and the Instance (std::shared_ptr), so
// either may go first.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "invoker/invoke_services.h"
#include "sluice/runtime/v1/runtime.grpc.pb.h"

namespace sluice::invoker {

using RuntimeStream =
    grpc::ServerReaderWriter<runtime::v1::HostMessage, runtime::v1::FunctionMessage>;

class RuntimeSession {
 public:
  RuntimeSession(std::string instance_id, std::string token)
      : instance_id_(std::move(instance_id)), token_(std::move(token)) {}

  const std::string& instance_id() const { return instance_id_; }
  const std::string& token() const { return token_; }

  // gRPC side. Publishes `stream` and the instance's first message, then blocks until Close().
  // Returns at once if the session is already closed, or was already served once.
  void Serve(const runtime::v1::FunctionMessage& first, RuntimeStream* stream,
             grpc::ServerContext* context);

  // Instance side. Waits until the first message arrived (true, copied to *first), the session
  // is closed, or `deadline` passes (false).
  bool WaitForFirstMessage(Clock::Steady deadline, runtime::v1::FunctionMessage* first);

  // REQUIRES: WaitForFirstMessage returned true. False once the stream is broken or closed.
  bool Write(const runtime::v1::HostMessage& message);
  bool Read(runtime::v1::FunctionMessage* message);

  // Breaks a Read()/Write() in flight (used when a deadline passes). Safe at any time.
  void Cancel();

  // Ends the session: Serve() returns and the RPC completes. Idempotent.
  void Close();

  // Instance side: from now until EndInvoke(), host-service calls naming `request_id` go to
  // `services` (which may be null: the invoke offers no host services).
  void BeginInvoke(const std::string& request_id, std::shared_ptr<InvokeServices> services);
  void EndInvoke();
  // Host-service side: the services of the invoke in flight if it is `request_id`, else null.
  std::shared_ptr<InvokeServices> ServicesFor(const std::string& request_id);
  // Whether `request_id` is the invoke in flight (with or without services).
  bool InFlight(const std::string& request_id);

 private:
  // The published stream, or null once closed (or before Serve()).
  RuntimeStream* OpenStream();

  const std::string instance_id_;
  const std::string token_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool served_ = false;
  bool closed_ = false;
  runtime::v1::FunctionMessage first_;
  RuntimeStream* stream_ = nullptr;
  grpc::ServerContext* context_ = nullptr;
  std::string invoke_request_id_;  // "" between invokes
  std::shared_ptr<InvokeServices> invoke_services_;
};

}  // namespace sluice::invoker
