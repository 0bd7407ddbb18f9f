/* LIBS: -lm */
/* Unit tests for the worker's USM glue: unprivileged/usm_worker.c (samples,
 * closed connections, flushes, expiry, stats), usm_clients.c (per-client
 * deltas, limits, expiry) and usm_rpc.c (GetHTTPStats/GetKafkaStats answers);
 * and, as root, the kernel capture's records through a real ring into the
 * worker (bpf/usm.bpf.c run with BPF_PROG_RUN). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "unprivileged/usm/sketch.c"
#include "unprivileged/usm/usm_table.c"
#include "unprivileged/usm/http_parse.c"
#include "unprivileged/usm/http_path.c"
#include "unprivileged/usm/http_track.c"
#include "unprivileged/usm/kafka_parse.c"
#include "unprivileged/usm/kafka_track.c"
#include "unprivileged/usm/usm.c"
#include "unprivileged/evloop.c"
#include "sandbox/limits.c"
#include "unprivileged/usm_clients.c"
#include "unprivileged/usm_worker.c"
#include "unprivileged/usm_rpc.c"
#include "usm.skel.h"
#include "usm_kafka_build.h"

#define MS 1000000ULL

static const uint8_t key16[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct worker_usm *new_usm(uint32_t protocols, struct nw_limits *lim)
{
	struct worker_usm_cfg c = { .ring_fd = -1, .tel_fd = -1, .protocols = protocols,
				    .limits = lim, .hash_key = key16 };
	struct worker_usm *u = worker_usm_new(&c);

	assert_non_null(u);
	return u;
}

/* A record as the kernel writes it: 198.18.0.1:port -> 198.18.0.2:8080 */
static void sample(struct worker_usm *u, uint16_t client_port, uint8_t dir, uint8_t proto,
		   uint64_t ts, uint32_t seq, const void *payload, size_t len)
{
	struct usm_record r;

	memset(&r, 0, sizeof(r));
	inet_pton(AF_INET, "198.18.0.1", r.tuple.client_addr);
	inet_pton(AF_INET, "198.18.0.2", r.tuple.server_addr);
	r.tuple.client_port = client_port;
	r.tuple.server_port = 8080;
	r.tuple.family = USM_FAMILY_INET;
	r.ts_ns = ts;
	r.tcp_seq = seq;
	r.seg_len = (uint32_t)len;
	r.len = (uint16_t)(len > USM_PAYLOAD_MAX ? USM_PAYLOAD_MAX : len);
	r.direction = dir;
	r.protocol = proto;
	r.flags = USM_REC_F_SEQ;
	memcpy(r.payload, payload, r.len);
	worker_usm_sample(u, &r, USM_RECORD_HDR_SIZE + r.len);
}

/* One HTTP transaction on its own connection: request at ts, response latency later. */
static void http_tx(struct worker_usm *u, uint16_t port, const char *method, const char *path,
		    int status, uint64_t ts, uint64_t latency)
{
	char req[256], resp[128];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: t\r\n\r\n", method, path);
	int m = snprintf(resp, sizeof(resp), "HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", status);

	sample(u, port, USM_DIR_FROM_CLIENT, USM_PROTO_HTTP, ts, 1, req, (size_t)n);
	sample(u, port, USM_DIR_FROM_SERVER, USM_PROTO_HTTP, ts + latency, 1, resp, (size_t)m);
}

/* GetHTTPStats for a client: the answer (free() it) or NULL with *err. */
static Netwarden__GetHTTPStatsResponse *http(struct worker_usm *u, const char *id, int *err)
{
	Netwarden__GetHTTPStatsResponse *r = NULL;

	*err = usm_rpc_http(u, id, 1, &r);
	return r;
}

static const Netwarden__HTTPStat *find_http(const Netwarden__GetHTTPStatsResponse *r,
					    const char *method, const char *path, uint32_t status)
{
	for (size_t i = 0; i < r->n_stats; i++)
		if (!strcmp(r->stats[i]->method, method) && !strcmp(r->stats[i]->path, path) &&
		    r->stats[i]->status == status)
			return r->stats[i];
	return NULL;
}

