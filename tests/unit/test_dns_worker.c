/* Unit tests for unprivileged/dns_worker.c, dns_clients.c and dns_rpc.c:
 * packets forwarded as the loader does in classic mode go through the real
 * capture and snooper; GetDNSStats gives each client every query once,
 * LookupAddresses and the connection names come from the reverse cache,
 * timeouts are counted by the timer, and the limits hold. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sys/socket.h>

#include "sandbox/limits.c"
#include "unprivileged/evloop.c"
#include "unprivileged/capture_decode.c"
#include "unprivileged/capture.c"
#include "unprivileged/dns/dns_parse.c"
#include "unprivileged/dns/dns_cache.c"
#include "unprivileged/dns/dns_stats.c"
#include "unprivileged/dns/dns_snoop.c"
#include "unprivileged/dns_clients.c"
#include "unprivileged/dns_worker.c"
#include "unprivileged/dns_rpc.c"
#include "tests/unit/dns_testlib.h"

#define MS(x) ((uint64_t)(x) * 1000000ULL)

struct rig {
	int sv[2];
	struct worker_dns *d;
	struct nw_limits lim;
	struct dns_corpus_file q, r;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void rig_new(struct rig *g, uint64_t max_clients)
{
	struct worker_dns_cfg c = { .ring_fd = -1, .tel_fd = -1, .limits = &g->lim };

	memset(g, 0, sizeof(*g));
	nw_limits_default(&g->lim);
	g->lim.v[NW_LIMIT_DNS_TIMEOUT] = 500; /* ms */
	g->lim.v[NW_LIMIT_MAX_CLIENTS] = max_clients;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, g->sv), 0);
	c.fwd_fd = g->sv[1];
	g->d = worker_dns_new(&c);
	assert_non_null(g->d);
	assert_string_equal(worker_dns_mode(g->d), "classic");
	assert_int_equal(dns_corpus_read(DNS_CORPUS_DIR "/a_cname_chain.q.bin", &g->q), 0);
	assert_int_equal(dns_corpus_read(DNS_CORPUS_DIR "/a_cname_chain.r.bin", &g->r), 0);
}

static void rig_free(struct rig *g)
{
	worker_dns_free(g->d);
	close(g->sv[0]);
	close(g->sv[1]);
}

/* One UDP/IPv4 packet as the loader forwards it, captured at ts_ns. */
static void forward(struct rig *g, const char *src, uint16_t sport, const char *dst, uint16_t dport,
		    const uint8_t *msg, size_t len, uint64_t ts_ns)
{
	uint8_t b[sizeof(struct nw_pkt_fwd_hdr) + 28 + 4096];
	struct nw_pkt_fwd_hdr fh = { .ts_ns = ts_ns, .ifindex = 2, .protocol = 0x0800 };
	uint8_t *ip = b + sizeof(fh);

	fh.orig_len = (uint32_t)(28 + len);
	memcpy(b, &fh, sizeof(fh));
	memset(ip, 0, 28);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(28 + len));
	ip[9] = 17;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	put16(ip + 20, sport);
	put16(ip + 22, dport);
	put16(ip + 24, (uint16_t)(8 + len));
	memcpy(ip + 28, msg, len);
	assert_int_equal(send(g->sv[0], b, sizeof(fh) + 28 + len, 0), (ssize_t)(sizeof(fh) + 28 + len));
}

/* The query and its answer 3 ms later, from client port cport. */
static void exchange(struct rig *g, uint16_t cport, uint64_t ts)
{
	forward(g, "198.18.1.2", cport, "198.18.2.2", 53, g->q.bytes, g->q.len, ts);
	forward(g, "198.18.2.2", 53, "198.18.1.2", cport, g->r.bytes, g->r.len, ts + MS(3));
}

static Netwarden__GetDNSStatsResponse *stats(struct rig *g, const char *id)
{
	Netwarden__GetDNSStatsResponse *r = NULL;

	assert_int_equal(dns_rpc_stats(g->d, id, &r), 0);
	assert_non_null(r);
	return r;
}

