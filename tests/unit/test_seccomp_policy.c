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
       DO_PTRACE, DO_GETSOCKOPT_OTHER, DO_SENDTO_ADDR, DO_MPROTECT_EXEC, DO_KILL };

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
					 DO_GETSOCKOPT_OTHER, DO_SENDTO_ADDR, DO_KILL };

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
	assert_true(n > 20 && n < nw_seccomp_worker_table.n);
	assert_int_equal(nw_seccomp_build(&ctx, 0), 0);
	assert_int_equal(seccomp_arch_exist(ctx, seccomp_arch_native()), 0);
	assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X86), -EEXIST);
	seccomp_release(ctx);
	assert_int_equal(nw_seccomp_build(NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_and_build),
		cmocka_unit_test(test_allowed_calls_work),
		cmocka_unit_test(test_forbidden_calls_kill),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
