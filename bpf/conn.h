/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel/user ABI of the connection tracer (bpf/conn.bpf.c).
 *
 * Everything here is shared between BPF programs and userspace: fixed-width
 * types only, no pointers, explicit padding, sizes checked below. Never
 * renumber an enum value; append.
 */
#ifndef NW_BPF_CONN_H
#define NW_BPF_CONN_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define NW_ABI_VERSION 1

/* nw_conn_tuple.family */
enum nw_family {
	NW_FAMILY_INET = 0,  /* IPv4, also IPv4-mapped IPv6 folded to v4 */
	NW_FAMILY_INET6 = 1,
};

/* nw_conn_tuple.type */
enum nw_conn_type {
	NW_TYPE_TCP = 0,
	NW_TYPE_UDP = 1,
};

/* nw_conn_tuple.direction, from the socket's point of view */
enum nw_direction {
	NW_DIR_UNKNOWN = 0,
	NW_DIR_INCOMING = 1, /* accepted TCP, or UDP on a port bound by bind() */
	NW_DIR_OUTGOING = 2, /* connect()ed TCP, or UDP from an unbound/ephemeral port */
	NW_DIR_LOCAL = 3,    /* reserved: set by userspace, never by the kernel */
};

/* nw_conn_stats.flags */
enum nw_conn_flags {
	NW_CONN_F_ESTABLISHED = 1u << 0, /* TCP reached ESTABLISHED */
	NW_CONN_F_CLOSED = 1u << 1,      /* closed event emitted */
	NW_CONN_F_PID_LATE = 1u << 2,    /* pid learnt after creation (incoming TCP) */
	NW_CONN_F_FAILED = 1u << 3,      /* TCP closed without ever being established */
};

/*
 * Key of the nw_conns hash. One entry per (socket, peer): for TCP and for
 * connected UDP the peer is zero (the socket has one peer); for unconnected UDP
 * each peer address/port the socket talks to gets its own entry.
 */
struct nw_conn_key {
	__u64 cookie;    /* socket cookie (SO_COOKIE) */
	__u8 peer[16];   /* unconnected UDP peer address, else zero; v4 in peer[0..3] */
	__u16 peer_port; /* host byte order, zero unless unconnected UDP */
	__u16 _pad[3];
};

struct nw_conn_tuple {
	__u8 saddr[16]; /* v4 addresses in the first 4 bytes, rest zero */
	__u8 daddr[16];
	__u16 sport;    /* host byte order */
	__u16 dport;    /* host byte order */
	__u32 netns;    /* network namespace inode number */
	__u32 pid;      /* tgid, taken in process context; 0 while unknown */
	__u8 family;    /* enum nw_family */
	__u8 type;      /* enum nw_conn_type */
	__u8 direction; /* enum nw_direction */
	__u8 _pad;
};

struct nw_conn_stats {
	__u64 sent_bytes;    /* payload bytes accepted by send*()/sendfile/splice */
	__u64 recv_bytes;    /* payload bytes copied to the application */
	__u64 sent_packets;  /* TCP: tcp_sock.segs_out; UDP: datagrams */
	__u64 recv_packets;  /* TCP: tcp_sock.segs_in; UDP: datagrams */
	__u64 first_seen_ns; /* bpf_ktime_get_boot_ns() */
	__u64 last_seen_ns;
	__u64 cookie;        /* socket cookie, same as nw_conn_key.cookie */
	__u32 retransmits;
	__u32 rtt_us;        /* tcp_sock.srtt_us >> 3 */
	__u32 rtt_var_us;    /* tcp_sock.mdev_us >> 2 */
	__u16 tcp_established;
	__u16 tcp_closed;
	__u32 flags;         /* enum nw_conn_flags */
	__u32 _pad;
};

/* Value of the nw_conns hash. */
struct nw_conn {
	struct nw_conn_tuple tup;
	struct nw_conn_stats stats;
};

/* Every record in the closed-connection ring/perf buffer starts with this. */
enum nw_event_type {
	NW_EV_CONN_CLOSED = 1,   /* struct nw_conn_closed_event */
	NW_EV_SOCK_RELEASED = 2, /* struct nw_sock_released_event */
	NW_EV_CONN_BATCH = 3,    /* struct nw_conn_batch (perf-buffer mode) */
};

