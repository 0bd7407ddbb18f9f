/* Unit tests for unprivileged/usm/http_parse.c and http_path.c: request and
 * status lines, every truncation point, hostile bytes and lengths, framing
 * headers, path rules and identifier folding. Every parse reads from a heap
 * buffer of exactly the given length, so an over-read is a real one. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "unprivileged/usm/http_parse.c"
#include "unprivileged/usm/http_path.c"

static enum usm_http_verdict parse_n(const void *data, size_t len, struct usm_http_msg *m)
{
	uint8_t *buf = malloc(len ? len : 1);
	enum usm_http_verdict v;

	assert_non_null(buf);
	memcpy(buf, data, len);
	v = usm_http_parse(buf, len, m);
	/* the path points into buf: compare before freeing via a copy */
	if (v == USM_HTTP_OK && m->path && (const uint8_t *)m->path >= buf && (const uint8_t *)m->path < buf + len) {
		static char copy[70000];

		assert_true(m->path_len <= len);
		memcpy(copy, m->path, m->path_len);
		m->path = copy;
	}
	free(buf);
	return v;
}

static enum usm_http_verdict parse(const char *s, struct usm_http_msg *m)
{
	return parse_n(s, strlen(s), m);
}

static void assert_path(const struct usm_http_msg *m, const char *want)
{
	assert_int_equal(m->path_len, strlen(want));
	assert_memory_equal(m->path, want, m->path_len);
}

static void test_request_lines(void **state)
{
	struct usm_http_msg m;
	static const struct {
		const char *line;
		unsigned method;
		const char *path;
		unsigned version, flags;
	} ok[] = {
		{ "GET / HTTP/1.1\r\n\r\n", USM_HTTP_GET, "/", 11, USM_HTTP_F_HEADERS_END },
		{ "POST /api/v1/items HTTP/1.0\r\n", USM_HTTP_POST, "/api/v1/items", 10, 0 },
		{ "PUT /a?x=1&y=2 HTTP/1.1\r\n", USM_HTTP_PUT, "/a", 11, USM_HTTP_F_QUERY },
		{ "DELETE /a#frag HTTP/1.1\n\n", USM_HTTP_DELETE, "/a", 11,
		  USM_HTTP_F_QUERY | USM_HTTP_F_HEADERS_END },
		{ "HEAD /x HTTP/1.1\r\n", USM_HTTP_HEAD, "/x", 11, 0 },
		{ "OPTIONS * HTTP/1.1\r\n", USM_HTTP_OPTIONS, "*", 11, 0 },
		{ "PATCH /p HTTP/1.1\r\n", USM_HTTP_PATCH, "/p", 11, 0 },
		{ "TRACE /t HTTP/1.1\r\n", USM_HTTP_TRACE, "/t", 11, 0 },
		{ "CONNECT db.example:5432 HTTP/1.1\r\n", USM_HTTP_CONNECT, "db.example:5432", 11, 0 },
		{ "GET http://example.com:8080/proxied/path?q HTTP/1.1\r\n", USM_HTTP_GET,
		  "/proxied/path", 11, USM_HTTP_F_QUERY },
		{ "GET https://example.com HTTP/1.1\r\n", USM_HTTP_GET, "/", 11, 0 },
		{ "GET https://example.com?x HTTP/1.1\r\n", USM_HTTP_GET, "/", 11, USM_HTTP_F_QUERY },
		{ "GET /%7Euser/a%20b HTTP/1.1\r\n", USM_HTTP_GET, "/%7Euser/a%20b", 11, 0 },
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		enum usm_http_verdict v = parse(ok[i].line, &m);

		if (v != USM_HTTP_OK)
			fail_msg("%s: %s", ok[i].line, usm_http_verdict_name(v));
		assert_int_equal(m.kind, USM_HTTP_REQUEST);
		assert_int_equal(m.method, ok[i].method);
		assert_path(&m, ok[i].path);
		assert_int_equal(m.version, ok[i].version);
		assert_int_equal(m.flags & ~(USM_HTTP_F_HEADERS_END), ok[i].flags & ~USM_HTTP_F_HEADERS_END);
		assert_int_equal(m.flags & USM_HTTP_F_HEADERS_END, ok[i].flags & USM_HTTP_F_HEADERS_END);
	}
	assert_string_equal(usm_http_method_name(USM_HTTP_OPTIONS), "OPTIONS");
	assert_string_equal(usm_http_method_name(200), "UNKNOWN");
	assert_string_equal(usm_http_verdict_name(USM_HTTP_NON_PRINTABLE), "non-printable-char");
	assert_string_equal(usm_http_verdict_name(999), "unknown");
}

