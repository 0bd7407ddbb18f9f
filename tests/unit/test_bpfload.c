/* Unit tests for privileged/bpfload.c against the real kernel (root): every
 * program set of bpf/conn.bpf.c goes through the verifier; the tracepoint set
 * attaches; a set the kernel refuses reports where it failed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <bpf/bpf.h>

/* before cmocka.h: flags.c has a static fail() that cmocka's macro would hijack */
#include "privileged/flags.c"
#include "sandbox/limits.c"
#include "privileged/bpfload.c"
#include "privileged/pktsock.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return 0;
}

static int cgroup_fd(void)
{
	char path[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd;

	assert_non_null(f);
	assert_int_equal(ldr_cgroup2_root(f, path, sizeof(path)), 0);
	fclose(f);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	return fd;
}

static size_t count_autoload(const struct ldr_bpf *b, const char *prefix)
{
	struct bpf_program *prog;
	size_t n = 0;

	bpf_object__for_each_program(prog, b->skel->obj)
		n += bpf_program__autoload(prog) && has_prefix(bpf_program__name(prog), prefix);
	return n;
}

/* The set that runs here: loads, attaches every program, exposes its maps. */
static void test_tracepoint_set_runs(void **state)
{
	struct ldr_bpf_fail f;
	int cg = cgroup_fd();
	struct ldr_bpf *b = ldr_bpf_start(LDR_SET_TRACEPOINT, true, cg, &f);

	assert_non_null(b);
	assert_int_equal(f.err, 0);
	assert_true(count_autoload(b, "tp_") >= 5);
	assert_int_equal(count_autoload(b, "kp_") + count_autoload(b, "fe_"), 0);
	assert_int_equal(b->nlinks, count_autoload(b, "tp_") + count_autoload(b, "cg_"));
	assert_true(ldr_bpf_map_fd(b, NW_MAP_CONNS) >= 0);
	assert_true(ldr_bpf_map_fd(b, NW_MAP_CLOSED_RB) >= 0);
	assert_int_equal(ldr_bpf_map_fd(b, "no_such_map"), -ENOENT);
	ldr_bpf_destroy(b);
	close(cg);
}

/* The read-only fd really is read-only: the kernel refuses an update through it. */
static void test_rdonly_map_fd(void **state)
{
	struct ldr_bpf_fail f;
	int cg = cgroup_fd();
	struct ldr_bpf *b = ldr_bpf_start(LDR_SET_TRACEPOINT, false, cg, &f);
	__u32 key = 0;
	__u64 val = 1;
	int fd;

	assert_non_null(b);
	fd = ldr_bpf_map_fd_rdonly(b, NW_MAP_TELEMETRY);
	assert_true(fd >= 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &key, &val), 0);
	assert_true(bpf_map_update_elem(fd, &key, &val, BPF_ANY) < 0);
	assert_int_equal(errno, EPERM);
	close(fd);
	ldr_bpf_destroy(b);
	close(cg);
}

/*
 * kprobe programs pass the verifier wherever BPF works; attaching needs kprobe
 * support in the kernel. Either it runs, or it fails at attach (loaded=true)
 * naming the probe.
 */
static void test_kprobe_set_verifies(void **state)
{
	struct ldr_bpf_fail f;
	int cg = cgroup_fd();
	struct ldr_bpf *b = ldr_bpf_start(LDR_SET_KPROBE, true, cg, &f);

	if (b) {
		assert_true(count_autoload(b, "kp_") >= 6);
		ldr_bpf_destroy(b);
	} else {
		assert_true(f.loaded);
		assert_true(f.err < 0);
		assert_non_null(strstr(f.what, "kprobe/"));
	}
	close(cg);
}

/*
 * fentry: the kernel verifies or refuses (EPERM where tracing programs are
 * locked down, as on the CI machine). Anything else is a bug in the programs.
 */
static void test_fentry_set_verifies_or_is_refused(void **state)
{
	struct ldr_bpf_fail f;
	int cg = cgroup_fd();
	struct ldr_bpf *b = ldr_bpf_start(LDR_SET_FENTRY, true, cg, &f);

	if (b) {
		assert_true(count_autoload(b, "fe_") >= 6);
		ldr_bpf_destroy(b);
	} else if (!f.loaded) {
		print_message("fentry set refused by the kernel: %s (%s)\n", strerror(-f.err), f.what);
		assert_int_equal(f.err, -EPERM);
	} else {
		assert_true(f.err < 0);
	}
	close(cg);
}

static void test_bad_cgroup_fails_at_attach(void **state)
{
	struct ldr_bpf_fail f;
	struct ldr_bpf *b = ldr_bpf_start(LDR_SET_TRACEPOINT, true, -1, &f);

	assert_null(b);
	assert_true(f.loaded);
	assert_true(f.err < 0);
	assert_non_null(strstr(f.what, "cgroup"));
}

static void test_cgroup2_root(void **state)
{
	const char *text =
		"22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
		"30 22 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
		"35 30 0:30 / /sys/fs/cgroup/weird\\040dir rw - cgroup2 cgroup2 rw\n"
		"36 30 0:31 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw\n";
	char buf[64], tiny[8];
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_int_equal(ldr_cgroup2_root(f, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/sys/fs/cgroup/unified");
	rewind(f);
	assert_int_equal(ldr_cgroup2_root(f, tiny, sizeof(tiny)), -ENAMETOOLONG);
	fclose(f);
	f = fmemopen((void *)"22 1 0:21 / /sys rw - sysfs sysfs rw\n", 37, "r");
	assert_int_equal(ldr_cgroup2_root(f, buf, sizeof(buf)), -ENOENT);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup2_root),
		cmocka_unit_test(test_tracepoint_set_runs),
		cmocka_unit_test(test_rdonly_map_fd),
		cmocka_unit_test(test_kprobe_set_verifies),
		cmocka_unit_test(test_fentry_set_verifies_or_is_refused),
		cmocka_unit_test(test_bad_cgroup_fails_at_attach),
	};

	libbpf_set_print(silent);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
