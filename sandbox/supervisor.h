/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the supervisor knows and the worker reports: a BPF array the loader
 * creates (BPF_F_MMAPABLE, written through its own mapping, so the loader's
 * filter needs no bpf() write) and passes to the worker read-only
 * (NW_FD_SUPERVISOR_MAP). The worker cannot count its own deaths, nor the
 * seccomp denials the supervisor answered for it; it reads them here for
 * GetStats, and reads the crash streak once at start to decide whether to
 * skip what waits in the buffers. Never renumber; append.
 */
#ifndef NW_SANDBOX_SUPERVISOR_H
#define NW_SANDBOX_SUPERVISOR_H

#define NW_MAP_SUPERVISOR "nw_supervisor"

enum nw_sup_stat {
	NW_SUP_RESTARTS = 0,        /* workers started after the first */
	NW_SUP_CRASH_STREAK = 1,    /* consecutive abnormal exits, each within NW_SUP_CRASH_QUICK_MS
				     * of its start, before the current worker started */
	NW_SUP_SECCOMP_DENIALS = 2, /* --seccomp=audit: calls the supervisor answered EPERM */
	NW_SUP_SECCOMP_AUDIT = 3,   /* 1 in --seccomp=audit, else 0 */
	NW_SUP_LAST_EXIT = 4,       /* wait status of the last worker that died, + 1 (0: none) */
	NW_SUP_MAX = 8,
};

#define NW_SUP_CRASH_QUICK_MS 10000u /* a worker that dies sooner counts toward the streak */
/* From this streak on, a new worker skips every record waiting in its
 * buffers before it reads one: the record that killed the last two. */
#define NW_SUP_POISON_STREAK 2u

#endif /* NW_SANDBOX_SUPERVISOR_H */
