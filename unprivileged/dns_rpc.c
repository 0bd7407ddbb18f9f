// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* GetDNSStats and LookupAddresses (dns_rpc.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "unprivileged/dns_rpc.h"

struct stat_slot {
	Netwarden__DNSStat s;
	Netwarden__RcodeCount rc[DNS_STATS_RCODES];
	Netwarden__RcodeCount *rcp[DNS_STATS_RCODES];
	uint8_t client[16], server[16];
};

struct stats_arena {
	Netwarden__GetDNSStatsResponse r;
	Netwarden__DNSStat **ptrs;
	struct stat_slot *slots;
	char *domains; /* copies: the client's table is emptied before the answer is sent */
};

static size_t dns_addr_len(const struct dns_ip *ip)
{
	return ip->family == AF_INET ? 4 : 16;
}

static void fill(struct stat_slot *sl, const struct dns_stats_key *k, const struct dns_stats_val *v,
		 char *domain)
{
	Netwarden__DNSStat *s = &sl->s;

	netwarden__dnsstat__init(s);
	memcpy(sl->client, k->flow.client.addr, 16);
	memcpy(sl->server, k->flow.server.addr, 16);
	s->client_addr = (ProtobufCBinaryData){ dns_addr_len(&k->flow.client), sl->client };
	s->server_addr = (ProtobufCBinaryData){ dns_addr_len(&k->flow.server), sl->server };
	s->client_port = k->flow.client_port;
	s->protocol = k->flow.proto == IPPROTO_TCP ? NETWARDEN__CONN_TYPE__CONN_TYPE_TCP
						   : NETWARDEN__CONN_TYPE__CONN_TYPE_UDP;
	s->domain = domain;
	s->qtype = k->qtype;
	s->rcodes = sl->rcp;
	for (uint32_t rc = 0; rc < DNS_STATS_RCODES; rc++) {
		if (!v->count_by_rcode[rc])
			continue;
		netwarden__rcode_count__init(&sl->rc[s->n_rcodes]);
		sl->rc[s->n_rcodes].rcode = rc;
		sl->rc[s->n_rcodes].count = v->count_by_rcode[rc];
		sl->rcp[s->n_rcodes] = &sl->rc[s->n_rcodes];
		s->n_rcodes++;
	}
	s->timeouts = v->timeouts;
	s->success_latency_ns = v->success_latency_ns;
	s->failure_latency_ns = v->failure_latency_ns;
}

int dns_rpc_stats(struct worker_dns *d, const char *client_id, Netwarden__GetDNSStatsResponse **out)
{
	const struct dns_stats_val *v;
	struct dns_stats_key k;
	struct dns_stats *tbl = NULL;
	struct stats_arena *a;
	size_t n = 0, bytes = 0, cur = 0, off = 0;

	if (d) {
		worker_dns_drain(d);
		tbl = dns_clients_get(d->clients, client_id, worker_dns_now_ns());
		if (!tbl)
			return errno == EINVAL || errno == ENOSPC ? -errno : -ENOMEM;
		dns_clients_collect(d->clients, dns_snoop_stats(d->snoop));
		while (dns_stats_next(tbl, &cur, &k, &v)) {
			n++;
			bytes += strlen(k.domain) + 1;
		}
	}
	a = calloc(1, sizeof(*a) + n * (sizeof(*a->ptrs) + sizeof(*a->slots)) + bytes);
	if (!a)
		return -ENOMEM;
	a->slots = (struct stat_slot *)(a + 1);
	a->ptrs = (Netwarden__DNSStat **)(a->slots + n);
	a->domains = (char *)(a->ptrs + n);
	netwarden__get_dnsstats_response__init(&a->r);
	for (cur = 0, n = 0; tbl && dns_stats_next(tbl, &cur, &k, &v); n++) {
		size_t len = strlen(k.domain) + 1;

		memcpy(a->domains + off, k.domain, len);
		fill(&a->slots[n], &k, v, a->domains + off);
		a->ptrs[n] = &a->slots[n].s;
		off += len;
	}
	if (tbl)
		dns_stats_reset(tbl);
	a->r.n_stats = n;
	a->r.stats = n ? a->ptrs : NULL;
	a->r.now_ns = worker_dns_now_ns();
	a->r.capture = (char *)worker_dns_mode(d);
	*out = &a->r;
	return 0;
}

struct lookup_slot {
	Netwarden__AddressNames an;
	const char *names[DNS_RPC_NAMES_MAX];
	uint8_t addr[16];
};

struct lookup_arena {
	Netwarden__LookupAddressesResponse r;
	Netwarden__AddressNames **ptrs;
	struct lookup_slot *slots;
};

int dns_rpc_lookup(struct worker_dns *d, const Netwarden__LookupAddressesRequest *req,
		   Netwarden__LookupAddressesResponse **out)
{
	size_t n = req ? req->n_addrs : 0;
	struct lookup_arena *a;
	uint64_t now = worker_dns_now_ns();

	if (n > DNS_RPC_MAX_LOOKUPS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (req->addrs[i].len != 4 && req->addrs[i].len != 16)
			return -EINVAL;
	if (d)
		worker_dns_drain(d);
	a = calloc(1, sizeof(*a) + n * (sizeof(*a->ptrs) + sizeof(*a->slots)));
	if (!a)
		return -ENOMEM;
	a->slots = (struct lookup_slot *)(a + 1);
	a->ptrs = (Netwarden__AddressNames **)(a->slots + n);
	netwarden__lookup_addresses_response__init(&a->r);
	for (size_t i = 0; i < n; i++) {
		struct lookup_slot *s = &a->slots[i];
		struct dns_ip ip = { .family = req->addrs[i].len == 4 ? AF_INET : AF_INET6 };
		size_t found = 0;

		netwarden__address_names__init(&s->an);
		memcpy(s->addr, req->addrs[i].data, req->addrs[i].len);
		memcpy(ip.addr, s->addr, req->addrs[i].len);
		s->an.addr = (ProtobufCBinaryData){ req->addrs[i].len, s->addr };
		/* the names stay the cache's: nothing runs between here and the send */
		if (d && !dns_cache_lookup(dns_snoop_cache(d->snoop), &ip, now, s->names,
					   DNS_RPC_NAMES_MAX, &found)) {
			s->an.n_names = found;
			s->an.names = (char **)s->names;
		}
		a->ptrs[i] = &s->an;
	}
	a->r.n_results = n;
	a->r.results = n ? a->ptrs : NULL;
	*out = &a->r;
	return 0;
}
