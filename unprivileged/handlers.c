// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * RPC handlers: Register, GetConnections, GetStats, converted to protobuf.
 * Each response is one allocation (an arena whose first member is the
 * message), freed by worker_release after the response is sent.
 */
#define _GNU_SOURCE /* struct ucred (rpc.h) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "unprivileged/usm_rpc.h"
#include "unprivileged/worker.h"
#include "unprivileged/dns_rpc.h"

#define STATS_MAX 512

/* When even the error response cannot be allocated. */
static Netwarden__Error oom_error = {
	PROTOBUF_C_MESSAGE_INIT(&netwarden__error__descriptor), NETWARDEN__ERROR_CODE__ERROR_INTERNAL,
	(char *)"out of memory",
};

struct error_arena {
	Netwarden__Error e;
	char msg[160];
};

static void set_error(Netwarden__Response *resp, Netwarden__ErrorCode code, const char *msg)
{
	struct error_arena *a = malloc(sizeof(*a));

	resp->kind_case = NETWARDEN__RESPONSE__KIND_ERROR;
	if (!a) {
		resp->error = &oom_error;
		return;
	}
	netwarden__error__init(&a->e);
	a->e.code = code;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
	a->e.message = a->msg;
	resp->error = &a->e;
}

struct register_arena {
	Netwarden__RegisterResponse r;
	char id[STATE_CLIENT_ID_MAX + 1];
};

static void handle_register(struct worker *w, const Netwarden__RegisterRequest *req,
			    Netwarden__Response *resp)
{
	struct register_arena *a;
	int r;

	if (!req || !req->client_id || !req->client_id[0]) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST, "empty client_id");
		return;
	}
	r = state_register(w->state, req->client_id, worker_now_ns());
	if (r == -EINVAL) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST,
			  "client_id must be 1-128 printable bytes");
		return;
	}
	if (r == -ENOSPC) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BUSY, "too many registered clients");
		return;
	}
	if (r < 0) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "cannot register client");
		return;
	}
	/* HTTP/Kafka deltas start now too (a refusal there is counted, not fatal) */
	worker_usm_register(w->usm, req->client_id, worker_now_ns());
	a = malloc(sizeof(*a));
	if (!a) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "out of memory");
		return;
	}
	netwarden__register_response__init(&a->r);
	snprintf(a->id, sizeof(a->id), "%s", req->client_id);
	a->r.client_id = a->id;
	a->r.already_registered = r == 1;
	resp->kind_case = NETWARDEN__RESPONSE__KIND_REGISTER;
	resp->register_ = &a->r;
}

/* ---- GetConnections ------------------------------------------------------ */

struct endpoint_key {
	uint8_t addr[16];
	uint16_t port;
	uint8_t family;
	uint8_t type;
};

static bool is_loopback(const uint8_t *a, uint8_t family)
{
	static const uint8_t v6_lo[16] = { [15] = 1 };

	if (family == NW_FAMILY_INET)
		return a[0] == 127;
	return !memcmp(a, v6_lo, 16);
}

/*
 * Both ends on this host: both loopback, the same address, or the remote end
 * is the local end of another connection in the same answer.
 */
static void mark_intra_host(const struct state_conn *v, size_t n, bool *intra)
{
	struct keymap *local = n ? keymap_new(sizeof(struct endpoint_key), 0, n) : NULL;

	for (size_t i = 0; i < n && local; i++) {
		const struct nw_conn_tuple *t = &v[i].conn.tup;
		struct endpoint_key k = { .port = t->sport, .family = t->family, .type = t->type };
		memcpy(k.addr, t->saddr, 16);
		keymap_put(local, &k, NULL);
	}
	for (size_t i = 0; i < n; i++) {
		const struct nw_conn_tuple *t = &v[i].conn.tup;
		struct endpoint_key k = { .port = t->dport, .family = t->family, .type = t->type };

		memcpy(k.addr, t->daddr, 16);
		intra[i] = (is_loopback(t->saddr, t->family) && is_loopback(t->daddr, t->family)) ||
			   !memcmp(t->saddr, t->daddr, 16) || (local && keymap_get(local, &k));
	}
	keymap_free(local);
}

struct conn_slot {
	Netwarden__Connection c;
	Netwarden__Counters mono, last;
	uint8_t saddr[16], daddr[16];
	const char *dns_names[WORKER_DNS_NAMES_MAX]; /* the DNS cache's strings */
};

struct conns_arena {
	Netwarden__GetConnectionsResponse r;
	Netwarden__Connection **ptrs;
	struct conn_slot *slots;
};

