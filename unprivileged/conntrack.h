/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Snapshot of the nw_conns BPF hash by iteration (BPF_MAP_GET_NEXT_KEY +
 * BPF_MAP_LOOKUP_ELEM). An entry deleted under the iterator makes the kernel
 * restart from the first key; the scan is bounded and de-duplicated.
 */
#ifndef NW_CONNTRACK_H
#define NW_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

struct ct_conn {
	struct nw_conn_key key; /* the map key, for deleting */
	struct nw_conn conn;
};

struct ct_stats {
	uint64_t scans;
	uint64_t last_scan_entries;
	uint64_t iteration_dups;   /* keys seen twice because the iteration restarted */
	uint64_t iteration_aborts; /* scans stopped at the iteration bound */
	uint64_t lookup_misses;    /* key vanished between next_key and lookup */
	uint64_t deleted;
	uint64_t delete_errors;
};

struct conntrack;

/* map_fd stays the caller's. max_entries: the map's. NULL + errno. */
struct conntrack *conntrack_new(int map_fd, uint32_t max_entries);
void conntrack_free(struct conntrack *ct); /* accepts NULL */

/*
 * Read the whole map. *out points into ct and stays valid until the next
 * scan. Returns 0 or -errno (the partial snapshot is still returned).
 */
int conntrack_scan(struct conntrack *ct, const struct ct_conn **out, size_t *n);

/* Delete one entry by map key. 0 or -errno (-ENOENT if already gone). */
int conntrack_delete(struct conntrack *ct, const struct nw_conn_key *key);

/*
 * Delete one entry and get its last value in one step
 * (BPF_MAP_LOOKUP_AND_DELETE_ELEM, hash maps since Linux 5.14): nothing the
 * kernel adds between a scan and the delete is lost. 0 or -errno (-ENOENT if
 * already gone). Counted as a delete.
 */
int conntrack_take(struct conntrack *ct, const struct nw_conn_key *key, struct nw_conn *val);

void conntrack_get_stats(const struct conntrack *ct, struct ct_stats *out);

#endif
