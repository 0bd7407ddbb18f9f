// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rpc_cost: the cost of one GetConnections answer (bench/scale.py). Each
 * repetition uses a new client id, so the answer holds every active
 * connection rather than a delta: connect, Register(id), then time one
 * GetConnections through client/nwclient.c.
 *
 *   rpc_cost --socket PATH [--reps R] [--worker-pid PID] [--id-prefix P]
 *            [--client-id ID] [--timeout-ms T]
 *
 * Client ids are P-<pid>-<rep>; --client-id uses ID for every repetition
 * instead (registered once; its answers after the first are deltas), for a
 * memory measurement with one client whose state is known.
 *
 * One JSON line per repetition:
 *   {"rep":i,"conns":N,"merged":M,"bytes":B,"wall_ms":W,"unpack_ms":U,
 *    "worker_cpu_ms":C,"worker_ticks_ms":K}
 * conns: entries in the answer; merged: connections they stand for; bytes:
 * the response frame (4-byte header + protobuf body); wall_ms: request sent
 * to response decoded, unpack_ms of it the client's decoding alone (timed
 * again on a copy); worker_cpu_ms: the worker's CPU time over the call from
 * /proc/PID/task/STAR/schedstat (nanoseconds), worker_ticks_ms the same from
 * utime+stime in /proc/PID/stat (clock ticks: 10 ms steps). On a failed
 * call: {"rep":i,"error":"...","step":"connect|register|get"} and exit 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HELPER_NAME "rpc_cost"
#include "tests/helpers/helper_cli.h"

#include "client/nwclient.h"

#define MAX_REPS 50

/* Sum of the first field of every thread's schedstat: CPU ns, or -1. */
static double worker_cpu_ns(int pid)
{
	char path[64];
	struct dirent *de;
	double sum = 0;
	DIR *d;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char p[320];
		unsigned long long ns;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/schedstat", pid, de->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fscanf(f, "%llu", &ns) == 1)
			sum += (double)ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* utime+stime of the whole process in ms, or -1. */
static double worker_ticks_ms(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	size_t n;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static int fail(int rep, const char *step, int err, const Netwarden__Response *resp)
{
	const char *msg = strerror(err < 0 ? -err : err);

	if (resp && resp->kind_case == NETWARDEN__RESPONSE__KIND_ERROR && resp->error)
		printf("{\"rep\":%d,\"step\":\"%s\",\"error\":\"%s: %s\"}\n", rep, step,
		       nw_client_error_name(resp->error->code),
		       resp->error->message ? resp->error->message : "");
	else
		printf("{\"rep\":%d,\"step\":\"%s\",\"error\":\"%s\"}\n", rep, step, msg);
	return 1;
}

/* Time the client's decoding of the same response on a packed copy. */
static double unpack_ms(const Netwarden__Response *resp)
{
	size_t len = netwarden__response__get_packed_size(resp);
	uint8_t *buf = malloc(len ? len : 1);
	Netwarden__Response *copy;
	double t0;

	if (!buf)
		return -1;
	netwarden__response__pack(resp, buf);
	t0 = now_ms();
	copy = netwarden__response__unpack(NULL, len, buf);
	t0 = now_ms() - t0;
	if (copy)
		netwarden__response__free_unpacked(copy, NULL);
	free(buf);
	return copy ? t0 : -1;
}

static int one_rep(const char *sock, int rep, int pid, const char *prefix, const char *fixed_id,
		   int timeout_ms)
{
	Netwarden__Response *resp = NULL;
	const Netwarden__GetConnectionsResponse *g;
	struct nw_client *c;
	double cpu0, tick0, t0, wall, cpu, ticks;
	unsigned long merged = 0;
	char id[128];
	int err;

	if (fixed_id)
		snprintf(id, sizeof(id), "%s", fixed_id);
	else
		snprintf(id, sizeof(id), "%s-%d-%d", prefix, (int)getpid(), rep);
	c = nw_client_connect(sock, timeout_ms);
	if (!c)
		return fail(rep, "connect", errno, NULL);
	err = nw_client_register(c, id, &resp);
	if (err || resp->kind_case != NETWARDEN__RESPONSE__KIND_REGISTER) {
		err = fail(rep, "register", err ? err : EPROTO, resp);
		goto out;
	}
	netwarden__response__free_unpacked(resp, NULL);
	resp = NULL;
	cpu0 = worker_cpu_ns(pid);
	tick0 = worker_ticks_ms(pid);
	t0 = now_ms();
	err = nw_client_get_connections(c, id, &resp);
	wall = now_ms() - t0;
	cpu = worker_cpu_ns(pid);
	ticks = worker_ticks_ms(pid);
	if (err || resp->kind_case != NETWARDEN__RESPONSE__KIND_GET_CONNECTIONS) {
		fprintf(stderr, "rpc_cost: GetConnections failed after %.1f ms\n", wall);
		err = fail(rep, "get", err ? err : EPROTO, resp);
		goto out;
	}
	g = resp->get_connections;
	for (size_t i = 0; i < g->n_conns; i++)
		merged += g->conns[i]->merged ? g->conns[i]->merged : 1;
	printf("{\"rep\":%d,\"conns\":%zu,\"merged\":%lu,\"bytes\":%zu,\"wall_ms\":%.3f,"
	       "\"unpack_ms\":%.3f,\"worker_cpu_ms\":%.3f,\"worker_ticks_ms\":%.0f}\n",
	       rep, g->n_conns, merged, netwarden__response__get_packed_size(resp) + 4, wall,
	       unpack_ms(resp), cpu0 < 0 || cpu < 0 ? -1 : (cpu - cpu0) / 1e6,
	       tick0 < 0 || ticks < 0 ? -1 : ticks - tick0);
	err = 0;
out:
	fflush(stdout);
	if (resp)
		netwarden__response__free_unpacked(resp, NULL);
	nw_client_free(c);
	return err;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "worker-pid", required_argument, NULL, 'w' },
		{ "id-prefix", required_argument, NULL, 'i' },
		{ "client-id", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ 0 },
	};
	const char *sock = NW_CLIENT_DEFAULT_SOCKET, *prefix = "rpc-cost", *fixed_id = NULL;
	int reps = 3, pid = 0, timeout_ms = 30000, o;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': sock = optarg; break;
		case 'r': reps = (int)num(optarg, 1, MAX_REPS, "--reps"); break;
		case 'w': pid = (int)num(optarg, 1, 1 << 22, "--worker-pid"); break;
		case 'i': prefix = optarg; break;
		case 'c': fixed_id = optarg; break;
		case 't': timeout_ms = (int)num(optarg, 100, 600000, "--timeout-ms"); break;
		default: return 1;
		}
	}
	if (strlen(prefix) > 100 || (fixed_id && (!fixed_id[0] || strlen(fixed_id) > 127))) {
		fprintf(stderr, "rpc_cost: --id-prefix is at most 100 bytes, --client-id 1..127\n");
		return 1;
	}
	for (int i = 0; i < reps; i++)
		if (one_rep(sock, i, pid, prefix, fixed_id, timeout_ms))
			return 1;
	return 0;
}
