/* Unit tests for unprivileged/perfbuf.c on a fake mmap area (header page +
 * data ring written the way the kernel does), and for the record checks in
 * unprivileged/events.c. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "unprivileged/perfbuf.c"
#include "unprivileged/evloop.c"
#include "unprivileged/events.c"
#include "unprivileged/batch.c"

#define RING 256 /* data bytes: small, so records wrap */

struct fake {
	struct perf_event_mmap_page meta;
	unsigned char data[RING];
	unsigned char scratch[RING];
	struct perfbuf_ring r;
	uint64_t head; /* producer position */
};

struct seen {
	int n;
	unsigned char buf[8][RING];
	uint32_t size[8];
	uint64_t lost;
};

static void on_sample(void *ctx, int cpu, const void *data, uint32_t size)
{
	struct seen *s = ctx;

	assert_int_equal(cpu, 3);
	assert_true(s->n < 8 && size <= RING);
	memcpy(s->buf[s->n], data, size);
	s->size[s->n++] = size;
}

static void on_lost(void *ctx, int cpu, uint64_t lost)
{
	((struct seen *)ctx)->lost += lost;
}

static void fake_init(struct fake *f, uint64_t start)
{
	memset(f, 0, sizeof(*f));
	f->r.meta = &f->meta;
	f->r.data = f->data;
	f->r.size = RING;
	f->r.cpu = 3;
	f->r.scratch = f->scratch;
	f->head = start;
	f->meta.data_head = start;
	f->meta.data_tail = start;
	memset(f->data, 0xee, sizeof(f->data));
}

/* Write bytes at the producer position, wrapping like the kernel. */
static void produce(struct fake *f, const void *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		f->data[(f->head + i) & (RING - 1)] = ((const unsigned char *)p)[i];
	f->head += len;
}

static void publish(struct fake *f)
{
	__atomic_store_n(&f->meta.data_head, f->head, __ATOMIC_RELEASE);
}

/* A PERF_RECORD_SAMPLE with raw data padded to 8 bytes, as the kernel does. */
static void put_sample(struct fake *f, const void *raw, uint32_t len)
{
	uint32_t padded = (uint32_t)((len + 4 + 7) & ~7u) - 4;
	struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = (uint16_t)(8 + 4 + padded) };
	unsigned char zero[8] = { 0 };

	produce(f, &h, sizeof(h));
	produce(f, &padded, 4);
	produce(f, raw, len);
	produce(f, zero, padded - len);
}

static void put_lost(struct fake *f, uint64_t lost)
{
	struct lost_rec l = { .h = { .type = PERF_RECORD_LOST, .size = sizeof(l) }, .id = 1, .lost = lost };

	produce(f, &l, sizeof(l));
}

static void pattern(unsigned char *p, size_t n, unsigned char seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i);
}

static void test_empty(void **state)
{
	struct fake f;
	struct seen s = { 0 };
	struct perfbuf_stats st = { 0 };

	fake_init(&f, 0);
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(f.meta.data_tail, 0);
}

static void test_samples_and_lost(void **state)
{
	struct fake f;
	struct seen s = { 0 };
	struct perfbuf_stats st = { 0 };
	unsigned char a[20], b[36];

	fake_init(&f, 0);
	pattern(a, sizeof(a), 1);
	pattern(b, sizeof(b), 100);
	put_sample(&f, a, sizeof(a));
	put_lost(&f, 7);
	put_sample(&f, b, sizeof(b));
	/* not yet published: nothing visible */
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 0);
	publish(&f);
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 3);
	assert_int_equal(s.n, 2);
	assert_true(s.size[0] >= sizeof(a)); /* padded */
	assert_memory_equal(s.buf[0], a, sizeof(a));
	assert_memory_equal(s.buf[1], b, sizeof(b));
	assert_int_equal(s.lost, 7);
	assert_int_equal(st.lost, 7);
	assert_int_equal(st.samples, 2);
	assert_int_equal(f.meta.data_tail, f.head);
	/* consumed: a second pass sees nothing */
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 0);
}

static void test_wraparound(void **state)
{
	struct fake f;
	struct seen s = { 0 };
	struct perfbuf_stats st = { 0 };
	unsigned char a[100];

	/* start near the end of the ring, far into the stream (positions are
	 * free-running 64-bit counters) */
	fake_init(&f, (1ULL << 40) + RING - 24);
	pattern(a, sizeof(a), 7);
	put_sample(&f, a, sizeof(a)); /* header in the tail, body wraps */
	put_sample(&f, a, 50);
	publish(&f);
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 2);
	assert_int_equal(s.n, 2);
	assert_memory_equal(s.buf[0], a, sizeof(a));
	assert_memory_equal(s.buf[1], a, 50);
	assert_int_equal(st.wrapped, 1);
	assert_int_equal(f.meta.data_tail, f.head);
}

