/* LIBS: -lm */
/* Unit tests for unprivileged/usm/kafka_track.c: correlation-id matching,
 * acks=0, messages split over segments and several in one, framing by TCP
 * sequence numbers, lost sync, limits, telemetry. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "unprivileged/usm/sketch.c"
#include "unprivileged/usm/usm_table.c"
#include "unprivileged/usm/kafka_parse.c"
#include "unprivileged/usm/kafka_track.c"
#include "tests/unit/usm_kafka_build.h"

#define FROM_CLIENT USM_DIR_FROM_CLIENT
#define FROM_SERVER USM_DIR_FROM_SERVER

static struct usm_record rec;
static struct kbuf kb;

/* One segment of seg_len bytes starting at data, of which up to 208 are
 * captured, at stream position seq (0: no sequence number). */
static void seg(struct usm_kafka_tracker *t, uint16_t port, int dir, uint64_t ts,
		const uint8_t *data, size_t seg_len, uint32_t seq)
{
	memset(&rec, 0, sizeof(rec));
	rec.ts_ns = ts;
	rec.tuple.family = USM_FAMILY_INET6;
	rec.tuple.client_addr[15] = 1;
	rec.tuple.server_addr[15] = 2;
	rec.tuple.client_port = port;
	rec.tuple.server_port = 9092;
	rec.direction = (uint8_t)dir;
	rec.protocol = USM_PROTO_KAFKA;
	rec.seg_len = (uint32_t)seg_len;
	rec.len = (uint16_t)(seg_len < USM_PAYLOAD_DEFAULT ? seg_len : USM_PAYLOAD_DEFAULT);
	memcpy(rec.payload, data, rec.len);
	if (seq) {
		rec.flags = USM_REC_F_SEQ;
		rec.tcp_seq = seq;
	}
	assert_int_equal(usm_kafka_track_record(t, &rec), 0);
}

static struct usm_kafka_tracker *tracker(uint32_t max_inflight, uint32_t max_keys)
{
	struct usm_kafka_config cfg;
	struct usm_kafka_tracker *t;

	usm_kafka_config_default(&cfg);
	memcpy(cfg.hash_key, "fedcba9876543210", 16);
	if (max_inflight)
		cfg.max_inflight = max_inflight;
	if (max_keys)
		cfg.max_keys = max_keys;
	t = usm_kafka_tracker_new(&cfg);
	assert_non_null(t);
	return t;
}

static struct usm_kafka_telemetry tm(struct usm_kafka_tracker *t)
{
	struct usm_kafka_telemetry x;

	usm_kafka_telemetry_get(t, &x);
	return x;
}

struct find {
	int16_t api, version, error;
	const char *topic;
	uint64_t count, samples;
	double p50;
	uint8_t flags;
};

static int find_cb(const struct usm_kafka_key *k, const struct usm_kafka_stats *s, void *ctx)
{
	struct find *f = ctx;

	if (k->api_key == f->api && k->api_version == f->version && k->error_code == f->error &&
	    k->topic_len == strlen(f->topic) && !memcmp(k->topic, f->topic, k->topic_len)) {
		f->count += s->count;
		f->samples += s->latency.count;
		f->flags = k->flags;
		usm_latency_quantile(&s->latency, 0.5, &f->p50);
	}
	return 0;
}

static struct find lookup(struct usm_kafka_tracker *t, int16_t api, int16_t v, const char *topic,
			  int16_t err)
{
	struct find f = { .api = api, .version = v, .topic = topic, .error = err };

	assert_int_equal(usm_kafka_stats_scan(t, false, find_cb, &f), 0);
	return f;
}