static void test_tuples_from_closed_conns(void **state)
{
	struct nw_conn c;
	struct usm_tuple t[2];

	memset(&c, 0, sizeof(c));
	inet_pton(AF_INET, "198.18.0.2", c.tup.saddr);
	inet_pton(AF_INET, "198.18.0.1", c.tup.daddr);
	c.tup.sport = 8080;
	c.tup.dport = 40000;
	c.tup.family = NW_FAMILY_INET;
	c.tup.type = NW_TYPE_TCP;
	c.tup.netns = 4026531840u;
	c.tup.direction = NW_DIR_INCOMING; /* the server's socket */
	assert_int_equal(worker_usm_tuples(&c, t), 1);
	assert_int_equal(t[0].client_port, 40000);
	assert_int_equal(t[0].server_port, 8080);
	assert_memory_equal(t[0].client_addr, c.tup.daddr, 16);
	assert_memory_equal(t[0].server_addr, c.tup.saddr, 16);
	assert_int_equal(t[0].netns, 0); /* as the capture writes it */
	c.tup.direction = NW_DIR_OUTGOING;
	assert_int_equal(worker_usm_tuples(&c, t), 1);
	assert_int_equal(t[0].client_port, 8080);
	c.tup.direction = NW_DIR_UNKNOWN;
	assert_int_equal(worker_usm_tuples(&c, t), 2);
	assert_int_equal(t[0].client_port, 8080);
	assert_int_equal(t[1].client_port, 40000);
	c.tup.type = NW_TYPE_UDP;
	assert_int_equal(worker_usm_tuples(&c, t), 0);
}

static void test_per_client_deltas(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	Netwarden__GetHTTPStatsResponse *r;
	const Netwarden__HTTPStat *s;
	int err;

	assert_int_equal(worker_usm_register(u, "a", 0), 0);
	assert_int_equal(worker_usm_register(u, "b", 0), 0);
	assert_int_equal(worker_usm_register(u, "a", 0), 1);
	http_tx(u, 40000, "GET", "/index.html", 200, 1000, 2 * MS);
	http_tx(u, 40001, "GET", "/index.html", 200, 2000, 4 * MS);
	http_tx(u, 40002, "POST", "/api/login", 500, 3000, 1 * MS);

	r = http(u, "a", &err);
	assert_int_equal(err, 0);
	assert_true(r->enabled);
	assert_int_equal(r->n_stats, 2);
	s = find_http(r, "GET", "/index.html", 200);
	assert_non_null(s);
	assert_int_equal(s->count, 2);
	assert_int_equal(s->server_port, 8080);
	assert_int_equal(s->server_addr.len, 4);
	assert_int_equal(s->family, NETWARDEN__FAMILY__FAMILY_INET);
	assert_non_null(s->latency);
	assert_int_equal(s->latency->count, 2);
	assert_true(fabs(s->latency->max_ns - 4e6) <= 4e6 * 0.01);
	assert_true(fabs(s->latency->min_ns - 2e6) <= 2e6 * 0.01);
	s = find_http(r, "POST", "/api/login", 500);
	assert_non_null(s);
	assert_int_equal(s->count, 1);
	assert_true(s->latency->p50_ns == 1e6); /* one sample: exact */
	free(r);
	/* a second call by a: nothing new */
	r = http(u, "a", &err);
	assert_int_equal(r->n_stats, 0);
	free(r);
	/* b still has everything */
	http_tx(u, 40003, "GET", "/index.html", 200, 5000, 3 * MS);
	r = http(u, "b", &err);
	s = find_http(r, "GET", "/index.html", 200);
	assert_non_null(s);
	assert_int_equal(s->count, 3);
	free(r);
	/* a gets only the newest */
	r = http(u, "a", &err);
	assert_int_equal(r->n_stats, 1);
	assert_int_equal(r->stats[0]->count, 1);
	free(r);
	worker_usm_free(u);
}

static void test_new_client_starts_empty(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	Netwarden__GetHTTPStatsResponse *r;
	struct usm_clients_stats cs;
	int err;

	http_tx(u, 40000, "GET", "/", 200, 1000, MS); /* nobody registered yet */
	assert_int_equal(worker_usm_register(u, "late", 0), 0);
	r = http(u, "late", &err);
	assert_int_equal(err, 0);
	assert_int_equal(r->n_stats, 0);
	free(r);
	usm_clients_get_stats(worker_usm_clients(u), &cs);
	assert_int_equal(cs.http_no_clients, 1);
	/* an unknown id is refused */
	assert_null(http(u, "nobody", &err));
	assert_int_equal(err, -ENOENT);
	worker_usm_free(u);
}

