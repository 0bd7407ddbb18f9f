/* Unit tests for unprivileged/dns/dns_parse.c: the captured corpus
 * (tests/data/dns, made by capture.py against dnsmasq), truncation, pointers,
 * labels and name lengths. Records and TCP framing: test_dns_records.c. */
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

static struct dns_corpus_file corpus[DNS_CORPUS_MAX];

/* --- the corpus ---------------------------------------------------------- */

static void test_corpus_all_parse(void **state)
{
	size_t n = dns_corpus_load(".bin", corpus, DNS_CORPUS_MAX);

	assert_true(n >= 30);
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b = corpus[i].bytes;
		size_t len = corpus[i].len;

		if (strstr(corpus[i].name, ".tcp.")) {
			const uint8_t *msg = NULL;
			size_t off = 0, mlen = 0;
			enum dns_parse_err why;

			assert_int_equal(dns_tcp_next(b, len, &off, &msg, &mlen, &why), 1);
			assert_int_equal(dns_tcp_next(b, len, &off, &msg, &mlen, &why), 0);
			b = msg; /* the one message the segment held */
			len = mlen;
		}
		if (dns_parse(b, len, &m))
			fail_msg("%s: %s", corpus[i].name, dns_parse_err_str(m.err));
		assert_int_equal(m.valid, DNS_VALID_HEADER | DNS_VALID_QUESTION | DNS_VALID_ANSWERS);
		assert_int_equal(m.qr, strstr(corpus[i].name, ".q.") ? 0 : 1);
		assert_int_equal(m.qdcount, 1);
	}
}

static void test_corpus_a(void **state)
{
	const struct dns_corpus_file *f = corpus_get("a_www.r.bin");

	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.rcode, DNS_RCODE_NOERROR);
	assert_int_equal(m.qtype, DNS_TYPE_A);
	assert_int_equal(m.qclass, DNS_CLASS_IN);
	assert_text(m.qname_off, false, "www.example.test");
	assert_int_equal(m.n_answers, 1);
	assert_int_equal(m.answers[0].type, DNS_TYPE_A);
	assert_int_equal(m.answers[0].ttl, 300);
	assert_true(dns_name_equal(&m, m.answers[0].name_off, m.qname_off));
	assert_ip(&m.answers[0], "192.0.2.10");

	f = corpus_get("aaaa_www.r.bin");
	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.n_answers, 1);
	assert_ip(&m.answers[0], "2001:db8::10");
}

static void test_corpus_cname_chain(void **state)
{
	const struct dns_corpus_file *f = corpus_get("a_cname_chain.r.bin");

	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.n_answers, 3);
	assert_int_equal(m.answers[0].type, DNS_TYPE_CNAME);
	assert_text(m.answers[0].name_off, false, "a.chain.test");
	assert_text(m.answers[0].rdata_off, false, "b.chain.test");
	assert_int_equal(m.answers[1].type, DNS_TYPE_CNAME);
	assert_text(m.answers[1].rdata_off, false, "c.chain.test");
	assert_true(dns_name_equal(&m, m.answers[1].rdata_off, m.answers[2].name_off));
	assert_ip(&m.answers[2], "198.51.100.7");
}

static void test_corpus_mixed_case_lowered(void **state)
{
	const struct dns_corpus_file *f = corpus_get("a_alias_mixed_case.r.bin");

	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_text(m.qname_off, false, "Alias.Example.test");
	assert_text(m.qname_off, true, "alias.example.test");
}

static void test_corpus_rcodes_and_skipped_types(void **state)
{
	const struct dns_corpus_file *f = corpus_get("nxdomain.r.bin");

	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(m.n_answers, 0);
	f = corpus_get("refused.r.bin");
	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.rcode, 5);
	f = corpus_get("mx.r.bin");
	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.n_answers, 0);
	assert_int_equal(m.answers_skipped, 1);
	f = corpus_get("a_many.r.bin");
	assert_int_equal(dns_parse(f->bytes, f->len, &m), 0);
	assert_int_equal(m.n_answers, 24);
}

