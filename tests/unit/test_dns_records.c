/* Unit tests for unprivileged/dns/dns_parse.c, records: counts that lie,
 * rdata checks, answer limits, DNS over TCP framing. Names, pointers, labels
 * and the corpus are in test_dns_parse.c. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>

#include "unprivileged/dns/dns_parse.c"
#include "tests/unit/dns_testlib.h"
#include "tests/unit/dns_parse_asserts.h"


/* --- counts and records --------------------------------------------------- */

static void test_counts_that_lie(void **state)
{
	const struct dns_corpus_file *f = corpus_get("a_cname_chain.r.bin");

	/* answer count one more than present: header and question stay usable */
	memcpy(w.b, f->bytes, f->len);
	w.len = f->len;
	/* drop the OPT record so the answers end the message */
	db_put16(&w, 10, 0);
	w.len -= 11;
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	db_put16(&w, 6, 4);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_COUNT);
	assert_int_equal(m.valid, DNS_VALID_HEADER | DNS_VALID_QUESTION);
	assert_int_equal(m.qtype, DNS_TYPE_A);
	db_put16(&w, 6, 0xFFFF);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_COUNT);
	db_put16(&w, 6, 3);
	db_put16(&w, 4, 0xFFFF); /* question count: answers read as questions, then nothing */
	assert_int_not_equal(parse_err(), DNS_PARSE_OK);
	db_put16(&w, 4, 1);
	db_put16(&w, 8, 1); /* authority count */
	assert_int_equal(parse_err(), DNS_PARSE_ERR_COUNT);
	db_put16(&w, 8, 0);
	db_put16(&w, 10, 2); /* additional count */
	assert_int_equal(parse_err(), DNS_PARSE_ERR_COUNT);
}

static void test_rdata_checks(void **state)
{
	size_t rdlen_off;

	/* A with 5 bytes of rdata */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 1, 0, 0);
	db_name(&w, "x.test");
	db_u16(&w, DNS_TYPE_A);
	db_u16(&w, DNS_CLASS_IN);
	db_ptr(&w, 12);
	db_rr_fixed(&w, DNS_TYPE_A, DNS_CLASS_IN, 60, 5);
	db_u32(&w, 0x0a000001);
	db_u8(&w, 0);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_RDATA_LENGTH);
	/* the same in class CH is not an IN address: skipped, not rejected */
	db_put16(&w, 28, 3);
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_int_equal(m.answers_skipped, 1);

	/* AAAA with 4 bytes */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 0, 1, 0, 0);
	db_name(&w, "x.test");
	db_rr_fixed(&w, DNS_TYPE_AAAA, DNS_CLASS_IN, 60, 4);
	db_u32(&w, 1);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_RDATA_LENGTH);

	/* rdlength past the end */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 0, 1, 0, 0);
	db_name(&w, "x.test");
	db_rr_fixed(&w, 16, DNS_CLASS_IN, 60, 10);
	db_u32(&w, 1);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_RDATA_TRUNCATED);

	/* CNAME whose target is shorter or longer than rdlength */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 0, 1, 0, 0);
	db_name(&w, "x.test");
	rdlen_off = w.len + 8;
	db_rr_fixed(&w, DNS_TYPE_CNAME, DNS_CLASS_IN, 60, 8);
	db_name(&w, "y.test");
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_int_equal(m.n_answers, 1);
	assert_text(m.answers[0].rdata_off, false, "y.test");
	db_put16(&w, rdlen_off, 7);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_CNAME_RDATA);
	db_u8(&w, 0);
	db_put16(&w, rdlen_off, 9);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_CNAME_RDATA);

	/* record cut inside its fixed fields */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 0, 1, 0, 0);
	db_name(&w, "x.test");
	db_u16(&w, DNS_TYPE_A);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_RR_TRUNCATED);

	/* question cut inside qtype/qclass */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 0, 0, 0);
	db_name(&w, "x.test");
	db_u16(&w, DNS_TYPE_A);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_QUESTION_TRUNCATED);
	assert_false(m.valid & DNS_VALID_QUESTION);
}

