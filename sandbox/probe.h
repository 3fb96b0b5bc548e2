// Probing which optional layers this kernel allows, once, in a throwaway child (the way
// bubblewrap's --unshare-*-try and minijail's tests do): the child tries each unshare() and a
// mount-API canary, and reports errno and timing per namespace.
#pragma once

#include <sys/types.h>

#include <vector>

#include "base/status.h"
#include "sandbox/launcher.h"

namespace sluice::sandbox {

struct NamespaceSupport {
  // The others are created inside a new user namespace (a host that is not root has no other
  // way to create them).
  bool user = false;
  bool pid = false;
  bool mount = false;
  bool net = false;
  bool ipc = false;
  bool uts = false;
};

// Appends one Layer per namespace ("pid-namespace", ...) with on/off and detail (what it does,
// or the failing call and errno; the network layer's detail includes how long unshare took).
// When the host is not root, the namespaces are tried inside a user namespace that maps the
// host's uid and gid to `inside_uid`/`inside_gid`, and a "user-namespace" layer is appended
// first.
NamespaceSupport ProbeNamespaces(uid_t inside_uid, gid_t inside_gid, std::vector<Layer>* layers);

// Writes the maps of a new user namespace from inside it: the host's uid and gid (the creator's)
// as inside_uid/inside_gid, and setgroups denied (required to write an unprivileged gid map).
// Only system calls and a stack buffer: safe in a child cloned from a threaded process.
// Returns 0 or an errno.
int MapUserNamespace(uid_t outer_uid, gid_t outer_gid, uid_t inside_uid, gid_t inside_gid);

// OK when seccomp filters with SECCOMP_RET_KILL_PROCESS are available (an always-on layer).
Status ProbeSeccomp();

}  // namespace sluice::sandbox
