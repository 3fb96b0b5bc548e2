// `sluice local-invoke MANIFEST --event FILE`: runs a function once in the sandbox with an
// event in AWS's JSON shape, like `sam local invoke`.
//
// The function's log lines go to stderr as they come; the response, in AWS's JSON shape, goes to
// stdout. Exit codes: 0 success; 1 function error (its error JSON is still printed on stdout);
// 2 bad input or a host-side failure (a message on stderr says which). Its work directory (staged
// code, runtime sockets) is made under $TMPDIR, default /tmp, and removed at the end.
#pragma once

#include <string>
#include <vector>

namespace sluice::host {

int LocalInvokeMain(const std::vector<std::string>& args);

}  // namespace sluice::host
