// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Per-client HTTP and Kafka deltas (usm_clients.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/usm_table.h"
#include "unprivileged/usm_clients.h"

#define UC_MAX_CLIENTS_CAP 4096

struct uc_client {
	char id[USM_CLIENT_ID_MAX + 1];
	uint64_t last_seen_ns;
	struct usm_table *http;  /* usm_http_key → usm_latency */
	struct usm_table *kafka; /* usm_kafka_key → usm_kafka_stats */
};

struct usm_clients {
	struct usm_clients_limits lim;
	struct uc_client **v;
	unsigned int n;
	struct usm_clients_stats stats;
};

static void uc_latency_release(void *val)
{
	usm_latency_clear(val);
}

static void uc_kafka_release(void *val)
{
	usm_latency_clear(&((struct usm_kafka_stats *)val)->latency);
}

static void uc_client_free(struct uc_client *cl)
{
	if (!cl)
		return;
	usm_table_free(cl->http, uc_latency_release);
	usm_table_free(cl->kafka, uc_kafka_release);
	free(cl);
}

struct usm_clients *usm_clients_new(const struct usm_clients_limits *lim)
{
	struct usm_clients *c;

	if (!lim || !lim->max_clients || lim->max_clients > UC_MAX_CLIENTS_CAP || !lim->max_http ||
	    !lim->max_kafka || !(lim->accuracy > 0.0 && lim->accuracy <= 0.5) ||
	    lim->max_buckets < 8) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->lim = *lim;
	c->v = calloc(lim->max_clients, sizeof(*c->v));
	if (!c->v) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	return c;
}

void usm_clients_free(struct usm_clients *c)
{
	if (!c)
		return;
	for (unsigned int i = 0; i < c->n; i++)
		uc_client_free(c->v[i]);
	free(c->v);
	free(c);
}

static struct uc_client *uc_find(const struct usm_clients *c, const char *id)
{
	for (unsigned int i = 0; i < c->n; i++)
		if (!strcmp(c->v[i]->id, id))
			return c->v[i];
	return NULL;
}

/* The same rule as state_register: 1..128 printable ASCII bytes. */
static bool uc_id_valid(const char *id)
{
	size_t n = id ? strnlen(id, USM_CLIENT_ID_MAX + 1) : 0;

	if (n == 0 || n > USM_CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (id[i] < 0x20 || id[i] > 0x7e)
			return false;
	return true;
}

int usm_clients_register(struct usm_clients *c, const char *id, uint64_t now_ns)
{
	struct uc_client *cl;

	if (!uc_id_valid(id))
		return -EINVAL;
	cl = uc_find(c, id);
	if (cl) {
		cl->last_seen_ns = now_ns;
		return 1;
	}
	if (c->n >= c->lim.max_clients) {
		c->stats.clients_refused++;
		return -ENOSPC;
	}
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	strcpy(cl->id, id);
	cl->last_seen_ns = now_ns;
	cl->http = usm_table_new(sizeof(struct usm_http_key), sizeof(struct usm_latency),
				 c->lim.max_http, c->lim.hash_key);
	cl->kafka = usm_table_new(sizeof(struct usm_kafka_key), sizeof(struct usm_kafka_stats),
				  c->lim.max_kafka, c->lim.hash_key);
	if (!cl->http || !cl->kafka) {
		uc_client_free(cl);
		return -ENOMEM;
	}
	c->v[c->n++] = cl;
	return 0;
}

int usm_clients_add_http(struct usm_clients *c, const struct usm_http_key *key,
			 const struct usm_latency *lat)
{
	int ret = 0;

	if (!c->n)
		c->stats.http_no_clients++;
	for (unsigned int i = 0; i < c->n; i++) {
		bool created;
		struct usm_latency *dst = usm_table_upsert(c->v[i]->http, key, &created);

		if (!dst) {
			c->stats.http_dropped++;
			continue;
		}
		if (usm_latency_merge(dst, lat, c->lim.accuracy, c->lim.max_buckets)) {
			c->stats.merge_failed++;
			ret = -ENOMEM;
			if (created)
				usm_table_del(c->v[i]->http, key);
			continue;
		}
		c->stats.http_added++;
	}
	return ret;
}

int usm_clients_add_kafka(struct usm_clients *c, const struct usm_kafka_key *key,
			  const struct usm_kafka_stats *st)
{
	int ret = 0;

	if (!c->n)
		c->stats.kafka_no_clients++;
	for (unsigned int i = 0; i < c->n; i++) {
		bool created;
		struct usm_kafka_stats *dst = usm_table_upsert(c->v[i]->kafka, key, &created);

		if (!dst) {
			c->stats.kafka_dropped++;
			continue;
		}
		if (usm_latency_merge(&dst->latency, &st->latency, c->lim.accuracy,
				      c->lim.max_buckets)) {
			c->stats.merge_failed++;
			ret = -ENOMEM;
			if (created)
				usm_table_del(c->v[i]->kafka, key);
			continue;
		}
		dst->count += st->count;
		c->stats.kafka_added++;
	}
	return ret;
}

int usm_clients_pending(struct usm_clients *c, const char *id, uint32_t *n_http,
			uint32_t *n_kafka)
{
	struct uc_client *cl = id ? uc_find(c, id) : NULL;

	if (!cl)
		return -ENOENT;
	*n_http = usm_table_count(cl->http);
	*n_kafka = usm_table_count(cl->kafka);
	return 0;
}

struct uc_take_http {
	int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat, void *ctx);
	void *ctx;
};

