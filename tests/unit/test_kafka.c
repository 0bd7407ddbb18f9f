/* Unit tests for unprivileged/usm/kafka_parse.c: Produce v0–v13 and Fetch
 * v0–v17 requests and their responses built byte by byte, every truncation
 * point, lying sizes, huge lengths, bad varints and garbage. Each parse reads
 * from a heap buffer of exactly the given length. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include "unprivileged/usm/kafka_parse.c"
#include "tests/unit/usm_kafka_build.h"

static struct kbuf kb;

static enum usm_kafka_verdict req_n(const uint8_t *data, size_t len, struct usm_kafka_request *r)
{
	uint8_t *buf = malloc(len ? len : 1);
	static uint8_t keep[8192];
	enum usm_kafka_verdict v;

	memcpy(buf, data, len);
	v = usm_kafka_parse_request(buf, len, 0, r);
	/* pointers into buf: move them to a copy that outlives it */
	memcpy(keep, buf, len);
	if (r->topic)
		r->topic = keep + (r->topic - buf);
	if (r->client_id)
		r->client_id = keep + (r->client_id - buf);
	free(buf);
	return v;
}

static enum usm_kafka_verdict resp_n(const uint8_t *data, size_t len, int16_t api, int16_t ver,
				     struct usm_kafka_response *r)
{
	uint8_t *buf = malloc(len ? len : 1);
	enum usm_kafka_verdict v;

	memcpy(buf, data, len);
	v = usm_kafka_parse_response(buf, len, 0, api, ver, r);
	free(buf);
	return v;
}

static void assert_topic(const struct usm_kafka_request *r, const char *want)
{
	assert_int_equal(r->topic_len, strlen(want));
	assert_memory_equal(r->topic, want, r->topic_len);
}

static void test_produce_all_versions(void **state)
{
	struct usm_kafka_request r;

	for (int16_t v = 0; v <= USM_KAFKA_PRODUCE_MAX_VERSION; v++) {
		size_t n = k_produce(&kb, v, 1000 + v, "rdkafka", v >= 3 ? "txn-1" : NULL,
				     v == 5 ? 0 : -1, "orders.v1");

		assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_OK);
		assert_int_equal(r.api_key, USM_KAFKA_PRODUCE);
		assert_int_equal(r.api_version, v);
		assert_int_equal(r.correlation_id, 1000 + v);
		assert_int_equal(r.size, n - 4);
		assert_int_equal(r.client_id_len, 7);
		assert_memory_equal(r.client_id, "rdkafka", 7);
		assert_int_equal(r.acks, v == 5 ? 0 : -1);
		assert_int_equal(r.topic_count, 1);
		assert_true(r.flags & USM_KAFKA_F_TRACKED);
		assert_int_equal(!!(r.flags & USM_KAFKA_F_FLEXIBLE), v >= 9);
		assert_false(r.flags & (USM_KAFKA_F_TRUNCATED | USM_KAFKA_F_TOPIC_TRUNCATED));
		if (v >= 13) {
			assert_true(r.flags & USM_KAFKA_F_TOPIC_ID);
			assert_memory_equal(r.topic_id, k_topic_id, 16);
		} else {
			assert_topic(&r, "orders.v1");
		}
	}
}

static void test_fetch_all_versions(void **state)
{
	struct usm_kafka_request r;

	for (int16_t v = 0; v <= USM_KAFKA_FETCH_MAX_VERSION; v++) {
		size_t n = k_fetch(&kb, v, 7 + v, v % 2 ? NULL : "consumer-1", "clicks_2024");

		if (req_n(kb.b, n, &r) != USM_KAFKA_OK)
			fail_msg("fetch v%d refused", v);
		assert_int_equal(r.api_key, USM_KAFKA_FETCH);
		assert_int_equal(r.api_version, v);
		assert_int_equal(r.correlation_id, 7 + v);
		if (v % 2)
			assert_null(r.client_id);
		assert_int_equal(!!(r.flags & USM_KAFKA_F_FLEXIBLE), v >= 12);
		if (v >= 13)
			assert_memory_equal(r.topic_id, k_topic_id, 16);
		else
			assert_topic(&r, "clicks_2024");
	}
}

