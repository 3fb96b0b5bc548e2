// Dropping privileges in the child: supplementary groups, gid, uid and every capability
// (effective, permitted, inheritable, ambient and the bounding set), then no_new_privs.
// Child-side functions (see child.h): no allocation; return 0 or an errno.
#pragma once

#include <sys/types.h>

namespace sluice::sandbox {

// How the child comes to be unprivileged.
enum class PrivilegeDrop {
  kChangeUid,      // the host is root: clear the bounding set, then setgroups(0), setresgid(gid),
                   // setresuid(uid)
  kUserNamespace,  // the host is not root, the child is in its own user namespace (already
                   // mapped to uid/gid): clear the bounding set it holds there
  kNone,           // the host is not root and there is no user namespace: nothing to give up
};

// Drops as `how` says, then, always, clears ambient capabilities and sets every capability set
// to empty. Uses raw syscalls: glibc's set*id wrappers broadcast to the parent's threads, which
// do not exist in a cloned child.
int DropPrivileges(PrivilegeDrop how, uid_t uid, gid_t gid);

// PR_SET_NO_NEW_PRIVS: exec can never grant privileges again (setuid bits, file caps).
int SetNoNewPrivs();

}  // namespace sluice::sandbox
