/*
 * HTTP/1.x request line and status line parsing from the first bytes of a TCP
 * segment. The bytes are a capture, not a stream: the fragment may end
 * anywhere, and what it holds is hostile. Nothing is copied; a parsed path
 * points into the caller's buffer.
 */
#ifndef NW_USM_HTTP_PARSE_H
#define NW_USM_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum usm_http_kind {
	USM_HTTP_REQUEST = 1,
	USM_HTTP_RESPONSE = 2,
};

/* Never renumber: telemetry and the key's wire form use these values. */
enum usm_http_method {
	USM_HTTP_METHOD_UNKNOWN = 0,
	USM_HTTP_GET = 1,
	USM_HTTP_POST = 2,
	USM_HTTP_PUT = 3,
	USM_HTTP_DELETE = 4,
	USM_HTTP_HEAD = 5,
	USM_HTTP_OPTIONS = 6,
	USM_HTTP_PATCH = 7,
	USM_HTTP_TRACE = 8,
	USM_HTTP_CONNECT = 9,
	USM_HTTP_METHOD_COUNT
};

/* Why a fragment was not accepted. Never renumber; append. */
enum usm_http_verdict {
	USM_HTTP_OK = 0,
	USM_HTTP_NOT_HTTP = 1,        /* starts like neither a request nor a status line:
				       * a body continuation or another protocol */
	USM_HTTP_EMPTY = 2,           /* no bytes at all */
	USM_HTTP_TRUNCATED = 3,       /* ends before the message can be told apart */
	USM_HTTP_UNKNOWN_METHOD = 4,  /* a method-like token we do not track */
	USM_HTTP_EMPTY_PATH = 5,      /* no request-target between the spaces */
	USM_HTTP_BAD_TARGET = 6,      /* not origin, absolute, authority or '*' form */
	USM_HTTP_NON_PRINTABLE = 7,   /* control or non-ASCII byte in the request line */
	USM_HTTP_BAD_VERSION = 8,     /* not HTTP/1.0 or HTTP/1.1 */
	USM_HTTP_BAD_STATUS = 9,      /* status not three digits in 100..599 */
	USM_HTTP_VERDICT_COUNT
};

enum usm_http_msg_flags {
	USM_HTTP_F_PATH_TRUNCATED = 1u << 0, /* the fragment ended inside the path */
	USM_HTTP_F_QUERY = 1u << 1,          /* a query string followed (not in path) */
	USM_HTTP_F_HEADERS_END = 1u << 2,    /* headers_end is valid */
	USM_HTTP_F_CONTENT_LENGTH = 1u << 3, /* content_length is valid */
	USM_HTTP_F_BODY_UNKNOWN = 1u << 4,   /* Transfer-Encoding, or a Content-Length
					      * that is unusable: body length unknown */
};

struct usm_http_msg {
	const char *path;        /* request: into the buffer, not NUL-terminated */
	uint64_t content_length; /* USM_HTTP_F_CONTENT_LENGTH */
	uint32_t path_len;
	uint32_t headers_end;    /* offset past the blank line (USM_HTTP_F_HEADERS_END) */
	uint16_t status;         /* response: 100..599 */
	uint8_t kind;            /* enum usm_http_kind */
	uint8_t method;          /* enum usm_http_method */
	uint8_t version;         /* 10 or 11; 0 if the fragment ended before it */
	uint8_t flags;           /* enum usm_http_msg_flags */
};

/* Parses the message starting at buf[0]. On USM_HTTP_OK *msg is filled; on any
 * other verdict *msg is unspecified. */
enum usm_http_verdict usm_http_parse(const uint8_t *buf, size_t len, struct usm_http_msg *msg);

const char *usm_http_method_name(unsigned method);   /* "GET", …, "UNKNOWN" */
const char *usm_http_verdict_name(unsigned verdict); /* "not-http", …, "unknown" */

#endif /* NW_USM_HTTP_PARSE_H */
