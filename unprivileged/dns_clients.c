// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* DNS statistics per RPC client (dns_clients.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/dns_clients.h"

struct client {
	char id[DNS_CLIENT_ID_MAX + 1];
	uint64_t expires_ns;
	struct dns_stats *tbl; /* NULL: a free slot */
};

struct dns_clients {
	struct dns_clients_cfg cfg;
	struct client *c;
	struct dns_clients_counters ctr;
};

struct dns_clients *dns_clients_new(const struct dns_clients_cfg *cfg)
{
	static const uint8_t zero[16];
	struct dns_clients *dc;

	if (!cfg || !cfg->max_clients || !cfg->max_entries || !memcmp(cfg->hash_key, zero, 16)) {
		errno = EINVAL;
		return NULL;
	}
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return NULL;
	dc->cfg = *cfg;
	dc->c = calloc(cfg->max_clients, sizeof(*dc->c));
	if (!dc->c) {
		free(dc);
		errno = ENOMEM;
		return NULL;
	}
	return dc;
}

static void drop(struct dns_clients *dc, struct client *c)
{
	dns_stats_free(c->tbl);
	memset(c, 0, sizeof(*c));
	dc->ctr.clients--;
}

void dns_clients_free(struct dns_clients *dc)
{
	if (!dc)
		return;
	for (size_t i = 0; i < dc->cfg.max_clients; i++)
		dns_stats_free(dc->c[i].tbl);
	free(dc->c);
	free(dc);
}

static bool id_ok(const char *id)
{
	size_t n = id ? strnlen(id, DNS_CLIENT_ID_MAX + 1) : 0;

	if (!n || n > DNS_CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x21 || id[i] > 0x7e)
			return false;
	return true;
}

struct dns_stats *dns_clients_get(struct dns_clients *dc, const char *id, uint64_t now_ns)
{
	struct dns_stats_config sc = { .max_inflight = 1, .max_entries = dc->cfg.max_entries };
	struct client *free_slot = NULL;

	if (!id_ok(id)) {
		errno = EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < dc->cfg.max_clients; i++) {
		struct client *c = &dc->c[i];

		if (c->tbl && !strcmp(c->id, id)) {
			c->expires_ns = now_ns + dc->cfg.expiry_ns;
			return c->tbl;
		}
		if (!c->tbl && !free_slot)
			free_slot = c;
	}
	if (!free_slot) {
		dc->ctr.refused++;
		errno = ENOSPC;
		return NULL;
	}
	memcpy(sc.hash_key, dc->cfg.hash_key, sizeof(sc.hash_key));
	free_slot->tbl = dns_stats_new(&sc);
	if (!free_slot->tbl)
		return NULL;
	strcpy(free_slot->id, id);
	free_slot->expires_ns = now_ns + dc->cfg.expiry_ns;
	dc->ctr.clients++;
	dc->ctr.created++;
	return free_slot->tbl;
}

void dns_clients_collect(struct dns_clients *dc, struct dns_stats *global)
{
	const struct dns_stats_val *v;
	struct dns_stats_key k;
	size_t cur = 0;

	dc->ctr.collections++;
	while (dns_stats_next(global, &cur, &k, &v))
		for (size_t i = 0; i < dc->cfg.max_clients; i++)
			if (dc->c[i].tbl && dns_stats_add(dc->c[i].tbl, &k, v))
				dc->ctr.dropped++;
	dns_stats_reset(global);
}

size_t dns_clients_expire(struct dns_clients *dc, uint64_t now_ns)
{
	size_t n = 0;

	for (size_t i = 0; i < dc->cfg.max_clients; i++) {
		if (dc->c[i].tbl && now_ns >= dc->c[i].expires_ns) {
			drop(dc, &dc->c[i]);
			dc->ctr.expired++;
			n++;
		}
	}
	return n;
}

void dns_clients_get_counters(const struct dns_clients *dc, struct dns_clients_counters *out)
{
	if (dc && out)
		*out = dc->ctr;
}
