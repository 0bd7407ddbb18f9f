/* Unit tests for unprivileged/capture.c and capture_decode.c: ring records
 * are checked before use (sizes, kind, header fields); forwarded packets are
 * decoded from their network header like the eBPF program does (VLAN, IPv4
 * options and fragments, IPv6 extension headers, UDP/TCP), and hostile
 * packets (cut at every byte, lying lengths) are refused and counted. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "unprivileged/evloop.c"
#include "unprivileged/capture_decode.c"
#include "unprivileged/capture.c"

struct seen {
	struct capture_pkt p[8];
	uint8_t payload[8][NW_PKT_PAYLOAD_MAX];
	size_t n;
};

static void on_pkt(void *ctx, const struct capture_pkt *p)
{
	struct seen *s = ctx;

	assert_true(s->n < 8);
	s->p[s->n] = *p;
	memcpy(s->payload[s->n], p->payload, p->h.cap_len);
	s->p[s->n].payload = s->payload[s->n];
	s->n++;
}

static const uint8_t query[] = { 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
				 3, 'w', 'w', 'w', 1, 'a', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1 };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* IPv4 + UDP + query from the network header on; returns the length. */
static size_t udp4(uint8_t *b, uint16_t sport, uint16_t dport)
{
	memset(b, 0, 28);
	b[0] = 0x45;
	put16(b + 2, (uint16_t)(28 + sizeof(query)));
	b[8] = 64;
	b[9] = 17;
	inet_pton(AF_INET, "198.18.1.2", b + 12);
	inet_pton(AF_INET, "198.18.2.2", b + 16);
	put16(b + 20, sport);
	put16(b + 22, dport);
	put16(b + 24, (uint16_t)(8 + sizeof(query)));
	memcpy(b + 28, query, sizeof(query));
	return 28 + sizeof(query);
}

static size_t tcp6(uint8_t *b, uint16_t sport, uint16_t dport, const void *payload, size_t plen)
{
	memset(b, 0, 60);
	b[0] = 0x60;
	put16(b + 4, (uint16_t)(20 + plen));
	b[6] = 6;
	b[7] = 64;
	inet_pton(AF_INET6, "2001:db8:1::2", b + 8);
	inet_pton(AF_INET6, "2001:db8:2::2", b + 24);
	put16(b + 40, sport);
	put16(b + 42, dport);
	put16(b + 44, 0x0102);
	put16(b + 46, 0x0304);
	b[52] = 5 << 4;
	b[53] = 0x18;
	memcpy(b + 60, payload, plen);
	return 60 + plen;
}

/* ---- ring records ------------------------------------------------------------ */

static size_t record(uint8_t *buf, const void *payload, size_t len)
{
	struct nw_pkt_hdr h = {
		.kind = NW_PKT_KIND_DNS, .hdr_size = sizeof(h), .ifindex = 2, .ts_ns = 1000,
		.sport = 40000, .dport = 53, .ip_version = 4, .l4proto = 17,
		.orig_len = (uint32_t)len, .cap_len = (uint32_t)len,
	};

	inet_pton(AF_INET, "198.18.1.2", h.saddr);
	inet_pton(AF_INET, "198.18.2.2", h.daddr);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

static struct capture *forward_capture(struct seen *s, int *sv)
{
	struct capture_handlers h = { on_pkt, s };
	struct capture *c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	c = capture_new_forward(sv[1], &h);
	assert_non_null(c);
	return c;
}

static void test_record_ok(void **state)
{
	uint8_t buf[sizeof(struct nw_pkt_hdr) + NW_PKT_PAYLOAD_MAX];
	struct seen s = { 0 };
	struct capture_stats st;
	int sv[2];
	struct capture *c = forward_capture(&s, sv);
	size_t n = record(buf, query, sizeof(query));

	assert_int_equal(capture_handle_record(c, buf, n), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.p[0].h.sport, 40000);
	assert_int_equal(s.p[0].h.cap_len, sizeof(query));
	assert_memory_equal(s.payload[0], query, sizeof(query));
	/* the payload handed on is a copy: the ring may be rewritten meanwhile */
	assert_ptr_not_equal(s.p[0].payload, buf + sizeof(struct nw_pkt_hdr));
	/* an empty payload is a record too */
	n = record(buf, NULL, 0);
	assert_int_equal(capture_handle_record(c, buf, n), 0);
	capture_get_stats(c, &st);
	assert_int_equal(st.received, 2);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.bytes, sizeof(query));
	capture_free(c);
	close(sv[0]);
	close(sv[1]);
}

