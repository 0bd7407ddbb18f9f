/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's USM part: the ring buffer nw_usm_rb consumed in the epoll loop
 * and fed to the HTTP/Kafka trackers (unprivileged/usm/usm.h), closed
 * connections forgotten there, idle ones expired, and the trackers' aggregates
 * moved into the per-client accumulators (usm_clients.h) on every tick and
 * before every query. Built before the privilege drop (hash keys come from
 * getrandom, the CPU count from sysfs); nothing here makes a syscall the
 * seccomp allowlist does not already hold.
 */
#ifndef NW_USM_WORKER_H
#define NW_USM_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "sandbox/limits.h"
#include "unprivileged/evloop.h"
#include "unprivileged/usm/usm.h"
#include "unprivileged/usm_clients.h"

struct worker_usm_cfg {
	int ring_fd;          /* nw_usm_rb, or -1 (tests feed samples by hand) */
	int tel_fd;           /* nw_usm_tel read-only, or -1 */
	uint32_t protocols;   /* USM_PROTO_BIT mask (the manifest argument) */
	const struct nw_limits *limits; /* max_clients, max_http_stats, ... */
	const uint8_t *hash_key; /* 16 bytes; NULL: getrandom() */
};

struct worker_usm_stats {
	uint64_t ring_drains;      /* consume calls that found records */
	uint64_t closed_forgotten; /* closed connections the trackers still had */
	uint64_t expired_conns;    /* idle connections expired by the trackers */
	uint64_t flushes;          /* tracker aggregates moved to the clients */
};

struct worker_usm;

/* NULL + errno. The fds stay owned by the caller. */
struct worker_usm *worker_usm_new(const struct worker_usm_cfg *cfg);
void worker_usm_free(struct worker_usm *u); /* accepts NULL */

/* The ring's epoll fd in the loop (records consumed when it wakes). */
int worker_usm_attach(struct worker_usm *u, struct evloop *loop);
/* Fds to keep open across the privilege drop; returns how many (<= max). */
size_t worker_usm_fds(const struct worker_usm *u, int *out, size_t max);

bool worker_usm_enabled(const struct worker_usm *u, enum usm_protocol p);

/* Consume what waits in the ring. Records, or -errno. */
int worker_usm_drain(struct worker_usm *u);
/* One ring sample (the ring's callback; tests call it directly). */
void worker_usm_sample(struct worker_usm *u, const void *data, size_t size);
/* A connection closed: the records before its close event are consumed first. */
void worker_usm_conn_closed(struct worker_usm *u, const struct nw_conn *c);
/* Drain the ring and move the trackers' aggregates into every client. */
void worker_usm_flush(struct worker_usm *u);
/* Once per timer tick: flush, expire idle connections and idle clients. */
void worker_usm_tick(struct worker_usm *u, uint64_t now_ns);

/* A client registered (Register RPC): 0, 1 known, -errno (as usm_clients_register). */
int worker_usm_register(struct worker_usm *u, const char *client_id, uint64_t now_ns);
struct usm_clients *worker_usm_clients(struct worker_usm *u);

/* Every counter by name for GetStats; names stay valid for the process's life. */
void worker_usm_stats(struct worker_usm *u, void (*add)(void *ctx, const char *name, uint64_t v),
		      void *ctx);

/* The closed connection's tuples as the capture writes them (netns 0); 0, 1
 * or 2 of them (unknown direction: both orientations). Exposed for tests. */
size_t worker_usm_tuples(const struct nw_conn *c, struct usm_tuple out[2]);

#endif /* NW_USM_WORKER_H */
