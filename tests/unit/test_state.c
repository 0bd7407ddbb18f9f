/* Unit tests for unprivileged/state.c, state_closed.c (+ keymap.c): per-client
 * deltas, closed connections once and only once, a second client's own
 * deltas, unknown clients, each limit's drop path, client expiry, underflow,
 * zero-delta suppression, same-tuple aggregation, idle-expired connections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unprivileged/keymap.c"
#include "unprivileged/state.c"
#include "unprivileged/state_closed.c"

#define SEC 1000000000ULL

static struct nw_conn tcp(uint64_t cookie, uint64_t sent, uint64_t recv)
{
	struct nw_conn c;

	memset(&c, 0, sizeof(c));
	c.tup.family = NW_FAMILY_INET;
	c.tup.type = NW_TYPE_TCP;
	c.tup.saddr[0] = 127;
	c.tup.saddr[3] = 1;
	c.tup.daddr[0] = 127;
	c.tup.daddr[3] = 1;
	c.tup.sport = (uint16_t)(40000 + cookie);
	c.tup.dport = 8080;
	c.stats.cookie = cookie;
	c.stats.sent_bytes = sent;
	c.stats.recv_bytes = recv;
	c.stats.sent_packets = sent ? 1 + sent / 1000 : 0;
	c.stats.tcp_established = 1;
	return c;
}

/* The entry for cookie in the last answer, or NULL; fails on duplicates. */
static const struct state_conn *find_cookie(const struct state_conn *v, size_t n, uint64_t cookie)
{
	const struct state_conn *hit = NULL;

	for (size_t i = 0; i < n; i++)
		if (v[i].conn.stats.cookie == cookie) {
			if (hit)
				fail_msg("cookie %llu reported twice", (unsigned long long)cookie);
			hit = &v[i];
		}
	return hit;
}

static void get(struct state *s, const char *id, uint64_t now, const struct nw_conn *act, size_t n_act,
		const struct state_conn **v, size_t *n)
{
	assert_int_equal(state_get_delta(s, id, now, act, n_act, v, n), 0);
}

static void test_register(void **state)
{
	struct state_limits lim = { .max_clients = 2 };
	struct state *s = state_new(&lim);
	char long_id[STATE_CLIENT_ID_MAX + 2];

	assert_non_null(s);
	assert_int_equal(state_register(s, "a", 1), 0);
	assert_int_equal(state_register(s, "a", 2), 1); /* idempotent */
	assert_int_equal(state_clients(s), 1);
	assert_int_equal(state_register(s, "", 1), -EINVAL);
	assert_int_equal(state_register(s, NULL, 1), -EINVAL);
	assert_int_equal(state_register(s, "bad\nid", 1), -EINVAL);
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(state_register(s, long_id, 1), -EINVAL);
	long_id[STATE_CLIENT_ID_MAX] = '\0';
	assert_int_equal(state_register(s, long_id, 1), 0); /* exactly the max */
	assert_int_equal(state_register(s, "c", 1), -ENOSPC);
	state_free(s);
}

static void test_unknown_client(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	size_t n;

	assert_int_equal(state_get_delta(s, "nobody", 1, NULL, 0, &v, &n), -ENOENT);
	assert_int_equal(state_register(s, "a", 1), 0);
	assert_int_equal(state_get_delta(s, "A", 1, NULL, 0, &v, &n), -ENOENT);
	state_free(s);
}

static void test_deltas(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act[2];
	size_t n;

	assert_int_equal(state_register(s, "a", 1), 0);
	act[0] = tcp(1, 100, 10);
	get(s, "a", 2, act, 1, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].last.sent_bytes, 100); /* first sight: everything */
	assert_int_equal(v[0].last.recv_bytes, 10);
	assert_int_equal(v[0].last.tcp_established, 1);
	assert_false(v[0].closed);

	act[0] = tcp(1, 250, 15);
	act[1] = tcp(2, 7, 0);
	get(s, "a", 3, act, 2, &v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(find_cookie(v, n, 1)->last.sent_bytes, 150);
	assert_int_equal(find_cookie(v, n, 1)->last.recv_bytes, 5);
	assert_int_equal(find_cookie(v, n, 1)->last.tcp_established, 0);
	assert_int_equal(find_cookie(v, n, 1)->conn.stats.sent_bytes, 250); /* monotonic */
	assert_int_equal(find_cookie(v, n, 2)->last.sent_bytes, 7);

	/* no change since the last answer: left out (both were reported before) */
	get(s, "a", 4, act, 2, &v, &n);
	assert_int_equal(n, 0);
	/* one moves again: only that one */
	act[1].stats.recv_bytes = 3;
	get(s, "a", 5, act, 2, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].conn.stats.cookie, 2);
	assert_int_equal(v[0].last.recv_bytes, 3);
	state_free(s);
}

