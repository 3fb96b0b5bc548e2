// Probing which optional layers this kernel allows, once, in a throwaway child (the way
// bubblewrap's --unshare-*-try and minijail's tests do): the child tries each unshare() and a
// mount-API canary, and reports errno and timing per namespace.
#pragma once

#include <vector>

#include "base/status.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {

struct NamespaceSupport {
  bool pid = false;
  bool mount = false;
  bool net = false;
  bool ipc = false;
  bool uts = false;
};

// Appends one Layer per namespace ("pid-namespace", ...) with on/off and detail (what it does,
// or the failing call and errno; the network layer's detail includes how long unshare took).
NamespaceSupport ProbeNamespaces(std::vector<Layer>* layers);

// OK when seccomp filters with SECCOMP_RET_KILL_PROCESS are available (an always-on layer).
Status ProbeSeccomp();

}  // namespace sluice::sandbox
