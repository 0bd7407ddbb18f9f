// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * DNS capture: a socket filter on the loader's AF_PACKET SOCK_DGRAM socket in
 * the root network namespace (bpf/capture.h). For a UDP or TCP packet from or
 * to one of the DNS ports it writes a struct nw_pkt_hdr and the L4 payload
 * into nw_pkt_rb; it always returns 0, so the socket never queues anything.
 *
 * Every packet of the host passes here, so the common case (not DNS) returns
 * after one load: the IP header with the ports behind it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "capture.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define LOOPBACK_IFINDEX 1 /* lo is ifindex 1 in every network namespace */
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define VLAN_MAX_TAGS 2
#define IPV6_EXT_MAX 6

/* Set by the loader between open and load (--dns-ports). */
const volatile __u16 nw_dns_ports[NW_PKT_MAX_PORTS] = { 53 };
const volatile __u32 nw_dns_nports = 1;
/* Records are submitted without waking the consumer until this many bytes
 * wait (the worker reads the ring on its drain timer and before every query;
 * this is the safety valve against overflow). */
const volatile __u32 nw_pkt_wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024); /* the loader may resize */
} nw_pkt_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NW_PKT_TEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} nw_pkt_tel SEC(".maps");

/* One record is assembled here, then copied to the ring with its real size. */
struct pkt_scratch {
	struct nw_pkt_hdr hdr;
	__u8 data[NW_PKT_PAYLOAD_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pkt_scratch);
} nw_pkt_scratch SEC(".maps");

struct l3 {
	__u32 l4_off;  /* start of the UDP/TCP header */
	__u32 l4_end;  /* end of the IP payload (excludes link-layer padding) */
	__u8 proto;
	__u8 flags;
	__u8 have_ports; /* ports read with the IP header (no options or extensions) */
	__be16 ports[2];
};

static __always_inline void tel_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&nw_pkt_tel, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline bool dns_port(__u16 port)
{
#pragma unroll
	for (__u32 i = 0; i < NW_PKT_MAX_PORTS; i++) {
		if (i >= nw_dns_nports)
			break;
		if (nw_dns_ports[i] == port)
			return true;
	}
	return false;
}

/* 0, 1 when the packet is of no interest, -1 when it is malformed. */
static __always_inline int parse_v4(struct __sk_buff *skb, __u32 off, struct nw_pkt_hdr *h,
				    struct l3 *l)
{
	/* one load for the header and the ports in the common case (no options) */
	struct {
		struct iphdr ip;
		__be16 ports[2];
	} p;
	__u32 ihl, tot;
	__u16 frag;

	if (bpf_skb_load_bytes(skb, off, &p, sizeof(p))) {
		if (bpf_skb_load_bytes(skb, off, &p.ip, sizeof(p.ip)))
			return -1;
	} else {
		l->have_ports = 1;
	}
	ihl = (__u32)p.ip.ihl * 4;
	tot = bpf_ntohs(p.ip.tot_len);
	if (p.ip.version != 4 || ihl < sizeof(p.ip) || tot < ihl)
		return -1;
	if (p.ip.protocol != IPPROTO_UDP && p.ip.protocol != IPPROTO_TCP)
		return 1;
	frag = bpf_ntohs(p.ip.frag_off);
	if (frag & IP_OFFSET) {
		tel_inc(NW_PKT_TEL_FRAGMENTS);
		return 1;
	}
	if (frag & IP_MF)
		l->flags |= NW_PKT_F_FRAGMENT;
	if (ihl != sizeof(p.ip))
		l->have_ports = 0;
	l->ports[0] = p.ports[0];
	l->ports[1] = p.ports[1];
	__builtin_memcpy(h->saddr, &p.ip.saddr, 4);
	__builtin_memcpy(h->daddr, &p.ip.daddr, 4);
	h->ip_version = 4;
	l->proto = p.ip.protocol;
	l->l4_off = off + ihl;
	l->l4_end = off + tot;
	return 0;
}

static __always_inline int parse_v6(struct __sk_buff *skb, __u32 off, struct nw_pkt_hdr *h,
				    struct l3 *l)
{
	struct {
		struct ipv6hdr ip;
		__be16 ports[2];
	} p;
	struct ipv6hdr *ipp = &p.ip;
	__u32 end;
	__u8 nh;

	if (bpf_skb_load_bytes(skb, off, &p, sizeof(p))) {
		if (bpf_skb_load_bytes(skb, off, &p.ip, sizeof(p.ip)))
			return -1;
	} else {
		l->have_ports = 1;
	}
	if (ipp->version != 6)
		return -1;
	l->ports[0] = p.ports[0];
	l->ports[1] = p.ports[1];
	end = off + sizeof(*ipp) + bpf_ntohs(ipp->payload_len);
	nh = ipp->nexthdr;
	off += sizeof(*ipp);
	if (nh != IPPROTO_UDP && nh != IPPROTO_TCP)
		l->have_ports = 0; /* extension headers first */
	/* hop-by-hop, routing, destination options, fragment */
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 ext[8];

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44)
			break;
		if (bpf_skb_load_bytes(skb, off, ext, nh == 44 ? 8 : 2))
			return -1;
		if (nh == 44) {
			__u16 fo = ((__u16)ext[2] << 8 | ext[3]);

			if (fo & 0xfff8) {
				tel_inc(NW_PKT_TEL_FRAGMENTS);
				return 1;
			}
			if (fo & 1)
				l->flags |= NW_PKT_F_FRAGMENT;
			off += 8;
		} else {
			off += ((__u32)ext[1] + 1) * 8;
		}
		nh = ext[0];
	}
	if (nh != IPPROTO_UDP && nh != IPPROTO_TCP)
		return 1;
	__builtin_memcpy(h->saddr, &ipp->saddr, 16);
	__builtin_memcpy(h->daddr, &ipp->daddr, 16);
	h->ip_version = 6;
	l->proto = nh;
	l->l4_off = off;
	l->l4_end = end;
	return 0;
}