static void test_second_client_own_deltas(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act = tcp(1, 100, 0);
	size_t n;

	state_register(s, "a", 1);
	get(s, "a", 2, &act, 1, &v, &n);
	act = tcp(1, 300, 0);
	state_register(s, "b", 3);
	get(s, "b", 3, &act, 1, &v, &n);
	assert_int_equal(find_cookie(v, n, 1)->last.sent_bytes, 300); /* b never saw it */
	get(s, "a", 4, &act, 1, &v, &n);
	assert_int_equal(find_cookie(v, n, 1)->last.sent_bytes, 200); /* a saw 100 */
	act = tcp(1, 310, 0);
	get(s, "b", 5, &act, 1, &v, &n);
	assert_int_equal(find_cookie(v, n, 1)->last.sent_bytes, 10);
	state_free(s);
}

static void test_closed_once_per_client(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act = tcp(1, 100, 0), fin = tcp(1, 180, 4);
	size_t n;

	state_register(s, "a", 1);
	state_register(s, "b", 1);
	get(s, "a", 2, &act, 1, &v, &n);
	fin.stats.tcp_closed = 1;
	fin.stats.flags = NW_CONN_F_CLOSED;
	state_store_closed(s, &fin, 3);
	assert_int_equal(state_closed_buffered(s), 2); /* fanned out to both */
	assert_true(state_closed_recently(s, &fin));

	/* the map entry is still there (race): reported once, as closed */
	get(s, "a", 4, &act, 1, &v, &n);
	assert_int_equal(n, 1);
	assert_true(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 80); /* 180 final - 100 seen */
	assert_int_equal(v[0].last.recv_bytes, 4);
	assert_int_equal(v[0].last.tcp_closed, 1);
	/* never again for a */
	get(s, "a", 5, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	get(s, "a", 6, &act, 1, &v, &n);
	assert_int_equal(n, 0); /* a stale active entry of a closed conn stays hidden */

	/* b gets it too, once, with its own delta (it never saw the conn) */
	get(s, "b", 7, NULL, 0, &v, &n);
	assert_int_equal(n, 1);
	assert_true(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 180);
	get(s, "b", 8, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	assert_int_equal(state_closed_buffered(s), 0);

	/* the same close reported again (event + map sweep): ignored */
	state_store_closed(s, &fin, 9);
	get(s, "a", 10, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	struct state_stats st;
	state_get_stats(s, &st);
	assert_int_equal(st.closed_duplicates, 1);
	assert_int_equal(st.closed_received, 2);
	state_free(s);
}

static void test_closed_before_register_not_seen(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn fin = tcp(5, 1, 1);
	struct state_stats st;
	size_t n;

	state_store_closed(s, &fin, 1);
	state_register(s, "late", 2);
	get(s, "late", 3, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	state_get_stats(s, &st);
	assert_int_equal(st.closed_no_clients, 1);
	state_free(s);
}

static void test_short_lived_and_race_grace(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act = tcp(1, 100, 0), fin;
	size_t n;

	state_register(s, "a", 1);
	/* opened and closed between two calls: full counters as the delta */
	fin = tcp(9, 500, 50);
	state_store_closed(s, &fin, 2);
	get(s, "a", 3, &act, 1, &v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(find_cookie(v, n, 9)->last.sent_bytes, 500);
	assert_true(find_cookie(v, n, 9)->closed);

	/* conn 1 vanishes from the scan before its close event is seen: the
	 * next call still subtracts what was seen */
	get(s, "a", 4, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	fin = tcp(1, 130, 0);
	state_store_closed(s, &fin, 5);
	get(s, "a", 6, NULL, 0, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].last.sent_bytes, 30);
	state_free(s);
}

static void test_udp_peers_distinct(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act[2];
	size_t n;

	act[0] = tcp(3, 10, 0);
	act[0].tup.type = NW_TYPE_UDP;
	act[1] = act[0];
	act[1].tup.daddr[3] = 2;
	act[1].stats.sent_bytes = 20;
	state_register(s, "a", 1);
	get(s, "a", 2, act, 2, &v, &n);
	assert_int_equal(n, 2);
	act[1].stats.sent_bytes = 25;
	get(s, "a", 3, act, 2, &v, &n);
	assert_int_equal(n, 1); /* the other peer did not move */
	assert_int_equal(v[0].last.sent_bytes, 5);
	assert_int_equal(v[0].conn.tup.daddr[3], 2);
	/* one peer closed (socket released): the other stays active */
	state_store_closed(s, &act[0], 4);
	act[1].stats.sent_bytes = 26;
	get(s, "a", 5, act, 2, &v, &n);
	assert_int_equal(n, 2);
	assert_true(v[0].closed != v[1].closed);
	state_free(s);
}

static void test_underflow(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act = tcp(1, 100, 0);
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	get(s, "a", 2, &act, 1, &v, &n);
	act.stats.sent_bytes = 50;
	act.stats.recv_bytes = 1; /* something moved: reported, with no sent bytes */
	get(s, "a", 3, &act, 1, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].last.sent_bytes, 0);
	assert_int_equal(v[0].last.recv_bytes, 1);
	act.stats.sent_bytes = 120;
	get(s, "a", 4, &act, 1, &v, &n);
	assert_int_equal(v[0].last.sent_bytes, 20); /* baseline stayed at the max */
	state_get_stats(s, &st);
	assert_int_equal(st.stats_underflows, 1);
	state_free(s);
}

static void test_limits(void **state)
{
	struct state_limits lim = { .max_closed = 2, .max_client_stats = 1 };
	struct state *s = state_new(&lim);
	const struct state_conn *v;
	struct nw_conn act[2] = { tcp(1, 1, 0), tcp(2, 1, 0) }, fin;
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	get(s, "a", 2, act, 2, &v, &n);
	assert_int_equal(n, 1); /* snapshot table holds one */
	for (uint64_t c = 10; c < 13; c++) {
		fin = tcp(c, 1, 1);
		state_store_closed(s, &fin, 3);
	}
	assert_int_equal(state_closed_buffered(s), 2);
	state_get_stats(s, &st);
	assert_int_equal(st.conn_dropped, 1);
	assert_int_equal(st.closed_dropped, 1);
	state_free(s);
}

static void test_expiry(void **state)
{
	struct state_limits lim = { .client_expiry_ns = 10 * SEC, .closed_dedup_ns = 5 * SEC };
	struct state *s = state_new(&lim);
	const struct state_conn *v;
	struct nw_conn fin = tcp(1, 1, 1);
	size_t n;

	state_register(s, "a", 1 * SEC);
	state_register(s, "b", 1 * SEC);
	get(s, "b", 8 * SEC, NULL, 0, &v, &n);
	state_store_closed(s, &fin, 9 * SEC);
	state_tick(s, 12 * SEC); /* a idle 11 s: gone; b idle 4 s */
	assert_int_equal(state_clients(s), 1);
	assert_int_equal(state_get_delta(s, "a", 12 * SEC, NULL, 0, &v, &n), -ENOENT);
	assert_true(state_closed_recently(s, &fin));
	state_tick(s, 15 * SEC); /* closed key older than 5 s: forgotten */
	assert_false(state_closed_recently(s, &fin));
	state_free(s);
}

static void test_expiry_kept_alive(void **state)
{
	struct state_limits lim = { .client_expiry_ns = 10 * SEC };
	struct state *s = state_new(&lim);
	const struct state_conn *v;
	struct nw_conn fin = tcp(1, 1, 1);
	struct state_stats st;
	size_t n;

	state_register(s, "q", 0);     /* kept alive by queries */
	state_register(s, "r", 0);     /* kept alive by registering again */
	state_register(s, "idle", 0);  /* never seen again */
	state_store_closed(s, &fin, 1 * SEC);
	assert_int_equal(state_closed_buffered(s), 3);
	for (uint64_t t = 5; t <= 30; t += 5) {
		get(s, "q", t * SEC, NULL, 0, &v, &n);
		assert_int_equal(state_register(s, "r", t * SEC), 1);
		state_tick(s, t * SEC);
	}
	assert_int_equal(state_clients(s), 2);
	assert_int_equal(state_get_delta(s, "idle", 30 * SEC, NULL, 0, &v, &n), -ENOENT);
	assert_int_equal(state_closed_buffered(s), 1); /* r's; idle's went with it */
	/* exactly the expiry is not past it */
	state_tick(s, 40 * SEC);
	assert_int_equal(state_clients(s), 2);
	state_tick(s, 40 * SEC + 1);
	assert_int_equal(state_clients(s), 0);
	state_get_stats(s, &st);
	assert_int_equal(st.clients_expired, 3);
	assert_int_equal(st.clients_registered, 3);
	/* an expired id registers anew, with nothing of its old state */
	assert_int_equal(state_register(s, "r", 41 * SEC), 0);
	get(s, "r", 42 * SEC, NULL, 0, &v, &n);
	assert_int_equal(n, 0);
	state_free(s);
}

static void test_max_clients_refused(void **state)
{
	struct state_limits lim = { .max_clients = 1 };
	struct state *s = state_new(&lim);
	struct state_stats st;

	assert_int_equal(state_register(s, "a", 1), 0);
	assert_int_equal(state_register(s, "b", 1), -ENOSPC);
	assert_int_equal(state_register(s, "c", 1), -ENOSPC);
	assert_int_equal(state_register(s, "a", 2), 1); /* a known id is not refused */
	state_get_stats(s, &st);
	assert_int_equal(st.clients_refused, 2);
	state_free(s);
}

static void test_client_stats_limit(void **state)
{
	struct state_limits lim = { .max_client_stats = 2 };
	struct state *s = state_new(&lim);
	const struct state_conn *v;
	struct nw_conn act[3] = { tcp(1, 10, 0), tcp(2, 20, 0), tcp(3, 30, 0) };
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	get(s, "a", 2, act, 3, &v, &n);
	assert_int_equal(n, 2);
	assert_null(find_cookie(v, n, 3));
	state_get_stats(s, &st);
	assert_int_equal(st.conn_dropped, 1);
	/* once 1 is gone from two answers (one of grace) its slot is free for 3 */
	get(s, "a", 3, &act[1], 2, &v, &n);
	assert_null(find_cookie(v, n, 3));
	get(s, "a", 4, &act[1], 2, &v, &n);
	assert_null(find_cookie(v, n, 3));
	get(s, "a", 5, &act[1], 2, &v, &n);
	assert_non_null(find_cookie(v, n, 3));
	assert_int_equal(find_cookie(v, n, 3)->last.sent_bytes, 30);
	state_free(s);
}

static struct nw_conn udp_empty(uint64_t cookie)
{
	struct nw_conn c = tcp(cookie, 0, 0);

	c.tup.type = NW_TYPE_UDP;
	c.stats.tcp_established = 0;
	c.stats.sent_packets = 0;
	return c;
}

/* Full closed buffer: traffic evicts empty connections first (Datadog's dropEmpty). */
static void test_closed_limit_empty_first(void **state)
{
	struct state_limits lim = { .max_closed = 3 };
	struct state *s = state_new(&lim);
	const struct state_conn *v;
	struct nw_conn c;
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	c = udp_empty(1);
	state_store_closed(s, &c, 2);
	c = tcp(2, 5, 5);
	state_store_closed(s, &c, 2);
	c = udp_empty(3);
	state_store_closed(s, &c, 2);
	assert_int_equal(state_closed_buffered(s), 3);
	c = tcp(4, 7, 0); /* full: replaces an empty one */
	state_store_closed(s, &c, 3);
	c = udp_empty(5); /* full, and empty itself: dropped */
	state_store_closed(s, &c, 3);
	c = tcp(6, 9, 0); /* replaces the last empty one */
	state_store_closed(s, &c, 3);
	c = tcp(7, 9, 0); /* nothing empty left: dropped */
	state_store_closed(s, &c, 3);
	state_get_stats(s, &st);
	assert_int_equal(st.closed_dropped, 4);
	assert_int_equal(st.closed_empty_evicted, 2);
	get(s, "a", 4, NULL, 0, &v, &n);
	assert_int_equal(n, 3);
	assert_non_null(find_cookie(v, n, 2));
	assert_non_null(find_cookie(v, n, 4));
	assert_non_null(find_cookie(v, n, 6));
	for (size_t i = 0; i < n; i++)
		assert_true(v[i].closed);

	/* an empty buffered conn that shows traffic when reported again is no
	 * longer first in line for eviction */
	c = udp_empty(10);
	state_store_closed(s, &c, 5);
	c = udp_empty(11);
	state_store_closed(s, &c, 5);
	state_tick(s, 5); /* nothing old enough to forget */
	{
		/* the same connection closed again (event + sweep) is a duplicate... */
		struct client *cl = s->clients[0];
		struct nw_conn_key k;
		c = udp_empty(10);
		c.stats.recv_bytes = 3;
		state_key(&c, &k);
		client_add_closed(s, cl, &c, &k); /* ...but the buffer keeps the latest */
		assert_int_equal(cl->n_empty, 1);
		assert_int_equal(cl->closed[0].conn.stats.cookie, 10);
		assert_int_equal(cl->closed[1].conn.stats.cookie, 11);
	}
	c = tcp(12, 1, 0);
	state_store_closed(s, &c, 6);
	c = tcp(13, 1, 0); /* full: 11 (empty) goes, 10 (now with traffic) stays */
	state_store_closed(s, &c, 6);
	get(s, "a", 7, NULL, 0, &v, &n);
	assert_int_equal(n, 3);
	assert_int_equal(find_cookie(v, n, 10)->last.recv_bytes, 3);
	assert_null(find_cookie(v, n, 11));
	state_free(s);
}

/* Closed keys are remembered in a bounded FIFO: the oldest is forgotten first. */
static void test_closed_keys_bounded(void **state)
{
	struct state_limits lim = { .closed_dedup_max = 4, .closed_dedup_ns = 10 * SEC };
	struct state *s = state_new(&lim);
	struct nw_conn c[6];
	struct state_stats st;

	state_register(s, "a", 0);
	for (uint64_t i = 0; i < 6; i++) {
		c[i] = tcp(i + 1, 1, 0);
		state_store_closed(s, &c[i], (i + 1) * SEC);
	}
	state_get_stats(s, &st);
	assert_int_equal(st.dedup_full, 2);
	assert_false(state_closed_recently(s, &c[0]));
	assert_false(state_closed_recently(s, &c[1]));
	for (int i = 2; i < 6; i++)
		assert_true(state_closed_recently(s, &c[i]));
	state_store_closed(s, &c[5], 7 * SEC); /* remembered: a duplicate */
	state_store_closed(s, &c[0], 7 * SEC); /* forgotten: reported again */
	state_get_stats(s, &st);
	assert_int_equal(st.closed_duplicates, 1);
	assert_int_equal(st.dedup_full, 3);
	/* by age: keys of 4..6 s are older than 10 s at 16.5 s, 7 s ones are not */
	state_tick(s, 16 * SEC + SEC / 2);
	assert_false(state_closed_recently(s, &c[3]));
	assert_false(state_closed_recently(s, &c[5]));
	assert_true(state_closed_recently(s, &c[0]));
	state_free(s);
}

static void test_zero_delta_suppressed(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act[2] = { udp_empty(1), tcp(2, 100, 0) }, fin;
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	state_register(s, "b", 1);
	/* first report always sent, even with nothing counted yet */
	get(s, "a", 2, act, 2, &v, &n);
	assert_int_equal(n, 2);
	assert_int_equal(find_cookie(v, n, 1)->last.sent_bytes, 0);
	for (int i = 0; i < 3; i++) {
		get(s, "a", 3, act, 2, &v, &n);
		assert_int_equal(n, 0);
	}
	/* another client has its own first report */
	get(s, "b", 3, act, 2, &v, &n);
	assert_int_equal(n, 2);
	/* any counter moving brings it back: retransmits, packets, established */
	act[1].stats.retransmits = 1;
	get(s, "a", 4, act, 2, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].last.retransmits, 1);
	act[0].stats.recv_packets = 1;
	get(s, "a", 5, act, 2, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].conn.stats.cookie, 1);
	/* closed with nothing new since the last answer: still sent, once */
	fin = act[1];
	fin.stats.flags |= NW_CONN_F_CLOSED;
	state_store_closed(s, &fin, 6);
	get(s, "a", 6, act, 2, &v, &n);
	assert_int_equal(n, 1);
	assert_true(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 0);
	assert_int_equal(v[0].last.retransmits, 0);
	get(s, "a", 7, act, 2, &v, &n);
	assert_int_equal(n, 0);
	state_get_stats(s, &st);
	/* 3 calls x 2, then the one that did not move in each of the next four */
	assert_int_equal(st.zero_delta_suppressed, 3 * 2 + 4);
	state_free(s);
}

static void test_aggregation(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act[5], fin[3];
	struct state_stats st;
	size_t n;

	/* three sockets of one process with the same tuple (say SO_REUSEPORT UDP
	 * sockets talking to the same peer), a fourth in another process, a
	 * fifth in the other direction */
	for (int i = 0; i < 5; i++) {
		act[i] = tcp((uint64_t)i + 1, 100 * ((uint64_t)i + 1), (uint64_t)i + 1);
		act[i].tup.type = NW_TYPE_UDP;
		act[i].tup.sport = 5353;
		act[i].tup.pid = 77;
		act[i].stats.rtt_us = 0;
		act[i].stats.first_seen_ns = 1000 - (uint64_t)i;
		act[i].stats.last_seen_ns = 2000 + (uint64_t)i;
	}
	act[3].tup.pid = 78;
	act[4].tup.direction = NW_DIR_INCOMING;
	state_register(s, "a", 1);
	get(s, "a", 2, act, 5, &v, &n);
	assert_int_equal(n, 3);
	{
		const struct state_conn *m = find_cookie(v, n, 1);
		assert_non_null(m);
		assert_int_equal(m->merged, 3);
		assert_int_equal(m->conn.stats.sent_bytes, 100 + 200 + 300);
		assert_int_equal(m->conn.stats.recv_bytes, 1 + 2 + 3);
		assert_int_equal(m->last.sent_bytes, 600);
		assert_int_equal(m->conn.stats.first_seen_ns, 998);
		assert_int_equal(m->conn.stats.last_seen_ns, 2002);
		assert_int_equal(find_cookie(v, n, 4)->merged, 1);
		assert_int_equal(find_cookie(v, n, 5)->merged, 1);
	}
	state_get_stats(s, &st);
	assert_int_equal(st.conns_aggregated, 2);

	/* deltas stay per connection: only 2 moved */
	act[1].stats.sent_bytes += 50;
	get(s, "a", 3, act, 5, &v, &n);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].conn.stats.cookie, 2);
	assert_int_equal(v[0].last.sent_bytes, 50);
	assert_int_equal(v[0].merged, 1);

	/* TCP, a port reused by two connections closed between two answers, and
	 * a live one on the same tuple: the closed pair merges, the live one not;
	 * RTT is the mean */
	for (int i = 0; i < 3; i++) {
		fin[i] = tcp(10 + (uint64_t)i, 10, 20);
		fin[i].tup.sport = 40000;
		fin[i].stats.rtt_us = 100 * ((uint32_t)i + 1);
		fin[i].stats.tcp_closed = 1;
	}
	state_store_closed(s, &fin[0], 4);
	state_store_closed(s, &fin[1], 4);
	get(s, "a", 5, &fin[2], 1, &v, &n);
	assert_int_equal(n, 2);
	{
		const struct state_conn *c = find_cookie(v, n, 10), *a = find_cookie(v, n, 12);
		assert_non_null(c);
		assert_non_null(a);
		assert_true(c->closed);
		assert_false(a->closed);
		assert_int_equal(c->merged, 2);
		assert_int_equal(c->conn.stats.tcp_closed, 2);
		assert_int_equal(c->conn.stats.tcp_established, 2);
		assert_int_equal(c->last.tcp_closed, 2);
		assert_int_equal(c->last.recv_bytes, 40);
		assert_int_equal(c->conn.stats.rtt_us, 150);
		assert_int_equal(a->merged, 1);
	}
	state_free(s);
}

