// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * USM capture: a socket filter on the loader's second AF_PACKET SOCK_DGRAM
 * socket in the root network namespace (bpf/usm.h). It classifies TCP payload
 * segments and copies the first bytes of those that belong to HTTP/1.x or
 * Kafka into nw_usm_rb, then returns 0: the socket never queues anything.
 *
 *  - HTTP: a segment that starts with a request method and a blank is a
 *    request (and classifies its flow); one that starts with "HTTP/1." is a
 *    response if its flow was classified by a request. Other segments of HTTP
 *    flows (bodies) are dropped: the worker's parser does not need them.
 *  - Kafka: a segment that starts like a request header (size, api key,
 *    version, correlation id, printable client id) classifies its flow; from
 *    then on every payload segment of the flow, both ways, is copied, so the
 *    worker can follow message boundaries by TCP sequence number.
 *
 * Classified flows live in an LRU hash keyed by the client/server tuple.
 * Everything unclassified is dropped here; both protocols off means the
 * loader never opens the socket.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "usm.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_TCP 6
#define LOOPBACK_IFINDEX 1 /* lo is ifindex 1 in every network namespace */
#define PACKET_OUTGOING 4
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define VLAN_MAX_TAGS 2
#define IPV6_EXT_MAX 4
#define PREFIX 24            /* payload bytes looked at to classify */
#define KAFKA_HDR 14         /* size, api key, version, correlation id, client id length */
#define KAFKA_API_KEY_MAX 80 /* ~75 api keys exist */
#define KAFKA_VERSION_MAX 20
#define KAFKA_SIZE_MAX (100u << 20) /* socket.request.max.bytes */
#define KAFKA_CLIENT_ID_CHECK (PREFIX - KAFKA_HDR)

/* Set by the loader between open and load. */
const volatile bool nw_usm_http = true;
const volatile bool nw_usm_kafka = false;
const volatile __u32 nw_usm_fragment = USM_PAYLOAD_DEFAULT; /* bytes copied per segment */
/* Records are submitted without waking the consumer until this many bytes
 * wait (the worker reads the ring on its drain timer and before every query;
 * this is the safety valve against overflow). */
const volatile __u32 nw_usm_wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024); /* the loader may resize */
} nw_usm_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, USM_TEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} nw_usm_tel SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, USM_FLOWS_DEFAULT); /* --usm-max-flows */
	__type(key, struct usm_tuple);
	__type(value, struct usm_flow);
} nw_usm_flows SEC(".maps");

/* One record is assembled here, then copied to the ring with its real size. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct usm_record);
} nw_usm_scratch SEC(".maps");

/* Where the payload of this segment is, and who sent it. */
struct seg {
	__u32 l4_off;
	__u32 end;        /* end of the IP payload (excludes link-layer padding) */
	__u32 payload_off;
	__u64 len;        /* TCP payload bytes; 64-bit so that no bound check
			   * is made on a copy clang truncated (no alu32 here) */
	__u32 seq;
	__u8 src[16], dst[16];
	__u16 sport, dport;
	__u8 family;
};

static __always_inline void tel_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&nw_usm_tel, &idx);

	if (v)
		*v += 1; /* per CPU: no other writer */
}

/* 0, 1 when the packet is of no interest, -1 when it is malformed. */
static __always_inline int parse_v4(struct __sk_buff *skb, __u32 off, struct seg *s)
{
	struct iphdr ip;
	__u32 ihl, tot;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return -1;
	ihl = (__u32)ip.ihl * 4;
	tot = bpf_ntohs(ip.tot_len);
	if (ip.version != 4 || ihl < sizeof(ip) || (tot && tot < ihl))
		return -1;
	if (ip.protocol != IPPROTO_TCP)
		return 1;
	if (bpf_ntohs(ip.frag_off) & (IP_OFFSET | IP_MF)) {
		tel_inc(USM_TEL_FRAGMENTS);
		return 1;
	}
	__builtin_memcpy(s->src, &ip.saddr, 4);
	__builtin_memcpy(s->dst, &ip.daddr, 4);
	s->family = USM_FAMILY_INET;
	s->l4_off = off + ihl;
	/* tot_len 0: a GSO packet over 64 KiB (BIG TCP); the skb knows its end */
	s->end = tot ? off + tot : skb->len;
	return 0;
}

