/* Unit tests for privileged/spawn.c and privileged/supervise.c: the manifest
 * the loader builds in ring-buffer and perf-buffer mode; what a started worker
 * finds (fd 3 only, stdin /dev/null, default signals, its own session, the
 * manifest with its fds); restart with backoff, and a bounded stop. The
 * "worker" is this binary re-executed with --child, or /bin/sh. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdlib.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "privileged/log.c"
#include "privileged/spawn.c"
#include "privileged/supervise.c"
#include "privileged/worklog.c"
#include "privileged/audit.c"
#include "sandbox/manifest.c"
#include "usm.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

static int sigfd = -1;

static void fdset_init(struct ldr_fdset *s)
{
	memset(s, 0, sizeof(*s));
	s->rpc_listen = 10;
	s->conns = 11;
	s->telemetry_rdonly = 12;
	s->ringbuf = 13;
	s->closed_batch_rdonly = -1;
}

static void test_manifest_ringbuf(void **state)
{
	struct ldr_fdset s;
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];

	fdset_init(&s);
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(m.hdr.magic, NW_MANIFEST_MAGIC);
	assert_int_equal(m.hdr.version, NW_MANIFEST_VERSION);
	assert_int_equal(m.hdr.count, 4);
	assert_int_equal(m.hdr.perf_pages, 0);
	assert_int_equal(m.entries[0].role, NW_FD_RPC_LISTEN);
	assert_int_equal(fds[0], 10);
	assert_int_equal(m.entries[1].role, NW_FD_CONNS_MAP);
	assert_int_equal(m.entries[1].flags, 0); /* the worker deletes closed entries */
	assert_int_equal(fds[1], 11);
	assert_int_equal(m.entries[2].role, NW_FD_TELEMETRY_MAP);
	assert_int_equal(m.entries[2].flags, NW_FD_F_RDONLY);
	assert_int_equal(fds[2], 12);
	assert_int_equal(m.entries[3].role, NW_FD_CLOSED_RINGBUF);
	assert_int_equal(fds[3], 13);
	for (int i = 0; i < 4; i++)
		assert_int_equal(m.entries[i].arg, 0);
	assert_int_equal(check_complete(&m), 0); /* what the worker will demand */
}

static void test_manifest_perf(void **state)
{
	struct ldr_fdset s;
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];

	fdset_init(&s);
	s.ringbuf = -1;
	s.closed_batch_rdonly = 30;
	s.nperf = 3;
	s.perf[0] = 20;
	s.perf[1] = 21;
	s.perf[2] = 22;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(m.hdr.count, 7);
	assert_int_equal(m.hdr.perf_pages, LDR_PERF_PAGES);
	for (uint32_t cpu = 0; cpu < 3; cpu++) {
		assert_int_equal(m.entries[3 + cpu].role, NW_FD_CLOSED_PERF);
		assert_int_equal(m.entries[3 + cpu].arg, cpu);
		assert_int_equal(fds[3 + cpu], 20 + (int)cpu);
	}
	assert_int_equal(m.entries[6].role, NW_FD_CLOSED_BATCH);
	assert_int_equal(m.entries[6].flags, NW_FD_F_RDONLY);
	assert_int_equal(fds[6], 30);
	assert_int_equal(check_complete(&m), 0);
	/* perf mode without the batch map */
	s.closed_batch_rdonly = -1;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EBADF);
	s.closed_batch_rdonly = 30;

	/* the most CPUs a manifest can carry, and one more */
	s.nperf = NW_MANIFEST_MAX_FDS - 4;
	for (size_t i = 0; i < s.nperf; i++)
		s.perf[i] = 100 + (int)i;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(m.hdr.count, NW_MANIFEST_MAX_FDS);
	assert_int_equal(check_complete(&m), 0);
	s.nperf++;
	s.perf[s.nperf - 1] = 200;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -E2BIG);
	assert_int_equal(m.hdr.count, 0);
	s.nperf = NW_MANIFEST_MAX_FDS + 1; /* more than the array holds */
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EINVAL);
	assert_int_equal(m.hdr.count, 0);
}

static void test_manifest_rejects(void **state)
{
	struct ldr_fdset s;
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];

	fdset_init(&s);
	s.nperf = 1; /* both channels */
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EINVAL);
	s.nperf = 0;
	s.ringbuf = -1; /* neither */
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EINVAL);
	fdset_init(&s);
	s.telemetry_rdonly = -1;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EBADF);
	assert_int_equal(m.hdr.count, 0);
	fdset_init(&s);
	s.ringbuf = -1;
	s.nperf = 2;
	s.perf[0] = 5;
	s.perf[1] = -1;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EBADF);
}