static void test_produce_fetch_all_versions(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	struct find f;

	for (int16_t v = 0; v <= USM_KAFKA_PRODUCE_MAX_VERSION; v++) {
		seg(t, 1, FROM_CLIENT, 1000, kb.b, k_produce(&kb, v, v, "p", NULL, 1, "orders"), 0);
		seg(t, 1, FROM_SERVER, 4000, kb.b, k_produce_resp(&kb, v, v, "orders", 0), 0);
	}
	for (int16_t v = 0; v <= USM_KAFKA_FETCH_MAX_VERSION; v++) {
		seg(t, 2, FROM_CLIENT, 1000, kb.b, k_fetch(&kb, v, 100 + v, "c", "clicks"), 0);
		seg(t, 2, FROM_SERVER, 9000, kb.b, k_fetch_resp(&kb, v, 100 + v, 0, "clicks", 3), 0);
	}
	for (int16_t v = 0; v <= 12; v++) {
		f = lookup(t, 0, v, "orders", 0);
		assert_int_equal(f.count, 1);
		assert_true(f.p50 == 3000.0);
		assert_int_equal(tm(t).produce_hits[v], 1);
		f = lookup(t, 1, v, "clicks", 3);
		assert_int_equal(f.count, 1);
		assert_true(f.p50 == 8000.0);
		assert_int_equal(tm(t).fetch_hits[v], 1);
	}
	/* v13+: the topic id, as Kafka prints it */
	f = lookup(t, 0, 13, "EjRWeJq83vAP7cuph2VDIQ", 0);
	assert_int_equal(f.count, 1);
	assert_true(f.flags & USM_KAFKA_KEY_F_TOPIC_ID);
	assert_int_equal(lookup(t, 1, 17, "EjRWeJq83vAP7cuph2VDIQ", 3).count, 1);
	assert_int_equal(tm(t).requests, 14 + 18);
	assert_int_equal(tm(t).responses, 14 + 18);
	assert_int_equal(tm(t).unmatched_responses, 0);
	usm_kafka_tracker_free(t);
}

static void test_out_of_order_and_acks0(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	struct find f;

	for (int32_t c = 1; c <= 3; c++)
		seg(t, 1, FROM_CLIENT, (uint64_t)c * 10, kb.b, k_fetch(&kb, 11, c, "c", "a"), 0);
	seg(t, 1, FROM_SERVER, 100, kb.b, k_fetch_resp(&kb, 11, 3, 0, "a", 0), 0);
	seg(t, 1, FROM_SERVER, 200, kb.b, k_fetch_resp(&kb, 11, 1, 0, "a", 0), 0);
	seg(t, 1, FROM_SERVER, 300, kb.b, k_fetch_resp(&kb, 11, 2, 0, "a", 0), 0);
	seg(t, 1, FROM_SERVER, 400, kb.b, k_fetch_resp(&kb, 11, 2, 0, "a", 0), 0); /* again */
	f = lookup(t, 1, 11, "a", 0);
	assert_int_equal(f.count, 3);
	/* unsynced, an id nobody waits for is not believed to be a response */
	assert_int_equal(tm(t).rejected, 1);
	assert_int_equal(tm(t).unmatched_responses, 0);
	/* acks=0: counted at once, no latency, nothing waits */
	seg(t, 1, FROM_CLIENT, 500, kb.b, k_produce(&kb, 8, 9, "p", NULL, 0, "fire"), 0);
	f = lookup(t, 0, 8, "fire", 0);
	assert_int_equal(f.count, 1);
	assert_int_equal(f.samples, 0);
	assert_true(f.flags & USM_KAFKA_KEY_F_NO_RESPONSE);
	assert_int_equal(tm(t).no_response, 1);
	usm_kafka_tracker_free(t);
}

/* Two requests in one segment, and their two responses in one segment. */
static void test_several_in_one_segment(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	uint8_t both[512];
	size_t a, b;

	a = k_produce(&kb, 7, 1, "p", NULL, 1, "first");
	memcpy(both, kb.b, a);
	b = k_fetch(&kb, 10, 2, "p", "second");
	memcpy(both + a, kb.b, b);
	seg(t, 1, FROM_CLIENT, 10, both, a + b, 0);
	a = k_produce_resp(&kb, 7, 1, "first", 0);
	memcpy(both, kb.b, a);
	b = k_fetch_resp(&kb, 10, 2, 0, "second", 0);
	memcpy(both + a, kb.b, b);
	seg(t, 1, FROM_SERVER, 20, both, a + b, 0);
	assert_int_equal(lookup(t, 0, 7, "first", 0).count, 1);
	assert_int_equal(lookup(t, 1, 10, "second", 0).count, 1);
	usm_kafka_tracker_free(t);
}

