// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Closed-connection events from the ring buffer or perf buffers (events.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "unprivileged/batch.h"
#include "unprivileged/events.h"
#include "unprivileged/perfbuf.h"

#define EVENTS_MAX_PERF 1024

struct events;

/* One perf ring's loop registration. */
struct perf_handler {
	struct ev_handler h;
	struct events *ev;
	size_t idx;
};

struct events {
	struct events_handlers cb;
	struct events_stats stats;
	struct ring_buffer *rb;    /* ring-buffer mode */
	struct ev_handler rb_h;
	struct perfbuf *pb;        /* perf mode */
	struct perf_handler *ph;
	struct batch_extractor *bx;
	int batch_fd;
	bool discarding;           /* events_discard: count, do not parse */
};

/* batch bookkeeping ages by this clock */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static bool conn_valid(const struct nw_conn *c)
{
	return c->tup.family <= NW_FAMILY_INET6 && c->tup.type <= NW_TYPE_UDP;
}

static void on_batch_conn(void *ctx, const struct nw_conn *c)
{
	struct events *ev = ctx;

	if (!conn_valid(c)) {
		ev->stats.bad++;
		return;
	}
	ev->stats.closed++;
	if (ev->cb.closed)
		ev->cb.closed(ev->cb.ctx, c);
}

int events_handle_record(struct events *ev, const void *data, size_t size)
{
	struct nw_event_hdr hdr;

	ev->stats.received++;
	if (size < sizeof(hdr))
		goto bad;
	memcpy(&hdr, data, sizeof(hdr));
	/* perf pads raw samples to 8 bytes: the record may be longer than
	 * declared, never shorter */
	if (hdr.size > size)
		goto bad;
	switch (hdr.type) {
	case NW_EV_CONN_CLOSED: {
		struct nw_conn_closed_event e;
		if (hdr.size != sizeof(e))
			goto bad;
		memcpy(&e, data, sizeof(e));
		if (!conn_valid(&e.conn))
			goto bad;
		ev->stats.closed++;
		if (ev->cb.closed)
			ev->cb.closed(ev->cb.ctx, &e.conn);
		return 0;
	}
	case NW_EV_SOCK_RELEASED: {
		struct nw_sock_released_event e;
		if (hdr.size != sizeof(e))
			goto bad;
		memcpy(&e, data, sizeof(e));
		ev->stats.released++;
		if (ev->cb.released)
			ev->cb.released(ev->cb.ctx, e.cookie);
		return 0;
	}
	case NW_EV_CONN_BATCH: {
		struct nw_conn_batch b;
		if (hdr.size != sizeof(b) || !ev->bx)
			goto bad;
		memcpy(&b, data, sizeof(b));
		if (batch_full(ev->bx, &b, mono_ns()))
			goto bad;
		return 0;
	}
	default:
		break;
	}
bad:
	ev->stats.bad++;
	return -EBADMSG;
}

static int on_ringbuf(void *ctx, void *data, size_t size)
{
	struct events *ev = ctx;

	if (ev->discarding) {
		ev->stats.discarded++;
		return 0;
	}
	events_handle_record(ctx, data, size);
	return 0; /* a bad record never stops the ring */
}

static void on_perf_sample(void *ctx, int cpu, const void *data, uint32_t size)
{
	struct events *ev = ctx;

	if (ev->discarding) {
		ev->stats.discarded++;
		return;
	}
	events_handle_record(ctx, data, size);
}

long events_discard(struct events *ev)
{
	uint64_t before;
	int n;

	if (!ev)
		return -EINVAL;
	before = ev->stats.discarded;
	ev->discarding = true;
	n = ev->rb ? ring_buffer__consume(ev->rb) : perfbuf_consume(ev->pb);
	ev->discarding = false;
	if (n < 0)
		return n;
	return (long)(ev->stats.discarded - before);
}

static void on_perf_lost(void *ctx, int cpu, uint64_t lost)
{
	struct events *ev = ctx;

	ev->stats.lost += lost;
}

struct events *events_new_ringbuf(int map_fd, const struct events_handlers *h)
{
	struct events *ev;
	int e;

