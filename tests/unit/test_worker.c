/* Unit tests for unprivileged/worker.c, conntrack.c and handlers.c against a
 * real BPF hash map (needs root; skipped otherwise): map scans, sweeps of
 * released sockets and closed-flagged entries, idle expiry, the tracked
 * connection limit, the drain timer, and the protobuf answers and stats. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unprivileged/keymap.c"
#include "unprivileged/state.c"
#include "unprivileged/state_closed.c"
#include "unprivileged/conntrack.c"
#include "unprivileged/evloop.c"
#include "unprivileged/perfbuf.c"
#include "unprivileged/batch.c"
#include "unprivileged/events.c"
#include "sandbox/limits.c"
#include "unprivileged/worker.c"
#include "unprivileged/handlers.c"

/* USM has its own tests (test_usm_worker.c): here the worker runs without it */
void worker_usm_conn_closed(struct worker_usm *u, const struct nw_conn *c) {}
int worker_usm_drain(struct worker_usm *u) { return 0; }
int worker_usm_register(struct worker_usm *u, const char *id, uint64_t now_ns) { return 0; }
void worker_usm_stats(struct worker_usm *u, void (*add)(void *, const char *, uint64_t), void *ctx) {}
int usm_rpc_http(struct worker_usm *u, const char *id, uint64_t now_ns,
		 Netwarden__GetHTTPStatsResponse **out) { return -ENOENT; }
int usm_rpc_kafka(struct worker_usm *u, const char *id, uint64_t now_ns,
		  Netwarden__GetKafkaStatsResponse **out) { return -ENOENT; }

/* The sandbox (confine.c, testhooks.c) is not under test here. */
void worker_test_record(struct worker *w, const struct nw_conn *c)
{
}

uint64_t worker_sup_get(const struct worker *w, unsigned int idx)
{
	return idx == NW_SUP_RESTARTS ? 2 : 0;
}

/* The RPC server is not under test: handlers only read its stats. */
void rpc_server_get_stats(const struct rpc_server *srv, struct rpc_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->requests = 5;
}

unsigned int rpc_server_clients(const struct rpc_server *srv)
{
	return 1;
}

/* DNS is off here (w->dns NULL): what handlers.c calls of it answers as when off. */
void worker_dns_drain(struct worker_dns *d)
{
}

size_t worker_dns_names(struct worker_dns *d, const struct nw_conn_tuple *t, const char **names,
			size_t max)
{
	return 0;
}

void worker_dns_stats(struct worker_dns *d, void (*add)(void *ctx, const char *name, uint64_t v),
		      void *ctx)
{
}

int dns_rpc_stats(struct worker_dns *d, const char *client_id, Netwarden__GetDNSStatsResponse **out)
{
	return -ENOMEM;
}

int dns_rpc_lookup(struct worker_dns *d, const Netwarden__LookupAddressesRequest *req,
		   Netwarden__LookupAddressesResponse **out)
{
	return -ENOMEM;
}

struct fixture {
	struct worker w;
	int rb_fd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct events_handlers h;

	f->w.conns_fd = bpf_map_create(BPF_MAP_TYPE_HASH, NW_MAP_CONNS, sizeof(struct nw_conn_key),
				       sizeof(struct nw_conn), 256, NULL);
	if (f->w.conns_fd < 0) {
		free(f);
		*state = NULL;
		return 0; /* not root: tests skip */
	}
	f->w.tel_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_TELEMETRY, 4, 8, NW_TEL_MAX, NULL);
	f->rb_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NW_MAP_CLOSED_RB, 0, 0, 1 << 16, NULL);
	h = (struct events_handlers){ worker_on_closed, worker_on_released, &f->w };
	f->w.events = events_new_ringbuf(f->rb_fd, &h);
	f->w.ct = conntrack_new(f->w.conns_fd, 256);
	f->w.state = state_new(NULL);
	f->w.released = keymap_new(sizeof(uint64_t), 0, 4);
	f->w.attach_set = "tracepoint";
	f->w.event_mode = "ringbuf";
	f->w.rpc = (struct rpc_server *)f; /* opaque; only passed to the fakes above */
	assert_true(f->w.tel_fd >= 0 && f->rb_fd >= 0);
	assert_non_null(f->w.events);
	assert_non_null(f->w.ct);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (!f)
		return 0;
	events_free(f->w.events);
	conntrack_free(f->w.ct);
	state_free(f->w.state);
	keymap_free(f->w.released);
	free(f->w.active);
	close(f->w.conns_fd);
	close(f->w.tel_fd);
	close(f->rb_fd);
	free(f);
	return 0;
}

