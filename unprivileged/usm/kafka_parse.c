/*
 * Kafka protocol parsing (https://kafka.apache.org/protocol, and the message
 * definitions under clients/src/main/resources/common/message in Kafka).
 *
 * A cursor carries two ends: cap, what was captured of this message, and end,
 * where the size prefix says the message stops. Reading past cap but within
 * end is truncation; past end is a lie.
 */
#include "unprivileged/usm/kafka_parse.h"

#include <stdbool.h>
#include <string.h>

#define REQ_HEADER_MIN 10  /* api key, version, correlation id, client id length */
#define RESP_HEADER_MIN 4  /* correlation id */
#define TAGGED_FIELDS_MAX 64

enum rd_status {
	RD_OK = 0,
	RD_TRUNC = 1,
	RD_LIE = 2,
};

struct cursor {
	const uint8_t *b;
	size_t pos;
	size_t cap; /* captured bytes of this message: min(len, end) */
	size_t end; /* 4 + size prefix */
	enum usm_kafka_verdict bad_varint;
};

static const char *const kafka_verdict_names[USM_KAFKA_VERDICT_COUNT] = {
	[USM_KAFKA_OK] = "ok",
	[USM_KAFKA_SHORT] = "short",
	[USM_KAFKA_BAD_LENGTH] = "bad-length",
	[USM_KAFKA_BAD_API_KEY] = "bad-api-key",
	[USM_KAFKA_BAD_VERSION] = "bad-version",
	[USM_KAFKA_BAD_CORRELATION] = "bad-correlation-id",
	[USM_KAFKA_BAD_CLIENT_ID] = "bad-client-id",
	[USM_KAFKA_BAD_STRING] = "bad-string",
	[USM_KAFKA_BAD_ARRAY] = "bad-array",
	[USM_KAFKA_BAD_TOPIC] = "bad-topic",
	[USM_KAFKA_BAD_VARINT] = "bad-varint",
	[USM_KAFKA_BAD_ERROR_CODE] = "bad-error-code",
};

const char *usm_kafka_verdict_name(unsigned verdict)
{
	return verdict < USM_KAFKA_VERDICT_COUNT ? kafka_verdict_names[verdict] : "unknown";
}

bool usm_kafka_tracked(int16_t api_key, int16_t api_version)
{
	if (api_version < 0)
		return false;
	return (api_key == USM_KAFKA_PRODUCE && api_version <= USM_KAFKA_PRODUCE_MAX_VERSION) ||
	       (api_key == USM_KAFKA_FETCH && api_version <= USM_KAFKA_FETCH_MAX_VERSION);
}

static bool flexible(int16_t api_key, int16_t api_version)
{
	return (api_key == USM_KAFKA_PRODUCE && api_version >= 9) ||
	       (api_key == USM_KAFKA_FETCH && api_version >= 12);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static enum rd_status rd_need(const struct cursor *c, size_t n)
{
	if (n <= c->cap - c->pos)
		return RD_OK;
	return n > c->end - c->pos ? RD_LIE : RD_TRUNC;
}

static enum rd_status rd_int(struct cursor *c, size_t n, int64_t *out)
{
	enum rd_status s = rd_need(c, n);
	uint64_t v = 0;

	if (s != RD_OK)
		return s;
	for (size_t i = 0; i < n; i++)
		v = (v << 8) | c->b[c->pos + i];
	c->pos += n;
	/* sign-extend the n-byte big-endian value */
	*out = n == 8 ? (int64_t)v : (int64_t)(v ^ (1ULL << (8 * n - 1))) - (int64_t)(1ULL << (8 * n - 1));
	return RD_OK;
}

static enum rd_status rd_skip(struct cursor *c, size_t n)
{
	enum rd_status s = rd_need(c, n);

	if (s == RD_OK)
		c->pos += n;
	return s;
}

/* Unsigned varint of at most 5 bytes / 32 bits. */
static enum rd_status rd_uvarint(struct cursor *c, uint32_t *out)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 5; i++) {
		enum rd_status s = rd_need(c, 1);
		uint8_t byte;

