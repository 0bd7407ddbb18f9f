/* Unit tests for bpf/usm.bpf.c, run in the kernel with BPF_PROG_RUN (root):
 * hand-built frames go through the socket filter; the records it writes to
 * nw_usm_rb, its classified-flow map and its counters are read back. BPF_PROG_RUN
 * strips the Ethernet header as a SOCK_DGRAM packet socket does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <unistd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "usm.h"
#include "usm.skel.h"

#define MAX_RECS 64

struct rig {
	struct usm_bpf *skel;
	struct ring_buffer *rb;
	struct usm_record recs[MAX_RECS];
	size_t sizes[MAX_RECS];
	size_t n;
	int ncpus;
};

static int on_rec(void *ctx, void *data, size_t size)
{
	struct rig *r = ctx;

	struct usm_record *rec = &r->recs[r->n];

	assert_true(r->n < MAX_RECS);
	/* a sample is the header and len payload bytes, nothing more */
	assert_true(size >= USM_RECORD_HDR_SIZE);
	memset(rec, 0, sizeof(*rec));
	memcpy(rec, data, USM_RECORD_HDR_SIZE);
	assert_true(rec->len <= USM_PAYLOAD_MAX);
	assert_int_equal(size, USM_RECORD_HDR_SIZE + rec->len);
	memcpy(rec->payload, (const char *)data + USM_RECORD_HDR_SIZE, rec->len);
	assert_memory_equal(rec->_pad, "\0\0\0\0\0\0\0", 7);
	r->sizes[r->n++] = size;
	return 0;
}

static int silent(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

struct opts {
	bool http, kafka;
	uint32_t fragment; /* 0: default */
	uint32_t ring_bytes;
};

static struct rig *rig_new(struct opts o)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	libbpf_set_print(silent);
	r->ncpus = libbpf_num_possible_cpus();
	assert_true(r->ncpus > 0);
	r->skel = usm_bpf__open();
	assert_non_null(r->skel);
	r->skel->rodata->nw_usm_http = o.http;
	r->skel->rodata->nw_usm_kafka = o.kafka;
	if (o.fragment)
		r->skel->rodata->nw_usm_fragment = o.fragment;
	if (o.ring_bytes)
		assert_int_equal(bpf_map__set_max_entries(r->skel->maps.nw_usm_rb, o.ring_bytes), 0);
	assert_int_equal(usm_bpf__load(r->skel), 0);
	r->rb = ring_buffer__new(bpf_map__fd(r->skel->maps.nw_usm_rb), on_rec, r, NULL);
	assert_non_null(r->rb);
	return r;
}

static void rig_free(struct rig *r)
{
	ring_buffer__free(r->rb);
	usm_bpf__destroy(r->skel);
	free(r);
}

/* Run one frame; returns the number of records it produced. */
static size_t run(struct rig *r, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len, .repeat = 1);
	size_t before = r->n;

	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.nw_usm_capture), &o), 0);
	assert_int_equal(o.retval, 0); /* nothing is ever queued on the socket */
	ring_buffer__consume(r->rb);
	return r->n - before;
}

/* A counter summed over CPUs. */
static uint64_t tel(struct rig *r, uint32_t idx)
{
	uint64_t v[512] = { 0 }, sum = 0;

	assert_true(r->ncpus <= 512);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.nw_usm_tel), &idx, v), 0);
	for (int i = 0; i < r->ncpus; i++)
		sum += v[i];
	return sum;
}

/* ---- frame building --------------------------------------------------------- */

struct frame {
	uint8_t b[4096];
	size_t len;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void eth(struct frame *f, uint16_t proto)
{
	memset(f->b, 0, 14);
	put16(f->b + 12, proto);
	f->len = 14;
}

static void ipv4(struct frame *f, uint8_t proto, const char *src, const char *dst, size_t l4len,
		 uint16_t frag)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 20);
	p[0] = 0x45;
	put16(p + 2, (uint16_t)(20 + l4len));
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, src, p + 12);
	inet_pton(AF_INET, dst, p + 16);
	f->len += 20;
}

