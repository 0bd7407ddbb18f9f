/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reverse DNS: IP (v4/v6) -> the domain names clients asked for, with TTLs.
 *
 * dns_cache_add_response() follows the answer's CNAME chain from the question
 * name and attaches that question name (lower-cased) to every A/AAAA address
 * of the final alias, for the shortest TTL along the chain: a client that
 * asked for www.a.test and got a CNAME to edge.cdn.test sees "www.a.test" on
 * its connections, as Datadog does.
 *
 * Every resource is bounded and every refusal counted: addresses (max_ips),
 * names per address (max_names_per_ip: expired ones are purged first, then a
 * new name is refused), and the bytes of all stored names (max_name_bytes).
 * TTLs are clamped to [min_ttl_s, max_ttl_s]: a TTL of 0 (common for local
 * records) would otherwise expire before the connection it announces, and a
 * huge TTL would pin an entry forever. Expired names are invisible to
 * lookups at once and freed by dns_cache_expire() (call it periodically).
 */
#ifndef NW_DNS_CACHE_H
#define NW_DNS_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "unprivileged/dns/dns_parse.h"

/* CNAME hops followed from the question name; longer chains are not resolved. */
#define DNS_CACHE_MAX_CNAME_HOPS 16

struct dns_cache_config {
	uint32_t max_ips;          /* default 100000 (Datadog's dnsCacheSize) */
	uint32_t max_names_per_ip; /* default 64 */
	uint64_t max_name_bytes;   /* default 16 MiB, NUL bytes included */
	uint32_t min_ttl_s;        /* default 60 (Datadog's sweep interval) */
	uint32_t max_ttl_s;        /* default 86400 */
	uint8_t hash_key[16];      /* all zero: from getrandom() (before seccomp) */
};

struct dns_cache_stats {
	uint64_t ips;        /* addresses held now */
	uint64_t names;      /* (address, name) pairs held now */
	uint64_t name_bytes; /* bytes of names held now */
	uint64_t added;      /* (address, name) pairs created */
	uint64_t refreshed;  /* pairs whose expiry a new answer extended */
	uint64_t expired;    /* pairs freed by dns_cache_expire */
	uint64_t lookups;
	uint64_t hits;       /* lookups that returned at least one name */
	uint64_t responses;  /* responses given to dns_cache_add_response */
	uint64_t responses_ignored; /* not NOERROR, not IN, no question, or not fully parsed */
	uint64_t dropped_ips_full;     /* max_ips reached */
	uint64_t dropped_names_per_ip; /* max_names_per_ip reached */
	uint64_t dropped_name_bytes;   /* max_name_bytes reached */
	uint64_t dropped_nomem;
	uint64_t cname_chains_too_long; /* more than DNS_CACHE_MAX_CNAME_HOPS, or a loop */
};

struct dns_cache;

/* cfg NULL or zero fields: the defaults. NULL + errno (EINVAL, ENOMEM). */
struct dns_cache *dns_cache_new(const struct dns_cache_config *cfg);
void dns_cache_free(struct dns_cache *c); /* accepts NULL */

/*
 * Attach name (text form, stored as given) to ip until now_ns + ttl_s
 * (clamped). 0, or -ENOSPC (a limit; counted), -ENOMEM (counted), -EINVAL.
 */
int dns_cache_insert(struct dns_cache *c, const struct dns_ip *ip, const char *name, uint32_t ttl_s,
		     uint64_t now_ns);

/*
 * Record a parsed response (see the top of this file). Returns the number of
 * (address, name) pairs added or refreshed (>= 0), or -EINVAL. Responses that
 * are ignored or refused by a limit are counted, not returned as errors.
 */
int dns_cache_add_response(struct dns_cache *c, const struct dns_msg *msg, uint64_t now_ns);

/*
 * Names of ip not expired at now_ns: up to max pointers into names[], *n set.
 * The strings belong to the cache and stay valid until its next insert,
 * add_response, expire or free. 0 if at least one name, else -ENOENT.
 */
int dns_cache_lookup(struct dns_cache *c, const struct dns_ip *ip, uint64_t now_ns,
		     const char **names, size_t max, size_t *n);

/* Free every name expired at now_ns, and addresses left without names. Returns the pairs freed. */
size_t dns_cache_expire(struct dns_cache *c, uint64_t now_ns);

void dns_cache_get_stats(const struct dns_cache *c, struct dns_cache_stats *out);

#endif
