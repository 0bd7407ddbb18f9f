// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Classic capture: decode a forwarded packet from its network header, with
 * the rules of bpf/capture.bpf.c (VLAN tags, IPv4 options and fragments,
 * IPv6 extension headers, UDP/TCP), into the header the eBPF capture writes.
 * Every read is checked against len; nothing here trusts a length field.
 */
#include <errno.h>
#include <string.h>

#include "unprivileged/capture.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define VLAN_MAX_TAGS 2
#define IPV6_EXT_MAX 6

struct l3 {
	size_t l4_off, l4_end;
	uint8_t proto;
};

static uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static int ipv4(const uint8_t *p, size_t len, size_t off, struct nw_pkt_hdr *h, struct l3 *l)
{
	size_t ihl, tot;
	uint16_t frag;

	if (len < off + 20)
		return -EBADMSG;
	ihl = (size_t)(p[off] & 0xf) * 4;
	tot = be16_at(p + off + 2);
	if (p[off] >> 4 != 4 || ihl < 20 || tot < ihl)
		return -EBADMSG;
	if (p[off + 9] != PROTO_UDP && p[off + 9] != PROTO_TCP)
		return -ENODATA;
	frag = be16_at(p + off + 6);
	if (frag & 0x1fff)
		return -ENODATA;
	if (frag & 0x2000)
		h->flags |= NW_PKT_F_FRAGMENT;
	memcpy(h->saddr, p + off + 12, 4);
	memcpy(h->daddr, p + off + 16, 4);
	h->ip_version = 4;
	l->proto = p[off + 9];
	l->l4_off = off + ihl;
	l->l4_end = off + tot;
	return 0;
}

static int ipv6(const uint8_t *p, size_t len, size_t off, struct nw_pkt_hdr *h, struct l3 *l)
{
	size_t end;
	uint8_t nh;

	if (len < off + 40 || p[off] >> 4 != 6)
		return -EBADMSG;
	end = off + 40 + be16_at(p + off + 4);
	nh = p[off + 6];
	memcpy(h->saddr, p + off + 8, 16);
	memcpy(h->daddr, p + off + 24, 16);
	off += 40;
	for (int i = 0; i < IPV6_EXT_MAX && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
		if (len < off + (nh == 44 ? 8 : 2))
			return -EBADMSG;
		if (nh == 44) {
			uint16_t fo = be16_at(p + off + 2);

			if (fo & 0xfff8)
				return -ENODATA;
			if (fo & 1)
				h->flags |= NW_PKT_F_FRAGMENT;
			nh = p[off];
			off += 8;
		} else {
			size_t ext = ((size_t)p[off + 1] + 1) * 8;

			nh = p[off];
			off += ext;
		}
	}
	if (nh != PROTO_UDP && nh != PROTO_TCP)
		return -ENODATA;
	h->ip_version = 6;
	l->proto = nh;
	l->l4_off = off;
	l->l4_end = end;
	return 0;
}

int capture_decode(const uint8_t *pkt, size_t len, uint16_t protocol, struct nw_pkt_hdr *h,
		   size_t *payload_off)
{
	struct l3 l = { 0 };
	size_t off = 0, end, poff, avail, orig;
	int rc;

	if (!pkt || !h || !payload_off)
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < VLAN_MAX_TAGS && (protocol == ETH_P_8021Q || protocol == ETH_P_8021AD); i++) {
		if (len < off + 4)
			return -EBADMSG;
		protocol = be16_at(pkt + off + 2);
		off += 4;
		h->flags |= NW_PKT_F_VLAN;
	}
	if (protocol == ETH_P_IP)
		rc = ipv4(pkt, len, off, h, &l);
	else if (protocol == ETH_P_IPV6)
		rc = ipv6(pkt, len, off, h, &l);
	else
		rc = -ENODATA;
	if (rc)
		return rc;
	if (len < l.l4_off + 4)
		return -EBADMSG;
	h->sport = be16_at(pkt + l.l4_off);
	h->dport = be16_at(pkt + l.l4_off + 2);
	end = l.l4_end < len ? l.l4_end : len;
	if (l.proto == PROTO_UDP) {
		if (len < l.l4_off + 8 || be16_at(pkt + l.l4_off + 4) < 8)
			return -EBADMSG;
		poff = l.l4_off + 8;
		orig = be16_at(pkt + l.l4_off + 4) - 8u;
	} else {
		size_t doff;

		if (len < l.l4_off + 20 || (doff = (size_t)(pkt[l.l4_off + 12] >> 4) * 4) < 20)
			return -EBADMSG;
		poff = l.l4_off + doff;
		orig = end > poff ? end - poff : 0;
		if (!orig)
			return -ENODATA;
		h->tcp_seq = (uint32_t)be16_at(pkt + l.l4_off + 4) << 16 | be16_at(pkt + l.l4_off + 6);
		h->tcp_flags = pkt[l.l4_off + 13];
	}
	avail = end > poff ? end - poff : 0;
	if (avail > orig)
		avail = orig;
	h->cap_len = (uint32_t)(avail > NW_PKT_PAYLOAD_MAX ? NW_PKT_PAYLOAD_MAX : avail);
	if (h->cap_len < orig)
		h->flags |= NW_PKT_F_TRUNCATED;
	h->kind = NW_PKT_KIND_DNS;
	h->hdr_size = sizeof(*h);
	h->l4proto = l.proto;
	h->orig_len = (uint32_t)orig;
	*payload_off = poff;
	return 0;
}