static void test_responses_all_versions(void **state)
{
	struct usm_kafka_response r;
	size_t n;

	for (int16_t v = 0; v <= USM_KAFKA_PRODUCE_MAX_VERSION; v++) {
		n = k_produce_resp(&kb, v, 55, "orders", v % 3 ? 0 : 6);
		assert_int_equal(resp_n(kb.b, n, 0, v, &r), USM_KAFKA_OK);
		assert_int_equal(r.correlation_id, 55);
		assert_int_equal(r.error_code, v % 3 ? 0 : 6);
		assert_int_equal(r.flags, 0);
	}
	for (int16_t v = 0; v <= USM_KAFKA_FETCH_MAX_VERSION; v++) {
		n = k_fetch_resp(&kb, v, 56, 0, "clicks", 1); /* OFFSET_OUT_OF_RANGE */
		assert_int_equal(resp_n(kb.b, n, 1, v, &r), USM_KAFKA_OK);
		assert_int_equal(r.error_code, 1);
		if (v >= 7) { /* a top-level error wins */
			n = k_fetch_resp(&kb, v, 57, 70, "clicks", 0);
			assert_int_equal(resp_n(kb.b, n, 1, v, &r), USM_KAFKA_OK);
			assert_int_equal(r.error_code, 70);
			n = k_fetch_resp(&kb, v, 58, 0, NULL, 0); /* incremental: no topics */
			assert_int_equal(resp_n(kb.b, n, 1, v, &r), USM_KAFKA_OK);
			assert_int_equal(r.error_code, 0);
			assert_true(r.flags & USM_KAFKA_F_NO_TOPIC);
		}
	}
	/* the header alone for an api we do not follow */
	n = k_produce_resp(&kb, 3, 99, "x", 0);
	assert_int_equal(resp_n(kb.b, n, 3, 9, &r), USM_KAFKA_OK);
	assert_int_equal(r.correlation_id, 99);
	assert_int_equal(r.error_code, USM_KAFKA_ERROR_UNKNOWN);
	assert_string_equal(usm_kafka_verdict_name(USM_KAFKA_BAD_TOPIC), "bad-topic");
	assert_string_equal(usm_kafka_verdict_name(1000), "unknown");
}

/* Every prefix of every request: never an error, the topic is a prefix of
 * the real one, and flags say how much was seen. */
static void test_request_every_truncation(void **state)
{
	struct usm_kafka_request r;

	for (int api = 0; api <= 1; api++) {
		for (int16_t v = 0; v <= (api ? USM_KAFKA_FETCH_MAX_VERSION : USM_KAFKA_PRODUCE_MAX_VERSION); v++) {
			size_t n = api ? k_fetch(&kb, v, 1, "c", "topic-name")
				       : k_produce(&kb, v, 1, "c", "t", 1, "topic-name");

			for (size_t len = 0; len <= n; len++) {
				enum usm_kafka_verdict got = req_n(kb.b, len, &r);

				if (len < 14) {
					assert_int_equal(got, USM_KAFKA_SHORT);
					continue;
				}
				if (got != USM_KAFKA_OK)
					fail_msg("api %d v%d cut at %zu: %s", api, v, len,
						 usm_kafka_verdict_name(got));
				assert_int_equal(r.correlation_id, 1);
				if (r.topic_len) {
					assert_memory_equal(r.topic, "topic-name", r.topic_len);
					assert_int_equal(!!(r.flags & USM_KAFKA_F_TOPIC_TRUNCATED),
							 r.topic_len < 10);
				} else if (!(r.flags & USM_KAFKA_F_TOPIC_ID)) {
					assert_true(r.flags & USM_KAFKA_F_TRUNCATED);
				}
			}
			assert_false(r.flags & (USM_KAFKA_F_TRUNCATED | USM_KAFKA_F_TOPIC_TRUNCATED));
		}
	}
}

static void test_response_every_truncation(void **state)
{
	struct usm_kafka_response r;

	for (int16_t v = 0; v <= 17; v++) {
		int api = v <= 13 ? v % 2 : 1;
		size_t n = api ? k_fetch_resp(&kb, v, 5, 0, "tp", 3) : k_produce_resp(&kb, v, 5, "tp", 3);

		for (size_t len = 0; len <= n; len++) {
			enum usm_kafka_verdict got = resp_n(kb.b, len, (int16_t)api, v, &r);

			if (len < 8) {
				assert_int_equal(got, USM_KAFKA_SHORT);
				continue;
			}
			assert_int_equal(got, USM_KAFKA_OK);
			assert_int_equal(r.correlation_id, 5);
			assert_true(r.error_code == 3 || (r.error_code == USM_KAFKA_ERROR_UNKNOWN &&
							  (r.flags & USM_KAFKA_F_TRUNCATED)));
		}
		assert_int_equal(r.error_code, 3);
	}
}