static void test_protocol_off(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_BIT(USM_PROTO_HTTP), NULL);
	Netwarden__GetKafkaStatsResponse *k = NULL;
	Netwarden__GetHTTPStatsResponse *h = NULL;
	struct usm_telemetry t;
	struct kbuf kb = { 0 };
	size_t n = k_produce(&kb, 7, 1, "c", NULL, 1, "t");

	assert_false(worker_usm_enabled(u, USM_PROTO_KAFKA));
	/* Kafka off: an empty answer, even for an unknown client */
	assert_int_equal(usm_rpc_kafka(u, "x", 1, &k), 0);
	assert_false(k->enabled);
	assert_int_equal(k->n_stats, 0);
	free(k);
	/* a Kafka record reaching a worker without Kafka is counted, not parsed */
	sample(u, 1, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA, 1, 1, kb.b, n);
	usm_telemetry_get(u->usm, &t);
	assert_int_equal(t.disabled, 1);
	/* no capture at all */
	assert_int_equal(usm_rpc_http(NULL, "x", 1, &h), 0);
	assert_false(h->enabled);
	free(h);
	worker_usm_free(u);
	/* a mask naming nothing or something unknown is refused */
	{
		struct worker_usm_cfg c = { .ring_fd = -1, .tel_fd = -1, .hash_key = key16 };
		assert_null(worker_usm_new(&c));
		c.protocols = 1u << 7;
		assert_null(worker_usm_new(&c));
	}
}

static void test_client_limits_and_expiry(void **state)
{
	struct nw_limits lim;
	struct worker_usm *u;
	Netwarden__GetHTTPStatsResponse *r;
	struct usm_clients_stats cs;
	int err;

	nw_limits_default(&lim);
	lim.v[NW_LIMIT_MAX_HTTP_STATS] = 2;
	lim.v[NW_LIMIT_MAX_CLIENTS] = 2;
	lim.v[NW_LIMIT_CLIENT_EXPIRY] = 1000; /* ms */
	u = new_usm(USM_PROTO_MASK_ALL, &lim);
	assert_int_equal(worker_usm_register(u, "a", 0), 0);
	assert_int_equal(worker_usm_register(u, "b", 0), 0);
	assert_int_equal(worker_usm_register(u, "c", 0), -ENOSPC);
	http_tx(u, 40000, "GET", "/one", 200, 1000, MS);
	http_tx(u, 40001, "GET", "/two", 200, 1000, MS);
	http_tx(u, 40002, "GET", "/three", 200, 1000, MS);
	assert_int_equal(usm_rpc_http(u, "a", 500 * MS, &r), 0);
	assert_int_equal(r->n_stats, 2);
	free(r);
	usm_clients_get_stats(worker_usm_clients(u), &cs);
	assert_int_equal(cs.http_dropped, 2); /* one per client */
	assert_int_equal(cs.clients_refused, 1);
	/* a was seen at 0.5 s (its query), b at 0: at 1.0005 s b is gone, a stays */
	worker_usm_tick(u, 1000 * MS + MS / 2);
	assert_int_equal(usm_clients_count(worker_usm_clients(u)), 1);
	assert_null(http(u, "b", &err));
	assert_int_equal(err, -ENOENT);
	worker_usm_free(u);
}

static void test_closed_conn_forgotten(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	struct usm_http_telemetry t;
	struct nw_conn c;
	static const char req[] = "GET /slow HTTP/1.1\r\n\r\n";

	sample(u, 40000, USM_DIR_FROM_CLIENT, USM_PROTO_HTTP, 10, 1, req, sizeof(req) - 1);
	usm_http_telemetry_get(usm_http(u->usm), &t);
	assert_int_equal(t.conns, 1);
	memset(&c, 0, sizeof(c));
	inet_pton(AF_INET, "198.18.0.1", c.tup.saddr);
	inet_pton(AF_INET, "198.18.0.2", c.tup.daddr);
	c.tup.sport = 40000;
	c.tup.dport = 8080;
	c.tup.type = NW_TYPE_TCP;
	c.tup.direction = NW_DIR_OUTGOING; /* the client's socket */
	worker_usm_conn_closed(u, &c);
	usm_http_telemetry_get(usm_http(u->usm), &t);
	assert_int_equal(t.conns, 0);
	assert_int_equal(t.aged, 1);
	assert_int_equal(u->stats.closed_forgotten, 1);
	worker_usm_conn_closed(NULL, &c); /* no USM: nothing */
	worker_usm_free(u);
}