static void test_answers_beyond_limit_counted(void **state)
{
	db_reset(&w);
	db_header(&w, 7, 0x8180, 1, DNS_MAX_ANSWERS + 5, 0, 0);
	db_name(&w, "big.test");
	db_u16(&w, DNS_TYPE_A);
	db_u16(&w, DNS_CLASS_IN);
	for (uint32_t i = 0; i < DNS_MAX_ANSWERS + 5; i++) {
		db_ptr(&w, 12);
		db_rr_fixed(&w, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
		db_u32(&w, 0x0a000000 + i);
	}
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_int_equal(m.n_answers, DNS_MAX_ANSWERS);
	assert_int_equal(m.answers_dropped, 5);
	assert_ip(&m.answers[DNS_MAX_ANSWERS - 1], "10.0.0.31");
}

static void test_empty_question_and_null_args(void **state)
{
	db_reset(&w);
	db_header(&w, 9, 0x8182, 0, 0, 0, 0); /* SERVFAIL, no question */
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_int_equal(m.rcode, DNS_RCODE_SERVFAIL);
	assert_int_equal(m.valid, DNS_VALID_HEADER | DNS_VALID_ANSWERS);
	assert_int_equal(dns_parse(NULL, 12, &m), -EINVAL);
	assert_int_equal(dns_parse(w.b, 12, NULL), -EINVAL);
	assert_string_equal(dns_parse_err_str(DNS_PARSE_ERR_PTR_HOPS), "ptr_hops");
	assert_string_equal(dns_parse_err_str(DNS_PARSE_ERR__MAX), "unknown");
	for (int e = 0; e < DNS_PARSE_ERR__MAX; e++)
		assert_non_null(dns_parse_err_str(e));
}

/* --- DNS over TCP ------------------------------------------------------------ */

static void test_tcp_segments(void **state)
{
	static struct dns_corpus_file a_copy, b;
	const struct dns_corpus_file *a = &a_copy;
	uint8_t seg[2048];
	const uint8_t *msg = NULL;
	size_t len = 0, off = 0, mlen = 0;
	enum dns_parse_err why = DNS_PARSE_OK;

	memcpy(&a_copy, corpus_get("a_www.r.bin"), sizeof(a_copy));
	memcpy(&b, corpus_get("aaaa_www.r.bin"), sizeof(b));
	/* two messages in one segment */
	seg[len++] = (uint8_t)(a->len >> 8);
	seg[len++] = (uint8_t)a->len;
	memcpy(seg + len, a->bytes, a->len);
	len += a->len;
	seg[len++] = (uint8_t)(b.len >> 8);
	seg[len++] = (uint8_t)b.len;
	memcpy(seg + len, b.bytes, b.len);
	len += b.len;
	assert_int_equal(dns_tcp_next(seg, len, &off, &msg, &mlen, &why), 1);
	assert_int_equal(mlen, a->len);
	assert_int_equal(dns_parse(msg, mlen, &m), 0);
	assert_int_equal(m.answers[0].type, DNS_TYPE_A);
	assert_int_equal(dns_tcp_next(seg, len, &off, &msg, &mlen, &why), 1);
	assert_int_equal(dns_parse(msg, mlen, &m), 0);
	assert_int_equal(m.answers[0].type, DNS_TYPE_AAAA);
	assert_int_equal(dns_tcp_next(seg, len, &off, &msg, &mlen, &why), 0);

	/* the second message cut at every byte: the first still comes out */
	for (size_t cut = a->len + 2; cut < len; cut++) {
		off = 0;
		why = DNS_PARSE_OK;
		assert_int_equal(dns_tcp_next(seg, cut, &off, &msg, &mlen, &why), 1);
		if (cut == a->len + 2) {
			assert_int_equal(dns_tcp_next(seg, cut, &off, &msg, &mlen, &why), 0);
			continue;
		}
		assert_int_equal(dns_tcp_next(seg, cut, &off, &msg, &mlen, &why), -EBADMSG);
		assert_int_equal(why, DNS_PARSE_ERR_TCP_LENGTH);
		assert_int_equal(off, cut);
		assert_int_equal(dns_tcp_next(seg, cut, &off, &msg, &mlen, &why), 0);
	}

	/* a zero length prefix */
	seg[0] = seg[1] = 0;
	off = 0;
	assert_int_equal(dns_tcp_next(seg, len, &off, &msg, &mlen, &why), -EBADMSG);
	assert_int_equal(dns_tcp_next(NULL, len, &off, &msg, &mlen, &why), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counts_that_lie),
		cmocka_unit_test(test_rdata_checks),
		cmocka_unit_test(test_answers_beyond_limit_counted),
		cmocka_unit_test(test_empty_question_and_null_args),
		cmocka_unit_test(test_tcp_segments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
