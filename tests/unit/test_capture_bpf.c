/* Unit tests for bpf/capture.bpf.c, run in the kernel with BPF_PROG_RUN (root):
 * hand-built frames go through the socket filter and the records it writes to
 * nw_pkt_rb are read back and checked field by field. BPF_PROG_RUN strips the
 * Ethernet header as a SOCK_DGRAM packet socket does, and runs on lo. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "capture.skel.h"

#define MAX_RECS 16

struct rec {
	struct nw_pkt_hdr h;
	uint8_t data[NW_PKT_PAYLOAD_MAX];
	size_t size;
};

struct rig {
	struct capture_bpf *skel;
	struct ring_buffer *rb;
	struct rec recs[MAX_RECS];
	size_t n;
};

static int on_rec(void *ctx, void *data, size_t size)
{
	struct rig *r = ctx;

	assert_true(size >= sizeof(struct nw_pkt_hdr));
	assert_true(r->n < MAX_RECS);
	memcpy(&r->recs[r->n].h, data, sizeof(struct nw_pkt_hdr));
	memcpy(r->recs[r->n].data, (char *)data + sizeof(struct nw_pkt_hdr),
	       size - sizeof(struct nw_pkt_hdr));
	r->recs[r->n++].size = size;
	return 0;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static struct rig *rig_new(const uint16_t *ports, size_t nports, uint32_t ring_bytes)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	libbpf_set_print(silent);
	r->skel = capture_bpf__open();
	assert_non_null(r->skel);
	if (ports) {
		for (size_t i = 0; i < nports; i++)
			r->skel->rodata->nw_dns_ports[i] = ports[i];
		r->skel->rodata->nw_dns_nports = (uint32_t)nports;
	}
	if (ring_bytes)
		assert_int_equal(bpf_map__set_max_entries(r->skel->maps.nw_pkt_rb, ring_bytes), 0);
	assert_int_equal(capture_bpf__load(r->skel), 0);
	r->rb = ring_buffer__new(bpf_map__fd(r->skel->maps.nw_pkt_rb), on_rec, r, NULL);
	assert_non_null(r->rb);
	return r;
}

static void rig_free(struct rig *r)
{
	ring_buffer__free(r->rb);
	capture_bpf__destroy(r->skel);
	free(r);
}

/* Run one frame; returns the number of records it produced. */
static size_t run(struct rig *r, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len, .repeat = 1);
	size_t before = r->n;

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.nw_capture), &o), 0);
	assert_int_equal(o.retval, 0); /* nothing is ever queued on the socket */
	ring_buffer__consume(r->rb);
	return r->n - before;
}

static uint64_t tel(struct rig *r, uint32_t idx)
{
	uint64_t v = 0;

	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.nw_pkt_tel), &idx, &v), 0);
	return v;
}

/* ---- frame building --------------------------------------------------------- */

struct frame {
	uint8_t b[8192];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void eth(struct frame *f, uint16_t proto)
{
	memset(f->b, 0, 14);
	put16(f->b + 12, proto);
	f->len = 14;
}

static void vlan(struct frame *f, uint16_t tpid, uint16_t inner)
{
	put16(f->b + f->len - 2, tpid);
	put16(f->b + f->len, 100); /* TCI */
	put16(f->b + f->len + 2, inner);
	f->len += 4;
}

/* IPv4 header; l4len: bytes that follow (the total length says so) */
static void ipv4(struct frame *f, uint8_t proto, const char *src, const char *dst, size_t l4len,
		 uint16_t frag)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	f->len += 20;
}

static void ipv6(struct frame *f, uint8_t nh, const char *src, const char *dst, size_t plen)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)plen);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	f->len += 40;
}

static void udp(struct frame *f, uint16_t sport, uint16_t dport, const void *payload, size_t plen,
		size_t udp_len)
{
	uint8_t *p = f->b + f->len;

	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, (uint16_t)udp_len);
	put16(p + 6, 0);
	memcpy(p + 8, payload, plen);
	f->len += 8 + plen;
}

static void tcp(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags,
		const void *payload, size_t plen)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	p[12] = 5 << 4;
	p[13] = flags;
	memcpy(p + 20, payload, plen);
	f->len += 20 + plen;
}

static const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				 3, 'w', 'w', 'w', 1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };

static void udp4(struct frame *f, uint16_t sport, uint16_t dport)
{
	eth(f, 0x0800);
	ipv4(f, 17, "198.18.0.1", "198.18.0.2", 8 + sizeof(query), 0);
	udp(f, sport, dport, query, sizeof(query), 8 + sizeof(query));
}

static void check_addr(const uint8_t *got, int af, const char *want)
{
	uint8_t a[16] = { 0 };

	inet_pton(af, want, a);
	assert_memory_equal(got, a, 16);
}

