// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* DNS statistics and in-flight queries (unprivileged/dns/dns_stats.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "unprivileged/dns/dns_hash.h"
#include "unprivileged/dns/dns_stats.h"

#define DNS_STATS_MAX_LIMIT (1u << 24)

struct inflight {
	struct inflight *hnext;       /* bucket chain */
	struct inflight *older, *newer; /* age list: the oldest is swept first */
	struct dns_flow flow;         /* normalised: see flow_norm */
	uint16_t txid, qtype;
	uint64_t ts_ns;
	char *domain;
};

struct entry {
	struct entry *hnext;
	struct dns_flow flow;
	uint16_t qtype;
	struct dns_stats_val val;
	char domain[]; /* NUL-terminated */
};

struct dns_stats {
	struct dns_stats_config cfg;
	struct dns_hash_key key;
	size_t n_ibuckets, n_ebuckets; /* powers of two */
	struct inflight **ibuckets;
	struct inflight *oldest, *newest;
	struct entry **ebuckets;
	struct entry **entries; /* dense, for iteration; max_entries slots */
	struct dns_stats_counters ctr;
};

static const struct dns_stats_config stats_defaults = {
	.timeout_ns = 15ULL * 1000000000ULL,
	.max_inflight = 10000,
	.max_entries = 20000,
};

struct dns_stats *dns_stats_new(const struct dns_stats_config *cfg)
{
	struct dns_stats *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = stats_defaults;
	if (cfg && cfg->timeout_ns)
		s->cfg.timeout_ns = cfg->timeout_ns;
	if (cfg && cfg->max_inflight)
		s->cfg.max_inflight = cfg->max_inflight;
	if (cfg && cfg->max_entries)
		s->cfg.max_entries = cfg->max_entries;
	if (s->cfg.max_inflight > DNS_STATS_MAX_LIMIT || s->cfg.max_entries > DNS_STATS_MAX_LIMIT) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	dns_hash_key_init(&s->key, cfg ? cfg->hash_key : NULL);
	s->n_ibuckets = dns_hash_buckets(s->cfg.max_inflight);
	s->n_ebuckets = dns_hash_buckets(s->cfg.max_entries);
	s->ibuckets = calloc(s->n_ibuckets, sizeof(*s->ibuckets));
	s->ebuckets = calloc(s->n_ebuckets, sizeof(*s->ebuckets));
	s->entries = calloc(s->cfg.max_entries, sizeof(*s->entries));
	if (!s->ibuckets || !s->ebuckets || !s->entries) {
		dns_stats_free(s);
		errno = ENOMEM;
		return NULL;
	}
	return s;
}

void dns_stats_free(struct dns_stats *s)
{
	struct inflight *q, *next;

	if (!s)
		return;
	for (q = s->oldest; q; q = next) {
		next = q->newer;
		free(q->domain);
		free(q);
	}
	if (s->entries && s->ebuckets)
		dns_stats_reset(s);
	free(s->ibuckets);
	free(s->ebuckets);
	free(s->entries);
	free(s);
}

/* A copy with every unused byte zeroed, so flows compare and hash as bytes. */
static bool flow_norm(const struct dns_flow *in, struct dns_flow *out)
{
	const struct dns_ip *ips[2] = { &in->client, &in->server };
	struct dns_ip *outs[2] = { &out->client, &out->server };

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 2; i++) {
		if (ips[i]->family != AF_INET && ips[i]->family != AF_INET6)
			return false;
		outs[i]->family = ips[i]->family;
		memcpy(outs[i]->addr, ips[i]->addr, ips[i]->family == AF_INET ? 4 : 16);
	}
	out->client_port = in->client_port;
	out->proto = in->proto;
	return true;
}

/* --- in-flight queries -------------------------------------------------- */

static size_t inflight_bucket(const struct dns_stats *s, const struct dns_flow *f, uint16_t txid)
{
	uint8_t k[sizeof(*f) + 2];

	memcpy(k, f, sizeof(*f));
	memcpy(k + sizeof(*f), &txid, 2);
	return dns_hash(&s->key, k, sizeof(k)) & (s->n_ibuckets - 1);
}

