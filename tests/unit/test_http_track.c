/* LIBS: -lm */
/* Unit tests for unprivileged/usm/http_track.c (matching, pipelining, limits,
 * telemetry), usm.c (sample checks and dispatch) and usm_table.c. Records are
 * built as the kernel will deliver them. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "unprivileged/usm/sketch.c"
#include "unprivileged/usm/usm_table.c"
#include "unprivileged/usm/http_parse.c"
#include "unprivileged/usm/http_path.c"
#include "unprivileged/usm/http_track.c"
#include "unprivileged/usm/kafka_parse.c"
#include "unprivileged/usm/kafka_track.c"
#include "unprivileged/usm/usm.c"

#define FROM_CLIENT USM_DIR_FROM_CLIENT
#define FROM_SERVER USM_DIR_FROM_SERVER

static struct usm_record rec;

static void mkrec(uint16_t client_port, int dir, uint64_t ts, const char *payload, size_t len)
{
	memset(&rec, 0, sizeof(rec));
	rec.ts_ns = ts;
	rec.tuple.family = USM_FAMILY_INET;
	memcpy(rec.tuple.client_addr, "\x0a\x00\x00\x01", 4);
	memcpy(rec.tuple.server_addr, "\x0a\x00\x00\x02", 4);
	rec.tuple.client_port = client_port;
	rec.tuple.server_port = 80;
	rec.tuple.netns = 4026531840u;
	rec.direction = (uint8_t)dir;
	rec.protocol = USM_PROTO_HTTP;
	rec.len = (uint16_t)(len > USM_PAYLOAD_MAX ? USM_PAYLOAD_MAX : len);
	rec.seg_len = (uint32_t)len;
	memcpy(rec.payload, payload, rec.len);
}

static void feed(struct usm_http_tracker *t, uint16_t port, int dir, uint64_t ts, const char *s)
{
	mkrec(port, dir, ts, s, strlen(s));
	assert_int_equal(usm_http_track_record(t, &rec), 0);
}

static struct usm_http_tracker *tracker(void (*tweak)(struct usm_http_config *))
{
	struct usm_http_config cfg;
	struct usm_http_tracker *t;

	usm_http_config_default(&cfg);
	memcpy(cfg.hash_key, "0123456789abcdef", 16);
	if (tweak)
		tweak(&cfg);
	t = usm_http_tracker_new(&cfg);
	assert_non_null(t);
	return t;
}

/* Looks a key up by method/path/status: its count, and optionally p50. */
struct find {
	uint8_t method;
	const char *path;
	uint16_t status;
	uint64_t count;
	double p50;
	uint8_t flags;
	int seen;
};

static int find_cb(const struct usm_http_key *k, const struct usm_latency *l, void *ctx)
{
	struct find *f = ctx;

	if (k->method == f->method && k->status == f->status && k->path_len == strlen(f->path) &&
	    !memcmp(k->path, f->path, k->path_len)) {
		f->count = l->count;
		f->flags = k->flags;
		usm_latency_quantile(l, 0.5, &f->p50);
		f->seen++;
	}
	return 0;
}

static uint64_t count_of(struct usm_http_tracker *t, uint8_t method, const char *path,
			 uint16_t status)
{
	struct find f = { .method = method, .path = path, .status = status };

	assert_int_equal(usm_http_stats_scan(t, false, find_cb, &f), 0);
	assert_true(f.seen <= 1);
	return f.count;
}

static struct usm_http_telemetry tm(struct usm_http_tracker *t)
{
	struct usm_http_telemetry x;

	usm_http_telemetry_get(t, &x);
	return x;
}