static void test_stats_per_client(void **state)
{
	struct rig g;
	Netwarden__GetDNSStatsResponse *r;
	uint64_t now = worker_dns_now_ns();

	rig_new(&g, 4);
	exchange(&g, 40000, now);
	/* the first call of a client: what the snooper holds since the last collection */
	r = stats(&g, "one");
	assert_string_equal(r->capture, "classic");
	assert_int_equal(r->n_stats, 1);
	assert_string_equal(r->stats[0]->domain, "a.chain.test");
	assert_int_equal(r->stats[0]->qtype, 1);
	assert_int_equal(r->stats[0]->client_port, 40000);
	assert_int_equal(r->stats[0]->protocol, NETWARDEN__CONN_TYPE__CONN_TYPE_UDP);
	assert_int_equal(r->stats[0]->client_addr.len, 4);
	assert_int_equal(r->stats[0]->n_rcodes, 1);
	assert_int_equal(r->stats[0]->rcodes[0]->rcode, 0);
	assert_int_equal(r->stats[0]->rcodes[0]->count, 1);
	assert_int_equal(r->stats[0]->success_latency_ns, MS(3));
	assert_int_equal(r->stats[0]->failure_latency_ns, 0);
	free(r);
	/* asked again: nothing new */
	r = stats(&g, "one");
	assert_int_equal(r->n_stats, 0);
	free(r);
	/* a second client from now on; both see the next exchanges once */
	r = stats(&g, "two");
	assert_int_equal(r->n_stats, 0);
	free(r);
	exchange(&g, 40001, now + MS(10));
	exchange(&g, 40001, now + MS(20));
	for (int i = 0; i < 2; i++) {
		r = stats(&g, i ? "two" : "one");
		assert_int_equal(r->n_stats, 1);
		assert_int_equal(r->stats[0]->client_port, 40001);
		assert_int_equal(r->stats[0]->rcodes[0]->count, 2);
		assert_int_equal(r->stats[0]->success_latency_ns, MS(6));
		free(r);
	}
	rig_free(&g);
}

static void test_names_and_lookups(void **state)
{
	struct rig g;
	struct nw_conn_tuple t = { .family = NW_FAMILY_INET };
	ProtobufCBinaryData addrs[3];
	Netwarden__LookupAddressesRequest req = NETWARDEN__LOOKUP_ADDRESSES_REQUEST__INIT;
	Netwarden__LookupAddressesResponse *r = NULL;
	uint8_t a1[4], a2[4], a3[16] = { 0 };
	const char *names[WORKER_DNS_NAMES_MAX];

	rig_new(&g, 4);
	exchange(&g, 40000, worker_dns_now_ns());
	worker_dns_drain(g.d);
	/* a connection to the answer carries the name asked for, not the CNAME targets */
	inet_pton(AF_INET, "198.51.100.7", t.daddr);
	assert_int_equal(worker_dns_names(g.d, &t, names, WORKER_DNS_NAMES_MAX), 1);
	assert_string_equal(names[0], "a.chain.test");
	inet_pton(AF_INET, "198.51.100.8", t.daddr);
	assert_int_equal(worker_dns_names(g.d, &t, names, WORKER_DNS_NAMES_MAX), 0);
	assert_int_equal(worker_dns_names(NULL, &t, names, WORKER_DNS_NAMES_MAX), 0);

	inet_pton(AF_INET, "198.51.100.7", a1);
	inet_pton(AF_INET, "198.51.100.8", a2);
	addrs[0] = (ProtobufCBinaryData){ 4, a1 };
	addrs[1] = (ProtobufCBinaryData){ 4, a2 };
	addrs[2] = (ProtobufCBinaryData){ 16, a3 };
	req.n_addrs = 3;
	req.addrs = addrs;
	assert_int_equal(dns_rpc_lookup(g.d, &req, &r), 0);
	assert_int_equal(r->n_results, 3);
	assert_int_equal(r->results[0]->n_names, 1);
	assert_string_equal(r->results[0]->names[0], "a.chain.test");
	assert_memory_equal(r->results[0]->addr.data, a1, 4);
	assert_int_equal(r->results[1]->n_names, 0);
	assert_int_equal(r->results[2]->n_names, 0);
	assert_int_equal(r->results[2]->addr.len, 16);
	free(r);
	/* addresses of another length; too many */
	addrs[1].len = 5;
	assert_int_equal(dns_rpc_lookup(g.d, &req, &r), -EINVAL);
	req.n_addrs = DNS_RPC_MAX_LOOKUPS + 1;
	assert_int_equal(dns_rpc_lookup(g.d, &req, &r), -EINVAL);
	/* no request: an empty answer */
	assert_int_equal(dns_rpc_lookup(g.d, NULL, &r), 0);
	assert_int_equal(r->n_results, 0);
	free(r);
	rig_free(&g);
}

