// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Keeping the connection view current: closed events go to the per-client
 * state; the map scan yields the active set, and entries that are closed
 * (flagged by the kernel, or belonging to a released socket) are reported
 * closed and deleted from the map.
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

void worker_on_closed(void *ctx, const struct nw_conn *c)
{
	struct worker *w = ctx;

	state_store_closed(w->state, c, worker_now_ns());
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
