// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-client connection deltas (unprivileged/state.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/keymap.h"
#include "unprivileged/state.h"

/* What a client saw of one connection at its last call. */
struct seen {
	struct state_counters c;
	uint32_t gen; /* the client's fetch generation it was last active in */
};

struct client {
	char id[STATE_CLIENT_ID_MAX + 1];
	uint64_t last_fetch_ns;
	uint32_t gen;
	struct keymap *seen;       /* key -> struct seen */
	struct state_conn *closed; /* closed since the last call */
	size_t n_closed, cap_closed;
	struct keymap *closed_idx; /* key -> uint32 index into closed */
};

struct state {
	struct state_limits lim;
	struct client **clients;
	unsigned int n_clients;
	struct keymap *closed_seen; /* key -> uint64 ns it was reported closed */
	struct state_conn *out;
	size_t cap_out;
	struct state_stats stats;
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
	s->clients = calloc(s->lim.max_clients, sizeof(*s->clients));
	s->closed_seen = keymap_new(sizeof(struct nw_conn_key), sizeof(uint64_t),
				    s->lim.max_closed * 2);
	if (!s->clients || !s->closed_seen) {
		state_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

static void client_free(struct client *c)
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
		client_free(s->clients[i]);
	free(s->clients);
	keymap_free(s->closed_seen);
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
	if (s->n_clients >= s->lim.max_clients)
		return -ENOSPC;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	strcpy(c->id, client_id);
	c->last_fetch_ns = now_ns;
	c->seen = keymap_new(sizeof(struct nw_conn_key), sizeof(struct seen), s->lim.max_client_stats);
	c->closed_idx = keymap_new(sizeof(struct nw_conn_key), sizeof(uint32_t), s->lim.max_closed);
	if (!c->seen || !c->closed_idx) {
		client_free(c);
		return -ENOMEM;
	}
	s->clients[s->n_clients++] = c;
	s->stats.clients_registered++;
	return 0;
}

static void client_add_closed(struct state *s, struct client *c, const struct nw_conn *conn,
			      const struct nw_conn_key *k)
{
	uint32_t *idx;
	bool created;

	idx = keymap_get(c->closed_idx, k);
	if (idx) {
		c->closed[*idx].conn = *conn; /* same connection again: keep the latest */
		return;
	}
	if (c->n_closed >= s->lim.max_closed) {
		s->stats.closed_dropped++;
		return;
	}
	if (c->n_closed == c->cap_closed) {
		size_t cap = c->cap_closed ? c->cap_closed * 2 : 64;
		struct state_conn *p;
		if (cap > s->lim.max_closed)
			cap = s->lim.max_closed;
		p = realloc(c->closed, cap * sizeof(*p));
		if (!p) {
			s->stats.closed_dropped++;
			return;
		}
		c->closed = p;
		c->cap_closed = cap;
	}
	idx = keymap_put(c->closed_idx, k, &created);
	if (!idx) {
		s->stats.closed_dropped++;
		return;
	}
	*idx = (uint32_t)c->n_closed;
	memset(&c->closed[c->n_closed], 0, sizeof(c->closed[0]));
	c->closed[c->n_closed].conn = *conn;
	c->closed[c->n_closed].closed = true;
	c->n_closed++;
}

void state_store_closed(struct state *s, const struct nw_conn *c, uint64_t now_ns)
{
	struct nw_conn_key k;
	uint64_t *when;
	bool created;

	if (!s || !c)
		return;
	s->stats.closed_received++;
	state_key(c, &k);
	when = keymap_put(s->closed_seen, &k, &created);
	if (when && !created) {
		s->stats.closed_duplicates++;
		return;
	}
	if (when)
		*when = now_ns;
	else
		s->stats.dedup_full++;
	if (!s->n_clients) {
		s->stats.closed_no_clients++;
		return;
	}
	for (unsigned int i = 0; i < s->n_clients; i++)
		client_add_closed(s, s->clients[i], c, &k);
}

bool state_closed_recently(const struct state *s, const struct nw_conn *c)
{
	struct nw_conn_key k;

	if (!s || !c)
		return false;
	state_key(c, &k);
	return keymap_get(s->closed_seen, &k) != NULL;
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
	(*n)++;
	return 0;
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

	/* closed since the last call: final counters minus what was seen */
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
		err = out_push(s, &n, &active[i], &d, false);
	}
	/* forget connections gone from two consecutive calls; one call of grace
	 * lets a close that raced the map scan be matched against what was seen */
	while (keymap_iter(c->seen, &pos, &key, (void **)&sn))
		if (c->gen - sn->gen >= 2)
			keymap_iter_del(c->seen, &pos);

	c->n_closed = 0;
	keymap_clear(c->closed_idx);
	c->last_fetch_ns = now_ns;
	*out = s->out;
	*n_out = n;
	return err;
}

void state_tick(struct state *s, uint64_t now_ns)
{
	size_t pos = 0;
	const void *key;
	uint64_t *when;

	if (!s)
		return;
	for (unsigned int i = 0; i < s->n_clients;) {
		struct client *c = s->clients[i];
		if (now_ns > c->last_fetch_ns && now_ns - c->last_fetch_ns > s->lim.client_expiry_ns) {
			client_free(c);
			s->clients[i] = s->clients[--s->n_clients];
			s->stats.clients_expired++;
			continue;
		}
		i++;
	}
	while (keymap_iter(s->closed_seen, &pos, &key, (void **)&when))
		if (now_ns > *when && now_ns - *when > s->lim.closed_dedup_ns)
			keymap_iter_del(s->closed_seen, &pos);
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
