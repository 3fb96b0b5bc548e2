// The invoke loop: connect to the host, say Ready, then answer Invokes until Shutdown.
// See sdk/protocol.md for the contract this implements.
#include <cxxabi.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <typeinfo>
#include <vector>

#include "host_channel.h"
#include "sluice/function.h"
#include "sluice/runtime/v1/runtime.grpc.pb.h"
#include "utf8.h"

namespace sluice {
namespace {

namespace pb = runtime::v1;

constexpr char kRuntimeName[] = "sluice-cpp/0.1";
// Host messages larger than the 6 MiB payload limit never come, but leave room for framing.
constexpr int kMaxReceiveBytes = 8 << 20;
constexpr size_t kArenaFirstBlockBytes = 512 << 10;

// What the host tells the instance through its environment (sdk/protocol.md, "Environment").
struct RuntimeEnvironment {
  std::string socket;
  std::string instance_id;
  std::string instance_token;
  std::string function_name;
  std::string function_version;
};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool ReadEnvironment(RuntimeEnvironment* env) {
  const std::string version = Env("SLUICE_PROTOCOL_VERSION");
  if (version != std::to_string(pb::PROTOCOL_VERSION_1)) {
    std::fprintf(stderr,
                 "sluice sdk: SLUICE_PROTOCOL_VERSION is \"%s\", but this SDK speaks version %d; "
                 "this binary must be started by a Sluice host that speaks it\n",
                 version.c_str(), static_cast<int>(pb::PROTOCOL_VERSION_1));
    return false;
  }
  env->socket = Env("SLUICE_RUNTIME_SOCKET");
  env->instance_id = Env("SLUICE_INSTANCE_ID");
  env->instance_token = Env("SLUICE_INSTANCE_TOKEN");
  env->function_name = Env("SLUICE_FUNCTION_NAME");
  env->function_version = Env("SLUICE_FUNCTION_VERSION");
  if (env->socket.empty() || env->instance_id.empty() || env->instance_token.empty()) {
    std::fprintf(stderr,
                 "sluice sdk: SLUICE_RUNTIME_SOCKET, SLUICE_INSTANCE_ID and SLUICE_INSTANCE_TOKEN "
                 "must be set by the host\n");
    return false;
  }
  return true;
}

std::string TypeName(const std::exception& e) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(typeid(e).name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(typeid(e).name());
}

class Connection {
 public:
  explicit Connection(const RuntimeEnvironment& env) : env_(env) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(kMaxReceiveBytes);
    args.SetMaxSendMessageSize(-1);  // the host enforces the response limit, and says so
    // One channel, so the host-service calls share the Runtime.Connect stream's connection:
    // the host accepts exactly one connection per instance.
    channel_ =
        grpc::CreateCustomChannel("unix:" + env.socket, grpc::InsecureChannelCredentials(), args);
    stub_ = pb::Runtime::NewStub(channel_);
    stream_ = stub_->Connect(&context_);
    host_ = std::make_unique<internal::HostChannel>(channel_, env.instance_id, env.instance_token);
  }

  internal::HostChannel* host() { return host_.get(); }

  bool Write(const pb::FunctionMessage& message) { return stream_->Write(message); }
  bool Read(pb::HostMessage* message) { return stream_->Read(message); }

  // Ends the stream; returns the host's final status.
  grpc::Status Finish() {
    stream_->WritesDone();
    return stream_->Finish();
  }
  void Cancel() { context_.TryCancel(); }

  void Identify(pb::Ready* ready) const {
    ready->set_protocol_version(pb::PROTOCOL_VERSION_1);
    ready->set_instance_id(env_.instance_id);
    ready->set_instance_token(env_.instance_token);
    ready->set_runtime(kRuntimeName);
  }

