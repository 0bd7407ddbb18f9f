// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-client connection deltas (unprivileged/state.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/state_int.h"

/* Merging entries with the same tuple in one answer. */
struct agg_key {
	struct nw_conn_tuple t;
	uint8_t closed;
	uint8_t _pad[7];
};

struct agg_val {
	uint32_t idx;   /* into out */
	uint32_t count; /* entries merged into it, itself included */
};

void state_key(const struct nw_conn *c, struct nw_conn_key *k)
{
	memset(k, 0, sizeof(*k));
	k->cookie = c->stats.cookie;
	memcpy(k->peer, c->tup.daddr, sizeof(k->peer));
	k->peer_port = c->tup.dport;
	k->_pad[0] = (uint16_t)(c->tup.family | c->tup.type << 8);
}

static struct state_counters counters_of(const struct nw_conn_stats *s)
{
	struct state_counters c = {
		.sent_bytes = s->sent_bytes,
		.recv_bytes = s->recv_bytes,
		.sent_packets = s->sent_packets,
		.recv_packets = s->recv_packets,
		.retransmits = s->retransmits,
		.tcp_established = s->tcp_established,
		.tcp_closed = s->tcp_closed,
	};
	return c;
}

/* last = cur - prev per field; a counter that went backwards gives 0 and
 * keeps the higher value as the baseline. */
static struct state_counters delta(struct state *s, const struct state_counters *cur,
				   struct state_counters *prev)
{
	struct state_counters d;
	bool under = false;

#define FIELD(f)                                  \
	do {                                      \
		if (cur->f >= prev->f) {          \
			d.f = cur->f - prev->f;   \
			prev->f = cur->f;         \
		} else {                          \
			d.f = 0;                  \
			under = true;             \
		}                                 \
	} while (0)
	FIELD(sent_bytes);
	FIELD(recv_bytes);
	FIELD(sent_packets);
	FIELD(recv_packets);
	FIELD(retransmits);
	FIELD(tcp_established);
	FIELD(tcp_closed);
#undef FIELD
	if (under)
		s->stats.stats_underflows++;
	return d;
}

struct state *state_new(const struct state_limits *lim)
{
	struct state *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (lim)
		s->lim = *lim;
	if (!s->lim.max_clients)
		s->lim.max_clients = 64;
	if (!s->lim.max_closed)
		s->lim.max_closed = 50000;
	if (!s->lim.max_client_stats)
		s->lim.max_client_stats = 75000;
	if (!s->lim.client_expiry_ns)
		s->lim.client_expiry_ns = 120ULL * 1000000000ULL;
	if (!s->lim.closed_dedup_ns)
		s->lim.closed_dedup_ns = 120ULL * 1000000000ULL;
	if (!s->lim.closed_dedup_max)
		s->lim.closed_dedup_max = s->lim.max_closed * 2 > 65536 ? s->lim.max_closed * 2 : 65536;
	if (!s->lim.max_dns_stats)
		s->lim.max_dns_stats = 20000;
	if (!s->lim.max_http_stats)
		s->lim.max_http_stats = 10000;
	if (!s->lim.max_kafka_stats)
		s->lim.max_kafka_stats = 10000;
	s->clients = calloc(s->lim.max_clients, sizeof(*s->clients));
	s->closed_seen = keymap_new(sizeof(struct nw_conn_key), 0, s->lim.closed_dedup_max);
	if (!s->clients || !s->closed_seen) {
		state_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void state_client_free(struct client *c)
{
	if (!c)
		return;
	keymap_free(c->seen);
	keymap_free(c->closed_idx);
	free(c->closed);
	free(c);
}

void state_free(struct state *s)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < s->n_clients; i++)
		state_client_free(s->clients[i]);
	state_client_free(s->held);
	free(s->clients);
	keymap_free(s->closed_seen);
	free(s->closed_fifo);
	free(s->out);
	free(s);
}

