/*
 * Kafka transaction tracking over USM records.
 *
 * Per connection and direction, next_seq is the stream position where the
 * next message starts, learnt from size prefixes. A segment before it is a
 * continuation (or a retransmission) and is skipped; a segment after it means
 * bytes were lost, and the position is unknown until a segment start passes
 * the parser's checks again. Unsynced, a response is believed only if its
 * correlation id is one we wait for.
 */
#include "unprivileged/usm/kafka_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/usm_table.h"

#define MSGS_PER_SEGMENT 16
#define SEG_LEN_MAX (1u << 20)
#define MAX_CONNS (1u << 20)
#define MAX_KEYS (1u << 20)

_Static_assert(sizeof(struct usm_kafka_key) == 288, "usm_kafka_key padding");

struct kafka_req {
	uint64_t ts;
	int32_t corr;
	int16_t api_key;
	int16_t api_version;
	uint16_t topic_len;
	uint8_t flags; /* enum usm_kafka_key_flags */
	char topic[256];
};

struct kafka_conn {
	struct kafka_req *reqs; /* unordered; the oldest is the smallest ts */
	uint64_t last_seen;
	uint32_t next_seq[2];   /* per direction (0: from client) */
	uint16_t cap, n;
	uint8_t synced[2];
};

struct usm_kafka_tracker {
	struct usm_kafka_config cfg;
	struct usm_table *conns; /* usm_tuple → kafka_conn */
	struct usm_table *keys;  /* usm_kafka_key → usm_kafka_stats */
	struct usm_kafka_telemetry tm;
};

void usm_kafka_config_default(struct usm_kafka_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 4096;
	cfg->max_inflight = 32;
	cfg->max_keys = 10000;
	cfg->max_message = USM_KAFKA_MESSAGE_DEFAULT_MAX;
	cfg->idle_timeout_ns = 30ULL * 1000000000ULL;
	cfg->accuracy = USM_SKETCH_DEFAULT_ACCURACY;
	cfg->max_buckets = USM_SKETCH_DEFAULT_BUCKETS;
}

struct usm_kafka_tracker *usm_kafka_tracker_new(const struct usm_kafka_config *cfg)
{
	struct usm_kafka_tracker *t;

	if (!cfg->max_conns || cfg->max_conns > MAX_CONNS || !cfg->max_inflight ||
	    cfg->max_inflight > USM_KAFKA_INFLIGHT_MAX || !cfg->max_keys ||
	    cfg->max_keys > MAX_KEYS || cfg->max_message < 16 || cfg->max_message > INT32_MAX ||
	    !(cfg->accuracy >= USM_SKETCH_MIN_ACCURACY && cfg->accuracy <= 0.5) ||
	    cfg->max_buckets < 8 || cfg->max_buckets > USM_SKETCH_MAX_BUCKETS) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	t->conns = usm_table_new(sizeof(struct usm_tuple), sizeof(struct kafka_conn),
				 cfg->max_conns, cfg->hash_key);
	t->keys = usm_table_new(sizeof(struct usm_kafka_key), sizeof(struct usm_kafka_stats),
				cfg->max_keys, cfg->hash_key);
	if (!t->conns || !t->keys) {
		usm_kafka_tracker_free(t);
		errno = ENOMEM;
		return NULL;
	}
	return t;
}

static void kafka_conn_release(void *val)
{
	free(((struct kafka_conn *)val)->reqs);
}

static void kafka_stats_release(void *val)
{
	usm_latency_clear(&((struct usm_kafka_stats *)val)->latency);
}

void usm_kafka_tracker_free(struct usm_kafka_tracker *t)
{
	if (!t)
		return;
	usm_table_free(t->conns, kafka_conn_release);
	usm_table_free(t->keys, kafka_stats_release);
	free(t);
}

static void kafka_tuple_normalize(struct usm_tuple *dst, const struct usm_tuple *src)
{
	*dst = *src;
	memset(dst->_pad, 0, sizeof(dst->_pad));
	if (dst->family == USM_FAMILY_INET) {
		memset(dst->client_addr + 4, 0, 12);
		memset(dst->server_addr + 4, 0, 12);
	}
}

