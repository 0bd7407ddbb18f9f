/* Unit tests for unprivileged/dns/dns_cache.c: TTLs, limits with drop
 * counters, CNAME chains from the captured corpus and from hostile answers. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>

#include "unprivileged/dns/dns_parse.c"
#include "unprivileged/dns/dns_cache.c"
#include "tests/unit/dns_testlib.h"

#define S(x) ((uint64_t)(x) * NS_PER_S)

static struct dns_builder w;
static struct dns_msg m;

static struct dns_ip ip_of(const char *txt)
{
	struct dns_ip ip;

	memset(&ip, 0, sizeof(ip));
	if (inet_pton(AF_INET, txt, ip.addr) == 1) {
		ip.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, txt, ip.addr), 1);
		ip.family = AF_INET6;
	}
	return ip;
}

/* The names of ip at now, sorted and joined with ',' ("" when none). */
static const char *names_of(struct dns_cache *c, const char *ip_txt, uint64_t now)
{
	static char out[4096];
	const char *names[128];
	struct dns_ip ip = ip_of(ip_txt);
	size_t n = 0;
	int rc = dns_cache_lookup(c, &ip, now, names, 128, &n);

	out[0] = 0;
	if (rc) {
		assert_int_equal(rc, -ENOENT);
		assert_int_equal(n, 0);
		return out;
	}
	for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
		for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
			const char *t = names[k];
			names[k] = names[k - 1];
			names[k - 1] = t;
		}
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, names[i]);
	}
	return out;
}

static struct dns_cache *cache_new(uint32_t max_ips, uint32_t per_ip, uint64_t bytes, uint32_t min_ttl)
{
	struct dns_cache_config cfg = {
		.max_ips = max_ips, .max_names_per_ip = per_ip, .max_name_bytes = bytes,
		.min_ttl_s = min_ttl, .max_ttl_s = 3600,
	};
	struct dns_cache *c = dns_cache_new(&cfg);

	assert_non_null(c);
	return c;
}

static void add_corpus(struct dns_cache *c, const char *name, uint64_t now, int want_added)
{
	struct dns_corpus_file f;
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", DNS_CORPUS_DIR, name);
	assert_int_equal(dns_corpus_read(path, &f), 0);
	assert_int_equal(dns_parse(f.bytes, f.len, &m), 0);
	assert_int_equal(dns_cache_add_response(c, &m, now), want_added);
}

static void test_insert_lookup_ttl(void **state)
{
	struct dns_cache *c = cache_new(0, 0, 0, 10);
	struct dns_cache_stats st;
	struct dns_ip v4 = ip_of("10.1.2.3");

	assert_int_equal(dns_cache_insert(c, &v4, "a.test", 30, S(100)), 0);
	assert_int_equal(dns_cache_insert(c, &v4, "b.test", 1, S(100)), 0); /* clamped to 10 s */
	assert_string_equal(names_of(c, "10.1.2.3", S(105)), "a.test,b.test");
	assert_string_equal(names_of(c, "10.1.2.3", S(111)), "a.test");
	assert_string_equal(names_of(c, "10.1.2.3", S(131)), "");
	assert_string_equal(names_of(c, "10.1.2.4", S(100)), "");
	/* garbage after an IPv4 address does not matter */
	v4.addr[7] = 0xAA;
	assert_int_equal(dns_cache_insert(c, &v4, "a.test", 30, S(100)), 0);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.refreshed, 1);
	assert_int_equal(st.ips, 1);

	v4 = ip_of("2001:db8::1");
	assert_int_equal(dns_cache_insert(c, &v4, "six.test", 3600 * 100, S(0)), 0); /* clamped to 3600 */
	assert_string_equal(names_of(c, "2001:db8::1", S(3599)), "six.test");
	assert_string_equal(names_of(c, "2001:db8::1", S(3600)), "");

	assert_int_equal(dns_cache_expire(c, S(131)), 2);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.ips, 1);
	assert_int_equal(st.names, 1);
	assert_int_equal(st.expired, 2);
	assert_int_equal(dns_cache_expire(c, S(5000)), 1);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.ips, 0);
	assert_int_equal(st.names, 0);
	assert_int_equal(st.name_bytes, 0);
	assert_int_equal(st.lookups, 6);
	assert_int_equal(st.hits, 3);
	dns_cache_free(c);
	dns_cache_free(NULL);
}

static void test_bad_arguments(void **state)
{
	struct dns_cache_config bad = { .min_ttl_s = 10, .max_ttl_s = 5 };
	struct dns_cache *c = cache_new(0, 0, 0, 0);
	struct dns_ip ip = ip_of("10.0.0.1");
	char longname[DNS_NAME_TEXT_MAX + 10];

	assert_null(dns_cache_new(&bad));
	assert_int_equal(errno, EINVAL);
	ip.family = 99;
	assert_int_equal(dns_cache_insert(c, &ip, "x", 1, 0), -EINVAL);
	ip.family = AF_INET;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(dns_cache_insert(c, &ip, longname, 1, 0), -EINVAL);
	assert_int_equal(dns_cache_insert(NULL, &ip, "x", 1, 0), -EINVAL);
	assert_int_equal(dns_cache_add_response(c, NULL, 0), -EINVAL);
	dns_cache_free(c);
}

