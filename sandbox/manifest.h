/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The fd manifest: the one message the loader sends the worker over the
 * control socket (fd NW_CONTROL_FD in the worker), carrying every fd that
 * crosses the privilege boundary in SCM_RIGHTS, and saying what each one is.
 * The worker rejects anything that does not match exactly.
 */
#ifndef NW_SANDBOX_MANIFEST_H
#define NW_SANDBOX_MANIFEST_H

#include <stdint.h>
#include <stddef.h>

#define NW_CONTROL_FD 3          /* fixed fd number of the control socket in the worker */
#define NW_MANIFEST_MAGIC 0x4e574d46u /* "NWMF" */
#define NW_MANIFEST_VERSION 1
#define NW_MANIFEST_MAX_FDS 64   /* below SCM_MAX_FD (253) */

/* What a passed fd is. Never renumber; append. */
enum nw_fd_role {
	NW_FD_NONE = 0,
	NW_FD_RPC_LISTEN = 1,      /* AF_UNIX SOCK_STREAM listening socket */
	NW_FD_CONNS_MAP = 2,       /* BPF hash nw_conns */
	NW_FD_CLOSED_RINGBUF = 3,  /* BPF ringbuf nw_closed_rb (ring-buffer mode) */
	NW_FD_CLOSED_PERF = 4,     /* perf event fd of one CPU (perf-buffer mode); arg = cpu */
	NW_FD_TELEMETRY_MAP = 5,   /* BPF array nw_telemetry */
	NW_FD_CLOSED_BATCH = 6,    /* BPF per-CPU array nw_closed_batch (perf-buffer mode), read-only */
	NW_FD_PKT_RINGBUF = 7,     /* BPF ringbuf nw_pkt_rb: captured DNS packets (--dns-filter=ebpf) */
	NW_FD_PKT_TELEMETRY = 8,   /* BPF array nw_pkt_tel, read-only; with NW_FD_PKT_RINGBUF */
	NW_FD_PKT_FORWARD = 9,     /* AF_UNIX SOCK_SEQPACKET, connected: packets the loader
				    * forwards (--dns-filter=classic); never a packet socket */
	NW_FD_USM_RINGBUF = 10,    /* BPF ringbuf nw_usm_rb: HTTP/Kafka segments (bpf/usm.h);
				    * arg = the protocols captured (USM_PROTO_BIT mask) */
	NW_FD_USM_TELEMETRY = 11,  /* BPF per-CPU array nw_usm_tel, read-only; with NW_FD_USM_RINGBUF */
	NW_FD_SUPERVISOR_MAP = 12, /* BPF array nw_supervisor (sandbox/supervisor.h), read-only; optional */
	NW_FD_ROLE_MAX,
};

struct nw_manifest_entry {
	uint16_t role;  /* enum nw_fd_role */
	uint16_t flags; /* NW_FD_F_* */
	uint32_t arg;   /* role specific: cpu for NW_FD_CLOSED_PERF, protocols for NW_FD_USM_RINGBUF */
};

#define NW_FD_F_RDONLY 0x1 /* the fd was opened read-only */

struct nw_manifest_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t count;       /* entries that follow == fds in SCM_RIGHTS */
	uint32_t perf_pages;  /* data pages per CPU in perf-buffer mode, else 0 */
	uint32_t _reserved;
};

struct nw_manifest {
	struct nw_manifest_hdr hdr;
	struct nw_manifest_entry entries[NW_MANIFEST_MAX_FDS];
};

_Static_assert(sizeof(struct nw_manifest_entry) == 8, "manifest entry size");
_Static_assert(sizeof(struct nw_manifest_hdr) == 16, "manifest header size");

/* Bytes on the wire for a manifest of `count` entries. */
static inline size_t nw_manifest_wire_size(uint16_t count)
{
	return sizeof(struct nw_manifest_hdr) + (size_t)count * sizeof(struct nw_manifest_entry);
}

/*
 * Send a manifest and its fds in one sendmsg(). fds[i] matches entries[i].
 * Returns 0 or -errno.
 */
int nw_manifest_send(int sock, const struct nw_manifest *m, const int *fds);

/*
 * Receive exactly one manifest. On success fills *m and fds[0..count-1]
 * (O_CLOEXEC set) and returns count. Rejects, closing any fd received:
 * truncated data or control (MSG_TRUNC/MSG_CTRUNC) -EMSGSIZE, wrong magic or
 * version -EPROTO, count over max or not equal to the fds received -EBADMSG,
 * unknown role -EINVAL, a second control message or non-SCM_RIGHTS -EBADMSG.
 */
int nw_manifest_recv(int sock, struct nw_manifest *m, int *fds, size_t max_fds);

/*
 * Check that every fd is what its role says (socket type and listening state,
 * BPF map type via BPF_OBJ_GET_INFO_BY_FD, perf event fd via its anon inode
 * name), and that the set is complete for the event mode: exactly one
 * RPC_LISTEN, CONNS_MAP and TELEMETRY_MAP, and either one CLOSED_RINGBUF or
 * one CLOSED_PERF per CPU 0..n-1 without gaps plus one read-only
 * CLOSED_BATCH. DNS capture is optional: at most one PKT_RINGBUF, always
 * with one read-only PKT_TELEMETRY, or one PKT_FORWARD, never both.
 * USM capture is optional too: one USM_RINGBUF whose argument names known
 * protocols, always with one read-only USM_TELEMETRY.
 * Returns 0 or -errno.
 */
int nw_manifest_verify(const struct nw_manifest *m, const int *fds);

/*
 * Check one fd against its entry (the per-fd part of nw_manifest_verify), so
 * a caller can say which entry is wrong. Returns 0 or -errno: -ENOTSOCK or
 * -EPROTOTYPE (socket roles), -EBADFD (not the BPF map / perf event the role
 * needs, or map type, key or value size off), -EACCES (NW_FD_F_RDONLY but
 * writable, or a forwarding socket not connected to a peer of our own uid),
 * -EINVAL (unknown role or flag, socket not listening, or listening where a
 * connected socket belongs).
 */
int nw_manifest_verify_entry(const struct nw_manifest_entry *e, int fd);

/* "rpc-listen", "conns-map", ...; "unknown" for anything else. */
const char *nw_manifest_role_name(unsigned int role);

#endif /* NW_SANDBOX_MANIFEST_H */