static bool valid_id(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strnlen(id, STATE_CLIENT_ID_MAX + 1);
	if (n == 0 || n > STATE_CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
			return false;
	return true;
}

static struct client *find_client(const struct state *s, const char *id)
{
	for (unsigned int i = 0; i < s->n_clients; i++)
		if (!strcmp(s->clients[i]->id, id))
			return s->clients[i];
	return NULL;
}

int state_register(struct state *s, const char *client_id, uint64_t now_ns)
{
	struct client *c;

	if (!s || !valid_id(client_id))
		return -EINVAL;
	c = find_client(s, client_id);
	if (c) {
		c->last_fetch_ns = now_ns; /* keeps it from expiring; state untouched */
		return 1;
	}
	if (s->n_clients >= s->lim.max_clients) {
		s->stats.clients_refused++;
		return -ENOSPC;
	}
	c = state_client_new(s, client_id, now_ns);
	if (!c)
		return -ENOMEM;
	state_closed_end_hold(s, now_ns);
	state_closed_give_held(s, c);
	s->clients[s->n_clients++] = c;
	s->stats.clients_registered++;
	return 0;
}

struct client *state_client_new(const struct state *s, const char *id, uint64_t now_ns)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->last_fetch_ns = now_ns;
	c->seen = keymap_new(sizeof(struct nw_conn_key), sizeof(struct seen), s->lim.max_client_stats);
	c->closed_idx = keymap_new(sizeof(struct nw_conn_key), sizeof(uint32_t), s->lim.max_closed);
	if (!c->seen || !c->closed_idx) {
		state_client_free(c);
		return NULL;
	}
	return c;
}

