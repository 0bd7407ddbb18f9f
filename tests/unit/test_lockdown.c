/* Unit tests for privileged/lockdown.c, in forked children (root; skipped
 * otherwise): after ldr_lockdown the loader has exactly its six capabilities
 * in the permitted, effective and bounding sets, no_new_privs and a seccomp
 * filter; it can still start a worker the way spawn.c does (raw clone into a
 * new pid namespace) but is killed for what the supervise phase never needs
 * (a socket, a BPF map, a perf event, ptrace, a plain fork, io_uring). In
 * audit mode the same calls go through, logged by the kernel. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox/seccomp_policy.c"
#undef ALLOW
#undef ALLOW1
#undef ARG_IS
#include "privileged/lockdown.c"

enum { DO_NOTHING, DO_SOCKET, DO_MAP_CREATE, DO_PERF_OPEN, DO_PTRACE, DO_FORK, DO_IO_URING,
       DO_SETNS, DO_INIT_MODULE };

static uint64_t status_hex(const char *name)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	uint64_t v = ~0ULL;
	size_t n = strlen(name);

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':')
			v = strtoull(line + n + 1, NULL, 16);
	fclose(f);
	return v;
}

static int attempt(int what)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	switch (what) {
	case DO_SOCKET:
		return (int)syscall(__NR_socket, AF_INET, SOCK_STREAM, 0);
	case DO_MAP_CREATE:
		return (int)syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	case DO_PERF_OPEN:
		return (int)syscall(__NR_perf_event_open, NULL, 0, -1, -1, 0);
	case DO_PTRACE:
		return (int)syscall(__NR_ptrace, PTRACE_TRACEME, 0, 0, 0);
	case DO_FORK:
		return (int)syscall(__NR_clone, CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD, NULL,
				    NULL, NULL, NULL);
	case DO_IO_URING:
		return (int)syscall(__NR_io_uring_setup, 1, NULL);
	case DO_SETNS:
		return (int)syscall(__NR_setns, 0, 0);
	case DO_INIT_MODULE:
		return (int)syscall(__NR_init_module, NULL, 0, "");
	default:
		return 0;
	}
}

/* Child: lock down in `mode`, check the end state, start a "worker", try `what`. */
static void child(enum nw_seccomp_mode mode, int what)
{
	const char *step = NULL;
	int status, r;
	pid_t w;

	if (ldr_lockdown(mode, &step) != 0)
		_exit(10);
	if (status_hex("CapEff") != ldr_lockdown_caps_mask() || status_hex("CapPrm") != ldr_lockdown_caps_mask() ||
	    status_hex("CapBnd") != ldr_lockdown_caps_mask() || status_hex("CapInh") != 0)
		_exit(11);
	if (status_hex("NoNewPrivs") != 1 || status_hex("Seccomp") != 2)
		_exit(12);
	/* spawn.c's clone: pid 1 of a new pid namespace, then exec */
	w = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (w == 0) {
		char *argv[] = { "true", NULL };
		execv("/bin/true", argv);
		_exit(127);
	}
	if (w < 0 || waitpid(w, &status, 0) != w || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		_exit(13);
	r = attempt(what);
	if (what == DO_FORK && r == 0)
		_exit(0);
	_exit(0);
}

static int run(enum nw_seccomp_mode mode, int what)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		child(mode, what);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (WIFSIGNALED(status))
		return -WTERMSIG(status);
	return WEXITSTATUS(status);
}

static void test_supervise_phase(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run(NW_SECCOMP_ENFORCE, DO_NOTHING), 0);
}

static void test_forbidden_kill(void **state)
{
	static const int forbidden[] = { DO_SOCKET, DO_MAP_CREATE, DO_PERF_OPEN, DO_PTRACE, DO_FORK,
					 DO_IO_URING, DO_SETNS, DO_INIT_MODULE };

	if (geteuid() != 0)
		skip();
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++) {
		int r = run(NW_SECCOMP_ENFORCE, forbidden[i]);
		if (r != -SIGSYS)
			fail_msg("case %d: child ended with %d, want SIGSYS", forbidden[i], r);
	}
}

static void test_audit_logs_instead(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run(NW_SECCOMP_AUDIT, DO_SOCKET), 0);
	assert_int_equal(run(NW_SECCOMP_AUDIT, DO_SETNS), 0);
}

static void test_counts(void **state)
{
	unsigned int filtered = 0, n = ldr_lockdown_syscalls(&filtered);

	/* the union is larger than the worker's, smaller than anything generous */
	assert_true(n > nw_seccomp_allowlist_syscalls());
	assert_true(n < 130);
	assert_true(filtered >= 4); /* clone, socketpair, ioctl, unshare, bpf, ... */
	assert_int_equal(ldr_lockdown_caps_mask(),
			 (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID) |
				 (1ULL << CAP_SETPCAP) | (1ULL << CAP_KILL) | (1ULL << CAP_IPC_LOCK));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_supervise_phase),
		cmocka_unit_test(test_forbidden_kill),
		cmocka_unit_test(test_audit_logs_instead),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
