/*
 * HTTP/1.x transaction tracking over USM records.
 *
 * A segment may carry several pipelined messages: after one message the next
 * starts at headers_end + body length when both are known and fit in the
 * captured bytes; otherwise the rest of the segment is not looked at (a
 * message further on is lost, and its response becomes an orphan).
 */
#include "unprivileged/usm/http_track.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/usm_table.h"

#define MSGS_PER_SEGMENT 16
#define SEG_LEN_MAX (1u << 20) /* larger than any GRO/GSO segment */
#define MAX_CONNS (1u << 20)
#define MAX_KEYS (1u << 20)

_Static_assert(sizeof(struct usm_http_key) == 32 + USM_HTTP_PATH_MAX, "usm_http_key padding");

enum req_flags {
	REQ_F_DROP = 1u << 0,
	REQ_F_PATH_TRUNCATED = 1u << 1,
};

struct http_req {
	uint64_t ts;
	uint16_t path_len;
	uint8_t method;
	uint8_t flags;
	char path[USM_HTTP_PATH_MAX];
};

struct http_conn {
	struct http_req *q;      /* ring of cap requests, oldest at head */
	uint64_t last_seen;
	uint64_t orphan_ts;      /* a response that came before its request */
	uint32_t end_seq[2];     /* per direction: end of the last segment seen */
	uint16_t orphan_status;
	uint8_t cap, head, n;
	uint8_t seq_valid[2];
	uint8_t has_orphan;
	uint8_t upgraded;        /* 101 or CONNECT tunnel: no longer HTTP/1 */
};

struct usm_http_tracker {
	struct usm_http_config cfg;
	struct usm_http_paths *paths;
	struct usm_table *conns; /* usm_tuple → http_conn */
	struct usm_table *keys;  /* usm_http_key → usm_latency */
	struct usm_http_telemetry tm;
};

void usm_http_config_default(struct usm_http_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_conns = 4096;
	cfg->max_inflight = 8;
	cfg->max_keys = 10000;
	cfg->path_max = 160;
	cfg->idle_timeout_ns = 30ULL * 1000000000ULL;
	cfg->accuracy = USM_SKETCH_DEFAULT_ACCURACY;
	cfg->max_buckets = USM_SKETCH_DEFAULT_BUCKETS;
	cfg->fold_ids = true;
}

struct usm_http_tracker *usm_http_tracker_new(const struct usm_http_config *cfg)
{
	struct usm_http_tracker *t;
	int err = EINVAL;

	if (!cfg->max_conns || cfg->max_conns > MAX_CONNS || !cfg->max_inflight ||
	    cfg->max_inflight > USM_HTTP_INFLIGHT_MAX || !cfg->max_keys ||
	    cfg->max_keys > MAX_KEYS || !cfg->path_max || cfg->path_max > USM_HTTP_PATH_MAX ||
	    !(cfg->accuracy >= USM_SKETCH_MIN_ACCURACY && cfg->accuracy <= 0.5) ||
	    cfg->max_buckets < 8 || cfg->max_buckets > USM_SKETCH_MAX_BUCKETS) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->cfg = *cfg;
	t->cfg.rules = NULL; /* compiled into paths; the caller's array may go */
	t->paths = usm_http_paths_new(cfg->rules, cfg->nrules, cfg->fold_ids);
	if (!t->paths) {
		err = errno;
		goto fail;
	}
	t->conns = usm_table_new(sizeof(struct usm_tuple), sizeof(struct http_conn),
				 cfg->max_conns, cfg->hash_key);
	t->keys = usm_table_new(sizeof(struct usm_http_key), sizeof(struct usm_latency),
				cfg->max_keys, cfg->hash_key);
	if (!t->conns || !t->keys) {
		err = ENOMEM;
		goto fail;
	}
	return t;
fail:
	usm_http_tracker_free(t);
	errno = err;
	return NULL;
}

static void http_conn_release(void *val)
{
	free(((struct http_conn *)val)->q);
}

static void http_latency_release(void *val)
{
	usm_latency_clear(val);
}

void usm_http_tracker_free(struct usm_http_tracker *t)
{
	if (!t)
		return;
	usm_table_free(t->conns, http_conn_release);
	usm_table_free(t->keys, http_latency_release);
	usm_http_paths_free(t->paths);
	free(t);
}

/* Table keys compare bytewise: padding and the unused part of v4 addresses
 * must be zero whatever the record held. */
static void http_tuple_normalize(struct usm_tuple *dst, const struct usm_tuple *src)
{
	*dst = *src;
	memset(dst->_pad, 0, sizeof(dst->_pad));
	if (dst->family == USM_FAMILY_INET) {
		memset(dst->client_addr + 4, 0, 12);
		memset(dst->server_addr + 4, 0, 12);
	}
}