/*
 * A produce of 3000 bytes in three segments whose record data looks like a
 * request header: with sequence numbers the continuations are skipped by
 * position and the next request is found where it starts, mid-segment.
 */
static void test_seq_framing(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	static uint8_t stream[8192];
	uint32_t base = 0xfffff000u; /* wraps inside the stream */
	size_t n1, n2, pos;

	k_produce(&kb, 9, 1, "p", NULL, 1, "bulk");
	n1 = 3000;
	memcpy(stream, kb.b, kb.n);
	for (size_t i = kb.n; i < n1; i++) /* records that parse as Metadata requests */
		stream[i] = (uint8_t)"\x00\x00\x00\x20\x00\x03\x00\x01\x00\x00\x00\x05\x00\x01x"[i % 15];
	stream[0] = 0, stream[1] = 0, stream[2] = (uint8_t)((n1 - 4) >> 8), stream[3] = (uint8_t)(n1 - 4);
	n2 = k_fetch(&kb, 12, 2, "p", "after");
	memcpy(stream + n1, kb.b, n2);
	/* segments: [0,1400) [1400,2990) [2990, n1 + n2): the next request
	 * starts 10 bytes into the third */
	seg(t, 1, FROM_CLIENT, 1, stream, 1400, base);
	seg(t, 1, FROM_CLIENT, 2, stream + 1400, 1590, base + 1400);
	seg(t, 1, FROM_CLIENT, 3, stream + 2990, n1 + n2 - 2990, base + 2990);
	assert_int_equal(tm(t).continuation, 1);
	assert_int_equal(tm(t).requests, 2);
	assert_int_equal(tm(t).other_requests, 0);
	/* a retransmission of the first segment is skipped too */
	seg(t, 1, FROM_CLIENT, 4, stream, 1400, base);
	assert_int_equal(tm(t).continuation, 2);
	/* a gap: sync is lost, then found again at a believable header */
	pos = 9000;
	seg(t, 1, FROM_CLIENT, 5, kb.b, k_fetch(&kb, 12, 3, "p", "again"), base + (uint32_t)pos);
	assert_int_equal(tm(t).lost_sync, 1);
	assert_int_equal(tm(t).requests, 3);
	n2 = k_fetch_resp(&kb, 12, 3, 0, "again", 0);
	seg(t, 1, FROM_SERVER, 6, kb.b, n2, 77);
	assert_int_equal(lookup(t, 1, 12, "again", 0).count, 1);
	/* synced, a response nobody waits for is still framed (another api) */
	k_resp_header(&kb, 999, 0);
	k_i32(&kb, 0);
	seg(t, 1, FROM_SERVER, 7, kb.b, k_end(&kb), 77 + (uint32_t)n2);
	assert_int_equal(tm(t).unmatched_responses, 1);
	assert_int_equal(tm(t).rejected, 0);
	usm_kafka_tracker_free(t);

	/* without sequence numbers the same continuation is taken for requests */
	t = tracker(0, 0);
	seg(t, 1, FROM_CLIENT, 1, stream, 1400, 0);
	seg(t, 1, FROM_CLIENT, 2, stream + 1400 + 15 - (1400 % 15), 1385, 0);
	assert_int_equal(tm(t).other_requests, 1);
	usm_kafka_tracker_free(t);
}

