/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS statistics, as Datadog's system-probe keeps them: per (client IP,
 * server IP, client port, protocol, domain, query type), counts by rcode, the
 * latency sums of successful (NOERROR) and failed answers, and timeouts.
 *
 * A query opens an in-flight entry keyed by (client, server, client port,
 * protocol, transaction id); its response closes it. A query still open
 * timeout_ns after it was seen is counted as a timeout by dns_stats_tick(),
 * and so is a response that arrives later than that. Retransmissions of an
 * open query keep the first timestamp (the latency the client waited).
 *
 * Bounded: max_inflight open queries and max_entries statistics keys; beyond
 * either, the event is dropped and counted. The exporter walks the entries
 * with dns_stats_next() and then calls dns_stats_reset() (Datadog resets its
 * stats on every poll); open queries survive a reset.
 *
 * Timestamps are the capture times of the packets (CLOCK_MONOTONIC ns).
 */
#ifndef NW_DNS_STATS_H
#define NW_DNS_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unprivileged/dns/dns_parse.h"

#define DNS_STATS_RCODES 16 /* the header's 4-bit rcode */

struct dns_stats_config {
	uint64_t timeout_ns;   /* default 15 s (dns_timeout_in_s) */
	uint32_t max_inflight; /* default 10000 (maxStateMapSize) */
	uint32_t max_entries;  /* default 20000 (max_dns_stats) */
	uint8_t hash_key[16];  /* all zero: from getrandom() (before seccomp) */
};

/* A query's or response's endpoints, from the client's side. */
struct dns_flow {
	struct dns_ip client, server;
	uint16_t client_port;
	uint8_t proto; /* IPPROTO_UDP or IPPROTO_TCP */
};

struct dns_stats_key {
	struct dns_flow flow;
	uint16_t qtype;
	const char *domain; /* owned by the table; valid until dns_stats_reset/free */
};

struct dns_stats_val {
	uint32_t count_by_rcode[DNS_STATS_RCODES];
	uint32_t timeouts;
	uint64_t success_latency_ns; /* sum over NOERROR answers */
	uint64_t failure_latency_ns; /* sum over other rcodes */
};

struct dns_stats_counters {
	uint64_t queries;             /* queries that opened an in-flight entry */
	uint64_t retransmits;         /* queries matching one already open */
	uint64_t responses;           /* responses matched to a query */
	uint64_t unmatched_responses; /* no open query (late, spoofed, or missed) */
	uint64_t timeouts;            /* swept by tick, or answered too late */
	uint64_t dropped_inflight;    /* max_inflight reached */
	uint64_t dropped_stats;       /* max_entries reached */
	uint64_t dropped_nomem;
	uint64_t inflight;            /* open now */
	uint64_t entries;             /* statistics keys now */
};

struct dns_stats;

/* cfg NULL or zero fields: the defaults. NULL + errno (EINVAL, ENOMEM). */
struct dns_stats *dns_stats_new(const struct dns_stats_config *cfg);
void dns_stats_free(struct dns_stats *s); /* accepts NULL */

/*
 * A query seen at ts_ns. domain: the question in text form (lower-cased by
 * the caller; "" when domains are not collected). 0 (also for a retransmit),
 * -ENOSPC (dropped, counted), -ENOMEM, -EINVAL.
 */
int dns_stats_on_query(struct dns_stats *s, const struct dns_flow *f, uint16_t txid,
		       const char *domain, uint16_t qtype, uint64_t ts_ns);

/*
 * A response seen at ts_ns, flow still from the client's side. 0 when it
 * closed a query, -ENOENT when none was open (counted), -ENOSPC when the
 * statistics entry could not be created (counted), -EINVAL.
 */
int dns_stats_on_response(struct dns_stats *s, const struct dns_flow *f, uint16_t txid,
			  uint8_t rcode, uint64_t ts_ns);

/* Count and close the queries open for timeout_ns or more at now_ns. Returns how many. */
size_t dns_stats_tick(struct dns_stats *s, uint64_t now_ns);

/*
 * Iterate the statistics: start with *cursor = 0; false at the end. *val and
 * key->domain point into the table until the next on_query/on_response/
 * tick/reset.
 */
bool dns_stats_next(const struct dns_stats *s, size_t *cursor, struct dns_stats_key *key,
		    const struct dns_stats_val **val);

/*
 * Add v to the entry for k (created if absent): merging another table's
 * entries, e.g. into a client's own table between its queries. 0, -ENOSPC
 * (max_entries reached; counted as dropped_stats), -ENOMEM, -EINVAL.
 */
int dns_stats_add(struct dns_stats *s, const struct dns_stats_key *k, const struct dns_stats_val *v);

/* Forget every statistics entry (after an export); open queries stay. */
void dns_stats_reset(struct dns_stats *s);

void dns_stats_get_counters(const struct dns_stats *s, struct dns_stats_counters *out);

#endif
