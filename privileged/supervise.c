/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Supervision: one signalfd, one child. A worker that exits is logged and
 * started again with the same fds after an exponential backoff; SIGTERM or
 * SIGINT ends supervision. Signals only ever arrive through the signalfd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
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

/* Reap every exited child; for the worker, log and schedule its restart. */
static void reap(struct ldr_worker *w, unsigned int restarts, uint64_t *restart_at)
{
	char why[96];
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		uint64_t now = ldr_now_ms(), uptime;
		unsigned int delay;

		if (pid != w->pid)
			continue;
		uptime = now - w->started_ms;
		delay = ldr_backoff(&w->backoff_ms, uptime);
		ldr_status_str(status, why, sizeof(why));
		ldr_log("worker pid %d exited: %s after %llu.%03llu s; restart %u in %u ms", (int)pid,
			why, (unsigned long long)(uptime / 1000), (unsigned long long)(uptime % 1000),
			restarts + 1, delay);
		w->pid = 0;
		*restart_at = now + delay;
	}
}

static void restart(struct ldr_worker *w, unsigned int *restarts, uint64_t *restart_at)
{
	int err;

	(*restarts)++;
	err = ldr_worker_start(w);
	if (!err) {
		ldr_log("worker restarted: pid %d (restart %u)", (int)w->pid, *restarts);
		return;
	}
	ldr_log("failed to restart worker (restart %u): %s", *restarts, strerror(-err));
	/* a forked child gets reaped (and rescheduled) through SIGCHLD */
	if (!w->pid)
		*restart_at = ldr_now_ms() + ldr_backoff(&w->backoff_ms, 0);
}

/* Returns SIGTERM or SIGINT when asked to stop, or -errno. */
int ldr_supervise(struct ldr_worker *w, int sigfd)
{
	uint64_t restart_at = 0;
	unsigned int restarts = 0;

	for (;;) {
		/* and the classic DNS capture's packet socket, when there is one */
		struct pollfd pfd[2] = { { .fd = sigfd, .events = POLLIN },
					 { .fd = w->pump ? w->pump_fd : -1, .events = POLLIN } };
		struct signalfd_siginfo si;
		int timeout = -1;

		if (!w->pid) {
			uint64_t now = ldr_now_ms();

			if (now >= restart_at) {
				restart(w, &restarts, &restart_at);
				continue;
			}
			timeout = restart_at - now > INT_MAX ? INT_MAX : (int)(restart_at - now);
		}
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (pfd[1].revents)
			w->pump(w->pump_ctx);
		while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
				return (int)si.ssi_signo;
			case SIGCHLD:
				reap(w, restarts, &restart_at);
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

	if (!w->pid)
		return;
	kill(w->pid, SIGTERM);
	for (;;) {
		struct pollfd pfd = { .fd = sigfd, .events = POLLIN };
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
		if (poll(&pfd, 1, (int)(deadline - now)) > 0)
			while (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				; /* only SIGCHLD matters here, and waitpid asks for it */
	}
	if (pid == w->pid) {
		ldr_status_str(status, why, sizeof(why));
		ldr_log("worker pid %d stopped: %s", (int)w->pid, why);
	}
	w->pid = 0;
}