static struct nw_conn_key put(struct fixture *f, uint64_t cookie, uint8_t peer, bool v6, uint64_t sent,
			      uint32_t flags)
{
	struct nw_conn_key k = { .cookie = cookie };
	struct nw_conn c;

	memset(&c, 0, sizeof(c));
	k.peer[0] = peer;
	c.tup.family = v6 ? NW_FAMILY_INET6 : NW_FAMILY_INET;
	c.tup.type = peer ? NW_TYPE_UDP : NW_TYPE_TCP;
	c.tup.direction = NW_DIR_OUTGOING;
	if (v6) {
		/* 2001:db8::1 -> 2001:db8::2 */
		c.tup.saddr[0] = 0x20, c.tup.saddr[1] = 0x01, c.tup.saddr[2] = 0x0d, c.tup.saddr[3] = 0xb8;
		memcpy(c.tup.daddr, c.tup.saddr, 16);
		c.tup.saddr[15] = 1;
		c.tup.daddr[15] = 2;
	} else {
		/* 198.18.0.1 -> 198.18.<peer>.2 */
		c.tup.saddr[0] = 198, c.tup.saddr[1] = 18, c.tup.saddr[3] = 1;
		c.tup.daddr[0] = 198, c.tup.daddr[1] = 18, c.tup.daddr[2] = peer, c.tup.daddr[3] = 2;
	}
	c.tup.sport = (uint16_t)(30000 + cookie);
	c.tup.dport = 53;
	c.tup.pid = 1234;
	c.stats.cookie = cookie;
	c.stats.sent_bytes = sent;
	c.stats.flags = flags;
	assert_int_equal(bpf_map_update_elem(f->w.conns_fd, &k, &c, BPF_ANY), 0);
	return k;
}

static size_t map_len(struct fixture *f)
{
	struct nw_conn_key k, next;
	size_t n = 0;
	bool first = true;

	while (!bpf_map_get_next_key(f->w.conns_fd, first ? NULL : &k, &next) && n < 1000) {
		k = next;
		first = false;
		n++;
	}
	return n;
}

static Netwarden__Response request_conns(struct fixture *f, const char *id)
{
	Netwarden__GetConnectionsRequest g = NETWARDEN__GET_CONNECTIONS_REQUEST__INIT;
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__Response resp = NETWARDEN__RESPONSE__INIT;

	g.client_id = (char *)id;
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_CONNECTIONS;
	req.get_connections = &g;
	worker_handle(&f->w, NULL, &req, &resp);
	return resp;
}

static void do_register(struct fixture *f, const char *id, int want_already)
{
	Netwarden__RegisterRequest r = NETWARDEN__REGISTER_REQUEST__INIT;
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__Response resp = NETWARDEN__RESPONSE__INIT;

	r.client_id = (char *)id;
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &r;
	worker_handle(&f->w, NULL, &req, &resp);
	assert_int_equal(resp.kind_case, NETWARDEN__RESPONSE__KIND_REGISTER);
	assert_string_equal(resp.register_->client_id, id);
	assert_int_equal(resp.register_->already_registered, want_already);
	worker_release(&f->w, &resp);
}

static const Netwarden__Connection *by_cookie(const Netwarden__Response *r, uint64_t cookie, int nth)
{
	for (size_t i = 0; i < r->get_connections->n_conns; i++)
		if (r->get_connections->conns[i]->cookie == cookie && nth-- == 0)
			return r->get_connections->conns[i];
	return NULL;
}

