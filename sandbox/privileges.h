// Dropping privileges in the child: supplementary groups, gid, uid and every capability
// (effective, permitted, inheritable, ambient and the bounding set), then no_new_privs.
// Child-side functions (see child.h): no allocation; return 0 or an errno.
#pragma once

#include <sys/types.h>

namespace sluice::sandbox {

// When `change_uid` (the host is root): clears the bounding set (needs CAP_SETPCAP, so first),
// then setgroups(0), setresgid(gid), setresuid(uid). Always: clears ambient capabilities and
// sets every capability set to empty. Uses raw syscalls: glibc's set*id wrappers broadcast to
// the parent's threads, which do not exist in a cloned child.
int DropPrivileges(bool change_uid, uid_t uid, gid_t gid);

// PR_SET_NO_NEW_PRIVS: exec can never grant privileges again (setuid bits, file caps).
int SetNoNewPrivs();

}  // namespace sluice::sandbox