static void test_request_response(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);
	struct find f = { .method = USM_HTTP_GET, .path = "/users/*", .status = 200 };

	feed(t, 1000, FROM_CLIENT, 1000, "GET /users/42 HTTP/1.1\r\nHost: x\r\n\r\n");
	feed(t, 1000, FROM_SERVER, 251000, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
	assert_int_equal(usm_http_stats_scan(t, false, find_cb, &f), 0);
	assert_int_equal(f.seen, 1);
	assert_int_equal(f.count, 1);
	assert_true(f.p50 == 250000.0);
	assert_int_equal(tm(t).requests, 1);
	assert_int_equal(tm(t).responses, 1);
	assert_int_equal(tm(t).hits[2], 1);
	assert_int_equal(tm(t).keys, 1);
	assert_int_equal(tm(t).conns, 1);
	usm_http_tracker_free(t);
}

static void test_keep_alive(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);
	static const char *const paths[] = { "/a", "/b", "/a", "/c" };
	static const uint16_t codes[] = { 200, 404, 200, 503 };

	for (int i = 0; i < 4; i++) {
		char req[64], resp[64];

		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n\r\n", paths[i]);
		snprintf(resp, sizeof(resp), "HTTP/1.1 %u X\r\nContent-Length: 0\r\n\r\n", codes[i]);
		feed(t, 1000, FROM_CLIENT, 1000 * (uint64_t)i + 1, req);
		feed(t, 1000, FROM_SERVER, 1000 * (uint64_t)i + 500, resp);
	}
	assert_int_equal(count_of(t, USM_HTTP_GET, "/a", 200), 2);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/b", 404), 1);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/c", 503), 1);
	assert_int_equal(tm(t).hits[2], 2);
	assert_int_equal(tm(t).hits[4], 1);
	assert_int_equal(tm(t).hits[5], 1);
	usm_http_tracker_free(t);
}

/* Three requests in one segment, three responses in one segment: each
 * response closes the request in its position. */
