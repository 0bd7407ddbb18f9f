/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Internals shared by state.c (clients, deltas, answers) and state_closed.c
 * (closed connections buffered per client, closed keys remembered). */
#ifndef NW_STATE_INT_H
#define NW_STATE_INT_H

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
	/* closed since the last call: those with traffic first, then the empty
	 * ones (all counters zero), which are evicted first when full */
	struct state_conn *closed;
	size_t n_closed, n_empty, cap_closed;
	struct keymap *closed_idx; /* key -> uint32 index into closed */
};

/* A key reported closed, in the order they were reported. */
struct closed_key {
	struct nw_conn_key k;
	uint64_t when_ns;
};

struct state {
	struct state_limits lim;
	struct client **clients;
	unsigned int n_clients;
	/* closed keys remembered (a FIFO: the oldest is forgotten first) */
	struct keymap *closed_seen;
	struct closed_key *closed_fifo;
	size_t fifo_head, fifo_len, fifo_cap;
	struct state_conn *out;
	size_t cap_out;
	struct state_stats stats;
	struct client *held;       /* closed connections held after a restart, or NULL */
	uint64_t held_until_ns;
};

/* state.c */
struct client *state_client_new(const struct state *s, const char *id, uint64_t now_ns); /* NULL: ENOMEM */
void state_client_free(struct client *c); /* accepts NULL */

/* state_closed.c */
void state_closed_give_held(struct state *s, struct client *c); /* a new client starts with them */
void state_closed_end_hold(struct state *s, uint64_t now_ns);
void state_closed_forget_old(struct state *s, uint64_t now_ns); /* closed keys older than closed_dedup_ns */

#endif
