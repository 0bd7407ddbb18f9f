// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netwardenctl: ask the netwarden worker what it sees.
 *
 *   netwardenctl [--socket=PATH] [--client-id=ID] [--json] [--no-register] [--timeout=SEC]
 *                conns|http|kafka|stats
 *
 * Exit codes: 0 ok; 1 usage or unknown command; 2 netwarden is not running
 * (nothing listens on the socket); 3 permission denied (by the socket's
 * permissions or by the server's uid/gid check); 4 the server answered with
 * an error or the exchange failed (closed, timed out, bad response).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/ctl_usm.h"
#include "client/nwclient.h"
#include "client/ctl_dns.h"
#include "proto/frame.h"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_NOT_RUNNING = 2,
	EXIT_PERMISSION = 3,
	EXIT_SERVER = 4,
};

struct opts {
	const char *socket;
	const char *client_id;
	bool json;
	bool no_register;
	int timeout_ms;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: netwardenctl [options] COMMAND\n"
		"\n"
		"commands:\n"
		"  conns   connections seen since this client id's previous query: active ones\n"
		"          (with deltas) and those closed since; registers the id first\n"
		"          unless --no-register\n"
		"  dns     DNS queries seen since this client id's previous query, per client,\n"
		"          server, protocol, domain and query type: answers by rcode, average\n"
		"          latency of successful and failed answers, timeouts\n"
		"  http    HTTP requests completed since this client id's previous query, per\n"
		"          server, method, path and status, with latency p50/p95/p99\n"
		"  kafka   Kafka produce and fetch requests since the previous query, per\n"
		"          broker, api, version, topic and error code, with latency\n"
		"  stats   the worker's counters, attach set and event mode\n"
		"\n"
		"options:\n"
		"  --socket=PATH     netwarden's RPC socket (default %s)\n"
		"  --client-id=ID    whose deltas to report (default netwardenctl-<uid>)\n"
		"  --json            print JSON instead of a table\n"
		"  --no-register     conns, http, kafka: query only; an unknown or expired id is\n"
		"                    an error (exit 4)\n"
		"  --timeout=SEC     give up on an unanswered step after SEC seconds (default 10)\n"
		"  -h, --help        this text\n"
		"\n"
		"exit status: 0 ok, 1 usage, 2 netwarden not running, 3 permission denied,\n"
		"             4 the server refused the request or the exchange failed\n",
		NW_CLIENT_DEFAULT_SOCKET);
}

/* Text from the server goes to a terminal: nothing but printable ASCII. */
static void print_safe(FILE *f, const char *s)
{
	for (; s && *s; s++)
		fputc(*s >= 0x20 && *s < 0x7f ? *s : '?', f);
}

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p); /* bytes as Latin-1: always valid JSON */
		else
			putchar(*p);
	}
	putchar('"');
}

static const char *family_name(Netwarden__Family f)
{
	return f == NETWARDEN__FAMILY__FAMILY_INET ? "ipv4" : f == NETWARDEN__FAMILY__FAMILY_INET6 ? "ipv6" : "unknown";
}

static const char *type_name(Netwarden__ConnType t)
{
	return t == NETWARDEN__CONN_TYPE__CONN_TYPE_TCP ? "tcp" : t == NETWARDEN__CONN_TYPE__CONN_TYPE_UDP ? "udp" : "unknown";
}

static const char *direction_name(Netwarden__Direction d)
{
	switch (d) {
	case NETWARDEN__DIRECTION__DIRECTION_INCOMING: return "incoming";
	case NETWARDEN__DIRECTION__DIRECTION_OUTGOING: return "outgoing";
	case NETWARDEN__DIRECTION__DIRECTION_LOCAL: return "local";
	default: return "unknown";
	}
}