/* Idle expiry reports a connection closed without hiding it if it comes back. */
static void test_expired_not_remembered(void **state)
{
	struct state *s = state_new(NULL);
	const struct state_conn *v;
	struct nw_conn act = tcp(1, 100, 0), back;
	struct state_stats st;
	size_t n;

	state_register(s, "a", 1);
	get(s, "a", 2, &act, 1, &v, &n);
	act.stats.flags |= NW_CONN_F_CLOSED;
	state_store_expired(s, &act, 3);
	assert_false(state_closed_recently(s, &act));
	get(s, "a", 4, NULL, 0, &v, &n);
	assert_int_equal(n, 1);
	assert_true(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 0);
	/* traffic again: the kernel made a new entry under the same key */
	back = tcp(1, 30, 0);
	get(s, "a", 5, &back, 1, &v, &n);
	assert_int_equal(n, 1);
	assert_false(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 30);
	/* and when it really closes, that is reported too */
	back.stats.sent_bytes = 35;
	state_store_closed(s, &back, 6);
	get(s, "a", 7, NULL, 0, &v, &n);
	assert_int_equal(n, 1);
	assert_true(v[0].closed);
	assert_int_equal(v[0].last.sent_bytes, 5);
	state_get_stats(s, &st);
	assert_int_equal(st.closed_expired, 1);
	assert_int_equal(st.closed_duplicates, 0);
	state_free(s);
}

