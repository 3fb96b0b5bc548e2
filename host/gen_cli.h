// `sluice gen`: the ABC Tolls generator and its ground truth (docs/demo.md).
//
//   sluice gen reference                      print the station reference file
//   sluice gen tolls --truth DIR [...]        write the truth files, then put the traffic
//   sluice gen check --truth DIR [...]        compare a host's results with the truth
//
// Exit codes: 0 success (check: an exact match); 1 a failure (check: a difference; tolls: an
// ambiguous put, or records the host refused); 2 bad arguments, or no host is running.
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int GenMain(const std::vector<std::string>& args);

}  // namespace sluice::host
