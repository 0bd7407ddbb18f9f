// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* DNS in the worker: capture -> snooper -> cache and per-client stats (dns_worker.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "unprivileged/dns_worker.h"

uint64_t worker_dns_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void ip_from(struct dns_ip *ip, uint8_t version, const uint8_t *addr)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = version == 4 ? AF_INET : AF_INET6;
	memcpy(ip->addr, addr, version == 4 ? 4 : 16);
}

static void on_packet(void *ctx, const struct capture_pkt *p)
{
	struct worker_dns *d = ctx;
	struct dns_packet pkt = {
		.ts_ns = p->h.ts_ns, .sport = p->h.sport, .dport = p->h.dport,
		.proto = p->h.l4proto == 6 ? IPPROTO_TCP : IPPROTO_UDP,
		.payload = p->payload, .len = p->h.cap_len,
	};

	ip_from(&pkt.src, p->h.ip_version, p->h.saddr);
	ip_from(&pkt.dst, p->h.ip_version, p->h.daddr);
	dns_snoop_packet(d->snoop, &pkt); /* malformed ones are counted inside */
}

static uint64_t limit(const struct nw_limits *l, enum nw_limit id)
{
	return l && l->v[id] ? l->v[id] : nw_limit_defs[id].def;
}

struct worker_dns *worker_dns_new(const struct worker_dns_cfg *cfg)
{
	struct capture_handlers h = { on_packet, NULL };
	struct dns_snoop_config sc = { 0 };
	struct dns_clients_cfg cc = { 0 };
	struct worker_dns *d;
	uint8_t key[3][16];
	int err;

	if (!cfg || (cfg->ring_fd < 0) == (cfg->fwd_fd < 0)) {
		errno = EINVAL;
		return NULL;
	}
	/* keys for the three kinds of table, now: getrandom is not in the seccomp allowlist */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key))
		return NULL;
	for (int i = 0; i < 3; i++)
		key[i][0] |= 1; /* never all zero: that would ask for getrandom again */
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	h.ctx = d;
	sc.cache.max_ips = (uint32_t)limit(cfg->limits, NW_LIMIT_MAX_DNS_CACHE_IPS);
	memcpy(sc.cache.hash_key, key[0], 16);
	sc.stats.timeout_ns = limit(cfg->limits, NW_LIMIT_DNS_TIMEOUT) * 1000000ULL;
	sc.stats.max_inflight = (uint32_t)limit(cfg->limits, NW_LIMIT_MAX_DNS_INFLIGHT);
	sc.stats.max_entries = (uint32_t)limit(cfg->limits, NW_LIMIT_MAX_DNS_STATS);
	memcpy(sc.stats.hash_key, key[1], 16);
	cc.max_clients = limit(cfg->limits, NW_LIMIT_MAX_CLIENTS);
	cc.max_entries = sc.stats.max_entries;
	cc.expiry_ns = limit(cfg->limits, NW_LIMIT_CLIENT_EXPIRY) * 1000000ULL;
	memcpy(cc.hash_key, key[2], 16);
	d->classic = cfg->fwd_fd >= 0;
	d->snoop = dns_snoop_new(&sc);
	d->clients = d->snoop ? dns_clients_new(&cc) : NULL;
	d->cap = !d->clients ? NULL : d->classic ? capture_new_forward(cfg->fwd_fd, &h) :
			       capture_new_ring(cfg->ring_fd, cfg->tel_fd, &h);
	if (!d->cap) {
		err = errno;
		worker_dns_free(d);
		errno = err ? err : ENOMEM;
		return NULL;
	}
	d->last_collect_ns = worker_dns_now_ns();
	return d;
}

void worker_dns_free(struct worker_dns *d)
{
	if (!d)
		return;
	capture_free(d->cap);
	dns_clients_free(d->clients);
	dns_snoop_free(d->snoop);
	free(d);
}

int worker_dns_attach(struct worker_dns *d, struct evloop *loop)
{
	return d ? capture_attach(d->cap, loop) : 0;
}

size_t worker_dns_fds(const struct worker_dns *d, int *out, size_t max)
{
	return d ? capture_fds(d->cap, out, max) : 0;
}

void worker_dns_drain(struct worker_dns *d)
{
	if (d)
		capture_drain(d->cap);
}

void worker_dns_tick(struct worker_dns *d)
{
	uint64_t now;

	if (!d)
		return;
	/* first what waits: a response in the ring is not a timeout */
	capture_drain(d->cap);
	now = worker_dns_now_ns();
	dns_snoop_tick(d->snoop, now);
	dns_clients_expire(d->clients, now);
	if (now - d->last_collect_ns >= WORKER_DNS_COLLECT_NS) {
		dns_clients_collect(d->clients, dns_snoop_stats(d->snoop));
		d->last_collect_ns = now;
	}
}

size_t worker_dns_names(struct worker_dns *d, const struct nw_conn_tuple *t, const char **names,
			size_t max)
{
	struct dns_ip ip;
	size_t n = 0;

	if (!d || !t || !max)
		return 0;
	ip_from(&ip, t->family == NW_FAMILY_INET ? 4 : 6, t->daddr);
	if (dns_cache_lookup(dns_snoop_cache(d->snoop), &ip, worker_dns_now_ns(), names, max, &n))
		return 0;
	return n;
}