/* keymap: against a plain array, with deletes during iteration */
static void test_keymap(void **state)
{
	struct keymap *m = keymap_new(sizeof(struct nw_conn_key), sizeof(uint64_t), 5000);
	static uint8_t present[6000];
	struct nw_conn_key k;
	size_t pos = 0;
	const void *key;
	uint64_t *val;

	assert_non_null(m);
	memset(&k, 0, sizeof(k));
	for (uint64_t i = 0; i < 5000; i++) {
		bool created;
		k.cookie = i * 7919;
		val = keymap_put(m, &k, &created);
		assert_non_null(val);
		assert_true(created);
		*val = i;
		present[i] = 1;
	}
	k.cookie = 1;
	assert_null(keymap_put(m, &k, NULL)); /* at max_entries */
	assert_int_equal(errno, ENOSPC);
	/* delete the odd ones while iterating */
	while (keymap_iter(m, &pos, &key, (void **)&val))
		if (*val % 2) {
			present[*val] = 0;
			keymap_iter_del(m, &pos);
		}
	assert_int_equal(keymap_len(m), 2500);
	for (uint64_t i = 0; i < 5000; i++) {
		k.cookie = i * 7919;
		val = keymap_get(m, &k);
		if (present[i]) {
			assert_non_null(val);
			assert_int_equal(*val, i);
		} else {
			assert_null(val);
		}
	}
	k.cookie = 2 * 7919;
	assert_int_equal(keymap_del(m, &k), 0);
	assert_int_equal(keymap_del(m, &k), -ENOENT);
	keymap_clear(m);
	assert_int_equal(keymap_len(m), 0);
	keymap_free(m);
	assert_null(keymap_new(0, 1, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register),
		cmocka_unit_test(test_unknown_client),
		cmocka_unit_test(test_deltas),
		cmocka_unit_test(test_second_client_own_deltas),
		cmocka_unit_test(test_closed_once_per_client),
		cmocka_unit_test(test_closed_before_register_not_seen),
		cmocka_unit_test(test_short_lived_and_race_grace),
		cmocka_unit_test(test_udp_peers_distinct),
		cmocka_unit_test(test_underflow),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_expiry_kept_alive),
		cmocka_unit_test(test_max_clients_refused),
		cmocka_unit_test(test_client_stats_limit),
		cmocka_unit_test(test_closed_limit_empty_first),
		cmocka_unit_test(test_closed_keys_bounded),
		cmocka_unit_test(test_zero_delta_suppressed),
		cmocka_unit_test(test_aggregation),
		cmocka_unit_test(test_expired_not_remembered),
		cmocka_unit_test(test_keymap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
