// The CLI verbs for streams, against a running host's Kinesis API (like kcat for Kafka):
//
//   sluice streams create NAME [--shards N]     sluice streams list
//   sluice streams describe NAME                sluice streams delete NAME
//   sluice put STREAM --partition-key K --data TEXT
//   sluice put STREAM (--partition-key K | --partition-key-field FIELD) < records.ndjson
//   sluice tail STREAM [--from trim-horizon|latest|at-timestamp] [--timestamp T]
//                      [--format text|json] [--exit-at-end]
//
// Every verb takes --endpoint URL (default $SLUICE_ENDPOINT, else http://127.0.0.1:4566). Exit
// codes: 0 success; 1 the API refused (its error is printed) or some records were not stored;
// 2 bad arguments, or no host is running (the message says how to start one).
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int StreamsMain(const std::vector<std::string>& args);
int PutMain(const std::vector<std::string>& args);
int TailMain(const std::vector<std::string>& args);

}  // namespace sluice::host
