/* LIBS: -lldns */
/* Differential test: unprivileged/dns/dns_parse.c against ldns_wire2pkt on the
 * captured corpus and on randomly mutated variants (fixed seed, bounded
 * count). Where both accept, the question, the rcode and every A/AAAA/CNAME
 * answer (owner, address, target: exact wire bytes) must agree. Where they
 * disagree on accepting, the reason must be one this parser documents as
 * stricter than ldns, or one ldns checks in data this parser does not
 * interpret; every other disagreement fails the test. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ldns/ldns.h>

#include "unprivileged/dns/dns_parse.c"
#include "tests/unit/dns_testlib.h"

#define MUTANTS_PER_FILE 4000
#define SEED 0x6e77646e73ULL /* "nwdns" */

static struct dns_corpus_file corpus[DNS_CORPUS_MAX];
static size_t n_corpus;

struct tally {
	size_t both_ok, both_bad, we_stricter[DNS_PARSE_ERR__MAX], ldns_stricter[128];
	size_t answers_compared;
	size_t ldns_ignored_rdlength; /* see we_may_be_stricter */
	size_t ldns_checked_skipped;  /* see ldns_checked_skipped_rdata */
};

static struct dns_msg msg;
static uint64_t rng = SEED;

static uint64_t next_rand(void)
{
	rng ^= rng << 13; /* xorshift64 */
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void load_corpus(void)
{
	struct dns_corpus_file *f;

	n_corpus = dns_corpus_load(".bin", corpus, DNS_CORPUS_MAX);
	assert_true(n_corpus >= 30);
	for (size_t i = 0; i < n_corpus; i++) {
		f = &corpus[i];
		if (strstr(f->name, ".tcp.")) { /* unwrap the one length-prefixed message */
			memmove(f->bytes, f->bytes + 2, f->len - 2);
			f->len -= 2;
		}
	}
}

static bool rdf_equal_wire(const ldns_rdf *rdf, const uint8_t *wire, int len)
{
	return rdf && len >= 0 && ldns_rdf_size(rdf) == (size_t)len && !memcmp(ldns_rdf_data(rdf), wire, (size_t)len);
}

/* Both accepted: everything this parser reports must match ldns. */
static void compare_accepted(const ldns_pkt *pkt, struct tally *t)
{
	const ldns_rr_list *an = ldns_pkt_answer(pkt);
	uint8_t wire[DNS_NAME_WIRE_MAX];
	uint16_t kept = 0;

	assert_int_equal(msg.id, ldns_pkt_id(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), msg.rcode);
	assert_int_equal(msg.qr, ldns_pkt_qr(pkt) ? 1 : 0);
	if (ldns_pkt_qdcount(pkt)) {
		const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);

		assert_true(rdf_equal_wire(ldns_rr_owner(q), wire, dns_name_wire(&msg, msg.qname_off, wire)));
		assert_int_equal(ldns_rr_get_type(q), msg.qtype);
		assert_int_equal(ldns_rr_get_class(q), msg.qclass);
	}
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		uint16_t type = (uint16_t)ldns_rr_get_type(rr), rclass = (uint16_t)ldns_rr_get_class(rr);
		const struct dns_rr *ours;

		if (type != DNS_TYPE_CNAME &&
		    !(rclass == DNS_CLASS_IN && (type == DNS_TYPE_A || type == DNS_TYPE_AAAA)))
			continue;
		if (kept >= msg.n_answers) { /* beyond DNS_MAX_ANSWERS: counted, not kept */
			assert_true(msg.answers_dropped > 0);
			continue;
		}
		ours = &msg.answers[kept++];
		assert_int_equal(ours->type, type);
		assert_int_equal(ours->rclass, rclass);
		assert_int_equal(ours->ttl, ldns_rr_ttl(rr));
		assert_true(rdf_equal_wire(ldns_rr_owner(rr), wire, dns_name_wire(&msg, ours->name_off, wire)));
		if (type == DNS_TYPE_CNAME) {
			assert_true(rdf_equal_wire(ldns_rr_rdf(rr, 0), wire, dns_name_wire(&msg, ours->rdata_off, wire)));
		} else {
			struct dns_ip ip;

			assert_int_equal(dns_rr_ip(&msg, ours, &ip), 0);
			assert_true(rdf_equal_wire(ldns_rr_rdf(rr, 0), ip.addr, type == DNS_TYPE_A ? 4 : 16));
		}
		t->answers_compared++;
	}
	assert_int_equal(kept, msg.n_answers);
}

