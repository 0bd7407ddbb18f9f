/* Unit tests for unprivileged/dns/dns_stats.c: matching, rcodes, latency
 * sums, timeouts, limits with drop counters, the export iterator. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "unprivileged/dns/dns_stats.c"

#define MS(x) ((uint64_t)(x) * 1000000ULL)
#define SEC(x) ((uint64_t)(x) * 1000000000ULL)

static struct dns_flow flow(const char *client, const char *server, uint16_t port, uint8_t proto)
{
	struct dns_flow f;

	memset(&f, 0, sizeof(f));
	f.client.family = strchr(client, ':') ? AF_INET6 : AF_INET;
	f.server.family = strchr(server, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(f.client.family, client, f.client.addr), 1);
	assert_int_equal(inet_pton(f.server.family, server, f.server.addr), 1);
	f.client_port = port;
	f.proto = proto;
	return f;
}

static struct dns_stats *stats_new(uint64_t timeout_ns, uint32_t inflight, uint32_t entries)
{
	struct dns_stats_config cfg = {
		.timeout_ns = timeout_ns, .max_inflight = inflight, .max_entries = entries,
	};
	struct dns_stats *s = dns_stats_new(&cfg);

	assert_non_null(s);
	return s;
}

/* The entry for (f, domain, qtype), or NULL. */
static const struct dns_stats_val *find(struct dns_stats *s, const struct dns_flow *f,
					const char *domain, uint16_t qtype)
{
	struct dns_stats_key k;
	const struct dns_stats_val *v;
	size_t cur = 0;

	while (dns_stats_next(s, &cur, &k, &v))
		if (k.qtype == qtype && !strcmp(k.domain, domain) && k.flow.client_port == f->client_port &&
		    k.flow.proto == f->proto && k.flow.client.family == f->client.family &&
		    !memcmp(k.flow.client.addr, f->client.addr, f->client.family == AF_INET ? 4 : 16) &&
		    !memcmp(k.flow.server.addr, f->server.addr, f->server.family == AF_INET ? 4 : 16))
			return v;
	return NULL;
}

static struct dns_stats_counters counters(struct dns_stats *s)
{
	struct dns_stats_counters c;

	dns_stats_get_counters(s, &c);
	return c;
}

