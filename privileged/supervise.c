/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Supervision: one signalfd, one child. A worker that exits is logged and
 * started again with the same fds after an exponential backoff; SIGTERM or
 * SIGINT ends supervision. Signals only ever arrive through the signalfd.
 * Besides, the loop relays the worker's log pipe, takes its seccomp listener
 * and answers its denied calls (--seccomp=audit), and runs the classic DNS
 * forwarding pump. Fds 0-2 are the loader's stdio: a field at 0 means none.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "privileged/loader.h"

#define BACKOFF_MIN_MS 250u
#define BACKOFF_MAX_MS 30000u
#define BACKOFF_STABLE_MS 60000u  /* a worker up this long starts the backoff over */
#define STOP_WAIT_MS 5000u        /* SIGTERM to SIGKILL */

uint64_t ldr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ldr_signals_block(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	/* read and ignored: a stray kill -USR1 must not take the loader down */
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Delay before the next restart; doubles up to a cap, starts over after a stable run. */
unsigned int ldr_backoff(unsigned int *next_ms, uint64_t uptime_ms)
{
	unsigned int delay;

	if (*next_ms < BACKOFF_MIN_MS || uptime_ms >= BACKOFF_STABLE_MS)
		*next_ms = BACKOFF_MIN_MS;
	if (*next_ms > BACKOFF_MAX_MS)
		*next_ms = BACKOFF_MAX_MS;
	delay = *next_ms;
	*next_ms = delay > BACKOFF_MAX_MS / 2 ? BACKOFF_MAX_MS : delay * 2;
	return delay;
}

void ldr_status_str(int status, char *buf, size_t len)
{
	if (WIFEXITED(status)) {
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		const char *abbrev = sigabbrev_np(sig);
		const char *desc = strsignal(sig);

		snprintf(buf, len, "killed by SIG%s (signal %d, %s)%s", abbrev ? abbrev : "?", sig,
			 desc ? desc : "?", WCOREDUMP(status) ? ", core dumped" : "");
	} else {
		snprintf(buf, len, "unexpected wait status 0x%x", (unsigned int)status);
	}
}

uint64_t ldr_sup_add(struct ldr_worker *w, enum nw_sup_stat i, uint64_t n)
{
	uint64_t *v = w->sup ? w->sup : w->sup_local;

	return __atomic_add_fetch(&v[i], n, __ATOMIC_RELAXED);
}

void ldr_sup_set(struct ldr_worker *w, enum nw_sup_stat i, uint64_t val)
{
	uint64_t *v = w->sup ? w->sup : w->sup_local;

	__atomic_store_n(&v[i], val, __ATOMIC_RELAXED);
}

static uint64_t sup_get(const struct ldr_worker *w, enum nw_sup_stat i)
{
	const uint64_t *v = w->sup ? w->sup : w->sup_local;

	return __atomic_load_n(&v[i], __ATOMIC_RELAXED);
}

static bool own_fd(int fd)
{
	return fd > STDERR_FILENO;
}

/* The dead worker's fds: what it logged last, its listener, its control socket. */
static void worker_gone(struct ldr_worker *w)
{
	ldr_worklog_flush(own_fd(w->log_fd) ? w->log_fd : -1);
	if (own_fd(w->notify_fd))
		close(w->notify_fd);
	if (own_fd(w->ctl_fd))
		close(w->ctl_fd);
	w->notify_fd = w->ctl_fd = -1;
}

/*
 * Reap every exited child; for the worker, log why it died and schedule its
 * restart. A death soon after start extends the crash streak that the next
 * worker reads (sandbox/supervisor.h); a worker that ran longer starts it over.
 */
static void reap(struct ldr_worker *w, uint64_t *restart_at)
{
	char why[96];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		uint64_t now = ldr_now_ms(), uptime, streak;
		unsigned int delay;

		if (pid != w->pid)
			continue;
		uptime = now - w->started_ms;
		delay = ldr_backoff(&w->backoff_ms, uptime);
		streak = uptime < NW_SUP_CRASH_QUICK_MS ? sup_get(w, NW_SUP_CRASH_STREAK) + 1 : 1;
		ldr_sup_set(w, NW_SUP_CRASH_STREAK, streak);
		ldr_sup_set(w, NW_SUP_LAST_EXIT, (uint64_t)(unsigned int)status + 1);
		worker_gone(w);
		ldr_status_str(status, why, sizeof(why));
		ldr_log("worker pid %d exited: %s after %llu.%03llu s; restart %llu in %u ms%s", (int)pid,
			why, (unsigned long long)(uptime / 1000), (unsigned long long)(uptime % 1000),
			(unsigned long long)sup_get(w, NW_SUP_RESTARTS) + 1, delay,
			streak >= NW_SUP_POISON_STREAK ? " (crash streak: the next worker skips the records "
							 "waiting in its buffers)" : "");
		w->pid = 0;
		w->last_exit_ms = now;
		*restart_at = now + delay;
	}
}

