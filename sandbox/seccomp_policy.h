/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Seccomp allowlists. The worker's: what its epoll loop needs once confined
 * (reads and writes on fds it already holds, accept on the passed listening
 * socket, BPF map reads and deletes, memory without PROT_EXEC), nothing else.
 * Foreign architectures are always killed. The default action is the mode's:
 * kill the process (enforce), or hand the call to the supervisor, which logs
 * it and answers EPERM (audit, SECCOMP_RET_USER_NOTIF).
 *
 * The tables are public so that the loader can build its own supervise-phase
 * filter as a union (a filter is inherited by the worker it forks, so the
 * loader's must let the worker start).
 */
#ifndef NW_SANDBOX_SECCOMP_POLICY_H
#define NW_SANDBOX_SECCOMP_POLICY_H

#include <stddef.h>
#include <seccomp.h>

#define NW_SECCOMP_F_LOG 0x1 /* log denials (SCMP_FLTATR_CTL_LOG) where supported */
#define NW_SECCOMP_ARGS_MAX 2

enum nw_seccomp_mode {
	NW_SECCOMP_ENFORCE = 0, /* default action: kill the process (SIGSYS) */
	NW_SECCOMP_AUDIT,       /* default action: user notification (the supervisor answers EPERM) */
};

/* One rule: a syscall, allowed when every argument check holds. Rules for
 * the same syscall are alternatives; one without checks allows it always. */
struct nw_seccomp_rule {
	int nr;
	unsigned int n_args;
	struct scmp_arg_cmp args[NW_SECCOMP_ARGS_MAX];
};

struct nw_seccomp_table {
	const struct nw_seccomp_rule *rules;
	size_t n;
};

extern const struct nw_seccomp_table nw_seccomp_worker_table;

/*
 * Build a filter from tables (without loading it): default action def,
 * other architectures killed, a syscall allowed without checks in one table
 * allowed without checks. 0 and *out (seccomp_release it), or -errno.
 */
int nw_seccomp_build_tables(scmp_filter_ctx *out, uint32_t def, const struct nw_seccomp_table *t,
			    size_t nt, unsigned int flags);

/* Distinct syscalls in the tables; *filtered (if not NULL): how many of them
 * are allowed only with argument checks. */
unsigned int nw_seccomp_count(const struct nw_seccomp_table *t, size_t nt, unsigned int *filtered);

/* The worker's filter in enforce mode, not loaded (for tests). */
int nw_seccomp_build(scmp_filter_ctx *out, unsigned int flags);

/* Build and load the worker's filter in enforce mode. 0 or -errno. */
int nw_seccomp_apply(unsigned int flags);

/*
 * Build and load the worker's filter in `mode`. In audit mode *notify_fd is
 * the new user-notification listener (the caller hands it to the supervisor
 * and closes it); in enforce mode it is -1. 0 or -errno.
 */
int nw_seccomp_apply_mode(enum nw_seccomp_mode mode, unsigned int flags, int *notify_fd);

/*
 * Audit mode, after the listener was handed over: one more filter on top
 * that makes sendmsg() and seccomp() fail with EPERM from now on. 0 or -errno.
 */
int nw_seccomp_seal_handoff(void);

/* Distinct syscalls in the worker's allowlist (stat "seccomp_allowlist_syscalls"). */
unsigned int nw_seccomp_allowlist_syscalls(void);

#endif /* NW_SANDBOX_SECCOMP_POLICY_H */
