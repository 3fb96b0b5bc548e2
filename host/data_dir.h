// The host's data directory: where `sluice serve` keeps everything, and where the CLI finds the
// host's control socket. Layout:
//   sluice.db            the SQLite state (state/state_db.h)
//   host.lock            locked (fcntl record lock) by the running host: one host per data dir
//   control.sock         the control API (host/proto/sluice/control/v1/control.proto), mode 0600
//   streams ...          stream logs (stream/stream_store.h)
//   functions/code/<sha256>/  deployed code (host/function_store.h)
//   logs/functions/      function logs (host/function_logs.h)
//   run/                 runtime sockets and scratch space for function instances
// Free functions; thread-safe.
#pragma once

#include <string>

#include "base/status.h"

namespace sluice::host {

// $SLUICE_DATA_DIR if set, else /var/lib/sluice for root, else ~/.local/share/sluice.
std::string DefaultDataDir();

// <data_dir>/control.sock. INVALID_ARGUMENT when it, or the runtime sockets the host makes for
// function instances under <data_dir>/run/runtime/, would be longer than a Unix socket address
// allows (107 bytes): a data directory of at most 73 characters.
Result<std::string> ControlSocketPath(const std::string& data_dir);

}  // namespace sluice::host
