/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The loader after setup: programs attached, sockets bound, maps created,
 * the first worker started. What it still does is supervise: reap and
 * signal the worker, start a new one (clone into a new pid namespace,
 * exec as root, so that the worker can build its own sandbox), relay the
 * worker's log pipe, answer seccomp notifications, forward DNS packets in
 * classic mode, and tear down at exit (close links, unlink the socket).
 *
 * So it keeps six capabilities and drops the rest from every set including
 * the bounding set, sets no_new_privs, and loads a seccomp filter. A seccomp
 * filter is inherited across fork and exec, so the loader's must also let a
 * worker start up to the point where it loads its own, narrower one: the
 * table below is the loader's own needs plus the worker's start-up, merged
 * with the worker's table (sandbox/seccomp_policy.c). That union still
 * leaves out what a taken-over loader would want most: new sockets,
 * connect/bind, loading BPF programs or creating maps, perf events, module
 * loading, ptrace, process_vm_*, io_uring, keyrings, setns, kexec, reboot.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include "privileged/loader.h"

#define ALLOW(name) { SCMP_SYS(name), 0, { { 0 } } }
#define ALLOW1(name, a) { SCMP_SYS(name), 1, { a } }
#define ARG_IS(i, v) SCMP_CMP((i), SCMP_CMP_MASKED_EQ, 0xffffffffULL, (scmp_datum_t)(v))
/* ioctl request numbers are unsigned long, but the kernel's ioctl() takes an unsigned int */
#define IOCTL(req) ALLOW1(ioctl, ARG_IS(1, (unsigned int)(req)))

/*
 * Kept after setup, and why. The worker is exec'd as root and gets at most
 * these (no_new_privs: never more than the loader's permitted set).
 */
static const cap_value_t keep_caps[] = {
	CAP_SYS_ADMIN, /* clone(CLONE_NEWPID) here; unshare, mount, pivot_root in the worker */
	CAP_SETUID,    /* the worker's setresuid to --worker-user */
	CAP_SETGID,    /* the worker's setgroups/setresgid */
	CAP_SETPCAP,   /* the worker locks its securebits and empties its bounding set */
	CAP_KILL,      /* signal a worker that runs as another uid */
	CAP_IPC_LOCK,  /* the worker maps perf buffers beyond RLIMIT_MEMLOCK on large machines */
};

static const struct nw_seccomp_rule loader_rules[] = {
	/* supervise.c: signals, the child, its log pipe and notifications */
	ALLOW(poll),
	ALLOW(ppoll),
	ALLOW(read),
	ALLOW(write),
	ALLOW(close),
	ALLOW(wait4),
	ALLOW(waitid),
	ALLOW(kill),
	ALLOW(recvmsg),
	ALLOW(sendmsg),
	ALLOW(recvfrom),
	ALLOW(getsockopt),
	IOCTL(SECCOMP_IOCTL_NOTIF_RECV),
	IOCTL(SECCOMP_IOCTL_NOTIF_SEND),
	IOCTL(SECCOMP_IOCTL_NOTIF_ID_VALID),
	ALLOW(clock_gettime),
	ALLOW(clock_nanosleep),
	ALLOW(nanosleep),
	ALLOW(getpid),
	ALLOW(gettid),
	ALLOW(rt_sigprocmask),
	ALLOW(rt_sigaction),
	ALLOW(rt_sigreturn),
	ALLOW(restart_syscall),
	ALLOW(mmap),
	ALLOW(mprotect),
	ALLOW(munmap),
	ALLOW(mremap),
	ALLOW(brk),
	ALLOW(madvise),
	ALLOW(futex),
	ALLOW(exit),
	ALLOW(exit_group),
	/* teardown: the RPC socket's path */
	ALLOW(unlink),
	ALLOW(unlinkat),
	/* spawn.c: a new worker, pid 1 of a new pid namespace */
	ALLOW1(clone, SCMP_A0(SCMP_CMP_EQ, CLONE_NEWPID | SIGCHLD)),
	ALLOW1(socketpair, ARG_IS(0, AF_UNIX)),
	ALLOW(pipe2),
	ALLOW(dup2),
	ALLOW(dup3),
	ALLOW(fcntl),
	ALLOW(close_range),
	ALLOW(setsid),
	ALLOW(prctl),
	ALLOW(execve),
	/* the worker, from exec to its own filter: ld.so and libc start-up */
	ALLOW(openat),
	ALLOW(access),
	ALLOW(faccessat),
	ALLOW(faccessat2),
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(statx),
	ALLOW(pread64),
	ALLOW(lseek),
	ALLOW(arch_prctl),
	ALLOW(set_tid_address),
	ALLOW(set_robust_list),
	ALLOW(rseq),
	ALLOW(prlimit64),
	ALLOW(getrandom),
	ALLOW(uname),
	/* ... receiving and checking the manifest, mapping the buffers ... */
	ALLOW(readlink),
	ALLOW(readlinkat),
	ALLOW1(bpf, ARG_IS(0, BPF_OBJ_GET_INFO_BY_FD)),
	IOCTL(PERF_EVENT_IOC_ID),
	IOCTL(PERF_EVENT_IOC_ENABLE),
	IOCTL(TCGETS),
	ALLOW(epoll_create1),
	ALLOW(signalfd4),
	ALLOW(timerfd_create),
	ALLOW(timerfd_settime),
	ALLOW(getppid),
	ALLOW(getuid),
	ALLOW(geteuid),
	ALLOW(getgid),
	ALLOW(getegid),
	/* ... and building its sandbox (sandbox/namespaces.c, privdrop.c, landlock.c) */
	ALLOW1(unshare, ARG_IS(0, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)),
	ALLOW(mount),
	ALLOW(umount2),
	ALLOW(pivot_root),
	ALLOW(chdir),
	ALLOW(getdents64),
	ALLOW(fstatfs),
	ALLOW(statfs),
	ALLOW(setgroups),
	ALLOW(setresgid),
	ALLOW(setresuid),
	ALLOW(getresuid),
	ALLOW(getresgid),
	ALLOW(getgroups),
	ALLOW(capget),
	ALLOW(capset),
	ALLOW(landlock_create_ruleset),
	ALLOW(landlock_restrict_self),
	ALLOW(seccomp),
};

