/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Landlock for the worker: a ruleset that handles every access right the
 * running kernel knows (all file access; TCP bind and connect from ABI 4;
 * abstract unix sockets and signals outside the domain from ABI 6) and
 * grants none of them. Needs no_new_privs. A kernel without Landlock is
 * reported (-EOPNOTSUPP), not worked around: the caller logs it and goes on,
 * the other layers do not depend on it.
 */
#ifndef NW_SANDBOX_LANDLOCK_H
#define NW_SANDBOX_LANDLOCK_H

#include <stdint.h>

struct nw_landlock_info {
	int abi;                 /* 0: no Landlock */
	uint64_t handled_fs;     /* LANDLOCK_ACCESS_FS_* denied */
	uint64_t handled_net;    /* LANDLOCK_ACCESS_NET_* denied (ABI >= 4) */
	uint64_t scoped;         /* LANDLOCK_SCOPE_* (ABI >= 6) */
};

/* The kernel's Landlock ABI version (>= 1), or -errno: -EOPNOTSUPP when
 * Landlock is built in but not enabled, -ENOSYS when not built in. */
int nw_landlock_abi(void);

/*
 * Restrict the calling thread with a deny-everything ruleset. 0 with *info
 * filled in, -EOPNOTSUPP when the kernel has no usable Landlock, or -errno.
 */
int nw_landlock_deny_all(struct nw_landlock_info *info);

#endif /* NW_SANDBOX_LANDLOCK_H */