static void test_corrupt_sizes(void **state)
{
	struct fake f;
	struct seen s = { 0 };
	struct perfbuf_stats st = { 0 };
	struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = 0 };
	unsigned char a[16] = { 0 };

	/* a zero-sized record would loop forever: skipped to head */
	fake_init(&f, 0);
	produce(&f, &h, sizeof(h));
	produce(&f, a, sizeof(a));
	publish(&f);
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), -EBADMSG);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(f.meta.data_tail, f.head);

	/* a record claiming more than was published */
	fake_init(&f, 0);
	h.size = 200;
	produce(&f, &h, sizeof(h));
	produce(&f, a, sizeof(a));
	publish(&f);
	memset(&st, 0, sizeof(st));
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), -EBADMSG);
	assert_int_equal(f.meta.data_tail, f.head);

	/* raw size larger than its record: that record is dropped, the next read */
	fake_init(&f, 0);
	{
		uint32_t raw = 1000;
		h.size = 8 + 4 + 12;
		produce(&f, &h, sizeof(h));
		produce(&f, &raw, 4);
		produce(&f, a, 12);
	}
	pattern(a, sizeof(a), 3);
	put_sample(&f, a, 12);
	publish(&f);
	memset(&st, 0, sizeof(st));
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 2);
	assert_int_equal(st.corrupt, 1);
	assert_int_equal(s.n, 1);
	assert_memory_equal(s.buf[0], a, 12);

	/* unread data larger than the ring */
	fake_init(&f, 0);
	f.meta.data_head = RING + 8;
	memset(&st, 0, sizeof(st));
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), -EBADMSG);
	assert_int_equal(f.meta.data_tail, RING + 8);

	/* unknown record types are skipped and counted */
	fake_init(&f, 0);
	h.type = PERF_RECORD_THROTTLE;
	h.size = 24;
	produce(&f, &h, sizeof(h));
	produce(&f, a, 16);
	publish(&f);
	memset(&st, 0, sizeof(st));
	assert_int_equal(perfbuf_ring_consume(&f.r, on_sample, on_lost, &s, &st), 1);
	assert_int_equal(st.other, 1);
}

/* ---- events.c record checks ---------------------------------------------- */

struct got {
	int closed, released;
	struct nw_conn conn;
	uint64_t cookie;
};

static void got_closed(void *ctx, const struct nw_conn *c)
{
	struct got *g = ctx;
	g->closed++;
	g->conn = *c;
}

static void got_released(void *ctx, uint64_t cookie)
{
	struct got *g = ctx;
	g->released++;
	g->cookie = cookie;
}

static void test_event_records(void **state)
{
	struct got g = { 0 };
	struct events ev = { .cb = { got_closed, got_released, &g } };
	struct {
		struct nw_conn_closed_event e;
		unsigned char pad[8];
	} rec;
	struct nw_sock_released_event rel = { .hdr = { NW_EV_SOCK_RELEASED, sizeof(rel) }, .cookie = 77 };

	memset(&rec, 0, sizeof(rec));
	rec.e.hdr.type = NW_EV_CONN_CLOSED;
	rec.e.hdr.size = sizeof(rec.e);
	rec.e.conn.stats.cookie = 42;
	rec.e.conn.stats.sent_bytes = 1234;
	/* exact size, and with perf's padding after it */
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e)), 0);
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e) + 4), 0);
	assert_int_equal(g.closed, 2);
	assert_int_equal(g.conn.stats.sent_bytes, 1234);
	assert_int_equal(events_handle_record(&ev, &rel, sizeof(rel)), 0);
	assert_int_equal(g.cookie, 77);

	/* short, over-declared, wrong declared size, unknown type, bad family */
	assert_int_equal(events_handle_record(&ev, &rec, 4), -EBADMSG);
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e) - 1), -EBADMSG);
	rec.e.hdr.size = sizeof(rec.e) - 8;
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e)), -EBADMSG);
	rec.e.hdr.size = sizeof(rec.e);
	rec.e.hdr.type = 99;
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e)), -EBADMSG);
	rec.e.hdr.type = NW_EV_CONN_CLOSED;
	rec.e.conn.tup.family = 9;
	assert_int_equal(events_handle_record(&ev, &rec, sizeof(rec.e)), -EBADMSG);
	assert_int_equal(g.closed, 2);
	assert_int_equal(ev.stats.bad, 5);
	assert_int_equal(ev.stats.received, 8);
}

/* End to end through the ring reader into the event parser. */
static void perf_to_events(void *ctx, int cpu, const void *data, uint32_t size)
{
	events_handle_record(ctx, data, size);
}