static void ipv6(struct frame *f, uint8_t nh, const char *src, const char *dst, size_t plen)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 40);
	p[0] = 0x60;
	put16(p + 4, (uint16_t)plen);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, src, p + 8);
	inet_pton(AF_INET6, dst, p + 24);
	f->len += 40;
}

static void tcp(struct frame *f, uint16_t sport, uint16_t dport, uint32_t seq, const void *payload,
		size_t plen)
{
	uint8_t *p = f->b + f->len;

	memset(p, 0, 20);
	put16(p, sport);
	put16(p + 2, dport);
	put32(p + 4, seq);
	p[12] = 5 << 4;
	p[13] = 0x18; /* PSH ACK */
	memcpy(p + 20, payload, plen);
	f->len += 20 + plen;
}

/* A TCP segment between 198.18.0.1 (c) and 198.18.0.2 (s), from_client or not. */
static void seg4(struct frame *f, bool from_client, uint32_t seq, const void *payload, size_t plen)
{
	eth(f, 0x0800);
	ipv4(f, 6, from_client ? "198.18.0.1" : "198.18.0.2", from_client ? "198.18.0.2" : "198.18.0.1",
	     20 + plen, 0);
	tcp(f, from_client ? 40000 : 8080, from_client ? 8080 : 40000, seq, payload, plen);
}

static void check_tuple4(const struct usm_tuple *t)
{
	struct usm_tuple want;

	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET, "198.18.0.1", want.client_addr);
	inet_pton(AF_INET, "198.18.0.2", want.server_addr);
	want.client_port = 40000;
	want.server_port = 8080;
	want.family = USM_FAMILY_INET;
	assert_memory_equal(t, &want, sizeof(want));
}

static const char get_req[] = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n";
static const char ok_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/* A Kafka request header: size, api key, version, correlation id, client id. */
static size_t kafka_req(uint8_t *b, int16_t key, int16_t version, int32_t corr, const char *client,
			size_t extra)
{
	size_t cl = client ? strlen(client) : 0, size = 10 + cl + extra;

	put32(b, (uint32_t)size);
	put16(b + 4, (uint16_t)key);
	put16(b + 6, (uint16_t)version);
	put32(b + 8, (uint32_t)corr);
	put16(b + 12, client ? (uint16_t)cl : 0xffff);
	if (cl)
		memcpy(b + 14, client, cl);
	memset(b + 14 + cl, 0, extra);
	return 4 + size;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_http_request_and_response(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true });
	const struct usm_record *rec;
	struct usm_tuple key;
	struct usm_flow flow;
	struct frame f;

	seg4(&f, true, 1000, get_req, sizeof(get_req) - 1);
	assert_int_equal(run(r, f.b, f.len), 1);
	rec = &r->recs[0];
	check_tuple4(&rec->tuple);
	assert_int_equal(rec->direction, USM_DIR_FROM_CLIENT);
	assert_int_equal(rec->protocol, USM_PROTO_HTTP);
	assert_int_equal(rec->flags, USM_REC_F_SEQ);
	assert_int_equal(rec->tcp_seq, 1000);
	assert_int_equal(rec->seg_len, sizeof(get_req) - 1);
	assert_int_equal(rec->len, sizeof(get_req) - 1);
	assert_memory_equal(rec->payload, get_req, sizeof(get_req) - 1);
	assert_true(rec->ts_ns > 0);
	/* the flow is classified under its client/server key */
	key = rec->tuple;
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(r->skel->maps.nw_usm_flows), &key, &flow), 0);
	assert_int_equal(flow.protocol, USM_PROTO_HTTP);

	seg4(&f, false, 5000, ok_resp, sizeof(ok_resp) - 1);
	assert_int_equal(run(r, f.b, f.len), 1);
	rec = &r->recs[1];
	check_tuple4(&rec->tuple); /* normalised: the client is the destination */
	assert_int_equal(rec->direction, USM_DIR_FROM_SERVER);
	assert_int_equal(rec->tcp_seq, 5000);
	assert_true(rec->ts_ns >= r->recs[0].ts_ns);
	assert_int_equal(tel(r, USM_TEL_HTTP_REQUESTS), 1);
	assert_int_equal(tel(r, USM_TEL_HTTP_RESPONSES), 1);
	assert_int_equal(tel(r, USM_TEL_RECORDS), 2);

	/* a body segment is not copied */
	seg4(&f, false, 5100, "<html>body</html>", 17);
	assert_int_equal(run(r, f.b, f.len), 0);
	rig_free(r);
}