static void fill_counters(Netwarden__Counters *p, const struct state_counters *c)
{
	netwarden__counters__init(p);
	p->sent_bytes = c->sent_bytes;
	p->recv_bytes = c->recv_bytes;
	p->sent_packets = c->sent_packets;
	p->recv_packets = c->recv_packets;
	p->retransmits = c->retransmits;
	p->tcp_established = c->tcp_established;
	p->tcp_closed = c->tcp_closed;
}

static void fill_conn(struct conn_slot *s, const struct state_conn *sc, bool intra)
{
	const struct nw_conn_tuple *t = &sc->conn.tup;
	const struct nw_conn_stats *st = &sc->conn.stats;
	size_t alen = t->family == NW_FAMILY_INET ? 4 : 16;
	struct state_counters mono = {
		st->sent_bytes, st->recv_bytes, st->sent_packets, st->recv_packets,
		st->retransmits, st->tcp_established, st->tcp_closed,
	};

	netwarden__connection__init(&s->c);
	memcpy(s->saddr, t->saddr, 16);
	memcpy(s->daddr, t->daddr, 16);
	s->c.saddr.data = s->saddr;
	s->c.saddr.len = alen;
	s->c.daddr.data = s->daddr;
	s->c.daddr.len = alen;
	s->c.sport = t->sport;
	s->c.dport = t->dport;
	s->c.family = t->family == NW_FAMILY_INET ? NETWARDEN__FAMILY__FAMILY_INET
						  : NETWARDEN__FAMILY__FAMILY_INET6;
	s->c.type = t->type == NW_TYPE_TCP ? NETWARDEN__CONN_TYPE__CONN_TYPE_TCP
					   : NETWARDEN__CONN_TYPE__CONN_TYPE_UDP;
	s->c.direction = t->direction <= NW_DIR_LOCAL ? (Netwarden__Direction)t->direction
						      : NETWARDEN__DIRECTION__DIRECTION_UNKNOWN;
	s->c.pid = t->pid;
	s->c.netns = t->netns;
	s->c.cookie = st->cookie;
	fill_counters(&s->mono, &mono);
	fill_counters(&s->last, &sc->last);
	s->c.monotonic = &s->mono;
	s->c.last = &s->last;
	s->c.rtt_us = st->rtt_us;
	s->c.rtt_var_us = st->rtt_var_us;
	s->c.first_seen_ns = st->first_seen_ns;
	s->c.last_seen_ns = st->last_seen_ns;
	s->c.closed = sc->closed;
	s->c.intra_host = intra;
	s->c.merged = sc->merged ? sc->merged : 1;
}

static void handle_get_connections(struct worker *w, const Netwarden__GetConnectionsRequest *req,
				   Netwarden__Response *resp)
{
	const struct nw_conn *active = NULL;
	const struct state_conn *v;
	struct conns_arena *a;
	size_t n_active = 0, n;
	uint64_t now;
	bool *intra;
	int err;

	if (!req || !req->client_id || !req->client_id[0]) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST, "empty client_id");
		return;
	}
	/* a failed or partial scan still answers with what it has (counted) */
	worker_refresh(w, &active, &n_active);
	worker_dns_drain(w->dns); /* names learnt just before a connection was made */
	now = worker_now_ns();
	err = state_get_delta(w->state, req->client_id, now, active, n_active, &v, &n);
	if (err == -ENOENT) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_UNKNOWN_CLIENT,
			  "unknown client: Register first (or it expired)");
		return;
	}
	if (err) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "cannot compute connections");
		return;
	}
	a = calloc(1, sizeof(*a) + n * (sizeof(*a->ptrs) + sizeof(*a->slots)) + n);
	if (!a) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "out of memory");
		return;
	}
	a->slots = (struct conn_slot *)(a + 1);
	a->ptrs = (Netwarden__Connection **)(a->slots + n);
	intra = (bool *)(a->ptrs + n);
	mark_intra_host(v, n, intra);
	netwarden__get_connections_response__init(&a->r);
	for (size_t i = 0; i < n; i++) {
		fill_conn(&a->slots[i], &v[i], intra[i]);
		a->slots[i].c.n_dns_names = worker_dns_names(w->dns, &v[i].conn.tup, a->slots[i].dns_names,
							     WORKER_DNS_NAMES_MAX);
		a->slots[i].c.dns_names = (char **)a->slots[i].dns_names;
		a->ptrs[i] = &a->slots[i].c;
	}
	a->r.n_conns = n;
	a->r.conns = n ? a->ptrs : NULL;
	a->r.now_ns = now;
	resp->kind_case = NETWARDEN__RESPONSE__KIND_GET_CONNECTIONS;
	resp->get_connections = &a->r;
}

