/* WRAP: malloc */
/* Unit tests for proto/frame.c: header encoding, the incremental reader fed
 * hostile lengths (0, 1, cap-1, cap, cap+1, 0xffffffff), split headers,
 * byte-at-a-time delivery, back-to-back frames, and frame encoding. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "netwarden.pb-c.h"
#include "proto/frame.c"

static int fail_malloc; /* the next allocation fails */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n)
{
	if (fail_malloc) {
		fail_malloc = 0;
		errno = ENOMEM;
		return NULL;
	}
	return __real_malloc(n);
}

#define CAP NW_FRAME_MAX_REQUEST

/* A frame of len bytes (0x5a ...), header included, in a new buffer. */
static uint8_t *make_frame(uint32_t len, size_t body_bytes, size_t *total)
{
	uint8_t *buf = calloc(1, NW_FRAME_HDR_LEN + body_bytes);

	assert_non_null(buf);
	nw_frame_put_header(buf, len);
	memset(buf + NW_FRAME_HDR_LEN, 0x5a, body_bytes);
	*total = NW_FRAME_HDR_LEN + body_bytes;
	return buf;
}

static void test_header(void **state)
{
	uint8_t h[4];
	static const uint32_t v[] = { 0, 1, 0x100, 0x01020304, CAP, 0x7fffffff, 0xffffffff };

	nw_frame_put_header(h, 0x01020304);
	assert_int_equal(h[0], 1);
	assert_int_equal(h[1], 2);
	assert_int_equal(h[2], 3);
	assert_int_equal(h[3], 4);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		nw_frame_put_header(h, v[i]);
		assert_int_equal(nw_frame_get_header(h), v[i]);
	}
}

/* A length the reader must accept: the whole frame comes back intact. */
static void accept_len(uint32_t len)
{
	struct nw_frame_reader r;
	size_t total, used;
	uint8_t *buf = make_frame(len, len, &total);

	nw_frame_reader_init(&r, CAP);
	assert_int_equal(nw_frame_reader_feed(&r, buf, total, &used), 1);
	assert_int_equal(used, total);
	assert_int_equal(r.len, len);
	assert_non_null(r.body);
	assert_memory_equal(r.body, buf + NW_FRAME_HDR_LEN, len);
	/* ready: nothing more is taken until reset */
	assert_int_equal(nw_frame_reader_feed(&r, buf, total, &used), 1);
	assert_int_equal(used, 0);
	nw_frame_reader_reset(&r);
	assert_false(r.ready);
	assert_null(r.body);
	free(buf);
}

/* A length refused at the header, before any body byte is buffered. */
static void refuse_len(uint32_t len, int want)
{
	struct nw_frame_reader r;
	size_t total, used;
	uint8_t *buf = make_frame(len, 16, &total);

	nw_frame_reader_init(&r, CAP);
	assert_int_equal(nw_frame_reader_feed(&r, buf, total, &used), want);
	assert_int_equal(used, NW_FRAME_HDR_LEN);
	assert_null(r.body);
	assert_false(r.ready);
	if (want == -EMSGSIZE)
		assert_int_equal(r.len, len);
	nw_frame_reader_free(&r);
	free(buf);
}

static void test_hostile_lengths(void **state)
{
	refuse_len(0, -EBADMSG);
	accept_len(1);
	accept_len(CAP - 1);
	accept_len(CAP);
	refuse_len(CAP + 1, -EMSGSIZE);
	refuse_len(0x7fffffff, -EMSGSIZE);
	refuse_len(0x80000000, -EMSGSIZE);
	refuse_len(0xffffffff, -EMSGSIZE);
	refuse_len(NW_FRAME_MAX, -EMSGSIZE);
}

