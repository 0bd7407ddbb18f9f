/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Captured packets (bpf/capture.h), from the ring buffer nw_pkt_rb that the
 * socket filter fills, or from the loader's forwarding socket in classic
 * mode (the raw packet, decoded here by capture_decode). Either way every
 * packet reaches the handler as a checked header and a private copy of its
 * payload: nothing the kernel or the loader wrote is trusted or used in place.
 */
#ifndef NW_CAPTURE_H
#define NW_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "bpf/capture.h"
#include "unprivileged/evloop.h"

struct capture_pkt {
	struct nw_pkt_hdr h;     /* checked: kind, sizes, version, protocol */
	const uint8_t *payload;  /* h.cap_len bytes, valid during the callback */
};

struct capture_handlers {
	void (*packet)(void *ctx, const struct capture_pkt *p);
	void *ctx;
};

/* Why a record or forwarded packet was refused. Never renumber: exported. */
enum capture_bad {
	CAPTURE_BAD_SIZE = 0,     /* shorter than its header, or sizes that disagree */
	CAPTURE_BAD_KIND,         /* unknown kind */
	CAPTURE_BAD_HEADER,       /* version/protocol/address fields out of range */
	CAPTURE_BAD_DECODE,       /* classic: IP/UDP/TCP headers malformed or cut */
	CAPTURE_BAD__MAX,
};

struct capture_stats {
	uint64_t received;         /* records or forwarded packets */
	uint64_t delivered;        /* handed to the handler */
	uint64_t bytes;            /* payload bytes delivered */
	uint64_t truncated;        /* delivered with NW_PKT_F_TRUNCATED */
	uint64_t skipped;          /* classic: not for us after decoding (fragments, bare TCP) */
	uint64_t bad[CAPTURE_BAD__MAX];
	uint64_t loader_drops;     /* classic: packets the loader could not forward */
	uint64_t kernel[8];        /* eBPF: nw_pkt_tel (enum nw_pkt_tel_idx), read on demand */
	int classic;
};

struct capture;

/* NULL + errno. The fds stay owned by the caller. */
struct capture *capture_new_ring(int ring_fd, int tel_fd, const struct capture_handlers *h);
struct capture *capture_new_forward(int sock_fd, const struct capture_handlers *h);
void capture_free(struct capture *c); /* accepts NULL */

int capture_attach(struct capture *c, struct evloop *loop);
/* Fds capture needs open after the privilege drop; returns how many (<= max). */
size_t capture_fds(const struct capture *c, int *out, size_t max);
/* Consume everything waiting now. Packets or -errno. */
int capture_drain(struct capture *c);
void capture_get_stats(const struct capture *c, struct capture_stats *out);

/* One ring record / one forwarded message (exposed for tests). 0 or -EBADMSG. */
int capture_handle_record(struct capture *c, const void *data, size_t size);
int capture_handle_forward(struct capture *c, const void *data, size_t size);

/*
 * Decode a packet from its network header (after VLAN tags when protocol
 * says so) into h (addresses, ports, protocol, lengths, flags; kind DNS) and
 * the offset of its L4 payload. 0; -ENODATA when the packet is of no use (not
 * UDP/TCP, a non-first fragment, a TCP segment without payload); -EBADMSG
 * when headers are malformed or cut.
 */
int capture_decode(const uint8_t *pkt, size_t len, uint16_t protocol, struct nw_pkt_hdr *h,
		   size_t *payload_off);

#endif
