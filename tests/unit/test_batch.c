/* Unit tests for unprivileged/batch.c: every batched connection is delivered
 * exactly once, whether it is read partly from the per-CPU array first or
 * arrives whole from the perf buffer first. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <unistd.h>
#include <bpf/libbpf.h>

#include "unprivileged/batch.c"

#define SEC_NS 1000000000ULL

struct seen {
	uint64_t cookies[256];
	size_t n;
};

static void record(void *ctx, const struct nw_conn *c)
{
	struct seen *s = ctx;

	assert_true(s->n < 256);
	s->cookies[s->n++] = c->stats.cookie;
}

/* Batch `id` of `cpu` with `len` entries; entry i has cookie base + i. */
static void fill(struct nw_conn_batch *b, unsigned int cpu, uint64_t id, uint16_t len, uint64_t base)
{
	memset(b, 0, sizeof(*b));
	b->hdr.type = NW_EV_CONN_BATCH;
	b->hdr.size = sizeof(*b);
	b->cpu = cpu;
	b->id = id;
	b->len = len;
	for (uint16_t i = 0; i < NW_BATCH_SIZE; i++)
		b->conns[i].stats.cookie = i < len || len == NW_BATCH_SIZE ? base + i : 0;
}

static void assert_seen(const struct seen *s, const uint64_t *want, size_t n)
{
	assert_int_equal(s->n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s->cookies[i], want[i]);
}

static void test_full_only(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(2, record, &s);
	struct nw_conn_batch b;
	struct batch_stats st;
	const uint64_t want[] = { 10, 11, 12, 13 };

	fill(&b, 1, 7, NW_BATCH_SIZE, 10);
	assert_int_equal(batch_full(bx, &b, SEC_NS), 0);
	assert_seen(&s, want, 4);
	batch_get_stats(bx, &st);
	assert_int_equal(st.full, 1);
	assert_int_equal(st.from_full, 4);
	assert_int_equal(st.skipped, 0);
	batch_free(bx);
}

/* Partial read (2), again (3), then the whole batch: each entry once. */
static void test_pending_then_full(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(2, record, &s);
	struct nw_conn_batch b;
	struct batch_stats st;
	const uint64_t want[] = { 20, 21, 22, 23 };

	fill(&b, 0, 3, 2, 20);
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), 0);
	fill(&b, 0, 3, 2, 20); /* same state read again: nothing new */
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), 0);
	assert_seen(&s, want, 2);
	fill(&b, 0, 3, 3, 20);
	assert_int_equal(batch_pending(bx, 0, &b, 2 * SEC_NS), 0);
	assert_seen(&s, want, 3);
	fill(&b, 0, 3, NW_BATCH_SIZE, 20);
	assert_int_equal(batch_full(bx, &b, 3 * SEC_NS), 0);
	assert_seen(&s, want, 4);
	batch_get_stats(bx, &st);
	assert_int_equal(st.skipped, 3);
	assert_int_equal(st.from_pending, 3);
	assert_int_equal(st.from_full, 1);
	/* the id is forgotten after its whole batch: a stale partial read of
	 * the next id starts from 0 */
	fill(&b, 0, 4, 1, 30);
	assert_int_equal(batch_pending(bx, 0, &b, 3 * SEC_NS), 0);
	assert_int_equal(s.n, 5);
	assert_int_equal(s.cookies[4], 30);
	batch_free(bx);
}

/*
 * The kernel sent batch 5 and started 6 between the buffer drain and the
 * array read: 6's entries come as pending, 5 arrives whole later. Both
 * exactly once, and CPUs are kept apart.
 */
static void test_interleaved_cpus(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(4, record, &s);
	struct nw_conn_batch b;
	const uint64_t want[] = { 60, 500, 50, 51, 52, 53, 61 };

	fill(&b, 2, 6, 1, 60);
	batch_pending(bx, 2, &b, SEC_NS);
	fill(&b, 3, 6, 1, 500); /* same id on another CPU: its own bookkeeping */
	batch_pending(bx, 3, &b, SEC_NS);
	fill(&b, 2, 5, NW_BATCH_SIZE, 50);
	batch_full(bx, &b, SEC_NS);
	fill(&b, 2, 6, 2, 60);
	batch_pending(bx, 2, &b, SEC_NS);
	assert_seen(&s, want, 7);
	batch_free(bx);
}

/* Ids are compared, never ordered: the step from UINT64_MAX to 0 is ordinary. */
static void test_id_wrap(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(1, record, &s);
	struct nw_conn_batch b;
	const uint64_t want[] = { 1, 2, 1, 2, 3, 4, 9, 10 };

	fill(&b, 0, UINT64_MAX, 2, 1);
	batch_pending(bx, 0, &b, SEC_NS);
	fill(&b, 0, 0, 2, 1); /* the next id after the wrap, different entries numbered alike */
	batch_pending(bx, 0, &b, SEC_NS);
	fill(&b, 0, UINT64_MAX, NW_BATCH_SIZE, 1);
	batch_full(bx, &b, SEC_NS);
	fill(&b, 0, 0, 1, 7);
	batch_pending(bx, 0, &b, SEC_NS); /* id 0 already gave 2 */
	fill(&b, 0, 0, NW_BATCH_SIZE, 7);
	batch_full(bx, &b, SEC_NS);
	assert_seen(&s, want, 8);
	fill(&b, 0, 1, NW_BATCH_SIZE, 7);
	batch_full(bx, &b, SEC_NS);
	assert_int_equal(s.n, 12);
	batch_free(bx);
}

