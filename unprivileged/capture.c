// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Captured packets from the ring buffer or the forwarding socket (capture.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "unprivileged/capture.h"

#define FORWARD_BATCH 256 /* messages per wakeup: the loop stays fair */

struct capture {
	struct capture_handlers cb;
	struct capture_stats stats;
	struct ring_buffer *rb; /* eBPF mode */
	int tel_fd;
	int sock_fd;            /* classic mode */
	struct ev_handler h;
	/* a record is copied here before anything reads it */
	union {
		struct nw_pkt_hdr h;
		uint8_t b[sizeof(struct nw_pkt_hdr) + NW_PKT_PAYLOAD_MAX];
	} rec;
	/* classic: one message, plus a byte to catch an oversized one */
	uint8_t msg[sizeof(struct nw_pkt_fwd_hdr) + NW_PKT_FWD_SNAPLEN + 1];
};

static void deliver(struct capture *c, const struct nw_pkt_hdr *h, const uint8_t *payload)
{
	struct capture_pkt p = { .h = *h, .payload = payload };

	c->stats.delivered++;
	c->stats.bytes += h->cap_len;
	c->stats.truncated += !!(h->flags & NW_PKT_F_TRUNCATED);
	if (c->cb.packet)
		c->cb.packet(c->cb.ctx, &p);
}

static int bad(struct capture *c, enum capture_bad why)
{
	c->stats.bad[why]++;
	return -EBADMSG;
}

/* The fields the worker relies on, whoever filled them. */
static int header_ok(const struct nw_pkt_hdr *h)
{
	static const uint8_t zero[12];

	if (h->ip_version != 4 && h->ip_version != 6)
		return 0;
	if (h->l4proto != 6 && h->l4proto != 17)
		return 0;
	if (h->ip_version == 4 && (memcmp(h->saddr + 4, zero, 12) || memcmp(h->daddr + 4, zero, 12)))
		return 0;
	return h->cap_len <= NW_PKT_PAYLOAD_MAX && h->cap_len <= h->orig_len;
}

int capture_handle_record(struct capture *c, const void *data, size_t size)
{
	struct nw_pkt_hdr *h = &c->rec.h;

	c->stats.received++;
	if (size < sizeof(*h) || size > sizeof(c->rec))
		return bad(c, CAPTURE_BAD_SIZE);
	memcpy(c->rec.b, data, size);
	if (h->hdr_size != sizeof(*h) || h->cap_len != size - sizeof(*h))
		return bad(c, CAPTURE_BAD_SIZE);
	if (h->kind != NW_PKT_KIND_DNS)
		return bad(c, CAPTURE_BAD_KIND);
	if (!header_ok(h))
		return bad(c, CAPTURE_BAD_HEADER);
	deliver(c, h, c->rec.b + sizeof(*h));
	return 0;
}

int capture_handle_forward(struct capture *c, const void *data, size_t size)
{
	struct nw_pkt_fwd_hdr fh;
	struct nw_pkt_hdr h;
	size_t off;
	int rc;

	c->stats.received++;
	if (size < sizeof(fh) || size > sizeof(fh) + NW_PKT_FWD_SNAPLEN)
		return bad(c, CAPTURE_BAD_SIZE);
	memcpy(&fh, data, sizeof(fh));
	if (fh.drops > c->stats.loader_drops)
		c->stats.loader_drops = fh.drops;
	rc = capture_decode((const uint8_t *)data + sizeof(fh), size - sizeof(fh), fh.protocol, &h, &off);
	if (rc == -ENODATA) {
		c->stats.skipped++;
		return 0;
	}
	if (rc)
		return bad(c, CAPTURE_BAD_DECODE);
	h.ts_ns = fh.ts_ns;
	h.ifindex = fh.ifindex;
	h.pkt_type = fh.pkt_type;
	if (!header_ok(&h))
		return bad(c, CAPTURE_BAD_HEADER);
	/* the payload stays in place: data is already the caller's private copy */
	deliver(c, &h, (const uint8_t *)data + sizeof(fh) + off);
	return 0;
}

static int on_ring(void *ctx, void *data, size_t size)
{
	capture_handle_record(ctx, data, size);
	return 0; /* a bad record never stops the ring */
}

struct capture *capture_new_ring(int ring_fd, int tel_fd, const struct capture_handlers *h)
{
	struct capture *c;
	int e;

	if (ring_fd < 0 || !h) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cb = *h;
	c->tel_fd = tel_fd;
	c->sock_fd = -1;
	c->rb = ring_buffer__new(ring_fd, on_ring, c, NULL);
	if (!c->rb) {
		e = errno;
		free(c);
		errno = e ? e : EINVAL;
		return NULL;
	}
	return c;
}

struct capture *capture_new_forward(int sock_fd, const struct capture_handlers *h)
{
	struct capture *c;

	if (sock_fd < 0 || !h) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cb = *h;
	c->tel_fd = -1;
	c->sock_fd = sock_fd;
	c->stats.classic = 1;
	return c;
}

void capture_free(struct capture *c)
{
	if (!c)
		return;
	ring_buffer__free(c->rb);
	free(c);
}

static int drain_forward(struct capture *c)
{
	int n;

	for (n = 0; n < FORWARD_BATCH; n++) {
		ssize_t len = recv(c->sock_fd, c->msg, sizeof(c->msg), MSG_DONTWAIT | MSG_TRUNC);

		if (len < 0)
			return errno == EAGAIN ? n : -errno;
		if (len == 0)
			return n; /* the loader is gone */
		if ((size_t)len > sizeof(c->msg) - 1) {
			c->stats.received++;
			bad(c, CAPTURE_BAD_SIZE);
			continue;
		}
		capture_handle_forward(c, c->msg, (size_t)len);
	}
	return n;
}

int capture_drain(struct capture *c)
{
	if (!c)
		return -EINVAL;
	return c->rb ? ring_buffer__consume(c->rb) : drain_forward(c);
}

static void on_ready(struct ev_handler *h, uint32_t events)
{
	struct capture *c = (struct capture *)((char *)h - offsetof(struct capture, h));

	capture_drain(c);
}

int capture_attach(struct capture *c, struct evloop *loop)
{
	if (!c || !loop)
		return -EINVAL;
	c->h.fd = c->rb ? ring_buffer__epoll_fd(c->rb) : c->sock_fd;
	c->h.fn = on_ready;
	return evloop_add(loop, &c->h, EPOLLIN);
}

size_t capture_fds(const struct capture *c, int *out, size_t max)
{
	if (!c || !max)
		return 0;
	out[0] = c->rb ? ring_buffer__epoll_fd(c->rb) : c->sock_fd;
	return 1;
}

void capture_get_stats(const struct capture *c, struct capture_stats *out)
{
	if (!c || !out)
		return;
	*out = c->stats;
	for (uint32_t i = 0; c->tel_fd >= 0 && i < NW_PKT_TEL_MAX && i < 8; i++) {
		uint64_t v = 0;

		if (bpf_map_lookup_elem(c->tel_fd, &i, &v) == 0)
			out->kernel[i] = v;
	}
}
