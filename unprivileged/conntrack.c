// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Snapshot of the nw_conns map (unprivileged/conntrack.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "unprivileged/conntrack.h"
#include "unprivileged/keymap.h"

#define CT_MAX_ENTRIES (1u << 22)

struct conntrack {
	int map_fd;
	size_t max;          /* the map's max_entries */
	struct ct_conn *buf; /* max entries */
	struct keymap *idx;  /* key -> index into buf, for de-duplication */
	struct ct_stats stats;
};

struct conntrack *conntrack_new(int map_fd, uint32_t max_entries)
{
	struct conntrack *ct;

	if (map_fd < 0 || !max_entries || max_entries > CT_MAX_ENTRIES) {
		errno = EINVAL;
		return NULL;
	}
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return NULL;
	ct->map_fd = map_fd;
	ct->max = max_entries;
	ct->buf = calloc(max_entries, sizeof(*ct->buf));
	ct->idx = keymap_new(sizeof(struct nw_conn_key), sizeof(uint32_t), max_entries);
	if (!ct->buf || !ct->idx) {
		conntrack_free(ct);
		errno = ENOMEM;
		return NULL;
	}
	return ct;
}

void conntrack_free(struct conntrack *ct)
{
	if (!ct)
		return;
	free(ct->buf);
	keymap_free(ct->idx);
	free(ct);
}

int conntrack_scan(struct conntrack *ct, const struct ct_conn **out, size_t *n)
{
	struct nw_conn_key key, next;
	/* a full map walked twice over, plus slack: restarts are rare */
	size_t budget = 2 * ct->max + 64, count = 0;
	bool first = true;
	int err = 0;

	if (!ct || !out || !n)
		return -EINVAL;
	keymap_clear(ct->idx);
	ct->stats.scans++;
	memset(&key, 0, sizeof(key));
	for (;;) {
		struct nw_conn val;
		uint32_t *slot;
		bool created;

		if (!budget--) {
			ct->stats.iteration_aborts++;
			err = -E2BIG;
			break;
		}
		if (bpf_map_get_next_key(ct->map_fd, first ? NULL : &key, &next)) {
			if (errno != ENOENT)
				err = -errno;
			break; /* ENOENT: end of map */
		}
		first = false;
		key = next;
		if (bpf_map_lookup_elem(ct->map_fd, &key, &val)) {
			if (errno == ENOENT) {
				ct->stats.lookup_misses++;
				continue;
			}
			err = -errno;
			break;
		}
		slot = keymap_put(ct->idx, &key, &created);
		if (!slot) {
			err = -ENOSPC; /* more keys than max_entries: map changed under us */
			ct->stats.iteration_aborts++;
			break;
		}
		if (!created) {
			/* restarted iteration: keep the fresher value */
			ct->stats.iteration_dups++;
			ct->buf[*slot].conn = val;
			continue;
		}
		if (count >= ct->max) {
			err = -ENOSPC;
			ct->stats.iteration_aborts++;
			break;
		}
		*slot = (uint32_t)count;
		ct->buf[count].key = key;
		ct->buf[count].conn = val;
		count++;
	}
	ct->stats.last_scan_entries = count;
	*out = ct->buf;
	*n = count;
	return err;
}

int conntrack_delete(struct conntrack *ct, const struct nw_conn_key *key)
{
	if (!ct || !key)
		return -EINVAL;
	if (bpf_map_delete_elem(ct->map_fd, key)) {
		int err = -errno;
		if (err != -ENOENT)
			ct->stats.delete_errors++;
		return err;
	}
	ct->stats.deleted++;
	return 0;
}

int conntrack_take(struct conntrack *ct, const struct nw_conn_key *key, struct nw_conn *val)
{
	if (!ct || !key || !val)
		return -EINVAL;
	if (bpf_map_lookup_and_delete_elem(ct->map_fd, key, val)) {
		int err = -errno;
		if (err != -ENOENT)
			ct->stats.delete_errors++;
		return err;
	}
	ct->stats.deleted++;
	return 0;
}

void conntrack_get_stats(const struct conntrack *ct, struct ct_stats *out)
{
	if (ct && out)
		*out = ct->stats;
}