static void test_scan_and_convert(void **state)
{
	struct fixture *f = *state;
	Netwarden__Response r;
	const Netwarden__Connection *c;
	uint8_t packed[4096];

	if (!f)
		skip();
	put(f, 1, 0, false, 100, 0);
	put(f, 2, 0, true, 200, 0);
	do_register(f, "cli", 0);
	do_register(f, "cli", 1);
	r = request_conns(f, "cli");
	assert_int_equal(r.kind_case, NETWARDEN__RESPONSE__KIND_GET_CONNECTIONS);
	assert_int_equal(r.get_connections->n_conns, 2);
	assert_true(r.get_connections->now_ns > 0);
	c = by_cookie(&r, 1, 0);
	assert_non_null(c);
	assert_int_equal(c->saddr.len, 4);
	assert_int_equal(c->saddr.data[0], 198);
	assert_int_equal(c->daddr.data[2], 0);
	assert_int_equal(c->family, NETWARDEN__FAMILY__FAMILY_INET);
	assert_int_equal(c->type, NETWARDEN__CONN_TYPE__CONN_TYPE_TCP);
	assert_int_equal(c->direction, NETWARDEN__DIRECTION__DIRECTION_OUTGOING);
	assert_int_equal(c->sport, 30001);
	assert_int_equal(c->dport, 53);
	assert_int_equal(c->pid, 1234);
	assert_int_equal(c->monotonic->sent_bytes, 100);
	assert_int_equal(c->last->sent_bytes, 100);
	assert_false(c->closed);
	assert_false(c->intra_host); /* 198.18.0.1 -> 198.18.0.2, no local peer */
	c = by_cookie(&r, 2, 0);
	assert_int_equal(c->saddr.len, 16);
	assert_int_equal(c->daddr.data[15], 2);
	assert_int_equal(c->family, NETWARDEN__FAMILY__FAMILY_INET6);
	/* the answer packs */
	assert_true(netwarden__response__get_packed_size(&r) < sizeof(packed));
	netwarden__response__pack(&r, packed);
	worker_release(&f->w, &r);
	assert_int_equal(r.kind_case, NETWARDEN__RESPONSE__KIND__NOT_SET);

	/* unknown client, empty id */
	r = request_conns(f, "other");
	assert_int_equal(r.kind_case, NETWARDEN__RESPONSE__KIND_ERROR);
	assert_int_equal(r.error->code, NETWARDEN__ERROR_CODE__ERROR_UNKNOWN_CLIENT);
	worker_release(&f->w, &r);
	r = request_conns(f, "");
	assert_int_equal(r.error->code, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST);
	worker_release(&f->w, &r);
}

static void test_intra_host_by_peer(void **state)
{
	struct fixture *f = *state;
	struct nw_conn_key k = { .cookie = 7 };
	struct nw_conn c;
	Netwarden__Response r;

	if (!f)
		skip();
	put(f, 1, 0, false, 1, 0); /* 198.18.0.1:30001 -> 198.18.0.2:53 */
	/* the other end of it, also traced on this host */
	memset(&c, 0, sizeof(c));
	c.tup.saddr[0] = 198, c.tup.saddr[1] = 18, c.tup.saddr[3] = 2;
	c.tup.daddr[0] = 198, c.tup.daddr[1] = 18, c.tup.daddr[3] = 1;
	c.tup.sport = 53;
	c.tup.dport = 30001;
	c.tup.direction = NW_DIR_INCOMING;
	c.stats.cookie = 7;
	assert_int_equal(bpf_map_update_elem(f->w.conns_fd, &k, &c, BPF_ANY), 0);
	do_register(f, "cli", 0);
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 2);
	assert_true(by_cookie(&r, 1, 0)->intra_host);
	assert_true(by_cookie(&r, 7, 0)->intra_host);
	assert_int_equal(by_cookie(&r, 7, 0)->direction, NETWARDEN__DIRECTION__DIRECTION_INCOMING);
	worker_release(&f->w, &r);
}

