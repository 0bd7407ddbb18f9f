/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's limits and timeouts: one table that the loader uses for its
 * flags (--max-closed-buffered=N), its config file (max_closed_buffered = N)
 * and the worker's argv, and that the worker uses to read that argv back. Like
 * the fd manifest, it is the contract across the privilege boundary, so both
 * sides parse with the same code and the same bounds.
 *
 * Durations are kept in milliseconds and written "500ms", "30s", "2m", "1h"
 * (a bare number is seconds); counts are plain decimal numbers.
 */
#ifndef NW_SANDBOX_LIMITS_H
#define NW_SANDBOX_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Never renumber: the worker's stats and tests index by these. */
enum nw_limit {
	NW_LIMIT_CLIENT_EXPIRY = 0,   /* ms: a client not seen this long is dropped */
	NW_LIMIT_MAX_CLIENTS,         /* registered client ids */
	NW_LIMIT_MAX_TRACKED,         /* kernel map nw_conns entries; worker's active set */
	NW_LIMIT_MAX_CLOSED_BUFFERED, /* closed connections buffered per client */
	NW_LIMIT_MAX_CLIENT_STATS,    /* per-client connection baselines */
	NW_LIMIT_TCP_IDLE_TIMEOUT,    /* ms: idle TCP entries removed from the map */
	NW_LIMIT_UDP_IDLE_TIMEOUT,    /* ms: idle UDP entries removed from the map */
	NW_LIMIT_MAX_DNS_STATS,       /* DNS stats keys per client */
	NW_LIMIT_MAX_HTTP_STATS,      /* HTTP stats keys per client */
	NW_LIMIT_MAX_KAFKA_STATS,     /* Kafka stats keys per client */
	NW_LIMIT_DNS_TIMEOUT,         /* ms: a DNS query unanswered this long is a timeout */
	NW_LIMIT_MAX_DNS_INFLIGHT,    /* DNS queries waiting for their response */
	NW_LIMIT_MAX_DNS_CACHE_IPS,   /* addresses in the reverse DNS cache */
	NW_LIMIT_DRAIN_INTERVAL,      /* ms: the worker reads its event buffers this often */
	NW_LIMIT_COUNT,
};

struct nw_limit_def {
	const char *key;  /* config file key, e.g. "max_closed_buffered" */
	const char *flag; /* long option without dashes, e.g. "max-closed-buffered" */
	bool duration;    /* milliseconds, written with a unit */
	uint64_t def, min, max;
	const char *help; /* one line for --help and the README */
};

extern const struct nw_limit_def nw_limit_defs[NW_LIMIT_COUNT];

struct nw_limits {
	uint64_t v[NW_LIMIT_COUNT];
};

void nw_limits_default(struct nw_limits *l);

/* Index of the limit with this config key / flag name, or -ENOENT. */
int nw_limit_by_key(const char *key);
int nw_limit_by_flag(const char *flag);

/*
 * Parse a value for limit id: 0, -EINVAL (not a number / bad unit) or -ERANGE
 * (outside [min, max]). Nothing but the value: no spaces, no sign.
 */
int nw_limit_parse(enum nw_limit id, const char *s, uint64_t *out);

/* The value as nw_limit_parse reads it back ("120000ms", "65536"). */
void nw_limit_format(enum nw_limit id, uint64_t v, char *buf, size_t len);

/* For people: "2m", "30s", "65536". */
void nw_limit_human(enum nw_limit id, uint64_t v, char *buf, size_t len);

/* "a count from 1 to 4194304" / "a duration from 1s to 24h (e.g. 30s, 2m)" */
void nw_limit_expect(enum nw_limit id, char *buf, size_t len);

#endif