static int out_push(struct state *s, size_t *n, const struct nw_conn *conn,
		    const struct state_counters *last, bool closed)
{
	if (*n == s->cap_out) {
		size_t cap = s->cap_out ? s->cap_out * 2 : 256;
		struct state_conn *p = realloc(s->out, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->out = p;
		s->cap_out = cap;
	}
	s->out[*n].conn = *conn;
	s->out[*n].last = *last;
	s->out[*n].closed = closed;
	s->out[*n].merged = 1;
	(*n)++;
	return 0;
}

static bool counters_zero(const struct state_counters *d)
{
	return !(d->sent_bytes | d->recv_bytes | d->sent_packets | d->recv_packets | d->retransmits |
		 d->tcp_established | d->tcp_closed);
}

static uint16_t add16(uint16_t a, uint16_t b)
{
	return (uint32_t)a + b > UINT16_MAX ? UINT16_MAX : (uint16_t)(a + b);
}

/* Fold src into dst: counters summed, RTT averaged, the span of both. */
static void merge_into(struct state_conn *dst, const struct state_conn *src, uint32_t dst_count)
{
	struct nw_conn_stats *d = &dst->conn.stats;
	const struct nw_conn_stats *o = &src->conn.stats;

	d->sent_bytes += o->sent_bytes;
	d->recv_bytes += o->recv_bytes;
	d->sent_packets += o->sent_packets;
	d->recv_packets += o->recv_packets;
	d->retransmits += o->retransmits;
	d->tcp_established = add16(d->tcp_established, o->tcp_established);
	d->tcp_closed = add16(d->tcp_closed, o->tcp_closed);
	d->rtt_us = (uint32_t)(((uint64_t)d->rtt_us * dst_count + o->rtt_us) / (dst_count + 1));
	d->rtt_var_us = (uint32_t)(((uint64_t)d->rtt_var_us * dst_count + o->rtt_var_us) / (dst_count + 1));
	if (o->first_seen_ns && (!d->first_seen_ns || o->first_seen_ns < d->first_seen_ns))
		d->first_seen_ns = o->first_seen_ns;
	if (o->last_seen_ns > d->last_seen_ns)
		d->last_seen_ns = o->last_seen_ns;
	d->flags |= o->flags;
	dst->last.sent_bytes += src->last.sent_bytes;
	dst->last.recv_bytes += src->last.recv_bytes;
	dst->last.sent_packets += src->last.sent_packets;
	dst->last.recv_packets += src->last.recv_packets;
	dst->last.retransmits += src->last.retransmits;
	dst->last.tcp_established += src->last.tcp_established;
	dst->last.tcp_closed += src->last.tcp_closed;
}

/*
 * Merge entries of out[0..n) with the same tuple and closed state (e.g. the
 * per-peer entries of a UDP socket that connect()ed to the same peer twice,
 * or a port reused between two queries). Returns the new count. Without
 * memory for the index, nothing is merged.
 */
static size_t aggregate(struct state *s, size_t n)
{
	struct keymap *m;
	size_t w = 0;

	if (n < 2 || !(m = keymap_new(sizeof(struct agg_key), sizeof(struct agg_val), n)))
		return n;
	for (size_t i = 0; i < n; i++) {
		struct agg_key k;
		struct agg_val *v;
		bool created;

		memset(&k, 0, sizeof(k));
		k.t = s->out[i].conn.tup;
		k.t._pad = 0;
		k.closed = s->out[i].closed;
		v = keymap_put(m, &k, &created);
		if (v && !created) {
			merge_into(&s->out[v->idx], &s->out[i], v->count);
			s->out[v->idx].merged += s->out[i].merged;
			v->count++;
			s->stats.conns_aggregated++;
			continue;
		}
		if (v) {
			v->idx = (uint32_t)w;
			v->count = 1;
		}
		if (w != i)
			s->out[w] = s->out[i];
		w++;
	}
	keymap_free(m);
	return w;
}

int state_get_delta(struct state *s, const char *client_id, uint64_t now_ns,
		    const struct nw_conn *active, size_t n_active,
		    const struct state_conn **out, size_t *n_out)
{
	struct client *c;
	size_t n = 0, pos = 0;
	struct seen *sn;
	const void *key;
	int err = 0;

	if (!s || !client_id || !out || !n_out || (n_active && !active))
		return -EINVAL;
	c = find_client(s, client_id);
	if (!c)
		return -ENOENT;
	c->gen++;

	/* closed since the last call, each once: final counters minus what was seen */
	for (size_t i = 0; i < c->n_closed && !err; i++) {
		struct state_conn *sc = &c->closed[i];
		struct state_counters cur = counters_of(&sc->conn.stats), zero = { 0 }, d;
		struct nw_conn_key k;

		state_key(&sc->conn, &k);
		sn = keymap_get(c->seen, &k);
		d = delta(s, &cur, sn ? &sn->c : &zero);
		if (sn)
			keymap_del(c->seen, &k);
		err = out_push(s, &n, &sc->conn, &d, true);
	}
	for (size_t i = 0; i < n_active && !err; i++) {
		struct state_counters cur = counters_of(&active[i].stats), d;
		struct nw_conn_key k;
		bool created;

		state_key(&active[i], &k);
		if (keymap_get(c->closed_idx, &k) || keymap_get(s->closed_seen, &k))
			continue; /* reported as closed */
		sn = keymap_put(c->seen, &k, &created);
		if (!sn) {
			s->stats.conn_dropped++;
			continue;
		}
		d = delta(s, &cur, &sn->c);
		sn->gen = c->gen;
		if (!created && counters_zero(&d)) {
			/* reported before and nothing moved since */
			s->stats.zero_delta_suppressed++;
			continue;
		}
		err = out_push(s, &n, &active[i], &d, false);
	}
	/* forget connections gone from two consecutive calls; one call of grace
	 * lets a close that raced the map scan be matched against what was seen */
	while (keymap_iter(c->seen, &pos, &key, (void **)&sn))
		if (c->gen - sn->gen >= 2)
			keymap_iter_del(c->seen, &pos);

	c->n_closed = 0;
	c->n_empty = 0;
	keymap_clear(c->closed_idx);
	c->last_fetch_ns = now_ns;
	*out = s->out;
	*n_out = aggregate(s, n);
	return err;
}

void state_tick(struct state *s, uint64_t now_ns)
{
	if (!s)
		return;
	for (unsigned int i = 0; i < s->n_clients;) {
		struct client *c = s->clients[i];
		if (now_ns > c->last_fetch_ns && now_ns - c->last_fetch_ns > s->lim.client_expiry_ns) {
			state_client_free(c);
			s->clients[i] = s->clients[--s->n_clients];
			s->stats.clients_expired++;
			continue;
		}
		i++;
	}
	state_closed_forget_old(s, now_ns);
	state_closed_end_hold(s, now_ns);
}

unsigned int state_clients(const struct state *s)
{
	return s ? s->n_clients : 0;
}

size_t state_closed_buffered(const struct state *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (unsigned int i = 0; i < s->n_clients; i++)
		n += s->clients[i]->n_closed;
	return n;
}

void state_get_stats(const struct state *s, struct state_stats *out)
{
	if (s && out)
		*out = s->stats;
}

void state_get_limits(const struct state *s, struct state_limits *out)
{
	if (s && out)
		*out = s->lim;
}