static void test_response_cap(void **state)
{
	struct nw_frame_reader r;
	uint8_t h[4];

	nw_frame_reader_init(&r, NW_FRAME_MAX);
	nw_frame_put_header(h, NW_FRAME_MAX + 1);
	assert_int_equal(nw_frame_reader_feed(&r, h, 4, NULL), -EMSGSIZE);
	nw_frame_reader_reset(&r);
	assert_int_equal(r.cap, NW_FRAME_MAX);
	nw_frame_put_header(h, NW_FRAME_MAX);
	assert_int_equal(nw_frame_reader_feed(&r, h, 4, NULL), 0); /* allocated, waits for body */
	assert_non_null(r.body);
	assert_int_equal(nw_frame_reader_pending(&r), 4);
	nw_frame_reader_free(&r);
	nw_frame_reader_free(NULL);
}

static void test_split_header(void **state)
{
	struct nw_frame_reader r;
	size_t total, used;
	uint8_t *buf = make_frame(10, 10, &total);

	/* every split point of the header, then the body in two parts */
	for (size_t cut = 1; cut < NW_FRAME_HDR_LEN; cut++) {
		nw_frame_reader_init(&r, CAP);
		assert_int_equal(nw_frame_reader_feed(&r, buf, cut, &used), 0);
		assert_int_equal(used, cut);
		assert_null(r.body);
		assert_int_equal(nw_frame_reader_pending(&r), cut);
		assert_int_equal(nw_frame_reader_feed(&r, buf + cut, NW_FRAME_HDR_LEN - cut + 3, &used), 0);
		assert_int_equal(nw_frame_reader_pending(&r), 7);
		assert_int_equal(nw_frame_reader_feed(&r, buf + 7, total - 7, &used), 1);
		assert_int_equal(used, total - 7);
		assert_int_equal(r.len, 10);
		assert_int_equal(nw_frame_reader_pending(&r), 0);
		nw_frame_reader_reset(&r);
	}
	free(buf);
}

/* Two frames back to back, delivered one byte at a time through space/commit
 * as a nonblocking reader would: each completes exactly at its last byte. */
static void test_byte_at_a_time(void **state)
{
	struct nw_frame_reader r;
	uint8_t stream[4 + 3 + 4 + 300];
	size_t pos = 0, frames = 0;
	uint32_t lens[2] = { 3, 300 };

	nw_frame_put_header(stream, 3);
	memcpy(stream + 4, "abc", 3);
	nw_frame_put_header(stream + 7, 300);
	for (int i = 0; i < 300; i++)
		stream[11 + i] = (uint8_t)i;
	nw_frame_reader_init(&r, CAP);
	while (pos < sizeof(stream)) {
		uint8_t *dst;
		size_t space = nw_frame_reader_space(&r, &dst);
		int ret;

		assert_true(space > 0);
		*dst = stream[pos++];
		ret = nw_frame_reader_commit(&r, 1);
		if (ret == 1) {
			assert_int_equal(r.len, lens[frames]);
			assert_int_equal(nw_frame_reader_space(&r, &dst), 0);
			if (frames == 0)
				assert_memory_equal(r.body, "abc", 3);
			else
				assert_memory_equal(r.body, stream + 11, 300);
			frames++;
			nw_frame_reader_reset(&r);
		} else {
			assert_int_equal(ret, 0);
		}
	}
	assert_int_equal(frames, 2);
	assert_int_equal(nw_frame_reader_pending(&r), 0);
}

/* feed() stops at the end of a frame: the rest belongs to the next one. */
static void test_feed_stops_at_frame_end(void **state)
{
	struct nw_frame_reader r;
	uint8_t stream[4 + 2 + 4 + 1];
	size_t used;

	nw_frame_put_header(stream, 2);
	stream[4] = 'h';
	stream[5] = 'i';
	nw_frame_put_header(stream + 6, 1);
	stream[10] = '!';
	nw_frame_reader_init(&r, CAP);
	assert_int_equal(nw_frame_reader_feed(&r, stream, sizeof(stream), &used), 1);
	assert_int_equal(used, 6);
	nw_frame_reader_reset(&r);
	assert_int_equal(nw_frame_reader_feed(&r, stream + 6, sizeof(stream) - 6, &used), 1);
	assert_int_equal(used, 5);
	assert_int_equal(r.body[0], '!');
	nw_frame_reader_free(&r);
}