static void test_rcodes_and_latency(void **state)
{
	struct dns_stats *s = stats_new(0, 0, 0);
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);
	const struct dns_stats_val *v;

	assert_int_equal(dns_stats_on_query(s, &f, 1, "a.test", DNS_TYPE_A, MS(1000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 1, DNS_RCODE_NOERROR, MS(1003)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 2, "a.test", DNS_TYPE_A, MS(2000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 2, DNS_RCODE_NOERROR, MS(2005)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 3, "a.test", DNS_TYPE_A, MS(3000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 3, DNS_RCODE_NXDOMAIN, MS(3011)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 4, "a.test", DNS_TYPE_A, MS(4000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 4, DNS_RCODE_SERVFAIL | 0xF0, MS(4020)), 0);
	v = find(s, &f, "a.test", DNS_TYPE_A);
	assert_non_null(v);
	assert_int_equal(v->count_by_rcode[DNS_RCODE_NOERROR], 2);
	assert_int_equal(v->count_by_rcode[DNS_RCODE_NXDOMAIN], 1);
	assert_int_equal(v->count_by_rcode[DNS_RCODE_SERVFAIL], 1);
	assert_int_equal(v->success_latency_ns, MS(8));
	assert_int_equal(v->failure_latency_ns, MS(31));
	assert_int_equal(v->timeouts, 0);
	assert_int_equal(counters(s).responses, 4);
	assert_int_equal(counters(s).inflight, 0);
	assert_int_equal(counters(s).entries, 1);

	/* a response before its query (clock skew) has latency 0, not 2^64 */
	assert_int_equal(dns_stats_on_query(s, &f, 5, "a.test", DNS_TYPE_A, MS(5000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 5, DNS_RCODE_NOERROR, MS(4999)), 0);
	assert_int_equal(v->success_latency_ns, MS(8));
	dns_stats_free(s);
	dns_stats_free(NULL);
}

static void test_keys_are_separate(void **state)
{
	struct dns_stats *s = stats_new(0, 0, 0);
	struct dns_flow base = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);
	struct dns_flow variants[5];
	struct dns_flow garbage = base;
	size_t cur = 0, n = 0;
	struct dns_stats_key k;
	const struct dns_stats_val *v;

	variants[0] = base;
	variants[1] = flow("10.0.0.3", "10.0.0.53", 40000, IPPROTO_UDP);
	variants[2] = flow("10.0.0.2", "10.0.0.54", 40000, IPPROTO_UDP);
	variants[3] = flow("10.0.0.2", "10.0.0.53", 40001, IPPROTO_UDP);
	variants[4] = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_TCP);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(dns_stats_on_query(s, &variants[i], 9, "k.test", 1, 0), 0);
		assert_int_equal(dns_stats_on_response(s, &variants[i], 9, 0, 1), 0);
	}
	/* same flow, other qtype and other domain */
	assert_int_equal(dns_stats_on_query(s, &base, 9, "k.test", DNS_TYPE_AAAA, 0), 0);
	assert_int_equal(dns_stats_on_response(s, &base, 9, 0, 1), 0);
	assert_int_equal(dns_stats_on_query(s, &base, 9, "l.test", 1, 0), 0);
	assert_int_equal(dns_stats_on_response(s, &base, 9, 0, 1), 0);
	/* bytes after an IPv4 address and the padding do not split a key */
	garbage.client.addr[10] = 0x55;
	garbage.server.pad[0] = 0x66;
	assert_int_equal(dns_stats_on_query(s, &garbage, 9, "k.test", 1, 0), 0);
	assert_int_equal(dns_stats_on_response(s, &base, 9, 3, 1), 0);
	assert_int_equal(find(s, &base, "k.test", 1)->count_by_rcode[3], 1);
	while (dns_stats_next(s, &cur, &k, &v)) {
		n++;
		assert_int_equal(k.flow.client.addr[10], 0);
	}
	assert_int_equal(n, 7);
	assert_int_equal(counters(s).entries, 7);

	/* a response from another transaction or port matches nothing */
	assert_int_equal(dns_stats_on_query(s, &base, 10, "k.test", 1, 0), 0);
	assert_int_equal(dns_stats_on_response(s, &base, 11, 0, 1), -ENOENT);
	assert_int_equal(dns_stats_on_response(s, &variants[3], 10, 0, 1), -ENOENT);
	assert_int_equal(counters(s).unmatched_responses, 2);
	assert_int_equal(counters(s).inflight, 1);

	/* IPv6 */
	base = flow("2001:db8::2", "2001:db8::53", 5353, IPPROTO_UDP);
	assert_int_equal(dns_stats_on_query(s, &base, 1, "six.test", DNS_TYPE_AAAA, 0), 0);
	assert_int_equal(dns_stats_on_response(s, &base, 1, 0, 7), 0);
	assert_int_equal(find(s, &base, "six.test", DNS_TYPE_AAAA)->success_latency_ns, 7);
	dns_stats_free(s); /* with a query still open */
}

static void test_retransmit_keeps_first_timestamp(void **state)
{
	struct dns_stats *s = stats_new(0, 0, 0);
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);

	assert_int_equal(dns_stats_on_query(s, &f, 1, "r.test", 1, MS(0)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 1, "r.test", 1, MS(1000)), 0);
	assert_int_equal(dns_stats_on_response(s, &f, 1, 0, MS(1010)), 0);
	assert_int_equal(find(s, &f, "r.test", 1)->success_latency_ns, MS(1010));
	assert_int_equal(counters(s).retransmits, 1);
	assert_int_equal(counters(s).queries, 1);
	dns_stats_free(s);
}