static void test_pipelining_one_segment(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);

	feed(t, 1000, FROM_CLIENT, 100,
	     "GET /one HTTP/1.1\r\n\r\nPOST /two HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
	     "HEAD /three HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).requests, 3);
	feed(t, 1000, FROM_SERVER, 900,
	     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	     "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	     "HTTP/1.1 404 NF\r\nContent-Length: 999\r\n\r\n");   /* HEAD: no body follows */
	assert_int_equal(count_of(t, USM_HTTP_GET, "/one", 200), 1);
	assert_int_equal(count_of(t, USM_HTTP_POST, "/two", 201), 1);
	assert_int_equal(count_of(t, USM_HTTP_HEAD, "/three", 404), 1);
	assert_int_equal(tm(t).orphan_responses, 0);
	usm_http_tracker_free(t);
}

static void test_pipelining_segments_and_interim(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);

	feed(t, 7, FROM_CLIENT, 10, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n");
	feed(t, 7, FROM_SERVER, 20, "HTTP/1.1 100 Continue\r\n\r\n");
	feed(t, 7, FROM_CLIENT, 30, "123456789");               /* the body: not a message */
	feed(t, 7, FROM_CLIENT, 40, "GET /next HTTP/1.1\r\n\r\n");
	feed(t, 7, FROM_SERVER, 50, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 NM\r\n\r\n");
	assert_int_equal(count_of(t, USM_HTTP_PUT, "/up", 204), 1);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/next", 304), 1);
	assert_int_equal(tm(t).interim, 1);
	assert_int_equal(tm(t).rejected, 1);
	usm_http_tracker_free(t);
}

static void tweak_small(struct usm_http_config *c)
{
	c->max_inflight = 4;
	c->max_conns = 2;
	c->max_keys = 3;
	c->path_max = 8;
}

static void test_limits(void **state)
{
	struct usm_http_tracker *t = tracker(tweak_small);

	/* six requests outstanding: the two oldest go */
	for (int i = 0; i < 6; i++) {
		char req[32];

		snprintf(req, sizeof(req), "GET /r%d HTTP/1.1\r\n\r\n", i);
		feed(t, 1, FROM_CLIENT, 10 + (uint64_t)i, req);
	}
	assert_int_equal(tm(t).dropped_requests, 2);
	for (int i = 0; i < 4; i++)
		feed(t, 1, FROM_SERVER, 100, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(count_of(t, USM_HTTP_GET, "/r0", 200), 0);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/r2", 200), 1);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/r4", 200), 1);
	/* three keys are full: the fourth (/r5) is dropped */
	assert_int_equal(count_of(t, USM_HTTP_GET, "/r5", 200), 0);
	assert_int_equal(tm(t).keys, 3);
	assert_int_equal(tm(t).dropped_keys, 1);
	/* two connections are full: a third is dropped */
	feed(t, 2, FROM_CLIENT, 1, "GET / HTTP/1.1\r\n\r\n");
	feed(t, 3, FROM_CLIENT, 1, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).dropped_conns, 1);
	assert_int_equal(tm(t).conns, 2);
	usm_http_tracker_free(t);

	/* path_max cuts the key and flags it */
	t = tracker(tweak_small);
	feed(t, 1, FROM_CLIENT, 1, "GET /abcdefghijkl HTTP/1.1\r\n\r\n");
	feed(t, 1, FROM_SERVER, 2, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(count_of(t, USM_HTTP_GET, "/abcdefg", 200), 1);
	assert_int_equal(tm(t).path_truncated, 1);
	usm_http_tracker_free(t);
}

static void test_orphans_and_late_match(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);

	feed(t, 9, FROM_SERVER, 50, "HTTP/1.1 200 OK\r\n\r\n");
	assert_int_equal(tm(t).orphan_responses, 1);
	/* the request was stamped earlier but delivered later */
	feed(t, 9, FROM_CLIENT, 40, "GET /late HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).late_matched, 1);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/late", 200), 1);
	/* an orphan stamped before the next request is not joined to it */
	feed(t, 9, FROM_SERVER, 60, "HTTP/1.1 500 E\r\n\r\n");
	feed(t, 9, FROM_CLIENT, 70, "GET /x HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).late_matched, 1);
	assert_int_equal(tm(t).orphan_responses, 2);
	feed(t, 9, FROM_SERVER, 65, "HTTP/1.1 200 OK\r\n\r\n"); /* clock went back */
	assert_int_equal(tm(t).invalid_latency, 1);
	usm_http_tracker_free(t);
}