struct nw_event_hdr {
	__u32 type; /* enum nw_event_type */
	__u32 size; /* whole record, header included */
};

struct nw_conn_closed_event {
	struct nw_event_hdr hdr;
	struct nw_conn conn;
};

/*
 * An unconnected UDP socket that talked to more peers than the kernel keeps
 * per socket was released: userspace sweeps nw_conns for entries with this
 * cookie and reports them closed.
 */
struct nw_sock_released_event {
	struct nw_event_hdr hdr;
	__u64 cookie;
};

/*
 * Perf-buffer mode batches closed connections per CPU (Datadog's
 * perf_batching): the kernel fills the CPU's batch in the per-CPU array
 * nw_closed_batch and sends it whole when NW_BATCH_SIZE are queued, then
 * starts batch id + 1. Userspace also reads partly filled batches from the
 * array at query time and remembers, per (cpu, id), how many entries it took,
 * so a connection is reported once whichever way it arrives first.
 */
#define NW_BATCH_SIZE 4

struct nw_conn_batch {
	struct nw_event_hdr hdr; /* NW_EV_CONN_BATCH once sent */
	__u64 id;                /* per-CPU batch sequence number */
	__u32 cpu;
	__u16 len;               /* entries filled, 0..NW_BATCH_SIZE */
	__u16 busy;              /* kernel-internal: being filled on this CPU */
	struct nw_conn conns[NW_BATCH_SIZE];
};

/* Indexes into the nw_telemetry array (one __u64 counter per slot). */
enum nw_telemetry_idx {
	NW_TEL_CONN_MAP_FULL = 0,     /* nw_conns update failed (E2BIG/ENOMEM) */
	NW_TEL_EVENT_LOST = 1,        /* ringbuf/perf output failed */
	NW_TEL_SOCK_STORAGE_FAIL = 2, /* sk_storage get/create failed */
	NW_TEL_UDP_PEER_OVERFLOW = 3, /* UDP socket had more peers than slots */
	NW_TEL_MISSING_ENTRY = 4,     /* event for a socket we never saw created */
	NW_TEL_CLOSED_EMITTED = 5,
	NW_TEL_BATCH_SENT = 6,        /* full batches sent (perf mode) */
	NW_TEL_BATCH_UNBATCHED = 7,   /* closes sent alone: the CPU's batch was busy */
	NW_TEL_BATCH_LOST_CONNS = 8,  /* connections in batches the perf buffer refused */
	NW_TEL_RB_WAKEUPS = 9,        /* ring-buffer records submitted with a forced wakeup */
	NW_TEL_MAX = 16,
};

/* Sizes are ABI: a change here must bump NW_ABI_VERSION. */
_Static_assert(sizeof(struct nw_conn_key) == 32, "nw_conn_key size");
_Static_assert(sizeof(struct nw_conn_tuple) == 48, "nw_conn_tuple size");
_Static_assert(sizeof(struct nw_conn_stats) == 80, "nw_conn_stats size");
_Static_assert(sizeof(struct nw_conn) == 128, "nw_conn size");
_Static_assert(sizeof(struct nw_conn_closed_event) == 136, "closed event size");
_Static_assert(sizeof(struct nw_sock_released_event) == 16, "released event size");
_Static_assert(sizeof(struct nw_conn_batch) == 24 + NW_BATCH_SIZE * 128, "batch size");
_Static_assert(sizeof(struct nw_conn_batch) % 8 == 0, "per-CPU values are 8-byte aligned");

/* Map names as the loader and worker look them up (BPF names max 15 chars). */
#define NW_MAP_CONNS "nw_conns"
#define NW_MAP_CLOSED_RB "nw_closed_rb"
#define NW_MAP_CLOSED_PB "nw_closed_pb"
#define NW_MAP_TELEMETRY "nw_telemetry"
#define NW_MAP_CLOSED_BATCH "nw_closed_batch"

#endif /* NW_BPF_CONN_H */
