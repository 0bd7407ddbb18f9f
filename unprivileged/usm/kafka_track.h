/*
 * Kafka Produce/Fetch tracking over USM records: requests wait per connection
 * under their correlation id, a response with the same id closes them, and
 * each transaction lands in a key (server address:port, netns, api key,
 * version, first topic, error code) with a latency distribution.
 *
 * Framing: with USM_REC_F_SEQ the stream position of every message start is
 * known from the size prefixes, so segments inside a message (record batches,
 * fetched data) are skipped by position, and a second message in the same
 * segment is found. Without it, each segment is tried as a message start and
 * must pass the parser's checks.
 */
#ifndef NW_USM_KAFKA_TRACK_H
#define NW_USM_KAFKA_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "unprivileged/usm/kafka_parse.h"
#include "unprivileged/usm/sketch.h"
#include "unprivileged/usm/usm_record.h"

#define USM_KAFKA_INFLIGHT_MAX 128

struct usm_kafka_config {
	uint32_t max_conns;       /* tracked connections (default 4096) */
	uint32_t max_inflight;    /* outstanding requests per connection (32) */
	uint32_t max_keys;        /* aggregation keys (10000) */
	uint32_t max_message;     /* largest believable size prefix (100 MiB) */
	uint64_t idle_timeout_ns; /* connection forgotten after (30 s) */
	double accuracy;          /* sketch relative accuracy (0.01) */
	uint32_t max_buckets;     /* per sketch */
	uint8_t hash_key[16];     /* table hashing; fill from getrandom() */
};

void usm_kafka_config_default(struct usm_kafka_config *cfg);

/* usm_kafka_key.flags */
enum usm_kafka_key_flags {
	USM_KAFKA_KEY_F_TOPIC_TRUNCATED = 1u << 0, /* the capture cut the name */
	USM_KAFKA_KEY_F_TOPIC_ID = 1u << 1,        /* topic is a UUID in text (v13+) */
	USM_KAFKA_KEY_F_NO_TOPIC = 1u << 2,        /* empty topic list, or not captured */
	USM_KAFKA_KEY_F_NO_RESPONSE = 1u << 3,     /* Produce with acks=0: count only */
};

/* Aggregation key; fixed-size, padding zero, topic zero-filled past topic_len. */
struct usm_kafka_key {
	uint8_t server_addr[16];
	uint32_t netns;
	uint16_t server_port;
	int16_t api_key;      /* USM_KAFKA_PRODUCE or USM_KAFKA_FETCH */
	int16_t api_version;
	int16_t error_code;   /* USM_KAFKA_ERROR_UNKNOWN if the response was cut */
	uint16_t topic_len;
	uint8_t family;       /* enum usm_family */
	uint8_t flags;        /* enum usm_kafka_key_flags */
	char topic[256];
};

struct usm_kafka_stats {
	uint64_t count;              /* transactions, acks=0 produces included */
	struct usm_latency latency;  /* those with a response */
};

struct usm_kafka_telemetry {
	uint64_t records;
	uint64_t invalid_records;     /* refused with -EINVAL */
	uint64_t capture_truncated;   /* segment longer than what was captured */
	uint64_t requests;            /* Produce/Fetch requests tracked */
	uint64_t other_requests;      /* other api keys: framed, not tracked */
	uint64_t unsupported_version; /* Produce/Fetch in versions not parsed here */
	uint64_t responses;           /* matched to a request */
	uint64_t unmatched_responses; /* no Produce/Fetch request with that id */
	uint64_t produce_hits[USM_KAFKA_PRODUCE_MAX_VERSION + 1]; /* by api version */
	uint64_t fetch_hits[USM_KAFKA_FETCH_MAX_VERSION + 1];
	uint64_t no_response;         /* acks=0 produces, counted at request time */
	uint64_t malformed[USM_KAFKA_VERDICT_COUNT]; /* at a known message start */
	uint64_t rejected;            /* not a message start (unsynced guess failed) */
	uint64_t continuation;        /* segments skipped by position: inside a
				       * message, or retransmitted */
	uint64_t truncated;           /* requests whose topic was cut or not captured */
	uint64_t response_truncated;  /* responses cut before their error code */
	uint64_t uncaptured;          /* message starts past the captured bytes */
	uint64_t lost_sync;           /* gaps in a stream: position unknown again */
	uint64_t invalid_latency;     /* response stamped before its request */
	uint64_t dropped_conns;
	uint64_t dropped_requests;    /* in-flight table full: oldest evicted */
	uint64_t dropped_keys;
	uint64_t dropped_samples;
	uint64_t aged;                /* requests forgotten with their connection */
	uint64_t conns;
	uint64_t keys;
};

struct usm_kafka_tracker;

struct usm_kafka_tracker *usm_kafka_tracker_new(const struct usm_kafka_config *cfg);
void usm_kafka_tracker_free(struct usm_kafka_tracker *t);

/* One captured segment (already copied out of the ring): 0, or -EINVAL if the
 * record itself is inconsistent. */
int usm_kafka_track_record(struct usm_kafka_tracker *t, const struct usm_record *rec);

uint32_t usm_kafka_expire(struct usm_kafka_tracker *t, uint64_t now_ns);
int usm_kafka_conn_closed(struct usm_kafka_tracker *t, const struct usm_tuple *tuple);

/* As usm_http_stats_scan. */
int usm_kafka_stats_scan(struct usm_kafka_tracker *t, bool drain,
			 int (*cb)(const struct usm_kafka_key *key,
				   const struct usm_kafka_stats *stats, void *ctx),
			 void *ctx);

void usm_kafka_telemetry_get(const struct usm_kafka_tracker *t,
			     struct usm_kafka_telemetry *out);

#endif /* NW_USM_KAFKA_TRACK_H */