static void test_manifest_usm(void **state)
{
	struct ldr_fdset s;
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];

	fdset_init(&s);
	s.usm_ring = 40;
	s.usm_tel_rdonly = 41;
	s.usm_protocols = USM_PROTO_MASK_ALL;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(m.hdr.count, 6);
	assert_int_equal(m.entries[4].role, NW_FD_USM_RINGBUF);
	assert_int_equal(m.entries[4].flags, 0); /* the worker maps the consumer page */
	assert_int_equal(m.entries[4].arg, USM_PROTO_MASK_ALL);
	assert_int_equal(fds[4], 40);
	assert_int_equal(m.entries[5].role, NW_FD_USM_TELEMETRY);
	assert_int_equal(m.entries[5].flags, NW_FD_F_RDONLY);
	assert_int_equal(fds[5], 41);
	assert_int_equal(check_complete(&m), 0);
	/* the ring without its counters */
	s.usm_tel_rdonly = -1;
	assert_int_equal(ldr_manifest_build(&s, &m, fds), -EBADF);
	/* no capture (--http=off --kafka=off): no USM entry */
	fdset_init(&s);
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(m.hdr.count, 4);
}

/* --- the re-executed child ------------------------------------------------------ */

enum { CHILD_OK = 0, CHILD_FD3, CHILD_STDIN, CHILD_EXTRA_FD, CHILD_MASK, CHILD_SIGPIPE,
       CHILD_SESSION, CHILD_RECV, CHILD_MANIFEST, CHILD_PIDNS };

static int child_main(void)
{
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS], type = 0, n;
	socklen_t len = sizeof(type);
	struct stat st, null_st;
	struct sigaction sa;
	struct dirent *de;
	sigset_t mask;
	DIR *d;

	if (getsockopt(NW_CONTROL_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET ||
	    (fcntl(NW_CONTROL_FD, F_GETFD) & FD_CLOEXEC))
		return CHILD_FD3;
	if (fstat(STDIN_FILENO, &st) < 0 || stat("/dev/null", &null_st) < 0 || st.st_rdev != null_st.st_rdev)
		return CHILD_STDIN;
	d = opendir("/proc/self/fd");
	if (!d)
		return CHILD_EXTRA_FD;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && atoi(de->d_name) > NW_CONTROL_FD && atoi(de->d_name) != dirfd(d))
			return CHILD_EXTRA_FD;
	closedir(d);
	if (sigprocmask(SIG_SETMASK, NULL, &mask) < 0 || !sigisemptyset(&mask))
		return CHILD_MASK;
	if (sigaction(SIGPIPE, NULL, &sa) < 0 || sa.sa_handler != SIG_DFL)
		return CHILD_SIGPIPE;
	if (getsid(0) != getpid())
		return CHILD_SESSION;
	if (getpid() != 1 || getppid() != 0)
		return CHILD_PIDNS; /* pid 1 of its own pid namespace */
	n = nw_manifest_recv(NW_CONTROL_FD, &m, fds, NW_MANIFEST_MAX_FDS);
	if (n != 4)
		return CHILD_RECV;
	if (m.entries[0].role != NW_FD_RPC_LISTEN || m.entries[2].flags != NW_FD_F_RDONLY ||
	    m.entries[3].role != NW_FD_CLOSED_RINGBUF || write(fds[1], "x", 1) != 1)
		return CHILD_MANIFEST;
	return CHILD_OK;
}

static pid_t wait_worker(struct ldr_worker *w, int *status)
{
	pid_t pid;

	do
		pid = waitpid(w->pid, status, 0);
	while (pid < 0 && errno == EINTR);
	return pid;
}

/* What the loader puts on the far side of fork+exec: exactly fd 3 and the manifest. */
static void test_worker_start(void **state)
{
	char *argv[] = { "test_spawn", "--child", NULL };
	int p[2], leak, status = -1;
	struct ldr_fdset s;
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];
	struct ldr_worker w = { .path = "/proc/self/exe", .argv = argv, .manifest = &m, .fds = fds };
	char c = 0;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	leak = dup(p[0]); /* not O_CLOEXEC: must still not reach the worker */
	assert_true(leak >= 0);
	signal(SIGPIPE, SIG_IGN); /* must be reset to default in the worker */
	s = (struct ldr_fdset){ .rpc_listen = p[0], .conns = p[1], .telemetry_rdonly = p[0],
				.ringbuf = p[0] };
	assert_int_equal(ldr_manifest_build(&s, &m, fds), 0);
	assert_int_equal(ldr_worker_start(&w), 0);
	assert_true(w.pid > 0);
	assert_true(w.ctl_fd > 2); /* kept while the worker lives: its lifeline */
	assert_true(w.started_ms > 0);
	assert_int_equal(wait_worker(&w, &status), w.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
	assert_int_equal(read(p[0], &c, 1), 1); /* written through the passed conns fd */
	assert_int_equal(c, 'x');
	signal(SIGPIPE, SIG_DFL);
	close(leak);
	close(p[0]);
	close(p[1]);
}

