/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The closed-connection event source: the BPF ring buffer (libbpf
 * ring_buffer) or the per-CPU perf buffers (perfbuf.c). Records are checked
 * (type, declared size against the bytes received) and copied out before use.
 */
#ifndef NW_EVENTS_H
#define NW_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "unprivileged/evloop.h"

struct events_handlers {
	void (*closed)(void *ctx, const struct nw_conn *c);
	void (*released)(void *ctx, uint64_t cookie);
	void *ctx;
};

struct events_stats {
	uint64_t received;  /* records of any kind */
	uint64_t closed;    /* NW_EV_CONN_CLOSED */
	uint64_t released;  /* NW_EV_SOCK_RELEASED */
	uint64_t bad;       /* short, oversized or unknown records */
	uint64_t lost;      /* perf mode: records the kernel could not write */
	uint64_t perf_wrapped;
	uint64_t perf_corrupt;
	uint64_t batches;         /* perf mode: whole batches received */
	uint64_t batch_pending;   /* connections taken from partly filled batches */
	uint64_t batch_skipped;   /* batch entries already taken as pending */
	uint64_t batch_bad;
	uint64_t discarded;       /* consumed unread by events_discard (after a crash streak) */
};

struct events;

/* NULL + errno. The fds stay owned by the caller. */
struct events *events_new_ringbuf(int map_fd, const struct events_handlers *h);
/* batch_fd: the read-only per-CPU nw_closed_batch array, n wide. */
struct events *events_new_perf(const int *fds, const int *cpus, size_t n, uint32_t pages,
			       int batch_fd, const struct events_handlers *h);
void events_free(struct events *ev); /* accepts NULL */

/* Add the event fds to the loop (consumed as they become readable). */
int events_attach(struct events *ev, struct evloop *loop);
/* Fds events needs open after the privilege drop; returns how many (<= max). */
size_t events_fds(const struct events *ev, int *out, size_t max);
/* Consume everything available now (before answering a query), in perf mode
 * also the partly filled batches. Records or -errno. */
int events_drain(struct events *ev);
void events_get_stats(const struct events *ev, struct events_stats *out);
/* Consume every record waiting now without parsing it (a new worker after a
 * crash streak: one of them killed the last workers). Records or -errno. */
long events_discard(struct events *ev);

/* Parse one record (exposed for tests). 0, or -EBADMSG for a bad record. */
int events_handle_record(struct events *ev, const void *data, size_t size);

#endif
