// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Perf ring buffer reader (unprivileged/perfbuf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "unprivileged/perfbuf.h"

#define PERFBUF_MAX_RINGS 1024

struct perfbuf {
	struct perfbuf_ring *rings;
	size_t n;
	size_t map_len;
	perfbuf_sample_fn on_sample;
	perfbuf_lost_fn on_lost;
	void *ctx;
	struct perfbuf_stats stats;
};

/* The record layouts we read (sample_type PERF_SAMPLE_RAW only). */
struct sample_raw {
	struct perf_event_header h;
	uint32_t size;
	/* unsigned char data[size]; */
};

struct lost_rec {
	struct perf_event_header h;
	uint64_t id;
	uint64_t lost;
};

/* Copy len bytes at ring offset off (mod size) into dst. */
static void ring_copy(const struct perfbuf_ring *r, uint64_t off, void *dst, size_t len)
{
	uint64_t pos = off & (r->size - 1);
	size_t first = len;

	if (pos + len > r->size)
		first = (size_t)(r->size - pos);
	memcpy(dst, r->data + pos, first);
	if (first < len)
		memcpy((unsigned char *)dst + first, r->data, len - first);
}

int perfbuf_ring_consume(struct perfbuf_ring *r, perfbuf_sample_fn on_sample,
			 perfbuf_lost_fn on_lost, void *ctx, struct perfbuf_stats *st)
{
	/* Pairs with the kernel's write barrier before it publishes data_head:
	 * record bytes below head are visible once head is. */
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;
	int handled = 0, err = 0;

	if (head - tail > r->size) {
		/* more unread than the ring holds: cannot be */
		st->corrupt++;
		err = -EBADMSG;
		tail = head;
	}
	while (tail < head) {
		struct perf_event_header h;
		const unsigned char *rec;
		uint64_t pos = tail & (r->size - 1);

		ring_copy(r, tail, &h, sizeof(h));
		if (h.size < sizeof(h) || h.size > head - tail) {
			st->corrupt++;
			err = -EBADMSG;
			tail = head;
			break;
		}
		if (pos + h.size > r->size) {
			ring_copy(r, tail, r->scratch, h.size);
			rec = r->scratch;
			st->wrapped++;
		} else {
			rec = r->data + pos;
		}
		switch (h.type) {
		case PERF_RECORD_SAMPLE: {
			uint32_t raw;
			if (h.size < sizeof(struct sample_raw)) {
				st->corrupt++;
				break;
			}
			memcpy(&raw, rec + offsetof(struct sample_raw, size), sizeof(raw));
			if (raw > h.size - sizeof(struct sample_raw)) {
				st->corrupt++;
				break;
			}
			st->samples++;
			if (on_sample)
				on_sample(ctx, r->cpu, rec + sizeof(struct sample_raw), raw);
			break;
		}
		case PERF_RECORD_LOST: {
			struct lost_rec l;
			if (h.size < sizeof(l)) {
				st->corrupt++;
				break;
			}
			memcpy(&l, rec, sizeof(l));
			st->lost += l.lost;
			if (on_lost)
				on_lost(ctx, r->cpu, l.lost);
			break;
		}
		default:
			st->other++;
			break;
		}
		tail += h.size;
		handled++;
	}
	/* Everything read above happens before the kernel may reuse the space. */
	__atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
	return err ? err : handled;
}

struct perfbuf *perfbuf_new(const int *fds, const int *cpus, size_t n, uint32_t data_pages,
			    perfbuf_sample_fn on_sample, perfbuf_lost_fn on_lost, void *ctx)
{
	long page = sysconf(_SC_PAGESIZE);
	struct perfbuf *pb;
	int err;

	if (!fds || !cpus || !n || n > PERFBUF_MAX_RINGS || !data_pages ||
	    (data_pages & (data_pages - 1)) || data_pages > 4096 || page <= 0) {
		errno = EINVAL;
		return NULL;
	}
	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return NULL;
	pb->rings = calloc(n, sizeof(*pb->rings));
	if (!pb->rings) {
		free(pb);
		errno = ENOMEM;
		return NULL;
	}
	pb->on_sample = on_sample;
	pb->on_lost = on_lost;
	pb->ctx = ctx;
	pb->map_len = (size_t)(data_pages + 1) * (size_t)page;
	for (size_t i = 0; i < n; i++) {
		struct perfbuf_ring *r = &pb->rings[i];
		void *base;

		r->fd = fds[i];
		r->cpu = cpus[i];
		base = mmap(NULL, pb->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i], 0);
		if (base == MAP_FAILED) {
			err = -errno;
			goto fail;
		}
		pb->n = i + 1;
		r->meta = base;
		/* data_offset/data_size are set by every kernel since 4.1 */
		if (r->meta->data_offset && r->meta->data_size) {
			if (r->meta->data_offset + r->meta->data_size > pb->map_len ||
			    (r->meta->data_size & (r->meta->data_size - 1))) {
				err = -EBADMSG;
				goto fail;
			}
			r->data = (unsigned char *)base + r->meta->data_offset;
			r->size = r->meta->data_size;
		} else {
			r->data = (unsigned char *)base + page;
			r->size = (uint64_t)data_pages * (uint64_t)page;
		}
		r->scratch = malloc(r->size);
		if (!r->scratch) {
			err = -ENOMEM;
			goto fail;
		}
		if (ioctl(fds[i], PERF_EVENT_IOC_ENABLE, 0) < 0) {
			err = -errno;
			goto fail;
		}
	}
	return pb;
fail:
	perfbuf_free(pb);
	errno = -err;
	return NULL;
}

void perfbuf_free(struct perfbuf *pb)
{
	if (!pb)
		return;
	for (size_t i = 0; i < pb->n; i++) {
		if (pb->rings[i].meta)
			munmap(pb->rings[i].meta, pb->map_len);
		free(pb->rings[i].scratch);
	}
	free(pb->rings);
	free(pb);
}

size_t perfbuf_rings(const struct perfbuf *pb)
{
	return pb ? pb->n : 0;
}

int perfbuf_ring_fd(const struct perfbuf *pb, size_t i)
{
	return pb && i < pb->n ? pb->rings[i].fd : -1;
}

int perfbuf_consume_ring(struct perfbuf *pb, size_t i)
{
	if (!pb || i >= pb->n)
		return -EINVAL;
	return perfbuf_ring_consume(&pb->rings[i], pb->on_sample, pb->on_lost, pb->ctx, &pb->stats);
}

int perfbuf_consume(struct perfbuf *pb)
{
	int total = 0, err = 0;

	if (!pb)
		return -EINVAL;
	for (size_t i = 0; i < pb->n; i++) {
		int r = perfbuf_consume_ring(pb, i);
		if (r < 0)
			err = r;
		else
			total += r;
	}
	return err ? err : total;
}

void perfbuf_get_stats(const struct perfbuf *pb, struct perfbuf_stats *out)
{
	if (pb && out)
		*out = pb->stats;
}