/* An address by its length: 4 bytes IPv4, 16 bytes IPv6, anything else "?". */
static const char *addr_text(ProtobufCBinaryData a, char *buf, size_t size)
{
	if ((a.len == 4 && inet_ntop(AF_INET, a.data, buf, (socklen_t)size)) ||
	    (a.len == 16 && inet_ntop(AF_INET6, a.data, buf, (socklen_t)size)))
		return buf;
	return "?";
}

static const Netwarden__Counters zero_counters = NETWARDEN__COUNTERS__INIT;

static void json_counters(const char *name, const Netwarden__Counters *c)
{
	if (!c)
		c = &zero_counters;
	printf("\"%s\":{\"sent_bytes\":%" PRIu64 ",\"recv_bytes\":%" PRIu64
	       ",\"sent_packets\":%" PRIu64 ",\"recv_packets\":%" PRIu64
	       ",\"retransmits\":%" PRIu32 ",\"tcp_established\":%" PRIu32
	       ",\"tcp_closed\":%" PRIu32 "}",
	       name, c->sent_bytes, c->recv_bytes, c->sent_packets, c->recv_packets, c->retransmits,
	       c->tcp_established, c->tcp_closed);
}

static void conns_json(const char *client_id, const Netwarden__GetConnectionsResponse *r)
{
	char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];

	printf("{\"client_id\":");
	json_str(client_id);
	printf(",\"now_ns\":%" PRIu64 ",\"conns\":[", r->now_ns);
	for (size_t i = 0; i < r->n_conns; i++) {
		const Netwarden__Connection *c = r->conns[i];

		printf("%s\n{\"type\":\"%s\",\"family\":\"%s\",\"saddr\":\"%s\",\"sport\":%" PRIu32
		       ",\"daddr\":\"%s\",\"dport\":%" PRIu32 ",\"direction\":\"%s\",\"pid\":%" PRIu32
		       ",\"netns\":%" PRIu32 ",\"cookie\":%" PRIu64 ",\"closed\":%s,\"intra_host\":%s"
		       ",\"rtt_us\":%" PRIu32 ",\"rtt_var_us\":%" PRIu32 ",\"first_seen_ns\":%" PRIu64
		       ",\"last_seen_ns\":%" PRIu64 ",\"merged\":%" PRIu32 ",",
		       i ? "," : "", type_name(c->type), family_name(c->family),
		       addr_text(c->saddr, sa, sizeof(sa)), c->sport,
		       addr_text(c->daddr, da, sizeof(da)), c->dport, direction_name(c->direction),
		       c->pid, c->netns, c->cookie, c->closed ? "true" : "false",
		       c->intra_host ? "true" : "false", c->rtt_us, c->rtt_var_us, c->first_seen_ns,
		       c->last_seen_ns, c->merged ? c->merged : 1);
		json_counters("monotonic", c->monotonic);
		putchar(',');
		printf("\"dns_names\":[");
		for (size_t j = 0; j < c->n_dns_names; j++) {
			if (j)
				putchar(',');
			json_str(c->dns_names[j]);
		}
		printf("],");
		json_counters("last", c->last);
		putchar('}');
	}
	printf("]}\n");
}

/* ---- tables ---------------------------------------------------------------- */

#define CONN_COLS 13
#define CELL_MAX 64

static const char *const conn_heads[CONN_COLS] = {
	"PROTO", "FAMILY", "LOCAL", "REMOTE", "DIRECTION", "PID", "NETNS",
	"SENT", "RECV", "RETRANS", "RTT", "STATE", "DNS",
};
/* numbers right-aligned */
static const bool conn_right[CONN_COLS] = {
	[5] = true, [6] = true, [7] = true, [8] = true, [9] = true, [10] = true,
};

static void endpoint(char *out, const ProtobufCBinaryData a, uint32_t port, bool v6)
{
	char buf[INET6_ADDRSTRLEN];

	snprintf(out, CELL_MAX, v6 ? "[%s]:%" PRIu32 : "%s:%" PRIu32, addr_text(a, buf, sizeof(buf)),
		 port);
}