/* ---- tests ------------------------------------------------------------------- */

static void test_udp4_query(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;
	const struct nw_pkt_hdr *h;

	udp4(&f, 40000, 53);
	assert_int_equal(run(r, f.b, f.len), 1);
	h = &r->recs[0].h;
	assert_int_equal(h->kind, NW_PKT_KIND_DNS);
	assert_int_equal(h->hdr_size, sizeof(*h));
	assert_int_equal(h->ip_version, 4);
	assert_int_equal(h->l4proto, 17);
	check_addr(h->saddr, AF_INET, "198.18.0.1");
	check_addr(h->daddr, AF_INET, "198.18.0.2");
	assert_int_equal(h->sport, 40000);
	assert_int_equal(h->dport, 53);
	assert_int_equal(h->ifindex, 1);
	assert_int_equal(h->pkt_type, NW_PKT_HOST);
	assert_int_equal(h->flags, 0);
	assert_int_equal(h->orig_len, sizeof(query));
	assert_int_equal(h->cap_len, sizeof(query));
	assert_int_equal(r->recs[0].size, sizeof(*h) + sizeof(query));
	assert_memory_equal(r->recs[0].data, query, sizeof(query));
	assert_true(h->ts_ns > 0);
	assert_int_equal(tel(r, NW_PKT_TEL_CAPTURED), 1);
	/* a response: the source port matches */
	udp4(&f, 53, 40000);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[1].h.sport, 53);
	rig_free(r);
}

static void test_other_ports_ignored(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;

	udp4(&f, 40000, 80);
	assert_int_equal(run(r, f.b, f.len), 0);
	udp4(&f, 5353, 40000);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* ARP and other non-IP protocols */
	eth(&f, 0x0806);
	memset(f.b + 14, 0, 28);
	f.len += 28;
	assert_int_equal(run(r, f.b, f.len), 0);
	/* ICMP */
	eth(&f, 0x0800);
	ipv4(&f, 1, "198.18.0.1", "198.18.0.2", 8, 0);
	memset(f.b + f.len, 0, 8);
	f.len += 8;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_CAPTURED), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_BAD), 0);
	rig_free(r);
}

static void test_configured_ports(void **state)
{
	static const uint16_t ports[] = { 5353, 8053, 1, 2, 3, 4, 5, 6 };
	struct rig *r = rig_new(ports, 8, 0);
	struct frame f;

	udp4(&f, 40000, 53);
	assert_int_equal(run(r, f.b, f.len), 0);
	udp4(&f, 40000, 5353);
	assert_int_equal(run(r, f.b, f.len), 1);
	udp4(&f, 8053, 40000);
	assert_int_equal(run(r, f.b, f.len), 1);
	udp4(&f, 6, 40000); /* the eighth port */
	assert_int_equal(run(r, f.b, f.len), 1);
	rig_free(r);
	/* two ports configured: the rest of the array is not looked at */
	r = rig_new(ports, 2, 0);
	udp4(&f, 6, 40000);
	assert_int_equal(run(r, f.b, f.len), 0);
	rig_free(r);
}

static void test_udp6_with_extension_headers(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;
	const struct nw_pkt_hdr *h;
	uint8_t *ext;

	eth(&f, 0x86DD);
	ipv6(&f, 0, "2001:db8:1::2", "2001:db8:1::1", 8 + 16 + 8 + sizeof(query));
	ext = f.b + f.len; /* hop-by-hop, 8 bytes, then destination options, 16 bytes */
	memset(ext, 0, 24);
	ext[0] = 60;
	ext[8] = 17;
	ext[9] = 1;
	f.len += 24;
	udp(&f, 53, 33333, query, sizeof(query), 8 + sizeof(query));
	assert_int_equal(run(r, f.b, f.len), 1);
	h = &r->recs[0].h;
	assert_int_equal(h->ip_version, 6);
	assert_int_equal(h->l4proto, 17);
	check_addr(h->saddr, AF_INET6, "2001:db8:1::2");
	check_addr(h->daddr, AF_INET6, "2001:db8:1::1");
	assert_int_equal(h->sport, 53);
	assert_int_equal(h->dport, 33333);
	assert_int_equal(h->cap_len, sizeof(query));
	assert_memory_equal(r->recs[0].data, query, sizeof(query));
	rig_free(r);
}

