// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keeping the connection view current: closed events go to the per-client
 * state; the map scan yields the active set, and entries that are closed
 * (flagged by the kernel, or belonging to a released socket) or idle for
 * longer than the TCP/UDP idle timeout are reported closed and deleted from
 * the map.
 */
#define _GNU_SOURCE /* struct ucred (rpc.h) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "unprivileged/worker.h"

uint64_t worker_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A limit as configured, or its default when unset (tests, direct use). */
static uint64_t limit(const struct worker *w, enum nw_limit id)
{
	return w->limits.v[id] ? w->limits.v[id] : nw_limit_defs[id].def;
}

void worker_state_limits(const struct nw_limits *l, struct state_limits *out)
{
	memset(out, 0, sizeof(*out));
	out->max_clients = (unsigned int)l->v[NW_LIMIT_MAX_CLIENTS];
	out->max_closed = l->v[NW_LIMIT_MAX_CLOSED_BUFFERED];
	out->max_client_stats = l->v[NW_LIMIT_MAX_CLIENT_STATS];
	out->client_expiry_ns = l->v[NW_LIMIT_CLIENT_EXPIRY] * 1000000ULL;
	/* a closed key must outlive its map entry: the map holds at most
	 * max_tracked_connections, and a refresh deletes the stale ones */
	out->closed_dedup_max = l->v[NW_LIMIT_MAX_TRACKED] > 65536 ? l->v[NW_LIMIT_MAX_TRACKED] : 65536;
	out->max_dns_stats = l->v[NW_LIMIT_MAX_DNS_STATS];
	out->max_http_stats = l->v[NW_LIMIT_MAX_HTTP_STATS];
	out->max_kafka_stats = l->v[NW_LIMIT_MAX_KAFKA_STATS];
}

bool worker_drain_tick(struct worker *w, uint64_t expirations)
{
	uint64_t ms = limit(w, NW_LIMIT_DRAIN_INTERVAL);
	uint64_t per_tick = (WORKER_TICK_MS + ms / 2) / ms; /* 10 at 100 ms */

	w->stats.timer_drains += expirations;
	worker_dns_drain(w->dns);
	worker_usm_drain(w->usm);
	events_drain(w->events);
	w->drains_since_tick += expirations;
	if (w->drains_since_tick < (per_tick ? per_tick : 1))
		return false;
	w->drains_since_tick = 0;
	return true;
}

void worker_on_closed(void *ctx, const struct nw_conn *c)
{
	struct worker *w = ctx;

	if (w->test_hooks)
		worker_test_record(w, c);
	state_store_closed(w->state, c, worker_now_ns());
	worker_usm_conn_closed(w->usm, c);
}

void worker_on_released(void *ctx, uint64_t cookie)
{
	struct worker *w = ctx;
	const struct nw_conn *active;
	size_t n;

	if (keymap_put(w->released, &cookie, NULL))
		return;
	/* pending set full: sweep now, then remember this one */
	w->stats.released_forced++;
	worker_refresh(w, &active, &n);
	keymap_put(w->released, &cookie, NULL);
}

static int active_reserve(struct worker *w, size_t n)
{
	struct nw_conn *p;

	if (n <= w->cap_active)
		return 0;
	p = realloc(w->active, n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	w->active = p;
	w->cap_active = n;
	return 0;
}

/*
 * Idle longer than its protocol's timeout? Datadog keeps an idle TCP entry
 * while its socket still exists; the worker cannot look at sockets from its
 * sandbox, so an idle TCP connection is reported closed after the (longer)
 * TCP timeout even if its socket lives on. If it moves again, the kernel
 * makes a new entry and it is reported as a connection again (bytes from
 * then on; packets and retransmits are the socket's totals).
 */
static bool idle_too_long(const struct worker *w, const struct nw_conn *c, uint64_t now)
{
	uint64_t last = c->stats.last_seen_ns ? c->stats.last_seen_ns : c->stats.first_seen_ns;
	enum nw_limit id = c->tup.type == NW_TYPE_TCP ? NW_LIMIT_TCP_IDLE_TIMEOUT : NW_LIMIT_UDP_IDLE_TIMEOUT;

	return last && now > last && now - last > limit(w, id) * 1000000ULL;
}

/*
 * Remove an idle entry and report it closed once. 0, -ENOENT when the kernel
 * removed it first (its closed event follows), or another -errno (kept).
 */
static int expire_idle(struct worker *w, const struct ct_conn *cc, uint64_t now)
{
	struct nw_conn last;
	int err = conntrack_take(w->ct, &cc->key, &last);

	if (err)
		return err;
	last.stats.flags |= NW_CONN_F_CLOSED;
	if (last.tup.type == NW_TYPE_TCP)
		w->stats.expired_tcp_idle++;
	else
		w->stats.expired_udp_idle++;
	state_store_expired(w->state, &last, now);
	return 0;
}

int worker_refresh(struct worker *w, const struct nw_conn **active, size_t *n_active)
{
	const struct ct_conn *cc;
	size_t nc = 0, n = 0;
	uint64_t now;
	int err, derr;

	w->stats.refreshes++;
	/* closed events first, so a connection closed just before the query is
	 * reported closed and not active */
	derr = events_drain(w->events);
	now = worker_now_ns();
	err = conntrack_scan(w->ct, &cc, &nc);
	if (err)
		w->stats.scan_errors++;
	if (active_reserve(w, nc)) {
		err = -ENOMEM;
		nc = 0;
	}
	for (size_t i = 0; i < nc; i++) {
		const struct nw_conn *c = &cc[i].conn;
		bool released = keymap_len(w->released) &&
				keymap_get(w->released, &cc[i].key.cookie);

		if (released || (c->stats.flags & NW_CONN_F_CLOSED)) {
			struct nw_conn closed = *c;
			closed.stats.flags |= NW_CONN_F_CLOSED;
			if (released)
				w->stats.swept_released++;
			else if (!state_closed_recently(w->state, c))
				w->stats.swept_flagged++; /* its event was lost */
			state_store_closed(w->state, &closed, now);
			conntrack_delete(w->ct, &cc[i].key);
			continue;
		}
		if (state_closed_recently(w->state, c)) {
			/* closed event seen; the kernel has not removed the entry yet */
			conntrack_delete(w->ct, &cc[i].key);
			continue;
		}
		if (idle_too_long(w, c, now)) {
			int r = expire_idle(w, &cc[i], now);
			if (r == 0 || r == -ENOENT)
				continue;
		}
		if (n >= limit(w, NW_LIMIT_MAX_TRACKED)) {
			w->stats.tracked_dropped++;
			continue;
		}
		w->active[n++] = *c;
	}
	keymap_clear(w->released);
	w->stats.conns_active = n;
	*active = w->active;
	*n_active = n;
	if (err)
		return err;
	return derr < 0 ? derr : 0;
}