static void test_worker_exec_fails(void **state)
{
	char *argv[] = { "nope", NULL };
	struct nw_manifest m = { .hdr = { .magic = NW_MANIFEST_MAGIC, .version = NW_MANIFEST_VERSION } };
	struct ldr_worker w = { .path = "/nonexistent/netwarden-worker", .argv = argv, .manifest = &m };
	int status = -1;

	ldr_worker_start(&w); /* may or may not get the manifest out first */
	assert_true(w.pid > 0);
	assert_int_equal(wait_worker(&w, &status), w.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 127);
}

/* --- supervision ---------------------------------------------------------------------- */

static pid_t signal_me_later(int sig, unsigned int ms)
{
	pid_t parent = getpid(), pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep(ms * 1000);
		kill(parent, sig);
		_exit(0);
	}
	return pid;
}

/* A worker that keeps exiting is restarted with growing delays until SIGTERM. */
static void test_supervise_restarts(void **state)
{
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	struct nw_manifest m = { .hdr = { .magic = NW_MANIFEST_MAGIC, .version = NW_MANIFEST_VERSION } };
	struct ldr_worker w = { .path = "/bin/sh", .argv = argv, .manifest = &m };
	uint64_t t0 = ldr_now_ms();
	pid_t first;

	ldr_worker_start(&w);
	first = w.pid;
	assert_true(first > 0);
	signal_me_later(SIGTERM, 1200);
	assert_int_equal(ldr_supervise(&w, sigfd), SIGTERM);
	assert_true(ldr_now_ms() - t0 >= 1100);
	/* exits at ~0, ~0.25 and ~0.75 s: delays 250, 500, 1000 were used, at least two */
	assert_true(w.backoff_ms >= 1000);
	assert_true(w.backoff_ms <= 2000);
	assert_true(w.pid != first);
	ldr_worker_stop(&w, sigfd);
	assert_int_equal(w.pid, 0);
	assert_int_equal(kill(first, 0), -1); /* reaped, not a zombie */
}

static void test_supervise_sigint_and_hup(void **state)
{
	/* pid 1 of its namespace ignores SIGTERM without a handler: give it one */
	char *argv[] = { "sh", "-c", "trap 'exit 0' TERM; sleep 30 & wait", NULL };
	struct nw_manifest m = { .hdr = { .magic = NW_MANIFEST_MAGIC, .version = NW_MANIFEST_VERSION } };
	struct ldr_worker w = { .path = "/bin/sh", .argv = argv, .manifest = &m };
	pid_t pid;

	assert_int_equal(ldr_worker_start(&w), 0);
	pid = w.pid;
	signal_me_later(SIGHUP, 100); /* logged and ignored */
	signal_me_later(SIGINT, 400);
	assert_int_equal(ldr_supervise(&w, sigfd), SIGINT);
	assert_int_equal(w.pid, pid); /* still the first worker */
	ldr_worker_stop(&w, sigfd);
	assert_int_equal(w.pid, 0);
	assert_int_equal(kill(pid, 0), -1);
}

