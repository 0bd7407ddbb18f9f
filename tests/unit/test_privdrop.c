/* Unit tests for sandbox/privdrop.c. The drop itself runs in forked
 * children (needs root; skipped otherwise). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <sys/wait.h>

#include "sandbox/privdrop.c"

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static int run(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fn();
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* "CapEff:\t0000000000000000" and friends, read after the drop */
static int status_field_is(const char *name, const char *want)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	int ok = 0;
	size_t n = strlen(name);

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, n) && line[n] == ':') {
			char *v = line + n + 1;
			while (*v == '\t' || *v == ' ')
				v++;
			v[strcspn(v, "\n")] = '\0';
			ok = !strcmp(v, want);
		}
	fclose(f);
	return ok;
}

static void child_full_drop(void)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int keep[] = { b, 2, 1, 0, b };
	struct nw_privdrop p = { .uid = 65534, .gid = 65534, .keep_fds = keep, .n_keep = 5 };
	const char *step = NULL;

	if (a < 0 || b < 0 || c < 0)
		_exit(2);
	if (nw_privdrop_apply(&p, &step) != 0) {
		fprintf(stderr, "privdrop failed at %s\n", step ? step : "?");
		_exit(3);
	}
	if (fd_open(a) || fd_open(c) || !fd_open(b) || !fd_open(2))
		_exit(4);
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534)
		_exit(5);
	if (!status_field_is("CapEff", "0000000000000000") ||
	    !status_field_is("CapPrm", "0000000000000000") ||
	    !status_field_is("CapInh", "0000000000000000") ||
	    !status_field_is("CapBnd", "0000000000000000") ||
	    !status_field_is("CapAmb", "0000000000000000") ||
	    !status_field_is("NoNewPrivs", "1"))
		_exit(6);
	if (setuid(0) == 0 || prctl(PR_GET_DUMPABLE) != 0)
		_exit(7);
	if (nw_privdrop_verify(65534, 65534) != 0)
		_exit(8);
	if (nw_privdrop_verify(65533, 65534) != -EPERM)
		_exit(9);
}

static void test_full_drop(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run(child_full_drop), 0);
}

static void child_refuse_root(void)
{
	struct nw_privdrop p = { .uid = 0, .gid = 65534 };
	const char *step = NULL;

	if (nw_privdrop_apply(&p, &step) != -EINVAL || strcmp(step, "arguments"))
		_exit(2);
	p.uid = 65534;
	p.gid = 0;
	if (nw_privdrop_apply(&p, &step) != -EINVAL)
		_exit(3);
	if (nw_privdrop_apply(NULL, &step) != -EINVAL)
		_exit(4);
	/* still root, still capable: verify must say so */
	if (geteuid() == 0 && nw_privdrop_verify(0, 0) != -EPERM)
		_exit(5);
}

static void test_refuse_root_target(void **state)
{
	assert_int_equal(run(child_refuse_root), 0);
}

static void child_close_fds(void)
{
	int fds[6];

	for (int i = 0; i < 6; i++)
		if ((fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
			_exit(2);
	/* unsorted keep list with a gap in the middle */
	int keep[] = { fds[4], 2, fds[1] };
	if (nw_privdrop_close_fds(keep, 3) != 0)
		_exit(3);
	if (fd_open(0) || fd_open(1) || !fd_open(2))
		_exit(4);
	if (fd_open(fds[0]) || !fd_open(fds[1]) || fd_open(fds[2]) || fd_open(fds[3]) ||
	    !fd_open(fds[4]) || fd_open(fds[5]))
		_exit(5);
	int bad[] = { -1 };
	if (nw_privdrop_close_fds(bad, 1) != -EBADF)
		_exit(6);
	if (nw_privdrop_close_fds(NULL, 1) != -EINVAL)
		_exit(7);
	if (nw_privdrop_close_fds(NULL, 0) != 0 || fd_open(2))
		_exit(8);
}

static void test_close_fds(void **state)
{
	assert_int_equal(run(child_close_fds), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_close_fds),
		cmocka_unit_test(test_refuse_root_target),
		cmocka_unit_test(test_full_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