static void http_complete(struct usm_http_tracker *t, const struct usm_tuple *tup,
		     const struct http_req *r, uint64_t ts, uint16_t status)
{
	struct usm_http_key key;
	struct usm_latency *lat;
	bool created;

	if (r->flags & REQ_F_DROP)
		return;
	if (ts < r->ts) {
		t->tm.invalid_latency++;
		return;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.server_addr, tup->server_addr, sizeof(key.server_addr));
	key.netns = tup->netns;
	key.server_port = tup->server_port;
	key.status = status;
	key.family = tup->family;
	key.method = r->method;
	key.flags = (r->flags & REQ_F_PATH_TRUNCATED) ? USM_HTTP_KEY_F_PATH_TRUNCATED : 0;
	key.path_len = r->path_len;
	memcpy(key.path, r->path, r->path_len);
	lat = usm_table_upsert(t->keys, &key, &created);
	if (!lat) {
		t->tm.dropped_keys++;
		return;
	}
	if (usm_latency_add(lat, (double)(ts - r->ts), t->cfg.accuracy, t->cfg.max_buckets)) {
		t->tm.dropped_samples++;
		if (created)
			usm_table_del(t->keys, &key);
		return;
	}
	t->tm.hits[status / 100]++;
}

static void http_push(struct usm_http_tracker *t, struct http_conn *c, const struct http_req *r)
{
	if (c->n == t->cfg.max_inflight) {
		/* the oldest most likely lost its response: make room */
		c->head = (uint8_t)((c->head + 1) % c->cap);
		c->n--;
		t->tm.dropped_requests++;
	}
	if (c->n == c->cap) {
		unsigned cap = c->cap ? c->cap * 2u : 1u;
		struct http_req *q;

		if (cap > t->cfg.max_inflight)
			cap = t->cfg.max_inflight;
		q = malloc(cap * sizeof(*q));
		if (!q) {
			t->tm.dropped_requests++;
			return;
		}
		for (unsigned i = 0; i < c->n; i++)
			q[i] = c->q[(c->head + i) % c->cap];
		free(c->q);
		c->q = q;
		c->cap = (uint8_t)cap;
		c->head = 0;
	}
	c->q[(c->head + c->n) % c->cap] = *r;
	c->n++;
}

static void http_on_request(struct usm_http_tracker *t, struct http_conn *c,
		       const struct usm_tuple *tup, uint64_t ts, const struct usm_http_msg *m)
{
	struct http_req r;
	bool truncated = m->flags & USM_HTTP_F_PATH_TRUNCATED;
	size_t len;

	memset(&r, 0, sizeof(r));
	r.ts = ts;
	r.method = m->method;
	t->tm.requests++;
	if (usm_http_path_normalize(t->paths, m->path, m->path_len, r.path, t->cfg.path_max,
				    &len, &truncated) == USM_HTTP_PATH_DROP) {
		r.flags |= REQ_F_DROP;
		t->tm.filtered++;
	} else if (truncated) {
		r.flags |= REQ_F_PATH_TRUNCATED;
		t->tm.path_truncated++;
	}
	r.path_len = (uint16_t)len;
	if (c->has_orphan) {
		c->has_orphan = 0;
		if (c->n == 0 && c->orphan_ts >= ts) {
			t->tm.late_matched++;
			http_complete(t, tup, &r, c->orphan_ts, c->orphan_status);
			return;
		}
	}
	http_push(t, c, &r);
}

/* Returns the method of the request it answered (for body framing). */
static uint8_t http_on_response(struct usm_http_tracker *t, struct http_conn *c,
			   const struct usm_tuple *tup, uint64_t ts, uint16_t status)
{
	struct http_req r;

	if (status < 200 && status != 101) {
		t->tm.interim++; /* 100 Continue and friends: the request still waits */
		return USM_HTTP_METHOD_UNKNOWN;
	}
	t->tm.responses++;
	if (c->n == 0) {
		t->tm.orphan_responses++;
		c->has_orphan = 1;
		c->orphan_ts = ts;
		c->orphan_status = status;
		return USM_HTTP_METHOD_UNKNOWN;
	}
	r = c->q[c->head];
	c->head = (uint8_t)((c->head + 1) % c->cap);
	c->n--;
	http_complete(t, tup, &r, ts, status);
	if (status == 101 || (r.method == USM_HTTP_CONNECT && status / 100 == 2)) {
		c->upgraded = 1;
		t->tm.upgraded++;
	}
	return r.method;
}

/* Body length of a parsed message, or false when it cannot be known. */
static bool http_body_length(const struct usm_http_msg *m, uint8_t req_method, uint64_t *len)
{
	*len = 0;
	if (m->kind == USM_HTTP_RESPONSE &&
	    (m->status < 200 || m->status == 204 || m->status == 304 || req_method == USM_HTTP_HEAD))
		return true;
	if (m->flags & USM_HTTP_F_BODY_UNKNOWN)
		return false;
	if (m->flags & USM_HTTP_F_CONTENT_LENGTH) {
		*len = m->content_length;
		return true;
	}
	/* no framing header: a request has no body, a response runs to close */
	return m->kind == USM_HTTP_REQUEST;
}

