// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Limits and timeouts shared by loader and worker (sandbox/limits.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sandbox/limits.h"

#define SEC UINT64_C(1000)
#define MIN (60 * SEC)
#define BIG (UINT64_C(1) << 22) /* the worker's map snapshot bound (conntrack.c) */

/* Defaults after Datadog's system-probe (research/dd_features.md §3). */
const struct nw_limit_def nw_limit_defs[NW_LIMIT_COUNT] = {
	[NW_LIMIT_CLIENT_EXPIRY] = { "client_expiry", "client-expiry", true, 2 * MIN, SEC, 24 * 60 * MIN,
				     "drop a client id's state after this long without a query" },
	[NW_LIMIT_MAX_CLIENTS] = { "max_clients", "max-clients", false, 64, 1, 1024,
				   "registered client ids at once" },
	[NW_LIMIT_MAX_TRACKED] = { "max_tracked_connections", "max-tracked-connections", false, 65536, 1,
				   BIG, "connections tracked at once (size of the kernel map)" },
	[NW_LIMIT_MAX_CLOSED_BUFFERED] = { "max_closed_buffered", "max-closed-buffered", false, 50000, 1,
					   BIG, "closed connections buffered per client between queries" },
	[NW_LIMIT_MAX_CLIENT_STATS] = { "max_client_stats", "max-client-stats", false, 75000, 1, BIG,
					"connections whose counters a client's deltas remember" },
	[NW_LIMIT_TCP_IDLE_TIMEOUT] = { "tcp_idle_timeout", "tcp-idle-timeout", true, 2 * MIN, SEC,
					24 * 60 * MIN, "report a TCP connection idle this long closed" },
	[NW_LIMIT_UDP_IDLE_TIMEOUT] = { "udp_idle_timeout", "udp-idle-timeout", true, 30 * SEC, SEC,
					24 * 60 * MIN, "report a UDP flow idle this long closed" },
	[NW_LIMIT_MAX_DNS_STATS] = { "max_dns_stats", "max-dns-stats", false, 20000, 1, BIG,
				     "DNS stats keys per client" },
	[NW_LIMIT_MAX_HTTP_STATS] = { "max_http_stats", "max-http-stats", false, 10000, 1, BIG,
				      "HTTP stats keys per client" },
	[NW_LIMIT_MAX_KAFKA_STATS] = { "max_kafka_stats", "max-kafka-stats", false, 10000, 1, BIG,
				       "Kafka stats keys per client" },
	[NW_LIMIT_DNS_TIMEOUT] = { "dns_timeout", "dns-timeout", true, 15 * SEC, 100, 10 * MIN,
				   "count a DNS query unanswered this long as a timeout" },
	[NW_LIMIT_MAX_DNS_INFLIGHT] = { "max_dns_inflight", "max-dns-inflight", false, 10000, 1, BIG,
					"DNS queries waiting for their response" },
	[NW_LIMIT_MAX_DNS_CACHE_IPS] = { "max_dns_cache_ips", "max-dns-cache-ips", false, 100000, 1,
					 BIG, "addresses in the reverse DNS cache" },
	/* the event buffers wake the worker only when half full (research/perf.md §4) */
	[NW_LIMIT_DRAIN_INTERVAL] = { "drain_interval", "drain-interval", true, 100, 10, SEC,
				      "read the connection, DNS and HTTP/Kafka buffers this often" },
};

void nw_limits_default(struct nw_limits *l)
{
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		l->v[i] = nw_limit_defs[i].def;
}

int nw_limit_by_key(const char *key)
{
	for (int i = 0; key && i < NW_LIMIT_COUNT; i++)
		if (!strcmp(key, nw_limit_defs[i].key))
			return i;
	return -ENOENT;
}

int nw_limit_by_flag(const char *flag)
{
	for (int i = 0; flag && i < NW_LIMIT_COUNT; i++)
		if (!strcmp(flag, nw_limit_defs[i].flag))
			return i;
	return -ENOENT;
}

static const struct {
	const char *suffix;
	uint64_t ms;
} units[] = { { "ms", 1 }, { "s", SEC }, { "m", MIN }, { "h", 60 * MIN }, { "", SEC } };

int nw_limit_parse(enum nw_limit id, const char *s, uint64_t *out)
{
	const struct nw_limit_def *d;
	uint64_t v = 0, mul = 1;
	size_t i = 0;

	if ((unsigned int)id >= NW_LIMIT_COUNT || !s || !out)
		return -EINVAL;
	d = &nw_limit_defs[id];
	if (s[0] < '0' || s[0] > '9')
		return -EINVAL;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (d->duration) {
		size_t u;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (!strcmp(s + i, units[u].suffix))
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		mul = units[u].ms;
		if (v > UINT64_MAX / mul)
			return -ERANGE;
	} else if (s[i]) {
		return -EINVAL;
	}
	v *= mul;
	if (v < d->min || v > d->max)
		return -ERANGE;
	*out = v;
	return 0;
}

void nw_limit_format(enum nw_limit id, uint64_t v, char *buf, size_t len)
{
	bool ms = (unsigned int)id < NW_LIMIT_COUNT && nw_limit_defs[id].duration;

	snprintf(buf, len, "%" PRIu64 "%s", v, ms ? "ms" : "");
}

/* 90000 -> "90s", 120000 -> "2m", 1500 -> "1500ms" */
static void human_ms(uint64_t ms, char *buf, size_t len)
{
	if (ms == 0)
		snprintf(buf, len, "0s");
	else if (ms % (60 * MIN) == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / (60 * MIN));
	else if (ms % MIN == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / MIN);
	else if (ms % SEC == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / SEC);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

void nw_limit_expect(enum nw_limit id, char *buf, size_t len)
{
	const struct nw_limit_def *d;
	char lo[32], hi[32];

	if ((unsigned int)id >= NW_LIMIT_COUNT) {
		snprintf(buf, len, "?");
		return;
	}
	d = &nw_limit_defs[id];
	if (!d->duration) {
		snprintf(buf, len, "a count from %" PRIu64 " to %" PRIu64, d->min, d->max);
		return;
	}
	human_ms(d->min, lo, sizeof(lo));
	human_ms(d->max, hi, sizeof(hi));
	snprintf(buf, len, "a duration from %s to %s, e.g. 30s, 2m, 1500ms", lo, hi);
}

void nw_limit_human(enum nw_limit id, uint64_t v, char *buf, size_t len)
{
	if ((unsigned int)id < NW_LIMIT_COUNT && nw_limit_defs[id].duration)
		human_ms(v, buf, len);
	else
		snprintf(buf, len, "%" PRIu64, v);
}