static void conn_row(const Netwarden__Connection *c, char cells[CONN_COLS][CELL_MAX])
{
	const Netwarden__Counters *m = c->monotonic ? c->monotonic : &zero_counters;
	bool v6 = c->saddr.len == 16;

	snprintf(cells[0], CELL_MAX, "%s", type_name(c->type));
	snprintf(cells[1], CELL_MAX, "%s", family_name(c->family));
	endpoint(cells[2], c->saddr, c->sport, v6);
	endpoint(cells[3], c->daddr, c->dport, v6);
	snprintf(cells[4], CELL_MAX, "%s", direction_name(c->direction));
	snprintf(cells[5], CELL_MAX, "%" PRIu32, c->pid);
	snprintf(cells[6], CELL_MAX, "%" PRIu32, c->netns);
	snprintf(cells[7], CELL_MAX, "%" PRIu64, m->sent_bytes);
	snprintf(cells[8], CELL_MAX, "%" PRIu64, m->recv_bytes);
	snprintf(cells[9], CELL_MAX, "%" PRIu32, m->retransmits);
	if (c->rtt_us == 0)
		snprintf(cells[10], CELL_MAX, "-");
	else if (c->rtt_us < 1000)
		snprintf(cells[10], CELL_MAX, "%" PRIu32 "us", c->rtt_us);
	else
		snprintf(cells[10], CELL_MAX, "%.1fms", c->rtt_us / 1000.0);
	snprintf(cells[11], CELL_MAX, "%s", c->closed ? "closed" : "open");
	cells[12][0] = '\0';
	for (size_t j = 0, off = 0; j < c->n_dns_names && off + 1 < CELL_MAX; j++) {
		const char *n = c->dns_names[j];

		if (j)
			cells[12][off++] = ',';
		for (; n && *n && off + 1 < CELL_MAX; n++) /* printable ASCII only */
			cells[12][off++] = *n >= 0x20 && *n < 0x7f ? *n : '?';
		cells[12][off] = '\0';
	}
}

static void print_row(char cells[CONN_COLS][CELL_MAX], const int *width)
{
	for (int j = 0; j < CONN_COLS; j++) {
		int w = j == CONN_COLS - 1 && !conn_right[j] ? 0 : width[j];
		printf(conn_right[j] ? "%*s" : "%-*s", w, cells[j]);
		fputs(j == CONN_COLS - 1 ? "\n" : "  ", stdout);
	}
}

static int conns_table(const Netwarden__GetConnectionsResponse *r)
{
	char(*rows)[CONN_COLS][CELL_MAX] = calloc(r->n_conns + 1, sizeof(*rows));
	int width[CONN_COLS] = { 0 };

	if (!rows) {
		fprintf(stderr, "netwardenctl: out of memory for %zu connections\n", r->n_conns);
		return -ENOMEM;
	}
	for (int j = 0; j < CONN_COLS; j++)
		snprintf(rows[0][j], CELL_MAX, "%s", conn_heads[j]);
	for (size_t i = 0; i < r->n_conns; i++)
		conn_row(r->conns[i], rows[i + 1]);
	for (size_t i = 0; i <= r->n_conns; i++)
		for (int j = 0; j < CONN_COLS; j++) {
			int n = (int)strlen(rows[i][j]);
			if (n > width[j])
				width[j] = n;
		}
	for (size_t i = 0; i <= r->n_conns; i++)
		print_row(rows[i], width);
	if (!r->n_conns)
		printf("(no connections since this client's previous query)\n");
	free(rows);
	return 0;
}

