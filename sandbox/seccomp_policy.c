// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Seccomp allowlists (sandbox/seccomp_policy.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/futex.h>
#include <linux/seccomp.h>

#include "sandbox/manifest.h"
#include "sandbox/seccomp_policy.h"

#define LOW32 0xffffffffULL

#define ALLOW(name) { SCMP_SYS(name), 0, { { 0 } } }
#define ALLOW1(name, a) { SCMP_SYS(name), 1, { a } }
#define ALLOW2(name, a, b) { SCMP_SYS(name), 2, { a, b } }
/* int arguments: the kernel reads the low 32 bits only, so compare those */
#define ARG_IS(i, v) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, LOW32, (scmp_datum_t)(v))
#define ARG_NO_BITS(i, bits) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(bits), 0)
#define ARG_BITS_ARE(i, mask, v) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(mask), (scmp_datum_t)(v))

/*
 * What the worker calls after confinement, checked against strace of a
 * worker under load (README of tests/integration/test_sandbox.py). Every
 * setup call (manifest, mmap of the buffers, epoll/signalfd/timerfd
 * creation, BPF_OBJ_GET_INFO_BY_FD) happens before the filter is loaded.
 */
static const struct nw_seccomp_rule worker_rules[] = {
	/* I/O on fds the worker already holds */
	ALLOW(read),
	ALLOW(write),
	ALLOW(close),
	/* recv()/send(): no address, so never a new destination; no sendmsg,
	 * so no fd can be passed to an RPC client */
	ALLOW1(recvfrom, SCMP_A4(SCMP_CMP_EQ, 0)),
	ALLOW1(sendto, SCMP_A4(SCMP_CMP_EQ, 0)),
	ALLOW(accept4),
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_PEERCRED)),
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_ERROR)),
	/* the RPC server's gid check: the peer's supplementary groups */
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_PEERGROUPS)),
	ALLOW1(fcntl, ARG_IS(1, F_GETFL)),
	ALLOW1(fcntl, ARG_IS(1, F_SETFL)),
	/* the loop */
	ALLOW(epoll_wait),
	ALLOW(epoll_pwait),
	ALLOW(epoll_ctl),
	ALLOW(rt_sigreturn),
	ALLOW(rt_sigprocmask),
	ALLOW(restart_syscall),
	ALLOW(clock_gettime),
	ALLOW(getpid),
	/* single-threaded: only glibc's private futex ops, should it ever wait */
	ALLOW1(futex, ARG_IS(1, FUTEX_WAIT_PRIVATE)),
	ALLOW1(futex, ARG_IS(1, FUTEX_WAKE_PRIVATE)),
	ALLOW1(futex, ARG_IS(1, FUTEX_WAIT_BITSET_PRIVATE)),
	ALLOW1(futex, ARG_IS(1, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME)),
	ALLOW(exit),
	ALLOW(exit_group),
	/* malloc: private anonymous memory, never executable */
	ALLOW2(mmap, ARG_NO_BITS(2, PROT_EXEC), ARG_BITS_ARE(3, MAP_SHARED | MAP_ANONYMOUS, MAP_ANONYMOUS)),
	ALLOW1(mprotect, ARG_NO_BITS(2, PROT_EXEC)),
	ALLOW(munmap),
	ALLOW(mremap),
	ALLOW(brk),
	ALLOW1(madvise, ARG_IS(2, MADV_DONTNEED)),
	ALLOW1(madvise, ARG_IS(2, MADV_FREE)),
	/* glibc's fstat() (stdio); an empty path only */
	ALLOW(fstat),
	ALLOW1(newfstatat, ARG_IS(3, AT_EMPTY_PATH)),
	/* BPF on the passed maps only: read, walk, and delete swept and idle
	 * entries (the conns map; the other map fds are read-only) */
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_LOOKUP_ELEM)),
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_GET_NEXT_KEY)),
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_DELETE_ELEM)),
	/* idle expiry: an entry's last counters and its removal in one step */
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)),
};

const struct nw_seccomp_table nw_seccomp_worker_table = {
	worker_rules, sizeof(worker_rules) / sizeof(worker_rules[0]),
};

/*
 * Audit mode only: hand the listener to the supervisor over the control
 * socket, then add a filter that makes sendmsg fail for good.
 */
static const struct nw_seccomp_rule audit_handoff_rules[] = {
	ALLOW1(sendmsg, SCMP_A0(SCMP_CMP_EQ, NW_CONTROL_FD)),
	ALLOW1(seccomp, ARG_IS(0, SECCOMP_SET_MODE_FILTER)),
};