static void test_timeouts(void **state)
{
	struct dns_stats *s = stats_new(0, 0, 0); /* default: 15 s */
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);
	const struct dns_stats_val *v;

	assert_int_equal(dns_stats_on_query(s, &f, 1, "t.test", 1, SEC(100)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 2, "t.test", 1, SEC(101)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 3, "t.test", 1, SEC(102)), 0);
	assert_int_equal(dns_stats_tick(s, SEC(115) - 1), 0);
	assert_int_equal(dns_stats_tick(s, SEC(115)), 1);
	assert_int_equal(dns_stats_tick(s, SEC(116) + 5), 1);
	/* answered too late (the tick has not run yet): a timeout too */
	assert_int_equal(dns_stats_on_response(s, &f, 3, 0, SEC(117)), 0);
	/* the swept query's answer comes in: nothing open */
	assert_int_equal(dns_stats_on_response(s, &f, 1, 0, SEC(118)), -ENOENT);
	v = find(s, &f, "t.test", 1);
	assert_non_null(v);
	assert_int_equal(v->timeouts, 3);
	assert_int_equal(v->count_by_rcode[0], 0);
	assert_int_equal(counters(s).timeouts, 3);
	assert_int_equal(counters(s).inflight, 0);

	/* a tick at an earlier time than the queries does nothing */
	assert_int_equal(dns_stats_on_query(s, &f, 4, "t.test", 1, SEC(200)), 0);
	assert_int_equal(dns_stats_tick(s, SEC(50)), 0);
	dns_stats_free(s);

	/* configurable timeout; out-of-order capture times are swept eventually */
	s = stats_new(SEC(2), 0, 0);
	assert_int_equal(dns_stats_on_query(s, &f, 1, "t.test", 1, SEC(10)), 0);
	assert_int_equal(dns_stats_on_query(s, &f, 2, "t.test", 1, SEC(9)), 0);
	assert_int_equal(dns_stats_tick(s, SEC(11)), 0);
	assert_int_equal(dns_stats_tick(s, SEC(12)), 2);
	dns_stats_free(s);
}

static void test_limits_counted(void **state)
{
	struct dns_stats *s = stats_new(SEC(1), 3, 2);
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);
	char name[16];

	for (uint16_t id = 0; id < 5; id++)
		assert_int_equal(dns_stats_on_query(s, &f, id, "x.test", 1, 0), id < 3 ? 0 : -ENOSPC);
	assert_int_equal(counters(s).dropped_inflight, 2);
	assert_int_equal(counters(s).inflight, 3);
	for (uint16_t id = 0; id < 3; id++) {
		snprintf(name, sizeof(name), "d%u.test", id);
		assert_int_equal(dns_stats_on_response(s, &f, id, 0, 1), 0);
		assert_int_equal(dns_stats_on_query(s, &f, id, name, 1, 2), 0);
		assert_int_equal(dns_stats_on_response(s, &f, id, 0, 3), id < 1 ? 0 : -ENOSPC);
	}
	assert_int_equal(counters(s).entries, 2);
	assert_int_equal(counters(s).dropped_stats, 2);
	assert_int_equal(counters(s).inflight, 0);
	/* timeouts that find no room still count globally */
	assert_int_equal(dns_stats_on_query(s, &f, 7, "new.test", 1, 0), 0);
	assert_int_equal(dns_stats_tick(s, SEC(5)), 1);
	assert_int_equal(counters(s).timeouts, 1);
	assert_int_equal(counters(s).dropped_stats, 3);

	/* export then reset: room again; open queries survive */
	assert_int_equal(dns_stats_on_query(s, &f, 8, "new.test", 1, SEC(10)), 0);
	dns_stats_reset(s);
	assert_int_equal(counters(s).entries, 0);
	assert_int_equal(dns_stats_on_response(s, &f, 8, 0, SEC(10) + 5), 0);
	assert_int_equal(find(s, &f, "new.test", 1)->success_latency_ns, 5);
	dns_stats_free(s);
}

static void test_bad_arguments(void **state)
{
	struct dns_stats_config bad = { .max_entries = 1u << 30 };
	struct dns_stats *s = stats_new(0, 0, 0);
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 40000, IPPROTO_UDP);
	char longname[DNS_NAME_TEXT_MAX + 1];
	struct dns_stats_key k;
	const struct dns_stats_val *v;
	size_t cur = 0;

	assert_null(dns_stats_new(&bad));
	assert_int_equal(errno, EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(dns_stats_on_query(s, &f, 1, longname, 1, 0), -EINVAL);
	assert_int_equal(dns_stats_on_query(s, &f, 1, NULL, 1, 0), -EINVAL);
	f.server.family = 0;
	assert_int_equal(dns_stats_on_query(s, &f, 1, "x", 1, 0), -EINVAL);
	assert_int_equal(dns_stats_on_response(s, &f, 1, 0, 0), -EINVAL);
	assert_false(dns_stats_next(s, &cur, &k, &v));
	assert_int_equal(dns_stats_tick(NULL, 0), 0);
	dns_stats_free(s);
}

