/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-client connection state, after Datadog's network.State: a client
 * registers an id; each GetConnections returns the active connections with
 * Last = Monotonic minus what that client saw last, plus every connection
 * closed since its previous call, once. Closed connections fan out to every
 * registered client's buffer as they arrive. Everything is bounded and every
 * drop is counted.
 *
 * Connections are identified by cookie + remote address/port (the cookie
 * alone for TCP; an unconnected UDP socket has one entry per peer).
 *
 * An answer holds each connection once: an active connection whose counters
 * did not move since this client's previous answer is left out (it was
 * reported before; the first report is always sent, a closed connection is
 * always sent once), and entries with the same tuple (type, family, addresses,
 * ports, netns, pid, direction) and the same closed state are merged into one
 * with their counters summed.
 */
#ifndef NW_STATE_H
#define NW_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define STATE_CLIENT_ID_MAX 128

struct state_counters {
	uint64_t sent_bytes;
	uint64_t recv_bytes;
	uint64_t sent_packets;
	uint64_t recv_packets;
	uint32_t retransmits;
	uint32_t tcp_established;
	uint32_t tcp_closed;
};

struct state_conn {
	struct nw_conn conn;        /* Monotonic = conn.stats */
	struct state_counters last; /* delta since this client's previous call */
	bool closed;
	uint32_t merged;            /* connections aggregated into this entry (answers only) */
};

struct state_limits {
	unsigned int max_clients;  /* default 64 */
	size_t max_closed;         /* closed connections buffered per client; default 50000 */
	size_t max_client_stats;   /* per-client counter snapshots; default 75000 */
	uint64_t client_expiry_ns; /* a client not seen this long is dropped; default 2 min */
	uint64_t closed_dedup_ns;  /* how long a closed key is remembered; default 2 min */
	size_t closed_dedup_max;   /* closed keys remembered, oldest forgotten first;
				    * default max(2 * max_closed, 65536) */
	/* kept for the DNS and USM stats per client (not used here yet) */
	size_t max_dns_stats, max_http_stats, max_kafka_stats;
};

struct state_stats {
	uint64_t closed_received;
	uint64_t closed_duplicates;  /* same connection reported closed twice */
	uint64_t closed_dropped;     /* a client's closed buffer was full (per client) */
	uint64_t closed_empty_evicted; /* of those: an empty one made room for one with traffic */
	uint64_t closed_no_clients;  /* closed with nobody registered */
	uint64_t closed_expired;     /* reported closed by idle expiry (state_store_expired) */
	uint64_t conn_dropped;       /* a client's snapshot table was full */
	uint64_t stats_underflows;   /* a counter went backwards */
	uint64_t zero_delta_suppressed; /* active, unchanged, already reported: left out */
	uint64_t conns_aggregated;   /* entries merged into another with the same tuple */
	uint64_t clients_registered;
	uint64_t clients_refused;    /* max_clients reached */
	uint64_t clients_expired;
	uint64_t dedup_full;         /* closed keys forgotten early (memory full): duplicates possible */
	uint64_t closed_held;        /* closed while held after a restart (state_hold_closed) */
	uint64_t closed_held_given;  /* held closed connections handed to clients registering */
};

struct state;

struct state *state_new(const struct state_limits *lim); /* lim NULL: defaults. NULL + errno */
void state_free(struct state *s);                         /* accepts NULL */

/* The identity of a connection for delta purposes. */
void state_key(const struct nw_conn *c, struct nw_conn_key *k);

/* 0 new, 1 already registered; -EINVAL bad id, -ENOSPC too many clients. */
int state_register(struct state *s, const char *client_id, uint64_t now_ns);

/* A connection closed: buffer it for every registered client (once). */
void state_store_closed(struct state *s, const struct nw_conn *c, uint64_t now_ns);
/*
 * Its map entry was removed for being idle: buffer it closed for every client,
 * but do not remember the key as closed, so that traffic that brings the
 * entry back is reported as a connection again, not hidden.
 */
void state_store_expired(struct state *s, const struct nw_conn *c, uint64_t now_ns);
/* Was this connection reported closed recently? (Its map entry is not active.) */
bool state_closed_recently(const struct state *s, const struct nw_conn *c);

/*
 * The delta for one client. *out (owned by s) is valid until the next call.
 * Returns 0, -ENOENT for an unknown client, -EINVAL.
 */
int state_get_delta(struct state *s, const char *client_id, uint64_t now_ns,
		    const struct nw_conn *active, size_t n_active,
		    const struct state_conn **out, size_t *n_out);

/*
 * After a worker restart, clients must register again, and would miss the
 * connections that closed while no worker ran (the ring buffer kept them,
 * the new worker reads them before anyone has registered). Until until_ns,
 * every closed connection is also held (at most max_closed), and a client
 * that registers new starts with what is held. 0 or -ENOMEM.
 */
int state_hold_closed(struct state *s, uint64_t until_ns);

/* Expire idle clients, old closed keys, and the held closed connections. */
void state_tick(struct state *s, uint64_t now_ns);

unsigned int state_clients(const struct state *s);
size_t state_closed_buffered(const struct state *s); /* sum over clients */
void state_get_stats(const struct state *s, struct state_stats *out);
void state_get_limits(const struct state *s, struct state_limits *out); /* with defaults filled in */

#endif
