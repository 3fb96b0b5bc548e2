// `sluice delivery`: delivery streams on a running host, through its Firehose API.
//
//   sluice delivery create NAME DESTINATION [OPTIONS]   (or --file REQUEST.json)
//   sluice delivery list | describe NAME | delete NAME
//   sluice delivery put NAME [--file F]                 (one record per line of F or stdin)
//
// Every verb takes --endpoint URL (default $SLUICE_ENDPOINT, else http://127.0.0.1:4566) and -h.
// create validates the stream's configuration (delivery::ParseDeliveryStreamConfig) before it
// sends it. Exit codes: 0 success; 1 the API refused (its error is printed) or some records were
// not stored; 2 bad arguments or input, or no host is running (the message says how to start one).
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int DeliveryMain(const std::vector<std::string>& args);

}  // namespace sluice::host