/* Every strict prefix of a real response is rejected, for a reason. */
static void test_truncation_at_every_byte(void **state)
{
	size_t n = dns_corpus_load(".r.bin", corpus, DNS_CORPUS_MAX);

	assert_true(n >= 15);
	for (size_t i = 0; i < n; i++) {
		for (size_t cut = 0; cut < corpus[i].len; cut++) {
			assert_int_equal(dns_parse(corpus[i].bytes, cut, &m), -EBADMSG);
			assert_true(m.err > DNS_PARSE_OK && m.err < DNS_PARSE_ERR__MAX);
			if (cut < DNS_HEADER_LEN)
				assert_int_equal(m.err, DNS_PARSE_ERR_SHORT_HEADER);
			else
				assert_true(m.valid & DNS_VALID_HEADER);
		}
	}
}

/* --- compression pointers ------------------------------------------------ */

/* header + one question whose name is given raw */
static void question_raw(const void *name, size_t n)
{
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 0, 0, 0);
	db_bytes(&w, name, n);
	db_u16(&w, DNS_TYPE_A);
	db_u16(&w, DNS_CLASS_IN);
}

static void test_pointer_self_loop(void **state)
{
	const uint8_t self[] = { 0xC0, 12 };

	question_raw(self, sizeof(self));
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_NOT_BACKWARD);
}

static void test_pointer_two_cycle(void **state)
{
	/* 12: label "a" then pointer to 16; 16: pointer back to 12 */
	const uint8_t two[] = { 1, 'a', 0xC0, 16, 0xC0, 12 };

	question_raw(two, sizeof(two));
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_NOT_BACKWARD);
	/* a backward pointer into its own run of labels would also loop */
	const uint8_t inner[] = { 1, 'a', 1, 'b', 0xC0, 14 };
	question_raw(inner, sizeof(inner));
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_NOT_BACKWARD);
}

static void test_pointer_forward_and_out_of_bounds(void **state)
{
	/* forward to a valid name that sits after the question */
	const uint8_t fwd[] = { 0xC0, 18 };

	question_raw(fwd, sizeof(fwd));
	db_name(&w, "later");
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_NOT_BACKWARD);

	const uint8_t oob[] = { 0xFF, 0xFF };
	question_raw(oob, sizeof(oob));
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_NOT_BACKWARD);

	const uint8_t hdr[] = { 0xC0, 2 };
	question_raw(hdr, sizeof(hdr));
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_INTO_HEADER);

	/* a pointer cut after its first byte */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 0, 0, 0);
	db_u8(&w, 0xC0);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_NAME_TRUNCATED);
}

/* A valid chain of pointer-to-pointer hops, hops+1 pointers long. */
static void pointer_chain(unsigned hops)
{
	size_t rdata, last;

	db_reset(&w);
	db_header(&w, 1, 0x8180, 0, 2, 0, 0);
	db_u8(&w, 0);                                   /* owner: root */
	db_rr_fixed(&w, 65280, DNS_CLASS_IN, 60, (uint16_t)(1 + 2 * hops));
	rdata = w.len;
	db_u8(&w, 0);                                   /* the chain ends in a root label */
	last = rdata;
	for (unsigned i = 0; i < hops; i++) {
		size_t here = w.len;

		db_ptr(&w, (uint16_t)last);
		last = here;
	}
	db_ptr(&w, (uint16_t)last);                     /* second RR's owner */
	db_rr_fixed(&w, DNS_TYPE_A, DNS_CLASS_IN, 60, 4);
	db_u32(&w, 0x0a000001);
}

static void test_pointer_hops_bounded(void **state)
{
	pointer_chain(DNS_MAX_PTR_HOPS - 1);
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_int_equal(m.n_answers, 1);
	assert_text(m.answers[0].name_off, false, ".");
	pointer_chain(DNS_MAX_PTR_HOPS);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_PTR_HOPS);
}

