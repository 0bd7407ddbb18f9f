/*
 * Kafka wire protocol parsing from the first bytes of a TCP segment: the
 * request header (api key, version, correlation id, client id), the first
 * topic of Produce and Fetch requests, and the correlation id and first error
 * code of their responses.
 *
 * Two limits bound every read: the captured bytes (past them the message is
 * truncated: parse what is there) and the message's own size prefix (a field
 * that would run past it is a lie: the message is malformed).
 */
#ifndef NW_USM_KAFKA_PARSE_H
#define NW_USM_KAFKA_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USM_KAFKA_PRODUCE 0
#define USM_KAFKA_FETCH 1
/* Produce v0–v12 carry topic names, v13 topic ids; Fetch v0–v12 names,
 * v13–v17 ids (v15 dropped replica_id). Flexible from Produce v9, Fetch v12. */
#define USM_KAFKA_PRODUCE_MAX_VERSION 13
#define USM_KAFKA_FETCH_MAX_VERSION 17
#define USM_KAFKA_API_KEY_MAX 127     /* sanity bound: ~90 keys exist */
#define USM_KAFKA_API_VERSION_MAX 63  /* sanity bound: none is past 20 */
#define USM_KAFKA_TOPIC_MAX 249       /* Kafka's own limit on topic names */
#define USM_KAFKA_MESSAGE_DEFAULT_MAX (100u << 20) /* socket.request.max.bytes */
#define USM_KAFKA_ERROR_UNKNOWN INT16_MIN /* the response ended before its error code */

/* Never renumber; append. */
enum usm_kafka_verdict {
	USM_KAFKA_OK = 0,
	USM_KAFKA_SHORT = 1,           /* fewer bytes than a header: cannot tell */
	USM_KAFKA_BAD_LENGTH = 2,      /* size prefix below a header or above the maximum */
	USM_KAFKA_BAD_API_KEY = 3,
	USM_KAFKA_BAD_VERSION = 4,
	USM_KAFKA_BAD_CORRELATION = 5, /* negative correlation id */
	USM_KAFKA_BAD_CLIENT_ID = 6,   /* length lies, or non-printable */
	USM_KAFKA_BAD_STRING = 7,      /* a string or byte field whose length lies */
	USM_KAFKA_BAD_ARRAY = 8,       /* null array, or a count the message cannot hold */
	USM_KAFKA_BAD_TOPIC = 9,       /* empty, over 249 bytes, or illegal characters */
	USM_KAFKA_BAD_VARINT = 10,     /* over 5 bytes or 32 bits */
	USM_KAFKA_BAD_ERROR_CODE = 11, /* outside -1..1000 */
	USM_KAFKA_VERDICT_COUNT
};

enum usm_kafka_flags {
	USM_KAFKA_F_TRUNCATED = 1u << 0,       /* capture ended before the topic/error code */
	USM_KAFKA_F_TOPIC_TRUNCATED = 1u << 1, /* capture ended inside the topic name */
	USM_KAFKA_F_TOPIC_ID = 1u << 2,        /* topic_id holds the topic (v13+) */
	USM_KAFKA_F_FLEXIBLE = 1u << 3,        /* compact encodings, tagged fields */
	USM_KAFKA_F_TRACKED = 1u << 4,         /* Produce/Fetch in a version parsed here */
	USM_KAFKA_F_NO_TOPIC = 1u << 5,        /* the topic array is empty */
};

struct usm_kafka_request {
	const uint8_t *client_id; /* into the buffer; NULL for a null client id */
	const uint8_t *topic;     /* into the buffer; valid for topic_len bytes */
	uint32_t size;            /* size prefix: bytes after it */
	int32_t correlation_id;
	int32_t topic_count;
	int16_t api_key;
	int16_t api_version;
	int16_t acks;             /* Produce: 0 means no response will come */
	uint16_t client_id_len;   /* bytes present (cut by the capture if so) */
	uint16_t topic_len;
	uint8_t topic_id[16];     /* USM_KAFKA_F_TOPIC_ID */
	uint8_t flags;            /* enum usm_kafka_flags */
};

struct usm_kafka_response {
	uint32_t size;
	int32_t correlation_id;
	int16_t error_code;       /* first non-zero of top-level and first partition */
	uint8_t flags;            /* USM_KAFKA_F_TRUNCATED, USM_KAFKA_F_NO_TOPIC */
};

/* A request at buf[0]. max_size bounds the size prefix (0: the default). */
enum usm_kafka_verdict usm_kafka_parse_request(const uint8_t *buf, size_t len,
					       uint32_t max_size,
					       struct usm_kafka_request *req);

/* Size prefix and correlation id of a response at buf[0]. */
enum usm_kafka_verdict usm_kafka_parse_response_header(const uint8_t *buf, size_t len,
						       uint32_t max_size,
						       struct usm_kafka_response *resp);

/* The whole response to a request of api_key/api_version (Produce or Fetch in
 * a supported version; anything else stops after the header). */
enum usm_kafka_verdict usm_kafka_parse_response(const uint8_t *buf, size_t len,
						uint32_t max_size, int16_t api_key,
						int16_t api_version,
						struct usm_kafka_response *resp);

/* Whether api_key/api_version is a Produce or Fetch version parsed here. */
bool usm_kafka_tracked(int16_t api_key, int16_t api_version);

const char *usm_kafka_verdict_name(unsigned verdict);

#endif /* NW_USM_KAFKA_PARSE_H */