/* Sizes that lie: a field runs past the size prefix. */
static void test_lying_sizes(void **state)
{
	struct usm_kafka_request r;
	struct usm_kafka_response resp;
	size_t n;

	/* size prefix below a header, negative, above the maximum */
	n = k_produce(&kb, 7, 1, "c", NULL, 1, "t");
	for (uint32_t size = 0; size < 10; size++) {
		kb.b[0] = kb.b[1] = kb.b[2] = 0;
		kb.b[3] = (uint8_t)size;
		assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_LENGTH);
	}
	memcpy(kb.b, "\xff\xff\xff\xff", 4);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_LENGTH);
	memcpy(kb.b, "\x7f\xff\xff\xff", 4);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_LENGTH);
	/* a caller's smaller maximum */
	n = k_produce(&kb, 7, 1, "c", NULL, 1, "t");
	assert_int_equal(usm_kafka_parse_request(kb.b, n, 16, &r), USM_KAFKA_BAD_LENGTH);
	assert_int_equal(usm_kafka_parse_request(kb.b, n, (uint32_t)n - 4, &r), USM_KAFKA_OK);
	/* size 11 ends right after the client id: v2's acks, v7's transactional
	 * id would run past it */
	n = k_produce(&kb, 2, 1, "c", NULL, 1, "t");
	kb.b[3] = 11;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_LENGTH);
	n = k_produce(&kb, 7, 1, "c", NULL, 1, "t");
	kb.b[3] = 11;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_STRING);
	/* client id longer than the message */
	n = k_produce(&kb, 7, 1, "client", NULL, 1, "t");
	kb.b[3] = 14;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_CLIENT_ID);
	/* topic length beyond the message, topic count beyond the message */
	n = k_produce(&kb, 2, 1, "c", NULL, 1, "topic");
	kb.b[4 + 11 + 2 + 4 + 4] = 0x00, kb.b[4 + 11 + 2 + 4 + 4 + 1] = 0xf0; /* name len 240 */
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_STRING);
	n = k_produce(&kb, 2, 1, "c", NULL, 1, "topic");
	memcpy(kb.b + 4 + 11 + 2 + 4, "\x00\x10\x00\x00", 4); /* 1M topics */
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_ARRAY);
	/* response whose partition count cannot fit */
	n = k_produce_resp(&kb, 2, 9, "tp", 0);
	memcpy(kb.b + 8 + 4 + 4, "\x7f\xff\xff\xff", 4);
	assert_int_equal(resp_n(kb.b, n, 0, 2, &resp), USM_KAFKA_BAD_ARRAY);
	/* response size below a correlation id */
	memcpy(kb.b, "\x00\x00\x00\x03", 4);
	assert_int_equal(resp_n(kb.b, n, 0, 2, &resp), USM_KAFKA_BAD_LENGTH);
}

static void test_huge_lengths(void **state)
{
	struct usm_kafka_request r;
	size_t n;

	/* a 100 MiB produce of which 208 bytes are captured: a fine request */
	n = k_produce(&kb, 9, 3, "producer", NULL, -1, "big");
	memcpy(kb.b, "\x06\x40\x00\x00", 4);
	assert_int_equal(req_n(kb.b, n < 208 ? n : 208, &r), USM_KAFKA_OK);
	assert_topic(&r, "big");
	/* a client id of 32767 bytes, captured in part */
	k_begin(&kb);
	k_i16(&kb, 0), k_i16(&kb, 7), k_i32(&kb, 1), k_i16(&kb, 0x7fff);
	memset(kb.b + kb.n, 'x', 200);
	kb.n += 200;
	memcpy(kb.b, "\x00\x01\x00\x00", 4);
	assert_int_equal(req_n(kb.b, kb.n, &r), USM_KAFKA_OK);
	assert_int_equal(r.client_id_len, 200);
	assert_true(r.flags & USM_KAFKA_F_TRUNCATED);
	/* topic over Kafka's 249-byte limit */
	n = k_produce(&kb, 2, 1, "c", NULL, 1, "t");
	kb.b[4 + 11 + 2 + 4 + 4] = 0x01, kb.b[4 + 11 + 2 + 4 + 4 + 1] = 0x00;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_TOPIC);
}

