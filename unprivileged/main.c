// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netwarden-worker: exec'd by the loader as root with the control socket on
 * fd 3, as pid 1 of a new pid namespace. Order matters: receive and verify
 * the fd manifest, set up buffers and the loop, then confine (confine.c:
 * close everything else, namespaces and an empty root, drop to the given
 * uid with no capabilities, rlimits, no_new_privs, Landlock, the seccomp
 * allowlist) — and only then read an event or accept a client.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <bpf/bpf.h>

#include "sandbox/privdrop.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/supervisor.h"
#include "unprivileged/worker.h"

#define HOUSEKEEPING_NS (30ULL * 1000000000ULL)

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	static const char prefix[] = "netwarden-worker: ";
	char buf[512];
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
	/* one write per line: lines from two processes never interleave */
	(void)!write(STDERR_FILENO, buf, p + (size_t)n + 1);
}

static void usage(void)
{
	fprintf(stderr, "usage: netwarden-worker --user=UID:GID [--allow-uid=UID[,UID..]] "
			"[--allow-gid=GID[,GID..]] --attach-set=tracepoint|kprobe|fentry "
			"--event-mode=ringbuf|perf [--test-hooks] [--client-expiry=MSms --max-clients=N ...]\n"
			"  started by netwarden with the fd manifest on fd 3; not for direct use\n");
}

static int parse_id(const char *s, const char **end, uint32_t *out)
{
	char *e;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno || v >= UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	*end = e;
	return 0;
}

/* "1,2,3" (or empty) into ids[]; *n on return. */
static int parse_list(const char *s, uint32_t *ids, size_t max, size_t *n)
{
	*n = 0;
	while (*s) {
		const char *e;
		if (*n >= max || parse_id(s, &e, &ids[*n]))
			return -EINVAL;
		(*n)++;
		if (*e == ',' && e[1])
			e++;
		else if (*e)
			return -EINVAL;
		s = e;
	}
	return 0;
}

/* --FLAG=VALUE of one limit (sandbox/limits.h); -EINVAL for anything else. */
static int parse_limit(struct worker *w, const char *a)
{
	const char *eq = strchr(a, '=');
	char flag[64];
	int id;

	if (strncmp(a, "--", 2) || !eq || (size_t)(eq - a - 2) >= sizeof(flag))
		return -EINVAL;
	memcpy(flag, a + 2, (size_t)(eq - a - 2));
	flag[eq - a - 2] = '\0';
	id = nw_limit_by_flag(flag);
	if (id < 0 || nw_limit_parse((enum nw_limit)id, eq + 1, &w->limits.v[id]))
		return -EINVAL;
	return 0;
}

static int parse_args(struct worker *w, int argc, char **argv)
{
	bool have_user = false;

	nw_limits_default(&w->limits);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *e;
		uint32_t ids[RPC_MAX_ALLOW];
		size_t n;

		if (!strncmp(a, "--user=", 7)) {
			uint32_t uid, gid;
			if (parse_id(a + 7, &e, &uid) || *e != ':' || parse_id(e + 1, &e, &gid) || *e)
				return -EINVAL;
			w->uid = uid;
			w->gid = gid;
			have_user = true;
		} else if (!strncmp(a, "--allow-uid=", 12)) {
			if (parse_list(a + 12, ids, RPC_MAX_ALLOW, &n))
				return -EINVAL;
			for (size_t j = 0; j < n; j++)
				w->rpc_cfg.allow_uids[j] = ids[j];
			w->rpc_cfg.n_allow_uids = n;
		} else if (!strncmp(a, "--allow-gid=", 12)) {
			if (parse_list(a + 12, ids, RPC_MAX_ALLOW, &n))
				return -EINVAL;
			for (size_t j = 0; j < n; j++)
				w->rpc_cfg.allow_gids[j] = ids[j];
			w->rpc_cfg.n_allow_gids = n;
		} else if (!strncmp(a, "--attach-set=", 13)) {
			w->attach_set = a + 13;
			if (strcmp(w->attach_set, "tracepoint") && strcmp(w->attach_set, "kprobe") &&
			    strcmp(w->attach_set, "fentry"))
				return -EINVAL;
		} else if (!strncmp(a, "--event-mode=", 13)) {
			w->event_mode = a + 13;
			if (!strcmp(w->event_mode, "perf"))
				w->perf_mode = true;
			else if (strcmp(w->event_mode, "ringbuf"))
				return -EINVAL;
		} else if (!strcmp(a, "--test-hooks")) {
			w->test_hooks = true;
		} else if (!strcmp(a, "--seccomp=audit")) {
			w->seccomp_mode = NW_SECCOMP_AUDIT;
		} else if (parse_limit(w, a)) {
			return -EINVAL;
		}
	}
	if (!have_user || !w->attach_set || !w->event_mode)
		return -EINVAL;
	if (w->uid == 0 || w->gid == 0)
		return -EPERM;
	return 0;
}

