// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netwardenctl dns: DNS statistics per (client, server, client port and
 * protocol, domain, query type) since this client id's previous query, with
 * answers by rcode, average latency of successful and failed answers, and
 * timeouts. Text from the server is printed escaped: domains are data anyone
 * on the host could have put on the wire.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl_dns.h"

#define COLS 10
#define CELL 96

static const char *const rcode_names[16] = {
	"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI",
};

const char *ctl_dns_qtype_name(uint32_t qtype)
{
	switch (qtype) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 255: return "ANY";
	default: return NULL;
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Printable ASCII only, cut to the cell. */
static void safe(char *dst, size_t size, const char *s)
{
	size_t i = 0;

	for (; s && *s && i + 1 < size; s++)
		dst[i++] = *s >= 0x20 && *s < 0x7f ? *s : '?';
	dst[i] = '\0';
}

static const char *addr_text(ProtobufCBinaryData a, char *buf, size_t size)
{
	if ((a.len == 4 && inet_ntop(AF_INET, a.data, buf, (socklen_t)size)) ||
	    (a.len == 16 && inet_ntop(AF_INET6, a.data, buf, (socklen_t)size)))
		return buf;
	return "?";
}

static uint64_t answered(const Netwarden__DNSStat *s, uint64_t *ok)
{
	uint64_t n = 0;

	*ok = 0;
	for (size_t i = 0; i < s->n_rcodes; i++) {
		n += s->rcodes[i]->count;
		if (s->rcodes[i]->rcode == 0)
			*ok += s->rcodes[i]->count;
	}
	return n;
}

static void qtype_text(char *out, size_t size, uint32_t qtype)
{
	const char *name = ctl_dns_qtype_name(qtype);

	if (name)
		snprintf(out, size, "%s", name);
	else
		snprintf(out, size, "TYPE%" PRIu32, qtype);
}

static void print_json(const char *client_id, const Netwarden__GetDNSStatsResponse *r)
{
	char ca[INET6_ADDRSTRLEN], sa[INET6_ADDRSTRLEN], qt[16];

	printf("{\"client_id\":");
	json_str(client_id);
	printf(",\"capture\":");
	json_str(r->capture);
	printf(",\"now_ns\":%" PRIu64 ",\"stats\":[", r->now_ns);
	for (size_t i = 0; i < r->n_stats; i++) {
		const Netwarden__DNSStat *s = r->stats[i];
		uint64_t ok, n = answered(s, &ok);

		qtype_text(qt, sizeof(qt), s->qtype);
		printf("%s\n{\"client\":\"%s\",\"client_port\":%" PRIu32 ",\"server\":\"%s\","
		       "\"protocol\":\"%s\",\"domain\":",
		       i ? "," : "", addr_text(s->client_addr, ca, sizeof(ca)), s->client_port,
		       addr_text(s->server_addr, sa, sizeof(sa)),
		       s->protocol == NETWARDEN__CONN_TYPE__CONN_TYPE_TCP ? "tcp" : "udp");
		json_str(s->domain);
		printf(",\"qtype\":%" PRIu32 ",\"qtype_name\":\"%s\",\"answered\":%" PRIu64
		       ",\"rcodes\":{", s->qtype, qt, n);
		for (size_t j = 0; j < s->n_rcodes; j++) {
			uint32_t rc = s->rcodes[j]->rcode;

			printf("%s\"%s\":%" PRIu32, j ? "," : "", rc < 16 && rcode_names[rc] ?
			       rcode_names[rc] : "OTHER", s->rcodes[j]->count);
		}
		printf("},\"timeouts\":%" PRIu32 ",\"success_latency_ns\":%" PRIu64
		       ",\"failure_latency_ns\":%" PRIu64 "}",
		       s->timeouts, s->success_latency_ns, s->failure_latency_ns);
	}
	printf("]}\n");
}

static const char *const heads[COLS] = {
	"CLIENT", "SERVER", "PROTO", "DOMAIN", "QTYPE", "ANSWERS", "TIMEOUTS", "OK_AVG", "FAIL_AVG", "RCODES",
};
static const bool right[COLS] = { [5] = true, [6] = true, [7] = true, [8] = true };

static void avg(char *out, uint64_t sum_ns, uint64_t n)
{
	double ms;

	if (!n) {
		snprintf(out, CELL, "-");
		return;
	}
	ms = (double)sum_ns / (double)n / 1e6;
	snprintf(out, CELL, ms < 10 ? "%.2fms" : "%.0fms", ms);
}

static void row(const Netwarden__DNSStat *s, char cells[COLS][CELL])
{
	char a[INET6_ADDRSTRLEN];
	uint64_t ok, n = answered(s, &ok);
	size_t off = 0;

	snprintf(cells[0], CELL, s->client_addr.len == 16 ? "[%s]:%" PRIu32 : "%s:%" PRIu32,
		 addr_text(s->client_addr, a, sizeof(a)), s->client_port);
	snprintf(cells[1], CELL, "%s", addr_text(s->server_addr, a, sizeof(a)));
	snprintf(cells[2], CELL, "%s", s->protocol == NETWARDEN__CONN_TYPE__CONN_TYPE_TCP ? "tcp" : "udp");
	safe(cells[3], CELL, s->domain && s->domain[0] ? s->domain : "(not collected)");
	qtype_text(cells[4], CELL, s->qtype);
	snprintf(cells[5], CELL, "%" PRIu64, n);
	snprintf(cells[6], CELL, "%" PRIu32, s->timeouts);
	avg(cells[7], s->success_latency_ns, ok);
	avg(cells[8], s->failure_latency_ns, n - ok);
	cells[9][0] = '\0';
	for (size_t j = 0; j < s->n_rcodes && off < CELL; j++) {
		uint32_t rc = s->rcodes[j]->rcode;

		off += (size_t)snprintf(cells[9] + off, CELL - off, "%s%s=%" PRIu32, j ? " " : "",
					rc < 16 && rcode_names[rc] ? rcode_names[rc] : "OTHER",
					s->rcodes[j]->count);
	}
	if (!s->n_rcodes)
		snprintf(cells[9], CELL, "-");
}

static int print_table(const Netwarden__GetDNSStatsResponse *r)
{
	char(*rows)[COLS][CELL] = calloc(r->n_stats + 1, sizeof(*rows));
	int width[COLS] = { 0 };

	if (!rows)
		return -ENOMEM;
	for (int j = 0; j < COLS; j++)
		snprintf(rows[0][j], CELL, "%s", heads[j]);
	for (size_t i = 0; i < r->n_stats; i++)
		row(r->stats[i], rows[i + 1]);
	for (size_t i = 0; i <= r->n_stats; i++)
		for (int j = 0; j < COLS; j++)
			if ((int)strlen(rows[i][j]) > width[j])
				width[j] = (int)strlen(rows[i][j]);
	for (size_t i = 0; i <= r->n_stats; i++)
		for (int j = 0; j < COLS; j++)
			printf(right[j] ? "%*s%s" : "%-*s%s", j == COLS - 1 ? 0 : width[j], rows[i][j],
			       j == COLS - 1 ? "\n" : "  ");
	if (!r->n_stats) {
		char cap[16];

		safe(cap, sizeof(cap), r->capture && r->capture[0] ? r->capture : "?");
		printf("(no DNS queries since this client's previous query; capture: %s)\n", cap);
	}
	free(rows);
	return 0;
}

int ctl_dns_print(const char *client_id, const Netwarden__GetDNSStatsResponse *r, bool json)
{
	if (json) {
		print_json(client_id, r);
		return 0;
	}
	return print_table(r);
}