static void test_limits_counted(void **state)
{
	struct dns_cache *c = cache_new(3, 2, 30, 10);
	struct dns_cache_stats st;
	struct dns_ip ip = ip_of("10.0.0.1");
	char name[32];

	/* max_ips */
	for (int i = 0; i < 5; i++) {
		ip.addr[3] = (uint8_t)i;
		assert_int_equal(dns_cache_insert(c, &ip, "n.test", 10, S(0)), i < 3 ? 0 : -ENOSPC);
	}
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.dropped_ips_full, 2);
	assert_int_equal(st.ips, 3);

	/* max_names_per_ip: refused while the old ones live, purged once expired */
	ip.addr[3] = 0;
	assert_int_equal(dns_cache_insert(c, &ip, "m.test", 10, S(0)), 0);
	assert_int_equal(dns_cache_insert(c, &ip, "o.test", 10, S(5)), -ENOSPC);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.dropped_names_per_ip, 1);
	assert_int_equal(dns_cache_insert(c, &ip, "o.test", 10, S(11)), 0);
	assert_string_equal(names_of(c, "10.0.0.0", S(11)), "o.test");

	/* max_name_bytes: 30 bytes, 7 per "x.test" pair; 3 pairs are held now */
	ip.addr[3] = 1;
	assert_int_equal(dns_cache_insert(c, &ip, "p.test", 10, S(11)), 0);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.name_bytes, 28);
	snprintf(name, sizeof(name), "q.test");
	ip.addr[3] = 2;
	assert_int_equal(dns_cache_insert(c, &ip, name, 10, S(11)), -ENOSPC);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.dropped_name_bytes, 1);
	assert_int_equal(dns_cache_expire(c, S(100)), 4);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.name_bytes, 0);
	assert_int_equal(st.ips, 0);
	dns_cache_free(c);
}

static void test_many_addresses(void **state)
{
	struct dns_cache *c = cache_new(20000, 4, 0, 60);
	struct dns_cache_stats st;
	struct dns_ip ip = ip_of("2001:db8::");

	for (uint32_t i = 0; i < 20000; i++) {
		memcpy(ip.addr + 12, &i, 4);
		assert_int_equal(dns_cache_insert(c, &ip, "many.test", 60, S(0)), 0);
	}
	for (uint32_t i = 0; i < 20000; i += 997) {
		const char *names[2];
		size_t n;

		memcpy(ip.addr + 12, &i, 4);
		assert_int_equal(dns_cache_lookup(c, &ip, S(1), names, 2, &n), 0);
		assert_int_equal(n, 1);
		assert_string_equal(names[0], "many.test");
	}
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.ips, 20000);
	dns_cache_free(c);
}

static void test_corpus_responses(void **state)
{
	struct dns_cache *c = cache_new(0, 0, 0, 1);
	struct dns_cache_stats st;

	add_corpus(c, "a_cname_chain.r.bin", S(0), 1);
	add_corpus(c, "aaaa_cname_chain.r.bin", S(0), 1);
	add_corpus(c, "tcp_a_cname_chain.r.bin", S(0), 1); /* the same again: refreshed */
	add_corpus(c, "a_alias_mixed_case.r.bin", S(0), 1);
	add_corpus(c, "a_www.r.bin", S(0), 1);
	add_corpus(c, "a_many.r.bin", S(0), 24);
	add_corpus(c, "nxdomain.r.bin", S(0), 0);
	add_corpus(c, "mx.r.bin", S(0), 0);
	add_corpus(c, "a_www.q.bin", S(0), 0);
	assert_string_equal(names_of(c, "198.51.100.7", S(1)), "a.chain.test");
	assert_string_equal(names_of(c, "2001:db8::7", S(1)), "a.chain.test");
	assert_string_equal(names_of(c, "192.0.2.10", S(1)), "alias.example.test,www.example.test");
	assert_string_equal(names_of(c, "203.0.113.24", S(1)), "many.example.test");
	assert_string_equal(names_of(c, "203.0.113.24", S(301)), "");
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.responses, 9);
	assert_int_equal(st.responses_ignored, 3);
	assert_int_equal(st.refreshed, 1);
	dns_cache_free(c);
}

/* question qname A; then answers given as (owner, type, ttl, target-or-ip) */
static void response_begin(const char *qname, uint16_t ancount)
{
	db_reset(&w);
	db_header(&w, 1, 0x8180, 1, ancount, 0, 0);
	db_name(&w, qname);
	db_u16(&w, DNS_TYPE_A);
	db_u16(&w, DNS_CLASS_IN);
}