		if (s != RD_OK)
			return s;
		byte = c->b[c->pos++];
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			if (v > UINT32_MAX)
				break;
			*out = (uint32_t)v;
			return RD_OK;
		}
	}
	c->bad_varint = USM_KAFKA_BAD_VARINT;
	return RD_LIE;
}

/* A string/array length: int16/int32 classic or uvarint(N+1) compact; -1 for
 * null. */
static enum rd_status rd_len(struct cursor *c, bool compact, size_t classic_width, int64_t *out)
{
	enum rd_status s;
	uint32_t u;

	if (!compact)
		return rd_int(c, classic_width, out);
	s = rd_uvarint(c, &u);
	if (s == RD_OK)
		*out = (int64_t)u - 1;
	return s;
}

/* Tagged fields: a count, then (tag, size, bytes) each. */
static enum rd_status skip_tags(struct cursor *c)
{
	enum rd_status s;
	uint32_t n, tag, size;

	s = rd_uvarint(c, &n);
	if (s != RD_OK)
		return s;
	if (n > TAGGED_FIELDS_MAX)
		return RD_LIE;
	for (uint32_t i = 0; i < n; i++) {
		if ((s = rd_uvarint(c, &tag)) || (s = rd_uvarint(c, &size)) || (s = rd_skip(c, size)))
			return s;
	}
	return RD_OK;
}

static bool topic_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

/* The verdict for a read that failed: a lie is the given verdict; truncation
 * is not an error (the caller flags it and stops). */
#define FAIL_OR_TRUNC(c, s, verdict, flags_out)                                        \
	do {                                                                            \
		if ((s) == RD_LIE)                                                      \
			return (c)->bad_varint ? (c)->bad_varint : (verdict);           \
		*(flags_out) |= USM_KAFKA_F_TRUNCATED;                                  \
		return USM_KAFKA_OK;                                                    \
	} while (0)

/* The first topic: an array count, then a name or (v13+) a 16-byte id. */
static enum usm_kafka_verdict first_topic(struct cursor *c, bool compact, bool by_id,
					  struct usm_kafka_request *r)
{
	enum rd_status s;
	int64_t n;

	if ((s = rd_len(c, compact, 4, &n)))
		FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_ARRAY, &r->flags);
	/* each topic takes at least 2 bytes (name length, partitions count) */
	if (n < 0 || (uint64_t)n > (c->end - c->pos) / 2)
		return USM_KAFKA_BAD_ARRAY;
	r->topic_count = (int32_t)n;
	if (n == 0) {
		r->flags |= USM_KAFKA_F_NO_TOPIC;
		return USM_KAFKA_OK;
	}
	if (by_id) {
		if ((s = rd_need(c, 16)))
			FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_ARRAY, &r->flags);
		memcpy(r->topic_id, c->b + c->pos, 16);
		c->pos += 16;
		r->flags |= USM_KAFKA_F_TOPIC_ID;
		return USM_KAFKA_OK;
	}
	if ((s = rd_len(c, compact, 2, &n)))
		FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_STRING, &r->flags);
	if (n <= 0 || n > USM_KAFKA_TOPIC_MAX)
		return USM_KAFKA_BAD_TOPIC;
	if ((uint64_t)n > c->end - c->pos)
		return USM_KAFKA_BAD_STRING;
	r->topic = c->b + c->pos;
	r->topic_len = (uint16_t)(c->cap - c->pos < (uint64_t)n ? c->cap - c->pos : (uint64_t)n);
	for (uint16_t i = 0; i < r->topic_len; i++)
		if (!topic_char(r->topic[i]))
			return USM_KAFKA_BAD_TOPIC;
	if (r->topic_len == 0) {
		r->topic = NULL;
		r->flags |= USM_KAFKA_F_TRUNCATED; /* not a byte of the name */
	} else if (r->topic_len < n) {
		r->flags |= USM_KAFKA_F_TOPIC_TRUNCATED;
	}
	return USM_KAFKA_OK;
}

static enum usm_kafka_verdict produce_body(struct cursor *c, struct usm_kafka_request *r)
{
	bool compact = r->flags & USM_KAFKA_F_FLEXIBLE;
	enum rd_status s;
	int64_t n;