const char *worker_dns_mode(const struct worker_dns *d)
{
	return !d ? "off" : d->classic ? "classic" : "ebpf";
}

/* "dns_malformed_<reason>", built once */
static char malformed_names[DNS_PARSE_ERR__MAX][48];

static const char *const bad_names[CAPTURE_BAD__MAX] = {
	[CAPTURE_BAD_SIZE] = "dns_capture_bad_size",
	[CAPTURE_BAD_KIND] = "dns_capture_bad_kind",
	[CAPTURE_BAD_HEADER] = "dns_capture_bad_header",
	[CAPTURE_BAD_DECODE] = "dns_capture_bad_decode",
};

static const char *const kernel_names[NW_PKT_TEL_MAX] = {
	[NW_PKT_TEL_CAPTURED] = "tel_dns_captured",
	[NW_PKT_TEL_TRUNCATED] = "tel_dns_truncated",
	[NW_PKT_TEL_RING_FULL] = "tel_dns_ring_full",
	[NW_PKT_TEL_FRAGMENTS] = "tel_dns_fragments",
	[NW_PKT_TEL_BAD] = "tel_dns_bad",
	[NW_PKT_TEL_WAKEUPS] = "tel_dns_forced_wakeups",
};

void worker_dns_stats(struct worker_dns *d, void (*add)(void *ctx, const char *name, uint64_t v),
		      void *ctx)
{
	struct dns_snoop_counters sn = { 0 };
	struct dns_stats_counters st = { 0 };
	struct dns_cache_stats ca = { 0 };
	struct dns_clients_counters cl = { 0 };
	struct capture_stats cs = { 0 };

	if (!d)
		return;
	capture_get_stats(d->cap, &cs);
	dns_snoop_get_counters(d->snoop, &sn);
	dns_stats_get_counters(dns_snoop_stats(d->snoop), &st);
	dns_cache_get_stats(dns_snoop_cache(d->snoop), &ca);
	dns_clients_get_counters(d->clients, &cl);
	add(ctx, "dns_capture_received", cs.received);
	add(ctx, "dns_capture_delivered", cs.delivered);
	add(ctx, "dns_capture_bytes", cs.bytes);
	add(ctx, "dns_capture_truncated", cs.truncated);
	add(ctx, "dns_capture_skipped", cs.skipped);
	for (int i = 0; i < CAPTURE_BAD__MAX; i++)
		add(ctx, bad_names[i], cs.bad[i]);
	if (d->classic)
		add(ctx, "dns_capture_loader_drops", cs.loader_drops);
	for (int i = 0; !d->classic && i < NW_PKT_TEL_MAX; i++)
		if (kernel_names[i])
			add(ctx, kernel_names[i], cs.kernel[i]);
	add(ctx, "dns_packets", sn.packets);
	add(ctx, "dns_messages", sn.messages);
	add(ctx, "dns_queries", sn.queries);
	add(ctx, "dns_responses", sn.responses);
	add(ctx, "dns_truncated_responses", sn.truncated);
	add(ctx, "dns_no_question", sn.no_question);
	for (int i = 1; i < DNS_PARSE_ERR__MAX; i++) {
		if (!malformed_names[i][0])
			snprintf(malformed_names[i], sizeof(malformed_names[i]), "dns_malformed_%s",
				 dns_parse_err_str((enum dns_parse_err)i));
		add(ctx, malformed_names[i], sn.malformed[i]);
	}
	add(ctx, "dns_stats_queries", st.queries);
	add(ctx, "dns_stats_retransmits", st.retransmits);
	add(ctx, "dns_stats_responses", st.responses);
	add(ctx, "dns_stats_unmatched_responses", st.unmatched_responses);
	add(ctx, "dns_stats_timeouts", st.timeouts);
	add(ctx, "dns_stats_inflight", st.inflight);
	add(ctx, "dns_stats_entries", st.entries);
	add(ctx, "dns_stats_dropped_inflight", st.dropped_inflight);
	add(ctx, "dns_stats_dropped_stats", st.dropped_stats);
	add(ctx, "dns_stats_dropped_nomem", st.dropped_nomem);
	add(ctx, "dns_cache_ips", ca.ips);
	add(ctx, "dns_cache_names", ca.names);
	add(ctx, "dns_cache_added", ca.added);
	add(ctx, "dns_cache_expired", ca.expired);
	add(ctx, "dns_cache_lookups", ca.lookups);
	add(ctx, "dns_cache_hits", ca.hits);
	add(ctx, "dns_cache_dropped_ips_full", ca.dropped_ips_full);
	add(ctx, "dns_cache_dropped_names_per_ip", ca.dropped_names_per_ip);
	add(ctx, "dns_cache_dropped_name_bytes", ca.dropped_name_bytes);
	add(ctx, "dns_cache_dropped_nomem", ca.dropped_nomem);
	add(ctx, "dns_cache_cname_chains_too_long", ca.cname_chains_too_long);
	add(ctx, "dns_clients", cl.clients);
	add(ctx, "dns_clients_refused", cl.refused);
	add(ctx, "dns_clients_expired", cl.expired);
	add(ctx, "dns_clients_dropped_entries", cl.dropped);
}