static void stats_json(const Netwarden__GetStatsResponse *s)
{
	static const char *const fixed[] = { "worker_pid", "uptime_ns", "attach_set", "event_mode",
					     "clients" };

	printf("{\"worker_pid\":%" PRIu32 ",\"uptime_ns\":%" PRIu64 ",\"attach_set\":", s->worker_pid,
	       s->uptime_ns);
	json_str(s->attach_set);
	printf(",\"event_mode\":");
	json_str(s->event_mode);
	printf(",\"clients\":%" PRIu32, s->clients);
	for (size_t i = 0; i < s->n_stats; i++) {
		const Netwarden__Stat *st = s->stats[i];
		bool clash = !st->name || !st->name[0];

		for (size_t j = 0; j < sizeof(fixed) / sizeof(fixed[0]) && !clash; j++)
			clash = !strcmp(st->name, fixed[j]);
		if (clash)
			continue; /* the fixed field already says it */
		putchar(',');
		json_str(st->name);
		printf(":%" PRIu64, st->value);
	}
	printf("}\n");
}

static void stats_table(const Netwarden__GetStatsResponse *s)
{
	int w = (int)strlen("attach_set");

	for (size_t i = 0; i < s->n_stats; i++)
		if (s->stats[i]->name && (int)strlen(s->stats[i]->name) > w)
			w = (int)strlen(s->stats[i]->name);
	printf("%-*s  %" PRIu32 "\n", w, "worker_pid", s->worker_pid);
	printf("%-*s  %.1fs\n", w, "uptime", s->uptime_ns / 1e9);
	printf("%-*s  ", w, "attach_set");
	print_safe(stdout, s->attach_set);
	printf("\n%-*s  ", w, "event_mode");
	print_safe(stdout, s->event_mode);
	printf("\n%-*s  %" PRIu32 "\n", w, "clients", s->clients);
	for (size_t i = 0; i < s->n_stats; i++) {
		const Netwarden__Stat *st = s->stats[i];

		if (st->name && !strcmp(st->name, "clients"))
			continue;
		print_safe(stdout, st->name);
		printf("%*s  %" PRIu64 "\n", w - (int)strlen(st->name ? st->name : ""), "", st->value);
	}
}

/* ---- errors ------------------------------------------------------------------ */

static int connect_failed(const struct opts *o, int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
	case ENOTDIR:
		fprintf(stderr, "netwardenctl: netwarden is not running: cannot connect to %s: %s\n",
			o->socket, strerror(err));
		return EXIT_NOT_RUNNING;
	case EACCES:
	case EPERM:
		fprintf(stderr,
			"netwardenctl: permission denied: cannot connect to %s: %s (run as root, or as "
			"a member of the socket's group allowed by netwarden's --allow-uid/--allow-gid)\n",
			o->socket, strerror(err));
		return EXIT_PERMISSION;
	case ENAMETOOLONG:
		fprintf(stderr, "netwardenctl: socket path too long: %s\n", o->socket);
		return EXIT_USAGE;
	case EAGAIN:
		fprintf(stderr, "netwardenctl: netwarden at %s is not accepting connections "
				"(timed out)\n", o->socket);
		return EXIT_SERVER;
	default:
		fprintf(stderr, "netwardenctl: cannot connect to %s: %s\n", o->socket, strerror(err));
		return EXIT_SERVER;
	}
}

static int call_failed(const struct opts *o, const char *what, int err)
{
	switch (err) {
	case -EMSGSIZE:
		fprintf(stderr, "netwardenctl: %s request is too large (over %u bytes): is the client "
				"id too long?\n", what, (unsigned)NW_FRAME_MAX_REQUEST);
		return EXIT_USAGE;
	case -ECONNRESET:
	case -EPIPE:
		fprintf(stderr, "netwardenctl: netwarden at %s closed the connection without "
				"answering %s\n", o->socket, what);
		return EXIT_SERVER;
	case -ETIMEDOUT:
		fprintf(stderr, "netwardenctl: netwarden at %s did not answer %s within %d s\n",
			o->socket, what, o->timeout_ms / 1000);
		return EXIT_SERVER;
	case -EBADMSG:
		fprintf(stderr, "netwardenctl: bad response to %s from %s\n", what, o->socket);
		return EXIT_SERVER;
	default:
		fprintf(stderr, "netwardenctl: failed to ask %s for %s: %s\n", o->socket, what,
			strerror(-err));
		return EXIT_SERVER;
	}
}