static int uc_take_http_one(const void *key, void *val, void *arg)
{
	struct uc_take_http *t = arg;
	int err = t->cb(key, val, t->ctx);

	if (err < 0)
		return err; /* kept for the next call */
	usm_latency_clear(val);
	return USM_TABLE_DELETE;
}

int usm_clients_take_http(struct usm_clients *c, const char *id, uint64_t now_ns,
			  int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat,
				    void *ctx),
			  void *ctx)
{
	struct uc_client *cl = id ? uc_find(c, id) : NULL;
	struct uc_take_http t = { cb, ctx };

	if (!cl)
		return -ENOENT;
	cl->last_seen_ns = now_ns;
	return usm_table_scan(cl->http, uc_take_http_one, &t);
}

struct uc_take_kafka {
	int (*cb)(const struct usm_kafka_key *key, const struct usm_kafka_stats *st, void *ctx);
	void *ctx;
};

static int uc_take_kafka_one(const void *key, void *val, void *arg)
{
	struct uc_take_kafka *t = arg;
	int err = t->cb(key, val, t->ctx);

	if (err < 0)
		return err;
	uc_kafka_release(val);
	return USM_TABLE_DELETE;
}

int usm_clients_take_kafka(struct usm_clients *c, const char *id, uint64_t now_ns,
			   int (*cb)(const struct usm_kafka_key *key,
				     const struct usm_kafka_stats *st, void *ctx),
			   void *ctx)
{
	struct uc_client *cl = id ? uc_find(c, id) : NULL;
	struct uc_take_kafka t = { cb, ctx };

	if (!cl)
		return -ENOENT;
	cl->last_seen_ns = now_ns;
	return usm_table_scan(cl->kafka, uc_take_kafka_one, &t);
}

void usm_clients_tick(struct usm_clients *c, uint64_t now_ns)
{
	for (unsigned int i = 0; i < c->n;) {
		struct uc_client *cl = c->v[i];

		if (now_ns > cl->last_seen_ns && now_ns - cl->last_seen_ns > c->lim.expiry_ns) {
			uc_client_free(cl);
			c->v[i] = c->v[--c->n];
			c->stats.clients_expired++;
			continue;
		}
		i++;
	}
}

unsigned int usm_clients_count(const struct usm_clients *c)
{
	return c->n;
}

void usm_clients_get_stats(const struct usm_clients *c, struct usm_clients_stats *out)
{
	*out = c->stats;
}
