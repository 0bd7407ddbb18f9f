// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Exactly-once delivery of batched closed connections (batch.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "unprivileged/batch.h"

/* How far one batch id of one CPU has been delivered. */
struct slot {
	uint64_t id;
	uint64_t updated_ns;
	uint16_t offset; /* entries [0, offset) delivered */
	bool used;
};

struct batch_extractor {
	unsigned int ncpus;
	batch_conn_fn fn;
	void *ctx;
	struct slot *slots;          /* ncpus * BATCH_SLOTS_PER_CPU */
	struct nw_conn_batch *values; /* one per CPU, for map reads */
	struct batch_stats stats;
};

struct batch_extractor *batch_new(unsigned int ncpus, batch_conn_fn fn, void *ctx)
{
	struct batch_extractor *bx;

	if (!ncpus || ncpus > 4096 || !fn) {
		errno = EINVAL;
		return NULL;
	}
	bx = calloc(1, sizeof(*bx));
	if (!bx)
		return NULL;
	bx->ncpus = ncpus;
	bx->fn = fn;
	bx->ctx = ctx;
	bx->slots = calloc((size_t)ncpus * BATCH_SLOTS_PER_CPU, sizeof(*bx->slots));
	bx->values = calloc(ncpus, sizeof(*bx->values));
	if (!bx->slots || !bx->values) {
		batch_free(bx);
		errno = ENOMEM;
		return NULL;
	}
	return bx;
}

void batch_free(struct batch_extractor *bx)
{
	if (!bx)
		return;
	free(bx->slots);
	free(bx->values);
	free(bx);
}

/*
 * The slot for (cpu, id): found, or a free one, or the least recently
 * updated (counted); expired slots are freed on the way.
 */
static struct slot *slot_get(struct batch_extractor *bx, unsigned int cpu, uint64_t id,
			     uint64_t now_ns, bool create)
{
	struct slot *s = &bx->slots[(size_t)cpu * BATCH_SLOTS_PER_CPU], *free_s = NULL, *old = s;

	for (int i = 0; i < BATCH_SLOTS_PER_CPU; i++) {
		if (s[i].used && now_ns - s[i].updated_ns > BATCH_STATE_EXPIRY_NS &&
		    now_ns > s[i].updated_ns)
			s[i].used = false;
		if (s[i].used && s[i].id == id)
			return &s[i];
		if (!s[i].used && !free_s)
			free_s = &s[i];
		if (s[i].updated_ns < old->updated_ns)
			old = &s[i];
	}
	if (!create)
		return NULL;
	if (!free_s) {
		bx->stats.slots_evicted++;
		free_s = old;
	}
	*free_s = (struct slot){ .id = id, .updated_ns = now_ns, .used = true };
	return free_s;
}

static bool batch_ok(const struct batch_extractor *bx, unsigned int cpu, const struct nw_conn_batch *b)
{
	return cpu < bx->ncpus && b->len <= NW_BATCH_SIZE;
}

int batch_full(struct batch_extractor *bx, const struct nw_conn_batch *b, uint64_t now_ns)
{
	struct slot *s;
	uint16_t from = 0;

	if (!batch_ok(bx, b->cpu, b) || b->len != NW_BATCH_SIZE) {
		bx->stats.bad++;
		return -EINVAL;
	}
	bx->stats.full++;
	s = slot_get(bx, b->cpu, b->id, now_ns, false);
	if (s) {
		from = s->offset;
		s->used = false; /* a whole batch is the last we hear of this id */
	}
	bx->stats.skipped += from;
	for (uint16_t i = from; i < NW_BATCH_SIZE; i++) {
		bx->stats.from_full++;
		bx->fn(bx->ctx, &b->conns[i]);
	}
	return 0;
}

int batch_pending(struct batch_extractor *bx, unsigned int cpu, const struct nw_conn_batch *b,
		  uint64_t now_ns)
{
	struct slot *s;

	if (!batch_ok(bx, cpu, b)) {
		bx->stats.bad++;
		return -EINVAL;
	}
	/* empty, or being filled right now: the next read takes it */
	if (!b->len || b->busy)
		return 0;
	s = slot_get(bx, cpu, b->id, now_ns, true);
	for (uint16_t i = s->offset; i < b->len; i++) {
		bx->stats.from_pending++;
		bx->fn(bx->ctx, &b->conns[i]);
	}
	if (b->len > s->offset)
		s->offset = b->len;
	s->updated_ns = now_ns;
	return 0;
}

int batch_read_pending(struct batch_extractor *bx, int map_fd, uint64_t now_ns)
{
	uint64_t before = bx->stats.from_pending;
	__u32 key = 0;

	/* a per-CPU array lookup returns every possible CPU's value */
	if (bpf_map_lookup_elem(map_fd, &key, bx->values))
		return -errno;
	bx->stats.pending_reads++;
	for (unsigned int cpu = 0; cpu < bx->ncpus; cpu++)
		batch_pending(bx, cpu, &bx->values[cpu], now_ns);
	return (int)(bx->stats.from_pending - before);
}

void batch_get_stats(const struct batch_extractor *bx, struct batch_stats *out)
{
	*out = bx->stats;
}
