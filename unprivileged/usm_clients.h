/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Per-client deltas of the HTTP and Kafka stats, as Datadog's network.State
 * keeps them: the trackers' aggregates are drained periodically and added to
 * every registered client's accumulator; GetHTTPStats/GetKafkaStats hand one
 * client what accumulated since its previous call and forget it. Each
 * accumulator is bounded (max_http_stats / max_kafka_stats keys per client)
 * and every key that does not fit is counted as dropped.
 */
#ifndef NW_USM_CLIENTS_H
#define NW_USM_CLIENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unprivileged/usm/http_track.h"
#include "unprivileged/usm/kafka_track.h"

#define USM_CLIENT_ID_MAX 128 /* as STATE_CLIENT_ID_MAX */

struct usm_clients_limits {
	unsigned int max_clients;
	uint32_t max_http;         /* HTTP keys per client */
	uint32_t max_kafka;        /* Kafka keys per client */
	uint64_t expiry_ns;        /* a client not seen this long is forgotten */
	double accuracy;           /* sketch relative accuracy */
	uint32_t max_buckets;      /* per sketch */
	uint8_t hash_key[16];      /* fill from getrandom() before seccomp */
};

struct usm_clients_stats {
	uint64_t http_added;       /* keys added into client accumulators (one per client) */
	uint64_t http_dropped;     /* a client's HTTP accumulator was full */
	uint64_t http_no_clients;  /* drained with nobody registered */
	uint64_t kafka_added;
	uint64_t kafka_dropped;
	uint64_t kafka_no_clients;
	uint64_t merge_failed;     /* a latency distribution could not grow (memory) */
	uint64_t clients_refused;  /* max_clients reached */
	uint64_t clients_expired;
};

struct usm_clients;

/* NULL with errno EINVAL or ENOMEM. */
struct usm_clients *usm_clients_new(const struct usm_clients_limits *lim);
void usm_clients_free(struct usm_clients *c); /* accepts NULL */

/* 0 new, 1 known (its expiry restarts); -EINVAL bad id, -ENOSPC too many, -ENOMEM. */
int usm_clients_register(struct usm_clients *c, const char *id, uint64_t now_ns);

/* One drained aggregate, added to every client. 0, or -ENOMEM if a merge
 * failed somewhere (counted; the other clients got it). */
int usm_clients_add_http(struct usm_clients *c, const struct usm_http_key *key,
			 const struct usm_latency *lat);
int usm_clients_add_kafka(struct usm_clients *c, const struct usm_kafka_key *key,
			  const struct usm_kafka_stats *st);

/* How many keys wait for this client: 0 or -ENOENT (unknown or expired). */
int usm_clients_pending(struct usm_clients *c, const char *id, uint32_t *n_http,
			uint32_t *n_kafka);

/*
 * Hands this client's accumulated stats to cb, then forgets them (cb may keep
 * nothing it was given). The client's expiry restarts. 0, -ENOENT, or cb's
 * negative errno (the scan stops; what was handed over is gone).
 */
int usm_clients_take_http(struct usm_clients *c, const char *id, uint64_t now_ns,
			  int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat,
				    void *ctx),
			  void *ctx);
int usm_clients_take_kafka(struct usm_clients *c, const char *id, uint64_t now_ns,
			   int (*cb)(const struct usm_kafka_key *key,
				     const struct usm_kafka_stats *st, void *ctx),
			   void *ctx);

/* Forget clients not seen for expiry_ns. */
void usm_clients_tick(struct usm_clients *c, uint64_t now_ns);

unsigned int usm_clients_count(const struct usm_clients *c);
void usm_clients_get_stats(const struct usm_clients *c, struct usm_clients_stats *out);

#endif /* NW_USM_CLIENTS_H */
