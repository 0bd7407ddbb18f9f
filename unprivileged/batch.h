/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Perf-mode closed-connection batches (bpf/conn.h struct nw_conn_batch): a
 * batch reaches the worker either whole, through the perf buffer, or part by
 * part, read from the per-CPU nw_closed_batch array at query time. The
 * extractor remembers, per (cpu, batch id), how many entries it already
 * handed out, so every connection is delivered exactly once whichever way it
 * arrives first. Batch ids are only compared for equality: wrapping is fine.
 */
#ifndef NW_BATCH_H
#define NW_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

#define BATCH_SLOTS_PER_CPU 8       /* batch ids remembered per CPU */
#define BATCH_STATE_EXPIRY_NS (60ULL * 1000000000ULL)

typedef void (*batch_conn_fn)(void *ctx, const struct nw_conn *c);

struct batch_stats {
	uint64_t full;            /* whole batches from the buffer */
	uint64_t pending_reads;   /* per-CPU array reads */
	uint64_t from_full;       /* connections delivered from whole batches */
	uint64_t from_pending;    /* connections delivered from partial batches */
	uint64_t skipped;         /* entries of a whole batch already delivered as pending */
	uint64_t bad;             /* impossible cpu or length */
	uint64_t slots_evicted;   /* bookkeeping full: an old id was forgotten */
};

struct batch_extractor;

/* ncpus: possible CPUs (the per-CPU array's width). NULL + errno. */
struct batch_extractor *batch_new(unsigned int ncpus, batch_conn_fn fn, void *ctx);
void batch_free(struct batch_extractor *bx); /* accepts NULL */

/* A whole batch from the perf buffer. 0, or -EINVAL for a bad batch. */
int batch_full(struct batch_extractor *bx, const struct nw_conn_batch *b, uint64_t now_ns);
/* The partly filled batch of one CPU, as read from the array. 0 or -EINVAL. */
int batch_pending(struct batch_extractor *bx, unsigned int cpu, const struct nw_conn_batch *b,
		  uint64_t now_ns);
/*
 * Read every CPU's pending batch from the per-CPU array map (fd) and deliver
 * what is new. Returns connections delivered or -errno.
 */
int batch_read_pending(struct batch_extractor *bx, int map_fd, uint64_t now_ns);

void batch_get_stats(const struct batch_extractor *bx, struct batch_stats *out);

#endif
