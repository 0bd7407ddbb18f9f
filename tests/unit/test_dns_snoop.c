/* Unit tests for unprivileged/dns/dns_snoop.c: captured query/response pairs
 * (tests/data/dns) through the worker's entry point, UDP and TCP. */
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
#include "unprivileged/dns/dns_stats.c"
#include "unprivileged/dns/dns_snoop.c"
#include "tests/unit/dns_testlib.h"

#define MS(x) ((uint64_t)(x) * 1000000ULL)
#define SEC(x) ((uint64_t)(x) * 1000000000ULL)

static struct dns_corpus_file q, r;

static struct dns_ip ip4(const char *txt)
{
	struct dns_ip ip;

	memset(&ip, 0, sizeof(ip));
	ip.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, txt, ip.addr), 1);
	return ip;
}

static void load_pair(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s.q.bin", DNS_CORPUS_DIR, name);
	assert_int_equal(dns_corpus_read(path, &q), 0);
	snprintf(path, sizeof(path), "%s/%s.r.bin", DNS_CORPUS_DIR, name);
	assert_int_equal(dns_corpus_read(path, &r), 0);
}

/* client 10.0.0.2:40000 <-> server SERVER:53 */
static int send_pkt(struct dns_snoop *s, bool response, const char *server, uint8_t proto,
		    const uint8_t *b, size_t len, uint64_t ts)
{
	struct dns_packet p = {
		.ts_ns = ts, .proto = proto, .payload = b, .len = len,
	};
	struct dns_ip client = ip4("10.0.0.2"), srv = ip4(server);

	p.src = response ? srv : client;
	p.dst = response ? client : srv;
	p.sport = response ? 53 : 40000;
	p.dport = response ? 40000 : 53;
	return dns_snoop_packet(s, &p);
}

static const struct dns_stats_val *only_entry(struct dns_snoop *s, struct dns_stats_key *k)
{
	const struct dns_stats_val *v = NULL;
	size_t cur = 0;

	assert_true(dns_stats_next(dns_snoop_stats(s), &cur, k, &v));
	assert_false(dns_stats_next(dns_snoop_stats(s), &cur, k, &v));
	return v;
}

static const char *reverse(struct dns_snoop *s, const char *ip, uint64_t now)
{
	struct dns_ip a = ip4(ip);
	const char *names[4];
	size_t n;

	if (dns_cache_lookup(dns_snoop_cache(s), &a, now, names, 4, &n))
		return "";
	return names[0];
}

static void test_udp_pair(void **state)
{
	struct dns_snoop *s = dns_snoop_new(NULL);
	struct dns_stats_key k;
	const struct dns_stats_val *v;
	struct dns_snoop_counters c;

	load_pair("a_cname_chain");
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_UDP, q.bytes, q.len, MS(1000)), 0);
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_UDP, r.bytes, r.len, MS(1004)), 0);
	v = only_entry(s, &k);
	assert_string_equal(k.domain, "a.chain.test");
	assert_int_equal(k.qtype, DNS_TYPE_A);
	assert_int_equal(k.flow.client_port, 40000);
	assert_int_equal(k.flow.proto, IPPROTO_UDP);
	assert_memory_equal(k.flow.server.addr, ip4("10.0.0.53").addr, 4);
	assert_int_equal(v->count_by_rcode[0], 1);
	assert_int_equal(v->success_latency_ns, MS(4));
	assert_string_equal(reverse(s, "198.51.100.7", MS(1005)), "a.chain.test");

	load_pair("nxdomain");
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_UDP, q.bytes, q.len, MS(2000)), 0);
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_UDP, r.bytes, r.len, MS(2002)), 0);
	dns_snoop_get_counters(s, &c);
	assert_int_equal(c.packets, 4);
	assert_int_equal(c.queries, 2);
	assert_int_equal(c.responses, 2);
	dns_snoop_free(s);
}