/* Kafka prints topic ids as URL-safe base64 without padding (22 chars). */
static uint16_t kafka_topic_id_text(const uint8_t id[16], char *out)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint16_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (int i = 0; i < 16; i++) {
		acc = (acc << 8) | id[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64[(acc >> bits) & 63];
		}
	}
	out[o++] = b64[(acc << (6 - bits)) & 63];
	return o;
}

static void kafka_complete(struct usm_kafka_tracker *t, const struct usm_tuple *tup,
		     const struct kafka_req *r, uint64_t ts, int16_t error_code)
{
	bool no_response = r->flags & USM_KAFKA_KEY_F_NO_RESPONSE, created;
	struct usm_kafka_stats *st;
	struct usm_kafka_key key;

	if (!no_response && ts < r->ts) {
		t->tm.invalid_latency++;
		return;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.server_addr, tup->server_addr, sizeof(key.server_addr));
	key.netns = tup->netns;
	key.server_port = tup->server_port;
	key.api_key = r->api_key;
	key.api_version = r->api_version;
	key.error_code = error_code;
	key.family = tup->family;
	key.flags = r->flags;
	key.topic_len = r->topic_len;
	memcpy(key.topic, r->topic, r->topic_len);
	st = usm_table_upsert(t->keys, &key, &created);
	if (!st) {
		t->tm.dropped_keys++;
		return;
	}
	if (!no_response && usm_latency_add(&st->latency, (double)(ts - r->ts),
					    t->cfg.accuracy, t->cfg.max_buckets)) {
		t->tm.dropped_samples++;
		if (created)
			usm_table_del(t->keys, &key);
		return;
	}
	st->count++;
	if (r->api_key == USM_KAFKA_PRODUCE)
		t->tm.produce_hits[r->api_version]++;
	else
		t->tm.fetch_hits[r->api_version]++;
}

static void kafka_push(struct usm_kafka_tracker *t, struct kafka_conn *c, const struct kafka_req *r)
{
	if (c->n == t->cfg.max_inflight) {
		uint16_t oldest = 0;

		for (uint16_t i = 1; i < c->n; i++)
			if (c->reqs[i].ts < c->reqs[oldest].ts)
				oldest = i;
		c->reqs[oldest] = c->reqs[--c->n];
		t->tm.dropped_requests++;
	}
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2u : 2u;
		struct kafka_req *reqs;

		if (cap > t->cfg.max_inflight)
			cap = t->cfg.max_inflight;
		reqs = realloc(c->reqs, cap * sizeof(*reqs));
		if (!reqs) {
			t->tm.dropped_requests++;
			return;
		}
		c->reqs = reqs;
		c->cap = (uint16_t)cap;
	}
	c->reqs[c->n++] = *r;
}

static void kafka_on_request(struct usm_kafka_tracker *t, struct kafka_conn *c,
		       const struct usm_tuple *tup, uint64_t ts,
		       const struct usm_kafka_request *m)
{
	struct kafka_req r;

	if (!(m->flags & USM_KAFKA_F_TRACKED)) {
		if (m->api_key == USM_KAFKA_PRODUCE || m->api_key == USM_KAFKA_FETCH)
			t->tm.unsupported_version++;
		else
			t->tm.other_requests++;
		return;
	}
	t->tm.requests++;
	memset(&r, 0, sizeof(r));
	r.ts = ts;
	r.corr = m->correlation_id;
	r.api_key = m->api_key;
	r.api_version = m->api_version;
	if (m->flags & USM_KAFKA_F_TOPIC_ID) {
		r.topic_len = kafka_topic_id_text(m->topic_id, r.topic);
		r.flags |= USM_KAFKA_KEY_F_TOPIC_ID;
	} else if (m->topic_len) {
		r.topic_len = m->topic_len;
		memcpy(r.topic, m->topic, m->topic_len);
	} else {
		r.flags |= USM_KAFKA_KEY_F_NO_TOPIC;
	}
	if (m->flags & USM_KAFKA_F_TOPIC_TRUNCATED)
		r.flags |= USM_KAFKA_KEY_F_TOPIC_TRUNCATED;
	if (m->flags & (USM_KAFKA_F_TRUNCATED | USM_KAFKA_F_TOPIC_TRUNCATED))
		t->tm.truncated++;
	if (m->api_key == USM_KAFKA_PRODUCE && m->acks == 0) {
		r.flags |= USM_KAFKA_KEY_F_NO_RESPONSE; /* the broker will not answer */
		t->tm.no_response++;
		kafka_complete(t, tup, &r, ts, 0);
		return;
	}
	kafka_push(t, c, &r);
}