static const struct nw_seccomp_table loader_table = {
	loader_rules, sizeof(loader_rules) / sizeof(loader_rules[0]),
};

unsigned int ldr_lockdown_syscalls(unsigned int *filtered)
{
	const struct nw_seccomp_table t[] = { loader_table, nw_seccomp_worker_table };

	return nw_seccomp_count(t, 2, filtered);
}

uint64_t ldr_lockdown_caps_mask(void)
{
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
		m |= 1ULL << keep_caps[i];
	return m;
}

static bool kept(cap_value_t c)
{
	for (size_t i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
		if (keep_caps[i] == c)
			return true;
	return false;
}

static int drop_caps(void)
{
	cap_t caps = NULL;
	int err = 0;

	for (cap_value_t c = 0; c < cap_max_bits(); c++) {
		int r = cap_get_bound(c);

		if (r < 0)
			break;
		if (r && !kept(c) && cap_drop_bound(c) < 0)
			return -errno;
	}
	if (cap_reset_ambient() < 0)
		return -errno;
	caps = cap_init();
	if (!caps)
		return -errno;
	if (cap_set_flag(caps, CAP_PERMITTED, sizeof(keep_caps) / sizeof(keep_caps[0]), keep_caps,
			 CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, sizeof(keep_caps) / sizeof(keep_caps[0]), keep_caps,
			 CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		err = -errno;
	cap_free(caps);
	return err;
}

int ldr_lockdown(enum nw_seccomp_mode mode, const char **failed_step)
{
	const struct nw_seccomp_table t[] = { loader_table, nw_seccomp_worker_table };
	scmp_filter_ctx ctx = NULL;
	const char *step;
	int err;

	step = "capabilities";
	err = drop_caps();
	if (err)
		goto cleanup;
	step = "no_new_privs";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		err = -errno;
		goto cleanup;
	}
	/* audit: log what the union does not allow and let it through, so that
	 * a worker's own SECCOMP_RET_USER_NOTIF (lower precedence than kill or
	 * errno) still reaches the supervisor */
	step = "seccomp filter";
	err = nw_seccomp_build_tables(&ctx, mode == NW_SECCOMP_AUDIT ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS,
				      t, 2, NW_SECCOMP_F_LOG);
	if (!err)
		err = seccomp_load(ctx);
cleanup:
	if (ctx)
		seccomp_release(ctx);
	if (err && failed_step)
		*failed_step = step;
	return err;
}
