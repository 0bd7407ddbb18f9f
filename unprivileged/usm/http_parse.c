/*
 * HTTP/1.x start-line parsing (RFC 9112 §3, §4) over a captured fragment.
 *
 * Every read is bounded by len; a fragment that ends inside the path is a
 * request with a truncated path, one that ends inside the method or the status
 * code cannot be classified (USM_HTTP_TRUNCATED). Header lines are scanned only
 * for what framing needs (Content-Length, Transfer-Encoding, the blank line),
 * so a tracker can find a second pipelined message in the same fragment.
 */
#include "unprivileged/usm/http_parse.h"

#include <stdbool.h>
#include <string.h>

#define METHOD_TOKEN_MAX 20   /* longer upper-case runs are not a method */
#define HEADER_LINES_MAX 128
#define CONTENT_LENGTH_MAX 0x7fffffffffffULL

static const struct {
	const char *name;
	size_t len;
} methods[USM_HTTP_METHOD_COUNT] = {
	[USM_HTTP_METHOD_UNKNOWN] = { "UNKNOWN", 7 },
	[USM_HTTP_GET] = { "GET", 3 },
	[USM_HTTP_POST] = { "POST", 4 },
	[USM_HTTP_PUT] = { "PUT", 3 },
	[USM_HTTP_DELETE] = { "DELETE", 6 },
	[USM_HTTP_HEAD] = { "HEAD", 4 },
	[USM_HTTP_OPTIONS] = { "OPTIONS", 7 },
	[USM_HTTP_PATCH] = { "PATCH", 5 },
	[USM_HTTP_TRACE] = { "TRACE", 5 },
	[USM_HTTP_CONNECT] = { "CONNECT", 7 },
};

static const char *const http_verdict_names[USM_HTTP_VERDICT_COUNT] = {
	[USM_HTTP_OK] = "ok",
	[USM_HTTP_NOT_HTTP] = "not-http",
	[USM_HTTP_EMPTY] = "empty",
	[USM_HTTP_TRUNCATED] = "truncated",
	[USM_HTTP_UNKNOWN_METHOD] = "unknown-method",
	[USM_HTTP_EMPTY_PATH] = "empty-path",
	[USM_HTTP_BAD_TARGET] = "bad-target",
	[USM_HTTP_NON_PRINTABLE] = "non-printable-char",
	[USM_HTTP_BAD_VERSION] = "bad-version",
	[USM_HTTP_BAD_STATUS] = "bad-status",
};

const char *usm_http_method_name(unsigned method)
{
	return method < USM_HTTP_METHOD_COUNT ? methods[method].name : "UNKNOWN";
}

const char *usm_http_verdict_name(unsigned verdict)
{
	return verdict < USM_HTTP_VERDICT_COUNT ? http_verdict_names[verdict] : "unknown";
}

static bool is_vchar(uint8_t c)
{
	return c > 0x20 && c < 0x7f;
}

static bool is_method_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static bool is_alpha(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

/* Case-insensitive "name:" at p (n bytes available, name lower-case, k long). */
static bool header_is(const uint8_t *p, size_t n, const char *name, size_t k)
{
	if (n <= k || p[k] != ':')
		return false;
	for (size_t i = 0; i < k; i++)
		if (lower(p[i]) != (uint8_t)name[i])
			return false;
	return true;
}

/* Content-Length value: 1*DIGIT between optional whitespace; false if not. */
static bool parse_length(const uint8_t *p, size_t n, uint64_t *out)
{
	size_t i = 0;
	uint64_t v = 0;
	bool digits = false;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > CONTENT_LENGTH_MAX)
			return false;
		digits = true;
	}
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	*out = v;
	return digits && i == n;
}

