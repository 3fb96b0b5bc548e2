#include "host/serve.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "base/log.h"
#include "base/random.h"
#include "host/cli_flags.h"
#include "host/http_server.h"
#include "stream/kinesis_api.h"
#include "stream/stream_store.h"

namespace sluice::host {
namespace {

constexpr char kUsage[] =
    "usage: sluice serve [--listen HOST:PORT] [--data-dir DIR] [--durability os|fsync]\n"
    "                    [--http-threads N]\n"
    "  Serves the Kinesis Data Streams API (default on 127.0.0.1:4566) over Sluice's embedded\n"
    "  durable stream. --durability os acknowledges writes once they reach the OS (survives a\n"
    "  crash of sluice); fsync acknowledges only after fdatasync (survives a power cut).\n";

// The settings of `sluice serve`, with their defaults, validated once.
struct ServeOptions {
  HttpServerOptions http;
  stream::StreamStoreOptions store;

  static Result<ServeOptions> FromFlags(const CliFlags& flags);
};

std::string DefaultDataDir() {
  if (const char* dir = std::getenv("SLUICE_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  if (::geteuid() == 0) {
    return "/var/lib/sluice";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.local/share/sluice";
}

Result<ServeOptions> ServeOptions::FromFlags(const CliFlags& flags) {
  ServeOptions options;
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
  options.store.data_dir = flags.Get("--data-dir").value_or(DefaultDataDir());
  const std::string durability = flags.Get("--durability").value_or("os");
  if (durability == "os") {
    options.store.log.durability = stream::Durability::kOs;
  } else if (durability == "fsync") {
    options.store.log.durability = stream::Durability::kFsync;
  } else {
    return InvalidArgument("--durability: must be os or fsync, got '" + durability + "'");
  }
  return options;
}

// A request id in the UUID shape AWS uses for x-amzn-RequestId: a random prefix per process and
// a counter, so ids are unique without a system call per request.
std::string NextRequestId() {
  static const std::string prefix = RandomHex(8);
  static std::atomic<uint64_t> counter{0};
  const uint64_t n = counter.fetch_add(1);
  char id[40];
  snprintf(id, sizeof(id), "%.8s-%.4s-%.4s-%04x-%012" PRIx64, prefix.c_str(), prefix.c_str() + 8,
           prefix.c_str() + 12, static_cast<unsigned>((n >> 48) & 0xffff),
           static_cast<uint64_t>(n & 0xffffffffffffULL));
  return id;
}

}  // namespace

int ServeMain(const std::vector<std::string>& args) {
  Result<CliFlags> flags =
      CliFlags::Parse(args, {"--listen", "--data-dir", "--durability", "--http-threads"});
  Result<ServeOptions> options =
      flags.ok() ? ServeOptions::FromFlags(*flags) : Result<ServeOptions>(flags.status());
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

  Result<std::unique_ptr<stream::StreamStore>> store =
      stream::StreamStore::Open(options->store, &Clock::Real());
  if (!store.ok()) {
    std::cerr << "sluice serve: cannot open the data directory " << options->store.data_dir << ": "
              << store.status().message() << std::endl;
    return 2;
  }
  stream::KinesisApi api(store->get(), stream::KinesisApiOptions{});
  Result<std::unique_ptr<HttpServer>> server =
      HttpServer::Start(options->http, [&api](const HttpRequest& request) {
        stream::ApiResponse reply = api.Handle({request.method(), request.Header("X-Amz-Target"),
                                                request.Header("Content-Type"), request.body()});
        HttpResponse response;
        response.status = reply.http_status;
        response.content_type = std::move(reply.content_type);
        response.body = std::move(reply.body);
        response.headers.emplace_back("x-amzn-RequestId", NextRequestId());
        if (!reply.error_type.empty()) {
          response.headers.emplace_back("x-amzn-ErrorType", reply.error_type);
        }
        return response;
      });
  if (!server.ok()) {
    std::cerr << "sluice serve: " << server.status().message() << std::endl;
    return 2;
  }
  LogInfo("serve",
          "Kinesis API on http://" + options->http.address + ":" +
              std::to_string((*server)->port()) + " (data in " + options->store.data_dir +
              ", durability " +
              (options->store.log.durability == stream::Durability::kFsync ? "fsync" : "os") + ")");
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("serve", std::string("stopping on ") + strsignal(signal_number));
  server->reset();
  store->reset();
  return 0;
}

}  // namespace sluice::host