static void test_uncaptured_and_truncated(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	uint8_t both[512] = { 0 };
	size_t a, b, name;
	struct find f;

	/* the second request starts past the 208 captured bytes */
	a = k_produce(&kb, 3, 1, "p", NULL, 1, "first");
	memcpy(both, kb.b, a);
	b = k_fetch(&kb, 4, 2, "p", "second");
	memcpy(both + 250, kb.b, b);
	both[3] = (uint8_t)(250 - 4); /* the first one owns the bytes up to 250 */
	seg(t, 1, FROM_CLIENT, 1, both, 250 + b, 100);
	assert_int_equal(tm(t).uncaptured, 1);
	assert_int_equal(tm(t).requests, 1);

	/* a capture that ends 8 bytes into the topic name */
	k_produce(&kb, 3, 5, "client", "txn", 1, "topic-name-that-goes-on");
	name = 4 + 8 + 2 + 6 + 2 + 3 + 2 + 4 + 4 + 2;
	seg(t, 2, FROM_CLIENT, 1, kb.b, name + 8, 0);
	rec.seg_len = (uint32_t)kb.n;
	rec.tuple.client_port = 3;
	assert_int_equal(usm_kafka_track_record(t, &rec), 0);
	assert_int_equal(tm(t).truncated, 2);
	assert_int_equal(tm(t).capture_truncated, 2); /* 250 + b > 208, and this one */
	seg(t, 3, FROM_SERVER, 2, kb.b, k_produce_resp(&kb, 3, 5, "topic-name-that-goes-on", 0), 0);
	f = lookup(t, 0, 3, "topic-na", 0);
	assert_int_equal(f.count, 1);
	assert_true(f.flags & USM_KAFKA_KEY_F_TOPIC_TRUNCATED);
	/* cut before the name: no topic at all */
	seg(t, 4, FROM_CLIENT, 1, kb.b, k_produce(&kb, 3, 6, "client", "txn", 1, "x"), 0);
	rec.len = (uint16_t)(name - 2);
	rec.tuple.client_port = 5;
	assert_int_equal(usm_kafka_track_record(t, &rec), 0);
	seg(t, 5, FROM_SERVER, 2, kb.b, k_produce_resp(&kb, 3, 6, "x", 0), 0);
	f = lookup(t, 0, 3, "", 0);
	assert_int_equal(f.count, 1);
	assert_true(f.flags & USM_KAFKA_KEY_F_NO_TOPIC);
	usm_kafka_tracker_free(t);
}

static void test_limits_and_junk(void **state)
{
	struct usm_kafka_tracker *t = tracker(4, 2);

	for (int32_t c = 0; c < 6; c++)
		seg(t, 1, FROM_CLIENT, 10 + (uint64_t)c, kb.b, k_fetch(&kb, 4, c, "c", "t"), 0);
	assert_int_equal(tm(t).dropped_requests, 2);
	seg(t, 1, FROM_SERVER, 50, kb.b, k_fetch_resp(&kb, 4, 0, 0, "t", 0), 0);
	assert_int_equal(tm(t).rejected, 1); /* unsynced, and nobody waits for id 0 */
	for (int32_t c = 2; c < 6; c++)
		seg(t, 1, FROM_SERVER, 60, kb.b, k_fetch_resp(&kb, 4, c, 0, "t", (int16_t)c), 0);
	assert_int_equal(tm(t).keys, 2);
	assert_int_equal(tm(t).dropped_keys, 2);
	/* a matched response with a broken body: counted, error unknown */
	seg(t, 2, FROM_CLIENT, 1, kb.b, k_produce(&kb, 3, 8, "c", NULL, 1, "t"), 0);
	k_produce_resp(&kb, 3, 8, "t", 0);
	memcpy(kb.b + 8, "\xff\xff\xff\xfe", 4);
	seg(t, 2, FROM_SERVER, 2, kb.b, kb.n, 0);
	assert_int_equal(tm(t).malformed[USM_KAFKA_BAD_ARRAY], 1);
	/* unsupported versions and other apis */
	seg(t, 3, FROM_CLIENT, 1, kb.b, k_produce(&kb, 14, 1, "c", NULL, 1, "t"), 0);
	k_req_header(&kb, 18, 3, 2, "c", 1);
	seg(t, 3, FROM_CLIENT, 1, kb.b, k_end(&kb), 0);
	assert_int_equal(tm(t).unsupported_version, 1);
	assert_int_equal(tm(t).other_requests, 1);
	/* garbage requests: header-level refusals are "rejected", deep ones malformed */
	seg(t, 3, FROM_CLIENT, 1, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, 0);
	assert_int_equal(tm(t).rejected, 2);
	seg(t, 3, FROM_CLIENT, 1, kb.b, k_produce(&kb, 3, 1, "c", NULL, 1, "bad topic"), 0);
	assert_int_equal(tm(t).malformed[USM_KAFKA_BAD_TOPIC], 1);
	/* at a known message start, even a header refusal is malformed */
	seg(t, 4, FROM_CLIENT, 1, kb.b, k_fetch(&kb, 4, 1, "c", "t"), 1000);
	k_fetch(&kb, 4, -1, "c", "t");
	seg(t, 4, FROM_CLIENT, 2, kb.b, kb.n, 1000 + (uint32_t)kb.n);
	assert_int_equal(tm(t).malformed[USM_KAFKA_BAD_CORRELATION], 1);
	usm_kafka_tracker_free(t);
}

