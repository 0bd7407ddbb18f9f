/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel/user ABI of USM capture (bpf/usm.bpf.c): one record per captured TCP
 * payload segment of a connection the kernel classified as HTTP or Kafka.
 *
 * The capture is a socket filter on a second AF_PACKET SOCK_DGRAM socket that
 * the loader holds in the root network namespace (the first one is the DNS
 * capture of bpf/capture.h). It writes records into the ring buffer
 * nw_usm_rb and returns 0: nothing is ever queued on the socket. The worker
 * reads the ring through unprivileged/usm/usm.h, which includes this header
 * (unprivileged/usm/usm_record.h): this is the only definition.
 *
 * Fixed-width types only, no pointers, explicit padding, sizes checked below.
 * Never renumber an enum value; append. The worker copies a record out of the
 * ring before parsing it (usm_record_copy), because the ring stays writable by
 * the kernel.
 */
#ifndef NW_BPF_USM_H
#define NW_BPF_USM_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define USM_ABI_VERSION 1

/* Capacity of usm_record.payload. The kernel copies min(segment, configured
 * fragment size) bytes; the configured size defaults to USM_PAYLOAD_DEFAULT
 * (Datadog's HTTP_BUFFER_SIZE) and can be set from USM_PAYLOAD_MIN on. */
#define USM_PAYLOAD_MAX 512
#define USM_PAYLOAD_DEFAULT 208
#define USM_PAYLOAD_MIN 16

/* Classified flows the kernel remembers (LRU): default and bounds. */
#define USM_FLOWS_DEFAULT 16384
#define USM_FLOWS_MIN 64
#define USM_FLOWS_MAX (1u << 20)

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

/* Protocols the capture is configured for (bit per enum usm_protocol); the
 * loader passes this mask as the manifest argument of the ring's fd. */
#define USM_PROTO_BIT(p) (1u << (p))
#define USM_PROTO_MASK_ALL (USM_PROTO_BIT(USM_PROTO_HTTP) | USM_PROTO_BIT(USM_PROTO_KAFKA))

/* usm_record.flags */
enum usm_record_flags {
	USM_REC_F_SEQ = 1u << 0, /* tcp_seq is valid (stream position known) */
};

/*
 * Connection as seen by the application protocol: the client is the side that
 * sends requests, whatever the packet's source is. The same struct is the key
 * of the kernel's classified-flow map and of the trackers' per-connection
 * tables, so padding must stay zero.
 */
struct usm_tuple {
	__u8 client_addr[16]; /* v4 addresses in the first 4 bytes, rest zero */
	__u8 server_addr[16];
	__u16 client_port;    /* host byte order */
	__u16 server_port;    /* host byte order */
	__u32 netns;          /* network namespace inode number, 0 if unknown: a
			       * packet socket does not see the socket's namespace,
			       * so the kernel capture always writes 0 */
	__u8 family;          /* enum usm_family */
	__u8 _pad[3];
};

struct usm_record {
	__u64 ts_ns;           /* bpf_ktime_get_boot_ns() when the segment was seen
				* (CLOCK_BOOTTIME, the worker's clock) */
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

/* Value of the classified-flow map nw_usm_flows (key: struct usm_tuple). */
struct usm_flow {
	__u8 protocol; /* enum usm_protocol */
	__u8 _pad[7];
};

/* Indexes into the per-CPU nw_usm_tel array (one __u64 counter per slot). */
enum usm_tel_idx {
	USM_TEL_SEGMENTS = 0,        /* TCP segments with payload looked at */
	USM_TEL_HTTP_REQUESTS = 1,   /* segments starting with a request line */
	USM_TEL_HTTP_RESPONSES = 2,  /* status lines on flows classified HTTP */
	USM_TEL_HTTP_NO_FLOW = 3,    /* status lines on flows never classified: dropped */
	USM_TEL_KAFKA_CLASSIFIED = 4, /* flows classified Kafka by a request header */
	USM_TEL_KAFKA_SEGMENTS = 5,  /* segments of Kafka flows copied */
	USM_TEL_RECORDS = 6,         /* records written to the ring */
	USM_TEL_RING_FULL = 7,       /* records lost: no room in the ring */
	USM_TEL_FLOW_FAIL = 8,       /* the flow map refused an update */
	USM_TEL_BAD = 9,             /* headers cut short or inconsistent */
	USM_TEL_FRAGMENTS = 10,      /* IP fragments: not looked at */
	USM_TEL_TRUNCATED = 11,      /* records shorter than their segment */
	USM_TEL_WAKEUPS = 12,        /* records submitted with a forced wakeup */
	USM_TEL_MAX = 16,
};

_Static_assert(sizeof(struct usm_tuple) == 44, "usm_tuple ABI");
_Static_assert(sizeof(struct usm_record) == USM_RECORD_HDR_SIZE + USM_PAYLOAD_MAX,
	       "usm_record ABI");
_Static_assert(__builtin_offsetof(struct usm_record, payload) == USM_RECORD_HDR_SIZE,
	       "usm_record payload offset");
_Static_assert(sizeof(struct usm_flow) == 8, "usm_flow ABI");

/* Map names as the loader and worker look them up (BPF names max 15 chars). */
#define NW_MAP_USM_RB "nw_usm_rb"
#define NW_MAP_USM_TEL "nw_usm_tel"
#define NW_MAP_USM_FLOWS "nw_usm_flows"

#endif /* NW_BPF_USM_H */
