/*
 * Assertions shared by the DNS parser's unit tests (test_dns_parse.c,
 * test_dns_records.c): one message builder and one parsed message per test
 * binary. Include after unprivileged/dns/dns_parse.c and dns_testlib.h.
 */
#ifndef NW_TEST_DNS_PARSE_ASSERTS_H
#define NW_TEST_DNS_PARSE_ASSERTS_H

static struct dns_builder w;
static struct dns_msg m;

static const struct dns_corpus_file *corpus_get(const char *name)
{
	static struct dns_corpus_file f;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", DNS_CORPUS_DIR, name);
	assert_int_equal(dns_corpus_read(path, &f), 0);
	return &f;
}

static void assert_text(uint16_t off, bool lower, const char *want)
{
	char txt[DNS_NAME_TEXT_MAX];

	assert_int_equal(dns_name_text(&m, off, txt, sizeof(txt), lower), (int)strlen(want));
	assert_string_equal(txt, want);
}

static void assert_ip(const struct dns_rr *rr, const char *want)
{
	struct dns_ip ip;
	char txt[INET6_ADDRSTRLEN];

	assert_int_equal(dns_rr_ip(&m, rr, &ip), 0);
	assert_non_null(inet_ntop(ip.family, ip.addr, txt, sizeof(txt)));
	assert_string_equal(txt, want);
}

static enum dns_parse_err parse_err(void)
{
	int rc = dns_parse(w.b, w.len, &m);

	if (rc == 0)
		return DNS_PARSE_OK;
	assert_int_equal(rc, -EBADMSG);
	assert_int_not_equal(m.err, DNS_PARSE_OK);
	return m.err;
}

#endif
