/* libFuzzer target for the DNS parser and what consumes its output.
 *
 * Each input is parsed as a UDP payload and as a TCP segment; every message
 * that parses has all its names decoded (wire and text, both cases), its
 * addresses read, and is fed to a small reverse cache and to the stats
 * tables, so hostile answers reach the CNAME-chain and limit code too; the
 * whole input also goes through dns_snoop_packet (UDP and TCP).
 * Invariants (a parsed message always decodes; decoded names stay within
 * their bounds) abort, which libFuzzer reports as a crash.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make fuzz). Seeds: the
 * corpus in tests/data/dns.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/dns/dns_parse.c"
#include "unprivileged/dns/dns_cache.c"
#include "unprivileged/dns/dns_stats.c"
#include "unprivileged/dns/dns_snoop.c"

#define CHECK(cond)                     \
	do {                            \
		if (!(cond))            \
			abort();        \
	} while (0)

static struct dns_cache *cache;
static struct dns_stats *stats;
static struct dns_snoop *snoop;
static uint64_t now_ns;

static void check_name(const struct dns_msg *m, uint16_t off)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	char text[DNS_NAME_TEXT_MAX];
	int n = dns_name_wire(m, off, wire);

	CHECK(n >= 1 && n <= DNS_NAME_WIRE_MAX && wire[n - 1] == 0);
	n = dns_name_text(m, off, text, sizeof(text), false);
	CHECK(n >= 1 && n < DNS_NAME_TEXT_MAX && text[n] == 0 && strlen(text) == (size_t)n);
	CHECK(dns_name_text(m, off, text, sizeof(text), true) == n);
	CHECK(dns_name_equal(m, off, off));
}

static void use_message(const uint8_t *buf, size_t len, uint8_t proto)
{
	struct dns_msg m;
	struct dns_flow f;
	char qname[DNS_NAME_TEXT_MAX];

	if (dns_parse(buf, len, &m)) {
		CHECK(m.err > DNS_PARSE_OK && m.err < DNS_PARSE_ERR__MAX);
		CHECK(!(m.valid & DNS_VALID_ANSWERS));
		if (!(m.valid & DNS_VALID_QUESTION))
			return;
	} else {
		CHECK(m.valid & DNS_VALID_ANSWERS);
		CHECK(m.n_answers <= DNS_MAX_ANSWERS);
		for (uint16_t i = 0; i < m.n_answers; i++) {
			struct dns_ip ip;

			check_name(&m, m.answers[i].name_off);
			if (m.answers[i].type == DNS_TYPE_CNAME)
				check_name(&m, m.answers[i].rdata_off);
			else
				CHECK(!dns_rr_ip(&m, &m.answers[i], &ip));
		}
		dns_cache_add_response(cache, &m, now_ns);
	}
	if (!(m.valid & DNS_VALID_QUESTION))
		return;
	check_name(&m, m.qname_off);
	CHECK(dns_name_text(&m, m.qname_off, qname, sizeof(qname), true) > 0);
	memset(&f, 0, sizeof(f));
	f.client.family = f.server.family = AF_INET;
	memcpy(f.client.addr, buf, 4); /* header bytes: id and flags */
	f.server.addr[0] = 10;
	f.client_port = (uint16_t)len;
	f.proto = proto;
	if (!m.qr)
		dns_stats_on_query(stats, &f, m.id, qname, m.qtype, now_ns);
	else
		dns_stats_on_response(stats, &f, m.id, m.rcode, now_ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *msg;
	size_t off = 0, msg_len;
	enum dns_parse_err why;
	int rc, n = 0;

	if (!cache) {
		struct dns_cache_config cc = { .max_ips = 256, .max_names_per_ip = 4, .max_name_bytes = 1 << 16 };
		struct dns_stats_config sc = { .timeout_ns = 1000, .max_inflight = 64, .max_entries = 64 };

		struct dns_snoop_config nc = { .cache = cc, .stats = sc, .expire_every_ns = 6400 };

		cache = dns_cache_new(&cc);
		stats = dns_stats_new(&sc);
		snoop = dns_snoop_new(&nc);
		CHECK(cache && stats && snoop);
	}
	now_ns += 100;
	use_message(data, size, IPPROTO_UDP);
	while ((rc = dns_tcp_next(data, size, &off, &msg, &msg_len, &why)) == 1) {
		CHECK(msg >= data && msg_len && msg + msg_len <= data + size);
		use_message(msg, msg_len, IPPROTO_TCP);
		n++;
	}
	CHECK(rc == 0 || (rc == -EBADMSG && why == DNS_PARSE_ERR_TCP_LENGTH));
	CHECK(off <= size);

	/* the worker's entry point, both ways */
	struct dns_packet p = { .ts_ns = now_ns, .payload = data, .len = size, .sport = 53, .dport = 40000 };
	p.src.family = p.dst.family = AF_INET;
	p.src.addr[0] = 10;
	p.dst.addr[0] = 127;
	p.proto = IPPROTO_UDP;
	dns_snoop_packet(snoop, &p);
	p.proto = IPPROTO_TCP;
	dns_snoop_packet(snoop, &p);
	dns_snoop_tick(snoop, now_ns);

	/* keep the tables small and moving: sweep, export, reset */
	if ((now_ns / 100) % 64 == 0) {
		struct dns_stats_key k;
		const struct dns_stats_val *v;
		size_t cur = 0;

		dns_cache_expire(cache, now_ns + 3600ULL * 1000000000ULL * (now_ns % 2));
		dns_stats_tick(stats, now_ns);
		while (dns_stats_next(stats, &cur, &k, &v))
			CHECK(k.domain && strlen(k.domain) < DNS_NAME_TEXT_MAX);
		dns_stats_reset(stats);
	}
	return 0;
}
