/* Unit tests for unprivileged/state.c (+ keymap.c): per-client deltas,
 * closed connections once and only once, a second client's own deltas,
 * unknown clients, limits and expiry. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "unprivileged/keymap.c"
#include "unprivileged/state.c"

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
		cmocka_unit_test(test_keymap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
