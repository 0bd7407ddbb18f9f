/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Dropping root for good: close every fd not kept, lock securebits, empty the
 * bounding and ambient sets, setgroups/setresgid/setresuid, clear every
 * capability, rlimits (core, nproc, fsize, memlock 0; nofile as asked),
 * no_new_privs, non-dumpable, then verify all of it.
 * Every step is fatal: on failure the caller must exit.
 */
#ifndef NW_SANDBOX_PRIVDROP_H
#define NW_SANDBOX_PRIVDROP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct nw_privdrop {
	uid_t uid;           /* target uid, never 0 */
	gid_t gid;           /* target gid, never 0 */
	const int *keep_fds; /* fds left open; every other one is closed */
	size_t n_keep;
	uint64_t nofile;     /* RLIMIT_NOFILE to set; 0 leaves it (CORE, NPROC, FSIZE, MEMLOCK go to 0) */
};

/*
 * Run every step in order. Returns 0, or -errno with *failed_step (if not
 * NULL) naming the step that failed, e.g. "setresuid".
 */
int nw_privdrop_apply(const struct nw_privdrop *p, const char **failed_step);

/* Close every fd except keep[0..n-1] (close_range around them). 0 or -errno. */
int nw_privdrop_close_fds(const int *keep, size_t n);

/*
 * Check the end state: real/effective/saved uid and gid as given, no
 * supplementary groups, no capability in any set (effective, permitted,
 * inheritable, bounding, ambient), no_new_privs set, and root not regainable.
 * 0 or -errno (-EPERM when something is still privileged).
 */
int nw_privdrop_verify(uid_t uid, gid_t gid);

#endif /* NW_SANDBOX_PRIVDROP_H */
