#include "host/host.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "base/files.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/random.h"
#include "delivery/delivery_service.h"
#include "delivery/firehose_api.h"
#include "host/control_server.h"
#include "host/control_service.h"
#include "host/data_dir.h"
#include "host/function_logs.h"
#include "host/function_registry.h"
#include "host/function_store.h"
#include "host/notifier.h"
#include "invoker/deadline_timer.h"
#include "invoker/log_capture.h"
#include "invoker/runtime_server.h"
#include "poller/poller_service.h"
#include "sandbox/launcher.h"
#include "state/effect_committer.h"
#include "state/outbox.h"
#include "state/topics.h"
#include "stream/kinesis_api.h"

namespace sluice::host {
namespace {

namespace fs = std::filesystem;

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

// Holds an exclusive POSIX record lock on data_dir/host.lock for the host's life.
//
// Not flock(): a flock belongs to the open file description, which every sandbox child shares
// from its clone until it closes its inherited descriptors. A child cloned just before the host
// is killed -9 (PDEATHSIG kills it, but it may still be in the kernel setting up namespaces)
// then held the lock after the host was gone, and a host restarted at once was refused as
// "another Sluice host is running". A record lock belongs to the process (its descriptor table):
// clone children never hold it, and it goes when the host does.
Result<UniqueFd> LockDataDir(const std::string& data_dir) {
  const std::string path = data_dir + "/host.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return ErrnoStatus("opening " + path);
  }
  struct flock whole_file {};
  whole_file.l_type = F_WRLCK;
  whole_file.l_whence = SEEK_SET;  // l_start 0, l_len 0: the whole file
  if (::fcntl(fd.get(), F_SETLK, &whole_file) != 0) {
    if (errno == EACCES || errno == EAGAIN) {
      return Unavailable("another Sluice host is running with data directory " + data_dir + " (" +
                         path + " is locked)");
    }
    return ErrnoStatus("locking " + path);
  }
  return fd;
}

// A directory the function's unprivileged user may traverse but not list (mode 0711).
Status MakePrivateDir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return Internal("creating " + dir + ": " + ec.message());
  }
  fs::permissions(dir, fs::perms(0711), ec);
  return Status::Ok();
}

// What only the host may read: the database (with its -wal and -shm, which SQLite creates with
// the database's mode), the stream logs and the function logs, 0600 files and 0700 directories.
// A data directory the host creates is 0711 (see MakePrivateDir), so the function's user can
// reach the runtime sockets and the code store when the mount layer is off, and nothing else.
Status MakeHostOnly(const std::string& dir) {
  const std::string db = dir + "/sluice.db";
  const int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return ErrnoStatus("creating " + db);
  }
  ::close(fd);
  for (const std::string& file : {db, db + "-wal", db + "-shm"}) {
    if (::chmod(file.c_str(), 0600) != 0 && errno != ENOENT) {
      return ErrnoStatus("making " + file + " private");
    }
  }
  for (const std::string& sub : {dir + "/streams", dir + "/logs"}) {
    std::error_code ec;
    fs::create_directories(sub, ec);
    fs::permissions(sub, fs::perms(0700), ec);
    if (ec) {
      return Internal("making " + sub + " private: " + ec.message());
    }
  }
  return Status::Ok();
}

// Registers a MetricsRegistry collector for as long as it lives.
class ScopedCollector {
 public:
  explicit ScopedCollector(std::function<void()> collect)
      : id_(MetricsRegistry::Global().AddCollector(std::move(collect))) {}
  ~ScopedCollector() { MetricsRegistry::Global().RemoveCollector(id_); }
  ScopedCollector(const ScopedCollector&) = delete;
  ScopedCollector& operator=(const ScopedCollector&) = delete;

 private:
  const int id_;
};

// Sets the outbox gauges at every scrape.
void CollectOutbox(state::Outbox* outbox) {
  static Gauge& pending = MetricsRegistry::Global().GetGauge(
      "sluice_notifications_pending", "Notifications waiting in the outbox for delivery.");
  if (Result<state::OutboxCounts> counts = outbox->Counts(); counts.ok()) {
    pending.Set(counts->pending);
  }
}

HttpResponse ServeMetrics() {
  HttpResponse response;
  response.content_type = "text/plain; version=0.0.4";
  response.body = MetricsRegistry::Global().RenderPrometheus();
  return response;
}

// The pollers find function versions in the registry.
class RegistryFunctionResolver final : public poller::FunctionResolver {
 public:
  explicit RegistryFunctionResolver(FunctionRegistry* registry) : registry_(registry) {}
  std::shared_ptr<invoker::FunctionPool> Find(const std::string& name,
                                              const std::string& qualifier) override {
    std::optional<LiveFunction> live = registry_->Find(name, qualifier);
    return live ? live->pool : nullptr;
  }

 private:
  FunctionRegistry* registry_;
};

}  // namespace