static void test_varints(void **state)
{
	struct usm_kafka_request r;
	size_t n;

	/* a transactional id length as a 6-byte varint */
	k_req_header(&kb, 0, 9, 1, "c", 1);
	k_raw(&kb, "\x80\x80\x80\x80\x80\x01", 6);
	k_raw(&kb, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 18);
	n = k_end(&kb);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_VARINT);
	/* 5 bytes but over 32 bits */
	k_req_header(&kb, 0, 9, 1, "c", 1);
	k_raw(&kb, "\xff\xff\xff\xff\x7f", 5);
	k_raw(&kb, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 18);
	n = k_end(&kb);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_VARINT);
	/* tagged fields in the header are skipped: two tags with data */
	k_begin(&kb);
	k_i16(&kb, 1), k_i16(&kb, 12), k_i32(&kb, 77), k_str(&kb, 0, "c");
	k_uvarint(&kb, 2);
	k_uvarint(&kb, 0), k_uvarint(&kb, 3), k_raw(&kb, "abc", 3);
	k_uvarint(&kb, 1), k_uvarint(&kb, 0);
	k_i32(&kb, -1), k_i32(&kb, 1), k_i32(&kb, 1), k_i32(&kb, 1), k_u8(&kb, 0);
	k_i32(&kb, 0), k_i32(&kb, 0), k_array(&kb, 1, 1), k_str(&kb, 1, "tagged");
	k_array(&kb, 1, 0), k_tags(&kb, 1), k_array(&kb, 1, 0), k_str(&kb, 1, ""), k_tags(&kb, 1);
	n = k_end(&kb);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_OK);
	assert_topic(&r, "tagged");
	/* a tag whose size runs past the message */
	kb.b[4 + 11 + 1 + 1] = 100;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_STRING);
	/* too many tags */
	kb.b[4 + 11] = 100;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_STRING);
}

static void test_garbage(void **state)
{
	struct usm_kafka_request r;
	size_t n;
	uint8_t noise[256];

	n = k_produce(&kb, 3, 1, "c", NULL, 1, "t");
	kb.b[4] = 0xff, kb.b[5] = 0xff; /* api key -1 */
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_API_KEY);
	kb.b[4] = 0x00, kb.b[5] = 0xc8; /* api key 200 */
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_API_KEY);
	n = k_produce(&kb, 3, 1, "c", NULL, 1, "t");
	kb.b[7] = 100;
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_VERSION);
	n = k_produce(&kb, 3, -5, "c", NULL, 1, "t");
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_CORRELATION);
	n = k_produce(&kb, 3, 1, "c\x01", NULL, 1, "t");
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_CLIENT_ID);
	n = k_produce(&kb, 3, 1, "c", NULL, 1, "bad/topic");
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_TOPIC);
	n = k_produce(&kb, 3, 1, "c", NULL, 1, "");
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_TOPIC);
	n = k_fetch(&kb, 4, 1, "c", "t");
	memcpy(kb.b + 4 + 11 + 17, "\xff\xff\xff\xff", 4); /* null topic array */
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_BAD_ARRAY);
	/* other apis and versions we do not follow: header only */
	n = k_produce(&kb, 14, 1, "c", NULL, 1, "t");
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_OK);
	assert_false(r.flags & USM_KAFKA_F_TRACKED);
	k_req_header(&kb, 3, 9, 4, "c", 1); /* Metadata */
	k_array(&kb, 1, 0);
	n = k_end(&kb);
	assert_int_equal(req_n(kb.b, n, &r), USM_KAFKA_OK);
	assert_int_equal(r.api_key, 3);
	assert_false(r.flags & USM_KAFKA_F_TRACKED);
	/* HTTP and noise are not Kafka */
	assert_int_not_equal(req_n((const uint8_t *)"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, &r),
			     USM_KAFKA_OK);
	srand(1);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)rand() % sizeof(noise);

		for (size_t j = 0; j < len; j++)
			noise[j] = (uint8_t)rand();
		req_n(noise, len, &r); /* must not crash or over-read */
		assert_true(r.topic_len <= len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_produce_all_versions),
		cmocka_unit_test(test_fetch_all_versions),
		cmocka_unit_test(test_responses_all_versions),
		cmocka_unit_test(test_request_every_truncation),
		cmocka_unit_test(test_response_every_truncation),
		cmocka_unit_test(test_lying_sizes),
		cmocka_unit_test(test_huge_lengths),
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