/* ---- GetStats ------------------------------------------------------------ */

struct stats_arena {
	Netwarden__GetStatsResponse r;
	Netwarden__Stat st[STATS_MAX];
	Netwarden__Stat *ptrs[STATS_MAX];
};

static void add(struct stats_arena *a, const char *name, uint64_t value)
{
	Netwarden__Stat *s;

	if (a->r.n_stats >= STATS_MAX)
		return;
	s = &a->st[a->r.n_stats];
	netwarden__stat__init(s);
	s->name = (char *)name;
	s->value = value;
	a->ptrs[a->r.n_stats++] = s;
}

static void add_dns(void *ctx, const char *name, uint64_t value)
{
	add(ctx, name, value);
}

static void add_usm(void *ctx, const char *name, uint64_t value)
{
	add(ctx, name, value);
}

static const char *const tel_names[NW_TEL_MAX] = {
	[NW_TEL_CONN_MAP_FULL] = "tel_conn_map_full",
	[NW_TEL_EVENT_LOST] = "tel_event_lost",
	[NW_TEL_SOCK_STORAGE_FAIL] = "tel_sock_storage_fail",
	[NW_TEL_UDP_PEER_OVERFLOW] = "tel_udp_peer_overflow",
	[NW_TEL_MISSING_ENTRY] = "tel_missing_entry",
	[NW_TEL_CLOSED_EMITTED] = "tel_closed_emitted",
	[NW_TEL_BATCH_SENT] = "tel_batches_sent",
	[NW_TEL_BATCH_UNBATCHED] = "tel_closed_unbatched",
	[NW_TEL_BATCH_LOST_CONNS] = "tel_batch_lost_conns",
	[NW_TEL_RB_WAKEUPS] = "tel_ringbuf_forced_wakeups",
};

/* "config_max_clients", "config_client_expiry_ms": the limits the worker runs with */
static char config_names[NW_LIMIT_COUNT][64];

static void config_names_init(void)
{
	if (config_names[0][0])
		return;
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		snprintf(config_names[i], sizeof(config_names[i]), "config_%s%s", nw_limit_defs[i].key,
			 nw_limit_defs[i].duration ? "_ms" : "");
}