/* --- labels and name length --------------------------------------------- */

static void label_question(uint8_t l)
{
	uint8_t name[70] = { l };

	memset(name + 1, 'x', 63);
	name[1 + (l < 64 ? l : 63)] = 0;
	question_raw(name, 2u + (l < 64 ? l : 63));
}

static void test_label_lengths(void **state)
{
	char want[64];

	label_question(0); /* the root name */
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_text(m.qname_off, false, ".");
	label_question(63);
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	memset(want, 'x', 63);
	want[63] = 0;
	assert_text(m.qname_off, false, want);
	label_question(64);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_LABEL_TYPE);
	label_question(0x80);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_LABEL_TYPE);
	label_question(0xBF);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_LABEL_TYPE);
}

/* A name of exactly total wire bytes made of 63-byte labels and one filler label. */
static void long_name(struct dns_builder *b, size_t total)
{
	size_t left = total - 1; /* root label */

	while (left) {
		size_t l = left > 64 ? 63 : left - 1;

		if (left - (l + 1) == 1) /* never leave a 0-byte label behind */
			l--;
		db_u8(b, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			db_u8(b, 'a' + (uint8_t)(i % 26));
		left -= l + 1;
	}
	db_u8(b, 0);
}

static void test_name_length_limit(void **state)
{
	char txt[DNS_NAME_TEXT_MAX];

	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 0, 0, 0);
	long_name(&w, 255);
	db_u16(&w, 1);
	db_u16(&w, 1);
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_true(dns_name_text(&m, m.qname_off, txt, sizeof(txt), false) > 250);

	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 0, 0, 0);
	long_name(&w, 256);
	db_u16(&w, 1);
	db_u16(&w, 1);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_NAME_TOO_LONG);

	/* over 255 only through a pointer: 200 bytes in place + 100 behind it */
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, 1, 0, 0);
	long_name(&w, 101);
	db_u16(&w, 1);
	db_u16(&w, 1);
	for (int i = 0; i < 4; i++) {
		db_u8(&w, 49);
		for (int k = 0; k < 49; k++)
			db_u8(&w, 'z');
	}
	db_ptr(&w, 12);
	db_rr_fixed(&w, DNS_TYPE_A, DNS_CLASS_IN, 1, 4);
	db_u32(&w, 1);
	assert_int_equal(parse_err(), DNS_PARSE_ERR_NAME_TOO_LONG);
	assert_true(m.valid & DNS_VALID_QUESTION);
}

static void test_name_text_escapes_and_space(void **state)
{
	const uint8_t odd[] = { 4, 'a', '.', 0x01, '\\', 2, 'C', ' ', 0 };
	char small[8];

	question_raw(odd, sizeof(odd));
	assert_int_equal(parse_err(), DNS_PARSE_OK);
	assert_text(m.qname_off, false, "a\\.\\001\\\\.C\\032");
	assert_text(m.qname_off, true, "a\\.\\001\\\\.c\\032");
	assert_int_equal(dns_name_text(&m, m.qname_off, small, sizeof(small), false), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_all_parse),
		cmocka_unit_test(test_corpus_a),
		cmocka_unit_test(test_corpus_cname_chain),
		cmocka_unit_test(test_corpus_mixed_case_lowered),
		cmocka_unit_test(test_corpus_rcodes_and_skipped_types),
		cmocka_unit_test(test_truncation_at_every_byte),
		cmocka_unit_test(test_pointer_self_loop),
		cmocka_unit_test(test_pointer_two_cycle),
		cmocka_unit_test(test_pointer_forward_and_out_of_bounds),
		cmocka_unit_test(test_pointer_hops_bounded),
		cmocka_unit_test(test_label_lengths),
		cmocka_unit_test(test_name_length_limit),
		cmocka_unit_test(test_name_text_escapes_and_space),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