static void test_tcp_segments(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	uint8_t msg[2 + sizeof(query)];
	struct frame f;
	const struct nw_pkt_hdr *h;

	put16(msg, sizeof(query));
	memcpy(msg + 2, query, sizeof(query));
	eth(&f, 0x0800);
	ipv4(&f, 6, "127.0.0.1", "127.0.0.1", 20 + sizeof(msg), 0);
	tcp(&f, 45000, 53, 0xdeadbeef, 0x18, msg, sizeof(msg));
	assert_int_equal(run(r, f.b, f.len), 1);
	h = &r->recs[0].h;
	assert_int_equal(h->l4proto, 6);
	assert_int_equal(h->tcp_seq, 0xdeadbeef);
	assert_int_equal(h->tcp_flags, 0x18);
	assert_int_equal(h->orig_len, sizeof(msg));
	assert_int_equal(h->cap_len, sizeof(msg));
	assert_memory_equal(r->recs[0].data, msg, sizeof(msg));
	/* the handshake and bare ACKs carry no message: no record */
	eth(&f, 0x0800);
	ipv4(&f, 6, "127.0.0.1", "127.0.0.1", 20, 0);
	tcp(&f, 45000, 53, 1, 0x02, NULL, 0);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* data offset below 5 words */
	eth(&f, 0x0800);
	ipv4(&f, 6, "127.0.0.1", "127.0.0.1", 20 + sizeof(msg), 0);
	tcp(&f, 45000, 53, 1, 0x18, msg, sizeof(msg));
	f.b[14 + 20 + 12] = 4 << 4;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_BAD), 1);
	rig_free(r);
}

static void test_vlan_tags(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;

	eth(&f, 0x8100);
	vlan(&f, 0x8100, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8 + sizeof(query), 0);
	udp(&f, 40000, 53, query, sizeof(query), 8 + sizeof(query));
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].h.flags, NW_PKT_F_VLAN);
	assert_int_equal(r->recs[0].h.dport, 53);
	assert_memory_equal(r->recs[0].data, query, sizeof(query));
	/* QinQ: 802.1ad outside, 802.1Q inside */
	eth(&f, 0x88A8);
	vlan(&f, 0x88A8, 0x8100);
	vlan(&f, 0x8100, 0x86DD);
	ipv6(&f, 17, "2001:db8::1", "2001:db8::2", 8 + sizeof(query));
	udp(&f, 40000, 53, query, sizeof(query), 8 + sizeof(query));
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[1].h.ip_version, 6);
	rig_free(r);
}

static void test_fragments(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;
	const struct nw_pkt_hdr *h;

	/* a non-first fragment has no UDP header: counted, not captured */
	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 16, 185);
	memset(f.b + f.len, 0, 16);
	f.len += 16;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_FRAGMENTS), 1);
	/* the first fragment: captured as far as it goes, flagged */
	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8 + sizeof(query), 0x2000);
	udp(&f, 53, 40000, query, sizeof(query), 8 + 1400);
	assert_int_equal(run(r, f.b, f.len), 1);
	h = &r->recs[0].h;
	assert_int_equal(h->flags, NW_PKT_F_FRAGMENT | NW_PKT_F_TRUNCATED);
	assert_int_equal(h->orig_len, 1400);
	assert_int_equal(h->cap_len, sizeof(query));
	assert_int_equal(tel(r, NW_PKT_TEL_TRUNCATED), 1);
	/* an IPv6 non-first fragment */
	eth(&f, 0x86DD);
	ipv6(&f, 44, "2001:db8::1", "2001:db8::2", 8 + 16);
	memset(f.b + f.len, 0, 24);
	f.b[f.len] = 17;
	put16(f.b + f.len + 2, 1448);
	f.len += 24;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_FRAGMENTS), 2);
	rig_free(r);
}

static void test_payload_limits(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	static uint8_t big[3000];
	struct frame f;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)i;
	/* as large as BPF_PROG_RUN takes (a page): whole; beyond the maximum: see test_real_socket */
	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8 + sizeof(big), 0);
	udp(&f, 53, 40000, big, sizeof(big), 8 + sizeof(big));
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].h.orig_len, sizeof(big));
	assert_int_equal(r->recs[0].h.cap_len, sizeof(big));
	assert_int_equal(r->recs[0].h.flags, 0);
	assert_memory_equal(r->recs[0].data, big, sizeof(big));
	/* link-layer padding after the IP packet is not payload */
	udp4(&f, 53, 40000);
	memset(f.b + f.len, 0xee, 18);
	f.len += 18;
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[1].h.cap_len, sizeof(query));
	/* an empty UDP payload: a record with no bytes */
	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8, 0);
	udp(&f, 53, 40000, NULL, 0, 8);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[2].h.cap_len, 0);
	assert_int_equal(r->recs[2].size, sizeof(struct nw_pkt_hdr));
	rig_free(r);
}

/*
 * The program on a real packet socket bound to every interface: datagrams
 * sent over lo to port 53 are seen once each (not as sent and again as
 * received), and one over NW_PKT_PAYLOAD_MAX is cut there and flagged.
 */
