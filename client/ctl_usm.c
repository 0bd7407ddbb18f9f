// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netwardenctl http / kafka: GetHTTPStats and GetKafkaStats answers as an
 * aligned table (sorted by server, then key) or as JSON (client/ctl_usm.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctl_usm.h"

#define CELL 200
#define HTTP_COLS 8
#define KAFKA_COLS 9

/* Text from the server: printable ASCII only, in tables and in JSON. */
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

static void safe(char *dst, size_t size, const char *s)
{
	size_t i = 0;

	for (; s && s[i] && i + 1 < size; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

static const char *addr_text(ProtobufCBinaryData a, char *buf, size_t size)
{
	if ((a.len == 4 && inet_ntop(AF_INET, a.data, buf, (socklen_t)size)) ||
	    (a.len == 16 && inet_ntop(AF_INET6, a.data, buf, (socklen_t)size)))
		return buf;
	return "?";
}

static void endpoint(char *out, ProtobufCBinaryData a, uint32_t port)
{
	char buf[INET6_ADDRSTRLEN];

	snprintf(out, CELL, a.len == 16 ? "[%s]:%" PRIu32 : "%s:%" PRIu32,
		 addr_text(a, buf, sizeof(buf)), port);
}

/* 950ns, 12.3us, 4.56ms, 1.20s */
static void duration(char *out, double ns, uint64_t count)
{
	if (!count)
		snprintf(out, CELL, "-");
	else if (ns < 1e3)
		snprintf(out, CELL, "%.0fns", ns);
	else if (ns < 1e6)
		snprintf(out, CELL, "%.1fus", ns / 1e3);
	else if (ns < 1e9)
		snprintf(out, CELL, "%.2fms", ns / 1e6);
	else
		snprintf(out, CELL, "%.2fs", ns / 1e9);
}

static void json_latency(const Netwarden__Latency *l)
{
	static const Netwarden__Latency none = NETWARDEN__LATENCY__INIT;

	if (!l)
		l = &none;
	printf("\"latency\":{\"count\":%" PRIu64 ",\"p50_ns\":%.1f,\"p95_ns\":%.1f,\"p99_ns\":%.1f"
	       ",\"min_ns\":%.1f,\"max_ns\":%.1f,\"sum_ns\":%.1f,\"relative_accuracy\":%g}",
	       l->count, l->p50_ns, l->p95_ns, l->p99_ns, l->min_ns, l->max_ns, l->sum_ns,
	       l->relative_accuracy);
}

static void json_server(ProtobufCBinaryData a, uint32_t port, Netwarden__Family f, uint32_t netns)
{
	char buf[INET6_ADDRSTRLEN];

	printf("\"server_addr\":\"%s\",\"server_port\":%" PRIu32 ",\"family\":\"%s\",\"netns\":%" PRIu32,
	       addr_text(a, buf, sizeof(buf)), port,
	       f == NETWARDEN__FAMILY__FAMILY_INET6 ? "ipv6" : "ipv4", netns);
}

static int addr_cmp(ProtobufCBinaryData a, uint32_t ap, ProtobufCBinaryData b, uint32_t bp)
{
	int d = (int)a.len - (int)b.len;

	if (!d)
		d = memcmp(a.data, b.data, a.len < 16 ? a.len : 16);
	return d ? d : (ap > bp) - (ap < bp);
}

static int http_cmp(const void *x, const void *y)
{
	const Netwarden__HTTPStat *a = *(Netwarden__HTTPStat *const *)x;
	const Netwarden__HTTPStat *b = *(Netwarden__HTTPStat *const *)y;
	int d = addr_cmp(a->server_addr, a->server_port, b->server_addr, b->server_port);

	if (!d)
		d = strcmp(a->path ? a->path : "", b->path ? b->path : "");
	if (!d)
		d = strcmp(a->method ? a->method : "", b->method ? b->method : "");
	return d ? d : (a->status > b->status) - (a->status < b->status);
}

static int kafka_cmp(const void *x, const void *y)
{
	const Netwarden__KafkaStat *a = *(Netwarden__KafkaStat *const *)x;
	const Netwarden__KafkaStat *b = *(Netwarden__KafkaStat *const *)y;
	int d = addr_cmp(a->server_addr, a->server_port, b->server_addr, b->server_port);

	if (!d)
		d = strcmp(a->topic ? a->topic : "", b->topic ? b->topic : "");
	if (!d)
		d = (a->api_key > b->api_key) - (a->api_key < b->api_key);
	if (!d)
		d = (a->api_version > b->api_version) - (a->api_version < b->api_version);
	return d ? d : (a->error_code > b->error_code) - (a->error_code < b->error_code);
}

/* rows[0] is the header; numbers (right[j]) right-aligned; the last column unpadded. */
static void table(char (*rows)[KAFKA_COLS][CELL], size_t nrows, int ncols, const bool *right)
{
	int width[KAFKA_COLS] = { 0 };

	for (size_t i = 0; i < nrows; i++)
		for (int j = 0; j < ncols; j++) {
			int n = (int)strlen(rows[i][j]);
			if (n > width[j])
				width[j] = n;
		}
	for (size_t i = 0; i < nrows; i++)
		for (int j = 0; j < ncols; j++) {
			int w = j == ncols - 1 && !right[j] ? 0 : width[j];
			printf(right[j] ? "%*s" : "%-*s", w, rows[i][j]);
			fputs(j == ncols - 1 ? "\n" : "  ", stdout);
		}
}

static void lat_cells(char (*cells)[CELL], const Netwarden__Latency *l)
{
	uint64_t n = l ? l->count : 0;

	duration(cells[0], l ? l->p50_ns : 0, n);
	duration(cells[1], l ? l->p95_ns : 0, n);
	duration(cells[2], l ? l->p99_ns : 0, n);
}

int ctl_usm_http_print(const char *client_id, const Netwarden__GetHTTPStatsResponse *r, bool json)
{
	static const char *const heads[HTTP_COLS] = { "SERVER", "METHOD", "PATH", "STATUS",
						      "COUNT", "P50", "P95", "P99" };
	static const bool right[KAFKA_COLS] = { [3] = true, [4] = true, [5] = true, [6] = true,
						[7] = true };
	Netwarden__HTTPStat **v = calloc(r->n_stats + 1, sizeof(*v));
	char (*rows)[KAFKA_COLS][CELL] = json ? NULL : calloc(r->n_stats + 1, sizeof(*rows));

	if (!v || (!json && !rows)) {
		free(v);
		free(rows);
		return -ENOMEM;
	}
	memcpy(v, r->stats, r->n_stats * sizeof(*v));
	qsort(v, r->n_stats, sizeof(*v), http_cmp);
	if (json) {
		printf("{\"client_id\":");
		json_str(client_id);
		printf(",\"now_ns\":%" PRIu64 ",\"enabled\":%s,\"stats\":[", r->now_ns,
		       r->enabled ? "true" : "false");
		for (size_t i = 0; i < r->n_stats; i++) {
			const Netwarden__HTTPStat *s = v[i];

			printf("%s\n{", i ? "," : "");
			json_server(s->server_addr, s->server_port, s->family, s->netns);
			printf(",\"method\":");
			json_str(s->method);
			printf(",\"path\":");
			json_str(s->path);
			printf(",\"path_truncated\":%s,\"status\":%" PRIu32 ",\"count\":%" PRIu64 ",",
			       s->path_truncated ? "true" : "false", s->status, s->count);
			json_latency(s->latency);
			putchar('}');
		}
		printf("]}\n");
		free(v);
		return 0;
	}
	for (int j = 0; j < HTTP_COLS; j++)
		snprintf(rows[0][j], CELL, "%s", heads[j]);
	for (size_t i = 0; i < r->n_stats; i++) {
		const Netwarden__HTTPStat *s = v[i];
		char (*c)[CELL] = rows[i + 1];

		endpoint(c[0], s->server_addr, s->server_port);
		safe(c[1], CELL, s->method);
		safe(c[2], CELL - 1, s->path);
		if (s->path_truncated)
			strcat(c[2], "~");
		snprintf(c[3], CELL, "%" PRIu32, s->status);
		snprintf(c[4], CELL, "%" PRIu64, s->count);
		lat_cells(c + 5, s->latency);
	}
	table(rows, r->n_stats + 1, HTTP_COLS, right);
	if (!r->enabled)
		printf("(HTTP monitoring is off: start netwarden with --http=on)\n");
	else if (!r->n_stats)
		printf("(no HTTP requests since this client's previous query)\n");
	free(rows);
	free(v);
	return 0;
}

int ctl_usm_kafka_print(const char *client_id, const Netwarden__GetKafkaStatsResponse *r, bool json)
{
	static const char *const heads[KAFKA_COLS] = { "BROKER", "API", "VERSION", "TOPIC", "ERROR",
						       "COUNT", "P50", "P95", "P99" };
	static const bool right[KAFKA_COLS] = { [2] = true, [4] = true, [5] = true, [6] = true,
						[7] = true, [8] = true };
	Netwarden__KafkaStat **v = calloc(r->n_stats + 1, sizeof(*v));
	char (*rows)[KAFKA_COLS][CELL] = json ? NULL : calloc(r->n_stats + 1, sizeof(*rows));

	if (!v || (!json && !rows)) {
		free(v);
		free(rows);
		return -ENOMEM;
	}
	memcpy(v, r->stats, r->n_stats * sizeof(*v));
	qsort(v, r->n_stats, sizeof(*v), kafka_cmp);
	if (json) {
		printf("{\"client_id\":");
		json_str(client_id);
		printf(",\"now_ns\":%" PRIu64 ",\"enabled\":%s,\"stats\":[", r->now_ns,
		       r->enabled ? "true" : "false");
		for (size_t i = 0; i < r->n_stats; i++) {
			const Netwarden__KafkaStat *s = v[i];

			printf("%s\n{", i ? "," : "");
			json_server(s->server_addr, s->server_port, s->family, s->netns);
			printf(",\"api_key\":%" PRId32 ",\"api\":", s->api_key);
			json_str(s->api);
			printf(",\"api_version\":%" PRId32 ",\"topic\":", s->api_version);
			json_str(s->topic);
			printf(",\"topic_is_id\":%s,\"topic_truncated\":%s,\"no_topic\":%s"
			       ",\"error_code\":%" PRId32 ",\"count\":%" PRIu64 ",\"no_response\":%s,",
			       s->topic_is_id ? "true" : "false", s->topic_truncated ? "true" : "false",
			       s->no_topic ? "true" : "false", s->error_code, s->count,
			       s->no_response ? "true" : "false");
			json_latency(s->latency);
			putchar('}');
		}
		printf("]}\n");
		free(v);
		return 0;
	}
	for (int j = 0; j < KAFKA_COLS; j++)
		snprintf(rows[0][j], CELL, "%s", heads[j]);
	for (size_t i = 0; i < r->n_stats; i++) {
		const Netwarden__KafkaStat *s = v[i];
		char (*c)[CELL] = rows[i + 1];

		endpoint(c[0], s->server_addr, s->server_port);
		safe(c[1], CELL, s->api);
		snprintf(c[2], CELL, "%" PRId32, s->api_version);
		if (s->no_topic)
			snprintf(c[3], CELL, "-");
		else
			safe(c[3], CELL - 1, s->topic);
		if (s->topic_truncated)
			strcat(c[3], "~");
		if (s->error_code == -32768)
			snprintf(c[4], CELL, "?");
		else
			snprintf(c[4], CELL, "%" PRId32, s->error_code);
		snprintf(c[5], CELL, "%" PRIu64, s->count);
		lat_cells(c + 6, s->latency);
		if (s->no_response)
			snprintf(c[6], CELL, "acks=0");
	}
	table(rows, r->n_stats + 1, KAFKA_COLS, right);
	if (!r->enabled)
		printf("(Kafka monitoring is off: start netwarden with --kafka=on)\n");
	else if (!r->n_stats)
		printf("(no Kafka produce or fetch since this client's previous query)\n");
	free(rows);
	free(v);
	return 0;
}