static void test_every_truncation(void **state)
{
	for (int16_t v = 0; v <= 17; v++) {
		size_t n = k_fetch(&kb, v, 1, "client", "topic");
		struct kbuf req = kb;

		for (size_t len = 0; len <= n; len++) {
			struct usm_kafka_tracker *t = tracker(0, 0);

			memset(&rec, 0, sizeof(rec));
			seg(t, 1, FROM_CLIENT, 1, req.b, n, 0);
			rec.len = (uint16_t)len; /* re-feed the same segment, cut */
			rec.tuple.client_port = 2;
			assert_int_equal(usm_kafka_track_record(t, &rec), 0);
			k_fetch_resp(&kb, v, 1, 0, "topic", 0);
			seg(t, 2, FROM_SERVER, 2, kb.b, len < kb.n ? len : kb.n, 0);
			assert_true(tm(t).requests <= 2);
			usm_kafka_tracker_free(t);
		}
	}
}

static void test_expire_close_drain_refusals(void **state)
{
	struct usm_kafka_tracker *t = tracker(0, 0);
	struct usm_kafka_config cfg;
	struct find f = { .api = 1, .version = 4, .topic = "t" };

	seg(t, 1, FROM_CLIENT, 1, kb.b, k_fetch(&kb, 4, 1, "c", "t"), 0);
	seg(t, 1, FROM_SERVER, 2, kb.b, k_fetch_resp(&kb, 4, 1, 0, "t", 0), 0);
	seg(t, 1, FROM_CLIENT, 3, kb.b, k_fetch(&kb, 4, 2, "c", "t"), 0);
	seg(t, 2, FROM_CLIENT, 3, kb.b, k_fetch(&kb, 4, 3, "c", "t"), 0);
	assert_int_equal(usm_kafka_expire(t, 30000000003ULL), 0);
	assert_int_equal(usm_kafka_expire(t, 30000000004ULL), 2);
	assert_int_equal(tm(t).aged, 2);
	seg(t, 1, FROM_CLIENT, 3, kb.b, k_fetch(&kb, 4, 2, "c", "t"), 0);
	assert_int_equal(usm_kafka_conn_closed(t, &rec.tuple), 0);
	assert_int_equal(usm_kafka_conn_closed(t, &rec.tuple), -ENOENT);
	assert_int_equal(tm(t).aged, 3);
	assert_int_equal(usm_kafka_stats_scan(t, true, find_cb, &f), 0);
	assert_int_equal(f.count, 1);
	assert_int_equal(tm(t).keys, 0);
	rec.len = USM_PAYLOAD_MAX + 1;
	assert_int_equal(usm_kafka_track_record(t, &rec), -EINVAL);
	rec.len = 10;
	rec.direction = 3;
	assert_int_equal(usm_kafka_track_record(t, &rec), -EINVAL);
	assert_int_equal(tm(t).invalid_records, 2);
	usm_kafka_tracker_free(t);
	usm_kafka_tracker_free(NULL);
	usm_kafka_config_default(&cfg);
	cfg.max_inflight = USM_KAFKA_INFLIGHT_MAX + 1;
	assert_null(usm_kafka_tracker_new(&cfg));
	usm_kafka_config_default(&cfg);
	cfg.max_message = 8;
	assert_null(usm_kafka_tracker_new(&cfg));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_fetch_all_versions),
		cmocka_unit_test(test_out_of_order_and_acks0),
		cmocka_unit_test(test_several_in_one_segment),
		cmocka_unit_test(test_seq_framing),
		cmocka_unit_test(test_uncaptured_and_truncated),
		cmocka_unit_test(test_limits_and_junk),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_expire_close_drain_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
