// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Captured DNS packets -> stats and reverse cache (unprivileged/dns/dns_snoop.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "unprivileged/dns/dns_snoop.h"

#define DNS_SNOOP_EXPIRE_NS (60ULL * 1000000000ULL)

struct dns_snoop {
	struct dns_snoop_config cfg;
	struct dns_cache *cache;
	struct dns_stats *stats;
	uint64_t last_expire_ns;
	struct dns_snoop_counters ctr;
};

struct dns_snoop *dns_snoop_new(const struct dns_snoop_config *cfg)
{
	struct dns_snoop *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	if (cfg)
		s->cfg = *cfg;
	if (!s->cfg.expire_every_ns)
		s->cfg.expire_every_ns = DNS_SNOOP_EXPIRE_NS;
	s->cache = dns_cache_new(&s->cfg.cache);
	if (s->cache)
		s->stats = dns_stats_new(&s->cfg.stats);
	if (!s->cache || !s->stats) {
		err = errno;
		dns_snoop_free(s);
		errno = err;
		return NULL;
	}
	return s;
}

void dns_snoop_free(struct dns_snoop *s)
{
	if (!s)
		return;
	dns_cache_free(s->cache);
	dns_stats_free(s->stats);
	free(s);
}

static bool is_loopback(const struct dns_ip *ip)
{
	static const uint8_t v6_loopback[16] = { [15] = 1 };

	if (ip->family == AF_INET)
		return ip->addr[0] == 127;
	return !memcmp(ip->addr, v6_loopback, 16);
}

static int on_message(struct dns_snoop *s, const struct dns_packet *p, const uint8_t *buf, size_t len)
{
	char domain[DNS_NAME_TEXT_MAX];
	struct dns_flow f;
	struct dns_msg m;
	int rc;

	domain[0] = '\0';
	s->ctr.messages++;
	rc = dns_parse(buf, len, &m);
	if (rc)
		s->ctr.malformed[m.err < DNS_PARSE_ERR__MAX ? m.err : 0]++;
	if (!(m.valid & DNS_VALID_QUESTION)) {
		s->ctr.no_question++;
		return rc;
	}
	memset(&f, 0, sizeof(f));
	f.proto = p->proto;
	if (m.qr) {
		f.client = p->dst;
		f.server = p->src;
		f.client_port = p->dport;
	} else {
		f.client = p->src;
		f.server = p->dst;
		f.client_port = p->sport;
	}
	if (s->cfg.skip_loopback && is_loopback(&f.server)) {
		s->ctr.loopback_skipped++;
		return rc;
	}
	if (!m.qr) {
		s->ctr.queries++;
		if (!s->cfg.no_domains && dns_name_text(&m, m.qname_off, domain, sizeof(domain), true) < 0)
			return rc;
		dns_stats_on_query(s->stats, &f, m.id, domain, m.qtype, p->ts_ns);
		return rc;
	}
	s->ctr.responses++;
	s->ctr.truncated += m.tc;
	dns_stats_on_response(s->stats, &f, m.id, m.rcode, p->ts_ns);
	if (!rc)
		dns_cache_add_response(s->cache, &m, p->ts_ns);
	return rc;
}

int dns_snoop_packet(struct dns_snoop *s, const struct dns_packet *p)
{
	const uint8_t *msg;
	size_t off = 0, msg_len;
	enum dns_parse_err why;
	int rc, err = 0;

	if (!s || !p || (!p->payload && p->len))
		return -EINVAL;
	s->ctr.packets++;
	if (p->proto == IPPROTO_UDP)
		return on_message(s, p, p->payload, p->len);
	if (p->proto != IPPROTO_TCP) {
		s->ctr.bad_proto++;
		return -EINVAL;
	}
	/* a segment without payload (handshake, ACK) carries no message */
	while ((rc = dns_tcp_next(p->payload, p->len, &off, &msg, &msg_len, &why)) == 1)
		if (on_message(s, p, msg, msg_len))
			err = -EBADMSG;
	if (rc < 0) {
		s->ctr.malformed[why]++;
		err = -EBADMSG;
	}
	return err;
}

void dns_snoop_tick(struct dns_snoop *s, uint64_t now_ns)
{
	if (!s)
		return;
	dns_stats_tick(s->stats, now_ns);
	if (now_ns >= s->last_expire_ns + s->cfg.expire_every_ns) {
		dns_cache_expire(s->cache, now_ns);
		s->last_expire_ns = now_ns;
	}
}

struct dns_cache *dns_snoop_cache(struct dns_snoop *s)
{
	return s ? s->cache : NULL;
}

struct dns_stats *dns_snoop_stats(struct dns_snoop *s)
{
	return s ? s->stats : NULL;
}

void dns_snoop_get_counters(const struct dns_snoop *s, struct dns_snoop_counters *out)
{
	if (s && out)
		*out = s->ctr;
}
