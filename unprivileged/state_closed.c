// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Closed connections (unprivileged/state.h): buffered for every registered
 * client up to max_closed each, and their keys remembered for a while so a
 * connection reported closed twice (event and map sweep) reaches clients
 * once and a stale map entry of it is not reported active.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/state_int.h"

/* Datadog's isEmpty: no counter moved at all. */
static bool conn_empty(const struct nw_conn *c)
{
	const struct nw_conn_stats *st = &c->stats;

	return !(st->sent_bytes | st->recv_bytes | st->sent_packets | st->recv_packets |
		 st->retransmits | st->tcp_established | st->tcp_closed);
}

/* closed[to] = closed[from], keeping closed_idx right. */
static void closed_move(struct client *c, size_t from, size_t to)
{
	struct nw_conn_key k;
	uint32_t *idx;

	c->closed[to] = c->closed[from];
	state_key(&c->closed[to].conn, &k);
	idx = keymap_get(c->closed_idx, &k);
	if (idx)
		*idx = (uint32_t)to;
}

static void closed_set(struct client *c, size_t pos, const struct nw_conn *conn,
		       const struct nw_conn_key *k)
{
	uint32_t *idx = keymap_put(c->closed_idx, k, NULL);

	memset(&c->closed[pos], 0, sizeof(c->closed[0]));
	c->closed[pos].conn = *conn;
	c->closed[pos].closed = true;
	if (idx) /* cannot fail: closed_idx holds max_closed and we are below */
		*idx = (uint32_t)pos;
}

static bool closed_reserve(struct state *s, struct client *c)
{
	struct state_conn *p;
	size_t cap;

	if (c->n_closed < c->cap_closed)
		return true;
	cap = c->cap_closed ? c->cap_closed * 2 : 64;
	if (cap > s->lim.max_closed)
		cap = s->lim.max_closed;
	p = realloc(c->closed, cap * sizeof(*p));
	if (!p)
		return false;
	c->closed = p;
	c->cap_closed = cap;
	return true;
}

/*
 * Buffer a closed connection for one client, at most max_closed of them.
 * When full, a connection with traffic takes the place of an empty one
 * (Datadog's dropEmpty); otherwise the newcomer is dropped. Either way one
 * closed connection is lost to this client and counted.
 */
static void client_add_closed(struct state *s, struct client *c, const struct nw_conn *conn,
			      const struct nw_conn_key *k)
{
	bool empty = conn_empty(conn);
	size_t first_empty = c->n_closed - c->n_empty;
	uint32_t *idx = keymap_get(c->closed_idx, k);
	struct nw_conn_key old;

	if (idx) {
		/* same connection again: keep the latest; counters only grow,
		 * so it can only stop being empty */
		size_t i = *idx;
		c->closed[i].conn = *conn;
		if (i >= first_empty && !empty) {
			struct state_conn tmp = c->closed[i];
			closed_move(c, first_empty, i);
			c->closed[first_empty] = tmp;
			idx = keymap_get(c->closed_idx, k);
			if (idx)
				*idx = (uint32_t)first_empty;
			c->n_empty--;
		}
		return;
	}
	if (c->n_closed >= s->lim.max_closed) {
		s->stats.closed_dropped++;
		if (empty || !c->n_empty)
			return;
		s->stats.closed_empty_evicted++;
		state_key(&c->closed[first_empty].conn, &old);
		keymap_del(c->closed_idx, &old);
		closed_set(c, first_empty, conn, k);
		c->n_empty--;
		return;
	}
	if (!closed_reserve(s, c)) {
		s->stats.closed_dropped++;
		return;
	}
	if (empty) {
		closed_set(c, c->n_closed, conn, k);
		c->n_empty++;
	} else {
		/* keep the empty ones at the end */
		if (c->n_empty)
			closed_move(c, first_empty, c->n_closed);
		closed_set(c, first_empty, conn, k);
	}
	c->n_closed++;
}

static void fifo_pop(struct state *s)
{
	keymap_del(s->closed_seen, &s->closed_fifo[s->fifo_head].k);
	s->fifo_head = (s->fifo_head + 1) % s->fifo_cap;
	s->fifo_len--;
}

/*
 * Remember k as reported closed; false if it already was. Full: the oldest
 * key is forgotten (counted), which at worst lets a duplicate through.
 */