static void test_every_method(void **state)
{
	static const char *const methods[] = { "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS",
					       "PATCH", "TRACE", "CONNECT" };
	static const char *const not_methods[] = { "GET/", "get /", "POS /", "PUTT /", "HTTP/2.0 200",
						   "DELETEX /", "OPTION /" };
	struct rig *r = rig_new((struct opts){ .http = true });
	struct frame f;
	char line[64];

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		int n = snprintf(line, sizeof(line), "%s / HTTP/1.1\r\n\r\n", methods[i]);
		seg4(&f, true, 1, line, (size_t)n);
		assert_int_equal(run(r, f.b, f.len), 1);
	}
	for (size_t i = 0; i < sizeof(not_methods) / sizeof(not_methods[0]); i++) {
		int n = snprintf(line, sizeof(line), "%s HTTP/1.1\r\n\r\n", not_methods[i]);
		seg4(&f, true, 1, line, (size_t)n);
		assert_int_equal(run(r, f.b, f.len), 0);
	}
	/* shorter than any method */
	seg4(&f, true, 1, "GE", 2);
	assert_int_equal(run(r, f.b, f.len), 0);
	rig_free(r);
}

static void test_response_needs_classified_flow(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true });
	struct frame f;

	seg4(&f, false, 5000, ok_resp, sizeof(ok_resp) - 1);
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, USM_TEL_HTTP_NO_FLOW), 1);
	/* from the client side, "HTTP/1.1" is not a response of this flow either */
	seg4(&f, true, 1000, get_req, sizeof(get_req) - 1);
	assert_int_equal(run(r, f.b, f.len), 1);
	seg4(&f, true, 2000, ok_resp, sizeof(ok_resp) - 1);
	assert_int_equal(run(r, f.b, f.len), 0);
	rig_free(r);
}

static void test_fragment_size(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true });
	uint8_t big[1400];
	struct frame f;

	memset(big, 'a', sizeof(big));
	memcpy(big, "POST /upload HTTP/1.1\r\n", 23);
	seg4(&f, true, 7, big, sizeof(big));
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].len, USM_PAYLOAD_DEFAULT);
	assert_int_equal(r->recs[0].seg_len, sizeof(big));
	assert_int_equal(r->sizes[0], USM_RECORD_HDR_SIZE + USM_PAYLOAD_DEFAULT);
	assert_memory_equal(r->recs[0].payload, big, USM_PAYLOAD_DEFAULT);
	assert_int_equal(tel(r, USM_TEL_TRUNCATED), 1);
	rig_free(r);

	r = rig_new((struct opts){ .http = true, .fragment = USM_PAYLOAD_MAX });
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].len, USM_PAYLOAD_MAX);
	assert_memory_equal(r->recs[0].payload, big, USM_PAYLOAD_MAX);
	rig_free(r);

	r = rig_new((struct opts){ .http = true, .fragment = USM_PAYLOAD_MIN });
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].len, USM_PAYLOAD_MIN);
	rig_free(r);
}

static void test_ethernet_padding_not_payload(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true });
	struct frame f;

	seg4(&f, true, 1, "GET / HTTP/1.0\r\n", 16);
	memset(f.b + f.len, 0xee, 30); /* trailer past the IP total length */
	f.len += 30;
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].seg_len, 16);
	assert_int_equal(r->recs[0].len, 16);
	/* a pure ACK padded to the Ethernet minimum has no payload */
	eth(&f, 0x0800);
	ipv4(&f, 6, "198.18.0.1", "198.18.0.2", 20, 0);
	tcp(&f, 40000, 8080, 1, NULL, 0);
	memcpy(f.b + f.len, "GET ", 4);
	f.len += 6;
	assert_int_equal(run(r, f.b, f.len), 0);
	rig_free(r);
}

