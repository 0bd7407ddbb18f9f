// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The worker's USM part (usm_worker.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unprivileged/usm_worker.h"

#define UW_EXPIRE_EVERY_NS (5ULL * 1000000000ULL) /* trackers' idle scans */

struct worker_usm {
	struct usm *usm;
	struct usm_clients *clients;
	struct ring_buffer *rb;
	struct ev_handler rb_h;
	int tel_fd;
	int ncpus;
	uint32_t protocols;
	uint64_t last_expire_ns;
	struct worker_usm_stats stats;
};

static uint64_t uw_limit(const struct nw_limits *l, enum nw_limit id)
{
	return l && l->v[id] ? l->v[id] : nw_limit_defs[id].def;
}

static int uw_on_ring(void *ctx, void *data, size_t size)
{
	worker_usm_sample(ctx, data, size);
	return 0; /* a bad record never stops the ring */
}

static void uw_on_ring_ready(struct ev_handler *h, uint32_t events)
{
	struct worker_usm *u = (struct worker_usm *)((char *)h - offsetof(struct worker_usm, rb_h));

	worker_usm_drain(u);
}

static int uw_fill_key(uint8_t key[16], const uint8_t *given)
{
	size_t got = 0;

	if (given) {
		memcpy(key, given, 16);
		return 0;
	}
	while (got < 16) {
		ssize_t n = getrandom(key + got, 16 - got, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}

static int uw_setup(struct worker_usm *u, const struct worker_usm_cfg *cfg)
{
	struct usm_clients_limits cl = { 0 };
	struct usm_config uc;
	int err;

	usm_config_default(&uc);
	uc.http = cfg->protocols & USM_PROTO_BIT(USM_PROTO_HTTP);
	uc.kafka = cfg->protocols & USM_PROTO_BIT(USM_PROTO_KAFKA);
	err = uw_fill_key(uc.http_cfg.hash_key, cfg->hash_key);
	if (!err)
		err = uw_fill_key(uc.kafka_cfg.hash_key, cfg->hash_key);
	if (!err)
		err = uw_fill_key(cl.hash_key, cfg->hash_key);
	if (err)
		return err;
	u->usm = usm_new(&uc);
	if (!u->usm)
		return -errno;
	cl.max_clients = (unsigned int)uw_limit(cfg->limits, NW_LIMIT_MAX_CLIENTS);
	cl.max_http = (uint32_t)uw_limit(cfg->limits, NW_LIMIT_MAX_HTTP_STATS);
	cl.max_kafka = (uint32_t)uw_limit(cfg->limits, NW_LIMIT_MAX_KAFKA_STATS);
	cl.expiry_ns = uw_limit(cfg->limits, NW_LIMIT_CLIENT_EXPIRY) * 1000000ULL;
	cl.accuracy = uc.http_cfg.accuracy;
	cl.max_buckets = uc.http_cfg.max_buckets;
	u->clients = usm_clients_new(&cl);
	if (!u->clients)
		return -errno;
	if (cfg->tel_fd >= 0) {
		/* sysfs now: the sandbox will not let it be read later */
		u->ncpus = libbpf_num_possible_cpus();
		if (u->ncpus <= 0)
			return u->ncpus < 0 ? u->ncpus : -EINVAL;
	}
	if (cfg->ring_fd >= 0) {
		u->rb = ring_buffer__new(cfg->ring_fd, uw_on_ring, u, NULL);
		if (!u->rb)
			return errno ? -errno : -EINVAL;
	}
	return 0;
}

struct worker_usm *worker_usm_new(const struct worker_usm_cfg *cfg)
{
	struct worker_usm *u;
	int err;

	if (!cfg || !cfg->protocols || (cfg->protocols & ~USM_PROTO_MASK_ALL)) {
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->tel_fd = cfg->tel_fd;
	u->protocols = cfg->protocols;
	err = uw_setup(u, cfg);
	if (err) {
		worker_usm_free(u);
		errno = -err;
		return NULL;
	}
	return u;
}

void worker_usm_free(struct worker_usm *u)
{
	if (!u)
		return;
	ring_buffer__free(u->rb);
	usm_clients_free(u->clients);
	usm_free(u->usm);
	free(u);
}

int worker_usm_attach(struct worker_usm *u, struct evloop *loop)
{
	if (!u || !u->rb)
		return 0; /* no USM capture */
	if (!loop)
		return -EINVAL;
	u->rb_h.fd = ring_buffer__epoll_fd(u->rb);
	u->rb_h.fn = uw_on_ring_ready;
	return evloop_add(loop, &u->rb_h, EPOLLIN);
}

size_t worker_usm_fds(const struct worker_usm *u, int *out, size_t max)
{
	if (!u || !u->rb || !max)
		return 0;
	out[0] = ring_buffer__epoll_fd(u->rb);
	return 1;
}

bool worker_usm_enabled(const struct worker_usm *u, enum usm_protocol p)
{
	return u && (u->protocols & USM_PROTO_BIT(p));
}

void worker_usm_sample(struct worker_usm *u, const void *data, size_t size)
{
	usm_handle_sample(u->usm, data, size); /* counted inside when refused */
}

int worker_usm_drain(struct worker_usm *u)
{
	int n;

	if (!u || !u->rb)
		return 0;
	n = ring_buffer__consume(u->rb);
	if (n > 0)
		u->stats.ring_drains++;
	return n;
}

size_t worker_usm_tuples(const struct nw_conn *c, struct usm_tuple out[2])
{
	const struct nw_conn_tuple *t = &c->tup;
	size_t n = 0;

	if (t->type != NW_TYPE_TCP || t->family > NW_FAMILY_INET6)
		return 0;
	for (int local_is_client = 1; local_is_client >= 0; local_is_client--) {
		struct usm_tuple *u = &out[n];

		if (t->direction == NW_DIR_INCOMING && local_is_client)
			continue;
		if (t->direction == NW_DIR_OUTGOING && !local_is_client)
			continue;
		memset(u, 0, sizeof(*u));
		memcpy(u->client_addr, local_is_client ? t->saddr : t->daddr, 16);
		memcpy(u->server_addr, local_is_client ? t->daddr : t->saddr, 16);
		u->client_port = local_is_client ? t->sport : t->dport;
		u->server_port = local_is_client ? t->dport : t->sport;
		u->family = t->family; /* enum nw_family and enum usm_family agree */
		n++;
	}
	return n;
}

void worker_usm_conn_closed(struct worker_usm *u, const struct nw_conn *c)
{
	struct usm_tuple tup[2];
	size_t n;

	if (!u)
		return;
	n = worker_usm_tuples(c, tup);
	if (!n)
		return;
	/* its last segments were captured before its close: take them in first */
	worker_usm_drain(u);
	for (size_t i = 0; i < n; i++) {
		struct usm_http_tracker *h = usm_http(u->usm);
		struct usm_kafka_tracker *k = usm_kafka(u->usm);

		if ((h && !usm_http_conn_closed(h, &tup[i])) ||
		    (k && !usm_kafka_conn_closed(k, &tup[i])))
			u->stats.closed_forgotten++;
	}
}

static int uw_move_http(const struct usm_http_key *key, const struct usm_latency *lat, void *ctx)
{
	usm_clients_add_http(ctx, key, lat); /* refusals counted there */
	return 0;
}

static int uw_move_kafka(const struct usm_kafka_key *key, const struct usm_kafka_stats *st, void *ctx)
{
	usm_clients_add_kafka(ctx, key, st);
	return 0;
}

void worker_usm_flush(struct worker_usm *u)
{
	struct usm_http_tracker *h;
	struct usm_kafka_tracker *k;

	if (!u)
		return;
	worker_usm_drain(u);
	h = usm_http(u->usm);
	k = usm_kafka(u->usm);
	if (h)
		usm_http_stats_scan(h, true, uw_move_http, u->clients);
	if (k)
		usm_kafka_stats_scan(k, true, uw_move_kafka, u->clients);
	u->stats.flushes++;
}

void worker_usm_tick(struct worker_usm *u, uint64_t now_ns)
{
	if (!u)
		return;
	worker_usm_flush(u);
	if (now_ns - u->last_expire_ns >= UW_EXPIRE_EVERY_NS) {
		struct usm_http_tracker *h = usm_http(u->usm);
		struct usm_kafka_tracker *k = usm_kafka(u->usm);

		if (h)
			u->stats.expired_conns += usm_http_expire(h, now_ns);
		if (k)
			u->stats.expired_conns += usm_kafka_expire(k, now_ns);
		u->last_expire_ns = now_ns;
	}
	usm_clients_tick(u->clients, now_ns);
}

int worker_usm_register(struct worker_usm *u, const char *client_id, uint64_t now_ns)
{
	if (!u)
		return 0;
	/* what completed before this client came belongs to the others */
	worker_usm_flush(u);
	return usm_clients_register(u->clients, client_id, now_ns);
}

struct usm_clients *worker_usm_clients(struct worker_usm *u)
{
	return u ? u->clients : NULL;
}

/* ---- GetStats ------------------------------------------------------------ */

static const char *const uw_tel_names[USM_TEL_MAX] = {
	[USM_TEL_SEGMENTS] = "usm_tel_segments",
	[USM_TEL_HTTP_REQUESTS] = "usm_tel_http_requests",
	[USM_TEL_HTTP_RESPONSES] = "usm_tel_http_responses",
	[USM_TEL_HTTP_NO_FLOW] = "usm_tel_http_no_flow",
	[USM_TEL_KAFKA_CLASSIFIED] = "usm_tel_kafka_classified",
	[USM_TEL_KAFKA_SEGMENTS] = "usm_tel_kafka_segments",
	[USM_TEL_RECORDS] = "usm_tel_records",
	[USM_TEL_RING_FULL] = "usm_tel_ring_full",
	[USM_TEL_FLOW_FAIL] = "usm_tel_flow_fail",
	[USM_TEL_BAD] = "usm_tel_bad",
	[USM_TEL_FRAGMENTS] = "usm_tel_fragments",
	[USM_TEL_TRUNCATED] = "usm_tel_truncated",
	[USM_TEL_WAKEUPS] = "usm_tel_wakeups",
};

/* Names made from tables (verdicts, api versions), made once. */
static char uw_http_malformed_names[USM_HTTP_VERDICT_COUNT][48];
static char uw_kafka_malformed_names[USM_KAFKA_VERDICT_COUNT][48];
static char uw_produce_names[USM_KAFKA_PRODUCE_MAX_VERSION + 1][40];
static char uw_fetch_names[USM_KAFKA_FETCH_MAX_VERSION + 1][40];

static void uw_names_init(void)
{
	if (uw_produce_names[0][0])
		return;
	for (unsigned i = 0; i < USM_HTTP_VERDICT_COUNT; i++)
		snprintf(uw_http_malformed_names[i], sizeof(uw_http_malformed_names[i]), "http_malformed_%s",
			 usm_http_verdict_name(i));
	for (unsigned i = 0; i < USM_KAFKA_VERDICT_COUNT; i++)
		snprintf(uw_kafka_malformed_names[i], sizeof(uw_kafka_malformed_names[i]),
			 "kafka_malformed_%s", usm_kafka_verdict_name(i));
	for (unsigned i = 0; i <= USM_KAFKA_PRODUCE_MAX_VERSION; i++)
		snprintf(uw_produce_names[i], sizeof(uw_produce_names[i]), "kafka_produce_hits_v%u", i);
	for (unsigned i = 0; i <= USM_KAFKA_FETCH_MAX_VERSION; i++)
		snprintf(uw_fetch_names[i], sizeof(uw_fetch_names[i]), "kafka_fetch_hits_v%u", i);
}

static void uw_kernel_stats(struct worker_usm *u, void (*add)(void *, const char *, uint64_t),
			 void *ctx)
{
	uint64_t *per_cpu;

	if (u->tel_fd < 0 || u->ncpus <= 0)
		return;
	per_cpu = calloc((size_t)u->ncpus, sizeof(*per_cpu));
	if (!per_cpu)
		return;
	for (uint32_t i = 0; i < USM_TEL_MAX; i++) {
		uint64_t sum = 0;

		if (!uw_tel_names[i] || bpf_map_lookup_elem(u->tel_fd, &i, per_cpu))
			continue;
		for (int c = 0; c < u->ncpus; c++)
			sum += per_cpu[c];
		add(ctx, uw_tel_names[i], sum);
	}
	free(per_cpu);
}

static void uw_http_stats(struct usm_http_tracker *h, void (*add)(void *, const char *, uint64_t),
		       void *ctx)
{
	static const char *const hits[6] = { NULL, "http_hits_1xx", "http_hits_2xx",
					     "http_hits_3xx", "http_hits_4xx", "http_hits_5xx" };
	struct usm_http_telemetry t;

	usm_http_telemetry_get(h, &t);
	add(ctx, "http_records", t.records);
	add(ctx, "http_invalid_records", t.invalid_records);
	add(ctx, "http_capture_truncated", t.capture_truncated);
	add(ctx, "http_duplicates", t.duplicates);
	add(ctx, "http_requests", t.requests);
	add(ctx, "http_responses", t.responses);
	add(ctx, "http_interim", t.interim);
	for (int i = 1; i < 6; i++)
		add(ctx, hits[i], t.hits[i]);
	add(ctx, "http_rejected", t.rejected);
	for (unsigned i = USM_HTTP_NOT_HTTP + 1; i < USM_HTTP_VERDICT_COUNT; i++)
		add(ctx, uw_http_malformed_names[i], t.malformed[i]);
	add(ctx, "http_misdirected", t.misdirected);
	add(ctx, "http_invalid_latency", t.invalid_latency);
	add(ctx, "http_filtered", t.filtered);
	add(ctx, "http_path_truncated", t.path_truncated);
	add(ctx, "http_orphan_responses", t.orphan_responses);
	add(ctx, "http_late_matched", t.late_matched);
	add(ctx, "http_upgraded", t.upgraded);
	add(ctx, "http_dropped_conns", t.dropped_conns);
	add(ctx, "http_dropped_requests", t.dropped_requests);
	add(ctx, "http_dropped_keys", t.dropped_keys);
	add(ctx, "http_dropped_samples", t.dropped_samples);
	add(ctx, "http_aged", t.aged);
	add(ctx, "http_conns", t.conns);
	add(ctx, "http_keys", t.keys);
}

static void uw_kafka_stats(struct usm_kafka_tracker *k, void (*add)(void *, const char *, uint64_t),
			void *ctx)
{
	struct usm_kafka_telemetry t;

	usm_kafka_telemetry_get(k, &t);
	add(ctx, "kafka_records", t.records);
	add(ctx, "kafka_invalid_records", t.invalid_records);
	add(ctx, "kafka_capture_truncated", t.capture_truncated);
	add(ctx, "kafka_requests", t.requests);
	add(ctx, "kafka_other_requests", t.other_requests);
	add(ctx, "kafka_unsupported_version", t.unsupported_version);
	add(ctx, "kafka_responses", t.responses);
	add(ctx, "kafka_unmatched_responses", t.unmatched_responses);
	/* per api version: only the versions seen, or the list would be long */
	for (unsigned i = 0; i <= USM_KAFKA_PRODUCE_MAX_VERSION; i++)
		if (t.produce_hits[i])
			add(ctx, uw_produce_names[i], t.produce_hits[i]);
	for (unsigned i = 0; i <= USM_KAFKA_FETCH_MAX_VERSION; i++)
		if (t.fetch_hits[i])
			add(ctx, uw_fetch_names[i], t.fetch_hits[i]);
	add(ctx, "kafka_no_response", t.no_response);
	for (unsigned i = USM_KAFKA_SHORT; i < USM_KAFKA_VERDICT_COUNT; i++)
		add(ctx, uw_kafka_malformed_names[i], t.malformed[i]);
	add(ctx, "kafka_rejected", t.rejected);
	add(ctx, "kafka_continuation", t.continuation);
	add(ctx, "kafka_truncated", t.truncated);
	add(ctx, "kafka_response_truncated", t.response_truncated);
	add(ctx, "kafka_uncaptured", t.uncaptured);
	add(ctx, "kafka_lost_sync", t.lost_sync);
	add(ctx, "kafka_invalid_latency", t.invalid_latency);
	add(ctx, "kafka_dropped_conns", t.dropped_conns);
	add(ctx, "kafka_dropped_requests", t.dropped_requests);
	add(ctx, "kafka_dropped_keys", t.dropped_keys);
	add(ctx, "kafka_dropped_samples", t.dropped_samples);
	add(ctx, "kafka_aged", t.aged);
	add(ctx, "kafka_conns", t.conns);
	add(ctx, "kafka_keys", t.keys);
}

void worker_usm_stats(struct worker_usm *u, void (*add)(void *ctx, const char *name, uint64_t v),
		      void *ctx)
{
	struct usm_clients_stats cs;
	struct usm_telemetry ut;

	if (!u)
		return;
	uw_names_init();
	worker_usm_drain(u); /* counters as of now */
	usm_telemetry_get(u->usm, &ut);
	usm_clients_get_stats(u->clients, &cs);
	add(ctx, "usm_samples", ut.samples);
	add(ctx, "usm_bad_samples", ut.bad_samples);
	add(ctx, "usm_disabled_protocol", ut.disabled);
	add(ctx, "usm_unknown_protocol", ut.unknown_protocol);
	add(ctx, "usm_ring_drains", u->stats.ring_drains);
	add(ctx, "usm_closed_forgotten", u->stats.closed_forgotten);
	add(ctx, "usm_expired_conns", u->stats.expired_conns);
	add(ctx, "usm_flushes", u->stats.flushes);
	add(ctx, "usm_clients", usm_clients_count(u->clients));
	add(ctx, "usm_http_added", cs.http_added);
	add(ctx, "usm_http_dropped", cs.http_dropped);
	add(ctx, "usm_http_no_clients", cs.http_no_clients);
	add(ctx, "usm_kafka_added", cs.kafka_added);
	add(ctx, "usm_kafka_dropped", cs.kafka_dropped);
	add(ctx, "usm_kafka_no_clients", cs.kafka_no_clients);
	add(ctx, "usm_merge_failed", cs.merge_failed);
	add(ctx, "usm_clients_refused", cs.clients_refused);
	add(ctx, "usm_clients_expired", cs.clients_expired);
	uw_kernel_stats(u, add, ctx);
	if (usm_http(u->usm))
		uw_http_stats(usm_http(u->usm), add, ctx);
	if (usm_kafka(u->usm))
		uw_kafka_stats(usm_kafka(u->usm), add, ctx);
}
