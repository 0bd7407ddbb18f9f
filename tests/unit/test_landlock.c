/* Unit tests for sandbox/landlock.c and sandbox/namespaces.c, in forked
 * children (root; skipped otherwise): a deny-all Landlock domain refuses
 * opening files (even "/") and, from ABI 4, TCP bind and connect; the empty
 * root is empty, read-only and noexec, /proc and /etc are gone, and only a
 * pid 1 of its own pid namespace passes nw_ns_verify. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "sandbox/landlock.c"
#include "sandbox/namespaces.c"

static int run(int (*fn)(void), unsigned long clone_flags)
{
	int status;
	pid_t pid = (pid_t)syscall(SYS_clone, clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int child_landlock(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4243),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct nw_landlock_info info;
	int fd;

	/* the worker sets no_new_privs first (privdrop.c), as Landlock wants */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return 3;
	if (nw_landlock_deny_all(&info) != 0)
		return 4;
	if (info.abi != nw_landlock_abi() || !(info.handled_fs & (1ULL << 2)) /* READ_FILE */)
		return 5;
	fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 6;
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno != EACCES)
		return 7;
	if (mkdir("/tmp/nw-landlock-test", 0700) == 0 || errno != EACCES)
		return 8;
	if (info.abi >= 4) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 9;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno != EACCES)
			return 10;
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno != EACCES)
			return 11;
		close(fd);
		if (!(info.handled_net & 3))
			return 12;
	}
	return 0;
}

static void test_landlock_denies_all(void **state)
{
	int abi = nw_landlock_abi();

	if (abi == -EOPNOTSUPP || abi == -ENOSYS)
		skip(); /* a kernel without Landlock: the worker logs it and goes on */
	assert_true(abi >= 1);
	assert_int_equal(run(child_landlock, 0), 0);
}

static int child_empty_root(void)
{
	const char *step = NULL;
	struct statvfs sv;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (nw_ns_enter_empty(&step) != 0)
		return 2;
	d = opendir("/");
	if (!d)
		return 3;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	if (n != 0)
		return 4;
	if (statvfs("/", &sv) < 0 || !(sv.f_flag & ST_RDONLY) || !(sv.f_flag & ST_NOEXEC))
		return 5;
	if (mkdir("/x", 0700) == 0 || errno != EROFS)
		return 6;
	if (access("/proc/self", F_OK) == 0 || access("/etc/passwd", F_OK) == 0)
		return 7;
	/* pid 1 of its own pid namespace or not: nw_ns_verify knows */
	return nw_ns_verify() == (getpid() == 1 ? 0 : -EPERM) ? 0 : 8;
}

static void test_empty_root(void **state)
{
	if (geteuid() != 0)
		skip();
	assert_int_equal(run(child_empty_root, 0), 0);          /* not pid 1: verify refuses */
	assert_int_equal(run(child_empty_root, CLONE_NEWPID), 0); /* pid 1: verify passes */
}

static void test_abi_probe(void **state)
{
	int abi = nw_landlock_abi();

	/* a version, or a kernel that says why not: never anything else */
	assert_true(abi >= 1 || abi == -EOPNOTSUPP || abi == -ENOSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_probe),
		cmocka_unit_test(test_landlock_denies_all),
		cmocka_unit_test(test_empty_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