/* 0 when resp is of the kind wanted, else an exit code (message printed). */
static int check_response(const struct opts *o, const char *what, const Netwarden__Response *resp,
			  Netwarden__Response__KindCase want)
{
	if (resp->kind_case == NETWARDEN__RESPONSE__KIND_ERROR && resp->error) {
		const Netwarden__Error *e = resp->error;

		if (e->code == NETWARDEN__ERROR_CODE__ERROR_PERMISSION) {
			fprintf(stderr, "netwardenctl: permission denied by netwarden at %s: ", o->socket);
			print_safe(stderr, e->message);
			fputc('\n', stderr);
			return EXIT_PERMISSION;
		}
		fprintf(stderr, "netwardenctl: netwarden refused %s: %s: ", what,
			nw_client_error_name(e->code));
		print_safe(stderr, e->message);
		fputc('\n', stderr);
		return EXIT_SERVER;
	}
	if (resp->kind_case != want) {
		fprintf(stderr, "netwardenctl: unexpected response to %s from %s (kind %d)\n", what,
			o->socket, (int)resp->kind_case);
		return EXIT_SERVER;
	}
	return 0;
}

/* ---- commands ------------------------------------------------------------------ */

static int cmd_conns(const struct opts *o, struct nw_client *c)
{
	Netwarden__Response *resp = NULL;
	int err, rc;

	if (!o->no_register) {
		err = nw_client_register(c, o->client_id, &resp);
		if (err)
			return call_failed(o, "Register", err);
		rc = check_response(o, "Register", resp, NETWARDEN__RESPONSE__KIND_REGISTER);
		netwarden__response__free_unpacked(resp, NULL);
		if (rc)
			return rc;
	}
	err = nw_client_get_connections(c, o->client_id, &resp);
	if (err)
		return call_failed(o, "GetConnections", err);
	rc = check_response(o, "GetConnections", resp, NETWARDEN__RESPONSE__KIND_GET_CONNECTIONS);
	if (!rc) {
		if (o->json)
			conns_json(o->client_id, resp->get_connections);
		else if (conns_table(resp->get_connections))
			rc = EXIT_USAGE;
	}
	netwarden__response__free_unpacked(resp, NULL);
	return rc;
}

/* dns: this client id's DNS statistics since its previous query (no Register needed). */
static int cmd_dns(const struct opts *o, struct nw_client *c)
{
	Netwarden__Response *resp = NULL;
	int err, rc;

	err = nw_client_get_dns_stats(c, o->client_id, &resp);
	if (err)
		return call_failed(o, "GetDNSStats", err);
	rc = check_response(o, "GetDNSStats", resp, NETWARDEN__RESPONSE__KIND_GET_DNS_STATS);
	if (!rc && ctl_dns_print(o->client_id, resp->get_dns_stats, o->json)) {
		fprintf(stderr, "netwardenctl: out of memory for GetDNSStats\n");
		rc = EXIT_USAGE;
	}
	netwarden__response__free_unpacked(resp, NULL);
	return rc;
}

/* The dns command from connecting to the last flush, as main does for the others. */
static int run_dns(const struct opts *o)
{
	struct nw_client *c = nw_client_connect(o->socket, o->timeout_ms);
	int rc;

	if (!c)
		return connect_failed(o, errno);
	rc = cmd_dns(o, c);
	nw_client_free(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "netwardenctl: failed to write output: %s\n", strerror(errno));
		return rc ? rc : EXIT_USAGE;
	}
	return rc;
}