/* Header lines from pos: records the blank line and the body's framing. */
static void scan_headers(const uint8_t *buf, size_t len, size_t pos, struct usm_http_msg *m)
{
	bool cl_seen = false, cl_bad = false;
	uint64_t cl = 0, v = 0;

	for (unsigned lines = 0; pos < len && lines < HEADER_LINES_MAX; lines++) {
		const uint8_t *lf = memchr(buf + pos, '\n', len - pos);
		size_t end, n;

		if (!lf)
			return; /* the fragment ends inside the headers */
		end = (size_t)(lf - buf);
		n = end - pos;
		if (n && buf[end - 1] == '\r')
			n--;
		if (n == 0) {
			m->headers_end = (uint32_t)(end + 1);
			m->flags |= USM_HTTP_F_HEADERS_END;
			if (cl_bad)
				m->flags |= USM_HTTP_F_BODY_UNKNOWN;
			else if (cl_seen) {
				m->content_length = cl;
				m->flags |= USM_HTTP_F_CONTENT_LENGTH;
			}
			return;
		}
		if (lower(buf[pos]) == 'c' && header_is(buf + pos, n, "content-length", 14)) {
			if (!parse_length(buf + pos + 15, n - 15, &v) || (cl_seen && v != cl))
				cl_bad = true; /* unusable or conflicting: do not guess */
			cl = v;
			cl_seen = true;
		} else if (lower(buf[pos]) == 't' &&
			   header_is(buf + pos, n, "transfer-encoding", 17)) {
			cl_bad = true;
		}
		pos = end + 1;
	}
}

/*
 * "HTTP/1.0" or "HTTP/1.1" at p. *version is 0 when the n bytes end inside a
 * prefix of it.
 */
static enum usm_http_verdict parse_version(const uint8_t *p, size_t n, uint8_t *version)
{
	static const char prefix[] = "HTTP/1.";

	*version = 0;
	for (size_t i = 0; i < 7; i++) {
		if (i == n)
			return USM_HTTP_OK;
		if (p[i] != (uint8_t)prefix[i])
			return USM_HTTP_BAD_VERSION;
	}
	if (n == 7)
		return USM_HTTP_OK;
	if (p[7] != '0' && p[7] != '1')
		return USM_HTTP_BAD_VERSION;
	*version = p[7] == '0' ? 10 : 11;
	return USM_HTTP_OK;
}

/* After the version (at pos): CRLF or LF, then headers; or the fragment end. */
static enum usm_http_verdict finish_line(const uint8_t *buf, size_t len, size_t pos,
					 struct usm_http_msg *m)
{
	if (pos < len && buf[pos] == '\r')
		pos++;
	if (pos == len)
		return USM_HTTP_OK;
	if (buf[pos] != '\n')
		return USM_HTTP_BAD_VERSION;
	scan_headers(buf, len, pos + 1, m);
	return USM_HTTP_OK;
}

static enum usm_http_verdict parse_request(const uint8_t *buf, size_t len, size_t tok,
					   struct usm_http_msg *m)
{
	static const char root[] = "/";
	size_t pos = tok + 1, start, i;
	enum usm_http_verdict v;

	m->kind = USM_HTTP_REQUEST;
	for (unsigned k = 1; k < USM_HTTP_METHOD_COUNT; k++)
		if (methods[k].len == tok && !memcmp(buf, methods[k].name, tok))
			m->method = (uint8_t)k;
	if (m->method == USM_HTTP_METHOD_UNKNOWN)
		return USM_HTTP_UNKNOWN_METHOD;
	if (pos == len)
		return USM_HTTP_TRUNCATED;
	if (buf[pos] == ' ')
		return USM_HTTP_EMPTY_PATH;
	start = pos;
	if (m->method == USM_HTTP_CONNECT || buf[pos] == '/' || buf[pos] == '*') {
		/* authority form (host:port), origin form, asterisk form */
	} else if (is_alpha(buf[pos])) {
		/* absolute form: scheme "://" authority [path] */
		for (i = pos; i < len && (is_alpha(buf[i]) || buf[i] == '+' || buf[i] == '-' ||
					  buf[i] == '.' || (buf[i] >= '0' && buf[i] <= '9'));
		     i++)
			;
		for (size_t k = 0; k < 3; k++, i++) {
			if (i == len)
				return USM_HTTP_TRUNCATED;
			if (buf[i] != (uint8_t)"://"[k])
				return USM_HTTP_BAD_TARGET;
		}
		for (; i < len && buf[i] != '/' && buf[i] != '?' && buf[i] != ' '; i++)
			if (!is_vchar(buf[i]))
				return USM_HTTP_NON_PRINTABLE;
		if (i == len)
			return USM_HTTP_TRUNCATED; /* never reached the path */
		if (buf[i] != '/') {
			m->path = root;
			m->path_len = 1;
			pos = i;
			goto after_path;
		}
		start = i;
	} else if (!is_vchar(buf[pos])) {
		return USM_HTTP_NON_PRINTABLE;
	} else {
		return USM_HTTP_BAD_TARGET;
	}