static void test_sweeps(void **state)
{
	struct fixture *f = *state;
	Netwarden__Response r;
	const struct nw_conn *active;
	size_t n;

	if (!f)
		skip();
	do_register(f, "cli", 0);
	put(f, 1, 0, false, 10, 0);
	put(f, 5, 1, false, 11, 0); /* unconnected UDP socket 5, two peers */
	put(f, 5, 2, false, 12, 0);
	put(f, 6, 0, false, 13, NW_CONN_F_CLOSED); /* closed, its event lost */
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 4);
	assert_true(by_cookie(&r, 6, 0)->closed);
	assert_false(by_cookie(&r, 5, 0)->closed);
	worker_release(&f->w, &r);
	assert_int_equal(map_len(f), 3); /* the flagged entry was deleted */

	/* socket 5 released: both peers reported closed once, and deleted */
	worker_on_released(&f->w, 5);
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 2);
	assert_true(by_cookie(&r, 5, 0)->closed);
	assert_true(by_cookie(&r, 5, 1)->closed);
	assert_int_equal(by_cookie(&r, 5, 0)->last->sent_bytes, 0); /* seen before */
	assert_null(by_cookie(&r, 1, 0)); /* active, reported before, unchanged: left out */
	worker_release(&f->w, &r);
	assert_int_equal(map_len(f), 1);
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 0);
	worker_release(&f->w, &r);

	/* a closed event for a still-present entry: reported closed once, the
	 * entry deleted, never reported active again */
	{
		struct nw_conn_closed_event e;
		memset(&e, 0, sizeof(e));
		e.hdr.type = NW_EV_CONN_CLOSED;
		e.hdr.size = sizeof(e);
		assert_int_equal(bpf_map_lookup_elem(f->w.conns_fd, &(struct nw_conn_key){ .cookie = 1 },
						     &e.conn), 0);
		e.conn.stats.sent_bytes = 15;
		assert_int_equal(events_handle_record(f->w.events, &e, sizeof(e)), 0);
	}
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 1);
	assert_true(by_cookie(&r, 1, 0)->closed);
	assert_int_equal(by_cookie(&r, 1, 0)->last->sent_bytes, 5);
	worker_release(&f->w, &r);
	assert_int_equal(map_len(f), 0);

	/* more released sockets than the pending set holds: forced sweeps */
	for (uint64_t c = 100; c < 110; c++)
		worker_on_released(&f->w, c);
	assert_true(f->w.stats.released_forced > 0);
	assert_int_equal(worker_refresh(&f->w, &active, &n), 0);
	assert_int_equal(n, 0);
}

/* An entry last seen age_ms ago (negative: in the future). */
static struct nw_conn_key put_aged(struct fixture *f, uint64_t cookie, uint8_t peer, int64_t age_ms,
				   uint64_t sent)
{
	struct nw_conn_key k = put(f, cookie, peer, false, sent, 0);
	struct nw_conn c;
	uint64_t now = worker_now_ns();

	assert_int_equal(bpf_map_lookup_elem(f->w.conns_fd, &k, &c), 0);
	c.stats.last_seen_ns = (uint64_t)((int64_t)now - age_ms * 1000000LL);
	c.stats.first_seen_ns = c.stats.last_seen_ns - 1000000000ULL;
	assert_int_equal(bpf_map_update_elem(f->w.conns_fd, &k, &c, BPF_ANY), 0);
	return k;
}

static uint64_t stat_of(struct fixture *f, const char *name)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetStatsRequest g = NETWARDEN__GET_STATS_REQUEST__INIT;
	Netwarden__Response r = NETWARDEN__RESPONSE__INIT;
	uint64_t v = UINT64_MAX;

	req.kind_case = NETWARDEN__REQUEST__KIND_GET_STATS;
	req.get_stats = &g;
	worker_handle(&f->w, NULL, &req, &r);
	assert_int_equal(r.kind_case, NETWARDEN__RESPONSE__KIND_GET_STATS);
	for (size_t i = 0; i < r.get_stats->n_stats; i++)
		if (!strcmp(r.get_stats->stats[i]->name, name))
			v = r.get_stats->stats[i]->value;
	worker_release(&f->w, &r);
	if (v == UINT64_MAX)
		fail_msg("GetStats has no '%s'", name);
	return v;
}

