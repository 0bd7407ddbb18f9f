/* USM sample dispatch: validate, copy out of the ring, route by protocol. */
#include "unprivileged/usm/usm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct usm {
	struct usm_http_tracker *http;
	struct usm_kafka_tracker *kafka;
	struct usm_telemetry tm;
	struct usm_record rec; /* scratch: too big for a comfortable stack frame */
};

void usm_config_default(struct usm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->http = true;
	cfg->kafka = true;
	usm_http_config_default(&cfg->http_cfg);
	usm_kafka_config_default(&cfg->kafka_cfg);
}

struct usm *usm_new(const struct usm_config *cfg)
{
	struct usm *u = calloc(1, sizeof(*u));
	int err;

	if (!u)
		return NULL;
	if (cfg->http && !(u->http = usm_http_tracker_new(&cfg->http_cfg)))
		goto fail;
	if (cfg->kafka && !(u->kafka = usm_kafka_tracker_new(&cfg->kafka_cfg)))
		goto fail;
	return u;
fail:
	err = errno;
	usm_free(u);
	errno = err;
	return NULL;
}

void usm_free(struct usm *u)
{
	if (!u)
		return;
	usm_http_tracker_free(u->http);
	usm_kafka_tracker_free(u->kafka);
	free(u);
}

int usm_record_copy(const void *data, size_t size, struct usm_record *out)
{
	uint16_t len;

	if (size < USM_RECORD_HDR_SIZE)
		return -EINVAL;
	memcpy(out, data, USM_RECORD_HDR_SIZE);
	len = out->len; /* from the copy: the ring may change under us */
	if (len > USM_PAYLOAD_MAX || size < (size_t)USM_RECORD_HDR_SIZE + len)
		return -EINVAL;
	memcpy(out->payload, (const uint8_t *)data + USM_RECORD_HDR_SIZE, len);
	memset(out->payload + len, 0, USM_PAYLOAD_MAX - len);
	return 0;
}

int usm_handle_sample(struct usm *u, const void *data, size_t size)
{
	int err;

	u->tm.samples++;
	err = usm_record_copy(data, size, &u->rec);
	if (err) {
		u->tm.bad_samples++;
		return err;
	}
	switch (u->rec.protocol) {
	case USM_PROTO_HTTP:
		if (u->http)
			return usm_http_track_record(u->http, &u->rec);
		break;
	case USM_PROTO_KAFKA:
		if (u->kafka)
			return usm_kafka_track_record(u->kafka, &u->rec);
		break;
	default:
		u->tm.unknown_protocol++;
		return 0;
	}
	u->tm.disabled++;
	return 0;
}

void usm_expire(struct usm *u, uint64_t now_ns)
{
	if (u->http)
		usm_http_expire(u->http, now_ns);
	if (u->kafka)
		usm_kafka_expire(u->kafka, now_ns);
}

void usm_conn_closed(struct usm *u, const struct usm_tuple *tuple)
{
	if (u->http)
		usm_http_conn_closed(u->http, tuple);
	if (u->kafka)
		usm_kafka_conn_closed(u->kafka, tuple);
}

struct usm_http_tracker *usm_http(struct usm *u) { return u->http; }
struct usm_kafka_tracker *usm_kafka(struct usm *u) { return u->kafka; }

void usm_telemetry_get(const struct usm *u, struct usm_telemetry *out)
{
	*out = u->tm;
}