static void kafka_count_failure(struct usm_kafka_tracker *t, enum usm_kafka_verdict v,
				bool boundary)
{
	if (v == USM_KAFKA_SHORT && boundary)
		t->tm.uncaptured++;
	else if (boundary || v >= USM_KAFKA_BAD_CLIENT_ID)
		t->tm.malformed[v]++; /* the header looked right: the body is broken */
	else
		t->tm.rejected++;
}

/* Handles the message at p; returns its full size (prefix included), or 0 if
 * no message could be believed there. */
static uint64_t kafka_handle_message(struct usm_kafka_tracker *t, struct kafka_conn *c,
			       const struct usm_tuple *tup, uint64_t ts, unsigned dir,
			       const uint8_t *p, size_t n, bool boundary)
{
	struct usm_kafka_response resp;
	struct usm_kafka_request req;
	enum usm_kafka_verdict v;
	struct kafka_req r;
	uint16_t i;

	if (dir == 0) {
		v = usm_kafka_parse_request(p, n, t->cfg.max_message, &req);
		if (v != USM_KAFKA_OK) {
			kafka_count_failure(t, v, boundary);
			return 0;
		}
		kafka_on_request(t, c, tup, ts, &req);
		return 4 + (uint64_t)req.size;
	}
	v = usm_kafka_parse_response_header(p, n, t->cfg.max_message, &resp);
	if (v != USM_KAFKA_OK) {
		kafka_count_failure(t, v, boundary);
		return 0;
	}
	for (i = 0; i < c->n && c->reqs[i].corr != resp.correlation_id; i++)
		;
	if (i == c->n) {
		if (!boundary) {
			t->tm.rejected++;
			return 0;
		}
		t->tm.unmatched_responses++; /* another api, or a request we missed */
		return 4 + (uint64_t)resp.size;
	}
	r = c->reqs[i];
	c->reqs[i] = c->reqs[--c->n];
	t->tm.responses++;
	v = usm_kafka_parse_response(p, n, t->cfg.max_message, r.api_key, r.api_version, &resp);
	if (v != USM_KAFKA_OK) {
		t->tm.malformed[v]++;
		resp.error_code = USM_KAFKA_ERROR_UNKNOWN;
	} else if (resp.flags & USM_KAFKA_F_TRUNCATED) {
		t->tm.response_truncated++;
	}
	kafka_complete(t, tup, &r, ts, resp.error_code);
	return 4 + (uint64_t)resp.size;
}