static void handle_get_stats(struct worker *w, Netwarden__Response *resp)
{
	struct stats_arena *a = calloc(1, sizeof(*a));
	struct events_stats es = { 0 };
	struct state_stats ss = { 0 };
	struct ct_stats cs = { 0 };
	struct rpc_stats rs = { 0 };

	if (!a) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "out of memory");
		return;
	}
	netwarden__get_stats_response__init(&a->r);
	a->r.stats = a->ptrs;
	config_names_init();
	events_get_stats(w->events, &es);
	state_get_stats(w->state, &ss);
	conntrack_get_stats(w->ct, &cs);
	if (w->rpc)
		rpc_server_get_stats(w->rpc, &rs);

	add(a, "events_received", es.received);
	add(a, "events_closed", es.closed);
	add(a, "events_released", es.released);
	add(a, "events_bad", es.bad);
	add(a, "events_lost", es.lost);
	add(a, "perf_wrapped", es.perf_wrapped);
	add(a, "perf_corrupt", es.perf_corrupt);
	add(a, "batches_received", es.batches);
	add(a, "batch_conns_pending", es.batch_pending);
	add(a, "batch_entries_skipped", es.batch_skipped);
	add(a, "batch_bad", es.batch_bad);
	add(a, "closed_buffered", state_closed_buffered(w->state));
	add(a, "closed_received", ss.closed_received);
	add(a, "closed_duplicates", ss.closed_duplicates);
	add(a, "closed_dropped", ss.closed_dropped);
	add(a, "closed_empty_evicted", ss.closed_empty_evicted);
	add(a, "closed_expired", ss.closed_expired);
	add(a, "closed_no_clients", ss.closed_no_clients);
	add(a, "conn_dropped", ss.conn_dropped);
	add(a, "stats_underflows", ss.stats_underflows);
	add(a, "zero_delta_suppressed", ss.zero_delta_suppressed);
	add(a, "conns_aggregated", ss.conns_aggregated);
	add(a, "closed_dedup_full", ss.dedup_full);
	add(a, "clients", state_clients(w->state));
	add(a, "clients_registered", ss.clients_registered);
	add(a, "clients_refused", ss.clients_refused);
	add(a, "clients_expired", ss.clients_expired);
	add(a, "conns_active", w->stats.conns_active);
	add(a, "conns_tracked_dropped", w->stats.tracked_dropped);
	add(a, "expired_tcp_idle", w->stats.expired_tcp_idle);
	add(a, "expired_udp_idle", w->stats.expired_udp_idle);
	add(a, "refreshes", w->stats.refreshes);
	add(a, "timer_drains", w->stats.timer_drains);
	add(a, "scan_errors", w->stats.scan_errors);
	add(a, "swept_released", w->stats.swept_released);
	add(a, "swept_flagged", w->stats.swept_flagged);
	add(a, "released_forced_sweeps", w->stats.released_forced);
	add(a, "map_scans", cs.scans);
	add(a, "map_entries", cs.last_scan_entries);
	add(a, "iteration_dups", cs.iteration_dups);
	add(a, "iteration_aborts", cs.iteration_aborts);
	add(a, "map_lookup_misses", cs.lookup_misses);
	add(a, "map_deleted", cs.deleted);
	add(a, "map_delete_errors", cs.delete_errors);
	add(a, "rpc_connections", w->rpc ? rpc_server_clients(w->rpc) : 0);
	add(a, "rpc_accepted", rs.accepted);
	add(a, "rpc_refused_peercred", rs.refused_peercred);
	add(a, "rpc_refused_busy", rs.refused_busy);
	add(a, "rpc_bad_frames", rs.bad_frames);
	add(a, "rpc_oversized_frames", rs.oversized_frames);
	add(a, "rpc_requests", rs.requests);
	add(a, "rpc_timeouts", rs.timeouts);
	add(a, "seccomp_allowlist_syscalls", w->seccomp_syscalls);
	worker_usm_stats(w->usm, add_usm, a);
	/* the sandbox and its supervisor (sandbox/supervisor.h) */
	add(a, "seccomp_argument_checked_syscalls", w->seccomp_filtered);
	add(a, "seccomp_audit", w->seccomp_mode == NW_SECCOMP_AUDIT);
	add(a, "seccomp_denials", worker_sup_get(w, NW_SUP_SECCOMP_DENIALS));
	add(a, "landlock_abi", (uint64_t)w->landlock.abi);
	add(a, "rlimit_nofile", w->nofile);
	add(a, "worker_restarts", worker_sup_get(w, NW_SUP_RESTARTS));
	add(a, "worker_crash_streak", w->crash_streak);
	add(a, "records_skipped_after_crash", w->skipped_after_crash);
	add(a, "closed_held_after_restart", ss.closed_held);
	add(a, "closed_held_given", ss.closed_held_given);
	add(a, "events_discarded", es.discarded);
	worker_dns_stats(w->dns, add_dns, a);
	for (uint32_t i = 0; i < NW_TEL_MAX; i++) {
		uint64_t v = 0;
		if (!tel_names[i])
			continue;
		if (bpf_map_lookup_elem(w->tel_fd, &i, &v) == 0)
			add(a, tel_names[i], v);
	}
	for (int i = 0; i < NW_LIMIT_COUNT; i++)
		add(a, config_names[i], w->limits.v[i] ? w->limits.v[i] : nw_limit_defs[i].def);
	a->r.worker_pid = (uint32_t)w->pid;
	a->r.uptime_ns = worker_now_ns() - w->start_ns;
	a->r.attach_set = (char *)w->attach_set;
	a->r.event_mode = (char *)w->event_mode;
	a->r.clients = state_clients(w->state);
	resp->kind_case = NETWARDEN__RESPONSE__KIND_GET_STATS;
	resp->get_stats = &a->r;
}

/* ---- GetDNSStats, LookupAddresses (dns_rpc.c) ------------------------------ */

static void handle_dns_stats(struct worker *w, const Netwarden__GetDNSStatsRequest *req,
			     Netwarden__Response *resp)
{
	int err;

	if (!req || !req->client_id || !req->client_id[0]) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST, "empty client_id");
		return;
	}
	err = dns_rpc_stats(w->dns, req->client_id, &resp->get_dns_stats);
	if (err) {
		set_error(resp, err == -EINVAL ? NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST :
				err == -ENOSPC ? NETWARDEN__ERROR_CODE__ERROR_BUSY :
						 NETWARDEN__ERROR_CODE__ERROR_INTERNAL,
			  err == -EINVAL ? "client_id must be 1-128 printable bytes" :
			  err == -ENOSPC ? "too many DNS clients" : "out of memory");
		return;
	}
	resp->kind_case = NETWARDEN__RESPONSE__KIND_GET_DNS_STATS;
}