static int receive_manifest(struct worker *w)
{
	int type = 0, n, err;
	socklen_t len = sizeof(type);
	int cpus[NW_MANIFEST_MAX_FDS], perf_fds[NW_MANIFEST_MAX_FDS], batch_fd = -1;
	size_t n_perf = 0;

	if (getsockopt(NW_CONTROL_FD, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET) {
		logf_("fd %d is not the control socket (SOCK_SEQPACKET)", NW_CONTROL_FD);
		return -ENOTSOCK;
	}
	n = nw_manifest_recv(NW_CONTROL_FD, &w->m, w->fds, NW_MANIFEST_MAX_FDS);
	if (n < 0) {
		logf_("failed to receive fd manifest: %s", strerror(-n));
		return n;
	}
	w->n_fds = n;
	w->rpc_fd = w->conns_fd = w->tel_fd = w->sup_fd = -1;
	for (int i = 0; i < n; i++) {
		const struct nw_manifest_entry *e = &w->m.entries[i];
		err = nw_manifest_verify_entry(e, w->fds[i]);
		if (err) {
			logf_("failed to verify fd manifest: entry %d (%s) is not what it claims: %s", i,
			      nw_manifest_role_name(e->role), strerror(-err));
			return err;
		}
	}
	err = nw_manifest_verify(&w->m, w->fds);
	if (err) {
		logf_("failed to verify fd manifest: incomplete or inconsistent set of %d fds: %s", n,
		      strerror(-err));
		return err;
	}
	for (int i = 0; i < n; i++) {
		switch (w->m.entries[i].role) {
		case NW_FD_RPC_LISTEN: w->rpc_fd = w->fds[i]; break;
		case NW_FD_CONNS_MAP: w->conns_fd = w->fds[i]; break;
		case NW_FD_TELEMETRY_MAP: w->tel_fd = w->fds[i]; break;
		case NW_FD_CLOSED_BATCH: batch_fd = w->fds[i]; break;
		case NW_FD_SUPERVISOR_MAP: w->sup_fd = w->fds[i]; break;
		case NW_FD_CLOSED_PERF:
			perf_fds[n_perf] = w->fds[i];
			cpus[n_perf++] = (int)w->m.entries[i].arg;
			break;
		default: break;
		}
	}
	if (w->perf_mode != (n_perf > 0)) {
		logf_("fd manifest carries %s buffers but --event-mode=%s",
		      n_perf ? "perf" : "ring", w->event_mode);
		return -EINVAL;
	}
	{
		struct events_handlers h = { worker_on_closed, worker_on_released, w };
		if (w->perf_mode)
			w->events = events_new_perf(perf_fds, cpus, n_perf, w->m.hdr.perf_pages,
						    batch_fd, &h);
		else
			for (int i = 0; i < n; i++)
				if (w->m.entries[i].role == NW_FD_CLOSED_RINGBUF)
					w->events = events_new_ringbuf(w->fds[i], &h);
		if (!w->events) {
			err = -errno;
			logf_("failed to map closed-connection %s buffers: %s", w->event_mode,
			      strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The DNS capture the loader passed: its ring and counters, or its forwarding socket. */
static int receive_dns(struct worker *w)
{
	struct worker_dns_cfg c = { .ring_fd = -1, .tel_fd = -1, .fwd_fd = -1, .limits = &w->limits };
	int err;

	for (int i = 0; i < w->n_fds; i++) {
		switch (w->m.entries[i].role) {
		case NW_FD_PKT_RINGBUF: c.ring_fd = w->fds[i]; break;
		case NW_FD_PKT_TELEMETRY: c.tel_fd = w->fds[i]; break;
		case NW_FD_PKT_FORWARD: c.fwd_fd = w->fds[i]; break;
		default: break;
		}
	}
	if (c.ring_fd < 0 && c.fwd_fd < 0)
		return 0; /* --dns=off */
	w->dns = worker_dns_new(&c);
	if (!w->dns) {
		err = -errno;
		logf_("failed to set up DNS monitoring: %s", strerror(-err));
		return err;
	}
	return 0;
}

/* The USM ring and its counters, when the loader captures HTTP or Kafka. */
static int receive_usm(struct worker *w)
{
	struct worker_usm_cfg c = { .ring_fd = -1, .tel_fd = -1, .limits = &w->limits };
	int err;

	for (int i = 0; i < w->n_fds; i++) {
		if (w->m.entries[i].role == NW_FD_USM_RINGBUF) {
			c.ring_fd = w->fds[i];
			c.protocols = w->m.entries[i].arg;
		} else if (w->m.entries[i].role == NW_FD_USM_TELEMETRY) {
			c.tel_fd = w->fds[i];
		}
	}
	if (c.ring_fd < 0)
		return 0;
	w->usm = worker_usm_new(&c);
	if (!w->usm) {
		err = -errno;
		logf_("failed to set up HTTP/Kafka monitoring: %s", strerror(-err));
		return err;
	}
	return 0;
}

static void on_signal(struct ev_handler *h, uint32_t events)
{
	struct worker *w = (struct worker *)((char *)h - offsetof(struct worker, sig_h));
	struct signalfd_siginfo si;

	while (read(h->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			logf_("%s: exiting", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			w->stop = true;
			break;
		case SIGUSR2:
			/* --test-hooks: sigqueue's value picks the forbidden action */
			worker_test_hook(w, si.ssi_int);
			break;
		default:
			break;
		}
	}
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Refresh without queries often enough for the idle timeouts to mean what they say. */
static uint64_t housekeeping_ns(const struct worker *w)
{
	uint64_t ms = w->limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT];

	if (w->limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT] < ms)
		ms = w->limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT];
	ms /= 2;
	if (ms * 1000000ULL > HOUSEKEEPING_NS)
		return HOUSEKEEPING_NS;
	return ms < WORKER_TICK_MS ? WORKER_TICK_MS * 1000000ULL : ms * 1000000ULL;
}

/*
 * The drain timer: one wakeup per drain_interval whatever the event rate
 * (the buffers wake the worker themselves only when half full), and every
 * WORKER_TICK_MS of them the tick.
 */
static void on_timer(struct ev_handler *h, uint32_t events)
{
	struct worker *w = (struct worker *)((char *)h - offsetof(struct worker, timer_h));
	uint64_t expirations, now;
	const struct nw_conn *active;
	size_t n;

	if (read(h->fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	if (!worker_drain_tick(w, expirations))
		return;
	now = worker_now_ns();
	rpc_server_tick(w->rpc, mono_ms());
	state_tick(w->state, now);
	worker_usm_tick(w->usm, now);
	worker_dns_tick(w->dns);
	if (keymap_len(w->released) || now - w->last_housekeeping_ns > housekeeping_ns(w)) {
		/* sweep released sockets and closed entries even when nobody asks */
		worker_refresh(w, &active, &n);
		w->last_housekeeping_ns = now;
	}
}

static int setup_loop(struct worker *w)
{
	uint64_t drain_ms = w->limits.v[NW_LIMIT_DRAIN_INTERVAL];
	struct timespec every = { (time_t)(drain_ms / 1000), (long)(drain_ms % 1000) * 1000000L };
	struct itimerspec its = { every, every };
	struct state_limits sl;
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	sigset_t mask;
	int err;

	signal(SIGPIPE, SIG_IGN);
	err = receive_dns(w); /* before seccomp: its tables' keys come from getrandom */
	if (err)
		return err;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	w->sig_h.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	w->sig_h.fn = on_signal;
	w->timer_h.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	w->timer_h.fn = on_timer;
	if (w->sig_h.fd < 0 || w->timer_h.fd < 0 || timerfd_settime(w->timer_h.fd, 0, &its, NULL) < 0)
		return -errno;
	w->loop = evloop_new();
	if (!w->loop)
		return -errno;
	if ((err = evloop_add(w->loop, &w->sig_h, EPOLLIN)) ||
	    (err = evloop_add(w->loop, &w->timer_h, EPOLLIN)) ||
	    (err = events_attach(w->events, w->loop)) ||
	    (err = worker_usm_attach(w->usm, w->loop)))
		return err;
	err = worker_dns_attach(w->dns, w->loop);
	if (err)
		return err;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(w->conns_fd, &info, &len))
		return -errno;
	w->ct = conntrack_new(w->conns_fd, info.max_entries);
	worker_state_limits(&w->limits, &sl);
	w->state = state_new(&sl);
	w->released = keymap_new(sizeof(uint64_t), 0, WORKER_RELEASED_MAX);
	if (!w->ct || !w->state || !w->released)
		return -ENOMEM;
	/* registers the listening socket; nothing is accepted before the loop */
	w->rpc = rpc_server_new(w->rpc_fd, w->loop, &w->rpc_cfg, worker_handle, worker_release, w);
	if (!w->rpc)
		return errno ? -errno : -ENOMEM;
	return 0;
}

static int confine(struct worker *w)
{
	int keep[NW_MANIFEST_MAX_FDS + 16];
	size_t n = 0;
	keep[n++] = STDIN_FILENO;
	keep[n++] = STDOUT_FILENO;
	keep[n++] = STDERR_FILENO;
	for (int i = 0; i < w->n_fds; i++)
		keep[n++] = w->fds[i];
	keep[n++] = evloop_fd(w->loop);
	keep[n++] = w->sig_h.fd;
	keep[n++] = w->timer_h.fd;
	n += events_fds(w->events, keep + n, sizeof(keep) / sizeof(keep[0]) - n);
	n += worker_usm_fds(w->usm, keep + n, sizeof(keep) / sizeof(keep[0]) - n);
	n += worker_dns_fds(w->dns, keep + n, sizeof(keep) / sizeof(keep[0]) - n);
	/* the control socket until confined: the loader's lifeline, and the
	 * audit listener's way out; closed at the end of confinement */
	keep[n++] = NW_CONTROL_FD;
	return worker_confine(w, keep, n);
}

int main(int argc, char **argv)
{
	static struct worker w;
	int err;

	err = parse_args(&w, argc, argv);
	if (err) {
		if (err == -EPERM)
			logf_("refusing to run as uid/gid 0: give --user a non-root uid:gid");
		usage();
		return 2;
	}
	w.pid = worker_outer_pid(); /* getpid() is 1: our own pid namespace */
	w.start_ns = worker_now_ns();
	w.last_housekeeping_ns = w.start_ns;
	if (receive_manifest(&w) || receive_usm(&w))
		return 1;
	err = setup_loop(&w);
	if (err) {
		logf_("failed to set up event loop: %s", strerror(-err));
		return 1;
	}
	if (confine(&w))
		return 1;
	logf_("confined: uid %u gid %u, no capabilities, no_new_privs, seccomp allowlist of %u "
	      "syscalls (%u argument-checked, %s); pid 1 in new pid/mount/net/ipc/uts namespaces, "
	      "empty read-only root, nofile %llu, nproc/fsize/memlock/core 0, non-dumpable, "
	      "Landlock ABI %d; restart %llu; attach set %s, %s events, %d fds",
	      (unsigned)w.uid, (unsigned)w.gid, w.seccomp_syscalls, w.seccomp_filtered,
	      w.seccomp_mode == NW_SECCOMP_AUDIT ? "audit" : "enforce", (unsigned long long)w.nofile,
	      w.landlock.abi, (unsigned long long)worker_sup_get(&w, NW_SUP_RESTARTS), w.attach_set,
	      w.event_mode, w.n_fds);
	/* clients re-register after a restart: hold what closes meanwhile for them */
	if (worker_sup_get(&w, NW_SUP_RESTARTS) &&
	    state_hold_closed(w.state, worker_now_ns() + w.limits.v[NW_LIMIT_CLIENT_EXPIRY] * 1000000ULL))
		logf_("failed to hold closed connections for re-registering clients: out of memory");
	while (!w.stop) {
		err = evloop_run_once(w.loop, -1);
		if (err < 0) {
			logf_("event loop failed: %s", strerror(-err));
			return 1;
		}
	}
	rpc_server_free(w.rpc);
	events_free(w.events);
	worker_dns_free(w.dns);
	return 0;
}
