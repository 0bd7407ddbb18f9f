/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel/user ABI of the packet capture (bpf/capture.bpf.c) and of the
 * loader's classic-BPF fallback.
 *
 * The capture runs as a socket filter on an AF_PACKET SOCK_DGRAM socket that
 * the loader opens in the root network namespace: the kernel strips the
 * link-layer header whatever the device (Ethernet, loopback, a tunnel with no
 * header), so the program sees the network header first (after VLAN tags the
 * NIC did not take off). It copies the payload bytes of interest into the ring
 * buffer nw_pkt_rb as one record per packet, struct nw_pkt_hdr followed by
 * cap_len bytes, and returns 0: nothing is ever queued on the socket.
 *
 * Fixed-width types only, explicit padding, sizes checked below. Never
 * renumber an enum value; append.
 */
#ifndef NW_BPF_CAPTURE_H
#define NW_BPF_CAPTURE_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NW_PKT_ABI_VERSION 1

/* Payload bytes copied per packet: a 4096-byte EDNS response fits whole. */
#define NW_PKT_PAYLOAD_MAX 4096
/* DNS ports the filter matches (--dns-ports), source or destination. */
#define NW_PKT_MAX_PORTS 8

/* nw_pkt_hdr.kind: what the payload is for. */
enum nw_pkt_kind {
	NW_PKT_KIND_DNS = 1, /* a DNS port matched: UDP payload, or a TCP segment's payload */
	NW_PKT_KIND_L7 = 2,  /* reserved for USM (issue 6): the first bytes of a TCP payload */
};

/* nw_pkt_hdr.pkt_type: the kernel's skb->pkt_type (linux/if_packet.h). */
enum nw_pkt_type {
	NW_PKT_HOST = 0,      /* to this host */
	NW_PKT_BROADCAST = 1,
	NW_PKT_MULTICAST = 2,
	NW_PKT_OTHERHOST = 3, /* to someone else (promiscuous or forwarded) */
	NW_PKT_OUTGOING = 4,  /* sent by this host */
};

/* nw_pkt_hdr.flags */
enum nw_pkt_flags {
	NW_PKT_F_TRUNCATED = 1u << 0, /* cap_len < orig_len (payload over the max, or a fragment) */
	NW_PKT_F_FRAGMENT = 1u << 1,  /* first fragment of a fragmented datagram */
	NW_PKT_F_VLAN = 1u << 2,      /* VLAN tag(s) were in the packet data */
};

/* Every record in nw_pkt_rb starts with this; cap_len payload bytes follow. */
struct nw_pkt_hdr {
	__u16 kind;      /* enum nw_pkt_kind */
	__u16 hdr_size;  /* sizeof(struct nw_pkt_hdr): the payload starts here */
	__u32 ifindex;   /* interface in the root network namespace */
	__u64 ts_ns;     /* capture time, bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u8 saddr[16];  /* IPv4 in the first 4 bytes, the rest zero */
	__u8 daddr[16];
	__u16 sport;     /* host byte order */
	__u16 dport;
	__u8 ip_version; /* 4 or 6 */
	__u8 l4proto;    /* IPPROTO_UDP (17) or IPPROTO_TCP (6) */
	__u8 pkt_type;   /* enum nw_pkt_type */
	__u8 flags;      /* enum nw_pkt_flags */
	__u32 orig_len;  /* L4 payload bytes the packet carried (UDP: its length field) */
	__u32 cap_len;   /* payload bytes that follow: <= NW_PKT_PAYLOAD_MAX, <= orig_len */
	__u32 tcp_seq;   /* TCP: sequence number of the first payload byte; else 0 */
	__u8 tcp_flags;  /* TCP: the flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10) */
	__u8 _pad[3];
};

/* Indexes into the nw_pkt_tel array (one __u64 counter per slot). */
enum nw_pkt_tel_idx {
	NW_PKT_TEL_CAPTURED = 0,  /* records written to the ring */
	NW_PKT_TEL_TRUNCATED = 1, /* records with NW_PKT_F_TRUNCATED */
	NW_PKT_TEL_RING_FULL = 2, /* records lost: the ring had no room */
	NW_PKT_TEL_FRAGMENTS = 3, /* non-first IP fragments: no L4 header to match */
	NW_PKT_TEL_BAD = 4,       /* headers cut short or inconsistent */
	NW_PKT_TEL_WAKEUPS = 5,   /* records submitted with a forced wakeup (ring half full) */
	NW_PKT_TEL_MAX = 8,
};

/*
 * --dns-filter=classic: the loader reads the packets a classic filter
 * accepted and forwards each one, unparsed, on a SOCK_SEQPACKET socketpair:
 * this header (filled from the kernel's metadata, never from packet bytes),
 * then the packet from its network header on. The worker decodes it.
 */
struct nw_pkt_fwd_hdr {
	__u64 ts_ns;     /* kernel receive time converted to CLOCK_MONOTONIC */
	__u32 ifindex;   /* sockaddr_ll.sll_ifindex */
	__u32 orig_len;  /* bytes of the packet (the message may hold fewer) */
	__u16 protocol;  /* sockaddr_ll.sll_protocol (ethertype), host byte order */
	__u8 pkt_type;   /* sockaddr_ll.sll_pkttype */
	__u8 _pad;
	__u32 drops;     /* packets lost before the worker so far (kernel queue + socketpair full) */
};

/* Bytes the loader reads and forwards per packet in classic mode. */
#define NW_PKT_FWD_SNAPLEN (128 + NW_PKT_PAYLOAD_MAX)

/* Sizes are ABI: a change here must bump NW_PKT_ABI_VERSION. */
_Static_assert(sizeof(struct nw_pkt_hdr) == 72, "nw_pkt_hdr size");
_Static_assert(sizeof(struct nw_pkt_hdr) % 8 == 0, "payload starts 8-byte aligned");
_Static_assert(sizeof(struct nw_pkt_fwd_hdr) == 24, "nw_pkt_fwd_hdr size");

/* Map names as the loader and worker look them up (BPF names max 15 chars). */
#define NW_MAP_PKT_RB "nw_pkt_rb"
#define NW_MAP_PKT_TEL "nw_pkt_tel"

#endif /* NW_BPF_CAPTURE_H */