/* SIGTERM is ignored: SIGKILL after the bounded wait. */
static void test_stop_escalates(void **state)
{
	char *argv[] = { "sh", "-c", "trap '' TERM; exec sleep 30", NULL };
	struct nw_manifest m = { .hdr = { .magic = NW_MANIFEST_MAGIC, .version = NW_MANIFEST_VERSION } };
	struct ldr_worker w = { .path = "/bin/sh", .argv = argv, .manifest = &m };
	uint64_t t0;
	pid_t pid;

	assert_int_equal(ldr_worker_start(&w), 0);
	pid = w.pid;
	usleep(200 * 1000); /* let sh install the trap */
	t0 = ldr_now_ms();
	ldr_worker_stop(&w, sigfd);
	assert_true(ldr_now_ms() - t0 >= STOP_WAIT_MS - 50);
	assert_true(ldr_now_ms() - t0 < STOP_WAIT_MS + 2000);
	assert_int_equal(w.pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	ldr_worker_stop(&w, sigfd); /* nothing running: a no-op */
}

/* Quick deaths build the crash streak the next worker reads; the log pipe is its stderr. */
static void test_crash_streak_and_log_pipe(void **state)
{
	char *argv[] = { "sh", "-c", "echo from-worker >&2; exit 3", NULL };
	struct nw_manifest m = { .hdr = { .magic = NW_MANIFEST_MAGIC, .version = NW_MANIFEST_VERSION } };
	struct ldr_worker w = { .path = "/bin/sh", .argv = argv, .manifest = &m, .ctl_fd = -1,
				.notify_fd = -1 };
	int lp[2], err_pipe[2], saved;
	char out[4096] = "";
	ssize_t n;

	assert_int_equal(pipe2(lp, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	w.log_fd = lp[0];
	w.log_wfd = lp[1];
	saved = dup(STDERR_FILENO); /* the relay writes to our stderr: catch it */
	assert_true(saved >= 0);
	assert_int_equal(dup2(err_pipe[1], STDERR_FILENO), STDERR_FILENO);
	ldr_worker_start(&w);
	signal_me_later(SIGTERM, 900);
	assert_int_equal(ldr_supervise(&w, sigfd), SIGTERM);
	ldr_worker_stop(&w, sigfd);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = read(err_pipe[0], out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	/* exits at ~0, ~0.25, ~0.75 s: at least two restarts, each death quick */
	assert_true(w.sup_local[NW_SUP_RESTARTS] >= 2);
	assert_true(w.sup_local[NW_SUP_CRASH_STREAK] >= 2);
	assert_int_equal(w.sup_local[NW_SUP_LAST_EXIT], (3u << 8) + 1); /* exited 3 */
	assert_non_null(strstr(out, "from-worker\n"));
	assert_non_null(strstr(out, "crash streak: the next worker skips"));
	assert_true(w.ctl_fd < 0);
	for (int i = 0; i < 2; i++) {
		close(lp[i]);
		close(err_pipe[i]);
	}
}

/* The relay: lines capped, anything but printable ASCII replaced. */
static void test_worklog_sanitizes(void **state)
{
	char long_line[3000], out[8192] = "";
	int in[2], err_pipe[2], saved;
	ssize_t n;

	assert_int_equal(pipe2(in, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(pipe2(err_pipe, O_CLOEXEC | O_NONBLOCK), 0);
	saved = dup(STDERR_FILENO);
	assert_int_equal(dup2(err_pipe[1], STDERR_FILENO), STDERR_FILENO);
	static const char esc[] = "a\x1b[31mred\x07\r\xc3\xa9\tz\n";

	assert_int_equal(write(in[1], esc, sizeof(esc) - 1), (ssize_t)sizeof(esc) - 1);
	memset(long_line, 'x', sizeof(long_line));
	long_line[sizeof(long_line) - 1] = '\n';
	assert_int_equal(write(in[1], long_line, sizeof(long_line)), (ssize_t)sizeof(long_line));
	assert_int_equal(write(in[1], "partial", 7), 7);
	assert_int_equal(ldr_worklog_pump(in[0]), 0);
	close(in[1]);
	ldr_worklog_flush(in[0]); /* EOF: the partial line ends */
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = read(err_pipe[0], out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(out, "a?[31mred????\tz\n")); /* ESC, BEL, CR, and UTF-8 bytes */
	assert_non_null(strstr(out, " [cut]\n"));
	assert_null(strstr(out, "\x1b"));
	assert_non_null(strstr(out, "\npartial\n"));
	close(in[0]);
	close(err_pipe[0]);
	close(err_pipe[1]);
}

static int setup(void **state)
{
	sigfd = ldr_signals_block();
	return sigfd < 0;
}

static int teardown(void **state)
{
	/* reap the signal_me_later helpers */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	close(sigfd);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_ringbuf),
		cmocka_unit_test(test_manifest_perf),
		cmocka_unit_test(test_manifest_rejects),
		cmocka_unit_test(test_manifest_usm),
		cmocka_unit_test(test_worker_start),
		cmocka_unit_test(test_worker_exec_fails),
		cmocka_unit_test(test_supervise_restarts),
		cmocka_unit_test(test_supervise_sigint_and_hup),
		cmocka_unit_test(test_stop_escalates),
		cmocka_unit_test(test_crash_streak_and_log_pipe),
		cmocka_unit_test(test_worklog_sanitizes),
	};

	if (argc == 2 && !strcmp(argv[1], "--child"))
		return child_main();
	return cmocka_run_group_tests(tests, setup, teardown);
}