static void test_status_lines(void **state)
{
	struct usm_http_msg m;

	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", &m), USM_HTTP_OK);
	assert_int_equal(m.kind, USM_HTTP_RESPONSE);
	assert_int_equal(m.status, 200);
	assert_int_equal(m.version, 11);
	assert_true(m.flags & USM_HTTP_F_CONTENT_LENGTH);
	assert_int_equal(m.content_length, 5);
	assert_int_equal(m.headers_end, 38);
	assert_int_equal(parse("HTTP/1.0 404 Not Found\n\n", &m), USM_HTTP_OK);
	assert_int_equal(m.status, 404);
	assert_int_equal(m.version, 10);
	assert_int_equal(m.headers_end, 24);
	assert_int_equal(parse("HTTP/1.1 503\r\n\r\n", &m), USM_HTTP_OK); /* no reason phrase */
	assert_int_equal(m.status, 503);
	assert_int_equal(parse("HTTP/1.1 100 Continue\r\n\r\n", &m), USM_HTTP_OK);
	assert_int_equal(m.status, 100);
	assert_int_equal(parse("HTTP/1.1 599 x", &m), USM_HTTP_OK);
	assert_int_equal(parse("HTTP/1.1 204", &m), USM_HTTP_OK);
	assert_int_equal(m.status, 204);
}

