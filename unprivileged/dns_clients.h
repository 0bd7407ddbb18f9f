/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS statistics per RPC client: each client id that asks GetDNSStats gets a
 * table of its own (struct dns_stats) into which the snooper's statistics are
 * merged at every collection; its GetDNSStats returns that table and empties
 * it. So every client sees each query once, whoever else asks, as Datadog's
 * State does for connections. A client id's table is created by its first
 * call (it then holds what the last collection left: at most one collection
 * interval) and dropped after the client expiry without a call.
 *
 * Bounded: max_clients tables of at most max_entries keys each; beyond,
 * refusals and dropped entries are counted.
 */
#ifndef NW_DNS_CLIENTS_H
#define NW_DNS_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "unprivileged/dns/dns_stats.h"

#define DNS_CLIENT_ID_MAX 128

struct dns_clients_cfg {
	size_t max_clients;
	uint32_t max_entries;  /* per client table */
	uint64_t expiry_ns;    /* a table unasked this long is dropped */
	uint8_t hash_key[16];  /* for the tables; must not be all zero under seccomp */
};

struct dns_clients_counters {
	uint64_t clients;   /* tables now */
	uint64_t created;
	uint64_t refused;   /* max_clients reached */
	uint64_t expired;
	uint64_t collections;
	uint64_t dropped;   /* entries a full client table could not take */
};

struct dns_clients;

struct dns_clients *dns_clients_new(const struct dns_clients_cfg *cfg); /* NULL + errno */
void dns_clients_free(struct dns_clients *dc); /* accepts NULL */

/*
 * The table of client id, created if absent, its expiry pushed to now +
 * expiry. NULL + errno: EINVAL (id empty, too long or not printable),
 * ENOSPC (max_clients; counted), ENOMEM.
 */
struct dns_stats *dns_clients_get(struct dns_clients *dc, const char *id, uint64_t now_ns);

/* Merge every entry of global into every client's table, then reset global. */
void dns_clients_collect(struct dns_clients *dc, struct dns_stats *global);

/* Drop the tables not asked for within the expiry. Returns how many. */
size_t dns_clients_expire(struct dns_clients *dc, uint64_t now_ns);

void dns_clients_get_counters(const struct dns_clients *dc, struct dns_clients_counters *out);

#endif