static struct inflight **inflight_find(struct dns_stats *s, const struct dns_flow *f, uint16_t txid)
{
	struct inflight **pp = &s->ibuckets[inflight_bucket(s, f, txid)];

	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->txid == txid && !memcmp(&(*pp)->flow, f, sizeof(*f)))
			return pp;
	return pp;
}

/* Unlink *pp (from inflight_find) from both lists and free it. */
static void inflight_remove(struct dns_stats *s, struct inflight **pp)
{
	struct inflight *q = *pp;

	*pp = q->hnext;
	if (q->older)
		q->older->newer = q->newer;
	else
		s->oldest = q->newer;
	if (q->newer)
		q->newer->older = q->older;
	else
		s->newest = q->older;
	s->ctr.inflight--;
	free(q->domain);
	free(q);
}

int dns_stats_on_query(struct dns_stats *s, const struct dns_flow *f, uint16_t txid,
		       const char *domain, uint16_t qtype, uint64_t ts_ns)
{
	struct dns_flow nf;
	struct inflight **pp, *q;
	size_t dlen;

	if (!s || !f || !domain || !flow_norm(f, &nf))
		return -EINVAL;
	dlen = strnlen(domain, DNS_NAME_TEXT_MAX);
	if (dlen >= DNS_NAME_TEXT_MAX)
		return -EINVAL;
	pp = inflight_find(s, &nf, txid);
	if (*pp) {
		s->ctr.retransmits++;
		return 0;
	}
	if (s->ctr.inflight >= s->cfg.max_inflight) {
		s->ctr.dropped_inflight++;
		return -ENOSPC;
	}
	q = calloc(1, sizeof(*q));
	if (q)
		q->domain = malloc(dlen + 1);
	if (!q || !q->domain) {
		free(q);
		s->ctr.dropped_nomem++;
		return -ENOMEM;
	}
	memcpy(q->domain, domain, dlen + 1);
	memcpy(&q->flow, &nf, sizeof(nf)); /* padding included: flows compare as bytes */
	q->txid = txid;
	q->qtype = qtype;
	q->ts_ns = ts_ns;
	*pp = q;
	q->older = s->newest;
	if (s->newest)
		s->newest->newer = q;
	else
		s->oldest = q;
	s->newest = q;
	s->ctr.inflight++;
	s->ctr.queries++;
	return 0;
}

/* --- statistics entries -------------------------------------------------- */

static size_t entry_bucket(const struct dns_stats *s, const struct dns_flow *f, uint16_t qtype,
			   const char *domain, size_t dlen)
{
	uint8_t k[sizeof(*f) + 2 + DNS_NAME_TEXT_MAX];

	memcpy(k, f, sizeof(*f));
	memcpy(k + sizeof(*f), &qtype, 2);
	memcpy(k + sizeof(*f) + 2, domain, dlen);
	return dns_hash(&s->key, k, sizeof(*f) + 2 + dlen) & (s->n_ebuckets - 1);
}

/* The entry for the key (flow normalised), created if absent; NULL when refused (counted). */
static struct dns_stats_val *stats_entry_find(struct dns_stats *s, const struct dns_flow *flow,
					uint16_t qtype, const char *domain)
{
	size_t dlen = strlen(domain);
	size_t b = entry_bucket(s, flow, qtype, domain, dlen);
	struct entry *e;

	for (e = s->ebuckets[b]; e; e = e->hnext)
		if (e->qtype == qtype && !memcmp(&e->flow, flow, sizeof(e->flow)) &&
		    !strcmp(e->domain, domain))
			return &e->val;
	if (s->ctr.entries >= s->cfg.max_entries) {
		s->ctr.dropped_stats++;
		return NULL;
	}
	e = calloc(1, sizeof(*e) + dlen + 1);
	if (!e) {
		s->ctr.dropped_nomem++;
		return NULL;
	}
	memcpy(&e->flow, flow, sizeof(e->flow));
	e->qtype = qtype;
	memcpy(e->domain, domain, dlen + 1);
	e->hnext = s->ebuckets[b];
	s->ebuckets[b] = e;
	s->entries[s->ctr.entries++] = e;
	return &e->val;
}

