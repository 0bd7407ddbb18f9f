/*
 * Kafka messages built byte by byte for the USM tests, following the message
 * definitions (clients/src/main/resources/common/message in Kafka): request
 * header v1/v2, Produce v0–v13, Fetch v0–v17 and their responses. Included by
 * test_kafka.c and test_kafka_track.c only.
 */
#ifndef NW_TEST_USM_KAFKA_BUILD_H
#define NW_TEST_USM_KAFKA_BUILD_H

#include <stdint.h>
#include <string.h>

struct kbuf {
	uint8_t b[8192];
	size_t n;
};

static void k_u8(struct kbuf *k, uint8_t v) { k->b[k->n++] = v; }
static void k_i16(struct kbuf *k, int16_t v) { k_u8(k, (uint8_t)((uint16_t)v >> 8)); k_u8(k, (uint8_t)v); }
static void k_i32(struct kbuf *k, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		k_u8(k, (uint8_t)((uint32_t)v >> s));
}
static void k_i64(struct kbuf *k, int64_t v)
{
	k_i32(k, (int32_t)((uint64_t)v >> 32));
	k_i32(k, (int32_t)v);
}
static void k_uvarint(struct kbuf *k, uint32_t v)
{
	while (v >= 0x80) {
		k_u8(k, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	k_u8(k, (uint8_t)v);
}
static void k_raw(struct kbuf *k, const void *p, size_t n)
{
	memcpy(k->b + k->n, p, n);
	k->n += n;
}
/* STRING / NULLABLE_STRING, or COMPACT_(NULLABLE_)STRING when compact */
static void k_str(struct kbuf *k, int compact, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (compact)
		k_uvarint(k, s ? (uint32_t)n + 1 : 0);
	else
		k_i16(k, s ? (int16_t)n : -1);
	if (s)
		k_raw(k, s, n);
}
static void k_array(struct kbuf *k, int compact, int32_t n)
{
	if (compact)
		k_uvarint(k, (uint32_t)(n + 1));
	else
		k_i32(k, n);
}
static void k_bytes(struct kbuf *k, int compact, const void *p, size_t n)
{
	if (compact)
		k_uvarint(k, (uint32_t)n + 1);
	else
		k_i32(k, (int32_t)n);
	k_raw(k, p, n);
}
static void k_tags(struct kbuf *k, int compact)
{
	if (compact)
		k_uvarint(k, 0);
}
static void k_begin(struct kbuf *k)
{
	k->n = 4; /* the size prefix, written by k_end */
}
static size_t k_end(struct kbuf *k)
{
	uint32_t size = (uint32_t)(k->n - 4);

	k->b[0] = (uint8_t)(size >> 24);
	k->b[1] = (uint8_t)(size >> 16);
	k->b[2] = (uint8_t)(size >> 8);
	k->b[3] = (uint8_t)size;
	return k->n;
}

static const uint8_t k_topic_id[16] = { 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0,
					0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21 };

static void k_req_header(struct kbuf *k, int16_t api, int16_t ver, int32_t corr,
			 const char *client, int flex)
{
	k_begin(k);
	k_i16(k, api);
	k_i16(k, ver);
	k_i32(k, corr);
	k_str(k, 0, client); /* client_id keeps its int16 length even when flexible */
	k_tags(k, flex);
}

static void k_topic(struct kbuf *k, int flex, int by_id, const char *topic)
{
	if (by_id)
		k_raw(k, k_topic_id, 16);
	else
		k_str(k, flex, topic);
}

static size_t k_produce(struct kbuf *k, int16_t v, int32_t corr, const char *client,
			const char *txn, int16_t acks, const char *topic)
{
	static const uint8_t batch[61] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 49, 0, 0, 0, 0, 2 };
	int flex = v >= 9;

	k_req_header(k, 0, v, corr, client, flex);
	if (v >= 3)
		k_str(k, flex, txn);
	k_i16(k, acks);
	k_i32(k, 30000);
	k_array(k, flex, 1);
	k_topic(k, flex, v >= 13, topic);
	k_array(k, flex, 1);
	k_i32(k, 0);                           /* partition index */
	k_bytes(k, flex, batch, sizeof(batch)); /* records */
	k_tags(k, flex);                       /* partition */
	k_tags(k, flex);                       /* topic */
	k_tags(k, flex);                       /* request */
	return k_end(k);
}

static size_t k_fetch(struct kbuf *k, int16_t v, int32_t corr, const char *client,
		      const char *topic)
{
	int flex = v >= 12;

	k_req_header(k, 1, v, corr, client, flex);
	if (v <= 14)
		k_i32(k, -1);          /* replica_id */
	k_i32(k, 500);                 /* max_wait_ms */
	k_i32(k, 1);                   /* min_bytes */
	if (v >= 3)
		k_i32(k, 52428800);    /* max_bytes */
	if (v >= 4)
		k_u8(k, 0);            /* isolation_level */
	if (v >= 7) {
		k_i32(k, 0);           /* session_id */
		k_i32(k, -1);          /* session_epoch */
	}
	k_array(k, flex, 1);
	k_topic(k, flex, v >= 13, topic);
	k_array(k, flex, 1);
	k_i32(k, 0);                   /* partition */
	if (v >= 9)
		k_i32(k, -1);          /* current_leader_epoch */
	k_i64(k, 42);                  /* fetch_offset */
	if (v >= 12)
		k_i32(k, -1);          /* last_fetched_epoch */
	if (v >= 5)
		k_i64(k, -1);          /* log_start_offset */
	k_i32(k, 1048576);             /* partition_max_bytes */
	k_tags(k, flex);
	k_tags(k, flex);
	if (v >= 7)
		k_array(k, flex, 0);   /* forgotten_topics_data */
	if (v >= 11)
		k_str(k, flex, "");    /* rack_id */
	k_tags(k, flex);
	return k_end(k);
}

static void k_resp_header(struct kbuf *k, int32_t corr, int flex)
{
	k_begin(k);
	k_i32(k, corr);
	k_tags(k, flex);
}

static size_t k_produce_resp(struct kbuf *k, int16_t v, int32_t corr, const char *topic,
			     int16_t err)
{
	int flex = v >= 9;

	k_resp_header(k, corr, flex);
	k_array(k, flex, 1);
	k_topic(k, flex, v >= 13, topic);
	k_array(k, flex, 1);
	k_i32(k, 0);       /* index */
	k_i16(k, err);
	k_i64(k, 1000);    /* base_offset */
	if (v >= 2)
		k_i64(k, -1); /* log_append_time_ms */
	if (v >= 5)
		k_i64(k, 0);  /* log_start_offset */
	if (v >= 8) {
		k_array(k, flex, 0); /* record_errors */
		k_str(k, flex, NULL);  /* error_message */
	}
	k_tags(k, flex);
	k_tags(k, flex);
	if (v >= 1)
		k_i32(k, 0);  /* throttle_time_ms */
	k_tags(k, flex);
	return k_end(k);
}

static size_t k_fetch_resp(struct kbuf *k, int16_t v, int32_t corr, int16_t top_err,
			   const char *topic, int16_t err)
{
	int flex = v >= 12;

	k_resp_header(k, corr, flex);
	if (v >= 1)
		k_i32(k, 0);          /* throttle_time_ms */
	if (v >= 7) {
		k_i16(k, top_err);
		k_i32(k, 0);          /* session_id */
	}
	k_array(k, flex, topic ? 1 : 0);
	if (topic) {
		k_topic(k, flex, v >= 13, topic);
		k_array(k, flex, 1);
		k_i32(k, 0);          /* partition_index */
		k_i16(k, err);
		k_i64(k, 100);        /* high_watermark */
		if (v >= 4)
			k_i64(k, 100); /* last_stable_offset */
		if (v >= 5)
			k_i64(k, 0);  /* log_start_offset */
		if (v >= 4)
			k_array(k, flex, -1); /* aborted_transactions: null */
		if (v >= 11)
			k_i32(k, -1); /* preferred_read_replica */
		k_bytes(k, flex, "", 0); /* records */
		k_tags(k, flex);
		k_tags(k, flex);
	}
	k_tags(k, flex);
	return k_end(k);
}

#endif /* NW_TEST_USM_KAFKA_BUILD_H */