int usm_kafka_track_record(struct usm_kafka_tracker *t, const struct usm_record *rec)
{
	bool seq = rec->flags & USM_REC_F_SEQ, boundary = false, created;
	struct usm_tuple tup;
	struct kafka_conn *c;
	uint32_t seg;
	unsigned dir;
	size_t off = 0;

	t->tm.records++;
	if (rec->len > USM_PAYLOAD_MAX || rec->tuple.family > USM_FAMILY_INET6 ||
	    (rec->direction != USM_DIR_FROM_CLIENT && rec->direction != USM_DIR_FROM_SERVER)) {
		t->tm.invalid_records++;
		return -EINVAL;
	}
	if (rec->seg_len > rec->len)
		t->tm.capture_truncated++;
	seg = rec->seg_len > rec->len ? rec->seg_len : rec->len;
	if (seg > SEG_LEN_MAX)
		seg = SEG_LEN_MAX;
	kafka_tuple_normalize(&tup, &rec->tuple);
	c = usm_table_upsert(t->conns, &tup, &created);
	if (!c) {
		t->tm.dropped_conns++;
		return 0;
	}
	if (rec->ts_ns > c->last_seen)
		c->last_seen = rec->ts_ns;
	dir = rec->direction == USM_DIR_FROM_CLIENT ? 0 : 1;
	if (seq && c->synced[dir]) {
		int32_t delta = (int32_t)(rec->tcp_seq - c->next_seq[dir]);

		if (delta > 0) {
			t->tm.lost_sync++;
			c->synced[dir] = 0;
		} else if (delta < 0) {
			uint32_t into = (uint32_t)(-(int64_t)delta);

			if (into >= seg) {
				t->tm.continuation++;
				return 0;
			}
			if (into >= rec->len) {
				t->tm.uncaptured++;
				c->synced[dir] = 0;
				return 0;
			}
			off = into;
			boundary = true;
		} else {
			boundary = true;
		}
	}
	for (unsigned msgs = 0; off < rec->len && msgs < MSGS_PER_SEGMENT; msgs++) {
		uint64_t size = kafka_handle_message(t, c, &tup, rec->ts_ns, dir, rec->payload + off,
					       rec->len - off, boundary);
		uint64_t end = off + size;

		if (!size) {
			c->synced[dir] = 0;
			return 0;
		}
		c->next_seq[dir] = rec->tcp_seq + (uint32_t)end;
		c->synced[dir] = seq;
		if (end >= seg)
			return 0; /* the message runs to or past the segment's end */
		if (end >= rec->len) {
			t->tm.uncaptured++; /* another message starts where we cannot see */
			c->synced[dir] = 0;
			return 0;
		}
		off = (size_t)end;
		boundary = true;
	}
	return 0;
}

struct kafka_expire_ctx {
	struct usm_kafka_tracker *t;
	uint64_t now;
	uint32_t n;
};

static int kafka_expire_one(const void *key, void *val, void *arg)
{
	struct kafka_expire_ctx *x = arg;
	struct kafka_conn *c = val;

	if (x->now < c->last_seen || x->now - c->last_seen <= x->t->cfg.idle_timeout_ns)
		return USM_TABLE_KEEP;
	x->t->tm.aged += c->n;
	kafka_conn_release(c);
	x->n++;
	return USM_TABLE_DELETE;
}

uint32_t usm_kafka_expire(struct usm_kafka_tracker *t, uint64_t now_ns)
{
	struct kafka_expire_ctx x = { .t = t, .now = now_ns };

	usm_table_scan(t->conns, kafka_expire_one, &x);
	return x.n;
}

int usm_kafka_conn_closed(struct usm_kafka_tracker *t, const struct usm_tuple *tuple)
{
	struct usm_tuple tup;
	struct kafka_conn *c;

	kafka_tuple_normalize(&tup, tuple);
	c = usm_table_get(t->conns, &tup);
	if (!c)
		return -ENOENT;
	t->tm.aged += c->n;
	kafka_conn_release(c);
	return usm_table_del(t->conns, &tup);
}

struct kafka_scan_ctx {
	bool drain;
	int (*cb)(const struct usm_kafka_key *key, const struct usm_kafka_stats *stats, void *ctx);
	void *ctx;
};

static int kafka_scan_one(const void *key, void *val, void *arg)
{
	struct kafka_scan_ctx *s = arg;
	int err = s->cb(key, val, s->ctx);

	if (err < 0)
		return err;
	if (!s->drain)
		return USM_TABLE_KEEP;
	kafka_stats_release(val);
	return USM_TABLE_DELETE;
}

int usm_kafka_stats_scan(struct usm_kafka_tracker *t, bool drain,
			 int (*cb)(const struct usm_kafka_key *key,
				   const struct usm_kafka_stats *stats, void *ctx),
			 void *ctx)
{
	struct kafka_scan_ctx s = { .drain = drain, .cb = cb, .ctx = ctx };

	return usm_table_scan(t->keys, kafka_scan_one, &s);
}

void usm_kafka_telemetry_get(const struct usm_kafka_tracker *t,
			     struct usm_kafka_telemetry *out)
{
	*out = t->tm;
	out->conns = usm_table_count(t->conns);
	out->keys = usm_table_count(t->keys);
}