static bool unconditional(const struct nw_seccomp_table *t, size_t nt, int nr)
{
	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < t[i].n; j++)
			if (t[i].rules[j].nr == nr && !t[i].rules[j].n_args)
				return true;
	return false;
}

/* Was nr seen before position (ti, ri)? */
static bool seen_before(const struct nw_seccomp_table *t, size_t ti, size_t ri, int nr)
{
	for (size_t i = 0; i <= ti; i++)
		for (size_t j = 0; j < (i == ti ? ri : t[i].n); j++)
			if (t[i].rules[j].nr == nr)
				return true;
	return false;
}

unsigned int nw_seccomp_count(const struct nw_seccomp_table *t, size_t nt, unsigned int *filtered)
{
	unsigned int n = 0, f = 0;

	for (size_t i = 0; i < nt; i++)
		for (size_t j = 0; j < t[i].n; j++) {
			int nr = t[i].rules[j].nr;

			/* negative: libseccomp's pseudo number for a syscall this
			 * architecture does not have (poll, open, ... on arm64) */
			if (nr < 0 || seen_before(t, i, j, nr))
				continue;
			n++;
			f += !unconditional(t, nt, nr);
		}
	if (filtered)
		*filtered = f;
	return n;
}

int nw_seccomp_build_tables(scmp_filter_ctx *out, uint32_t def, const struct nw_seccomp_table *t,
			    size_t nt, unsigned int flags)
{
	scmp_filter_ctx ctx;
	int err;

	if (!out || (nt && !t))
		return -EINVAL;
	/* KILL_PROCESS needs API level 3 (Linux 4.14), notifications level 5;
	 * refuse rather than silently fall back to something weaker */
	if (seccomp_api_get() < (def == SCMP_ACT_NOTIFY ? 5u : 3u))
		return -EOPNOTSUPP;
	ctx = seccomp_init(def);
	if (!ctx)
		return -ENOMEM;
	/* the native architecture only (seccomp_init's default): anything else
	 * is killed, in every mode */
	err = seccomp_arch_exist(ctx, seccomp_arch_native());
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (!err && (flags & NW_SECCOMP_F_LOG))
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	for (size_t i = 0; !err && i < nt; i++)
		for (size_t j = 0; !err && j < t[i].n; j++) {
			const struct nw_seccomp_rule *r = &t[i].rules[j];

			if (r->nr < 0)
				continue; /* not on this architecture */
			if (!r->n_args) {
				if (!seen_before(t, i, j, r->nr))
					err = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, r->nr, 0);
			} else if (!unconditional(t, nt, r->nr)) {
				err = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r->nr, r->n_args,
								   r->args);
			}
		}
	if (err) {
		seccomp_release(ctx);
		return err < 0 ? err : -EINVAL;
	}
	*out = ctx;
	return 0;
}

int nw_seccomp_build(scmp_filter_ctx *out, unsigned int flags)
{
	return nw_seccomp_build_tables(out, SCMP_ACT_KILL_PROCESS, &nw_seccomp_worker_table, 1, flags);
}

int nw_seccomp_apply(unsigned int flags)
{
	int fd;

	return nw_seccomp_apply_mode(NW_SECCOMP_ENFORCE, flags, &fd);
}

int nw_seccomp_apply_mode(enum nw_seccomp_mode mode, unsigned int flags, int *notify_fd)
{
	const struct nw_seccomp_table audit[] = {
		nw_seccomp_worker_table,
		{ audit_handoff_rules, sizeof(audit_handoff_rules) / sizeof(audit_handoff_rules[0]) },
	};
	bool is_audit = mode == NW_SECCOMP_AUDIT;
	scmp_filter_ctx ctx;
	int err;

	if (!notify_fd)
		return -EINVAL;
	*notify_fd = -1;
	err = nw_seccomp_build_tables(&ctx, is_audit ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS,
				      is_audit ? audit : &nw_seccomp_worker_table, is_audit ? 2 : 1, flags);
	if (err)
		return err;
	err = seccomp_load(ctx);
	if (!err && is_audit) {
		*notify_fd = seccomp_notify_fd(ctx);
		if (*notify_fd < 0)
			err = *notify_fd;
	}
	seccomp_release(ctx);
	return err;
}

int nw_seccomp_seal_handoff(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int err;

	if (!ctx)
		return -ENOMEM;
	/* no_new_privs is set already; prctl() is not in the allowlist */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!err)
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (!err)
		err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(sendmsg), 0);
	if (!err)
		err = seccomp_rule_add_exact(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(seccomp), 0);
	if (!err)
		err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}

unsigned int nw_seccomp_allowlist_syscalls(void)
{
	return nw_seccomp_count(&nw_seccomp_worker_table, 1, NULL);
}