static void test_perf_closed_event_wrapping(void **state)
{
	struct fake f;
	struct got g = { 0 };
	struct events ev = { .cb = { got_closed, got_released, &g } };
	struct perfbuf_stats st = { 0 };
	struct nw_conn_closed_event e;

	memset(&e, 0, sizeof(e));
	e.hdr.type = NW_EV_CONN_CLOSED;
	e.hdr.size = sizeof(e);
	e.conn.stats.cookie = 5;
	e.conn.stats.recv_bytes = 99999;
	fake_init(&f, RING - 64);
	put_sample(&f, &e, sizeof(e));
	publish(&f);
	assert_int_equal(perfbuf_ring_consume(&f.r, perf_to_events, NULL, &ev, &st), 1);
	assert_int_equal(g.closed, 1);
	assert_int_equal(g.conn.stats.recv_bytes, 99999);
	assert_int_equal(st.wrapped, 1);
}

/* ---- the real kernel ------------------------------------------------------
 * A socket filter that bpf_perf_event_output()s one nw_conn_closed_event,
 * run with BPF_PROG_TEST_RUN: real perf rings, real wrap-around, real
 * PERF_RECORD_LOST. Needs root; skipped otherwise. */

#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <sched.h>
#include <sys/syscall.h>

#define NCPU_MAX 64

struct kern {
	int ncpu, map_fd, prog_fd;
	int fds[NCPU_MAX], cpus[NCPU_MAX];
};

static struct bpf_insn I(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
	return i;
}

static int load_prog_kind(int map_fd, bool ringbuf)
{
	struct bpf_insn p[64];
	int n = 0;

	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 6, 1, 0, 0);               /* r6 = ctx */
	for (int i = 0; i < 17; i++)                                        /* zero 136 bytes */
		p[n++] = I(BPF_ST | BPF_MEM | BPF_DW, 10, 0, (int16_t)(-136 + 8 * i), 0);
	p[n++] = I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -136, NW_EV_CONN_CLOSED);  /* hdr.type */
	p[n++] = I(BPF_ST | BPF_MEM | BPF_W, 10, 0, -132, 136);               /* hdr.size */
	p[n++] = I(BPF_ST | BPF_MEM | BPF_DW, 10, 0,
		   (int16_t)(-136 + offsetof(struct nw_conn_closed_event, conn.stats.cookie)), 4242);
	if (ringbuf) {
		/* bpf_ringbuf_output(map, data, 136, 0) */
		p[n++] = I(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, map_fd);
		p[n++] = I(0, 0, 0, 0, 0);
		p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
		p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -136);
		p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, 136);
		p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, 0);
		p[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output);
		p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
		p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "nw_test_rb", "GPL", p, (size_t)n, NULL);
	}
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 1, 6, 0, 0);                /* r1 = ctx */
	p[n++] = I(BPF_LD | BPF_DW | BPF_IMM, 2, BPF_PSEUDO_MAP_FD, 0, map_fd);
	p[n++] = I(0, 0, 0, 0, 0);
	p[n++] = I(BPF_LD | BPF_DW | BPF_IMM, 3, 0, 0, (int32_t)0xffffffff); /* BPF_F_CURRENT_CPU */
	p[n++] = I(0, 0, 0, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_X, 4, 10, 0, 0);
	p[n++] = I(BPF_ALU64 | BPF_ADD | BPF_K, 4, 0, 0, -136);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 5, 0, 0, 136);
	p[n++] = I(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_perf_event_output);
	p[n++] = I(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = I(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "nw_test_perf", "GPL", p, (size_t)n, NULL);
}

static bool kern_open(struct kern *k)
{
	memset(k, 0, sizeof(*k));
	k->ncpu = (int)sysconf(_SC_NPROCESSORS_CONF);
	if (k->ncpu <= 0 || k->ncpu > NCPU_MAX)
		return false;
	k->map_fd = bpf_map_create(BPF_MAP_TYPE_PERF_EVENT_ARRAY, "nw_test_pb", 4, 4, (uint32_t)k->ncpu, NULL);
	if (k->map_fd < 0)
		return false;
	for (int c = 0; c < k->ncpu; c++) {
		struct perf_event_attr attr = {
			.type = PERF_TYPE_SOFTWARE, .size = sizeof(attr),
			.config = PERF_COUNT_SW_BPF_OUTPUT, .sample_type = PERF_SAMPLE_RAW,
			.sample_period = 1, .wakeup_events = 1, .disabled = 1,
		};
		uint32_t key = (uint32_t)c;
		k->cpus[c] = c;
		k->fds[c] = (int)syscall(__NR_perf_event_open, &attr, -1, c, -1, PERF_FLAG_FD_CLOEXEC);
		assert_true(k->fds[c] >= 0);
		assert_int_equal(bpf_map_update_elem(k->map_fd, &key, &k->fds[c], BPF_ANY), 0);
	}
	k->prog_fd = load_prog_kind(k->map_fd, false);
	assert_true(k->prog_fd >= 0);
	return true;
}