static void test_upgrade_and_misdirected(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);

	feed(t, 5, FROM_CLIENT, 1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
	feed(t, 5, FROM_SERVER, 2, "HTTP/1.1 101 Switching Protocols\r\n\r\n");
	feed(t, 5, FROM_CLIENT, 3, "GET /not-http-anymore HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).upgraded, 1);
	assert_int_equal(tm(t).requests, 1);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/ws", 101), 1);
	feed(t, 6, FROM_CLIENT, 1, "HTTP/1.1 200 OK\r\n\r\n");
	feed(t, 6, FROM_SERVER, 1, "GET / HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).misdirected, 2);
	feed(t, 6, FROM_CLIENT, 1, "FOO / HTTP/1.1\r\n\r\n");
	feed(t, 6, FROM_CLIENT, 1, "GET /\x01 HTTP/1.1\r\n\r\n");
	assert_int_equal(tm(t).malformed[USM_HTTP_UNKNOWN_METHOD], 1);
	assert_int_equal(tm(t).malformed[USM_HTTP_NON_PRINTABLE], 1);
	usm_http_tracker_free(t);
}

static void test_duplicates_by_seq(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);
	const char *req = "GET /d HTTP/1.1\r\n\r\n";

	mkrec(11, FROM_CLIENT, 1, req, strlen(req));
	rec.flags = USM_REC_F_SEQ;
	rec.tcp_seq = 0xfffffff0u; /* wraps */
	assert_int_equal(usm_http_track_record(t, &rec), 0);
	assert_int_equal(usm_http_track_record(t, &rec), 0); /* captured twice */
	assert_int_equal(tm(t).duplicates, 1);
	rec.tcp_seq += (uint32_t)strlen(req);
	assert_int_equal(usm_http_track_record(t, &rec), 0);
	assert_int_equal(tm(t).requests, 2);
	usm_http_tracker_free(t);
}

static void test_invalid_records_and_tuples(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);

	mkrec(1, FROM_CLIENT, 1, "GET / HTTP/1.1\r\n\r\n", 18);
	rec.len = USM_PAYLOAD_MAX + 1;
	assert_int_equal(usm_http_track_record(t, &rec), -EINVAL);
	mkrec(1, 0, 1, "GET / HTTP/1.1\r\n\r\n", 18);
	assert_int_equal(usm_http_track_record(t, &rec), -EINVAL);
	mkrec(1, FROM_CLIENT, 1, "GET / HTTP/1.1\r\n\r\n", 18);
	rec.tuple.family = 7;
	assert_int_equal(usm_http_track_record(t, &rec), -EINVAL);
	assert_int_equal(tm(t).invalid_records, 3);
	/* junk in the unused v4 bytes and padding: still the same connection */
	feed(t, 1, FROM_CLIENT, 1, "GET /same HTTP/1.1\r\n\r\n");
	mkrec(1, FROM_SERVER, 2, "HTTP/1.1 200 OK\r\n\r\n", 19);
	memset(rec.tuple.client_addr + 4, 0xee, 12);
	memset(rec.tuple._pad, 0xee, sizeof(rec.tuple._pad));
	assert_int_equal(usm_http_track_record(t, &rec), 0);
	assert_int_equal(count_of(t, USM_HTTP_GET, "/same", 200), 1);
	/* a capture cut inside the path: flagged in the key */
	mkrec(2, FROM_CLIENT, 1, "GET /very/long/path/cut", 23);
	rec.seg_len = 900;
	assert_int_equal(usm_http_track_record(t, &rec), 0);
	feed(t, 2, FROM_SERVER, 2, "HTTP/1.1 200 OK\r\n\r\n");
	{
		struct find f = { .method = USM_HTTP_GET, .path = "/very/long/path/cut", .status = 200 };

		usm_http_stats_scan(t, false, find_cb, &f);
		assert_int_equal(f.count, 1);
		assert_true(f.flags & USM_HTTP_KEY_F_PATH_TRUNCATED);
	}
	assert_int_equal(tm(t).capture_truncated, 1);
	usm_http_tracker_free(t);
}

static void test_expire_close_drain(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);
	struct usm_tuple tup;
	struct find f = { .method = USM_HTTP_GET, .path = "/k", .status = 200 };

	feed(t, 1, FROM_CLIENT, 1000, "GET /k HTTP/1.1\r\n\r\n");
	feed(t, 1, FROM_SERVER, 2000, "HTTP/1.1 200 OK\r\n\r\n");
	feed(t, 1, FROM_CLIENT, 3000, "GET /k HTTP/1.1\r\n\r\n");
	feed(t, 2, FROM_CLIENT, 40000000000ULL, "GET /k HTTP/1.1\r\n\r\n");
	tup = rec.tuple;
	assert_int_equal(usm_http_expire(t, 30000000000ULL), 0);
	assert_int_equal(usm_http_expire(t, 31000000000ULL), 1); /* idle 30 s */
	assert_int_equal(tm(t).aged, 1);
	assert_int_equal(usm_http_conn_closed(t, &tup), 0);
	assert_int_equal(usm_http_conn_closed(t, &tup), -ENOENT);
	assert_int_equal(tm(t).aged, 2);
	assert_int_equal(tm(t).conns, 0);
	assert_int_equal(usm_http_stats_scan(t, true, find_cb, &f), 0);
	assert_int_equal(f.count, 1);
	assert_int_equal(tm(t).keys, 0);
	usm_http_tracker_free(t);
}

