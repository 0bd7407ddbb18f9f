/* Driver for bench/http_parse.sh: parse the same captured HTTP/1.x fragments
 * ITER times with one parser, inside bench_loop() (the only function
 * callgrind counts).
 *
 *   http_parse_bench MODE ITER
 *   MODE  ours         usm_http_parse(): method, path, status, framing headers
 *         http_parser  http_parser_execute() (Debian's libhttp-parser) with an
 *                      on_url callback, on the same bytes, HTTP_BOTH
 *         http_parser_line  the same, stopped by its callbacks at the end of
 *                      the request-target or status line
 *         track        usm_http_track_record(): parse + match + aggregate into
 *                      a latency sketch (what the worker does per record)
 * Each fragment is what the kernel delivers: the first USM_PAYLOAD_DEFAULT
 * (208) bytes of the segment. Prints the number of fragments per iteration
 * and how many parsed.
 */
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unprivileged/usm/http_parse.h"
#include "unprivileged/usm/http_track.h"

/* Requests as curl, browsers, SDKs and load balancers send them, and the
 * responses of nginx, python http.server and typical APIs. */
static const char *const corpus[] = {
	"GET / HTTP/1.1\r\nHost: 198.18.0.2\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n",
	"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux "
	"x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\nAccept: text/html,application/xhtml+xml,"
	"application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n"
	"Accept-Encoding: gzip, deflate, br\r\nConnection: keep-alive\r\n\r\n",
	"POST /api/v1/orders HTTP/1.1\r\nHost: orders.internal:8080\r\nContent-Type: application/json\r\n"
	"Content-Length: 42\r\nX-Request-Id: 5f2c1a9e-7b3d-4e1f-9c2a-1b2c3d4e5f60\r\n\r\n"
	"{\"sku\":\"A-1234\",\"qty\":2,\"customer\":991}",
	"GET /api/v2/users/12345/orders?limit=50&offset=100&sort=-created_at HTTP/1.1\r\n"
	"Host: api.example.com\r\nAuthorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIx"
	"MjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\r\nAccept: application/json\r\n\r\n",
	"PUT /v1/buckets/media/objects/2024/06/01/IMG_0042.jpg HTTP/1.1\r\nHost: s3.local\r\n"
	"Content-Length: 1048576\r\nContent-Type: image/jpeg\r\nExpect: 100-continue\r\n\r\n",
	"DELETE /sessions/8f14e45fceea167a5a36dedd4bea2543 HTTP/1.1\r\nHost: auth\r\n\r\n",
	"HEAD /healthz HTTP/1.0\r\n\r\n",
	"GET /metrics HTTP/1.1\r\nHost: 10.0.0.5:9100\r\nUser-Agent: Prometheus/2.45.0\r\nAccept: "
	"application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5\r\n"
	"Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
	"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 03 Jun 2024 10:00:00 GMT\r\n"
	"Content-Type: text/html\r\nContent-Length: 615\r\nLast-Modified: Tue, 21 May 2024 09:00:00 GMT\r\n"
	"Connection: keep-alive\r\nETag: \"664c6a10-267\"\r\nAccept-Ranges: bytes\r\n\r\n<!DOCTYPE html>",
	"HTTP/1.0 404 File not found\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nDate: Mon, 03 Jun 2024 "
	"10:00:01 GMT\r\nConnection: close\r\nContent-Type: text/html;charset=utf-8\r\n"
	"Content-Length: 335\r\n\r\n",
	"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nLocation: /api/v1/orders/77\r\n"
	"Content-Length: 11\r\n\r\n{\"id\":77}\r\n",
	"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 100 Continue\r\n\r\n",
	"HTTP/1.1 204 No Content\r\nDate: Mon, 03 Jun 2024 10:00:02 GMT\r\n\r\n",
	"HTTP/1.1 302 Found\r\nLocation: https://www.example.com/login?next=%2Faccount\r\n"
	"Content-Length: 0\r\nSet-Cookie: sid=abc123; Path=/; HttpOnly; Secure\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	"Vary: Accept-Encoding\r\n\r\n1a\r\n{\"users\":[{\"id\":1}]}\r\n",
};

#define N (sizeof(corpus) / sizeof(corpus[0]))

static struct {
	uint8_t b[USM_PAYLOAD_DEFAULT];
	size_t len;
} frag[N];

static size_t ours(void)
{
	struct usm_http_msg m;
	size_t ok = 0;

	for (size_t i = 0; i < N; i++)
		ok += usm_http_parse(frag[i].b, frag[i].len, &m) == USM_HTTP_OK;
	return ok;
}

struct seen {
	const char *url;
	size_t url_len;
};

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct seen *s = p->data;

	s->url = at;
	s->url_len = len;
	return 0;
}

