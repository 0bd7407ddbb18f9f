/* libFuzzer target for USM HTTP: the parser, path normalisation, the tracker
 * and the ring-sample dispatcher.
 *
 * The input is parsed whole as one fragment (with invariants on what a parse
 * may return), then read as a script of records fed to a tracker with small
 * limits, so that eviction, orphans, pipelining and expiry are reached; the
 * whole input also goes to usm_handle_sample as a raw ring sample.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 *
 * Script record: 1 flag byte (bit 0 direction, bit 1 sequence number, bits
 * 2-3 client port, bit 4 expire before, bit 5 drain after), 1 length byte,
 * then that many payload bytes (the rest if fewer remain).
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make fuzz-bins).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/sketch.c"
#include "unprivileged/usm/usm_table.c"
#include "unprivileged/usm/http_parse.c"
#include "unprivileged/usm/http_path.c"
#include "unprivileged/usm/http_track.c"
#include "unprivileged/usm/kafka_parse.c"
#include "unprivileged/usm/kafka_track.c"
#include "unprivileged/usm/usm.c"

#define CHECK(cond)                     \
	do {                            \
		if (!(cond))            \
			abort();        \
	} while (0)

static const struct usm_http_rule rules[] = {
	{ "/health", "" },
	{ "/users/*", NULL },
	{ "/static/**", "/static" },
	{ "/a/*/b/*", "/a/:x/b/:y" },
};

static void check_parse(const uint8_t *data, size_t size)
{
	static struct usm_http_paths *paths;
	struct usm_http_msg m;
	enum usm_http_verdict v = usm_http_parse(data, size, &m);
	char out[64];
	size_t out_len;
	bool trunc;

	CHECK(v < USM_HTTP_VERDICT_COUNT);
	if (v != USM_HTTP_OK)
		return;
	if (m.kind == USM_HTTP_REQUEST) {
		CHECK(m.method > USM_HTTP_METHOD_UNKNOWN && m.method < USM_HTTP_METHOD_COUNT);
		CHECK(m.path_len <= size);
		CHECK(m.path_len == 1 || ((const uint8_t *)m.path >= data &&
					  (const uint8_t *)m.path + m.path_len <= data + size));
		for (size_t i = 0; i < m.path_len; i++)
			CHECK(m.path[i] > 0x20 && m.path[i] < 0x7f);
		if (!paths)
			paths = usm_http_paths_new(rules, sizeof(rules) / sizeof(rules[0]), true);
		CHECK(paths);
		trunc = m.flags & USM_HTTP_F_PATH_TRUNCATED;
		if (usm_http_path_normalize(paths, m.path, m.path_len, out, sizeof(out), &out_len,
					    &trunc) == USM_HTTP_PATH_KEEP)
			CHECK(out_len <= sizeof(out));
	} else {
		CHECK(m.kind == USM_HTTP_RESPONSE);
		CHECK(m.status >= 100 && m.status <= 599);
	}
	CHECK(m.version == 0 || m.version == 10 || m.version == 11);
	if (m.flags & USM_HTTP_F_HEADERS_END)
		CHECK(m.headers_end > 0 && m.headers_end <= size);
	CHECK(!((m.flags & USM_HTTP_F_CONTENT_LENGTH) && (m.flags & USM_HTTP_F_BODY_UNKNOWN)));
}

static int check_key(const struct usm_http_key *k, const struct usm_latency *l, void *ctx)
{
	double q;

	CHECK(k->path_len <= USM_HTTP_PATH_MAX);
	CHECK(k->status >= 100 && k->status <= 599);
	CHECK(l->count > 0);
	CHECK(usm_latency_quantile(l, 0.99, &q) == 0 && q >= 0);
	return 0;
}

static void run_script(const uint8_t *data, size_t size)
{
	struct usm_http_config cfg;
	struct usm_http_telemetry tm;
	struct usm_http_tracker *t;
	static struct usm_record rec;
	uint32_t seq[2][4] = { { 0 } };
	uint64_t ts = 1000;
	size_t pos = 0;

	usm_http_config_default(&cfg);
	cfg.max_conns = 3;
	cfg.max_inflight = 3;
	cfg.max_keys = 8;
	cfg.path_max = 24;
	cfg.idle_timeout_ns = 5000;
	cfg.rules = rules;
	cfg.nrules = sizeof(rules) / sizeof(rules[0]);
	t = usm_http_tracker_new(&cfg);
	CHECK(t);
	while (pos + 2 <= size) {
		uint8_t flags = data[pos], len = data[pos + 1];
		unsigned dir = flags & 1, port = (flags >> 2) & 3;

		pos += 2;
		if (len > size - pos)
			len = (uint8_t)(size - pos);
		memset(&rec, 0, sizeof(rec));
		rec.ts_ns = ts;
		ts += (uint64_t)(flags >> 6) * 700 + 1;
		rec.tuple.family = port == 3 ? USM_FAMILY_INET6 : USM_FAMILY_INET;
		rec.tuple.client_port = (uint16_t)port;
		rec.tuple.server_port = 80;
		rec.direction = dir ? USM_DIR_FROM_SERVER : USM_DIR_FROM_CLIENT;
		rec.protocol = USM_PROTO_HTTP;
		rec.len = len;
		rec.seg_len = len + (flags & 0x80 ? 1000u : 0u);
		if (flags & 2) {
			rec.flags = USM_REC_F_SEQ;
			rec.tcp_seq = seq[dir][port];
			seq[dir][port] += rec.seg_len;
		}
		memcpy(rec.payload, data + pos, len);
		pos += len;
		if (flags & 0x10)
			usm_http_expire(t, ts);
		CHECK(usm_http_track_record(t, &rec) == 0);
		if (flags & 0x20)
			CHECK(usm_http_stats_scan(t, true, check_key, NULL) == 0);
	}
	usm_http_telemetry_get(t, &tm);
	CHECK(tm.conns <= cfg.max_conns && tm.keys <= cfg.max_keys);
	CHECK(tm.hits[0] == 0);
	CHECK(tm.hits[1] + tm.hits[2] + tm.hits[3] + tm.hits[4] + tm.hits[5] <= tm.responses);
	CHECK(usm_http_stats_scan(t, false, check_key, NULL) == 0);
	usm_http_tracker_free(t);
}

static void run_sample(const uint8_t *data, size_t size)
{
	struct usm_config cfg;
	struct usm_tuple tup;
	struct usm *u;

	usm_config_default(&cfg);
	cfg.http_cfg.max_conns = 16;
	cfg.kafka_cfg.max_conns = 16;
	u = usm_new(&cfg);
	CHECK(u);
	usm_handle_sample(u, data, size);
	if (size >= USM_RECORD_HDR_SIZE) {
		memcpy(&tup, data + offsetof(struct usm_record, tuple), sizeof(tup));
		usm_conn_closed(u, &tup);
	}
	usm_free(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	run_script(data, size);
	run_sample(data, size);
	return 0;
}