/* A batch being filled, empty batches, impossible batches. */
static void test_busy_empty_bad(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(2, record, &s);
	struct nw_conn_batch b;
	struct batch_stats st;

	fill(&b, 0, 1, 2, 40);
	b.busy = 1;
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), 0);
	fill(&b, 0, 1, 0, 40);
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), 0);
	assert_int_equal(s.n, 0);
	fill(&b, 0, 1, 2, 40);
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), 0);
	assert_int_equal(s.n, 2); /* taken once it is no longer busy */

	fill(&b, 2, 1, NW_BATCH_SIZE, 1); /* cpu out of range */
	assert_int_equal(batch_full(bx, &b, SEC_NS), -EINVAL);
	fill(&b, 0, 1, 3, 1); /* a "whole" batch that is not full */
	assert_int_equal(batch_full(bx, &b, SEC_NS), -EINVAL);
	fill(&b, 0, 1, 3, 1);
	b.len = NW_BATCH_SIZE + 1;
	assert_int_equal(batch_pending(bx, 0, &b, SEC_NS), -EINVAL);
	assert_int_equal(batch_pending(bx, 5, &b, SEC_NS), -EINVAL);
	batch_get_stats(bx, &st);
	assert_int_equal(st.bad, 4);
	assert_int_equal(s.n, 2);
	assert_null(batch_new(0, record, &s));
	assert_null(batch_new(1, NULL, &s));
	batch_free(bx);
	batch_free(NULL);
}

/* More live ids than slots: the oldest is forgotten (counted); old state expires. */
static void test_slots_evicted_and_expired(void **state)
{
	struct seen s = { 0 };
	struct batch_extractor *bx = batch_new(1, record, &s);
	struct nw_conn_batch b;
	struct batch_stats st;

	for (uint64_t id = 0; id < BATCH_SLOTS_PER_CPU + 1; id++) {
		fill(&b, 0, id, 1, 100 + id);
		batch_pending(bx, 0, &b, SEC_NS + id);
	}
	batch_get_stats(bx, &st);
	assert_int_equal(st.slots_evicted, 1);
	/* id 0 was evicted: its whole batch is delivered from the start */
	fill(&b, 0, 0, NW_BATCH_SIZE, 100);
	batch_full(bx, &b, 2 * SEC_NS);
	batch_get_stats(bx, &st);
	assert_int_equal(st.skipped, 0);
	/* id 2 is still known; id 1 is too, but not after the expiry */
	fill(&b, 0, 2, NW_BATCH_SIZE, 102);
	batch_full(bx, &b, 3 * SEC_NS);
	batch_get_stats(bx, &st);
	assert_int_equal(st.skipped, 1);
	fill(&b, 0, 1, NW_BATCH_SIZE, 101);
	batch_full(bx, &b, 3 * SEC_NS + BATCH_STATE_EXPIRY_NS);
	batch_get_stats(bx, &st);
	assert_int_equal(st.skipped, 1);
	batch_free(bx);
}

/* The real thing: a per-CPU array read through the map fd (root). */
static void test_read_pending_map(void **state)
{
	int ncpus = libbpf_num_possible_cpus(), fd;
	struct nw_conn_batch *vals;
	struct seen s = { 0 };
	struct batch_extractor *bx;
	__u32 key = 0;

	assert_true(ncpus > 0);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "nw_test_batch", sizeof(__u32),
			    sizeof(struct nw_conn_batch), 1, NULL);
	if (fd < 0)
		skip();
	vals = calloc((size_t)ncpus, sizeof(*vals));
	assert_non_null(vals);
	for (int cpu = 0; cpu < ncpus; cpu++)
		fill(&vals[cpu], (unsigned int)cpu, 9, (uint16_t)(cpu % NW_BATCH_SIZE), 1000 * (uint64_t)cpu);
	assert_int_equal(bpf_map_update_elem(fd, &key, vals, BPF_ANY), 0);
	bx = batch_new((unsigned int)ncpus, record, &s);
	int want = 0;
	for (int cpu = 0; cpu < ncpus; cpu++)
		want += cpu % NW_BATCH_SIZE;
	assert_int_equal(batch_read_pending(bx, fd, SEC_NS), want);
	assert_int_equal(batch_read_pending(bx, fd, SEC_NS), 0); /* nothing new */
	assert_int_equal((int)s.n, want);
	batch_free(bx);
	free(vals);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_only),
		cmocka_unit_test(test_pending_then_full),
		cmocka_unit_test(test_interleaved_cpus),
		cmocka_unit_test(test_id_wrap),
		cmocka_unit_test(test_busy_empty_bad),
		cmocka_unit_test(test_slots_evicted_and_expired),
		cmocka_unit_test(test_read_pending_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