 private:
  const RuntimeEnvironment& env_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<internal::HostChannel> host_;
  grpc::ClientContext context_;
  std::unique_ptr<pb::Runtime::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::FunctionMessage, pb::HostMessage>> stream_;
};

using Dispatch = std::function<void(const pb::Invoke&, Context&, pb::InvokeResponse*)>;

void CallHandler(const Dispatch& dispatch, const pb::Invoke& invoke, Context& context,
                 pb::InvokeResponse* response) {
  try {
    dispatch(invoke, context, response);
  } catch (const FunctionError& e) {
    response->clear_outcome();
    response->mutable_error()->set_error_type(internal::ValidUtf8(e.error_type()));
    response->mutable_error()->set_error_message(internal::ValidUtf8(e.what()));
  } catch (const HostServiceError& e) {
    response->clear_outcome();
    response->mutable_error()->set_error_type(internal::ValidUtf8(e.error_type()));
    response->mutable_error()->set_error_message(internal::ValidUtf8(e.what()));
  } catch (const std::exception& e) {
    response->clear_outcome();
    response->mutable_error()->set_error_type(TypeName(e));
    response->mutable_error()->set_error_message(internal::ValidUtf8(e.what()));
  } catch (...) {
    response->clear_outcome();
    response->mutable_error()->set_error_type("Function.UnknownError");
    response->mutable_error()->set_error_message("the handler threw a non-std::exception value");
  }
}

int Serve(const Dispatch& dispatch) {
  RuntimeEnvironment env;
  if (!ReadEnvironment(&env)) {
    return 1;
  }
  // Line-buffer stdout so printf lines reach the host as they are written.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  Connection connection(env);
  pb::FunctionMessage out;
  connection.Identify(out.mutable_ready());
  if (!connection.Write(out)) {
    const grpc::Status status = connection.Finish();
    std::fprintf(stderr, "sluice sdk: could not reach the host at %s: %s\n", env.socket.c_str(),
                 status.error_message().c_str());
    return 1;
  }

  // Each invoke's message is parsed into an arena that is reset between invokes: a batch of
  // 1000 records parses about a third faster than with one heap allocation per string. The
  // arena keeps its first block (sized for a typical batch) across resets.
  google::protobuf::ArenaOptions arena_options;
  std::vector<char> first_block(kArenaFirstBlockBytes);
  arena_options.initial_block = first_block.data();
  arena_options.initial_block_size = first_block.size();
  google::protobuf::Arena arena(arena_options);
  for (;;) {
    arena.Reset();
    pb::HostMessage& in = *google::protobuf::Arena::CreateMessage<pb::HostMessage>(&arena);
    if (!connection.Read(&in)) {
      break;
    }
    if (in.has_shutdown()) {
      connection.Cancel();
      return 0;
    }
    if (!in.has_invoke()) {
      continue;  // a message kind from a newer host that this SDK does not know
    }
    const pb::Invoke& invoke = in.invoke();
    out.Clear();
    pb::InvokeResponse* response = out.mutable_response();
    response->set_request_id(invoke.request_id());
    Context context(invoke, env.function_name, env.function_version, connection.host());
    CallHandler(dispatch, invoke, context, response);
    std::fflush(stdout);
    if (!connection.Write(out)) {
      break;
    }
  }
  const grpc::Status status = connection.Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "sluice sdk: the host ended the runtime stream: %s\n",
                 status.error_message().c_str());
    return 1;
  }
  return 0;
}

const char* EventKindName(const pb::Invoke& invoke) {
  switch (invoke.event_case()) {
    case pb::Invoke::kKinesis: return "a Kinesis stream batch";
    case pb::Invoke::kKinesisWindow: return "a tumbling-window batch";
    case pb::Invoke::kFirehose: return "a Firehose transform batch";
    case pb::Invoke::EVENT_NOT_SET: break;
  }
  return "an event kind this SDK does not know";
}

void WrongKind(const pb::Invoke& invoke, const char* handler_kind) {
  throw FunctionError("Runtime.InvalidEventType",
                      std::string("this function has a ") + handler_kind +
                          " handler but was invoked with " + EventKindName(invoke));
}

}  // namespace

int Run(StreamHandler handler) {
  return Serve(
      [&handler](const pb::Invoke& invoke, Context& context, pb::InvokeResponse* response) {
        if (invoke.event_case() != pb::Invoke::kKinesis &&
            invoke.event_case() != pb::Invoke::kKinesisWindow) {
          WrongKind(invoke, "stream");
        }
        const StreamBatch batch(invoke);
        const StreamResponse result = handler(batch, context);
        google::protobuf::RepeatedPtrField<pb::BatchItemFailure>* failures;
        if (batch.has_window()) {
          pb::KinesisWindowResponse* window = response->mutable_kinesis_window();
          // Lambda fails a window invoke whose response has no state; so does the host. Send what
          // the handler gave and let the host report it.
          if (result.state_json()) {
            window->set_state_json(*result.state_json());
          }
          failures = window->mutable_batch_item_failures();
        } else {
          failures = response->mutable_kinesis()->mutable_batch_item_failures();
        }
        for (const std::string& seq : result.item_failures()) {
          failures->Add()->set_item_identifier(seq);
        }
      });
}

int RunPerRecord(RecordHandler handler) {
  return Run([&handler](const StreamBatch& batch, Context& context) {
    StreamResponse response;
    for (const KinesisRecord& record : batch.records()) {
      context.SetCurrentRecord(record.sequence_number());
      try {
        handler(record, context);
      } catch (const std::exception& e) {
        context.Log("record " + record.sequence_number() + " failed: " + e.what());
        response.AddItemFailure(record.sequence_number());
        break;
      }
    }
    context.SetCurrentRecord("");
    return response;
  });
}

int Run(TransformHandler handler) {
  return Serve(
      [&handler](const pb::Invoke& invoke, Context& context, pb::InvokeResponse* response) {
        if (invoke.event_case() != pb::Invoke::kFirehose) {
          WrongKind(invoke, "transform");
        }
        TransformResponse result = handler(TransformBatch(invoke.firehose()), context);
        response->mutable_firehose()->Swap(&result.proto());
      });
}

int FailInit(const std::string& error_type, const std::string& message) {
  RuntimeEnvironment env;
  if (!ReadEnvironment(&env)) {
    return 1;
  }
  Connection connection(env);
  pb::FunctionMessage out;
  pb::Ready identity;
  connection.Identify(&identity);
  pb::InitError* init_error = out.mutable_init_error();
  init_error->set_protocol_version(identity.protocol_version());
  init_error->set_instance_id(identity.instance_id());
  init_error->set_instance_token(identity.instance_token());
  init_error->mutable_error()->set_error_type(error_type);
  init_error->mutable_error()->set_error_message(message);
  connection.Write(out);
  connection.Finish();
  return 1;
}

}  // namespace sluice