static void test_idle_expiry(void **state)
{
	struct fixture *f = *state;
	struct nw_conn_key back;
	Netwarden__Response r;

	if (!f)
		skip();
	nw_limits_default(&f->w.limits);
	f->w.limits.v[NW_LIMIT_TCP_IDLE_TIMEOUT] = 2000;
	f->w.limits.v[NW_LIMIT_UDP_IDLE_TIMEOUT] = 1000;
	do_register(f, "cli", 0);
	put_aged(f, 1, 0, 3000, 100); /* TCP idle 3 s > 2 s: expires */
	put_aged(f, 2, 0, 1500, 200); /* TCP idle 1.5 s: stays */
	put_aged(f, 3, 1, 1500, 300); /* UDP idle 1.5 s > 1 s: expires */
	put_aged(f, 4, 2, 500, 400);  /* UDP idle 0.5 s: stays */
	put(f, 5, 0, false, 500, 0);  /* never seen: age unknown, stays */
	put_aged(f, 6, 3, -10000, 600); /* clock ahead of us: stays */
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 6);
	assert_true(by_cookie(&r, 1, 0)->closed);
	assert_int_equal(by_cookie(&r, 1, 0)->monotonic->sent_bytes, 100);
	assert_int_equal(by_cookie(&r, 1, 0)->last->sent_bytes, 100);
	assert_true(by_cookie(&r, 3, 0)->closed);
	assert_int_equal(by_cookie(&r, 3, 0)->type, NETWARDEN__CONN_TYPE__CONN_TYPE_UDP);
	for (uint64_t c = 2; c <= 6; c++)
		if (c != 3)
			assert_false(by_cookie(&r, c, 0)->closed);
	worker_release(&f->w, &r);
	assert_int_equal(map_len(f), 4); /* the idle ones are gone from the kernel map */
	assert_int_equal(f->w.stats.expired_tcp_idle, 1);
	assert_int_equal(f->w.stats.expired_udp_idle, 1);
	assert_int_equal(stat_of(f, "expired_tcp_idle"), 1);
	assert_int_equal(stat_of(f, "expired_udp_idle"), 1);
	assert_int_equal(stat_of(f, "closed_expired"), 2);

	/* reported closed once: the next answer has nothing (the rest did not move) */
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 0);
	worker_release(&f->w, &r);

	/* traffic again on the expired TCP connection: the kernel makes a new entry,
	 * and it is a connection again, not hidden as closed */
	back = put_aged(f, 1, 0, 0, 7);
	r = request_conns(f, "cli");
	assert_int_equal(r.get_connections->n_conns, 1);
	assert_false(by_cookie(&r, 1, 0)->closed);
	assert_int_equal(by_cookie(&r, 1, 0)->last->sent_bytes, 7);
	worker_release(&f->w, &r);
	assert_int_equal(bpf_map_delete_elem(f->w.conns_fd, &back), 0);

	/* conntrack_take: value and removal in one step; gone is -ENOENT */
	{
		struct nw_conn_key k = put(f, 9, 0, false, 99, 0);
		struct nw_conn c;
		assert_int_equal(conntrack_take(f->w.ct, &k, &c), 0);
		assert_int_equal(c.stats.sent_bytes, 99);
		assert_int_equal(conntrack_take(f->w.ct, &k, &c), -ENOENT);
	}
}