static void test_ipv6_and_vlan(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true });
	const size_t n = sizeof(get_req) - 1;
	struct usm_tuple want;
	struct frame f;

	eth(&f, 0x86DD);
	ipv6(&f, 6, "2001:db8:1::1", "2001:db8:1::2", 20 + n);
	tcp(&f, 40001, 80, 77, get_req, n);
	assert_int_equal(run(r, f.b, f.len), 1);
	memset(&want, 0, sizeof(want));
	inet_pton(AF_INET6, "2001:db8:1::1", want.client_addr);
	inet_pton(AF_INET6, "2001:db8:1::2", want.server_addr);
	want.client_port = 40001;
	want.server_port = 80;
	want.family = USM_FAMILY_INET6;
	assert_memory_equal(&r->recs[0].tuple, &want, sizeof(want));
	assert_int_equal(r->recs[0].seg_len, n);

	/* one 802.1Q tag left in the data */
	eth(&f, 0x8100);
	put16(f.b + f.len, 100);
	put16(f.b + f.len + 2, 0x0800);
	f.len += 4;
	ipv4(&f, 6, "198.18.0.1", "198.18.0.2", 20 + n, 0);
	tcp(&f, 40000, 8080, 1, get_req, n);
	assert_int_equal(run(r, f.b, f.len), 1);
	check_tuple4(&r->recs[1].tuple);
	rig_free(r);
}

static void test_not_looked_at(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true, .kafka = true });
	const size_t n = sizeof(get_req) - 1;
	struct frame f;

	/* UDP */
	eth(&f, 0x0800);
	ipv4(&f, 17, "198.18.0.1", "198.18.0.2", 8 + n, 0);
	memset(f.b + f.len, 0, 8);
	memcpy(f.b + f.len + 8, get_req, n);
	f.len += 8 + n;
	assert_int_equal(run(r, f.b, f.len), 0);
	/* IPv4 fragments, first and later */
	eth(&f, 0x0800);
	ipv4(&f, 6, "198.18.0.1", "198.18.0.2", 20 + n, 0x2000);
	tcp(&f, 40000, 8080, 1, get_req, n);
	assert_int_equal(run(r, f.b, f.len), 0);
	f.b[14 + 6] = 0x00;
	f.b[14 + 7] = 0x10;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, USM_TEL_FRAGMENTS), 2);
	/* ARP */
	eth(&f, 0x0806);
	memset(f.b + 14, 0, 28);
	f.len += 28;
	assert_int_equal(run(r, f.b, f.len), 0);
	/* a TCP header shorter than it says */
	eth(&f, 0x0800);
	ipv4(&f, 6, "198.18.0.1", "198.18.0.2", 10, 0);
	memset(f.b + f.len, 0, 10);
	f.len += 10;
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, USM_TEL_BAD), 1);
	assert_int_equal(tel(r, USM_TEL_RECORDS), 0);
	rig_free(r);
}

static void test_kafka_flow_followed(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true, .kafka = true });
	uint8_t b[256];
	struct frame f;
	size_t n;

	/* ApiVersions v3 from "rdkafka": classifies the flow */
	n = kafka_req(b, 18, 3, 1, "rdkafka", 12);
	seg4(&f, true, 100, b, n);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[0].protocol, USM_PROTO_KAFKA);
	assert_int_equal(r->recs[0].direction, USM_DIR_FROM_CLIENT);
	check_tuple4(&r->recs[0].tuple);
	assert_int_equal(tel(r, USM_TEL_KAFKA_CLASSIFIED), 1);
	/* the response: size + correlation id, nothing a classifier could tell */
	put32(b, 20);
	put32(b + 4, 1);
	memset(b + 8, 0, 20);
	seg4(&f, false, 900, b, 24);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[1].direction, USM_DIR_FROM_SERVER);
	assert_int_equal(r->recs[1].protocol, USM_PROTO_KAFKA);
	check_tuple4(&r->recs[1].tuple);
	/* a continuation from the client (record batch bytes), even one that
	 * starts like HTTP, stays Kafka */
	seg4(&f, true, 200, "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(run(r, f.b, f.len), 1);
	assert_int_equal(r->recs[2].protocol, USM_PROTO_KAFKA);
	assert_int_equal(r->recs[2].direction, USM_DIR_FROM_CLIENT);
	assert_int_equal(tel(r, USM_TEL_KAFKA_SEGMENTS), 3);
	assert_int_equal(tel(r, USM_TEL_KAFKA_CLASSIFIED), 1);
	rig_free(r);
}