static void handle_lookup(struct worker *w, const Netwarden__LookupAddressesRequest *req,
			  Netwarden__Response *resp)
{
	int err = dns_rpc_lookup(w->dns, req, &resp->lookup_addresses);

	if (err) {
		set_error(resp, err == -EINVAL ? NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST :
						 NETWARDEN__ERROR_CODE__ERROR_INTERNAL,
			  err == -EINVAL ? "addresses must be 4 or 16 bytes, at most 1024 of them" :
					   "out of memory");
		return;
	}
	resp->kind_case = NETWARDEN__RESPONSE__KIND_LOOKUP_ADDRESSES;
}

/* ---- GetHTTPStats, GetKafkaStats (usm_rpc.c) ------------------------------ */

static void handle_usm(struct worker *w, const char *client_id, bool kafka, Netwarden__Response *resp)
{
	int err;

	if (!client_id || !client_id[0]) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST, "empty client_id");
		return;
	}
	err = kafka ? usm_rpc_kafka(w->usm, client_id, worker_now_ns(), &resp->get_kafka_stats)
		    : usm_rpc_http(w->usm, client_id, worker_now_ns(), &resp->get_http_stats);
	if (err == -ENOENT) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_UNKNOWN_CLIENT,
			  "unknown client: Register first (or it expired)");
		return;
	}
	if (err) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "out of memory");
		return;
	}
	resp->kind_case = kafka ? NETWARDEN__RESPONSE__KIND_GET_KAFKA_STATS
				: NETWARDEN__RESPONSE__KIND_GET_HTTP_STATS;
}

void worker_handle(void *ctx, const struct ucred *peer, const Netwarden__Request *req,
		   Netwarden__Response *resp)
{
	struct worker *w = ctx;

	if (!req) {
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME, "no request");
		return;
	}
	switch (req->kind_case) {
	case NETWARDEN__REQUEST__KIND_REGISTER:
		handle_register(w, req->register_, resp);
		break;
	case NETWARDEN__REQUEST__KIND_GET_CONNECTIONS:
		handle_get_connections(w, req->get_connections, resp);
		break;
	case NETWARDEN__REQUEST__KIND_GET_STATS:
		handle_get_stats(w, resp);
		break;
	case NETWARDEN__REQUEST__KIND_GET_HTTP_STATS:
		handle_usm(w, req->get_http_stats ? req->get_http_stats->client_id : NULL, false, resp);
		break;
	case NETWARDEN__REQUEST__KIND_GET_KAFKA_STATS:
		handle_usm(w, req->get_kafka_stats ? req->get_kafka_stats->client_id : NULL, true, resp);
		break;
	case NETWARDEN__REQUEST__KIND_GET_DNS_STATS:
		handle_dns_stats(w, req->get_dns_stats, resp);
		break;
	case NETWARDEN__REQUEST__KIND_LOOKUP_ADDRESSES:
		handle_lookup(w, req->lookup_addresses, resp);
		break;
	default:
		set_error(resp, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST, "empty request");
		break;
	}
}

void worker_release(void *ctx, Netwarden__Response *resp)
{
	if (!resp)
		return;
	switch (resp->kind_case) {
	case NETWARDEN__RESPONSE__KIND_ERROR:
		if (resp->error != &oom_error)
			free(resp->error); /* struct error_arena */
		break;
	case NETWARDEN__RESPONSE__KIND_REGISTER:
		free(resp->register_); /* struct register_arena */
		break;
	case NETWARDEN__RESPONSE__KIND_GET_CONNECTIONS:
		free(resp->get_connections); /* struct conns_arena */
		break;
	case NETWARDEN__RESPONSE__KIND_GET_STATS:
		free(resp->get_stats); /* struct stats_arena */
		break;
	case NETWARDEN__RESPONSE__KIND_GET_HTTP_STATS:
		free(resp->get_http_stats); /* usm_rpc.c's arena */
		break;
	case NETWARDEN__RESPONSE__KIND_GET_KAFKA_STATS:
		free(resp->get_kafka_stats);
		break;
	case NETWARDEN__RESPONSE__KIND_GET_DNS_STATS:
		free(resp->get_dns_stats); /* dns_rpc.c's arena */
		break;
	case NETWARDEN__RESPONSE__KIND_LOOKUP_ADDRESSES:
		free(resp->lookup_addresses);
		break;
	default:
		break;
	}
	resp->kind_case = NETWARDEN__RESPONSE__KIND__NOT_SET;
	resp->error = NULL;
}
