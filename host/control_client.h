// ControlClient: the CLI side of the control API: finds a running host's control socket from
// --data-dir (else $SLUICE_DATA_DIR, else the default, as `sluice serve` does) and connects to it.
// Also what every control verb shares: -h, flag parsing and error reporting.
//
// Exit codes: 0 success; 2 usage errors, bad input, unknown names and no host running; 1 other
// failures (and, for invoke, a function error).
//
// Thread-safety: a ControlClient may be used from several threads (gRPC stubs are thread-safe).
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.h"
#include "host/cli_flags.h"
#include "sluice/control/v1/control.grpc.pb.h"

namespace sluice::host {

// One CLI verb: its name as typed ("kv get") and its usage text.
struct ControlVerb {
  std::string name;
  const char* usage;

  // Prints "sluice NAME: problem", then the usage; returns 2.
  int Usage(const std::string& problem) const;
  // Prints "sluice NAME: message"; returns the exit code for the status (see above).
  int Fail(const Status& status) const;
  // Parses args with --data-dir and the verb's own options, and checks the number of
  // positionals. On -h/--help (usage printed, exit 0) or a usage error (exit 2) returns nullopt
  // with *exit_code set.
  std::optional<CliFlags> Parse(const std::vector<std::string>& args,
                                std::set<std::string> with_value,
                                const std::set<std::string>& switches, size_t min_positionals,
                                size_t max_positionals, int* exit_code) const;
};

class ControlClient {
 public:
  // UNAVAILABLE "no Sluice host is running with data directory X (...)" when no host answers.
  static Result<std::unique_ptr<ControlClient>> Connect(const CliFlags& flags);

  control::v1::Control::Stub& stub() { return *stub_; }
  // The call's status as a Status; UNAVAILABLE says that the host went away.
  Status Check(const grpc::Status& status) const;

 private:
  ControlClient(std::string data_dir, std::shared_ptr<grpc::Channel> channel)
      : data_dir_(std::move(data_dir)),
        channel_(std::move(channel)),
        stub_(control::v1::Control::NewStub(channel_)) {}

  const std::string data_dir_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<control::v1::Control::Stub> stub_;
};

// Connects to the host and runs one unary call (e.g. &Control::Stub::KvGet); prints the error and
// returns its exit code, or 0. `explain` may add to the status of a failed call (not to a failure
// to connect) first.
template <typename Request, typename Response, typename Call, typename Explain = std::identity>
int CallHost(const ControlVerb& verb, const CliFlags& flags, Call call, const Request& request,
             Response* response, Explain explain = {}) {
  Result<std::unique_ptr<ControlClient>> client = ControlClient::Connect(flags);
  if (!client.ok()) {
    return verb.Fail(client.status());
  }
  grpc::ClientContext context;
  Status status = (*client)->Check(((*client)->stub().*call)(&context, request, response));
  return status.ok() ? 0 : verb.Fail(explain(std::move(status)));
}

}  // namespace sluice::host