/*
 * This parser refuses what ldns takes. Either a rule documented as stricter
 * (pointers only backwards and not into the header, bounded hops, exact A/AAAA
 * and CNAME rdata lengths), or ldns did not honour an rdlength: it reads the
 * fields its type descriptor lists and carries on from there (a class-CH "A"
 * with 20 bytes of rdata advances it by 4; an MX target is read past rdlength)
 * and so walked the rest of the message differently. That takes a record
 * before the failure whose rdata this parser does not interpret.
 */
static bool we_may_be_stricter(const uint8_t *buf, size_t len, struct tally *t)
{
	size_t pos = DNS_HEADER_LEN, end = 0;
	uint32_t n_rr = (uint32_t)msg.ancount + msg.nscount + msg.arcount;
	struct dns_rr rr;

	switch (msg.err) {
	case DNS_PARSE_ERR_PTR_NOT_BACKWARD:
	case DNS_PARSE_ERR_PTR_INTO_HEADER:
	case DNS_PARSE_ERR_PTR_HOPS:
	case DNS_PARSE_ERR_RDATA_LENGTH:
	case DNS_PARSE_ERR_CNAME_RDATA:
		t->we_stricter[msg.err]++;
		return true;
	default:
		break;
	}
	for (uint16_t i = 0; i < msg.qdcount; i++) {
		if (at_record_start(pos, len) || name_walk(buf, len, pos, &end, NULL, NULL) || len - end < 4)
			return false;
		pos = end + 4;
	}
	for (uint32_t i = 0; i < n_rr; i++) {
		if (rr_parse(buf, len, &pos, &rr))
			return false;
		if (!rr_kept(&rr)) {
			t->ldns_ignored_rdlength++;
			return true;
		}
	}
	return false;
}

/*
 * ldns refuses what this parser takes: it must be ldns checking the rdata of
 * a record this parser does not interpret (MX, SVCB, OPT...). Rewrite those
 * records' types to a private one (rdata left opaque): ldns must then accept
 * the message and agree on everything.
 */
static bool ldns_checked_skipped_rdata(const uint8_t *buf, size_t len, struct tally *t)
{
	static uint8_t copy[70000];
	size_t pos = DNS_HEADER_LEN, end = 0;
	uint32_t n_rr = (uint32_t)msg.ancount + msg.nscount + msg.arcount;
	ldns_pkt *pkt = NULL;
	ldns_status st;
	struct dns_rr rr;
	bool changed = false;

	memcpy(copy, buf, len);
	for (uint16_t i = 0; i < msg.qdcount; i++) {
		assert_int_equal(name_walk(buf, len, pos, &end, NULL, NULL), DNS_PARSE_OK);
		pos = end + 4;
	}
	for (uint32_t i = 0; i < n_rr; i++) {
		assert_int_equal(rr_parse(buf, len, &pos, &rr), DNS_PARSE_OK);
		if (!rr_kept(&rr)) {
			copy[rr.rdata_off - 10] = 0xFF; /* type 65280, private use */
			copy[rr.rdata_off - 9] = 0x00;
			changed = true;
		}
	}
	if (!changed)
		return false;
	st = ldns_wire2pkt(&pkt, copy, len);
	if (st == LDNS_STATUS_OK) {
		assert_int_equal(dns_parse(copy, len, &msg), 0);
		compare_accepted(pkt, t);
		t->ldns_checked_skipped++;
	}
	ldns_pkt_free(pkt);
	return st == LDNS_STATUS_OK;
}

static void hexdump(const char *why, const uint8_t *b, size_t len)
{
	print_message("disagreement: %s; message (%zu bytes):\n", why, len);
	for (size_t i = 0; i < len; i++)
		print_message("%02x%s", b[i], i % 16 == 15 || i + 1 == len ? "\n" : " ");
}