static void answer_cname(const char *owner, const char *target, uint32_t ttl)
{
	db_name(&w, owner);
	db_rr_fixed(&w, DNS_TYPE_CNAME, DNS_CLASS_IN, ttl, (uint16_t)(strlen(target) + 2));
	db_name(&w, target);
}

static void answer_a(const char *owner, uint32_t addr, uint32_t ttl)
{
	db_name(&w, owner);
	db_rr_fixed(&w, DNS_TYPE_A, DNS_CLASS_IN, ttl, 4);
	db_u32(&w, addr);
}

static void test_cname_chain_ttl_and_strays(void **state)
{
	struct dns_cache *c = cache_new(0, 0, 0, 1);

	/* answers out of order, mixed case, a stray A of another name */
	response_begin("WWW.Shop.test", 5);
	answer_a("edge.CDN.test", 0x0a000001, 1000);
	answer_cname("www.shop.test", "shop.lb.test", 100);
	answer_a("stray.test", 0x0a000002, 1000);
	answer_cname("shop.lb.test", "EDGE.cdn.test", 500);
	answer_a("edge.cdn.test", 0x0a000003, 50);
	assert_int_equal(dns_parse(w.b, w.len, &m), 0);
	assert_int_equal(dns_cache_add_response(c, &m, S(0)), 2);
	assert_string_equal(names_of(c, "10.0.0.1", S(99)), "www.shop.test");
	assert_string_equal(names_of(c, "10.0.0.1", S(100)), ""); /* the first CNAME's TTL */
	assert_string_equal(names_of(c, "10.0.0.3", S(49)), "www.shop.test");
	assert_string_equal(names_of(c, "10.0.0.3", S(50)), "");
	assert_string_equal(names_of(c, "10.0.0.2", S(0)), "");
	dns_cache_free(c);
}

static void test_cname_loops_and_long_chains(void **state)
{
	struct dns_cache *c = cache_new(0, 0, 0, 1);
	struct dns_cache_stats st;
	char a[16], b[16];

	response_begin("a.test", 3);
	answer_cname("a.test", "b.test", 60);
	answer_cname("b.test", "a.test", 60);
	answer_a("a.test", 0x0a000001, 60);
	assert_int_equal(dns_parse(w.b, w.len, &m), 0);
	assert_int_equal(dns_cache_add_response(c, &m, S(0)), 0);

	/* a chain of exactly DNS_CACHE_MAX_CNAME_HOPS resolves, one more does not */
	for (int extra = 0; extra < 2; extra++) {
		int hops = DNS_CACHE_MAX_CNAME_HOPS + extra;

		response_begin("c0.test", (uint16_t)(hops + 1));
		for (int i = 0; i < hops; i++) {
			snprintf(a, sizeof(a), "c%d.test", i);
			snprintf(b, sizeof(b), "c%d.test", i + 1);
			answer_cname(a, b, 60);
		}
		answer_a(b, 0x0a000009, 60);
		assert_int_equal(dns_parse(w.b, w.len, &m), 0);
		assert_int_equal(dns_cache_add_response(c, &m, S(0)), extra ? 0 : 1);
	}
	assert_string_equal(names_of(c, "10.0.0.9", S(1)), "c0.test");
	assert_string_equal(names_of(c, "10.0.0.1", S(1)), "");
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.cname_chains_too_long, 2);

	/* error rcode, no question, or a rejected message are ignored */
	response_begin("a.test", 1);
	answer_a("a.test", 0x0a000001, 60);
	db_put16(&w, 2, 0x8183);
	assert_int_equal(dns_parse(w.b, w.len, &m), 0);
	assert_int_equal(dns_cache_add_response(c, &m, S(0)), 0);
	db_put16(&w, 2, 0x8180);
	db_put16(&w, 6, 2);
	assert_int_equal(dns_parse(w.b, w.len, &m), -EBADMSG);
	assert_int_equal(dns_cache_add_response(c, &m, S(0)), 0);
	dns_cache_get_stats(c, &st);
	assert_int_equal(st.responses_ignored, 2);
	dns_cache_free(c);
}

/* A given key is used as is (for a worker already under seccomp); none: random. */
static void test_hash_key(void **state)
{
	struct dns_cache_config cfg = { .hash_key = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } };
	struct dns_cache *a = dns_cache_new(&cfg), *b = dns_cache_new(NULL), *c = dns_cache_new(NULL);

	assert_non_null(a);
	assert_memory_equal(&a->key, cfg.hash_key, 16);
	assert_memory_not_equal(&b->key, &c->key, 16);
	assert_true(dns_hash(&a->key, "abc", 3) != dns_hash(&b->key, "abc", 3));
	dns_cache_free(a);
	dns_cache_free(b);
	dns_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_lookup_ttl),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_limits_counted),
		cmocka_unit_test(test_many_addresses),
		cmocka_unit_test(test_corpus_responses),
		cmocka_unit_test(test_cname_chain_ttl_and_strays),
		cmocka_unit_test(test_cname_loops_and_long_chains),
		cmocka_unit_test(test_hash_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