static void test_real_socket(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in dns = me;
	static uint8_t big[5000];
	int pkt, prog = bpf_program__fd(r->skel->progs.nw_capture), u;
	socklen_t len = sizeof(me);
	size_t mine = 0, bigs = 0;

	pkt = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(pkt >= 0);
	assert_int_equal(setsockopt(pkt, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)), 0);
	assert_int_equal(bind(pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(u, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(u, (struct sockaddr *)&me, &len), 0);
	dns.sin_port = htons(53);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	assert_int_equal(sendto(u, query, sizeof(query), 0, (struct sockaddr *)&dns, sizeof(dns)),
			 (ssize_t)sizeof(query));
	assert_int_equal(sendto(u, big, sizeof(big), 0, (struct sockaddr *)&dns, sizeof(dns)),
			 (ssize_t)sizeof(big));
	usleep(50000);
	ring_buffer__consume(r->rb);
	for (size_t i = 0; i < r->n; i++) {
		const struct nw_pkt_hdr *h = &r->recs[i].h;

		if (h->sport != ntohs(me.sin_port) || h->dport != 53)
			continue;
		mine++;
		assert_int_equal(h->ifindex, 1);
		assert_int_equal(h->pkt_type, NW_PKT_HOST);
		if (h->orig_len == sizeof(big)) {
			bigs++;
			assert_int_equal(h->cap_len, NW_PKT_PAYLOAD_MAX);
			assert_int_equal(h->flags, NW_PKT_F_TRUNCATED);
			assert_memory_equal(r->recs[i].data, big, NW_PKT_PAYLOAD_MAX);
		} else {
			assert_int_equal(h->cap_len, sizeof(query));
		}
	}
	assert_int_equal(mine, 2);
	assert_int_equal(bigs, 1);
	assert_true(tel(r, NW_PKT_TEL_TRUNCATED) >= 1);
	close(u);
	close(pkt);
	rig_free(r);
}

static void test_malformed(void **state)
{
	struct rig *r = rig_new(NULL, 0, 0);
	struct frame f;

	/* IHL below 5 */
	udp4(&f, 40000, 53);
	f.b[14] = 0x44;
	assert_int_equal(run(r, f.b, f.len), 0);
	/* version 6 in an IPv4 packet */
	udp4(&f, 40000, 53);
	f.b[14] = 0x65;
	assert_int_equal(run(r, f.b, f.len), 0);
	/* total length below the header */
	udp4(&f, 40000, 53);
	put16(f.b + 14 + 2, 10);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* UDP length below its header */
	udp4(&f, 40000, 53);
	put16(f.b + 14 + 20 + 4, 4);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* cut inside the ports (the kernel refuses to run a cut IP header) */
	udp4(&f, 40000, 53);
	assert_int_equal(run(r, f.b, 14 + 20 + 2), 0);
	assert_int_equal(tel(r, NW_PKT_TEL_BAD), 5);
	/* a UDP length that claims more than the packet holds: what is there, flagged */
	udp4(&f, 40000, 53);
	put16(f.b + 14 + 20 + 4, 8 + 1000);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].h.cap_len, sizeof(query));
	assert_int_equal(r->recs[0].h.orig_len, 1000);
	assert_int_equal(r->recs[0].h.flags, NW_PKT_F_TRUNCATED);
	assert_int_equal(tel(r, NW_PKT_TEL_CAPTURED), 1);
	rig_free(r);
}

static void test_ring_full(void **state)
{
	struct rig *r = rig_new(NULL, 0, 4096);
	static uint8_t big[1500];
	struct frame f;
	size_t got = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8 + sizeof(big), 0);
	udp(&f, 53, 40000, big, sizeof(big), 8 + sizeof(big));
	o.data_in = f.b;
	o.data_size_in = (__u32)f.len;
	/* nobody reads: the third 1.6 KB record no longer fits in 4 KB */
	for (int i = 0; i < 4; i++)
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.nw_capture), &o), 0);
	got = (size_t)ring_buffer__consume(r->rb);
	assert_int_equal(got, 2);
	assert_int_equal(tel(r, NW_PKT_TEL_CAPTURED), 2);
	assert_int_equal(tel(r, NW_PKT_TEL_RING_FULL), 2);
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp4_query),
		cmocka_unit_test(test_other_ports_ignored),
		cmocka_unit_test(test_configured_ports),
		cmocka_unit_test(test_udp6_with_extension_headers),
		cmocka_unit_test(test_tcp_segments),
		cmocka_unit_test(test_vlan_tags),
		cmocka_unit_test(test_fragments),
		cmocka_unit_test(test_payload_limits),
		cmocka_unit_test(test_real_socket),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ring_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
