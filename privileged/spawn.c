/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Starting the worker: clone into a new pid namespace, put the control
 * socket on fd 3 and the log pipe on 1 and 2, close every other fd, exec;
 * then send the fd manifest over the control socket. The
 * worker inherits no fd but stdio and fd 3: everything it may use arrives in
 * the manifest, so the list of what crosses the boundary is in one place.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include "privileged/loader.h"

static int add(struct nw_manifest *m, int *fds, int fd, uint16_t role, uint16_t flags, uint32_t arg)
{
	uint16_t i = m->hdr.count;

	if (fd < 0)
		return -EBADF;
	if (i >= NW_MANIFEST_MAX_FDS)
		return -E2BIG;
	m->entries[i] = (struct nw_manifest_entry){ .role = role, .flags = flags, .arg = arg };
	fds[i] = fd;
	m->hdr.count = (uint16_t)(i + 1);
	return 0;
}

/* Exactly one closed-connection channel: the ring buffer, or perf fds for cpus 0..nperf-1. */
int ldr_manifest_build(const struct ldr_fdset *s, struct nw_manifest *m, int *fds)
{
	bool ringbuf = s->ringbuf >= 0;
	int err;

	memset(m, 0, sizeof(*m));
	m->hdr.magic = NW_MANIFEST_MAGIC;
	m->hdr.version = NW_MANIFEST_VERSION;
	if (ringbuf == (s->nperf > 0) || s->nperf > NW_MANIFEST_MAX_FDS)
		return -EINVAL;
	m->hdr.perf_pages = ringbuf ? 0 : LDR_PERF_PAGES;
	err = add(m, fds, s->rpc_listen, NW_FD_RPC_LISTEN, 0, 0);
	if (!err)
		err = add(m, fds, s->conns, NW_FD_CONNS_MAP, 0, 0);
	if (!err)
		err = add(m, fds, s->telemetry_rdonly, NW_FD_TELEMETRY_MAP, NW_FD_F_RDONLY, 0);
	if (!err && ringbuf)
		err = add(m, fds, s->ringbuf, NW_FD_CLOSED_RINGBUF, 0, 0);
	for (size_t cpu = 0; !err && cpu < s->nperf; cpu++)
		err = add(m, fds, s->perf[cpu], NW_FD_CLOSED_PERF, 0, (uint32_t)cpu);
	if (!err && !ringbuf)
		err = add(m, fds, s->closed_batch_rdonly, NW_FD_CLOSED_BATCH, NW_FD_F_RDONLY, 0);
	/* USM capture: the ring (argument: its protocols) with its counters */
	if (!err && s->usm_ring > 0)
		err = add(m, fds, s->usm_ring, NW_FD_USM_RINGBUF, 0, s->usm_protocols);
	if (!err && s->usm_ring > 0)
		err = add(m, fds, s->usm_tel_rdonly, NW_FD_USM_TELEMETRY, NW_FD_F_RDONLY, 0);
	/* DNS capture: the ring with its counters, or the forwarding socket */
	if (!err && s->pkt_ring > STDERR_FILENO)
		err = add(m, fds, s->pkt_ring, NW_FD_PKT_RINGBUF, 0, 0);
	if (!err && s->pkt_ring > STDERR_FILENO)
		err = add(m, fds, s->pkt_tel_rdonly, NW_FD_PKT_TELEMETRY, NW_FD_F_RDONLY, 0);
	if (!err && s->pkt_fwd > STDERR_FILENO)
		err = add(m, fds, s->pkt_fwd, NW_FD_PKT_FORWARD, 0, 0);
	/* the supervisor's counters (restarts, crash streak, seccomp denials) */
	if (!err && s->sup_rdonly > 0)
		err = add(m, fds, s->sup_rdonly, NW_FD_SUPERVISOR_MAP, NW_FD_F_RDONLY, 0);
	if (err)
		m->hdr.count = 0;
	return err;
}

/* In the child between clone and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) exec_worker(const struct ldr_worker *w, int ctl)
{
	static const char msg[] = "netwarden: failed to exec the worker\n";
	struct sigaction dfl;
	sigset_t none;
	int devnull;

	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0)
		_exit(127);
	/* stdout and stderr: the log pipe the loader relays (worklog.c), so the
	 * worker never writes to a file and can run with RLIMIT_FSIZE 0 */
	if (w->log_wfd > STDERR_FILENO &&
	    (dup2(w->log_wfd, STDOUT_FILENO) < 0 || dup2(w->log_wfd, STDERR_FILENO) < 0))
		_exit(127);
	/* dup2 clears FD_CLOEXEC on the copy; on fd 3 already, clear it by hand */
	if (ctl == NW_CONTROL_FD ? fcntl(ctl, F_SETFD, 0) < 0 : dup2(ctl, NW_CONTROL_FD) < 0)
		_exit(127);
	if (close_range(NW_CONTROL_FD + 1, ~0U, 0) < 0)
		_exit(127);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL); /* SIGKILL, SIGSTOP, and glibc's own fail: fine */
	sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
		_exit(127);
	/* own session: no controlling terminal (no TIOCSTI into the operator's
	 * shell), and a terminal's ^C reaches the loader, which stops the worker */
	if (setsid() < 0)
		_exit(127);
	/* SIGKILL: the worker is pid 1 of its namespace, which ignores any
	 * other signal it has no handler for. It sets this again after setuid
	 * (which clears it), then checks that the loader's end of fd 3 is still
	 * open: getppid() is 0 from inside a new pid namespace. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		_exit(127);
	execv(w->path, w->argv);
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(127);
}

/*
 * On success w->pid is the running worker, pid 1 of a new pid namespace
 * (its own pid from our side). If the manifest cannot be sent the child is
 * killed but w->pid stays set so the caller reaps it. The loader keeps its
 * end of the control socket while the worker lives: the worker tells from
 * it that the loader is alive, and in audit mode receives the listener on it.
 */
int ldr_worker_start(struct ldr_worker *w)
{
	pid_t pid;
	int sv[2], err;

	w->pid = 0;
	if (w->ctl_fd > STDERR_FILENO)
		close(w->ctl_fd);
	if (w->notify_fd > STDERR_FILENO)
		close(w->notify_fd);
	w->ctl_fd = w->notify_fd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* fork() into a new pid namespace: the raw clone with no new stack
	 * (glibc's clone() wants one); the child only execs */
	pid = (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0)
		exec_worker(w, sv[1]);
	close(sv[1]);
	w->pid = pid;
	w->started_ms = ldr_now_ms();
	err = nw_manifest_send(sv[0], w->manifest, w->fds);
	w->ctl_fd = sv[0];
	if (err)
		kill(pid, SIGKILL);
	return err;
}
