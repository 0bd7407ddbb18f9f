/* Unit tests for sandbox/seccomp_policy.c: load the real filter in forked
 * children; allowed calls work, forbidden ones kill the child with SIGSYS. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox/seccomp_policy.c"

enum { DO_NOTHING, DO_SOCKET, DO_OPENAT, DO_EXECVE, DO_MAP_CREATE, DO_PROG_LOAD, DO_MMAP_EXEC,
       DO_PTRACE, DO_GETSOCKOPT_OTHER, DO_SENDTO_ADDR, DO_MPROTECT_EXEC, DO_KILL,
       DO_MMAP_SHARED, DO_SENDMSG, DO_RECVMSG, DO_OBJ_GET_INFO, DO_MAP_UPDATE, DO_IO_URING,
       DO_CLONE, DO_MADVISE_OTHER, DO_FUTEX_OTHER, DO_ACCEPT, DO_SECCOMP };

static int bpf_cmd(int cmd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (__u32)-1;
	return (int)syscall(__NR_bpf, cmd, &attr, sizeof(attr));
}

/* Child: load the filter, do what must keep working, then the forbidden
 * thing. Exit codes: 0 fine, 10+ an allowed call failed. */
static void child(int what)
{
	struct timespec ts;
	int p[2], v = 0;
	socklen_t len = sizeof(v);
	char *big;

	if (pipe(p) < 0)
		_exit(9);
	if (nw_seccomp_apply(NW_SECCOMP_F_LOG) != 0)
		_exit(10);
	if (getpid() <= 0)
		_exit(11);
	if (write(p[1], "x", 1) != 1 || read(p[0], &v, 1) != 1)
		_exit(12);
	if (syscall(__NR_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
		_exit(13);
	big = malloc(8 << 20); /* mmap'd by malloc */
	if (!big)
		_exit(14);
	memset(big, 1, 8 << 20);
	big = realloc(big, 16 << 20); /* mremap */
	if (!big)
		_exit(15);
	free(big);
	/* allowed bpf commands reach the kernel: EBADF, not SIGSYS */
	if (bpf_cmd(BPF_MAP_LOOKUP_ELEM) != -1 || errno != EBADF)
		_exit(16);
	if (bpf_cmd(BPF_MAP_GET_NEXT_KEY) != -1 || errno != EBADF)
		_exit(17);
	if (bpf_cmd(BPF_MAP_LOOKUP_AND_DELETE_ELEM) != -1 || errno != EBADF)
		_exit(17); /* idle expiry */
	if (getsockopt(p[0], SOL_SOCKET, SO_PEERCRED, &v, &len) != -1 || errno != ENOTSOCK)
		_exit(18);
	fprintf(stderr, "%s", ""); /* stdio on stderr */
	switch (what) {
	case DO_SOCKET:
		syscall(__NR_socket, AF_INET, SOCK_STREAM, 0);
		break;
	case DO_OPENAT:
		syscall(__NR_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
		break;
	case DO_EXECVE: {
		char *argv[] = { "/bin/true", NULL };
		syscall(__NR_execve, "/bin/true", argv, NULL);
		break;
	}
	case DO_MAP_CREATE:
		bpf_cmd(BPF_MAP_CREATE);
		break;
	case DO_PROG_LOAD:
		bpf_cmd(BPF_PROG_LOAD);
		break;
	case DO_MMAP_EXEC:
		syscall(__NR_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case DO_MPROTECT_EXEC:
		syscall(__NR_mprotect, (void *)&child, 4096, PROT_READ | PROT_EXEC);
		break;
	case DO_PTRACE:
		syscall(__NR_ptrace, PTRACE_TRACEME, 0, 0, 0);
		break;
	case DO_GETSOCKOPT_OTHER:
		getsockopt(p[0], SOL_SOCKET, SO_RCVBUF, &v, &len);
		break;
	case DO_SENDTO_ADDR: {
		struct sockaddr_in a = { .sin_family = AF_INET };
		sendto(p[1], "x", 1, 0, (struct sockaddr *)&a, sizeof(a));
		break;
	}
	case DO_KILL:
		syscall(__NR_kill, 1, 0);
		break;
	case DO_MMAP_SHARED:
		syscall(__NR_mmap, NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		break;
	case DO_SENDMSG:
		syscall(__NR_sendmsg, p[1], NULL, 0);
		break;
	case DO_RECVMSG:
		syscall(__NR_recvmsg, p[0], NULL, 0);
		break;
	case DO_OBJ_GET_INFO: /* setup only: the worker asks before the filter */
		bpf_cmd(BPF_OBJ_GET_INFO_BY_FD);
		break;
	case DO_MAP_UPDATE:
		bpf_cmd(BPF_MAP_UPDATE_ELEM);
		break;
	case DO_IO_URING:
		syscall(__NR_io_uring_setup, 1, NULL);
		break;
	case DO_CLONE:
		syscall(__NR_clone, SIGCHLD, NULL, NULL, NULL, NULL);
		break;
	case DO_MADVISE_OTHER:
		syscall(__NR_madvise, NULL, 0, MADV_HWPOISON);
		break;
	case DO_FUTEX_OTHER:
		syscall(__NR_futex, &v, FUTEX_WAIT, 1, NULL, NULL, 0); /* shared, not private */
		break;
	case DO_ACCEPT:
		syscall(__NR_accept, p[0], NULL, NULL);
		break;
	case DO_SECCOMP:
		syscall(__NR_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL);
		break;
	}
	_exit(0);
}

static int run_child(int what)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		child(what);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void test_allowed_calls_work(void **state)
{
	assert_int_equal(run_child(DO_NOTHING), 0);
}

static void test_forbidden_calls_kill(void **state)
{
	static const int forbidden[] = { DO_SOCKET, DO_OPENAT, DO_EXECVE, DO_MAP_CREATE, DO_PROG_LOAD,
					 DO_MMAP_EXEC, DO_MPROTECT_EXEC, DO_PTRACE,
					 DO_GETSOCKOPT_OTHER, DO_SENDTO_ADDR, DO_KILL, DO_MMAP_SHARED,
					 DO_SENDMSG, DO_RECVMSG, DO_OBJ_GET_INFO, DO_MAP_UPDATE,
					 DO_IO_URING, DO_CLONE, DO_MADVISE_OTHER, DO_FUTEX_OTHER,
					 DO_ACCEPT, DO_SECCOMP };

	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		int r = run_child(forbidden[i]);
		if (r != -SIGSYS)
			fail_msg("case %d: child ended with %d, want SIGSYS", forbidden[i], r);
	}
}

static void test_count_and_build(void **state)
{
	scmp_filter_ctx ctx;
	unsigned int n = nw_seccomp_allowlist_syscalls();

	/* distinct syscalls, not rules: bpf, getsockopt, fcntl have several */
	unsigned int filtered = 0;

	assert_true(n > 20 && n < nw_seccomp_worker_table.n);
	assert_int_equal(nw_seccomp_count(&nw_seccomp_worker_table, 1, &filtered), n);
	/* recvfrom, sendto, getsockopt, fcntl, futex, mmap, mprotect, madvise, newfstatat, bpf */
	assert_int_equal(filtered, 10);
	assert_int_equal(nw_seccomp_build(&ctx, 0), 0);
	assert_int_equal(seccomp_arch_exist(ctx, seccomp_arch_native()), 0);
	assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X86), -EEXIST);
	seccomp_release(ctx);
	assert_int_equal(nw_seccomp_build(NULL, 0), -EINVAL);
}

/* Audit mode: the default is a notification, and the listener comes back. */
static void test_audit_mode(void **state)
{
	int fd = -1, status;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (nw_seccomp_apply_mode(NW_SECCOMP_AUDIT, NW_SECCOMP_F_LOG, &fd) != 0 || fd < 0)
			_exit(2);
		/* no one answers here: an allowed call must not need an answer */
		if (getpid() <= 0)
			_exit(3);
		if (nw_seccomp_seal_handoff() != 0)
			_exit(4);
		/* sealed: sendmsg fails with EPERM instead of waiting for an answer */
		if (syscall(__NR_sendmsg, NW_CONTROL_FD, NULL, 0) != -1 || errno != EPERM)
			_exit(5);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Tables merge: a syscall allowed without checks in one table wins. */
static void test_tables_merge(void **state)
{
	static const struct nw_seccomp_rule extra[] = { ALLOW(mmap), ALLOW(bpf) };
	const struct nw_seccomp_table t[] = { nw_seccomp_worker_table, { extra, 2 } };
	unsigned int filtered_worker = 0, filtered = 0;
	unsigned int n = nw_seccomp_count(t, 2, &filtered);
	scmp_filter_ctx ctx;

	nw_seccomp_count(&nw_seccomp_worker_table, 1, &filtered_worker);
	assert_int_equal(n, nw_seccomp_allowlist_syscalls()); /* nothing new, two unconditional */
	assert_int_equal(filtered, filtered_worker - 2);
	assert_int_equal(nw_seccomp_build_tables(&ctx, SCMP_ACT_LOG, t, 2, 0), 0);
	seccomp_release(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_build),
		cmocka_unit_test(test_allowed_calls_work),
		cmocka_unit_test(test_forbidden_calls_kill),
		cmocka_unit_test(test_audit_mode),
		cmocka_unit_test(test_tables_merge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