static void test_idle_conns_expired(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	struct usm_http_telemetry t;
	static const char req[] = "GET / HTTP/1.1\r\n\r\n";

	sample(u, 40000, USM_DIR_FROM_CLIENT, USM_PROTO_HTTP, 10, 1, req, sizeof(req) - 1);
	worker_usm_tick(u, 10 + 31000 * MS); /* past the 30 s idle timeout */
	usm_http_telemetry_get(usm_http(u->usm), &t);
	assert_int_equal(t.conns, 0);
	assert_int_equal(u->stats.expired_conns, 1);
	worker_usm_free(u);
}

static void test_kafka_answer(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	Netwarden__GetKafkaStatsResponse *r = NULL;
	struct kbuf q = { 0 }, p = { 0 };
	size_t nq, np;

	assert_int_equal(worker_usm_register(u, "k", 0), 0);
	for (int i = 0; i < 3; i++) {
		q.n = p.n = 0;
		nq = k_produce(&q, 7, 100 + i, "rdkafka", NULL, 1, "orders");
		np = k_produce_resp(&p, 7, 100 + i, "orders", 0);
		sample(u, 40000, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA, 1000 + 10 * MS * i,
		       (uint32_t)(1 + 1000 * i), q.b, nq);
		sample(u, 40000, USM_DIR_FROM_SERVER, USM_PROTO_KAFKA, 1000 + 10 * MS * i + 5 * MS,
		       (uint32_t)(1 + 1000 * i), p.b, np);
	}
	/* a Fetch v11 whose partition answers error 3 */
	q.n = p.n = 0;
	nq = k_fetch(&q, 11, 200, "rdkafka", "orders");
	np = k_fetch_resp(&p, 11, 200, 0, "orders", 3);
	sample(u, 40001, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA, 5000, 1, q.b, nq);
	sample(u, 40001, USM_DIR_FROM_SERVER, USM_PROTO_KAFKA, 5000 + MS, 1, p.b, np);
	assert_int_equal(usm_rpc_kafka(u, "k", 1, &r), 0);
	assert_true(r->enabled);
	assert_int_equal(r->n_stats, 2);
	if (r->stats[0]->api_key != 0) { /* the produce first */
		Netwarden__KafkaStat *t = r->stats[0];
		r->stats[0] = r->stats[1];
		r->stats[1] = t;
	}
	assert_string_equal(r->stats[1]->api, "fetch");
	assert_int_equal(r->stats[1]->api_version, 11);
	assert_int_equal(r->stats[1]->error_code, 3);
	assert_int_equal(r->stats[1]->count, 1);
	assert_string_equal(r->stats[1]->topic, "orders");
	assert_string_equal(r->stats[0]->api, "produce");
	assert_int_equal(r->stats[0]->api_key, 0);
	assert_int_equal(r->stats[0]->api_version, 7);
	assert_string_equal(r->stats[0]->topic, "orders");
	assert_int_equal(r->stats[0]->error_code, 0);
	assert_int_equal(r->stats[0]->count, 3);
	assert_int_equal(r->stats[0]->latency->count, 3);
	assert_true(fabs(r->stats[0]->latency->p50_ns - 5e6) <= 5e6 * 0.01);
	assert_int_equal(r->stats[0]->server_port, 8080);
	free(r);
	worker_usm_free(u);
}

/* Every GetStats name once; per-version Kafka hits only when seen. */
struct names {
	char n[256][48];
	size_t count;
};

static void collect(void *ctx, const char *name, uint64_t v)
{
	struct names *s = ctx;

	for (size_t i = 0; i < s->count; i++)
		assert_string_not_equal(s->n[i], name);
	assert_true(s->count < 256);
	snprintf(s->n[s->count++], sizeof(s->n[0]), "%s", name);
}

static bool has(const struct names *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (!strcmp(s->n[i], name))
			return true;
	return false;
}