static __always_inline int parse_v6(struct __sk_buff *skb, __u32 off, struct seg *s)
{
	struct ipv6hdr ip;
	__u32 plen;
	__u8 nh;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return -1;
	if (ip.version != 6)
		return -1;
	plen = bpf_ntohs(ip.payload_len);
	s->end = plen ? off + sizeof(ip) + plen : skb->len; /* 0: jumbogram/BIG TCP */
	nh = ip.nexthdr;
	off += sizeof(ip);
	/* hop-by-hop, routing, destination options; fragments are not followed */
#pragma unroll
	for (int i = 0; i < IPV6_EXT_MAX; i++) {
		__u8 ext[2];

		if (nh != 0 && nh != 43 && nh != 60)
			break;
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return -1;
		off += ((__u32)ext[1] + 1) * 8;
		nh = ext[0];
	}
	if (nh == 44) {
		tel_inc(USM_TEL_FRAGMENTS);
		return 1;
	}
	if (nh != IPPROTO_TCP)
		return 1;
	__builtin_memcpy(s->src, &ip.saddr, 16);
	__builtin_memcpy(s->dst, &ip.daddr, 16);
	s->family = USM_FAMILY_INET6;
	s->l4_off = off;
	return 0;
}

/* The TCP header: payload offset, length, sequence number. 0, 1 (no payload), -1. */
static __always_inline int parse_tcp(struct __sk_buff *skb, struct seg *s)
{
	struct tcphdr th;
	__u32 end;

	if (bpf_skb_load_bytes(skb, s->l4_off, &th, sizeof(th)) || th.doff < 5)
		return -1;
	s->sport = bpf_ntohs(th.source);
	s->dport = bpf_ntohs(th.dest);
	s->seq = bpf_ntohl(th.seq);
	s->payload_off = s->l4_off + (__u32)th.doff * 4;
	end = s->end < skb->len ? s->end : skb->len;
	if (end <= s->payload_off)
		return 1; /* handshake, ACK, FIN */
	s->len = end - s->payload_off;
	return 0;
}

/* The flow key with the sender as client (from_client) or as server. */
static __always_inline void flow_key(const struct seg *s, bool from_client, struct usm_tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	if (from_client) {
		__builtin_memcpy(t->client_addr, s->src, 16);
		__builtin_memcpy(t->server_addr, s->dst, 16);
		t->client_port = s->sport;
		t->server_port = s->dport;
	} else {
		__builtin_memcpy(t->client_addr, s->dst, 16);
		__builtin_memcpy(t->server_addr, s->src, 16);
		t->client_port = s->dport;
		t->server_port = s->sport;
	}
	t->family = s->family;
}

static __always_inline __u8 flow_protocol(const struct usm_tuple *t)
{
	struct usm_flow *f = bpf_map_lookup_elem(&nw_usm_flows, t);

	return f ? f->protocol : USM_PROTO_UNKNOWN;
}

static __always_inline void flow_classify(const struct usm_tuple *t, __u8 protocol)
{
	struct usm_flow f = { .protocol = protocol };

	if (flow_protocol(t) == protocol)
		return;
	if (bpf_map_update_elem(&nw_usm_flows, t, &f, BPF_ANY))
		tel_inc(USM_TEL_FLOW_FAIL);
}

/* The first 8 payload bytes as one big-endian word, and text constants to
 * compare it with under a mask of their length. */
#define W8(a, b, c, d, e, f, g, h)                                                   \
	((__u64)(a) << 56 | (__u64)(b) << 48 | (__u64)(c) << 40 | (__u64)(d) << 32 | \
	 (__u64)(e) << 24 | (__u64)(f) << 16 | (__u64)(g) << 8 | (__u64)(h))
#define MASK(n) (~0ULL << (64 - 8 * (n)))
#define IS(w, n, ...) (((w) & MASK(n)) == (W8(__VA_ARGS__) & MASK(n)))