static struct dns_stats_val *entry_get(struct dns_stats *s, const struct inflight *q)
{
	return stats_entry_find(s, &q->flow, q->qtype, q->domain);
}

int dns_stats_add(struct dns_stats *s, const struct dns_stats_key *k, const struct dns_stats_val *v)
{
	struct dns_stats_val *e;
	struct dns_flow nf;

	if (!s || !k || !v || !k->domain || !flow_norm(&k->flow, &nf) ||
	    strnlen(k->domain, DNS_NAME_TEXT_MAX) >= DNS_NAME_TEXT_MAX)
		return -EINVAL;
	e = stats_entry_find(s, &nf, k->qtype, k->domain);
	if (!e)
		return s->ctr.entries >= s->cfg.max_entries ? -ENOSPC : -ENOMEM;
	for (int i = 0; i < DNS_STATS_RCODES; i++)
		e->count_by_rcode[i] += v->count_by_rcode[i];
	e->timeouts += v->timeouts;
	e->success_latency_ns += v->success_latency_ns;
	e->failure_latency_ns += v->failure_latency_ns;
	return 0;
}

static void count_timeout(struct dns_stats *s, const struct inflight *q)
{
	struct dns_stats_val *v = entry_get(s, q);

	s->ctr.timeouts++;
	if (v)
		v->timeouts++;
}

int dns_stats_on_response(struct dns_stats *s, const struct dns_flow *f, uint16_t txid,
			  uint8_t rcode, uint64_t ts_ns)
{
	struct dns_stats_val *v;
	struct dns_flow nf;
	struct inflight **pp, *q;
	uint64_t latency;
	int err = 0;

	if (!s || !f || !flow_norm(f, &nf))
		return -EINVAL;
	pp = inflight_find(s, &nf, txid);
	q = *pp;
	if (!q) {
		s->ctr.unmatched_responses++;
		return -ENOENT;
	}
	s->ctr.responses++;
	latency = ts_ns > q->ts_ns ? ts_ns - q->ts_ns : 0;
	if (latency >= s->cfg.timeout_ns) {
		count_timeout(s, q);
	} else if ((v = entry_get(s, q))) {
		rcode &= DNS_STATS_RCODES - 1;
		v->count_by_rcode[rcode]++;
		if (rcode == DNS_RCODE_NOERROR)
			v->success_latency_ns += latency;
		else
			v->failure_latency_ns += latency;
	} else {
		err = -ENOSPC;
	}
	inflight_remove(s, pp);
	return err;
}

size_t dns_stats_tick(struct dns_stats *s, uint64_t now_ns)
{
	size_t n = 0;

	if (!s)
		return 0;
	/* capture times from different CPUs may be slightly out of order: an
	 * entry behind a younger one is swept at the next tick */
	while (s->oldest && now_ns >= s->oldest->ts_ns && now_ns - s->oldest->ts_ns >= s->cfg.timeout_ns) {
		struct inflight *q = s->oldest;

		count_timeout(s, q);
		inflight_remove(s, inflight_find(s, &q->flow, q->txid));
		n++;
	}
	return n;
}

bool dns_stats_next(const struct dns_stats *s, size_t *cursor, struct dns_stats_key *key,
		    const struct dns_stats_val **val)
{
	const struct entry *e;

	if (!s || !cursor || !key || !val || *cursor >= s->ctr.entries)
		return false;
	e = s->entries[(*cursor)++];
	key->flow = e->flow;
	key->qtype = e->qtype;
	key->domain = e->domain;
	*val = &e->val;
	return true;
}

void dns_stats_reset(struct dns_stats *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ctr.entries; i++)
		free(s->entries[i]);
	memset(s->ebuckets, 0, s->n_ebuckets * sizeof(*s->ebuckets));
	s->ctr.entries = 0;
}

void dns_stats_get_counters(const struct dns_stats *s, struct dns_stats_counters *out)
{
	if (s && out)
		*out = s->ctr;
}