/* Latencies through the tracker: p50/p99 within 1% of the exact values. */
static void test_latency_percentiles(void **state)
{
	struct usm_http_tracker *t = tracker(NULL);
	double lat[2000];
	struct find f = { .method = USM_HTTP_GET, .path = "/p", .status = 200 };

	for (int i = 0; i < 2000; i++) {
		uint64_t l = 1000 + (uint64_t)i * (uint64_t)i * 37; /* skewed */

		lat[i] = (double)l;
		feed(t, 1, FROM_CLIENT, 1000000000ULL * (uint64_t)i, "GET /p HTTP/1.1\r\n\r\n");
		feed(t, 1, FROM_SERVER, 1000000000ULL * (uint64_t)i + l, "HTTP/1.1 200 OK\r\n\r\n");
	}
	assert_int_equal(usm_http_stats_scan(t, false, find_cb, &f), 0);
	assert_int_equal(f.count, 2000);
	assert_true(fabs(f.p50 - lat[999]) <= 0.01 * lat[999]);
	usm_http_tracker_free(t);
}

/* Every cut of a pipelined segment and every cut of its responses. */
static void test_tracker_every_truncation(void **state)
{
	static const char reqs[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
	static const char resps[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 404 NF\r\n\r\n";

	for (size_t cut = 0; cut <= sizeof(reqs) - 1; cut++) {
		struct usm_http_tracker *t = tracker(NULL);

		mkrec(1, FROM_CLIENT, 1, reqs, cut);
		rec.seg_len = sizeof(reqs) - 1;
		assert_int_equal(usm_http_track_record(t, &rec), 0);
		mkrec(1, FROM_SERVER, 2, resps, cut * 2 < sizeof(resps) ? cut * 2 : sizeof(resps) - 1);
		assert_int_equal(usm_http_track_record(t, &rec), 0);
		assert_true(tm(t).requests <= 2);
		if (cut == sizeof(reqs) - 1)
			assert_int_equal(count_of(t, USM_HTTP_GET, "/b", 404), 1);
		usm_http_tracker_free(t);
	}
}

static void test_config_refusals(void **state)
{
	struct usm_http_config cfg;

	usm_http_config_default(&cfg);
	cfg.max_inflight = USM_HTTP_INFLIGHT_MAX + 1;
	assert_null(usm_http_tracker_new(&cfg));
	usm_http_config_default(&cfg);
	cfg.path_max = USM_HTTP_PATH_MAX + 1;
	assert_null(usm_http_tracker_new(&cfg));
	usm_http_config_default(&cfg);
	cfg.accuracy = 0;
	assert_null(usm_http_tracker_new(&cfg));
	usm_http_config_default(&cfg);
	cfg.rules = &(struct usm_http_rule){ "bad", NULL };
	cfg.nrules = 1;
	assert_null(usm_http_tracker_new(&cfg));
	assert_int_equal(errno, EINVAL);
	usm_http_tracker_free(NULL);
}

static void test_dispatch(void **state)
{
	struct usm_config cfg;
	struct usm_telemetry ut;
	struct usm *u;
	static uint8_t sample[sizeof(struct usm_record) + 16];

	usm_config_default(&cfg);
	cfg.kafka = false;
	u = usm_new(&cfg);
	assert_non_null(u);
	assert_null(usm_kafka(u));
	mkrec(1, FROM_CLIENT, 1, "GET /s HTTP/1.1\r\n\r\n", 19);
	memcpy(sample, &rec, USM_RECORD_HDR_SIZE + 19);
	/* exactly header + len is enough; one byte less is not */
	assert_int_equal(usm_handle_sample(u, sample, USM_RECORD_HDR_SIZE + 19), 0);
	assert_int_equal(usm_handle_sample(u, sample, USM_RECORD_HDR_SIZE + 18), -EINVAL);
	assert_int_equal(usm_handle_sample(u, sample, 10), -EINVAL);
	((struct usm_record *)sample)->len = USM_PAYLOAD_MAX + 1;
	assert_int_equal(usm_handle_sample(u, sample, sizeof(sample)), -EINVAL);
	((struct usm_record *)sample)->len = 19;
	((struct usm_record *)sample)->protocol = USM_PROTO_KAFKA;
	assert_int_equal(usm_handle_sample(u, sample, sizeof(sample)), 0);
	((struct usm_record *)sample)->protocol = 99;
	assert_int_equal(usm_handle_sample(u, sample, sizeof(sample)), 0);
	usm_telemetry_get(u, &ut);
	assert_int_equal(ut.samples, 6);
	assert_int_equal(ut.bad_samples, 3);
	assert_int_equal(ut.disabled, 1);
	assert_int_equal(ut.unknown_protocol, 1);
	assert_int_equal(tm(usm_http(u)).requests, 1);
	usm_conn_closed(u, &rec.tuple);
	usm_expire(u, 1);
	assert_int_equal(tm(usm_http(u)).conns, 0);
	usm_free(u);
	usm_free(NULL);
}

static int delete_odd(const void *key, void *val, void *ctx)
{
	return (*(const uint32_t *)key & 1) ? USM_TABLE_DELETE : USM_TABLE_KEEP;
}

static int stop_at_once(const void *key, void *val, void *ctx)
{
	return -ECANCELED;
}

static void test_table(void **state)
{
	static const uint8_t k16[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	struct usm_table *t = usm_table_new(4, 8, 5000, k16);
	bool created;

	/* SipHash-2-4 reference vectors (key 00..0f, message 00..len-1) */
	assert_true(usm_siphash(k16, "", 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(usm_siphash(k16, k16, 15) == 0xa129ca6149be45e5ULL);
	for (uint32_t i = 0; i < 5000; i++) {
		uint64_t *v = usm_table_upsert(t, &i, &created);

		assert_non_null(v);
		assert_true(created);
		*v = i * 3ULL;
	}
	assert_null(usm_table_upsert(t, &(uint32_t){ 5000 }, &created));
	assert_int_equal(errno, ENOSPC);
	assert_non_null(usm_table_upsert(t, &(uint32_t){ 77 }, &created));
	assert_false(created);
	for (uint32_t i = 0; i < 5000; i++)
		assert_true(*(uint64_t *)usm_table_get(t, &i) == i * 3ULL);
	assert_int_equal(usm_table_scan(t, delete_odd, NULL), 0);
	assert_int_equal(usm_table_count(t), 2500);
	assert_null(usm_table_get(t, &(uint32_t){ 77 }));
	assert_int_equal(usm_table_del(t, &(uint32_t){ 78 }), 0);
	assert_int_equal(usm_table_del(t, &(uint32_t){ 78 }), -ENOENT);
	assert_int_equal(usm_table_scan(t, stop_at_once, NULL), -ECANCELED);
	assert_int_equal(usm_table_max(t), 5000);
	usm_table_free(t, NULL);
	assert_null(usm_table_new(0, 8, 10, k16));
	assert_null(usm_table_new(4, 8, 0, k16));
	assert_null(usm_table_new(4, 8, (1u << 24) + 1, k16));
	assert_int_equal(errno, EINVAL);
	usm_table_free(NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_response),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_pipelining_one_segment),
		cmocka_unit_test(test_pipelining_segments_and_interim),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_orphans_and_late_match),
		cmocka_unit_test(test_upgrade_and_misdirected),
		cmocka_unit_test(test_duplicates_by_seq),
		cmocka_unit_test(test_invalid_records_and_tuples),
		cmocka_unit_test(test_expire_close_drain),
		cmocka_unit_test(test_latency_percentiles),
		cmocka_unit_test(test_tracker_every_truncation),
		cmocka_unit_test(test_config_refusals),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
