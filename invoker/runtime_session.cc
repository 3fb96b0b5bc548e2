#include "invoker/runtime_session.h"

namespace sluice::invoker {

void RuntimeSession::Serve(const runtime::v1::FunctionMessage& first, RuntimeStream* stream,
                           grpc::ServerContext* context) {
  std::unique_lock<std::mutex> lock(mu_);
  if (closed_ || served_) {
    return;
  }
  served_ = true;
  first_ = first;
  stream_ = stream;
  context_ = context;
  cv_.notify_all();
  cv_.wait(lock, [this] { return closed_; });
  stream_ = nullptr;
  context_ = nullptr;
}

bool RuntimeSession::WaitForFirstMessage(Clock::Steady deadline,
                                         runtime::v1::FunctionMessage* first) {
  std::unique_lock<std::mutex> lock(mu_);
  // The deadline is on the steady clock; wait_until converts it.
  cv_.wait_until(lock, deadline, [this] { return served_ || closed_; });
  if (!served_ || closed_) {
    return false;
  }
  *first = first_;
  return true;
}

bool RuntimeSession::Write(const runtime::v1::HostMessage& message) {
  RuntimeStream* stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || stream_ == nullptr) {
      return false;
    }
    stream = stream_;
  }
  // Safe without the lock: the stream outlives this call because only Close() (called by the
  // same Instance that is calling Write, never concurrently) lets Serve() return.
  return stream->Write(message);
}

bool RuntimeSession::Read(runtime::v1::FunctionMessage* message) {
  RuntimeStream* stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || stream_ == nullptr) {
      return false;
    }
    stream = stream_;
  }
  return stream->Read(message);
}

void RuntimeSession::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  if (context_ != nullptr) {
    context_->TryCancel();
  }
}

void RuntimeSession::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

}  // namespace sluice::invoker
