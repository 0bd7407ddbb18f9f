/*
 * USM entry point for the worker: one call per ring-buffer sample. The sample
 * is checked against its own len field and copied out of the ring (the
 * kernel-side memory could change under a parser that read it twice), then
 * handed to the HTTP or Kafka tracker by the kernel's classification.
 */
#ifndef NW_USM_USM_H
#define NW_USM_USM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "unprivileged/usm/http_track.h"
#include "unprivileged/usm/kafka_track.h"
#include "unprivileged/usm/usm_record.h"

struct usm_config {
	bool http;                     /* track HTTP/1.x (default true) */
	bool kafka;                    /* track Kafka (default true) */
	struct usm_http_config http_cfg;
	struct usm_kafka_config kafka_cfg;
};

struct usm_telemetry {
	uint64_t samples;
	uint64_t bad_samples;      /* shorter than their header + len, or len too big */
	uint64_t disabled;         /* for a protocol that is switched off */
	uint64_t unknown_protocol;
};

struct usm;

/* Defaults for both protocols; hash_key is left zero for the caller to fill
 * (getrandom) in both sub-configurations. */
void usm_config_default(struct usm_config *cfg);

/* NULL with errno EINVAL or ENOMEM. */
struct usm *usm_new(const struct usm_config *cfg);
void usm_free(struct usm *u);

/* Copies a ring sample into *out: -EINVAL if size is below the header, or
 * below header + len, or len is over USM_PAYLOAD_MAX. Bytes past len in
 * out->payload are zero. */
int usm_record_copy(const void *data, size_t size, struct usm_record *out);

/* One ring sample: 0 when handled (or counted and ignored), -EINVAL for a bad
 * sample. */
int usm_handle_sample(struct usm *u, const void *data, size_t size);

/* Forgets idle connections in both trackers (now_ns on the records' clock). */
void usm_expire(struct usm *u, uint64_t now_ns);
/* A connection closed (from the closed-connection ring), both trackers. */
void usm_conn_closed(struct usm *u, const struct usm_tuple *tuple);

/* The trackers, NULL for a protocol switched off: stats and telemetry. */
struct usm_http_tracker *usm_http(struct usm *u);
struct usm_kafka_tracker *usm_kafka(struct usm *u);
void usm_telemetry_get(const struct usm *u, struct usm_telemetry *out);

#endif /* NW_USM_USM_H */