static __always_inline __u64 word8(const __u8 *b)
{
	return W8(b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}

/* The request methods of usm_http_parse, each followed by a blank. */
static __always_inline bool http_request_start(__u64 w)
{
	return IS(w, 4, 'G', 'E', 'T', ' ', 0, 0, 0, 0) ||
	       IS(w, 5, 'P', 'O', 'S', 'T', ' ', 0, 0, 0) ||
	       IS(w, 4, 'P', 'U', 'T', ' ', 0, 0, 0, 0) ||
	       IS(w, 6, 'P', 'A', 'T', 'C', 'H', ' ', 0, 0) ||
	       IS(w, 5, 'H', 'E', 'A', 'D', ' ', 0, 0, 0) ||
	       IS(w, 7, 'D', 'E', 'L', 'E', 'T', 'E', ' ', 0) ||
	       IS(w, 8, 'O', 'P', 'T', 'I', 'O', 'N', 'S', ' ') ||
	       IS(w, 6, 'T', 'R', 'A', 'C', 'E', ' ', 0, 0) ||
	       IS(w, 8, 'C', 'O', 'N', 'N', 'E', 'C', 'T', ' ');
}

static __always_inline bool http_response_start(__u64 w)
{
	return IS(w, 7, 'H', 'T', 'T', 'P', '/', '1', '.', 0);
}

static __always_inline __u32 be32(const __u8 *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

static __always_inline __u16 be16(const __u8 *b)
{
	return (__u16)((__u16)b[0] << 8 | b[1]);
}

/*
 * A Kafka request header at the start of the payload (n bytes of it in b):
 * size prefix that holds the header, api key and version in the ranges Kafka
 * uses, non-negative correlation id, and a null or printable client id.
 */
static __always_inline bool kafka_request_start(const __u8 *b, __u64 n)
{
	__u32 size = be32(b), corr = be32(b + 8);
	__u16 key = be16(b + 4), version = be16(b + 6), cid = be16(b + 12);

	if (n < KAFKA_HDR || size < KAFKA_HDR - 4 || size > KAFKA_SIZE_MAX)
		return false;
	if (key > KAFKA_API_KEY_MAX || version > KAFKA_VERSION_MAX || (corr >> 31))
		return false;
	if (cid == 0xffff)
		return true; /* null client id */
	if (cid > size - (KAFKA_HDR - 4))
		return false;
	for (__u32 i = 0; i < KAFKA_CLIENT_ID_CHECK; i++) {
		if (i >= cid || KAFKA_HDR + i >= n)
			break;
		if (b[KAFKA_HDR + i] < 0x20 || b[KAFKA_HDR + i] > 0x7e)
			return false;
	}
	return true;
}

static __always_inline __u64 submit_flags(void)
{
	if (!nw_usm_wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&nw_usm_rb, BPF_RB_AVAIL_DATA) >= nw_usm_wakeup_bytes) {
		tel_inc(USM_TEL_WAKEUPS);
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* One record: the tuple, the segment's position and its first bytes. */
static __always_inline void emit(struct __sk_buff *skb, const struct seg *s,
				 const struct usm_tuple *t, __u8 direction, __u8 protocol)
{
	struct usm_record *r;
	__u32 zero = 0;
	__u64 cap = s->len;

	if (cap > nw_usm_fragment)
		cap = nw_usm_fragment;
	r = bpf_map_lookup_elem(&nw_usm_scratch, &zero);
	if (!r)
		return;
	/* the verifier must see 1..USM_PAYLOAD_MAX on the very register passed
	 * on: bound cap - 1 unsigned (cap 0 wraps and fails), then add 1 */
	cap -= 1;
	asm volatile("" : "+r"(cap));
	if (cap >= USM_PAYLOAD_MAX)
		return;
	cap += 1;
	r->ts_ns = bpf_ktime_get_boot_ns();
	r->cookie = bpf_get_socket_cookie(skb);
	r->tuple = *t;
	r->tcp_seq = s->seq;
	r->seg_len = (__u32)s->len;
	r->len = (__u16)cap;
	r->direction = direction;
	r->protocol = protocol;
	r->flags = USM_REC_F_SEQ;
	__builtin_memset(r->_pad, 0, sizeof(r->_pad));
	if (bpf_skb_load_bytes(skb, s->payload_off, r->payload, cap)) {
		tel_inc(USM_TEL_BAD);
		return;
	}
	if (bpf_ringbuf_output(&nw_usm_rb, r, USM_RECORD_HDR_SIZE + cap, submit_flags())) {
		tel_inc(USM_TEL_RING_FULL);
		return;
	}
	tel_inc(USM_TEL_RECORDS);
	if (cap < s->len)
		tel_inc(USM_TEL_TRUNCATED);
}

SEC("socket")
int nw_usm_capture(struct __sk_buff *skb)
{
	__u16 proto = bpf_ntohs((__u16)skb->protocol);
	struct usm_tuple fwd, rev;
	__u8 b[PREFIX] = {};
	struct seg s = {};
	__u32 off = 0;
	__u64 n;
	int rc;

	/* loopback shows each packet twice (sent, then received): keep the second */
	if (skb->pkt_type == PACKET_OUTGOING && skb->ifindex == LOOPBACK_IFINDEX)
		return 0;
#pragma unroll
	for (int i = 0; i < VLAN_MAX_TAGS; i++) {
		__be16 inner;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off + 2, &inner, sizeof(inner))) {
			tel_inc(USM_TEL_BAD);
			return 0;
		}
		proto = bpf_ntohs(inner);
		off += 4;
	}
	if (proto == ETH_P_IP)
		rc = parse_v4(skb, off, &s);
	else if (proto == ETH_P_IPV6)
		rc = parse_v6(skb, off, &s);
	else
		return 0;
	if (!rc)
		rc = parse_tcp(skb, &s);
	if (rc) {
		if (rc < 0)
			tel_inc(USM_TEL_BAD);
		return 0;
	}
	tel_inc(USM_TEL_SEGMENTS);
	flow_key(&s, true, &fwd);
	flow_key(&s, false, &rev);

	/* a Kafka flow's segments go out whatever they start with */
	if (nw_usm_kafka) {
		if (flow_protocol(&fwd) == USM_PROTO_KAFKA) {
			tel_inc(USM_TEL_KAFKA_SEGMENTS);
			emit(skb, &s, &fwd, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA);
			return 0;
		}
		if (flow_protocol(&rev) == USM_PROTO_KAFKA) {
			tel_inc(USM_TEL_KAFKA_SEGMENTS);
			emit(skb, &s, &rev, USM_DIR_FROM_SERVER, USM_PROTO_KAFKA);
			return 0;
		}
	}

	n = s.len < PREFIX ? s.len : PREFIX;
	if (n == 0 || n > PREFIX || bpf_skb_load_bytes(skb, s.payload_off, b, n)) {
		tel_inc(USM_TEL_BAD);
		return 0;
	}
	if (nw_usm_http) {
		__u64 w = word8(b);

		if (http_request_start(w)) {
			tel_inc(USM_TEL_HTTP_REQUESTS);
			flow_classify(&fwd, USM_PROTO_HTTP);
			emit(skb, &s, &fwd, USM_DIR_FROM_CLIENT, USM_PROTO_HTTP);
			return 0;
		}
		if (http_response_start(w)) {
			if (flow_protocol(&rev) != USM_PROTO_HTTP) {
				tel_inc(USM_TEL_HTTP_NO_FLOW);
				return 0;
			}
			tel_inc(USM_TEL_HTTP_RESPONSES);
			emit(skb, &s, &rev, USM_DIR_FROM_SERVER, USM_PROTO_HTTP);
			return 0;
		}
	}
	if (nw_usm_kafka && kafka_request_start(b, n)) {
		tel_inc(USM_TEL_KAFKA_CLASSIFIED);
		tel_inc(USM_TEL_KAFKA_SEGMENTS);
		flow_classify(&fwd, USM_PROTO_KAFKA);
		emit(skb, &s, &fwd, USM_DIR_FROM_CLIENT, USM_PROTO_KAFKA);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
