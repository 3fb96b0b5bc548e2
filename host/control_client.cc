#include "host/control_client.h"

#include <sys/stat.h>

#include <chrono>
#include <iostream>

#include "host/control_server.h"
#include "host/data_dir.h"

namespace sluice::host {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(5);

Status NoHost(const std::string& data_dir, const std::string& socket_path) {
  return Unavailable("no Sluice host is running with data directory " + data_dir +
                     " (no control socket at " + socket_path + "); start one with `sluice serve`");
}

}  // namespace

int ControlVerb::Usage(const std::string& problem) const {
  std::cerr << "sluice " << name << ": " << problem << "\n\n" << usage;
  return 2;
}

int ControlVerb::Fail(const Status& status) const {
  std::cerr << "sluice " << name << ": " << status.message() << std::endl;
  switch (status.code()) {
    case Code::kInvalidArgument:
    case Code::kNotFound:
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
    case Code::kUnavailable:
    case Code::kOutOfRange: return 2;
    default: return 1;
  }
}

std::optional<CliFlags> ControlVerb::Parse(const std::vector<std::string>& args,
                                           std::set<std::string> with_value,
                                           const std::set<std::string>& switches,
                                           size_t min_positionals, size_t max_positionals,
                                           int* exit_code) const {
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      std::cout << usage;
      *exit_code = 0;
      return std::nullopt;
    }
  }
  with_value.insert("--data-dir");
  Result<CliFlags> flags = CliFlags::Parse(args, with_value, switches);
  if (!flags.ok()) {
    *exit_code = Usage(flags.status().message());
    return std::nullopt;
  }
  const size_t n = flags->positionals().size();
  if (n < min_positionals) {
    *exit_code = Usage("missing arguments");
    return std::nullopt;
  }
  if (n > max_positionals) {
    *exit_code = Usage("unexpected argument '" + flags->positionals()[max_positionals] + "'");
    return std::nullopt;
  }
  return std::move(*flags);
}

Result<std::unique_ptr<ControlClient>> ControlClient::Connect(const CliFlags& flags) {
  const std::string data_dir = flags.Get("--data-dir").value_or(DefaultDataDir());
  Result<std::string> socket_path = ControlSocketPath(data_dir);
  if (!socket_path.ok()) {
    return socket_path.status();
  }
  struct stat st {};
  if (::stat(socket_path->c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return NoHost(data_dir, *socket_path);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel("unix:" + *socket_path, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
    return NoHost(data_dir, *socket_path);
  }
  return std::unique_ptr<ControlClient>(new ControlClient(data_dir, std::move(channel)));
}

Status ControlClient::Check(const grpc::Status& status) const {
  if (status.ok()) {
    return Status::Ok();
  }
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    return Unavailable("the Sluice host with data directory " + data_dir_ +
                       " went away: " + status.error_message());
  }
  return Status(static_cast<Code>(status.error_code()), status.error_message());
}

}  // namespace sluice::host
