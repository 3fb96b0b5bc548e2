#include "host/serve.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <iostream>

#include "base/log.h"
#include "host/cli_flags.h"
#include "host/data_dir.h"
#include "host/host.h"
#include "stream/kinesis_api.h"

namespace sluice::host {
namespace {

constexpr char kUsage[] =
    "usage: sluice serve [--listen HOST:PORT] [--data-dir DIR] [--durability os|fsync]\n"
    "                    [--http-threads N]\n"
    "  Runs the Sluice host: the Kinesis Data Streams API and the Firehose API (default on\n"
    "  127.0.0.1:4566) over Sluice's embedded durable streams and delivery streams, the deployed\n"
    "  functions, the event source mappings, and the control API that the\n"
    "  other verbs use (DIR/control.sock). DIR defaults to $SLUICE_DATA_DIR, else\n"
    "  ~/.local/share/sluice (/var/lib/sluice for root). --durability os acknowledges writes\n"
    "  once they reach the OS (survives a crash of sluice); fsync acknowledges only after\n"
    "  fdatasync (survives a power cut).\n";

// The settings of `sluice serve`, with their defaults, validated once.
Result<HostOptions> OptionsFromFlags(const CliFlags& flags) {
  HostOptions options;
  if (!flags.positionals().empty()) {
    return InvalidArgument("unexpected argument '" + flags.positionals()[0] + "'");
  }
  const std::string listen = flags.Get("--listen").value_or("127.0.0.1:4566");
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return InvalidArgument("--listen: expected HOST:PORT, got '" + listen + "'");
  }
  options.http.address = listen.substr(0, colon);
  in_addr parsed{};
  if (inet_pton(AF_INET, options.http.address.c_str(), &parsed) != 1) {
    return InvalidArgument("--listen: '" + options.http.address +
                           "' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)");
  }
  const std::string port_text = listen.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return InvalidArgument("--listen: the port must be 0-65535, got '" + port_text + "'");
  }
  options.http.port = static_cast<uint16_t>(port);
  Result<int64_t> threads = flags.Integer("--http-threads", 4, 1, 256);
  if (!threads.ok()) {
    return threads.status();
  }
  options.http.threads = static_cast<unsigned>(*threads);
  options.http.max_body_bytes = stream::KinesisApi::kMaxBodyBytes;
  options.data_dir = flags.Get("--data-dir").value_or(DefaultDataDir());
  const std::string durability = flags.Get("--durability").value_or("os");
  if (durability == "os") {
    options.durability = stream::Durability::kOs;
  } else if (durability == "fsync") {
    options.durability = stream::Durability::kFsync;
  } else {
    return InvalidArgument("--durability: must be os or fsync, got '" + durability + "'");
  }
  return options;
}

}  // namespace

int ServeMain(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "-h" || args[0] == "--help")) {
    std::cout << kUsage;
    return 0;
  }
  Result<CliFlags> flags =
      CliFlags::Parse(args, {"--listen", "--data-dir", "--durability", "--http-threads"});
  Result<HostOptions> options =
      flags.ok() ? OptionsFromFlags(*flags) : Result<HostOptions>(flags.status());
  if (!options.ok()) {
    std::cerr << "sluice serve: " << options.status().message() << "\n\n" << kUsage;
    return 2;
  }
  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // Every keep-alive connection holds a descriptor: allow as many as the hard limit does.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  Result<std::unique_ptr<Host>> host = Host::Start(*options);
  if (!host.ok()) {
    std::cerr << "sluice serve: " << host.status().message() << std::endl;
    return 2;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("serve", std::string("stopping on ") + strsignal(signal_number));
  host->reset();
  return 0;
}

}  // namespace sluice::host
