/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Reader for perf event ring buffers the worker did not open itself: the
 * loader passes one perf event fd per CPU, the worker mmaps each (1 header
 * page + 2^n data pages) and consumes PERF_RECORD_SAMPLE (raw data) and
 * PERF_RECORD_LOST records, copying out records that wrap around the end.
 */
#ifndef NW_PERFBUF_H
#define NW_PERFBUF_H

#include <stddef.h>
#include <stdint.h>
#include <linux/perf_event.h>

/* Raw sample bytes, valid during the call only. */
typedef void (*perfbuf_sample_fn)(void *ctx, int cpu, const void *data, uint32_t size);
typedef void (*perfbuf_lost_fn)(void *ctx, int cpu, uint64_t lost);

struct perfbuf_stats {
	uint64_t samples;
	uint64_t lost;      /* sum of PERF_RECORD_LOST counts */
	uint64_t wrapped;   /* records copied out because they wrapped */
	uint64_t corrupt;   /* impossible sizes: the rest of the ring was skipped */
	uint64_t other;     /* record types we do not use */
};

/* One mapped ring; also what the unit test fakes. */
struct perfbuf_ring {
	struct perf_event_mmap_page *meta;
	unsigned char *data;   /* meta + data_offset */
	uint64_t size;         /* data bytes, a power of two */
	int cpu;
	int fd;
	unsigned char *scratch; /* size bytes, for wrapped records */
};

/*
 * Consume every record between data_tail and data_head of one ring, then
 * publish the new tail. Returns records handled or -EBADMSG if the ring held
 * garbage (it is then skipped up to data_head and counted as corrupt).
 */
int perfbuf_ring_consume(struct perfbuf_ring *r, perfbuf_sample_fn on_sample,
			 perfbuf_lost_fn on_lost, void *ctx, struct perfbuf_stats *st);

struct perfbuf;

/*
 * mmap and enable each fd (fds[i] belongs to cpus[i]), data_pages data pages
 * each (a power of two). Does not take ownership of the fds. NULL + errno.
 */
struct perfbuf *perfbuf_new(const int *fds, const int *cpus, size_t n, uint32_t data_pages,
			    perfbuf_sample_fn on_sample, perfbuf_lost_fn on_lost, void *ctx);
void perfbuf_free(struct perfbuf *pb); /* unmaps; accepts NULL; fds stay open */
size_t perfbuf_rings(const struct perfbuf *pb);
int perfbuf_ring_fd(const struct perfbuf *pb, size_t i);
/* Consume ring i, or all rings. Records handled, or -errno. */
int perfbuf_consume_ring(struct perfbuf *pb, size_t i);
int perfbuf_consume(struct perfbuf *pb);
void perfbuf_get_stats(const struct perfbuf *pb, struct perfbuf_stats *out);

#endif
