/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel/user ABI of USM capture: one record per captured TCP payload segment
 * of a connection the kernel classified as HTTP or Kafka.
 *
 * Shared with the future BPF side (bpf/usm.bpf.c): fixed-width types only, no
 * pointers, explicit padding, sizes checked below. Never renumber an enum
 * value; append. The worker copies a record out of the ring before parsing it
 * (usm_record_copy in usm.h), because the ring stays writable by the kernel.
 */
#ifndef NW_USM_RECORD_H
#define NW_USM_RECORD_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Capacity of usm_record.payload. The kernel copies min(segment, configured
 * fragment size) bytes; the configured size defaults to USM_PAYLOAD_DEFAULT. */
#define USM_PAYLOAD_MAX 512
#define USM_PAYLOAD_DEFAULT 208

/* usm_tuple.family: same values as enum nw_family in bpf/conn.h */
enum usm_family {
	USM_FAMILY_INET = 0,
	USM_FAMILY_INET6 = 1,
};

/* usm_record.direction: who sent this segment */
enum usm_direction {
	USM_DIR_UNKNOWN = 0,
	USM_DIR_FROM_CLIENT = 1, /* client → server: requests */
	USM_DIR_FROM_SERVER = 2, /* server → client: responses */
};

/* usm_record.protocol: the kernel's classification of the connection */
enum usm_protocol {
	USM_PROTO_UNKNOWN = 0,
	USM_PROTO_HTTP = 1,
	USM_PROTO_KAFKA = 2,
};

/* usm_record.flags */
enum usm_record_flags {
	USM_REC_F_SEQ = 1u << 0, /* tcp_seq is valid (stream position known) */
};

/*
 * Connection as seen by the application protocol: the client is the side that
 * sends requests, whatever the packet's source is. The same struct is the key
 * of the trackers' per-connection tables, so padding must stay zero.
 */
struct usm_tuple {
	__u8 client_addr[16]; /* v4 addresses in the first 4 bytes, rest zero */
	__u8 server_addr[16];
	__u16 client_port;    /* host byte order */
	__u16 server_port;    /* host byte order */
	__u32 netns;          /* network namespace inode number, 0 if unknown */
	__u8 family;          /* enum usm_family */
	__u8 _pad[3];
};

struct usm_record {
	__u64 ts_ns;           /* bpf_ktime_get_ns() when the segment was seen */
	__u64 cookie;          /* socket cookie when known, else 0; informational:
				* not every capture point sees the socket */
	struct usm_tuple tuple;
	__u32 tcp_seq;         /* sequence number of payload[0] (USM_REC_F_SEQ) */
	__u32 seg_len;         /* TCP payload bytes in the segment (≥ len) */
	__u16 len;             /* bytes captured in payload, ≤ USM_PAYLOAD_MAX */
	__u8 direction;        /* enum usm_direction */
	__u8 protocol;         /* enum usm_protocol */
	__u8 flags;            /* enum usm_record_flags */
	__u8 _pad[7];
	__u8 payload[USM_PAYLOAD_MAX];
};

/* Bytes of a record before the payload: a ring sample may end right after
 * payload[len - 1]. */
#define USM_RECORD_HDR_SIZE 80

_Static_assert(sizeof(struct usm_tuple) == 44, "usm_tuple ABI");
_Static_assert(sizeof(struct usm_record) == USM_RECORD_HDR_SIZE + USM_PAYLOAD_MAX,
	       "usm_record ABI");
_Static_assert(__builtin_offsetof(struct usm_record, payload) == USM_RECORD_HDR_SIZE,
	       "usm_record payload offset");

#endif /* NW_USM_RECORD_H */