	if (map_fd < 0 || !h) {
		errno = EINVAL;
		return NULL;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->cb = *h;
	ev->rb = ring_buffer__new(map_fd, on_ringbuf, ev, NULL);
	if (!ev->rb) {
		e = errno;
		free(ev);
		errno = e ? e : EINVAL;
		return NULL;
	}
	return ev;
}

struct events *events_new_perf(const int *fds, const int *cpus, size_t n, uint32_t pages,
			       int batch_fd, const struct events_handlers *h)
{
	struct events *ev;
	int e;

	if (!fds || !cpus || !n || n > EVENTS_MAX_PERF || !h || batch_fd < 0) {
		errno = EINVAL;
		return NULL;
	}
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return NULL;
	ev->cb = *h;
	ev->batch_fd = batch_fd;
	ev->ph = calloc(n, sizeof(*ev->ph));
	ev->bx = batch_new((unsigned int)n, on_batch_conn, ev);
	if (!ev->ph || !ev->bx) {
		batch_free(ev->bx);
		free(ev->ph);
		free(ev);
		errno = ENOMEM;
		return NULL;
	}
	ev->pb = perfbuf_new(fds, cpus, n, pages, on_perf_sample, on_perf_lost, ev);
	if (!ev->pb) {
		e = errno;
		batch_free(ev->bx);
		free(ev->ph);
		free(ev);
		errno = e;
		return NULL;
	}
	return ev;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	ring_buffer__free(ev->rb);
	perfbuf_free(ev->pb);
	batch_free(ev->bx);
	free(ev->ph);
	free(ev);
}

static void on_rb_ready(struct ev_handler *h, uint32_t events)
{
	struct events *ev = (struct events *)((char *)h - offsetof(struct events, rb_h));

	ring_buffer__consume(ev->rb);
}

static void on_perf_ready(struct ev_handler *h, uint32_t events)
{
	struct perf_handler *p = (struct perf_handler *)h;

	perfbuf_consume_ring(p->ev->pb, p->idx);
}

int events_attach(struct events *ev, struct evloop *loop)
{
	int err;

	if (!ev || !loop)
		return -EINVAL;
	if (ev->rb) {
		ev->rb_h.fd = ring_buffer__epoll_fd(ev->rb);
		ev->rb_h.fn = on_rb_ready;
		return evloop_add(loop, &ev->rb_h, EPOLLIN);
	}
	for (size_t i = 0; i < perfbuf_rings(ev->pb); i++) {
		ev->ph[i].h.fd = perfbuf_ring_fd(ev->pb, i);
		ev->ph[i].h.fn = on_perf_ready;
		ev->ph[i].ev = ev;
		ev->ph[i].idx = i;
		err = evloop_add(loop, &ev->ph[i].h, EPOLLIN);
		if (err)
			return err;
	}
	return 0;
}

size_t events_fds(const struct events *ev, int *out, size_t max)
{
	size_t n = 0;

	if (!ev)
		return 0;
	if (ev->rb) {
		if (max)
			out[n++] = ring_buffer__epoll_fd(ev->rb);
		return n;
	}
	for (size_t i = 0; i < perfbuf_rings(ev->pb) && n < max; i++)
		out[n++] = perfbuf_ring_fd(ev->pb, i);
	return n;
}

int events_drain(struct events *ev)
{
	if (!ev)
		return -EINVAL;
	int n, p;

	if (ev->rb)
		return ring_buffer__consume(ev->rb);
	n = perfbuf_consume(ev->pb);
	/* after the buffer, so a batch sent meanwhile is matched by id */
	p = batch_read_pending(ev->bx, ev->batch_fd, mono_ns());
	if (n < 0)
		return n;
	return p < 0 ? p : n + p;
}

void events_get_stats(const struct events *ev, struct events_stats *out)
{
	if (!ev || !out)
		return;
	*out = ev->stats;
	if (ev->pb) {
		struct perfbuf_stats ps;
		perfbuf_get_stats(ev->pb, &ps);
		out->perf_wrapped = ps.wrapped;
		out->perf_corrupt = ps.corrupt;
	}
	if (ev->bx) {
		struct batch_stats bs;
		batch_get_stats(ev->bx, &bs);
		out->batches = bs.full;
		out->batch_pending = bs.from_pending;
		out->batch_skipped = bs.skipped;
		out->batch_bad = bs.bad;
	}
}
