// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The worker's seccomp allowlist (sandbox/seccomp_policy.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/bpf.h>

#include "sandbox/seccomp_policy.h"

#define ARGS_MAX 2
#define LOW32 0xffffffffULL

/* One rule: a syscall, allowed when every argument check holds. Rules for
 * the same syscall are alternatives. */
struct rule {
	int nr;
	unsigned int n_args;
	struct scmp_arg_cmp args[ARGS_MAX];
};

#define ALLOW(name) { SCMP_SYS(name), 0, { { 0 } } }
#define ALLOW1(name, a) { SCMP_SYS(name), 1, { a } }
#define ALLOW2(name, a, b) { SCMP_SYS(name), 2, { a, b } }
/* int arguments: compare the low 32 bits only */
#define ARG_IS(i, v) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, LOW32, (scmp_datum_t)(v))
#define ARG_NO_BITS(i, bits) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, (scmp_datum_t)(bits), 0)

static const struct rule rules[] = {
	/* I/O on fds the worker already holds */
	ALLOW(read),
	ALLOW(write),
	ALLOW(readv),
	ALLOW(writev),
	ALLOW(close),
	ALLOW(recvmsg),
	ALLOW(sendmsg),
	/* recv()/send(): no address, so never a new destination */
	ALLOW1(recvfrom, SCMP_A4(SCMP_CMP_EQ, 0)),
	ALLOW1(sendto, SCMP_A4(SCMP_CMP_EQ, 0)),
	ALLOW(accept),
	ALLOW(accept4),
	ALLOW(shutdown),
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_PEERCRED)),
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_ERROR)),
	/* the RPC server's gid check: the peer's supplementary groups */
	ALLOW2(getsockopt, ARG_IS(1, SOL_SOCKET), ARG_IS(2, SO_PEERGROUPS)),
	ALLOW1(fcntl, ARG_IS(1, F_GETFL)),
	ALLOW1(fcntl, ARG_IS(1, F_SETFL)),
	ALLOW1(fcntl, ARG_IS(1, F_GETFD)),
	/* the loop */
	ALLOW(epoll_wait),
	ALLOW(epoll_pwait),
	ALLOW(epoll_ctl),
	ALLOW(timerfd_settime),
	ALLOW(timerfd_gettime),
	ALLOW(rt_sigreturn),
	ALLOW(rt_sigprocmask),
	ALLOW(restart_syscall),
	ALLOW(clock_gettime),
	ALLOW(getpid),
	ALLOW(futex),
	ALLOW(exit),
	ALLOW(exit_group),
	/* malloc; never executable memory */
	ALLOW1(mmap, ARG_NO_BITS(2, PROT_EXEC)),
	ALLOW1(mprotect, ARG_NO_BITS(2, PROT_EXEC)),
	ALLOW(munmap),
	ALLOW(mremap),
	ALLOW(brk),
	ALLOW(madvise),
	/* glibc's fstat() (stdio); an empty path only */
	ALLOW(fstat),
	ALLOW1(newfstatat, ARG_IS(3, AT_EMPTY_PATH)),
	/* BPF: reading (and deleting swept and idle entries from) maps already passed */
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_LOOKUP_ELEM)),
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_GET_NEXT_KEY)),
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_LOOKUP_BATCH)),
	ALLOW1(bpf, ARG_IS(0, BPF_OBJ_GET_INFO_BY_FD)),
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_DELETE_ELEM)),
	/* idle expiry: an entry's last counters and its removal in one step */
	ALLOW1(bpf, ARG_IS(0, BPF_MAP_LOOKUP_AND_DELETE_ELEM)),
};

unsigned int nw_seccomp_allowlist_syscalls(void)
{
	unsigned int n = 0;

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = rules[j].nr == rules[i].nr;
		n += !seen;
	}
	return n;
}

int nw_seccomp_build(scmp_filter_ctx *out, unsigned int flags)
{
	scmp_filter_ctx ctx;
	uint32_t native = seccomp_arch_native();
	int err;

	if (!out)
		return -EINVAL;
	/* KILL_PROCESS needs API level 3 (Linux 4.14); refuse rather than
	 * silently fall back to killing one thread */
	if (seccomp_api_get() < 3)
		return -EOPNOTSUPP;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* The filter holds the native architecture only (seccomp_init's
	 * default); anything else is killed. */
	err = seccomp_arch_exist(ctx, native);
	if (err)
		goto cleanup;
	err = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (err)
		goto cleanup;
	if (flags & NW_SECCOMP_F_LOG) {
		err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		if (err)
			goto cleanup;
	}
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		err = seccomp_rule_add_exact_array(ctx, SCMP_ACT_ALLOW, r->nr, r->n_args,
						   r->n_args ? r->args : NULL);
		if (err)
			goto cleanup;
	}
	*out = ctx;
	return 0;
cleanup:
	seccomp_release(ctx);
	return err < 0 ? err : -EINVAL;
}

int nw_seccomp_apply(unsigned int flags)
{
	scmp_filter_ctx ctx;
	int err;

	err = nw_seccomp_build(&ctx, flags);
	if (err)
		return err;
	err = seccomp_load(ctx);
	seccomp_release(ctx);
	return err;
}