static void test_record_refused(void **state)
{
	uint8_t buf[sizeof(struct nw_pkt_hdr) + NW_PKT_PAYLOAD_MAX + 8];
	struct nw_pkt_hdr *h = (struct nw_pkt_hdr *)buf;
	struct seen s = { 0 };
	struct capture_stats st;
	int sv[2];
	struct capture *c = forward_capture(&s, sv);
	size_t n;

	/* shorter than a header, at every length */
	n = record(buf, query, sizeof(query));
	for (size_t len = 0; len < sizeof(*h); len++)
		assert_int_equal(capture_handle_record(c, buf, len), -EBADMSG);
	/* cap_len disagreeing with the record size either way */
	assert_int_equal(capture_handle_record(c, buf, n - 1), -EBADMSG);
	assert_int_equal(capture_handle_record(c, buf, n + 1), -EBADMSG);
	/* a header size from another ABI */
	h->hdr_size = 64;
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->hdr_size = sizeof(*h);
	/* longer than any record can be */
	assert_int_equal(capture_handle_record(c, buf, sizeof(*h) + NW_PKT_PAYLOAD_MAX + 1), -EBADMSG);
	capture_get_stats(c, &st);
	assert_int_equal(st.bad[CAPTURE_BAD_SIZE], sizeof(*h) + 4);
	/* unknown and reserved kinds */
	h->kind = 0;
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->kind = NW_PKT_KIND_L7;
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->kind = NW_PKT_KIND_DNS;
	/* header fields out of range */
	h->ip_version = 5;
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->ip_version = 4;
	h->l4proto = 1;
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->l4proto = 17;
	h->saddr[7] = 1; /* IPv4 with bytes past the fourth */
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	h->saddr[7] = 0;
	h->orig_len = 3; /* fewer bytes on the wire than captured */
	assert_int_equal(capture_handle_record(c, buf, n), -EBADMSG);
	capture_get_stats(c, &st);
	assert_int_equal(st.bad[CAPTURE_BAD_KIND], 2);
	assert_int_equal(st.bad[CAPTURE_BAD_HEADER], 4);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(s.n, 0);
	capture_free(c);
	close(sv[0]);
	close(sv[1]);
}

/* ---- decoding forwarded packets ------------------------------------------------ */

static void test_decode_udp4(void **state)
{
	uint8_t b[256];
	struct nw_pkt_hdr h;
	size_t off, len = udp4(b, 40000, 53);

	assert_int_equal(capture_decode(b, len, 0x0800, &h, &off), 0);
	assert_int_equal(h.ip_version, 4);
	assert_int_equal(h.l4proto, 17);
	assert_int_equal(h.sport, 40000);
	assert_int_equal(h.dport, 53);
	assert_int_equal(off, 28);
	assert_int_equal(h.cap_len, sizeof(query));
	assert_int_equal(h.orig_len, sizeof(query));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.kind, NW_PKT_KIND_DNS);
	/* IP options: the header is 24 bytes */
	memmove(b + 24, b + 20, len - 20);
	memset(b + 20, 1, 4); /* NOPs */
	b[0] = 0x46;
	put16(b + 2, (uint16_t)(len + 4));
	assert_int_equal(capture_decode(b, len + 4, 0x0800, &h, &off), 0);
	assert_int_equal(off, 32);
	assert_int_equal(h.dport, 53);
	/* behind an 802.1Q tag */
	memmove(b + 4, b, len + 4);
	put16(b, 100);
	put16(b + 2, 0x0800);
	assert_int_equal(capture_decode(b, len + 8, 0x8100, &h, &off), 0);
	assert_int_equal(h.flags, NW_PKT_F_VLAN);
	assert_int_equal(off, 36);
}