// In start order; members are destroyed in reverse, which is the stop order.
struct Host::Parts {
  UniqueFd lock;
  std::unique_ptr<state::StateDb> db;
  std::unique_ptr<FunctionStore> functions;
  std::unique_ptr<stream::StreamStore> streams;
  std::unique_ptr<stream::KinesisApi> kinesis;
  std::unique_ptr<sandbox::SandboxLauncher> launcher;
  std::unique_ptr<invoker::RuntimeServer> runtime_server;
  std::unique_ptr<FunctionLogs> logs;
  std::unique_ptr<invoker::LogCapture> log_capture;
  std::unique_ptr<invoker::DeadlineTimer> timer;
  std::unique_ptr<FunctionRegistry> registry;
  std::unique_ptr<state::Outbox> outbox;
  std::unique_ptr<ScopedCollector> outbox_metrics;
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<state::EffectCommitter> committer;
  std::unique_ptr<RegistryFunctionResolver> resolver;
  std::unique_ptr<poller::PollerService> pollers;
  std::unique_ptr<delivery::DeliveryService> deliveries;
  std::unique_ptr<delivery::FirehoseApi> firehose;
  std::unique_ptr<ControlService> control_service;
  std::unique_ptr<ControlServer> control_server;
  std::unique_ptr<HttpServer> http;
};

Host::Host() : parts_(std::make_unique<Parts>()) {}

Host::~Host() = default;

uint16_t Host::http_port() const {
  return parts_->http->port();
}

const std::string& Host::control_socket() const {
  return parts_->control_server->socket_path();
}

void Host::OnNotificationsEnqueued() {
  parts_->notifier->Wake();
}

