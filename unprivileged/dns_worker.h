/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * DNS in the worker: captured packets (unprivileged/capture.h) go to the
 * snooper (dns/dns_snoop.h), whose reverse cache names the connections of
 * GetConnections and whose statistics reach each RPC client through
 * dns_clients.h. Every function accepts a NULL struct worker_dns: the loader
 * passed no capture (--dns=off).
 */
#ifndef NW_DNS_WORKER_H
#define NW_DNS_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "sandbox/limits.h"
#include "unprivileged/capture.h"
#include "unprivileged/dns/dns_snoop.h"
#include "unprivileged/dns_clients.h"
#include "unprivileged/evloop.h"

#define WORKER_DNS_NAMES_MAX 8            /* names given per connection */
#define WORKER_DNS_COLLECT_NS (30ULL * 1000000000ULL) /* snooper -> client tables */

struct worker_dns_cfg {
	int ring_fd;  /* eBPF capture: nw_pkt_rb, or -1 */
	int tel_fd;   /* its counters nw_pkt_tel (read-only), or -1 */
	int fwd_fd;   /* classic capture: the loader's forwarding socket, or -1 */
	const struct nw_limits *limits;
};

struct worker_dns {
	struct capture *cap;
	struct dns_snoop *snoop;
	struct dns_clients *clients;
	uint64_t last_collect_ns;
	bool classic;
};

/* Before seccomp: the tables' hash keys come from getrandom(). NULL + errno. */
struct worker_dns *worker_dns_new(const struct worker_dns_cfg *cfg);
void worker_dns_free(struct worker_dns *d);

int worker_dns_attach(struct worker_dns *d, struct evloop *loop);
size_t worker_dns_fds(const struct worker_dns *d, int *out, size_t max);

/* Consume the packets waiting (before answering a query). */
void worker_dns_drain(struct worker_dns *d);
/* The timer: drain, count timeouts, sweep the cache, collect, expire clients. */
void worker_dns_tick(struct worker_dns *d);

/* Names of the connection's remote address; pointers into the cache, valid
 * until the next packet is consumed. Returns how many (<= max). */
size_t worker_dns_names(struct worker_dns *d, const struct nw_conn_tuple *t, const char **names,
			size_t max);

/* "ebpf", "classic" or "off". */
const char *worker_dns_mode(const struct worker_dns *d);

/* Every DNS counter, for GetStats. */
void worker_dns_stats(struct worker_dns *d, void (*add)(void *ctx, const char *name, uint64_t v),
		      void *ctx);

uint64_t worker_dns_now_ns(void); /* CLOCK_MONOTONIC, as the capture's timestamps */

#endif