static void test_decode_tcp6(void **state)
{
	uint8_t b[256], msg[2 + sizeof(query)];
	struct nw_pkt_hdr h;
	size_t off, len;

	put16(msg, sizeof(query));
	memcpy(msg + 2, query, sizeof(query));
	len = tcp6(b, 53, 45000, msg, sizeof(msg));
	assert_int_equal(capture_decode(b, len, 0x86DD, &h, &off), 0);
	assert_int_equal(h.ip_version, 6);
	assert_int_equal(h.l4proto, 6);
	assert_int_equal(h.tcp_seq, 0x01020304);
	assert_int_equal(h.tcp_flags, 0x18);
	assert_int_equal(h.cap_len, sizeof(msg));
	assert_int_equal(off, 60);
	/* no payload: of no use */
	len = tcp6(b, 53, 45000, NULL, 0);
	assert_int_equal(capture_decode(b, len, 0x86DD, &h, &off), -ENODATA);
}

static void test_decode_of_no_use(void **state)
{
	uint8_t b[256];
	struct nw_pkt_hdr h;
	size_t off, len = udp4(b, 40000, 53);

	assert_int_equal(capture_decode(b, len, 0x0806, &h, &off), -ENODATA); /* ARP */
	b[9] = 1;
	assert_int_equal(capture_decode(b, len, 0x0800, &h, &off), -ENODATA); /* ICMP */
	b[9] = 17;
	put16(b + 6, 185); /* a non-first fragment */
	assert_int_equal(capture_decode(b, len, 0x0800, &h, &off), -ENODATA);
	put16(b + 6, 0x2000); /* the first one: what it holds, flagged */
	put16(b + 24, 8 + 1400);
	assert_int_equal(capture_decode(b, len, 0x0800, &h, &off), 0);
	assert_int_equal(h.flags, NW_PKT_F_FRAGMENT | NW_PKT_F_TRUNCATED);
	assert_int_equal(h.orig_len, 1400);
	assert_int_equal(h.cap_len, sizeof(query));
}

static void test_decode_hostile(void **state)
{
	uint8_t b[256], t[256];
	struct nw_pkt_hdr h;
	size_t off, len = udp4(b, 40000, 53), full;

	/* cut at every byte: refused or short, never read past the end */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);
		int rc;

		memcpy(copy, b, cut);
		rc = capture_decode(copy, cut, 0x0800, &h, &off);
		if (cut < 28)
			assert_int_equal(rc, -EBADMSG);
		else
			assert_true(rc == 0 && off == 28 && h.cap_len == cut - 28 &&
				    (h.flags & NW_PKT_F_TRUNCATED));
		free(copy);
	}
	/* IHL below 5, version wrong, total length below the header, UDP length below 8 */
	memcpy(t, b, len);
	t[0] = 0x44;
	assert_int_equal(capture_decode(t, len, 0x0800, &h, &off), -EBADMSG);
	t[0] = 0x65;
	assert_int_equal(capture_decode(t, len, 0x0800, &h, &off), -EBADMSG);
	memcpy(t, b, len);
	put16(t + 2, 10);
	assert_int_equal(capture_decode(t, len, 0x0800, &h, &off), -EBADMSG);
	memcpy(t, b, len);
	put16(t + 24, 7);
	assert_int_equal(capture_decode(t, len, 0x0800, &h, &off), -EBADMSG);
	/* a total length past the end: only what is there */
	memcpy(t, b, len);
	put16(t + 2, 0xffff);
	assert_int_equal(capture_decode(t, len, 0x0800, &h, &off), 0);
	assert_int_equal(h.cap_len, sizeof(query));
	/* VLAN tags cut short, and more tags than followed */
	assert_int_equal(capture_decode(b, 3, 0x8100, &h, &off), -EBADMSG);
	/* IPv6 extension headers claiming more than the packet: cut every byte */
	full = tcp6(t, 53, 40000, query, sizeof(query));
	t[6] = 0; /* hop-by-hop first */
	memmove(t + 48, t + 40, full - 40);
	memset(t + 40, 0, 8);
	t[40] = 6;
	put16(t + 4, (uint16_t)(full - 40 + 8));
	t[41] = 200; /* 1608 bytes of options */
	for (size_t cut = 0; cut <= full + 8; cut++)
		assert_int_equal(capture_decode(t, cut, 0x86DD, &h, &off), -EBADMSG);
	t[41] = 0;
	assert_int_equal(capture_decode(t, full + 8, 0x86DD, &h, &off), 0);
	assert_int_equal(h.cap_len, sizeof(query));
}