static void test_stats_names(void **state)
{
	struct worker_usm *u = new_usm(USM_PROTO_MASK_ALL, NULL);
	struct names *s = calloc(1, sizeof(*s));
	struct kbuf q = { 0 }, p = { 0 };
	size_t nq = k_produce(&q, 7, 1, "c", NULL, 1, "t"), np = k_produce_resp(&p, 7, 1, "t", 0);

	sample(u, 1, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA, 1, 1, q.b, nq);
	sample(u, 1, USM_DIR_FROM_SERVER, USM_PROTO_KAFKA, 2, 1, p.b, np);
	worker_usm_stats(u, collect, s);
	assert_true(has(s, "usm_samples"));
	assert_true(has(s, "http_requests"));
	assert_true(has(s, "http_hits_5xx"));
	assert_true(has(s, "http_malformed_unknown-method"));
	assert_true(has(s, "kafka_produce_hits_v7"));
	assert_false(has(s, "kafka_produce_hits_v6"));
	assert_false(has(s, "usm_tel_records")); /* no counters map given */
	free(s);
	worker_usm_stats(NULL, collect, NULL); /* no USM: nothing */
	worker_usm_free(u);
}

/* ---- the kernel's records through a real ring --------------------------------- */

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 + TCP from a to b carrying payload. */
static size_t frame(uint8_t *f, const char *a, uint16_t ap, const char *b, uint16_t bp,
		    uint32_t seq, const char *payload)
{
	size_t n = strlen(payload);

	memset(f, 0, 14 + 40);
	put16(f + 12, 0x0800);
	f[14] = 0x45;
	put16(f + 16, (uint16_t)(40 + n));
	f[22] = 64;
	f[23] = 6;
	inet_pton(AF_INET, a, f + 26);
	inet_pton(AF_INET, b, f + 30);
	put16(f + 34, ap);
	put16(f + 36, bp);
	put16(f + 38, (uint16_t)(seq >> 16));
	put16(f + 40, (uint16_t)seq);
	f[46] = 5 << 4;
	f[47] = 0x18;
	memcpy(f + 54, payload, n);
	return 54 + n;
}

static void test_kernel_records_reach_the_trackers(void **state)
{
	struct usm_bpf *skel;
	struct worker_usm *u;
	struct worker_usm_cfg c = { .protocols = USM_PROTO_BIT(USM_PROTO_HTTP), .hash_key = key16 };
	Netwarden__GetHTTPStatsResponse *r;
	struct names *s = calloc(1, sizeof(*s));
	uint8_t f[512];
	size_t n;
	int err;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .repeat = 1);

	if (geteuid() != 0) {
		free(s);
		skip();
	}
	libbpf_set_print(silent);
	skel = usm_bpf__open_and_load();
	assert_non_null(skel);
	c.ring_fd = bpf_map__fd(skel->maps.nw_usm_rb);
	c.tel_fd = bpf_map__fd(skel->maps.nw_usm_tel);
	u = worker_usm_new(&c);
	assert_non_null(u);
	assert_int_equal(worker_usm_fds(u, (int[1]){ 0 }, 1), 1);
	assert_int_equal(worker_usm_register(u, "k", 0), 0);
	n = frame(f, "198.18.5.1", 41000, "198.18.5.2", 80, 10, "GET /kernel/path HTTP/1.1\r\n\r\n");
	o.data_size_in = (__u32)n;
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.nw_usm_capture), &o), 0);
	n = frame(f, "198.18.5.2", 80, "198.18.5.1", 41000, 99,
		  "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	o.data_size_in = (__u32)n;
	o.data_size_out = 0; /* the first run set it */
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.nw_usm_capture), &o), 0);

	r = http(u, "k", &err); /* drains the ring first */
	assert_int_equal(err, 0);
	assert_int_equal(r->n_stats, 1);
	assert_string_equal(r->stats[0]->method, "GET");
	assert_string_equal(r->stats[0]->path, "/kernel/path");
	assert_int_equal(r->stats[0]->status, 404);
	assert_int_equal(r->stats[0]->server_port, 80);
	assert_int_equal(r->stats[0]->count, 1);
	assert_memory_equal(r->stats[0]->server_addr.data, "\xc6\x12\x05\x02", 4);
	free(r);
	worker_usm_stats(u, collect, s);
	assert_true(has(s, "usm_tel_records"));
	free(s);
	worker_usm_free(u);
	usm_bpf__destroy(skel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tuples_from_closed_conns),
		cmocka_unit_test(test_per_client_deltas),
		cmocka_unit_test(test_new_client_starts_empty),
		cmocka_unit_test(test_protocol_off),
		cmocka_unit_test(test_client_limits_and_expiry),
		cmocka_unit_test(test_closed_conn_forgotten),
		cmocka_unit_test(test_idle_conns_expired),
		cmocka_unit_test(test_kafka_answer),
		cmocka_unit_test(test_stats_names),
		cmocka_unit_test(test_kernel_records_reach_the_trackers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
