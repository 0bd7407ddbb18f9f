/*
 * HTTP/1.x request/response matching and aggregation over USM records.
 *
 * Per connection, requests wait in a bounded FIFO (keep-alive and pipelining:
 * responses come back in request order); the response's first byte closes the
 * oldest one. Each transaction lands in a key (server address:port, netns,
 * method, normalised path, status) with a latency distribution. Every table
 * is bounded and every refusal is counted in usm_http_telemetry.
 */
#ifndef NW_USM_HTTP_TRACK_H
#define NW_USM_HTTP_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "unprivileged/usm/http_parse.h"
#include "unprivileged/usm/http_path.h"
#include "unprivileged/usm/sketch.h"
#include "unprivileged/usm/usm_record.h"

#define USM_HTTP_PATH_MAX 192     /* bytes of path a key can hold */
#define USM_HTTP_INFLIGHT_MAX 64  /* outstanding requests per connection */

struct usm_http_config {
	uint32_t max_conns;          /* tracked connections (default 4096) */
	uint32_t max_inflight;       /* outstanding requests per connection (8) */
	uint32_t max_keys;           /* aggregation keys (10000) */
	uint32_t path_max;           /* path bytes kept in a key (160) */
	uint64_t idle_timeout_ns;    /* connection forgotten after (30 s) */
	double accuracy;             /* sketch relative accuracy (0.01) */
	uint32_t max_buckets;        /* per sketch (USM_SKETCH_DEFAULT_BUCKETS) */
	bool fold_ids;               /* fold identifier segments to "*" (true) */
	const struct usm_http_rule *rules; /* copied by usm_http_tracker_new */
	uint32_t nrules;
	uint8_t hash_key[16];        /* table hashing; fill from getrandom() */
};

void usm_http_config_default(struct usm_http_config *cfg);

/* usm_http_key.flags */
enum usm_http_key_flags {
	USM_HTTP_KEY_F_PATH_TRUNCATED = 1u << 0, /* cut by the capture or path_max */
};

/* Aggregation key; fixed-size, padding zero, path zero-filled past path_len. */
struct usm_http_key {
	uint8_t server_addr[16];
	uint32_t netns;
	uint16_t server_port;
	uint16_t status;
	uint16_t path_len;
	uint8_t family;   /* enum usm_family */
	uint8_t method;   /* enum usm_http_method */
	uint8_t flags;    /* enum usm_http_key_flags */
	uint8_t _pad[3];
	char path[USM_HTTP_PATH_MAX];
};

struct usm_http_telemetry {
	uint64_t records;            /* records handed in */
	uint64_t invalid_records;    /* refused with -EINVAL (bad len/direction) */
	uint64_t capture_truncated;  /* segment longer than what was captured */
	uint64_t duplicates;         /* retransmitted or twice-captured segments */
	uint64_t requests;
	uint64_t responses;          /* final responses (1xx interim excluded) */
	uint64_t interim;            /* 1xx other than 101 */
	uint64_t hits[6];            /* aggregated transactions by status/100 (1..5) */
	uint64_t rejected;           /* not HTTP: body continuation, other bytes */
	uint64_t malformed[USM_HTTP_VERDICT_COUNT]; /* by verdict */
	uint64_t misdirected;        /* a request from the server or a response from the client */
	uint64_t invalid_latency;    /* response stamped before its request */
	uint64_t filtered;           /* dropped by a path rule */
	uint64_t path_truncated;     /* requests whose key path is cut */
	uint64_t orphan_responses;   /* no request waiting for them */
	uint64_t late_matched;       /* response seen before its request, joined after */
	uint64_t upgraded;           /* connections switched away from HTTP/1 */
	uint64_t dropped_conns;      /* connection table full */
	uint64_t dropped_requests;   /* request FIFO full: oldest evicted */
	uint64_t dropped_keys;       /* aggregation table full */
	uint64_t dropped_samples;    /* latency could not be recorded (memory) */
	uint64_t aged;               /* requests forgotten with an idle or closed connection */
	uint64_t conns;              /* connections tracked now */
	uint64_t keys;               /* aggregation keys now */
};

struct usm_http_tracker;

/* NULL with errno EINVAL (limits out of range, bad rules) or ENOMEM. */
struct usm_http_tracker *usm_http_tracker_new(const struct usm_http_config *cfg);
void usm_http_tracker_free(struct usm_http_tracker *t);

/*
 * One captured segment (already copied out of the ring). 0 when handled,
 * counted or not; -EINVAL if the record itself is inconsistent (len over
 * USM_PAYLOAD_MAX, unknown direction).
 */
int usm_http_track_record(struct usm_http_tracker *t, const struct usm_record *rec);

/* Forgets connections idle since before now_ns − idle_timeout (same clock as
 * usm_record.ts_ns); returns how many. */
uint32_t usm_http_expire(struct usm_http_tracker *t, uint64_t now_ns);
/* The connection closed: forget it now. 0 or -ENOENT. */
int usm_http_conn_closed(struct usm_http_tracker *t, const struct usm_tuple *tuple);

/*
 * Calls cb on every aggregation key. With drain, each key is removed after its
 * callback (the callback may keep nothing it was given). cb returns 0, or a
 * negative errno that stops the scan and is returned.
 */
int usm_http_stats_scan(struct usm_http_tracker *t, bool drain,
			int (*cb)(const struct usm_http_key *key, const struct usm_latency *lat,
				  void *ctx),
			void *ctx);

void usm_http_telemetry_get(const struct usm_http_tracker *t, struct usm_http_telemetry *out);

#endif /* NW_USM_HTTP_TRACK_H */