static void test_tracked_limit(void **state)
{
	struct fixture *f = *state;
	const struct nw_conn *active;
	size_t n;

	if (!f)
		skip();
	f->w.limits.v[NW_LIMIT_MAX_TRACKED] = 2;
	put(f, 1, 0, false, 1, 0);
	put(f, 2, 0, false, 2, 0);
	put(f, 3, 0, false, 3, 0);
	assert_int_equal(worker_refresh(&f->w, &active, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(f->w.stats.tracked_dropped, 1);
	assert_int_equal(stat_of(f, "conns_tracked_dropped"), 1);
}

/* GetStats: every new counter, and the limits the worker runs with as config_* */
/* ---- the drain timer ----------------------------------------------------------
 * A socket filter that submits one closed event to the fixture's ring with
 * BPF_RB_NO_WAKEUP, as conn.bpf.c does below the wakeup threshold. */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
	return i;
}

static int load_no_wakeup_prog(int rb_fd)
{
	const int16_t sz = (int16_t)sizeof(struct nw_conn_closed_event);
	struct bpf_insn p[64];
	int n = 0;

	_Static_assert(sizeof(struct nw_conn_closed_event) % 8 == 0 &&
		       sizeof(struct nw_conn_closed_event) / 8 < 48, "one store per 8 bytes fits");
	for (int16_t off = -sz; off < 0; off += 8)
		p[n++] = insn(BPF_ST | BPF_MEM | BPF_DW, 10, 0, off, 0);
	p[n++] = insn(BPF_ST | BPF_MEM | BPF_W, 10, 0, -sz, NW_EV_CONN_CLOSED);  /* hdr.type */
	p[n++] = insn(BPF_ST | BPF_MEM | BPF_W, 10, 0, (int16_t)(-sz + 4), sz);   /* hdr.size */
	p[n++] = insn(BPF_ST | BPF_MEM | BPF_DW, 10, 0,
		      (int16_t)(-sz + offsetof(struct nw_conn_closed_event, conn.stats.cookie)), 4242);
	p[n++] = insn(BPF_LD | BPF_DW | BPF_IMM, 1, BPF_PSEUDO_MAP_FD, 0, rb_fd);
	p[n++] = insn(0, 0, 0, 0, 0);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_X, 2, 10, 0, 0);
	p[n++] = insn(BPF_ALU64 | BPF_ADD | BPF_K, 2, 0, 0, -sz);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 3, 0, 0, sz);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 4, 0, 0, BPF_RB_NO_WAKEUP);
	p[n++] = insn(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output);
	p[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0);
	p[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "nw_test_nowake", "GPL", p, (size_t)n, NULL);
}

/* Records that never wake the worker are read by the drain timer; the tick
 * comes every WORKER_TICK_MS of drain intervals, whatever the interval. */
static void test_drain_tick(void **state)
{
	struct fixture *f = *state;
	unsigned char pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);
	struct epoll_event ev;
	struct events_stats es;
	int prog, ring_epfd = -1, due = 0;

	if (!f)
		skip();
	prog = load_no_wakeup_prog(f->rb_fd);
	assert_true(prog >= 0);
	assert_int_equal(bpf_prog_test_run_opts(prog, &o), 0);
	assert_int_equal(bpf_prog_test_run_opts(prog, &o), 0);
	close(prog);
	/* nothing woke the ring's epoll fd: only the timer reads these */
	assert_int_equal(events_fds(f->w.events, &ring_epfd, 1), 1);
	assert_int_equal(epoll_wait(ring_epfd, &ev, 1, 0), 0);
	assert_false(worker_drain_tick(&f->w, 1)); /* drain_interval unset: its default, 100 ms */
	events_get_stats(f->w.events, &es);
	assert_int_equal(es.closed, 2);
	assert_int_equal(stat_of(f, "timer_drains"), 1);

	/* the tick every 10th expiration at 100 ms, also when reads were late */
	for (int i = 2; i <= 30; i++)
		due += worker_drain_tick(&f->w, 1) ? i : 0;
	assert_int_equal(due, 10 + 20 + 30);
	assert_true(worker_drain_tick(&f->w, 25));
	assert_int_equal(stat_of(f, "timer_drains"), 55);
	f->w.limits.v[NW_LIMIT_DRAIN_INTERVAL] = 1000; /* every expiration */
	assert_true(worker_drain_tick(&f->w, 1));
	f->w.limits.v[NW_LIMIT_DRAIN_INTERVAL] = 300;  /* every 3rd: 0.9 s */
	assert_false(worker_drain_tick(&f->w, 2));
	assert_true(worker_drain_tick(&f->w, 1));
	f->w.limits.v[NW_LIMIT_DRAIN_INTERVAL] = 10;   /* every 100th */
	assert_false(worker_drain_tick(&f->w, 99));
	assert_true(worker_drain_tick(&f->w, 1));
	assert_int_equal(stat_of(f, "config_drain_interval_ms"), 10);
}

