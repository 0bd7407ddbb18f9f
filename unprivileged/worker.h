/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The worker's parts, shared by main.c (setup, confinement, loop), worker.c
 * (refreshing connections from events and the map) and handlers.c (RPC). */
#ifndef NW_WORKER_H
#define NW_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h> /* struct ucred: needs _GNU_SOURCE in the includer */
#include <sys/types.h>

#include "netwarden.pb-c.h"
#include "sandbox/manifest.h"
#include "sandbox/landlock.h"
#include "sandbox/limits.h"
#include "sandbox/seccomp_policy.h"
#include "sandbox/supervisor.h"
#include "unprivileged/conntrack.h"
#include "unprivileged/dns_worker.h"
#include "unprivileged/events.h"
#include "unprivileged/evloop.h"
#include "unprivileged/keymap.h"
#include "unprivileged/rpc.h"
#include "unprivileged/state.h"
#include "unprivileged/usm_worker.h"

#define WORKER_RELEASED_MAX 8192 /* pending NW_EV_SOCK_RELEASED cookies before a forced sweep */
/* The tick (RPC timeouts, per-client and DNS/HTTP/Kafka expiry, sweeps),
 * counted in expirations of the drain timer (limit drain_interval). */
#define WORKER_TICK_MS 1000

struct worker_stats {
	uint64_t refreshes;
	uint64_t scan_errors;
	uint64_t swept_released;  /* entries reported closed by a released-socket sweep */
	uint64_t swept_flagged;   /* NW_CONN_F_CLOSED entries found by a scan */
	uint64_t released_forced; /* sweeps forced by a full pending set */
	uint64_t conns_active;    /* after the last refresh */
	uint64_t expired_tcp_idle; /* entries removed from the map after tcp_idle_timeout */
	uint64_t expired_udp_idle; /* ... after udp_idle_timeout */
	uint64_t tracked_dropped; /* active entries beyond max_tracked_connections */
	uint64_t timer_drains;    /* drain timer expirations handled */
};

struct worker {
	/* from argv */
	uid_t uid;
	gid_t gid;
	struct rpc_config rpc_cfg;
	const char *attach_set;
	const char *event_mode;
	bool perf_mode;
	bool test_hooks;
	struct nw_limits limits; /* nw_limits_default() unless given */
	/* from the manifest */
	struct nw_manifest m;
	int fds[NW_MANIFEST_MAX_FDS];
	int n_fds;
	int rpc_fd, conns_fd, tel_fd;
	/* running */
	struct evloop *loop;
	struct rpc_server *rpc;
	struct events *events;
	struct conntrack *ct;
	struct state *state;
	struct keymap *released; /* cookie -> nothing: sweep pending */
	struct worker_usm *usm;  /* HTTP/Kafka, NULL when the loader passed no USM ring */
	struct worker_dns *dns;  /* DNS, NULL when the loader passed no capture (--dns=off) */
	struct nw_conn *active;  /* the last refresh's active connections */
	size_t cap_active;
	struct ev_handler sig_h, timer_h;
	uint64_t start_ns;
	uint64_t drains_since_tick;  /* drain timer expirations since the last tick */
	uint64_t last_housekeeping_ns;
	pid_t pid;
	unsigned int seccomp_syscalls;
	/* the sandbox (confine.c) */
	enum nw_seccomp_mode seccomp_mode; /* --seccomp=audit, else enforce */
	int sup_fd;                   /* nw_supervisor (read-only), or -1 */
	uint64_t crash_streak;        /* the supervisor's, at start */
	uint64_t skipped_after_crash; /* records consumed unread because of it */
	unsigned int seccomp_filtered; /* allowlist syscalls with argument checks */
	uint64_t nofile;              /* RLIMIT_NOFILE */
	struct nw_landlock_info landlock;
	bool stop;
	struct worker_stats stats;
};

uint64_t worker_now_ns(void); /* CLOCK_BOOTTIME, as bpf_ktime_get_boot_ns() */

/* The per-client state's limits from the worker's (state_new's argument). */
void worker_state_limits(const struct nw_limits *l, struct state_limits *out);

/* Event callbacks (events_handlers.ctx = the worker). */
void worker_on_closed(void *ctx, const struct nw_conn *c);
void worker_on_released(void *ctx, uint64_t cookie);

/*
 * The drain timer expired this many times: read every event buffer (closed
 * connections, in perf mode with the partly filled batches; DNS; HTTP/Kafka),
 * which wake the worker themselves only when half full. True when the tick
 * is due (about WORKER_TICK_MS since the last), for the caller to run.
 */
bool worker_drain_tick(struct worker *w, uint64_t expirations);

/*
 * Drain the closed events, scan the map, report swept, closed-flagged and
 * idle entries closed (deleting them from the map). *active is valid until
 * the next refresh. 0 or -errno (a partial scan still fills *active).
 */
int worker_refresh(struct worker *w, const struct nw_conn **active, size_t *n);

/*
 * confine.c: the worker's pid as the loader sees it (the worker is pid 1 of
 * its own namespace); the confinement steps after the keep list, in order,
 * each fatal (logged here). keep must include NW_CONTROL_FD.
 */
void worker_log(const char *fmt, ...) __attribute__((format(printf, 1, 2))); /* one line, one write */
pid_t worker_outer_pid(void);
int worker_confine(struct worker *w, const int *keep, size_t n);
uint64_t worker_sup_get(const struct worker *w, unsigned int idx); /* 0 if unknown */

/* testhooks.c: only with --test-hooks. SIGUSR2 with a sigqueue value picks
 * a forbidden action (enum nw_test_hook); a closed connection on port
 * NW_TEST_CRASH_PORT crashes the worker. */
#define NW_TEST_CRASH_PORT 29171
void worker_test_hook(struct worker *w, int which);
void worker_test_record(struct worker *w, const struct nw_conn *c);
void worker_test_landlock(struct worker *w); /* before seccomp: what Landlock denies alone */

/* The RPC handler and its release function (rpc.h). */
void worker_handle(void *ctx, const struct ucred *peer, const Netwarden__Request *req,
		   Netwarden__Response *resp);
void worker_release(void *ctx, Netwarden__Response *resp);

#endif
