// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Reverse DNS cache (unprivileged/dns/dns_cache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "unprivileged/dns/dns_cache.h"
#include "unprivileged/dns/dns_hash.h"

#define NS_PER_S 1000000000ULL
#define DNS_CACHE_MAX_IPS_LIMIT (1u << 24)

struct cache_name {
	char *name;
	uint32_t size; /* strlen + 1, as accounted in name_bytes */
	uint64_t expires_ns;
};

struct cache_entry {
	struct cache_entry *next; /* bucket chain */
	struct dns_ip ip;
	uint32_t n_names, cap_names;
	struct cache_name *names;
};

struct dns_cache {
	struct dns_cache_config cfg;
	struct dns_hash_key key;
	size_t n_buckets; /* power of two */
	struct cache_entry **buckets;
	struct dns_cache_stats st;
};

static const struct dns_cache_config cache_defaults = {
	.max_ips = 100000,
	.max_names_per_ip = 64,
	.max_name_bytes = 16u << 20,
	.min_ttl_s = 60,
	.max_ttl_s = 86400,
};

struct dns_cache *dns_cache_new(const struct dns_cache_config *cfg)
{
	struct dns_cache *c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = cache_defaults;
	if (cfg) {
		if (cfg->max_ips)
			c->cfg.max_ips = cfg->max_ips;
		if (cfg->max_names_per_ip)
			c->cfg.max_names_per_ip = cfg->max_names_per_ip;
		if (cfg->max_name_bytes)
			c->cfg.max_name_bytes = cfg->max_name_bytes;
		if (cfg->min_ttl_s)
			c->cfg.min_ttl_s = cfg->min_ttl_s;
		if (cfg->max_ttl_s)
			c->cfg.max_ttl_s = cfg->max_ttl_s;
	}
	if (c->cfg.max_ips > DNS_CACHE_MAX_IPS_LIMIT || c->cfg.min_ttl_s > c->cfg.max_ttl_s) {
		free(c);
		errno = EINVAL;
		return NULL;
	}
	dns_hash_key_init(&c->key, cfg ? cfg->hash_key : NULL);
	c->n_buckets = dns_hash_buckets(c->cfg.max_ips);
	c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

static void entry_free(struct dns_cache *c, struct cache_entry *e)
{
	for (uint32_t i = 0; i < e->n_names; i++) {
		c->st.name_bytes -= e->names[i].size;
		free(e->names[i].name);
	}
	c->st.names -= e->n_names;
	c->st.ips--;
	free(e->names);
	free(e);
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	for (size_t b = 0; b < c->n_buckets; b++) {
		struct cache_entry *e = c->buckets[b], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(c, e);
		}
	}
	free(c->buckets);
	free(c);
}