static void test_many_open_queries(void **state)
{
	struct dns_stats *s = stats_new(SEC(15), 10000, 20000);
	struct dns_flow f = flow("10.0.0.2", "10.0.0.53", 0, IPPROTO_UDP);

	for (uint32_t i = 0; i < 10000; i++) {
		f.client_port = (uint16_t)(1024 + i);
		assert_int_equal(dns_stats_on_query(s, &f, (uint16_t)i, "m.test", 1, MS(i)), 0);
	}
	for (uint32_t i = 0; i < 10000; i += 2) {
		f.client_port = (uint16_t)(1024 + i);
		assert_int_equal(dns_stats_on_response(s, &f, (uint16_t)i, 0, MS(i) + 1), 0);
	}
	assert_int_equal(dns_stats_tick(s, SEC(100)), 5000);
	assert_int_equal(counters(s).entries, 10000);
	dns_stats_free(s);
}

/* Merging one table into another: counts add up, keys stay apart, limits hold. */
static void test_add_merges(void **state)
{
	struct dns_stats *src = stats_new(SEC(15), 16, 16), *dst = stats_new(SEC(15), 1, 2);
	struct dns_flow f = flow("198.18.0.1", "198.18.0.2", 40000, IPPROTO_UDP);
	struct dns_flow g = flow("2001:db8::1", "2001:db8::2", 40001, IPPROTO_TCP);
	const struct dns_stats_val *v;
	struct dns_stats_key k;
	size_t cur = 0;

	assert_int_equal(dns_stats_on_query(src, &f, 1, "a.test", 1, MS(0)), 0);
	assert_int_equal(dns_stats_on_response(src, &f, 1, 0, MS(3)), 0);
	assert_int_equal(dns_stats_on_query(src, &g, 2, "b.test", 28, MS(0)), 0);
	assert_int_equal(dns_stats_on_response(src, &g, 2, 3, MS(5)), 0);
	for (int round = 0; round < 2; round++) {
		cur = 0;
		while (dns_stats_next(src, &cur, &k, &v))
			assert_int_equal(dns_stats_add(dst, &k, v), 0);
	}
	v = find(dst, &f, "a.test", 1);
	assert_non_null(v);
	assert_int_equal(v->count_by_rcode[0], 2);
	assert_int_equal(v->success_latency_ns, MS(6));
	v = find(dst, &g, "b.test", 28);
	assert_non_null(v);
	assert_int_equal(v->count_by_rcode[3], 2);
	assert_int_equal(v->failure_latency_ns, MS(10));
	/* a third key does not fit in two entries */
	k.flow = f;
	k.qtype = 28;
	k.domain = "c.test";
	assert_int_equal(dns_stats_add(dst, &k, v), -ENOSPC);
	{
		struct dns_stats_counters c;
		dns_stats_get_counters(dst, &c);
		assert_int_equal(c.entries, 2);
		assert_int_equal(c.dropped_stats, 1);
	}
	/* bad arguments */
	k.domain = NULL;
	assert_int_equal(dns_stats_add(dst, &k, v), -EINVAL);
	k.domain = "c.test";
	k.flow.client.family = 0;
	assert_int_equal(dns_stats_add(dst, &k, v), -EINVAL);
	assert_int_equal(dns_stats_add(NULL, &k, v), -EINVAL);
	dns_stats_free(src);
	dns_stats_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rcodes_and_latency),
		cmocka_unit_test(test_keys_are_separate),
		cmocka_unit_test(test_retransmit_keeps_first_timestamp),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_limits_counted),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_many_open_queries),
		cmocka_unit_test(test_add_merges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