static void test_kafka_shapes_refused(void **state)
{
	struct rig *r = rig_new((struct opts){ .kafka = true });
	uint8_t b[256];
	struct frame f;
	size_t n;

	/* a null client id is fine */
	n = kafka_req(b, 3, 12, 5, NULL, 8);
	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 1);
	rig_free(r);

	struct {
		int16_t key, version;
		int32_t corr;
		const char *client;
	} bad[] = {
		{ 200, 1, 1, "c" },         /* api key out of range */
		{ -1, 1, 1, "c" },
		{ 0, 99, 1, "c" },          /* version out of range */
		{ 0, 3, -5, "c" },          /* negative correlation id */
		{ 0, 3, 1, "bad\001id" },   /* non-printable client id */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = rig_new((struct opts){ .kafka = true });
		n = kafka_req(b, bad[i].key, bad[i].version, bad[i].corr, bad[i].client, 8);
		seg4(&f, true, 1, b, n);
		assert_int_equal(run(r, f.b, f.len), 0);
		rig_free(r);
	}
	r = rig_new((struct opts){ .kafka = true });
	/* a size prefix too small for a header, or too big to believe */
	n = kafka_req(b, 0, 3, 1, "c", 8);
	put32(b, 9);
	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 0);
	put32(b, 0x16030100); /* a TLS record header */
	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* a client id longer than the message */
	n = kafka_req(b, 0, 3, 1, "c", 8);
	put16(b + 12, 200);
	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 0);
	/* too short for a header */
	seg4(&f, true, 1, b, 10);
	assert_int_equal(run(r, f.b, f.len), 0);
	assert_int_equal(tel(r, USM_TEL_KAFKA_CLASSIFIED), 0);
	rig_free(r);
}

static void test_protocols_switched_off(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true, .kafka = false });
	uint8_t b[64];
	struct frame f;
	size_t n = kafka_req(b, 18, 3, 1, "rdkafka", 4);

	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 0); /* Kafka off */
	rig_free(r);
	r = rig_new((struct opts){ .http = false, .kafka = true });
	seg4(&f, true, 1, get_req, sizeof(get_req) - 1);
	assert_int_equal(run(r, f.b, f.len), 0); /* HTTP off */
	seg4(&f, true, 1, b, n);
	assert_int_equal(run(r, f.b, f.len), 1);
	rig_free(r);
}

static void test_ring_full_counted(void **state)
{
	struct rig *r = rig_new((struct opts){ .http = true, .ring_bytes = 4096 });
	uint8_t big[600];
	struct frame f;
	size_t got = 0;
	LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);

	memset(big, 'x', sizeof(big));
	memcpy(big, "GET / HTTP/1.1\r\n", 16);
	seg4(&f, true, 1, big, sizeof(big));
	o.data_in = f.b;
	o.data_size_in = (__u32)f.len;
	/* 4096 bytes hold 14 records of 80 + 208 (+ 8 header) bytes: no consumer */
	for (int i = 0; i < 20; i++)
		assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(r->skel->progs.nw_usm_capture), &o), 0);
	assert_int_equal(tel(r, USM_TEL_RECORDS) + tel(r, USM_TEL_RING_FULL), 20);
	assert_true(tel(r, USM_TEL_RING_FULL) > 0);
	got = (size_t)ring_buffer__consume(r->rb);
	assert_int_equal(got, tel(r, USM_TEL_RECORDS));
	rig_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_request_and_response),
		cmocka_unit_test(test_every_method),
		cmocka_unit_test(test_response_needs_classified_flow),
		cmocka_unit_test(test_fragment_size),
		cmocka_unit_test(test_ethernet_padding_not_payload),
		cmocka_unit_test(test_ipv6_and_vlan),
		cmocka_unit_test(test_not_looked_at),
		cmocka_unit_test(test_kafka_flow_followed),
		cmocka_unit_test(test_kafka_shapes_refused),
		cmocka_unit_test(test_protocols_switched_off),
		cmocka_unit_test(test_ring_full_counted),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_usm_bpf: BPF_PROG_RUN needs root\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