static void test_garbage(void **state)
{
	struct usm_http_msg m;
	static const struct {
		const char *s;
		enum usm_http_verdict v;
	} bad[] = {
		{ "", USM_HTTP_EMPTY },
		{ "get / HTTP/1.1\r\n", USM_HTTP_NOT_HTTP },
		{ "\x16\x03\x01\x02\x00", USM_HTTP_NOT_HTTP }, /* a TLS ClientHello */
		{ "{\"json\": 1}", USM_HTTP_NOT_HTTP },
		{ "GET\t/ HTTP/1.1", USM_HTTP_NOT_HTTP },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1", USM_HTTP_NOT_HTTP },
		{ "PROPFIND / HTTP/1.1\r\n", USM_HTTP_UNKNOWN_METHOD },
		{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", USM_HTTP_UNKNOWN_METHOD },
		{ "GETS / HTTP/1.1", USM_HTTP_UNKNOWN_METHOD },
		{ "GET  / HTTP/1.1", USM_HTTP_EMPTY_PATH },
		{ "GET x/y HTTP/1.1", USM_HTTP_BAD_TARGET },
		{ "GET :// HTTP/1.1", USM_HTTP_BAD_TARGET },
		{ "GET http:/x HTTP/1.1", USM_HTTP_BAD_TARGET },
		{ "GET /a\x01z HTTP/1.1", USM_HTTP_NON_PRINTABLE },
		{ "GET /caf\xc3\xa9 HTTP/1.1", USM_HTTP_NON_PRINTABLE },
		{ "GET \x7f HTTP/1.1", USM_HTTP_NON_PRINTABLE },
		{ "GET /a?b\x02 HTTP/1.1", USM_HTTP_NON_PRINTABLE },
		{ "GET http://h\x01/ HTTP/1.1", USM_HTTP_NON_PRINTABLE },
		{ "GET /a HTTP/2.0\r\n", USM_HTTP_BAD_VERSION },
		{ "GET /a HTTP/1.2\r\n", USM_HTTP_BAD_VERSION },
		{ "GET /a http/1.1\r\n", USM_HTTP_BAD_VERSION },
		{ "GET /a HTTP/1.1x\r\n", USM_HTTP_BAD_VERSION },
		{ "GET /a HTTP/1.1\rX", USM_HTTP_BAD_VERSION },
		{ "GET /a\r\n", USM_HTTP_BAD_VERSION },  /* HTTP/0.9 */
		{ "GET /a?q\r\n", USM_HTTP_BAD_VERSION },
		{ "HTTP/2 200\r\n", USM_HTTP_BAD_VERSION },
		{ "HTTP/1.1200 OK", USM_HTTP_BAD_VERSION },
		{ "HTTP/1.1 099 x", USM_HTTP_BAD_STATUS },
		{ "HTTP/1.1 600 x", USM_HTTP_BAD_STATUS },
		{ "HTTP/1.1 2x0 x", USM_HTTP_BAD_STATUS },
		{ "HTTP/1.1 2000 x", USM_HTTP_BAD_STATUS },
		{ "HTTP/1.1 -20 x", USM_HTTP_BAD_STATUS },
		{ "HTTP/1.1 200\rX", USM_HTTP_BAD_STATUS },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum usm_http_verdict v = parse(bad[i].s, &m);

		if (v != bad[i].v)
			fail_msg("\"%s\": got %s, want %s", bad[i].s, usm_http_verdict_name(v),
				 usm_http_verdict_name(bad[i].v));
	}
	/* NUL bytes are bytes, not terminators */
	assert_int_equal(parse_n("GET /a\0b HTTP/1.1", 17, &m), USM_HTTP_NON_PRINTABLE);
	assert_int_equal(parse_n("\0\0\0\0", 4, &m), USM_HTTP_NOT_HTTP);
}

/* Every prefix of a request: the verdict only ever says what the bytes
 * allow, and the path is a prefix of the full one. */
static void test_request_every_truncation(void **state)
{
	static const char full[] = "GET /api/v1/users/42?x=1 HTTP/1.1\r\nHost: a\r\n"
				   "Content-Length: 0\r\n\r\n";
	const size_t n = sizeof(full) - 1, path_start = 4, path_end = 20;
	struct usm_http_msg m;

	for (size_t len = 0; len <= n; len++) {
		enum usm_http_verdict v = parse_n(full, len, &m);

		if (len == 0) {
			assert_int_equal(v, USM_HTTP_EMPTY);
			continue;
		}
		if (len <= path_start) {
			assert_int_equal(v, USM_HTTP_TRUNCATED);
			continue;
		}
		assert_int_equal(v, USM_HTTP_OK);
		assert_int_equal(m.method, USM_HTTP_GET);
		assert_memory_equal(m.path, full + path_start, m.path_len);
		if (len <= path_end) {
			assert_true(m.flags & USM_HTTP_F_PATH_TRUNCATED);
			assert_int_equal(m.path_len, len - path_start);
		} else {
			assert_false(m.flags & USM_HTTP_F_PATH_TRUNCATED);
			assert_int_equal(m.path_len, path_end - path_start);
		}
		assert_int_equal(m.version, len >= 33 ? 11 : 0);
		assert_int_equal(!!(m.flags & USM_HTTP_F_HEADERS_END), len == n);
		if (len == n) {
			assert_int_equal(m.headers_end, n);
			assert_true(m.flags & USM_HTTP_F_CONTENT_LENGTH);
			assert_int_equal(m.content_length, 0);
		}
	}
}

static void test_response_every_truncation(void **state)
{
	static const char full[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n";
	const size_t n = sizeof(full) - 1;
	struct usm_http_msg m;

	for (size_t len = 0; len <= n; len++) {
		enum usm_http_verdict v = parse_n(full, len, &m);

		if (len == 0)
			assert_int_equal(v, USM_HTTP_EMPTY);
		else if (len < 12)
			assert_int_equal(v, USM_HTTP_TRUNCATED);
		else {
			assert_int_equal(v, USM_HTTP_OK);
			assert_int_equal(m.status, 404);
			assert_int_equal(!!(m.flags & USM_HTTP_F_HEADERS_END), len == n);
		}
	}
	/* "H" could start HEAD or HTTP/: undecided, not garbage */
	assert_int_equal(parse("H", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("HE", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("HTTP", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("GET", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("CONNECT", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("GET http:/", &m), USM_HTTP_TRUNCATED);
	assert_int_equal(parse("GET http://host.example", &m), USM_HTTP_TRUNCATED);
}

/* A request line split over two segments: the first half is a request with a
 * truncated path; the second half is not HTTP (and must not be taken as one). */
static void test_split_lines(void **state)
{
	static const char full[] = "GET /split/here/now HTTP/1.1\r\n\r\n";
	struct usm_http_msg m;

	for (size_t cut = 1; cut < sizeof(full) - 1; cut++) {
		enum usm_http_verdict v = parse_n(full + cut, sizeof(full) - 1 - cut, &m);

		/* no suffix of this line is a request or a response */
		assert_int_not_equal(v, USM_HTTP_OK);
	}
}

static void test_framing_headers(void **state)
{
	struct usm_http_msg m;

	assert_int_equal(parse("POST /a HTTP/1.1\r\ncontent-LENGTH:  17 \r\n\r\n", &m), USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_CONTENT_LENGTH);
	assert_int_equal(m.content_length, 17);
	/* huge, junk, empty, negative and conflicting lengths: unknown, never guessed */
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", &m),
			 USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	assert_false(m.flags & USM_HTTP_F_CONTENT_LENGTH);
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n", &m), USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length:\r\n\r\n", &m), USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &m), USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &m),
			 USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	assert_int_equal(parse("POST /a HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", &m),
			 USM_HTTP_OK);
	assert_int_equal(m.content_length, 3);
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", &m),
			 USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_BODY_UNKNOWN);
	/* "Content-Lengthy" is another header */
	assert_int_equal(parse("HTTP/1.1 200 OK\r\nContent-Lengthy: 4\r\n\r\n", &m), USM_HTTP_OK);
	assert_false(m.flags & (USM_HTTP_F_CONTENT_LENGTH | USM_HTTP_F_BODY_UNKNOWN));
}

static void test_huge_inputs(void **state)
{
	size_t n = 65536 + 100;
	char *buf = malloc(n), *p;
	struct usm_http_msg m;

	/* a 64 KiB path, cut by the buffer end */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'a', n - 5);
	assert_int_equal(parse_n(buf, n, &m), USM_HTTP_OK);
	assert_true(m.flags & USM_HTTP_F_PATH_TRUNCATED);
	assert_int_equal(m.path_len, n - 4);
	/* thousands of header lines: stops counting, finds no end */
	p = buf + sprintf(buf, "GET / HTTP/1.1\r\n");
	while (p + 4 < buf + n) {
		memcpy(p, "a:\r\n", 4);
		p += 4;
	}
	assert_int_equal(parse_n(buf, (size_t)(p - buf), &m), USM_HTTP_OK);
	assert_false(m.flags & USM_HTTP_F_HEADERS_END);
	/* all 0xff */
	memset(buf, 0xff, n);
	assert_int_equal(parse_n(buf, n, &m), USM_HTTP_NOT_HTTP);
	free(buf);
}

static void test_path_fold_ids(void **state)
{
	struct usm_http_paths *p = usm_http_paths_new(NULL, 0, true);
	char out[64];
	size_t len;
	bool trunc;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/users/42/orders/7", "/users/*/orders/*" },
		{ "/v1/items", "/v1/items" },
		{ "/obj/123e4567-e89b-12d3-a456-426614174000", "/obj/*" },
		{ "/blob/0123456789abcdef0123", "/blob/*" },
		{ "/blob/deadbeefdeadbeef", "/blob/deadbeefdeadbeef" }, /* no digit: a word */
		{ "/", "/" },
		{ "//x//", "//x//" },
		{ "*", "*" },
		{ "/a/1/", "/a/*/" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		trunc = false;
		assert_int_equal(usm_http_path_normalize(p, cases[i].in, strlen(cases[i].in), out,
							 sizeof(out), &len, &trunc),
				 USM_HTTP_PATH_KEEP);
		assert_int_equal(len, strlen(cases[i].out));
		assert_memory_equal(out, cases[i].out, len);
		assert_false(trunc);
	}
	/* too small an output: cut and flagged */
	trunc = false;
	assert_int_equal(usm_http_path_normalize(p, "/users/42/profile", 17, out, 8, &len, &trunc),
			 USM_HTTP_PATH_KEEP);
	assert_int_equal(len, 8);
	assert_memory_equal(out, "/users/*", 8);
	assert_true(trunc);
	assert_true(usm_http_path_is_id("007", 3));
	assert_false(usm_http_path_is_id("", 0));
	usm_http_paths_free(p);
}

static void test_path_rules(void **state)
{
	static const struct usm_http_rule rules[] = {
		{ "/health", "" },                   /* drop */
		{ "/users/*", NULL },                 /* key is the pattern */
		{ "/users/*/posts/*", "/users/:id/posts/:post" },
		{ "/static/**", "/static" },
		{ "/a/*/b", NULL },
	};
	struct usm_http_paths *p = usm_http_paths_new(rules, 5, false);
	static const struct {
		const char *in, *out; /* NULL out: dropped */
		bool truncated;
	} cases[] = {
		{ "/health", NULL, false },
		{ "/healthz", "/healthz", false },
		{ "/users/17", "/users/*", false },
		{ "/users/", "/users/", false },           /* '*' needs a non-empty segment */
		{ "/users/17/posts/3", "/users/:id/posts/:post", false },
		{ "/users/17/posts", "/users/17/posts", false },
		{ "/static/css/site.css", "/static", false },
		{ "/static", "/static", false },
		{ "/static/", "/static", false },
		{ "/staticx/a", "/staticx/a", false },
		{ "/a/x/b", "/a/*/b", false },
		{ "/a/x/b/c", "/a/x/b/c", false },
		{ "/users/1", "/users/1", true },           /* end unknown: only "**" matches */
		{ "/static/js/ap", "/static", true },
	};
	char out[USM_HTTP_PATTERN_MAX];
	size_t len;
	bool trunc;

	assert_non_null(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum usm_http_path_result r;

		trunc = cases[i].truncated;
		r = usm_http_path_normalize(p, cases[i].in, strlen(cases[i].in), out, sizeof(out),
					    &len, &trunc);
		if (!cases[i].out) {
			assert_int_equal(r, USM_HTTP_PATH_DROP);
			continue;
		}
		assert_int_equal(r, USM_HTTP_PATH_KEEP);
		if (len != strlen(cases[i].out) || memcmp(out, cases[i].out, len))
			fail_msg("%s: got %.*s want %s", cases[i].in, (int)len, out, cases[i].out);
	}
	usm_http_paths_free(p);
}

static struct usm_http_paths *p_ok_free(struct usm_http_paths *p)
{
	usm_http_paths_free(p);
	return p;
}

static void test_path_rule_refusals(void **state)
{
	struct usm_http_rule r[USM_HTTP_RULES_MAX + 1];
	char longpat[USM_HTTP_PATTERN_MAX + 2];

	for (size_t i = 0; i <= USM_HTTP_RULES_MAX; i++)
		r[i] = (struct usm_http_rule){ "/x", NULL };
	assert_null(usm_http_paths_new(r, USM_HTTP_RULES_MAX + 1, false));
	assert_int_equal(errno, EINVAL);
	assert_non_null(p_ok_free(usm_http_paths_new(r, USM_HTTP_RULES_MAX, false)));
	assert_null(usm_http_paths_new(NULL, 1, false));
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ "x/y", NULL }, 1, false));
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ NULL, NULL }, 1, false));
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ "/a/**/b", NULL }, 1, false));
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ "/a**", NULL }, 1, false));
	memset(longpat, 'a', sizeof(longpat) - 1);
	longpat[0] = '/';
	longpat[sizeof(longpat) - 1] = '\0';
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ longpat, NULL }, 1, false));
	assert_null(usm_http_paths_new(&(struct usm_http_rule){ "/a", longpat }, 1, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_lines),
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_request_every_truncation),
		cmocka_unit_test(test_response_every_truncation),
		cmocka_unit_test(test_split_lines),
		cmocka_unit_test(test_framing_headers),
		cmocka_unit_test(test_huge_inputs),
		cmocka_unit_test(test_path_fold_ids),
		cmocka_unit_test(test_path_rules),
		cmocka_unit_test(test_path_rule_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