	if (r->api_version >= 3) { /* transactional_id, nullable */
		if ((s = rd_len(c, compact, 2, &n)))
			FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_STRING, &r->flags);
		if (n < -1)
			return USM_KAFKA_BAD_STRING;
		if (n > 0 && (s = rd_skip(c, (size_t)n)))
			FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_STRING, &r->flags);
	}
	if ((s = rd_int(c, 2, &n)))
		FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
	r->acks = (int16_t)n;
	if ((s = rd_skip(c, 4))) /* timeout_ms */
		FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
	return first_topic(c, compact, r->api_version >= 13, r);
}

static enum usm_kafka_verdict fetch_body(struct cursor *c, struct usm_kafka_request *r)
{
	int16_t v = r->api_version;
	/* replica_id (≤14), max_wait_ms, min_bytes, max_bytes (3+),
	 * isolation_level (4+), session_id and session_epoch (7+) */
	size_t fixed = (v <= 14 ? 4 : 0) + 4 + 4 + (v >= 3 ? 4 : 0) + (v >= 4 ? 1 : 0) +
		       (v >= 7 ? 8 : 0);
	enum rd_status s = rd_skip(c, fixed);

	if (s)
		FAIL_OR_TRUNC(c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
	return first_topic(c, r->flags & USM_KAFKA_F_FLEXIBLE, v >= 13, r);
}

static bool printable(uint8_t ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

enum usm_kafka_verdict usm_kafka_parse_request(const uint8_t *buf, size_t len,
					       uint32_t max_size,
					       struct usm_kafka_request *r)
{
	struct cursor c = { .b = buf };
	enum rd_status s;
	int64_t size, n;

	memset(r, 0, sizeof(*r));
	r->acks = -1;
	if (!max_size || max_size > INT32_MAX)
		max_size = USM_KAFKA_MESSAGE_DEFAULT_MAX;
	if (len < 4 + REQ_HEADER_MIN)
		return USM_KAFKA_SHORT;
	size = (int32_t)be32(buf);
	if (size < REQ_HEADER_MIN || size > max_size)
		return USM_KAFKA_BAD_LENGTH;
	r->size = (uint32_t)size;
	c.pos = 4;
	c.end = 4 + (size_t)size;
	c.cap = len < c.end ? len : c.end;
	rd_int(&c, 2, &n);
	r->api_key = (int16_t)n;
	rd_int(&c, 2, &n);
	r->api_version = (int16_t)n;
	rd_int(&c, 4, &n);
	r->correlation_id = (int32_t)n;
	if (r->api_key < 0 || r->api_key > USM_KAFKA_API_KEY_MAX)
		return USM_KAFKA_BAD_API_KEY;
	if (r->api_version < 0 || r->api_version > USM_KAFKA_API_VERSION_MAX)
		return USM_KAFKA_BAD_VERSION;
	if (r->correlation_id < 0)
		return USM_KAFKA_BAD_CORRELATION;
	if (usm_kafka_tracked(r->api_key, r->api_version))
		r->flags |= USM_KAFKA_F_TRACKED;
	if (flexible(r->api_key, r->api_version))
		r->flags |= USM_KAFKA_F_FLEXIBLE;
	rd_int(&c, 2, &n); /* client_id: always an int16-length nullable string */
	if (n < -1 || n > (int64_t)(c.end - c.pos))
		return USM_KAFKA_BAD_CLIENT_ID;
	if (n >= 0) {
		size_t have = c.cap - c.pos < (size_t)n ? c.cap - c.pos : (size_t)n;

		r->client_id = buf + c.pos;
		r->client_id_len = (uint16_t)have;
		for (size_t i = 0; i < have; i++)
			if (!printable(buf[c.pos + i]))
				return USM_KAFKA_BAD_CLIENT_ID;
		c.pos += have;
		if (have < (size_t)n) {
			r->flags |= USM_KAFKA_F_TRUNCATED;
			return USM_KAFKA_OK;
		}
	}
	if (!(r->flags & USM_KAFKA_F_TRACKED))
		return USM_KAFKA_OK;
	if ((r->flags & USM_KAFKA_F_FLEXIBLE) && (s = skip_tags(&c)))
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_STRING, &r->flags);
	return r->api_key == USM_KAFKA_PRODUCE ? produce_body(&c, r) : fetch_body(&c, r);
}

static enum usm_kafka_verdict response_header(struct cursor *c, const uint8_t *buf, size_t len,
					      uint32_t max_size, struct usm_kafka_response *r)
{
	int64_t size;

	memset(r, 0, sizeof(*r));
	r->error_code = USM_KAFKA_ERROR_UNKNOWN;
	if (!max_size || max_size > INT32_MAX)
		max_size = USM_KAFKA_MESSAGE_DEFAULT_MAX;
	if (len < 4 + RESP_HEADER_MIN)
		return USM_KAFKA_SHORT;
	size = (int32_t)be32(buf);
	if (size < RESP_HEADER_MIN || size > max_size)
		return USM_KAFKA_BAD_LENGTH;
	r->size = (uint32_t)size;
	r->correlation_id = (int32_t)be32(buf + 4);
	c->b = buf;
	c->pos = 8;
	c->end = 4 + (size_t)size;
	c->cap = len < c->end ? len : c->end;
	return USM_KAFKA_OK;
}

enum usm_kafka_verdict usm_kafka_parse_response_header(const uint8_t *buf, size_t len,
						       uint32_t max_size,
						       struct usm_kafka_response *resp)
{
	struct cursor c = { 0 };

