// Host: everything `sluice serve` runs, owned and wired in one place, over one data directory
// (layout in host/data_dir.h).
//
// Start order (the destructor stops in reverse): the data directory's lock (host.lock; a second
// host on the same directory is refused), the state database (sluice.db), the function store,
// the stream store, the sandbox launcher (its layers are logged), the runtime server (sockets
// under run/), the function logs (logs/functions) and the log capture feeding them, the deadline
// timer, the function registry (every deployed version loaded from the database), the outbox and
// the notifier delivering it, the effect committer (which wakes the notifier after a commit
// queued notifications), the control API (control.sock) and the HTTP server (the Kinesis API,
// and Prometheus metrics at /metrics).
//
// After a kill -9 nothing needs repair: the database and stream logs recover themselves, a stale
// control.sock is replaced, half-written code directories are removed.
//
// Thread-safety: Start and the destructor from one thread; the accessors from any.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"
#include "host/http_server.h"
#include "state/state_db.h"
#include "stream/stream_store.h"

namespace sluice::host {

struct HostOptions {
  std::string data_dir;  // required
  HttpServerOptions http;
  stream::Durability durability = stream::Durability::kOs;  // streams and the database alike
};

class Host {
 public:
  // Starts everything, or nothing: on error what was started is stopped again. Errors name the
  // part that failed (UNAVAILABLE when another host holds the data directory).
  static Result<std::unique_ptr<Host>> Start(const HostOptions& options);
  ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  uint16_t http_port() const;
  const std::string& control_socket() const;

 private:
  struct Parts;
  Host();
  // Called after a commit queued notifications: wakes the notifier.
  void OnNotificationsEnqueued();

  std::unique_ptr<Parts> parts_;
};

}  // namespace sluice::host