	for (i = start; i < len; i++) {
		uint8_t c = buf[i];

		if (c == ' ' || ((c == '?' || c == '#') && m->method != USM_HTTP_CONNECT))
			break;
		if (c == '\r' || c == '\n')
			return USM_HTTP_BAD_VERSION; /* HTTP/0.9 simple request */
		if (!is_vchar(c))
			return USM_HTTP_NON_PRINTABLE;
	}
	m->path = (const char *)buf + start;
	m->path_len = (uint32_t)(i - start);
	pos = i;
	if (pos == len) {
		m->flags |= USM_HTTP_F_PATH_TRUNCATED;
		return USM_HTTP_OK;
	}
after_path:
	if (buf[pos] != ' ') {
		m->flags |= USM_HTTP_F_QUERY;
		for (; pos < len && buf[pos] != ' '; pos++) {
			if (buf[pos] == '\r' || buf[pos] == '\n')
				return USM_HTTP_BAD_VERSION;
			if (!is_vchar(buf[pos]))
				return USM_HTTP_NON_PRINTABLE;
		}
		if (pos == len)
			return USM_HTTP_OK;
	}
	pos++; /* the space before the version */
	v = parse_version(buf + pos, len - pos, &m->version);
	if (v != USM_HTTP_OK || m->version == 0)
		return v;
	return finish_line(buf, len, pos + 8, m);
}

static enum usm_http_verdict parse_response(const uint8_t *buf, size_t len,
					    struct usm_http_msg *m)
{
	enum usm_http_verdict v;
	unsigned status = 0;
	size_t pos;

	m->kind = USM_HTTP_RESPONSE;
	v = parse_version(buf, len, &m->version);
	if (v != USM_HTTP_OK)
		return v;
	if (m->version == 0 || len == 8)
		return USM_HTTP_TRUNCATED;
	if (buf[8] != ' ')
		return USM_HTTP_BAD_VERSION;
	for (pos = 9; pos < 12; pos++) {
		if (pos == len)
			return USM_HTTP_TRUNCATED;
		if (buf[pos] < '0' || buf[pos] > '9')
			return USM_HTTP_BAD_STATUS;
		status = status * 10 + (unsigned)(buf[pos] - '0');
	}
	if (status < 100 || status > 599)
		return USM_HTTP_BAD_STATUS;
	m->status = (uint16_t)status;
	if (pos == len)
		return USM_HTTP_OK;
	if (buf[pos] == ' ') {
		const uint8_t *lf = memchr(buf + pos, '\n', len - pos);

		if (!lf)
			return USM_HTTP_OK; /* the fragment ends in the reason phrase */
		pos = (size_t)(lf - buf);
		if (buf[pos - 1] == '\r')
			pos--;
	}
	return finish_line(buf, len, pos, m) == USM_HTTP_OK ? USM_HTTP_OK : USM_HTTP_BAD_STATUS;
}

enum usm_http_verdict usm_http_parse(const uint8_t *buf, size_t len, struct usm_http_msg *m)
{
	static const char http[] = "HTTP/";
	size_t tok;

	memset(m, 0, sizeof(*m));
	if (len == 0)
		return USM_HTTP_EMPTY;
	if (len > UINT32_MAX)
		len = UINT32_MAX; /* offsets are 32-bit; nothing captures more */
	if (!memcmp(buf, http, len < 5 ? len : 5))
		return len < 5 ? USM_HTTP_TRUNCATED : parse_response(buf, len, m);
	for (tok = 0; tok < len && tok <= METHOD_TOKEN_MAX && is_method_char(buf[tok]); tok++)
		;
	if (tok == 0 || tok > METHOD_TOKEN_MAX)
		return USM_HTTP_NOT_HTTP;
	if (tok == len)
		return USM_HTTP_TRUNCATED;
	if (buf[tok] != ' ')
		return USM_HTTP_NOT_HTTP;
	return parse_request(buf, len, tok, m);
}
