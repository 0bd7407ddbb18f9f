/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's seccomp allowlist: what its epoll loop needs once confined
 * (reads and writes on fds it already holds, accept on the passed listening
 * socket, BPF map reads, memory management), nothing else. Default action
 * kills the process; foreign architectures are killed too.
 */
#ifndef NW_SANDBOX_SECCOMP_POLICY_H
#define NW_SANDBOX_SECCOMP_POLICY_H

#include <seccomp.h>

#define NW_SECCOMP_F_LOG 0x1 /* log denials (SCMP_FLTATR_CTL_LOG) where supported */

/*
 * Build the filter without loading it (for tests and for exporting).
 * Returns 0 and *out (release with seccomp_release), or -errno.
 */
int nw_seccomp_build(scmp_filter_ctx *out, unsigned int flags);

/* Build and load the filter into the calling process. 0 or -errno. */
int nw_seccomp_apply(unsigned int flags);

/* Distinct syscalls in the allowlist (stat "seccomp_allowlist_syscalls"). */
unsigned int nw_seccomp_allowlist_syscalls(void);

#endif /* NW_SANDBOX_SECCOMP_POLICY_H */