static void test_timeouts_by_tick(void **state)
{
	struct rig g;
	Netwarden__GetDNSStatsResponse *r;
	uint64_t now = worker_dns_now_ns();

	rig_new(&g, 4);
	r = stats(&g, "t");
	free(r);
	/* a query 1 s old, never answered, with a 500 ms timeout; one just sent */
	forward(&g, "198.18.1.2", 41000, "198.18.3.2", 53, g.q.bytes, g.q.len, now - MS(1000));
	forward(&g, "198.18.1.2", 41001, "198.18.3.2", 53, g.q.bytes, g.q.len, now);
	worker_dns_tick(g.d);
	r = stats(&g, "t");
	assert_int_equal(r->n_stats, 1);
	assert_int_equal(r->stats[0]->client_port, 41000);
	assert_int_equal(r->stats[0]->timeouts, 1);
	assert_int_equal(r->stats[0]->n_rcodes, 0);
	free(r);
	rig_free(&g);
}

static void test_client_limits(void **state)
{
	struct rig g;
	Netwarden__GetDNSStatsResponse *r = NULL;
	struct dns_clients_counters cc;
	char long_id[DNS_CLIENT_ID_MAX + 2];

	rig_new(&g, 2);
	free(stats(&g, "a"));
	free(stats(&g, "b"));
	assert_int_equal(dns_rpc_stats(g.d, "c", &r), -ENOSPC);
	assert_int_equal(dns_rpc_stats(g.d, "", &r), -EINVAL);
	assert_int_equal(dns_rpc_stats(g.d, "tab\there", &r), -EINVAL);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(dns_rpc_stats(g.d, long_id, &r), -EINVAL);
	long_id[DNS_CLIENT_ID_MAX] = '\0';
	assert_int_equal(dns_rpc_stats(g.d, long_id, &r), -ENOSPC); /* valid, but no room */
	/* expiry frees the slots */
	assert_int_equal(dns_clients_expire(g.d->clients, worker_dns_now_ns() +
					    g.lim.v[NW_LIMIT_CLIENT_EXPIRY] * 1000000ULL), 2);
	free(stats(&g, "c"));
	dns_clients_get_counters(g.d->clients, &cc);
	assert_int_equal(cc.clients, 1);
	assert_int_equal(cc.refused, 2);
	assert_int_equal(cc.expired, 2);
	assert_int_equal(cc.created, 3);
	rig_free(&g);
}

struct names {
	char seen[160][64];
	size_t n;
};

static void collect(void *ctx, const char *name, uint64_t v)
{
	struct names *s = ctx;

	for (size_t i = 0; i < s->n; i++)
		assert_string_not_equal(s->seen[i], name); /* every counter once */
	assert_true(s->n < 160 && strlen(name) < 64);
	strcpy(s->seen[s->n++], name);
}

static void test_counters(void **state)
{
	struct rig g;
	struct names s = { .n = 0 };
	uint8_t bad[12] = { 0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0 };

	rig_new(&g, 4);
	exchange(&g, 40000, worker_dns_now_ns());
	/* a response whose question is cut */
	forward(&g, "198.18.2.2", 53, "198.18.1.2", 40000, bad, sizeof(bad), worker_dns_now_ns());
	worker_dns_drain(g.d);
	worker_dns_stats(g.d, collect, &s);
	assert_true(s.n > 40);
	for (size_t i = 0; i < s.n; i++)
		assert_true(!strncmp(s.seen[i], "dns_", 4));
	worker_dns_stats(NULL, collect, &s); /* off: nothing */
	{
		struct dns_snoop_counters c = { 0 };
		dns_snoop_get_counters(g.d->snoop, &c);
		assert_int_equal(c.packets, 3);
		uint64_t malformed = 0;
		for (int i = 0; i < DNS_PARSE_ERR__MAX; i++)
			malformed += c.malformed[i];
		assert_int_equal(malformed, 1); /* counted by reason */
		assert_int_equal(c.no_question, 1);
	}
	rig_free(&g);
}

static void test_dns_off(void **state)
{
	Netwarden__GetDNSStatsResponse *r = NULL;
	struct worker_dns_cfg c = { .ring_fd = -1, .tel_fd = -1, .fwd_fd = -1 };

	assert_int_equal(dns_rpc_stats(NULL, "x", &r), 0);
	assert_int_equal(r->n_stats, 0);
	assert_string_equal(r->capture, "off");
	free(r);
	assert_null(worker_dns_new(&c)); /* neither capture */
	c.ring_fd = c.fwd_fd = 0;
	assert_null(worker_dns_new(&c)); /* both */
	worker_dns_tick(NULL);
	worker_dns_drain(NULL);
	worker_dns_free(NULL);
	assert_int_equal(worker_dns_fds(NULL, NULL, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_per_client),
		cmocka_unit_test(test_names_and_lookups),
		cmocka_unit_test(test_timeouts_by_tick),
		cmocka_unit_test(test_client_limits),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_dns_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