/* Copy the record out of the scratch buffer: header plus cap bytes. */
static __always_inline void emit(struct __sk_buff *skb, struct pkt_scratch *s, __u32 payload_off)
{
	__u64 cap = s->hdr.cap_len;
	__u64 flags = 0;

	/* the verifier must see the bound on the register the helpers get */
	barrier_var(cap);
	if (cap > NW_PKT_PAYLOAD_MAX)
		return;
	if (cap && bpf_skb_load_bytes(skb, payload_off, s->data, cap)) {
		tel_inc(NW_PKT_TEL_BAD);
		return;
	}
	if (nw_pkt_wakeup_bytes) {
		flags = BPF_RB_NO_WAKEUP;
		if (bpf_ringbuf_query(&nw_pkt_rb, BPF_RB_AVAIL_DATA) >= nw_pkt_wakeup_bytes) {
			tel_inc(NW_PKT_TEL_WAKEUPS);
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	if (bpf_ringbuf_output(&nw_pkt_rb, s, sizeof(s->hdr) + cap, flags)) {
		tel_inc(NW_PKT_TEL_RING_FULL);
		return;
	}
	tel_inc(NW_PKT_TEL_CAPTURED);
	if (s->hdr.flags & NW_PKT_F_TRUNCATED)
		tel_inc(NW_PKT_TEL_TRUNCATED);
}

SEC("socket")
int nw_capture(struct __sk_buff *skb)
{
	struct nw_pkt_hdr h = {};
	struct l3 l = {};
	struct pkt_scratch *s;
	__u32 off = 0, zero = 0, end, payload_off, avail, orig;
	__u16 proto = bpf_ntohs((__u16)skb->protocol);
	int rc;

	/* loopback shows each packet twice (sent, then received): keep the second */
	if (skb->pkt_type == NW_PKT_OUTGOING && skb->ifindex == LOOPBACK_IFINDEX)
		return 0;
#pragma unroll
	for (int i = 0; i < VLAN_MAX_TAGS; i++) {
		__be16 inner;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &inner, sizeof(inner))) {
			tel_inc(NW_PKT_TEL_BAD);
			return 0;
		}
		proto = bpf_ntohs(inner);
		off += 4;
		l.flags |= NW_PKT_F_VLAN;
	}
	if (proto == ETH_P_IP)
		rc = parse_v4(skb, off, &h, &l);
	else if (proto == ETH_P_IPV6)
		rc = parse_v6(skb, off, &h, &l);
	else
		return 0;
	if (rc) {
		if (rc < 0)
			tel_inc(NW_PKT_TEL_BAD);
		return 0;
	}
	if (!l.have_ports && bpf_skb_load_bytes(skb, l.l4_off, l.ports, sizeof(l.ports))) {
		tel_inc(NW_PKT_TEL_BAD); /* even a first fragment holds 8 bytes */
		return 0;
	}
	h.sport = bpf_ntohs(l.ports[0]);
	h.dport = bpf_ntohs(l.ports[1]);
	if (!dns_port(h.sport) && !dns_port(h.dport))
		return 0;

	end = l.l4_end < skb->len ? l.l4_end : skb->len;
	if (l.proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, l.l4_off, &uh, sizeof(uh)) || bpf_ntohs(uh.len) < sizeof(uh)) {
			tel_inc(NW_PKT_TEL_BAD);
			return 0;
		}
		payload_off = l.l4_off + sizeof(uh);
		orig = bpf_ntohs(uh.len) - sizeof(uh);
	} else {
		struct tcphdr th;
		__u8 fl;

		if (bpf_skb_load_bytes(skb, l.l4_off, &th, sizeof(th)) || th.doff < 5) {
			tel_inc(NW_PKT_TEL_BAD);
			return 0;
		}
		payload_off = l.l4_off + (__u32)th.doff * 4;
		orig = end > payload_off ? end - payload_off : 0;
		if (!orig)
			return 0; /* handshake, ACK, FIN: no DNS message */
		h.tcp_seq = bpf_ntohl(th.seq);
		bpf_skb_load_bytes(skb, l.l4_off + 13, &fl, 1);
		h.tcp_flags = fl;
	}
	avail = end > payload_off ? end - payload_off : 0;
	if (avail > orig)
		avail = orig;
	h.cap_len = avail > NW_PKT_PAYLOAD_MAX ? NW_PKT_PAYLOAD_MAX : avail;
	if (h.cap_len < orig)
		l.flags |= NW_PKT_F_TRUNCATED;
	h.kind = NW_PKT_KIND_DNS;
	h.hdr_size = sizeof(h);
	h.ifindex = skb->ifindex;
	h.ts_ns = bpf_ktime_get_ns();
	h.l4proto = l.proto;
	h.pkt_type = (__u8)skb->pkt_type;
	h.flags = l.flags;
	h.orig_len = orig;
	s = bpf_map_lookup_elem(&nw_pkt_scratch, &zero);
	if (!s)
		return 0;
	s->hdr = h;
	emit(skb, s, payload_off);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