static void test_commit_over_space(void **state)
{
	struct nw_frame_reader r;
	uint8_t *dst;

	nw_frame_reader_init(&r, CAP);
	assert_int_equal(nw_frame_reader_space(&r, &dst), 4);
	assert_int_equal(nw_frame_reader_commit(&r, 5), -EINVAL);
	assert_int_equal(nw_frame_reader_pending(&r), 0);
	assert_int_equal(nw_frame_reader_commit(&r, 0), 0);
}

static void test_body_alloc_fails(void **state)
{
	struct nw_frame_reader r;
	uint8_t h[4];

	nw_frame_reader_init(&r, CAP);
	nw_frame_put_header(h, 100);
	fail_malloc = 1;
	assert_int_equal(nw_frame_reader_feed(&r, h, 4, NULL), -ENOMEM);
	assert_null(r.body);
	nw_frame_reader_reset(&r);
	assert_int_equal(nw_frame_reader_feed(&r, h, 4, NULL), 0);
	nw_frame_reader_free(&r);
}

static void test_encode_roundtrip(void **state)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__RegisterRequest reg = NETWARDEN__REGISTER_REQUEST__INIT;
	struct nw_frame_reader r;
	Netwarden__Request *back;
	uint8_t *buf;
	size_t len, used;

	reg.client_id = "client-1";
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &reg;
	assert_int_equal(nw_frame_encode(&req.base, CAP, &buf, &len), 0);
	assert_int_equal(nw_frame_get_header(buf), len - 4);
	nw_frame_reader_init(&r, CAP);
	assert_int_equal(nw_frame_reader_feed(&r, buf, len, &used), 1);
	back = netwarden__request__unpack(NULL, r.len, r.body);
	assert_non_null(back);
	assert_int_equal(back->kind_case, NETWARDEN__REQUEST__KIND_REGISTER);
	assert_string_equal(back->register_->client_id, "client-1");
	netwarden__request__free_unpacked(back, NULL);
	nw_frame_reader_free(&r);
	free(buf);
}

static void test_encode_limits(void **state)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__RegisterRequest reg = NETWARDEN__REGISTER_REQUEST__INIT;
	char *big = malloc(CAP + 1);
	uint8_t *buf = NULL;
	size_t len = 0;

	/* no kind: packs to nothing, which would be a zero-length (bad) frame */
	assert_int_equal(nw_frame_encode(&req.base, CAP, &buf, &len), -EMSGSIZE);
	assert_null(buf);
	assert_non_null(big);
	memset(big, 'x', CAP);
	big[CAP] = 0;
	reg.client_id = big;
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &reg;
	assert_int_equal(nw_frame_encode(&req.base, CAP, &buf, &len), -EMSGSIZE);
	assert_int_equal(nw_frame_encode(&req.base, NW_FRAME_MAX, &buf, &len), 0);
	assert_true(len > CAP);
	free(buf);
	big[10] = 0;
	fail_malloc = 1;
	assert_int_equal(nw_frame_encode(&req.base, CAP, &buf, &len), -ENOMEM);
	assert_int_equal(nw_frame_encode(NULL, CAP, &buf, &len), -EINVAL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_hostile_lengths),
		cmocka_unit_test(test_response_cap),
		cmocka_unit_test(test_split_header),
		cmocka_unit_test(test_byte_at_a_time),
		cmocka_unit_test(test_feed_stops_at_frame_end),
		cmocka_unit_test(test_commit_over_space),
		cmocka_unit_test(test_body_alloc_fails),
		cmocka_unit_test(test_encode_roundtrip),
		cmocka_unit_test(test_encode_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
