/* libFuzzer target for the worker's classic-capture decoder and what it feeds.
 *
 * In --dns-filter=classic the loader forwards packets unparsed and the worker
 * decodes them (unprivileged/capture_decode.c): VLAN tags, IPv4 with options
 * and fragments, IPv6 extension headers, UDP and TCP. Input: one selector
 * byte (which protocol the kernel reported: IPv4, IPv6, 802.1Q, 802.1ad or
 * other), then the packet from its network header on. A decoded packet must
 * keep its payload inside the input and within the capture's limits; its
 * payload then goes through dns_snoop_packet as the worker's would.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make fuzz-bins). Seeds:
 * tests/integration/test_fuzz_capture.py wraps the DNS corpus in headers.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "unprivileged/capture_decode.c"
#include "unprivileged/dns/dns_parse.c"
#include "unprivileged/dns/dns_cache.c"
#include "unprivileged/dns/dns_stats.c"
#include "unprivileged/dns/dns_snoop.c"

#define CHECK(cond)                     \
	do {                            \
		if (!(cond))            \
			abort();        \
	} while (0)

static const uint16_t protocols[] = { 0x0800, 0x86DD, 0x8100, 0x88A8, 0x0806 };
static struct dns_snoop *snoop;
static uint64_t now_ns;

static void ip(struct dns_ip *out, uint8_t version, const uint8_t *addr)
{
	memset(out, 0, sizeof(*out));
	out->family = version == 4 ? AF_INET : AF_INET6;
	memcpy(out->addr, addr, version == 4 ? 4 : 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nw_pkt_hdr h;
	struct dns_packet p;
	size_t off = 0;
	uint8_t *pkt;
	int rc;

	if (!snoop) {
		struct dns_snoop_config c = {
			.cache = { .max_ips = 256, .max_names_per_ip = 4, .hash_key = { 1 } },
			.stats = { .max_inflight = 64, .max_entries = 64, .hash_key = { 2 } },
			.expire_every_ns = 1000000000ULL,
		};
		snoop = dns_snoop_new(&c);
		CHECK(snoop);
	}
	if (!size)
		return 0;
	/* a heap copy of exactly the packet: ASan sees any read past its end */
	pkt = malloc(size - 1 ? size - 1 : 1);
	CHECK(pkt);
	memcpy(pkt, data + 1, size - 1);
	rc = capture_decode(pkt, size - 1, protocols[data[0] % 5], &h, &off);
	CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG);
	if (rc == 0) {
		CHECK(h.kind == NW_PKT_KIND_DNS && h.hdr_size == sizeof(h));
		CHECK(h.ip_version == 4 || h.ip_version == 6);
		CHECK(h.l4proto == 6 || h.l4proto == 17);
		CHECK(h.cap_len <= NW_PKT_PAYLOAD_MAX && h.cap_len <= h.orig_len);
		CHECK(off <= size - 1 && h.cap_len <= size - 1 - off);
		CHECK(!!(h.flags & NW_PKT_F_TRUNCATED) == (h.cap_len < h.orig_len));
		memset(&p, 0, sizeof(p));
		p.ts_ns = now_ns;
		ip(&p.src, h.ip_version, h.saddr);
		ip(&p.dst, h.ip_version, h.daddr);
		p.sport = h.sport;
		p.dport = h.dport;
		p.proto = h.l4proto == 6 ? IPPROTO_TCP : IPPROTO_UDP;
		p.payload = pkt + off;
		p.len = h.cap_len;
		dns_snoop_packet(snoop, &p);
		now_ns += 7000000;
		dns_snoop_tick(snoop, now_ns);
	}
	free(pkt);
	return 0;
}