	return response_header(&c, buf, len, max_size, resp);
}

enum usm_kafka_verdict usm_kafka_parse_response(const uint8_t *buf, size_t len,
						uint32_t max_size, int16_t api_key,
						int16_t v, struct usm_kafka_response *r)
{
	struct cursor c = { 0 };
	enum usm_kafka_verdict verdict = response_header(&c, buf, len, max_size, r);
	bool compact = flexible(api_key, v), by_id = v >= 13;
	enum rd_status s;
	int64_t n, err = 0;

	if (verdict != USM_KAFKA_OK || !usm_kafka_tracked(api_key, v))
		return verdict;
	if (compact && (s = skip_tags(&c)))
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_STRING, &r->flags);
	if (api_key == USM_KAFKA_FETCH) {
		if (v >= 1 && (s = rd_skip(&c, 4))) /* throttle_time_ms */
			FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
		if (v >= 7) {
			if ((s = rd_int(&c, 2, &err)) || (s = rd_skip(&c, 4))) /* error, session */
				FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
			if (err) /* the top-level error says it all */
				goto done;
		}
	}
	if ((s = rd_len(&c, compact, 4, &n)))
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_ARRAY, &r->flags);
	if (n < 0 || (uint64_t)n > (c.end - c.pos) / 2)
		return USM_KAFKA_BAD_ARRAY;
	if (n == 0) {
		r->flags |= USM_KAFKA_F_NO_TOPIC;
		goto done;
	}
	if (by_id) {
		s = rd_skip(&c, 16);
	} else if (!(s = rd_len(&c, compact, 2, &n))) {
		if (n < 0 || n > USM_KAFKA_TOPIC_MAX)
			return USM_KAFKA_BAD_TOPIC;
		s = rd_skip(&c, (size_t)n);
	}
	if (s)
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_STRING, &r->flags);
	if ((s = rd_len(&c, compact, 4, &n)))
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_ARRAY, &r->flags);
	if (n <= 0 || (uint64_t)n > (c.end - c.pos) / 6)
		return USM_KAFKA_BAD_ARRAY; /* a topic answers for at least one partition */
	if ((s = rd_skip(&c, 4)) || (s = rd_int(&c, 2, &err))) /* partition index, error code */
		FAIL_OR_TRUNC(&c, s, USM_KAFKA_BAD_LENGTH, &r->flags);
done:
	if (err < -1 || err > 1000)
		return USM_KAFKA_BAD_ERROR_CODE;
	r->error_code = (int16_t)err;
	return USM_KAFKA_OK;
}