static void test_tcp_segments(void **state)
{
	struct dns_snoop *s = dns_snoop_new(NULL);
	uint8_t seg[8192];
	size_t len = 0;
	struct dns_stats_key k;
	const struct dns_stats_val *v;

	load_pair("tcp_a_many");
	seg[0] = (uint8_t)(q.len >> 8);
	seg[1] = (uint8_t)q.len;
	memcpy(seg + 2, q.bytes, q.len);
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_TCP, seg, q.len + 2, MS(10)), 0);
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_TCP, seg, 0, MS(10)), 0); /* bare ACK */
	/* the response twice in one segment: the second finds nothing open */
	for (int i = 0; i < 2; i++) {
		seg[len++] = (uint8_t)(r.len >> 8);
		seg[len++] = (uint8_t)r.len;
		memcpy(seg + len, r.bytes, r.len);
		len += r.len;
	}
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_TCP, seg, len, MS(12)), 0);
	v = only_entry(s, &k);
	assert_int_equal(k.flow.proto, IPPROTO_TCP);
	assert_string_equal(k.domain, "many.example.test");
	assert_int_equal(v->success_latency_ns, MS(2));
	assert_int_equal(v->count_by_rcode[0], 1);
	assert_string_equal(reverse(s, "203.0.113.9", MS(13)), "many.example.test");
	/* a segment cut inside its second message */
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_TCP, seg, len - 1, MS(14)), -EBADMSG);
	struct dns_snoop_counters c;
	dns_snoop_get_counters(s, &c);
	assert_int_equal(c.malformed[DNS_PARSE_ERR_TCP_LENGTH], 1);
	assert_int_equal(c.messages, 4);
	dns_snoop_free(s);
}

static void test_broken_answers_still_count_rcode(void **state)
{
	struct dns_snoop *s = dns_snoop_new(NULL);
	struct dns_stats_key k;
	const struct dns_stats_val *v;
	struct dns_snoop_counters c;

	load_pair("a_www");
	r.bytes[7] = 9; /* answer count lies */
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_UDP, q.bytes, q.len, MS(0)), 0);
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_UDP, r.bytes, r.len, MS(1)), -EBADMSG);
	v = only_entry(s, &k);
	assert_int_equal(v->count_by_rcode[0], 1);
	assert_string_equal(reverse(s, "192.0.2.10", MS(2)), "");
	/* no question at all: nothing to key stats by */
	assert_int_equal(send_pkt(s, true, "10.0.0.53", IPPROTO_UDP, r.bytes, 5, MS(3)), -EBADMSG);
	dns_snoop_get_counters(s, &c);
	assert_int_equal(c.malformed[DNS_PARSE_ERR_COUNT], 1);
	assert_int_equal(c.malformed[DNS_PARSE_ERR_SHORT_HEADER], 1);
	assert_int_equal(c.no_question, 1);
	dns_snoop_free(s);
}

static void test_options_and_timeouts(void **state)
{
	struct dns_snoop_config cfg = { .no_domains = true, .skip_loopback = true };
	struct dns_snoop *s = dns_snoop_new(&cfg);
	struct dns_stats_key k;
	const struct dns_stats_val *v;
	struct dns_snoop_counters c;
	struct dns_packet bad = { .proto = 1 };

	load_pair("aaaa_www");
	assert_int_equal(send_pkt(s, false, "127.0.0.53", IPPROTO_UDP, q.bytes, q.len, SEC(1)), 0);
	assert_int_equal(send_pkt(s, false, "10.0.0.53", IPPROTO_UDP, q.bytes, q.len, SEC(1)), 0);
	dns_snoop_tick(s, SEC(16));
	v = only_entry(s, &k);
	assert_string_equal(k.domain, "");
	assert_int_equal(k.qtype, DNS_TYPE_AAAA);
	assert_int_equal(v->timeouts, 1);
	dns_snoop_get_counters(s, &c);
	assert_int_equal(c.loopback_skipped, 1);
	assert_int_equal(dns_snoop_packet(s, &bad), -EINVAL);
	assert_int_equal(dns_snoop_packet(NULL, &bad), -EINVAL);
	dns_snoop_get_counters(s, &c);
	assert_int_equal(c.bad_proto, 1);
	dns_snoop_free(s);
	dns_snoop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_pair),
		cmocka_unit_test(test_tcp_segments),
		cmocka_unit_test(test_broken_answers_still_count_rcode),
		cmocka_unit_test(test_options_and_timeouts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
