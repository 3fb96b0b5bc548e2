// `sluice serve`: the long-running host. Today it serves the Kinesis Data Streams API over the
// embedded durable stream; later issues add deployments, pollers and host services.
//
//   sluice serve [--listen 127.0.0.1:4566] [--data-dir DIR] [--durability os|fsync]
//                [--http-threads N]
//
// Defaults (ServeOptions): listen 127.0.0.1:4566; data directory $SLUICE_DATA_DIR, else
// /var/lib/sluice as root, else ~/.local/share/sluice; durability os; 4 HTTP threads. Runs until
// SIGINT or SIGTERM, then stops accepting, finishes the requests under way and exits 0. Exit 2 on
// bad arguments or when it cannot start (message on stderr).
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int ServeMain(const std::vector<std::string>& args);

}  // namespace sluice::host