/* http, kafka: register (unless --no-register), then this client's delta. */
static int cmd_usm(const struct opts *o, struct nw_client *c, bool kafka)
{
	const char *what = kafka ? "GetKafkaStats" : "GetHTTPStats";
	Netwarden__Response *resp = NULL;
	int err, rc;

	if (!o->no_register) {
		err = nw_client_register(c, o->client_id, &resp);
		if (err)
			return call_failed(o, "Register", err);
		rc = check_response(o, "Register", resp, NETWARDEN__RESPONSE__KIND_REGISTER);
		netwarden__response__free_unpacked(resp, NULL);
		if (rc)
			return rc;
	}
	err = kafka ? nw_client_get_kafka_stats(c, o->client_id, &resp)
		    : nw_client_get_http_stats(c, o->client_id, &resp);
	if (err)
		return call_failed(o, what, err);
	rc = check_response(o, what, resp, kafka ? NETWARDEN__RESPONSE__KIND_GET_KAFKA_STATS
						  : NETWARDEN__RESPONSE__KIND_GET_HTTP_STATS);
	if (!rc && (kafka ? ctl_usm_kafka_print(o->client_id, resp->get_kafka_stats, o->json)
			  : ctl_usm_http_print(o->client_id, resp->get_http_stats, o->json))) {
		fprintf(stderr, "netwardenctl: out of memory for %s\n", what);
		rc = EXIT_USAGE;
	}
	netwarden__response__free_unpacked(resp, NULL);
	return rc;
}

static int cmd_stats(const struct opts *o, struct nw_client *c)
{
	Netwarden__Response *resp = NULL;
	int err, rc;

	err = nw_client_get_stats(c, &resp);
	if (err)
		return call_failed(o, "GetStats", err);
	rc = check_response(o, "GetStats", resp, NETWARDEN__RESPONSE__KIND_GET_STATS);
	if (!rc) {
		if (o->json)
			stats_json(resp->get_stats);
		else
			stats_table(resp->get_stats);
	}
	netwarden__response__free_unpacked(resp, NULL);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client-id", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-register", no_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct opts o = { .socket = NW_CLIENT_DEFAULT_SOCKET, .timeout_ms = 10000 };
	char default_id[64];
	struct nw_client *c;
	const char *cmd;
	int opt, rc;

	snprintf(default_id, sizeof(default_id), "netwardenctl-%u", (unsigned)getuid());
	o.client_id = default_id;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			o.socket = optarg;
			break;
		case 'c':
			o.client_id = optarg;
			break;
		case 'j':
			o.json = true;
			break;
		case 'n':
			o.no_register = true;
			break;
		case 't': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < 1 || v > 3600) {
				fprintf(stderr, "netwardenctl: --timeout wants 1-3600 seconds, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			o.timeout_ms = (int)v * 1000;
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "netwardenctl: %s\n",
			optind == argc ? "no command given" : "one command at a time");
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "dns")) {
		if (!o.client_id[0]) {
			fprintf(stderr, "netwardenctl: --client-id must not be empty\n");
			return EXIT_USAGE;
		}
		return run_dns(&o);
	}
	if (strcmp(cmd, "conns") && strcmp(cmd, "stats") && strcmp(cmd, "http") &&
	    strcmp(cmd, "kafka")) {
		fprintf(stderr, "netwardenctl: unknown command '");
		print_safe(stderr, cmd);
		fprintf(stderr, "'\n");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!o.client_id[0]) {
		fprintf(stderr, "netwardenctl: --client-id must not be empty\n");
		return EXIT_USAGE;
	}
	c = nw_client_connect(o.socket, o.timeout_ms);
	if (!c)
		return connect_failed(&o, errno);
	if (!strcmp(cmd, "http") || !strcmp(cmd, "kafka"))
		rc = cmd_usm(&o, c, !strcmp(cmd, "kafka"));
	else
		rc = !strcmp(cmd, "conns") ? cmd_conns(&o, c) : cmd_stats(&o, c);
	nw_client_free(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "netwardenctl: failed to write output: %s\n", strerror(errno));
		return rc ? rc : EXIT_USAGE;
	}
	return rc;
}