static void kern_run(struct kern *k, int times)
{
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);

	/* one run at a time: repeat may be capped or batched by the kernel */
	for (int i = 0; i < times; i++)
		assert_int_equal(bpf_prog_test_run_opts(k->prog_fd, &o), 0);
}

static void kern_close(struct kern *k)
{
	for (int c = 0; c < k->ncpu; c++)
		close(k->fds[c]);
	close(k->prog_fd);
	close(k->map_fd);
}

static void count_closed(void *ctx, const struct nw_conn *c)
{
	struct got *g = ctx;
	assert_int_equal(c->stats.cookie, 4242);
	g->closed++;
}

static void test_real_perf_rings(void **state)
{
	struct kern k;
	struct got g = { 0 };
	struct events_handlers h = { count_closed, got_released, &g };
	struct events *ev;
	struct events_stats es;
	int total = 0;

	if (!kern_open(&k))
		skip();
	{
		/* all samples on one CPU, so the overrun below overruns one ring */
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		assert_int_equal(sched_setaffinity(0, sizeof(set), &set), 0);
	}
	/* one data page per CPU: 152-byte records wrap every 27 */
	int bfd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NW_MAP_CLOSED_BATCH, sizeof(__u32),
				 sizeof(struct nw_conn_batch), 1, NULL);
	assert_true(bfd >= 0);
	assert_null(events_new_perf(k.fds, k.cpus, (size_t)k.ncpu, 1, -1, &h));
	ev = events_new_perf(k.fds, k.cpus, (size_t)k.ncpu, 1, bfd, &h);
	assert_non_null(ev);
	for (int round = 0; round < 10; round++) {
		kern_run(&k, 20);
		total += 20;
		assert_true(events_drain(ev) >= 20);
		assert_int_equal(g.closed, total);
	}
	events_get_stats(ev, &es);
	assert_int_equal(es.lost, 0);
	assert_int_equal(es.bad, 0);
	assert_true(es.perf_wrapped > 0);
	assert_int_equal(es.perf_corrupt, 0);

	/* overrun one ring without reading: the kernel reports what it lost */
	kern_run(&k, 60);
	events_drain(ev);
	kern_run(&k, 1); /* the lost record is written before the next sample */
	events_drain(ev);
	events_get_stats(ev, &es);
	assert_true(es.lost > 0);
	assert_int_equal((uint64_t)g.closed + es.lost, (uint64_t)total + 61);
	assert_int_equal(es.bad, 0);
	events_free(ev);
	close(bfd);
	kern_close(&k);
}

/* The ring buffer through the event loop: libbpf's epoll fd nested in ours. */
static void test_real_ringbuf_loop(void **state)
{
	struct kern k;
	struct got g = { 0 };
	struct events_handlers h = { count_closed, got_released, &g };
	struct events *ev;
	struct evloop *loop;
	int rb;

	memset(&k, 0, sizeof(k));
	rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "nw_test_rb", 0, 0, 4096, NULL);
	if (rb < 0)
		skip();
	k.prog_fd = load_prog_kind(rb, true);
	assert_true(k.prog_fd >= 0);
	ev = events_new_ringbuf(rb, &h);
	loop = evloop_new();
	assert_non_null(ev);
	assert_non_null(loop);
	assert_int_equal(events_attach(ev, loop), 0);
	assert_int_equal(evloop_run_once(loop, 0), 0); /* nothing yet */
	for (int round = 1; round <= 5; round++) {
		kern_run(&k, 10); /* 10 x 144 bytes in a 4 KiB ring */
		assert_int_equal(evloop_run_once(loop, 1000), 1);
		assert_int_equal(g.closed, 10 * round);
		/* consumed: the nested epoll fd is not ready any more */
		assert_int_equal(evloop_run_once(loop, 0), 0);
	}
	/* overflow: the producer drops, nothing bogus is read */
	kern_run(&k, 40);
	assert_true(events_drain(ev) > 0);
	assert_true(g.closed > 50 && g.closed < 90);
	evloop_free(loop);
	events_free(ev);
	close(k.prog_fd);
	close(rb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_samples_and_lost),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_corrupt_sizes),
		cmocka_unit_test(test_event_records),
		cmocka_unit_test(test_perf_closed_event_wrapping),
		cmocka_unit_test(test_real_perf_rings),
		cmocka_unit_test(test_real_ringbuf_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