Result<std::unique_ptr<Host>> Host::Start(const HostOptions& options) {
  const std::string& dir = options.data_dir;
  Result<std::string> socket_path = ControlSocketPath(dir);
  if (!socket_path.ok()) {
    return socket_path.status();
  }
  // A directory the host makes is 0711. One that exists keeps its mode (it may be shared, like
  // /tmp): what is inside and private is made so below.
  std::error_code exists_error;
  if (!fs::exists(dir, exists_error)) {
    if (Status made = MakePrivateDir(dir); !made.ok()) {
      return Unavailable("cannot create the data directory: " + made.message());
    }
  } else if (!fs::is_directory(dir, exists_error)) {
    return Unavailable("the data directory " + dir + " is not a directory");
  }
  std::unique_ptr<Host> host(new Host());
  Parts& p = *host->parts_;
  Clock* clock = &Clock::Real();

  Result<UniqueFd> lock = LockDataDir(dir);
  if (!lock.ok()) {
    return lock.status();
  }
  p.lock = std::move(*lock);
  SLUICE_RETURN_IF_ERROR(MakeHostOnly(dir));

  Result<std::unique_ptr<state::StateDb>> db =
      state::StateDb::Open(dir + "/sluice.db", options.durability == stream::Durability::kFsync
                                                   ? state::DbDurability::kFsync
                                                   : state::DbDurability::kOs);
  if (!db.ok()) {
    return db.status();
  }
  p.db = std::move(*db);

  Result<std::unique_ptr<FunctionStore>> functions =
      FunctionStore::Open(p.db.get(), dir + "/functions/code", clock);
  if (!functions.ok()) {
    return functions.status();
  }
  p.functions = std::move(*functions);

  stream::StreamStoreOptions store_options;
  store_options.data_dir = dir;
  store_options.log.durability = options.durability;
  Result<std::unique_ptr<stream::StreamStore>> streams =
      stream::StreamStore::Open(store_options, clock);
  if (!streams.ok()) {
    return streams.status().WithContext("opening the streams in " + dir);
  }
  p.streams = std::move(*streams);
  p.kinesis = std::make_unique<stream::KinesisApi>(p.streams.get(), stream::KinesisApiOptions{});

  // Create() honours SLUICE_REQUIRE_SANDBOX=1 itself.
  Result<std::unique_ptr<sandbox::SandboxLauncher>> launcher =
      sandbox::SandboxLauncher::Create(sandbox::SandboxOptions{});
  if (!launcher.ok()) {
    return launcher.status().WithContext("sandbox");
  }
  p.launcher = std::move(*launcher);
  LogInfo("serve", sandbox::LayerSummary(p.launcher->layers()));

  // Whatever a killed host's instances left in run/ (sockets, scratch) is of no use now.
  std::error_code ec;
  fs::remove_all(dir + "/run", ec);
  SLUICE_RETURN_IF_ERROR(MakePrivateDir(dir + "/run/scratch"));
  Result<std::unique_ptr<invoker::RuntimeServer>> runtime_server =
      invoker::RuntimeServer::Start(dir + "/run/runtime", !p.launcher->FunctionSeesFixedPaths());
  if (!runtime_server.ok()) {
    return runtime_server.status();
  }
  p.runtime_server = std::move(*runtime_server);

  FunctionLogOptions log_options;
  log_options.dir = dir + "/logs/functions";
  Result<std::unique_ptr<FunctionLogs>> logs = FunctionLogs::Open(log_options);
  if (!logs.ok()) {
    return logs.status();
  }
  p.logs = std::move(*logs);
  p.log_capture = std::make_unique<invoker::LogCapture>(
      [logs = p.logs.get()](const invoker::LogLine& line) { logs->Append(line); });
  p.timer = std::make_unique<invoker::DeadlineTimer>();

  invoker::InstanceDeps deps;
  deps.launcher = p.launcher.get();
  deps.runtime_server = p.runtime_server.get();
  deps.logs = p.log_capture.get();
  deps.timer = p.timer.get();
  deps.clock = clock;
  deps.scratch_root = dir + "/run/scratch";
  p.registry = std::make_unique<FunctionRegistry>(
      deps, [store = p.functions.get()](const std::string& code) {
        store->RemoveCodeIfUnreferenced(code);
      });
  Result<std::vector<DeployedFunction>> deployed = p.functions->List();
  if (!deployed.ok()) {
    return deployed.status();
  }
  for (const DeployedFunction& row : *deployed) {
    p.registry->Put(row);
  }
  p.outbox = std::make_unique<state::Outbox>(p.db.get());
  p.outbox_metrics =
      std::make_unique<ScopedCollector>([outbox = p.outbox.get()] { CollectOutbox(outbox); });
  Result<std::unique_ptr<Notifier>> notifier =
      Notifier::Start(NotifierOptions{}, p.outbox.get(), clock);
  if (!notifier.ok()) {
    return notifier.status().WithContext("notifier");
  }
  p.notifier = std::move(*notifier);
  p.committer = std::make_unique<state::EffectCommitter>(
      p.db.get(), clock, [raw = host.get()] { raw->OnNotificationsEnqueued(); });

  p.resolver = std::make_unique<RegistryFunctionResolver>(p.registry.get());
  poller::PollerServiceDeps poller_deps;
  poller_deps.streams = p.streams.get();
  poller_deps.db = p.db.get();
  poller_deps.committer = p.committer.get();
  poller_deps.functions = p.resolver.get();
  poller_deps.clock = clock;
  poller_deps.topic_exists = [db = p.db.get()](const std::string& topic) {
    return state::TopicCatalog(db).Get(topic).ok();
  };
  const stream::KinesisApiOptions kinesis_options;
  poller_deps.aws_region = kinesis_options.region;
  poller_deps.stream_arn = [kinesis_options](const std::string& stream) {
    return "arn:aws:kinesis:" + kinesis_options.region + ":" + kinesis_options.account_id +
           ":stream/" + stream;
  };
  Result<std::unique_ptr<poller::PollerService>> pollers =
      poller::PollerService::Start(std::move(poller_deps));
  if (!pollers.ok()) {
    return pollers.status().WithContext("event source mappings");
  }
  p.pollers = std::move(*pollers);

  delivery::DeliveryServiceDeps delivery_deps;
  delivery_deps.data_dir = dir;
  delivery_deps.durability = options.durability;
  delivery_deps.db = p.db.get();
  delivery_deps.streams = p.streams.get();
  delivery_deps.functions = p.resolver.get();
  delivery_deps.clock = clock;
  delivery_deps.region = kinesis_options.region;
  delivery_deps.account_id = kinesis_options.account_id;
  Result<std::unique_ptr<delivery::DeliveryService>> deliveries =
      delivery::DeliveryService::Start(std::move(delivery_deps));
  if (!deliveries.ok()) {
    return deliveries.status().WithContext("delivery streams");
  }
  p.deliveries = std::move(*deliveries);
  p.firehose = std::make_unique<delivery::FirehoseApi>(p.deliveries.get());

  ControlDeps control;
  control.data_dir = dir;
  control.db = p.db.get();
  control.functions = p.functions.get();
  control.registry = p.registry.get();
  control.logs = p.logs.get();
  control.streams = p.streams.get();
  control.committer = p.committer.get();
  control.pollers = p.pollers.get();
  control.delivery_streams = p.deliveries.get();
  control.clock = clock;
  control.started_unix_ms = clock->UnixMillis();
  p.control_service = std::make_unique<ControlService>(std::move(control));
  Result<std::unique_ptr<ControlServer>> control_server =
      ControlServer::Start(*socket_path, p.control_service.get());
  if (!control_server.ok()) {
    return control_server.status();
  }
  p.control_server = std::move(*control_server);

  Result<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      options.http,
      [kinesis = p.kinesis.get(), firehose = p.firehose.get()](const HttpRequest& request) {
        if (request.path() == "/metrics") {
          return ServeMetrics();
        }
        const stream::ApiRequest call{request.method(), request.Header("X-Amz-Target"),
                                      request.Header("Content-Type"), request.body()};
        stream::ApiResponse reply = call.target.starts_with(delivery::kFirehoseTargetPrefix)
                                        ? firehose->Handle(call)
                                        : kinesis->Handle(call);
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
  if (!http.ok()) {
    return http.status();
  }
  p.http = std::move(*http);
  LogInfo("serve", "Kinesis API on http://" + options.http.address + ":" +
                       std::to_string(p.http->port()) + " (data in " + dir + ", durability " +
                       (options.durability == stream::Durability::kFsync ? "fsync" : "os") +
                       "); the Firehose API on the same port");
  LogInfo("serve", "control API on unix:" + *socket_path + " (" + std::to_string(deployed->size()) +
                       " function versions deployed)");
  return host;
}

}  // namespace sluice::host