static void restart(struct ldr_worker *w, uint64_t *restart_at)
{
	uint64_t n = ldr_sup_add(w, NW_SUP_RESTARTS, 1);
	int err;

	err = ldr_worker_start(w);
	if (!err) {
		ldr_log("worker restarted: pid %d (restart %llu, %llu ms after the last one died)",
			(int)w->pid, (unsigned long long)n,
			(unsigned long long)(ldr_now_ms() - w->last_exit_ms));
		return;
	}
	ldr_log("failed to restart worker (restart %llu): %s", (unsigned long long)n, strerror(-err));
	/* a forked child gets reaped (and rescheduled) through SIGCHLD */
	if (!w->pid)
		*restart_at = ldr_now_ms() + ldr_backoff(&w->backoff_ms, 0);
}

enum { PFD_SIG, PFD_LOG, PFD_CTL, PFD_NOTIFY, PFD_PUMP, PFD_COUNT };

/* The fds worth waking for now; -1 entries are ignored by poll. */
static void poll_set(const struct ldr_worker *w, int sigfd, struct pollfd *p)
{
	for (int i = 0; i < PFD_COUNT; i++)
		p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	p[PFD_SIG].fd = sigfd;
	if (own_fd(w->log_fd))
		p[PFD_LOG].fd = w->log_fd;
	/* audit mode: the handoff of the listener, once per worker */
	if (w->audit && w->pid && !own_fd(w->notify_fd) && own_fd(w->ctl_fd))
		p[PFD_CTL].fd = w->ctl_fd;
	if (own_fd(w->notify_fd))
		p[PFD_NOTIFY].fd = w->notify_fd;
	if (w->pump && w->pump_fd > 0)
		p[PFD_PUMP].fd = w->pump_fd;
}

static void serve(struct ldr_worker *w, const struct pollfd *p)
{
	int err;

	if (p[PFD_LOG].revents && ldr_worklog_pump(w->log_fd) == -EPIPE)
		w->log_fd = -1; /* cannot happen while we hold the write end */
	if (p[PFD_CTL].revents) {
		err = ldr_audit_take(w);
		if (!err)
			ldr_log("seccomp audit: took worker pid %d's notification fd; denied calls are "
				"logged and answered EPERM", (int)w->pid);
		else if (err != -EAGAIN)
			ldr_log("seccomp audit: no notification fd from worker pid %d: %s", (int)w->pid,
				strerror(-err));
		if (err != -EAGAIN) {
			/* one message, once: the worker closes its end after it */
			close(w->ctl_fd);
			w->ctl_fd = -1;
		}
	}
	if (p[PFD_NOTIFY].revents & POLLIN)
		ldr_audit_handle(w);
	else if (p[PFD_NOTIFY].revents & (POLLHUP | POLLERR)) {
		close(w->notify_fd); /* every task using the filter is gone */
		w->notify_fd = -1;
	}
	if (p[PFD_PUMP].revents)
		w->pump(w->pump_ctx);
}

/* Returns SIGTERM or SIGINT when asked to stop, or -errno. */
int ldr_supervise(struct ldr_worker *w, int sigfd)
{
	uint64_t restart_at = 0;

	for (;;) {
		struct pollfd pfd[PFD_COUNT];
		struct signalfd_siginfo si;
		int timeout = -1;

		if (!w->pid) {
			uint64_t now = ldr_now_ms();

			if (now >= restart_at) {
				restart(w, &restart_at);
				continue;
			}
			timeout = restart_at - now > INT_MAX ? INT_MAX : (int)(restart_at - now);
		}
		poll_set(w, sigfd, pfd);
		if (poll(pfd, PFD_COUNT, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		serve(w, pfd);
		while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
				return (int)si.ssi_signo;
			case SIGCHLD:
				reap(w, &restart_at);
				break;
			case SIGHUP:
				ldr_log("SIGHUP ignored: nothing is reloaded; restart netwarden to change flags");
				break;
			default:
				break;
			}
		}
	}
}

/* SIGTERM, a bounded wait, then SIGKILL. */
void ldr_worker_stop(struct ldr_worker *w, int sigfd)
{
	uint64_t deadline = ldr_now_ms() + STOP_WAIT_MS;
	struct signalfd_siginfo si;
	char why[96];
	int status = 0;
	pid_t pid;

	if (!w->pid) {
		worker_gone(w);
		return;
	}
	kill(w->pid, SIGTERM);
	for (;;) {
		struct pollfd p[PFD_COUNT];
		uint64_t now;

		pid = waitpid(w->pid, &status, WNOHANG);
		if (pid == w->pid || (pid < 0 && errno != EINTR))
			break;
		now = ldr_now_ms();
		if (now >= deadline) {
			ldr_log("worker pid %d did not stop within %u ms: SIGKILL", (int)w->pid, STOP_WAIT_MS);
			kill(w->pid, SIGKILL);
			do
				pid = waitpid(w->pid, &status, 0);
			while (pid < 0 && errno == EINTR);
			break;
		}
		/* keep answering the worker (logs, audit) while it shuts down */
		poll_set(w, sigfd, p);
		if (poll(p, PFD_COUNT, (int)(deadline - now)) > 0)
			serve(w, p);
		while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			; /* only SIGCHLD matters here, and waitpid asks for it */
	}
	worker_gone(w);
	if (pid == w->pid) {
		ldr_status_str(status, why, sizeof(why));
		ldr_log("worker pid %d stopped: %s", (int)w->pid, why);
	}
	w->pid = 0;
}
