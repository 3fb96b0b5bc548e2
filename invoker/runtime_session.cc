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

RuntimeStream* RuntimeSession::OpenStream() {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_ ? nullptr : stream_;
}

// Write and Read use the stream without the lock: it outlives the call because only Close()
// lets Serve() return, and the Instance calling them never calls Close() concurrently.
bool RuntimeSession::Write(const runtime::v1::HostMessage& message) {
  RuntimeStream* stream = OpenStream();
  return stream != nullptr && stream->Write(message);
}

bool RuntimeSession::Read(runtime::v1::FunctionMessage* message) {
  RuntimeStream* stream = OpenStream();
  return stream != nullptr && stream->Read(message);
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

void RuntimeSession::BeginInvoke(const std::string& request_id,
                                 std::shared_ptr<InvokeServices> services) {
  std::lock_guard<std::mutex> lock(mu_);
  invoke_request_id_ = request_id;
  invoke_services_ = std::move(services);
}

void RuntimeSession::EndInvoke() {
  std::lock_guard<std::mutex> lock(mu_);
  invoke_request_id_.clear();
  invoke_services_.reset();
}

std::shared_ptr<InvokeServices> RuntimeSession::ServicesFor(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_ || request_id.empty() || request_id != invoke_request_id_) {
    return nullptr;
  }
  return invoke_services_;
}

bool RuntimeSession::InFlight(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return !closed_ && !request_id.empty() && request_id == invoke_request_id_;
}

}  // namespace sluice::invoker