/* ---- forwarded messages ----------------------------------------------------------- */

static void test_forward(void **state)
{
	uint8_t msg[sizeof(struct nw_pkt_fwd_hdr) + 256];
	struct nw_pkt_fwd_hdr fh = { .ts_ns = 77, .ifindex = 5, .protocol = 0x0800,
				     .pkt_type = NW_PKT_OUTGOING, .drops = 3 };
	struct seen s = { 0 };
	struct capture_stats st;
	int sv[2];
	struct capture *c = forward_capture(&s, sv);
	size_t len = udp4(msg + sizeof(fh), 40000, 53);

	fh.orig_len = (uint32_t)len;
	memcpy(msg, &fh, sizeof(fh));
	/* through the socket, as the loader sends it */
	assert_int_equal(send(sv[0], msg, sizeof(fh) + len, 0), (ssize_t)(sizeof(fh) + len));
	assert_int_equal(capture_drain(c), 1);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.p[0].h.ts_ns, 77);
	assert_int_equal(s.p[0].h.ifindex, 5);
	assert_int_equal(s.p[0].h.pkt_type, NW_PKT_OUTGOING);
	assert_int_equal(s.p[0].h.dport, 53);
	assert_memory_equal(s.payload[0], query, sizeof(query));
	/* a header alone, a packet of no use, a malformed one */
	assert_int_equal(capture_handle_forward(c, msg, sizeof(fh) - 1), -EBADMSG);
	msg[sizeof(fh) + 9] = 1;
	assert_int_equal(capture_handle_forward(c, msg, sizeof(fh) + len), 0);
	msg[sizeof(fh)] = 0x41;
	assert_int_equal(capture_handle_forward(c, msg, sizeof(fh) + len), -EBADMSG);
	capture_get_stats(c, &st);
	assert_int_equal(st.received, 4);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.bad[CAPTURE_BAD_SIZE], 1);
	assert_int_equal(st.bad[CAPTURE_BAD_DECODE], 1);
	assert_int_equal(st.loader_drops, 3);
	assert_int_equal(st.classic, 1);
	/* an oversized message is cut by the socket and refused */
	{
		static uint8_t big[sizeof(struct nw_pkt_fwd_hdr) + NW_PKT_FWD_SNAPLEN + 100];

		memcpy(big, msg, sizeof(fh));
		assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
		assert_int_equal(capture_drain(c), 1);
		capture_get_stats(c, &st);
		assert_int_equal(st.bad[CAPTURE_BAD_SIZE], 2);
	}
	/* nothing waiting; the loader gone */
	assert_int_equal(capture_drain(c), 0);
	close(sv[0]);
	assert_int_equal(capture_drain(c), 0);
	capture_free(c);
	close(sv[1]);
}

static void test_bad_arguments(void **state)
{
	struct capture_handlers h = { on_pkt, NULL };

	assert_null(capture_new_forward(-1, &h));
	assert_null(capture_new_ring(-1, -1, &h));
	assert_null(capture_new_forward(0, NULL));
	assert_int_equal(capture_drain(NULL), -EINVAL);
	capture_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_ok),
		cmocka_unit_test(test_record_refused),
		cmocka_unit_test(test_decode_udp4),
		cmocka_unit_test(test_decode_tcp6),
		cmocka_unit_test(test_decode_of_no_use),
		cmocka_unit_test(test_decode_hostile),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