int usm_http_track_record(struct usm_http_tracker *t, const struct usm_record *rec)
{
	struct usm_tuple tup;
	struct http_conn *c;
	unsigned dir;
	size_t off = 0;
	bool created;

	t->tm.records++;
	if (rec->len > USM_PAYLOAD_MAX || rec->tuple.family > USM_FAMILY_INET6 ||
	    (rec->direction != USM_DIR_FROM_CLIENT && rec->direction != USM_DIR_FROM_SERVER)) {
		t->tm.invalid_records++;
		return -EINVAL;
	}
	if (rec->seg_len > rec->len)
		t->tm.capture_truncated++;
	http_tuple_normalize(&tup, &rec->tuple);
	c = usm_table_upsert(t->conns, &tup, &created);
	if (!c) {
		t->tm.dropped_conns++;
		return 0;
	}
	if (rec->ts_ns > c->last_seen)
		c->last_seen = rec->ts_ns;
	dir = rec->direction == USM_DIR_FROM_CLIENT ? 0 : 1;
	if (rec->flags & USM_REC_F_SEQ) {
		uint32_t seg = rec->seg_len > rec->len ? rec->seg_len : rec->len;

		if (c->seq_valid[dir] && (int32_t)(rec->tcp_seq - c->end_seq[dir]) < 0) {
			t->tm.duplicates++;
			return 0;
		}
		c->end_seq[dir] = rec->tcp_seq + (seg > SEG_LEN_MAX ? SEG_LEN_MAX : seg);
		c->seq_valid[dir] = 1;
	}
	if (c->upgraded)
		return 0;

	for (unsigned msgs = 0; off < rec->len && msgs < MSGS_PER_SEGMENT; msgs++) {
		struct usm_http_msg m;
		enum usm_http_verdict v = usm_http_parse(rec->payload + off, rec->len - off, &m);
		uint8_t req_method = m.method;
		uint64_t body;

		if (v == USM_HTTP_NOT_HTTP) {
			t->tm.rejected++;
			break;
		}
		if (v != USM_HTTP_OK) {
			t->tm.malformed[v]++;
			break;
		}
		if ((m.kind == USM_HTTP_REQUEST) != (dir == 0)) {
			t->tm.misdirected++;
			break;
		}
		if (m.kind == USM_HTTP_REQUEST)
			http_on_request(t, c, &tup, rec->ts_ns, &m);
		else
			req_method = http_on_response(t, c, &tup, rec->ts_ns, m.status);
		if (c->upgraded || !(m.flags & USM_HTTP_F_HEADERS_END) ||
		    !http_body_length(&m, req_method, &body) ||
		    body > rec->len - off - m.headers_end)
			break;
		off += m.headers_end + body;
	}
	return 0;
}

struct http_expire_ctx {
	struct usm_http_tracker *t;
	uint64_t now;
	uint32_t n;
};

static int http_expire_one(const void *key, void *val, void *arg)
{
	struct http_expire_ctx *x = arg;
	struct http_conn *c = val;

	if (x->now < c->last_seen || x->now - c->last_seen <= x->t->cfg.idle_timeout_ns)
		return USM_TABLE_KEEP;
	x->t->tm.aged += c->n;
	http_conn_release(c);
	x->n++;
	return USM_TABLE_DELETE;
}

uint32_t usm_http_expire(struct usm_http_tracker *t, uint64_t now_ns)
{
	struct http_expire_ctx x = { .t = t, .now = now_ns };

	usm_table_scan(t->conns, http_expire_one, &x);
	return x.n;
}

int usm_http_conn_closed(struct usm_http_tracker *t, const struct usm_tuple *tuple)
{
	struct usm_tuple tup;
	struct http_conn *c;

	http_tuple_normalize(&tup, tuple);
	c = usm_table_get(t->conns, &tup);
	if (!c)
		return -ENOENT;
	t->tm.aged += c->n;
	http_conn_release(c);
	return usm_table_del(t->conns, &tup);
}

struct http_scan_ctx {
	bool drain;
	int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat, void *ctx);
	void *ctx;
};

static int http_scan_one(const void *key, void *val, void *arg)
{
	struct http_scan_ctx *s = arg;
	int err = s->cb(key, val, s->ctx);

	if (err < 0)
		return err;
	if (!s->drain)
		return USM_TABLE_KEEP;
	usm_latency_clear(val);
	return USM_TABLE_DELETE;
}

int usm_http_stats_scan(struct usm_http_tracker *t, bool drain,
			int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat,
				  void *ctx),
			void *ctx)
{
	struct http_scan_ctx s = { .drain = drain, .cb = cb, .ctx = ctx };

	return usm_table_scan(t->keys, http_scan_one, &s);
}

void usm_http_telemetry_get(const struct usm_http_tracker *t, struct usm_http_telemetry *out)
{
	*out = t->tm;
	out->conns = usm_table_count(t->conns);
	out->keys = usm_table_count(t->keys);
}
