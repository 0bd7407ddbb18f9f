// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The worker's confinement, in order, every step fatal (STYLE.md rule 8):
 * skip poisoned records (after a crash streak) → close every fd not kept →
 * namespaces and the empty read-only root → setgroups/setuid, capabilities,
 * rlimits, no_new_privs, non-dumpable → tie to the loader's life → Landlock
 * → seccomp (arch checked first), and in audit mode hand the listener to
 * the supervisor. Only then does the loop read an event or a client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sandbox/namespaces.h"
#include "sandbox/privdrop.h"
#include "sandbox/supervisor.h"
#include "unprivileged/worker.h"

#define NOFILE_SLACK 16 /* accept's refusals, the Landlock ruleset, the listener */

void worker_log(const char *fmt, ...)
{
	static const char prefix[] = "netwarden-worker: ";
	char buf[768];
	size_t p = sizeof(prefix) - 1;
	va_list ap;
	int n;

	memcpy(buf, prefix, p);
	va_start(ap, fmt);
	n = vsnprintf(buf + p, sizeof(buf) - p - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - p - 2)
		n = (int)(sizeof(buf) - p - 2);
	buf[p + (size_t)n] = '\n';
	(void)!write(STDERR_FILENO, buf, p + (size_t)n + 1);
}

/* /proc/self names the pid in the namespace of the /proc mount: the host's. */
pid_t worker_outer_pid(void)
{
	char link[32];
	ssize_t n = readlink("/proc/self", link, sizeof(link) - 1);

	if (n <= 0)
		return getpid();
	link[n] = '\0';
	return (pid_t)atoi(link);
}

uint64_t worker_sup_get(const struct worker *w, unsigned int idx)
{
	uint64_t v = 0;
	__u32 k = idx;

	if (w->sup_fd < 0 || bpf_map_lookup_elem(w->sup_fd, &k, &v))
		return 0;
	return v;
}

static int count_record(void *ctx, void *data, size_t size)
{
	(*(uint64_t *)ctx)++;
	return 0;
}

/*
 * A worker that follows NW_SUP_POISON_STREAK quick deaths consumes every
 * record that waits in every ring or perf buffer (and every packet queued on
 * the classic DNS forwarding socket), without parsing one: the
 * record that killed the last workers is among them (libbpf moves the
 * consumer position only after a record's callback returns, so a crash
 * leaves it at the head). Counted in records_skipped_after_crash.
 */
static int skip_after_crash(struct worker *w)
{
	uint64_t n = 0;
	int rings = 0;

	w->crash_streak = worker_sup_get(w, NW_SUP_CRASH_STREAK);
	if (w->crash_streak < NW_SUP_POISON_STREAK)
		return 0;
	for (int i = 0; i < w->n_fds; i++) {
		uint16_t role = w->m.entries[i].role;
		struct ring_buffer *rb;

		if (role == NW_FD_CLOSED_RINGBUF) {
			long r = events_discard(w->events);
			if (r < 0)
				return (int)r;
			n += (uint64_t)r;
			rings++;
			continue;
		}
		if (role == NW_FD_PKT_FORWARD) {
			/* classic DNS capture: the packets queued on the socket */
			char pkt[64];

			while (recv(w->fds[i], pkt, sizeof(pkt), MSG_DONTWAIT | MSG_TRUNC) >= 0)
				n++;
			rings++;
			continue;
		}
		if (role != NW_FD_PKT_RINGBUF && role != NW_FD_USM_RINGBUF)
			continue;
		/* a consumer of our own: the module's will start where it stopped */
		rb = ring_buffer__new(w->fds[i], count_record, &n, NULL);
		if (!rb)
			return -errno;
		ring_buffer__consume(rb);
		ring_buffer__free(rb);
		rings++;
	}
	if (w->perf_mode) {
		long r = events_discard(w->events);
		if (r < 0)
			return (int)r;
		n += (uint64_t)r;
		rings++;
	}
	w->skipped_after_crash = n;
	worker_log("crash streak %llu: skipped %llu records waiting in %d buffers before reading any",
		   (unsigned long long)w->crash_streak, (unsigned long long)n, rings);
	return 0;
}

/* The loader holds the other end of fd 3 while it lives. */
static bool loader_alive(void)
{
	struct pollfd p = { .fd = NW_CONTROL_FD, .events = POLLIN };

	return poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Audit mode: the listener to the supervisor, in one message on fd 3. */
static int hand_over(int notify_fd)
{
	static const char magic[] = "NWSN";
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { (void *)magic, sizeof(magic) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(&ctl, 0, sizeof(ctl));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &notify_fd, sizeof(int));
	return sendmsg(NW_CONTROL_FD, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len ? 0 : -errno;
}

static int max_fd(const int *keep, size_t n)
{
	int m = STDERR_FILENO;

	for (size_t i = 0; i < n; i++)
		if (keep[i] > m)
			m = keep[i];
	return m;
}

int worker_confine(struct worker *w, const int *keep, size_t n)
{
	struct nw_privdrop p;
	const char *step = "?";
	unsigned int rpc_max = w->rpc_cfg.max_clients ? w->rpc_cfg.max_clients : RPC_MAX_CLIENTS_DEFAULT;
	int notify_fd = -1, err;

	err = skip_after_crash(w);
	if (err) {
		worker_log("failed to skip the records waiting after a crash streak: %s", strerror(-err));
		return err;
	}
	err = nw_privdrop_close_fds(keep, n);
	if (err) {
		worker_log("failed to close inherited fds: %s", strerror(-err));
		return err;
	}
	err = nw_ns_enter_empty(&step);
	if (!err)
		err = nw_ns_verify();
	if (err) {
		worker_log("failed to enter namespaces (%s): %s", step, strerror(-err));
		return err;
	}
	/* only what the loop holds, the RPC clients it may accept, and a little */
	w->nofile = (uint64_t)max_fd(keep, n) + 1 + rpc_max + NOFILE_SLACK;
	p = (struct nw_privdrop){ .uid = w->uid, .gid = w->gid, .keep_fds = keep, .n_keep = n,
				  .nofile = w->nofile };
	err = nw_privdrop_apply(&p, &step);
	if (err) {
		worker_log("failed to drop privileges (%s): %s", step, strerror(-err));
		return err;
	}
	/* setuid cleared the parent-death signal: set it again, then make sure
	 * the loader did not die before it took effect */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || !loader_alive()) {
		worker_log("failed to tie the worker to the loader's lifetime");
		return -ESRCH;
	}
	err = nw_landlock_deny_all(&w->landlock);
	if (err == -EOPNOTSUPP)
		worker_log("Landlock is not available in this kernel: going on without it");
	else if (err) {
		worker_log("failed to apply Landlock: %s", strerror(-err));
		return err;
	}
	if (w->test_hooks)
		worker_test_landlock(w);
	err = nw_seccomp_apply_mode(w->seccomp_mode, NW_SECCOMP_F_LOG, &notify_fd);
	if (err) {
		worker_log("failed to load seccomp allowlist: %s", strerror(-err));
		return err;
	}
	if (w->seccomp_mode == NW_SECCOMP_AUDIT) {
		err = hand_over(notify_fd);
		close(notify_fd);
		if (!err)
			err = nw_seccomp_seal_handoff();
		if (err) {
			worker_log("failed to hand the seccomp listener to the loader: %s", strerror(-err));
			return err;
		}
	}
	/* nothing more to say to the loader */
	close(NW_CONTROL_FD);
	w->seccomp_syscalls = nw_seccomp_count(&nw_seccomp_worker_table, 1, &w->seccomp_filtered);
	return 0;
}