static inline size_t ip_len(const struct dns_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

static size_t ip_bucket(const struct dns_cache *c, const struct dns_ip *ip)
{
	uint8_t k[17];

	k[0] = ip->family;
	memcpy(k + 1, ip->addr, ip_len(ip));
	return dns_hash(&c->key, k, 1 + ip_len(ip)) & (c->n_buckets - 1);
}

/* IPv4 compares its 4 bytes only: callers need not zero the rest. */
static inline bool ip_equal(const struct dns_ip *a, const struct dns_ip *b)
{
	return a->family == b->family && !memcmp(a->addr, b->addr, ip_len(a));
}

static struct cache_entry *entry_find(const struct dns_cache *c, const struct dns_ip *ip, size_t b)
{
	for (struct cache_entry *e = c->buckets[b]; e; e = e->next)
		if (ip_equal(&e->ip, ip))
			return e;
	return NULL;
}

/* Drop the names of e expired at now_ns (order is not kept). */
static size_t entry_purge(struct dns_cache *c, struct cache_entry *e, uint64_t now_ns)
{
	size_t freed = 0;

	for (uint32_t i = 0; i < e->n_names;) {
		if (e->names[i].expires_ns > now_ns) {
			i++;
			continue;
		}
		c->st.name_bytes -= e->names[i].size;
		free(e->names[i].name);
		e->names[i] = e->names[--e->n_names];
		c->st.names--;
		freed++;
	}
	return freed;
}

static int name_append(struct dns_cache *c, struct cache_entry *e, const char *name, size_t size,
		       uint64_t expires_ns)
{
	struct cache_name *n;

	if (e->n_names >= c->cfg.max_names_per_ip) {
		c->st.dropped_names_per_ip++;
		return -ENOSPC;
	}
	if (size > c->cfg.max_name_bytes - c->st.name_bytes || c->st.name_bytes > c->cfg.max_name_bytes) {
		c->st.dropped_name_bytes++;
		return -ENOSPC;
	}
	if (e->n_names == e->cap_names) {
		uint32_t cap = e->cap_names ? e->cap_names * 2 : 2;

		if (cap > c->cfg.max_names_per_ip)
			cap = c->cfg.max_names_per_ip;
		n = realloc(e->names, cap * sizeof(*n));
		if (!n) {
			c->st.dropped_nomem++;
			return -ENOMEM;
		}
		e->names = n;
		e->cap_names = cap;
	}
	n = &e->names[e->n_names];
	n->name = malloc(size);
	if (!n->name) {
		c->st.dropped_nomem++;
		return -ENOMEM;
	}
	memcpy(n->name, name, size);
	n->size = (uint32_t)size;
	n->expires_ns = expires_ns;
	e->n_names++;
	c->st.names++;
	c->st.name_bytes += size;
	c->st.added++;
	return 0;
}

int dns_cache_insert(struct dns_cache *c, const struct dns_ip *ip, const char *name, uint32_t ttl_s,
		     uint64_t now_ns)
{
	struct cache_entry *e;
	uint64_t expires_ns;
	size_t b, size;
	int err;

	if (!c || !ip || !name || (ip->family != AF_INET && ip->family != AF_INET6))
		return -EINVAL;
	size = strnlen(name, DNS_NAME_TEXT_MAX) + 1;
	if (size > DNS_NAME_TEXT_MAX)
		return -EINVAL;
	if (ttl_s < c->cfg.min_ttl_s)
		ttl_s = c->cfg.min_ttl_s;
	if (ttl_s > c->cfg.max_ttl_s)
		ttl_s = c->cfg.max_ttl_s;
	expires_ns = now_ns + (uint64_t)ttl_s * NS_PER_S;

	b = ip_bucket(c, ip);
	e = entry_find(c, ip, b);
	if (e) {
		for (uint32_t i = 0; i < e->n_names; i++) {
			if (e->names[i].size != size || memcmp(e->names[i].name, name, size))
				continue;
			if (e->names[i].expires_ns < expires_ns)
				e->names[i].expires_ns = expires_ns;
			c->st.refreshed++;
			return 0;
		}
		if (e->n_names >= c->cfg.max_names_per_ip)
			c->st.expired += entry_purge(c, e, now_ns);
		return name_append(c, e, name, size, expires_ns);
	}
	if (c->st.ips >= c->cfg.max_ips) {
		c->st.dropped_ips_full++;
		return -ENOSPC;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		c->st.dropped_nomem++;
		return -ENOMEM;
	}
	e->ip = *ip;
	memset(e->ip.pad, 0, sizeof(e->ip.pad));
	if (ip->family == AF_INET)
		memset(e->ip.addr + 4, 0, 12);
	c->st.ips++;
	err = name_append(c, e, name, size, expires_ns);
	if (err) {
		entry_free(c, e);
		return err;
	}
	e->next = c->buckets[b];
	c->buckets[b] = e;
	return 0;
}

/* The CNAME answer owned by the name at off, or NULL. */
static const struct dns_rr *cname_of(const struct dns_msg *msg, uint16_t off)
{
	for (uint16_t i = 0; i < msg->n_answers; i++)
		if (msg->answers[i].type == DNS_TYPE_CNAME &&
		    dns_name_equal(msg, msg->answers[i].name_off, off))
			return &msg->answers[i];
	return NULL;
}

int dns_cache_add_response(struct dns_cache *c, const struct dns_msg *msg, uint64_t now_ns)
{
	const uint8_t need = DNS_VALID_HEADER | DNS_VALID_QUESTION | DNS_VALID_ANSWERS;
	char qname[DNS_NAME_TEXT_MAX];
	const struct dns_rr *cn;
	uint32_t ttl = UINT32_MAX;
	uint16_t alias;
	int hops = 0, added = 0;

	if (!c || !msg)
		return -EINVAL;
	c->st.responses++;
	if ((msg->valid & need) != need || !msg->qr || msg->rcode != DNS_RCODE_NOERROR ||
	    msg->qclass != DNS_CLASS_IN || !msg->n_answers ||
	    dns_name_text(msg, msg->qname_off, qname, sizeof(qname), true) < 0) {
		c->st.responses_ignored++;
		return 0;
	}
	alias = msg->qname_off;
	while ((cn = cname_of(msg, alias))) {
		if (++hops > DNS_CACHE_MAX_CNAME_HOPS) {
			c->st.cname_chains_too_long++;
			return 0;
		}
		if (cn->ttl < ttl)
			ttl = cn->ttl;
		alias = cn->rdata_off;
	}
	for (uint16_t i = 0; i < msg->n_answers; i++) {
		const struct dns_rr *rr = &msg->answers[i];
		struct dns_ip ip;

		if (rr->type == DNS_TYPE_CNAME || dns_rr_ip(msg, rr, &ip) ||
		    !dns_name_equal(msg, rr->name_off, alias))
			continue;
		if (!dns_cache_insert(c, &ip, qname, rr->ttl < ttl ? rr->ttl : ttl, now_ns))
			added++;
	}
	return added;
}

int dns_cache_lookup(struct dns_cache *c, const struct dns_ip *ip, uint64_t now_ns,
		     const char **names, size_t max, size_t *n)
{
	struct cache_entry *e;

	if (!c || !ip || !n || (max && !names))
		return -EINVAL;
	*n = 0;
	c->st.lookups++;
	e = entry_find(c, ip, ip_bucket(c, ip));
	if (!e)
		return -ENOENT;
	for (uint32_t i = 0; i < e->n_names && *n < max; i++)
		if (e->names[i].expires_ns > now_ns)
			names[(*n)++] = e->names[i].name;
	if (!*n)
		return -ENOENT;
	c->st.hits++;
	return 0;
}

size_t dns_cache_expire(struct dns_cache *c, uint64_t now_ns)
{
	size_t freed = 0;

	if (!c)
		return 0;
	for (size_t b = 0; b < c->n_buckets; b++) {
		struct cache_entry **pp = &c->buckets[b], *e;

		while ((e = *pp)) {
			freed += entry_purge(c, e, now_ns);
			if (e->n_names) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			entry_free(c, e);
		}
	}
	c->st.expired += freed;
	return freed;
}

void dns_cache_get_stats(const struct dns_cache *c, struct dns_cache_stats *out)
{
	if (!c || !out)
		return;
	*out = c->st;
}