static void check_one(const uint8_t *buf, size_t len, struct tally *t)
{
	ldns_pkt *pkt = NULL;
	ldns_status st = ldns_wire2pkt(&pkt, buf, len);
	int rc = dns_parse(buf, len, &msg);

	if (!rc && st == LDNS_STATUS_OK) {
		compare_accepted(pkt, t);
		t->both_ok++;
	} else if (rc && st != LDNS_STATUS_OK) {
		t->both_bad++;
	} else if (rc) {
		if (!we_may_be_stricter(buf, len, t)) {
			hexdump(dns_parse_err_str(msg.err), buf, len);
			fail_msg("only this parser rejects (%s)", dns_parse_err_str(msg.err));
		}
	} else {
		t->ldns_stricter[(unsigned)st < 128 ? st : 127]++;
		if (!ldns_checked_skipped_rdata(buf, len, t)) {
			hexdump(ldns_get_errorstr_by_id(st), buf, len);
			fail_msg("only ldns rejects (%s)", ldns_get_errorstr_by_id(st));
		}
	}
	ldns_pkt_free(pkt);
}

static void print_tally(const char *what, const struct tally *t)
{
	print_message("%s: both accept %zu (answers compared %zu), both reject %zu\n", what, t->both_ok,
		      t->answers_compared, t->both_bad);
	for (int e = 0; e < DNS_PARSE_ERR__MAX; e++)
		if (t->we_stricter[e])
			print_message("  only we reject, stricter rule %s: %zu\n", dns_parse_err_str(e), t->we_stricter[e]);
	if (t->ldns_ignored_rdlength)
		print_message("  only we reject, ldns did not honour an rdlength: %zu\n", t->ldns_ignored_rdlength);
	for (int e = 0; e < 128; e++)
		if (t->ldns_stricter[e])
			print_message("  only ldns rejects, %s (in rdata we skip): %zu\n", ldns_get_errorstr_by_id(e),
				      t->ldns_stricter[e]);
	if (t->ldns_checked_skipped)
		print_message("  ... and with those records made opaque, both accept and agree: %zu\n",
			      t->ldns_checked_skipped);
}

static void test_corpus_agrees(void **state)
{
	struct tally t = { 0 };

	load_corpus();
	for (size_t i = 0; i < n_corpus; i++)
		check_one(corpus[i].bytes, corpus[i].len, &t);
	print_tally("corpus", &t);
	assert_int_equal(t.both_ok, n_corpus);
	/* and every truncation of it */
	memset(&t, 0, sizeof(t));
	for (size_t i = 0; i < n_corpus; i++)
		for (size_t cut = 0; cut < corpus[i].len; cut++)
			check_one(corpus[i].bytes, cut, &t);
	print_tally("truncated corpus", &t);
	assert_int_equal(t.both_ok, 0);
}

static size_t mutate(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
	static const uint8_t labels[] = { 0, 1, 63, 64, 0x80, 0xBF, 0xC0 };
	int k = 1 + (int)(next_rand() % 4);

	memcpy(out, in, len);
	while (k-- && len > 1) {
		uint64_t r = next_rand();
		size_t pos = (size_t)(r >> 16) % len;

		switch (r % 8) {
		case 0: out[pos] = (uint8_t)(r >> 8); break;
		case 1: out[pos] ^= (uint8_t)(1u << ((r >> 8) % 8)); break;
		case 2: /* a compression pointer somewhere */
			if (pos + 1 < len) {
				out[pos] = (uint8_t)(0xC0 | ((r >> 8) & 1));
				out[pos + 1] = (uint8_t)(r >> 40);
			}
			break;
		case 3: out[4 + 2 * ((r >> 8) % 4) + 1] = (uint8_t)((r >> 12) % 8); break;
		case 4: len = 1 + pos; break;
		case 5: out[pos] = labels[(r >> 8) % sizeof(labels)]; break;
		case 6: memmove(out + pos, out + pos + 1, len - pos - 1); len--; break;
		case 7:
			if (len < cap) {
				memmove(out + pos + 1, out + pos, len - pos);
				out[pos] = (uint8_t)(r >> 8);
				len++;
			}
			break;
		}
	}
	return len;
}

static void test_mutants_agree(void **state)
{
	static uint8_t buf[4200];
	struct tally t = { 0 };

	load_corpus();
	for (size_t i = 0; i < n_corpus; i++)
		for (int n = 0; n < MUTANTS_PER_FILE; n++)
			check_one(buf, mutate(corpus[i].bytes, corpus[i].len, buf, sizeof(buf)), &t);
	print_tally("mutants", &t);
	/* the mutants must keep exercising the comparison, not only rejections */
	assert_true(t.both_ok > n_corpus * MUTANTS_PER_FILE / 10);
	assert_true(t.answers_compared > t.both_ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corpus_agrees),
		cmocka_unit_test(test_mutants_agree),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