static bool remember_closed(struct state *s, const struct nw_conn_key *k, uint64_t now_ns)
{
	size_t tail;

	if (keymap_get(s->closed_seen, k))
		return false;
	if (s->fifo_len == s->lim.closed_dedup_max) {
		fifo_pop(s);
		s->stats.dedup_full++;
	}
	if (s->fifo_len == s->fifo_cap) {
		/* grow, unrolling the ring so that it starts at 0 */
		size_t cap = s->fifo_cap ? s->fifo_cap * 2 : 256;
		struct closed_key *p;

		if (cap > s->lim.closed_dedup_max)
			cap = s->lim.closed_dedup_max;
		p = malloc(cap * sizeof(*p));
		if (!p) {
			s->stats.dedup_full++;
			return true; /* not remembered; still reported */
		}
		for (size_t i = 0; i < s->fifo_len; i++)
			p[i] = s->closed_fifo[(s->fifo_head + i) % s->fifo_cap];
		free(s->closed_fifo);
		s->closed_fifo = p;
		s->fifo_cap = cap;
		s->fifo_head = 0;
	}
	if (!keymap_put(s->closed_seen, k, NULL)) {
		s->stats.dedup_full++;
		return true;
	}
	tail = (s->fifo_head + s->fifo_len) % s->fifo_cap;
	s->closed_fifo[tail].k = *k;
	s->closed_fifo[tail].when_ns = now_ns;
	s->fifo_len++;
	return true;
}

static void fan_out(struct state *s, const struct nw_conn *c, const struct nw_conn_key *k,
		    uint64_t now_ns)
{
	state_closed_end_hold(s, now_ns);
	if (s->held) {
		client_add_closed(s, s->held, c, k);
		s->stats.closed_held++;
	}
	if (!s->n_clients) {
		if (!s->held)
			s->stats.closed_no_clients++;
		return;
	}
	for (unsigned int i = 0; i < s->n_clients; i++)
		client_add_closed(s, s->clients[i], c, k);
}

void state_store_closed(struct state *s, const struct nw_conn *c, uint64_t now_ns)
{
	struct nw_conn_key k;

	if (!s || !c)
		return;
	s->stats.closed_received++;
	state_key(c, &k);
	if (!remember_closed(s, &k, now_ns)) {
		s->stats.closed_duplicates++;
		return;
	}
	fan_out(s, c, &k, now_ns);
}

void state_store_expired(struct state *s, const struct nw_conn *c, uint64_t now_ns)
{
	struct nw_conn_key k;

	if (!s || !c)
		return;
	s->stats.closed_received++;
	s->stats.closed_expired++;
	state_key(c, &k);
	fan_out(s, c, &k, now_ns);
}

int state_hold_closed(struct state *s, uint64_t until_ns)
{
	if (!s)
		return -EINVAL;
	if (!s->held) {
		s->held = state_client_new(s, "(held after restart)", 0);
		if (!s->held)
			return -ENOMEM;
	}
	s->held_until_ns = until_ns;
	return 0;
}

void state_closed_end_hold(struct state *s, uint64_t now_ns)
{
	if (s->held && now_ns >= s->held_until_ns) {
		state_client_free(s->held);
		s->held = NULL;
	}
}

void state_closed_give_held(struct state *s, struct client *c)
{
	if (!s->held)
		return;
	for (size_t i = 0; i < s->held->n_closed; i++) {
		struct nw_conn_key k;

		state_key(&s->held->closed[i].conn, &k);
		client_add_closed(s, c, &s->held->closed[i].conn, &k);
		s->stats.closed_held_given++;
	}
}

bool state_closed_recently(const struct state *s, const struct nw_conn *c)
{
	struct nw_conn_key k;

	if (!s || !c)
		return false;
	state_key(c, &k);
	return keymap_get(s->closed_seen, &k) != NULL;
}

void state_closed_forget_old(struct state *s, uint64_t now_ns)
{
	/* the FIFO is in reporting order: forget from the oldest */
	while (s->fifo_len) {
		uint64_t when = s->closed_fifo[s->fifo_head].when_ns;
		if (now_ns <= when || now_ns - when <= s->lim.closed_dedup_ns)
			break;
		fifo_pop(s);
	}
}
