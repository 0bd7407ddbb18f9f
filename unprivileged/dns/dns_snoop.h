/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's one entry point for captured DNS packets: parse (UDP payload,
 * or a TCP segment holding one or more length-prefixed messages), then feed
 * the stats (queries open in-flight entries, responses close them) and the
 * reverse cache (NOERROR responses). Direction comes from the QR bit, not
 * from ports: a query's source is the client, a response's destination is.
 *
 * A response rejected in its answer section still counts for its rcode and
 * latency (its header and question parsed); only its answers are not
 * trusted. Malformed messages are counted by reason.
 */
#ifndef NW_DNS_SNOOP_H
#define NW_DNS_SNOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unprivileged/dns/dns_cache.h"
#include "unprivileged/dns/dns_parse.h"
#include "unprivileged/dns/dns_stats.h"

struct dns_snoop_config {
	struct dns_cache_config cache;
	struct dns_stats_config stats;
	bool no_domains;       /* stats keyed by "" instead of the domain (collect_dns_domains=false) */
	bool skip_loopback;    /* ignore servers in 127/8 and ::1 (collect_local_dns=false) */
	uint64_t expire_every_ns; /* cache sweep period in dns_snoop_tick; default 60 s */
};

/* One captured packet: addresses and ports as on the wire. */
struct dns_packet {
	uint64_t ts_ns; /* capture time, CLOCK_MONOTONIC */
	struct dns_ip src, dst;
	uint16_t sport, dport;
	uint8_t proto;  /* IPPROTO_UDP: payload is one message; IPPROTO_TCP: a segment */
	const uint8_t *payload;
	size_t len;
};

struct dns_snoop_counters {
	uint64_t packets;
	uint64_t messages;       /* DNS messages found (TCP segments may hold several) */
	uint64_t queries;
	uint64_t responses;
	uint64_t truncated;      /* responses with the TC bit */
	uint64_t no_question;    /* messages without a usable question: not counted in stats */
	uint64_t loopback_skipped;
	uint64_t bad_proto;
	uint64_t malformed[DNS_PARSE_ERR__MAX]; /* by reason; [0] unused */
};

struct dns_snoop;

/*
 * cfg NULL: the defaults. NULL + errno. Hash keys left zero in cfg come from
 * getrandom(): call this before seccomp is applied, or fill them.
 */
struct dns_snoop *dns_snoop_new(const struct dns_snoop_config *cfg);
void dns_snoop_free(struct dns_snoop *s); /* accepts NULL */

/* Account one packet. 0, -EBADMSG (malformed; counted), -EINVAL. */
int dns_snoop_packet(struct dns_snoop *s, const struct dns_packet *p);

/* Periodic work: count timeouts, sweep the cache every expire_every_ns. */
void dns_snoop_tick(struct dns_snoop *s, uint64_t now_ns);

/* The tables, for RPC export (stats iterator, reverse lookups). */
struct dns_cache *dns_snoop_cache(struct dns_snoop *s);
struct dns_stats *dns_snoop_stats(struct dns_snoop *s);

void dns_snoop_get_counters(const struct dns_snoop *s, struct dns_snoop_counters *out);

#endif