/* Stop at the end of the request-target or the reason phrase: the start line
 * only, a lower bound for http-parser (ours also scans the framing headers). */
static int stop_url(http_parser *p, const char *at, size_t len)
{
	on_url(p, at, len);
	return 1;
}

static int stop_status(http_parser *p, const char *at, size_t len)
{
	return 1;
}

static size_t run_http_parser(const http_parser_settings *settings)
{
	struct seen s;
	http_parser p;
	size_t ok = 0;

	for (size_t i = 0; i < N; i++) {
		enum http_errno e;

		http_parser_init(&p, HTTP_BOTH);
		p.data = &s;
		http_parser_execute(&p, settings, (const char *)frag[i].b, frag[i].len);
		e = HTTP_PARSER_ERRNO(&p);
		ok += e == HPE_OK || e == HPE_CB_url || e == HPE_CB_status;
	}
	return ok;
}

static size_t theirs(void)
{
	static const http_parser_settings settings = { .on_url = on_url };

	return run_http_parser(&settings);
}

static size_t theirs_line(void)
{
	static const http_parser_settings settings = { .on_url = stop_url,
						       .on_status = stop_status };

	return run_http_parser(&settings);
}

static struct usm_http_tracker *tracker;
static struct usm_record rec[N];

static size_t track(void)
{
	static uint64_t ts = 1;

	for (size_t i = 0; i < N; i++) {
		rec[i].ts_ns = ts;
		ts += 1000 + (ts * 7919) % 100000; /* latencies that spread over buckets */
		usm_http_track_record(tracker, &rec[i]);
	}
	return N;
}

__attribute__((noinline)) size_t bench_loop(size_t (*fn)(void), long iter)
{
	size_t ok = 0;

	for (long i = 0; i < iter; i++)
		ok += fn();
	return ok;
}

int main(int argc, char **argv)
{
	size_t (*fn)(void);
	struct usm_http_config cfg;
	long iter;
	size_t ok;

	if (argc != 3) {
		fprintf(stderr, "usage: %s ours|http_parser|http_parser_line|track ITER\n", argv[0]);
		return 2;
	}
	iter = atol(argv[2]);
	for (size_t i = 0; i < N; i++) {
		size_t l = strlen(corpus[i]);

		frag[i].len = l < USM_PAYLOAD_DEFAULT ? l : USM_PAYLOAD_DEFAULT;
		memcpy(frag[i].b, corpus[i], frag[i].len);
		rec[i].tuple.family = USM_FAMILY_INET;
		rec[i].tuple.server_port = 80;
		rec[i].tuple.client_port = 40000;
		/* alternate: a request is followed by a response on the same connection */
		rec[i].direction = frag[i].b[0] == 'H' && frag[i].b[1] == 'T' ? USM_DIR_FROM_SERVER
									: USM_DIR_FROM_CLIENT;
		rec[i].protocol = USM_PROTO_HTTP;
		rec[i].len = (uint16_t)frag[i].len;
		rec[i].seg_len = (uint32_t)l;
		memcpy(rec[i].payload, frag[i].b, frag[i].len);
	}
	if (!strcmp(argv[1], "ours")) {
		fn = ours;
	} else if (!strcmp(argv[1], "http_parser")) {
		fn = theirs;
	} else if (!strcmp(argv[1], "http_parser_line")) {
		fn = theirs_line;
	} else if (!strcmp(argv[1], "track")) {
		usm_http_config_default(&cfg);
		tracker = usm_http_tracker_new(&cfg);
		if (!tracker) {
			perror("usm_http_tracker_new");
			return 1;
		}
		fn = track;
	} else {
		fprintf(stderr, "unknown mode %s\n", argv[1]);
		return 2;
	}
	ok = bench_loop(fn, iter);
	printf("messages %zu parsed %zu\n", N, ok / (size_t)(iter > 0 ? iter : 1));
	usm_http_tracker_free(tracker);
	return 0;
}