static void test_stats_limits(void **state)
{
	struct fixture *f = *state;
	static const char *const names[] = {
		"closed_dropped", "closed_empty_evicted", "closed_expired", "conn_dropped",
		"stats_underflows", "zero_delta_suppressed", "conns_aggregated", "clients_refused",
		"clients_expired", "conns_tracked_dropped", "expired_tcp_idle", "expired_udp_idle",
		"closed_dedup_full", "events_lost", "tel_conn_map_full",
	};
	struct state_limits sl;

	if (!f)
		skip();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(stat_of(f, names[i]), 0);
	/* unset limits read as their defaults */
	assert_int_equal(stat_of(f, "config_client_expiry_ms"), 120000);
	assert_int_equal(stat_of(f, "config_max_tracked_connections"), 65536);
	assert_int_equal(stat_of(f, "config_udp_idle_timeout_ms"), 30000);
	nw_limits_default(&f->w.limits);
	f->w.limits.v[NW_LIMIT_MAX_CLOSED_BUFFERED] = 5;
	f->w.limits.v[NW_LIMIT_CLIENT_EXPIRY] = 3000;
	assert_int_equal(stat_of(f, "config_max_closed_buffered"), 5);
	assert_int_equal(stat_of(f, "config_client_expiry_ms"), 3000);
	assert_int_equal(stat_of(f, "config_max_clients"), 64);
	assert_int_equal(stat_of(f, "config_max_client_stats"), 75000);
	assert_int_equal(stat_of(f, "config_tcp_idle_timeout_ms"), 120000);
	assert_int_equal(stat_of(f, "config_max_dns_stats"), 20000);
	assert_int_equal(stat_of(f, "config_max_http_stats"), 10000);
	assert_int_equal(stat_of(f, "config_max_kafka_stats"), 10000);

	/* what the state is built with */
	f->w.limits.v[NW_LIMIT_MAX_TRACKED] = 100000;
	worker_state_limits(&f->w.limits, &sl);
	assert_int_equal(sl.max_closed, 5);
	assert_int_equal(sl.client_expiry_ns, 3000000000ULL);
	assert_int_equal(sl.max_clients, 64);
	assert_int_equal(sl.max_client_stats, 75000);
	assert_int_equal(sl.closed_dedup_max, 100000);
	assert_int_equal(sl.max_dns_stats, 20000);
	f->w.limits.v[NW_LIMIT_MAX_TRACKED] = 1000;
	worker_state_limits(&f->w.limits, &sl);
	assert_int_equal(sl.closed_dedup_max, 65536);
}

static void test_stats(void **state)
{
	struct fixture *f = *state;
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetStatsRequest g = NETWARDEN__GET_STATS_REQUEST__INIT;
	Netwarden__Response r = NETWARDEN__RESPONSE__INIT;
	__u32 idx = NW_TEL_EVENT_LOST;
	__u64 v = 9;
	bool seen_tel = false, seen_rpc = false;

	if (!f)
		skip();
	assert_int_equal(bpf_map_update_elem(f->w.tel_fd, &idx, &v, BPF_ANY), 0);
	f->w.seccomp_syscalls = 33;
	do_register(f, "cli", 0);
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_STATS;
	req.get_stats = &g;
	worker_handle(&f->w, NULL, &req, &r);
	assert_int_equal(r.kind_case, NETWARDEN__RESPONSE__KIND_GET_STATS);
	assert_string_equal(r.get_stats->attach_set, "tracepoint");
	assert_string_equal(r.get_stats->event_mode, "ringbuf");
	assert_int_equal(r.get_stats->clients, 1);
	for (size_t i = 0; i < r.get_stats->n_stats; i++) {
		const Netwarden__Stat *s = r.get_stats->stats[i];
		if (!strcmp(s->name, "tel_event_lost"))
			seen_tel = s->value == 9;
		if (!strcmp(s->name, "rpc_requests"))
			seen_rpc = s->value == 5;
		if (!strcmp(s->name, "seccomp_allowlist_syscalls"))
			assert_int_equal(s->value, 33);
	}
	assert_true(seen_tel && seen_rpc);
	worker_release(&f->w, &r);

	/* an empty request */
	req.kind_case = NETWARDEN__REQUEST__KIND__NOT_SET;
	worker_handle(&f->w, NULL, &req, &r);
	assert_int_equal(r.error->code, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST);
	worker_release(&f->w, &r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_and_convert, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intra_host_by_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweeps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tracked_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_tick, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
