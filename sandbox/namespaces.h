/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's namespaces. The pid namespace comes from the loader (the
 * worker is started as pid 1 of a new one: a process cannot move itself);
 * the worker then leaves the host's mount, network, IPC and UTS namespaces
 * and pivots into an empty, read-only tmpfs. Passed sockets keep working:
 * a socket belongs to the namespace it was created in, and a unix socket
 * bound to a path is reached through the filesystem of whoever connects.
 */
#ifndef NW_SANDBOX_NAMESPACES_H
#define NW_SANDBOX_NAMESPACES_H

/* Where the empty root is mounted before the pivot. /proc exists wherever
 * the worker can run (it reads /proc/self/fd to check the manifest); the
 * mount is private to the new namespace and gone after the pivot. */
#define NW_NS_EMPTY_ROOT_BASE "/proc"

/*
 * unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS), then
 * make every mount private, mount an empty tmpfs, pivot_root into it,
 * detach the old root, and remount the new one read-only, nosuid, nodev,
 * noexec. Needs CAP_SYS_ADMIN. 0 or -errno with *failed_step set.
 */
int nw_ns_enter_empty(const char **failed_step);

/*
 * Check the result: pid 1 (of a pid namespace the loader made), "/" empty
 * and read-only, no network interface but a down loopback is not checked
 * here (the test does it from outside). 0 or -errno (-EPERM: not confined).
 */
int nw_ns_verify(void);

#endif /* NW_SANDBOX_NAMESPACES_H */
