/* libFuzzer target for USM Kafka: the request and response parsers and the
 * tracker with its sequence-number framing.
 *
 * The input is parsed whole as a request and as a response to every Produce
 * and Fetch version (with invariants on what a parse may return), then read as
 * a script of segments of one connection fed to a tracker with small limits.
 * A broken invariant aborts, which libFuzzer reports as a crash.
 *
 * Script segment: 1 flag byte (bit 0 direction; bits 1-2 sequence mode: none,
 * contiguous, skip ahead, step back; bit 3 expire before; bit 4 drain after;
 * bit 5 close the connection after), 2 length bytes (big-endian, up to the
 * capture size; the segment is as long again when bit 7 is set), payload.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined (make fuzz-bins).
 */
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/sketch.c"
#include "unprivileged/usm/usm_table.c"
#include "unprivileged/usm/kafka_parse.c"
#include "unprivileged/usm/kafka_track.c"

#define CHECK(cond)                     \
	do {                            \
		if (!(cond))            \
			abort();        \
	} while (0)

static void check_parse(const uint8_t *data, size_t size)
{
	struct usm_kafka_request r;
	struct usm_kafka_response resp;
	enum usm_kafka_verdict v = usm_kafka_parse_request(data, size, 0, &r);

	CHECK(v < USM_KAFKA_VERDICT_COUNT);
	if (v == USM_KAFKA_OK) {
		CHECK(r.size >= 10 && r.size <= USM_KAFKA_MESSAGE_DEFAULT_MAX);
		CHECK(r.api_key >= 0 && r.api_key <= USM_KAFKA_API_KEY_MAX);
		CHECK(r.correlation_id >= 0);
		CHECK(r.topic_len <= USM_KAFKA_TOPIC_MAX && r.topic_len <= size);
		if (r.topic_len)
			CHECK(r.topic >= data && r.topic + r.topic_len <= data + size);
		if (r.client_id)
			CHECK(r.client_id >= data && r.client_id + r.client_id_len <= data + size);
		CHECK(!!(r.flags & USM_KAFKA_F_TRACKED) == usm_kafka_tracked(r.api_key, r.api_version));
	}
	for (int16_t api = 0; api <= 1; api++)
		for (int16_t ver = 0; ver <= 18; ver++) {
			v = usm_kafka_parse_response(data, size, 0, api, ver, &resp);
			CHECK(v < USM_KAFKA_VERDICT_COUNT);
			if (v == USM_KAFKA_OK)
				CHECK(resp.error_code == USM_KAFKA_ERROR_UNKNOWN ||
				      (resp.error_code >= -1 && resp.error_code <= 1000));
		}
}

static int check_key(const struct usm_kafka_key *k, const struct usm_kafka_stats *s, void *ctx)
{
	CHECK(k->topic_len <= sizeof(k->topic));
	CHECK(k->api_key == USM_KAFKA_PRODUCE || k->api_key == USM_KAFKA_FETCH);
	CHECK(s->count > 0 && s->latency.count <= s->count);
	return 0;
}

static void run_script(const uint8_t *data, size_t size)
{
	struct usm_kafka_config cfg;
	struct usm_kafka_telemetry tm;
	struct usm_kafka_tracker *t;
	static struct usm_record rec;
	uint32_t seq[2] = { 1000, 0xfffffff0u };
	uint64_t ts = 1;
	size_t pos = 0;

	usm_kafka_config_default(&cfg);
	cfg.max_conns = 2;
	cfg.max_inflight = 3;
	cfg.max_keys = 6;
	cfg.idle_timeout_ns = 50;
	t = usm_kafka_tracker_new(&cfg);
	CHECK(t);
	while (pos + 3 <= size) {
		uint8_t flags = data[pos];
		unsigned dir = flags & 1, mode = (flags >> 1) & 3;
		size_t len = (size_t)data[pos + 1] << 8 | data[pos + 2];

		pos += 3;
		if (len > USM_PAYLOAD_MAX)
			len = USM_PAYLOAD_MAX;
		if (len > size - pos)
			len = size - pos;
		memset(&rec, 0, sizeof(rec));
		rec.ts_ns = ts++;
		rec.tuple.family = USM_FAMILY_INET;
		rec.tuple.client_port = (flags & 0x40) ? 2 : 1;
		rec.tuple.server_port = 9092;
		rec.direction = dir ? USM_DIR_FROM_SERVER : USM_DIR_FROM_CLIENT;
		rec.protocol = USM_PROTO_KAFKA;
		rec.len = (uint16_t)len;
		rec.seg_len = (uint32_t)len * ((flags & 0x80) ? 2u : 1u);
		if (mode) {
			if (mode == 2)
				seq[dir] += 5000;
			else if (mode == 3)
				seq[dir] -= 100;
			rec.flags = USM_REC_F_SEQ;
			rec.tcp_seq = seq[dir];
			seq[dir] += rec.seg_len;
		}
		memcpy(rec.payload, data + pos, len);
		pos += len;
		if (flags & 0x08)
			usm_kafka_expire(t, ts + 40);
		CHECK(usm_kafka_track_record(t, &rec) == 0);
		if (flags & 0x10)
			CHECK(usm_kafka_stats_scan(t, true, check_key, NULL) == 0);
		if (flags & 0x20)
			usm_kafka_conn_closed(t, &rec.tuple);
	}
	usm_kafka_telemetry_get(t, &tm);
	CHECK(tm.conns <= cfg.max_conns && tm.keys <= cfg.max_keys);
	CHECK(tm.responses <= tm.requests);
	CHECK(usm_kafka_stats_scan(t, false, check_key, NULL) == 0);
	usm_kafka_tracker_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse(data, size);
	run_script(data, size);
	return 0;
}
