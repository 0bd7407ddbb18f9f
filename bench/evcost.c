// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * evcost: what a socket-layer event costs the process that causes it, in
 * units of one empty tp_btf program measured on the same machine in the same
 * run (bench/evcost.py does the arithmetic).
 *
 *   evcost --trigger=tcp|udp --seconds=S [--ref] [--cpu=N]
 *
 * tcp: a connected TCP pair on 127.0.0.1 (TCP_NODELAY); an iteration sends
 *      1 byte on one end and reads it on the other, so sock_send_length and
 *      sock_recv_length fire once each.
 * udp: two UDP sockets on 127.0.0.1, one connected to the other; an iteration
 *      sends 64 bytes and reads them.
 *
 * Loopback delivers in the sender's context, so the data is normally there
 * when recv() runs; recv() blocks (at most RECV_TIMEOUT_S) when it is not.
 * After a short warm-up the iterations run until S seconds have passed, and
 * one JSON line goes to stdout:
 *   {"trigger":..,"ref":..,"iters":..,"seconds":..,"ns_per_iter":..
 *    [,"ref_runs_per_iter":..]}
 * --ref loads and attaches bench/evcost.bpf.c (the unit) for the whole run;
 * ref_runs_per_iter is its run count during the measured part over iters.
 * The program counts every process's sends, so a figure above 1 says the
 * machine was busy sending too and the run is suspect.
 * --cpu pins the process to one CPU.
 *
 * Exit status: 0 measured, 1 bad arguments, 2 a system call or libbpf failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bench/evcost.skel.h"

#define SECONDS_MIN 0.1
#define SECONDS_MAX 60.0
#define WARMUP_NS 200000000ULL
#define CLOCK_EVERY 2048 /* iterations between clock reads */
#define RECV_TIMEOUT_S 5
#define UDP_PAYLOAD 64

struct evcost_opts {
	const char *trigger;
	double seconds;
	bool ref;
	int cpu; /* -1: not pinned */
};

struct trigger {
	int tx, rx;
	size_t len;
};

/* The step that failed, for the caller's one error line. */
static const char *failed_step;

static void usage(FILE *f)
{
	fprintf(f, "usage: evcost --trigger=tcp|udp --seconds=S [--ref] [--cpu=N]\n"
		   "  --seconds  measured time, %.1f..%.0f (after a %llu ms warm-up)\n"
		   "  --ref      attach the reference program (one empty tp_btf hook on\n"
		   "             sock_send_length) and report its runs per iteration\n"
		   "  --cpu      pin to CPU N\n",
		SECONDS_MIN, SECONDS_MAX, WARMUP_NS / 1000000ULL);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int parse_args(int argc, char **argv, struct evcost_opts *o)
{
	static const struct option opts[] = {
		{ "trigger", required_argument, NULL, 't' }, { "seconds", required_argument, NULL, 's' },
		{ "ref", no_argument, NULL, 'r' },           { "cpu", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },          { 0 },
	};
	char *end;
	long cpu;
	int opt;

	*o = (struct evcost_opts){ .cpu = -1, .seconds = NAN };
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 't':
			if (strcmp(optarg, "tcp") && strcmp(optarg, "udp")) {
				fprintf(stderr, "evcost: --trigger must be tcp or udp, not '%s'\n", optarg);
				return -EINVAL;
			}
			o->trigger = optarg;
			break;
		case 's':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->seconds >= SECONDS_MIN) ||
			    o->seconds > SECONDS_MAX) {
				fprintf(stderr, "evcost: --seconds must be a number in %.1f..%.0f, not '%s'\n",
					SECONDS_MIN, SECONDS_MAX, optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			o->ref = true;
			break;
		case 'c':
			errno = 0;
			cpu = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || cpu < 0 || cpu >= CPU_SETSIZE) {
				fprintf(stderr, "evcost: --cpu must be a CPU number, not '%s'\n", optarg);
				return -EINVAL;
			}
			o->cpu = (int)cpu;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "evcost: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->trigger || isnan(o->seconds)) {
		fprintf(stderr, "evcost: --trigger and --seconds are required\n");
		return -EINVAL;
	}
	return 0;
}

static int step_err(const char *step)
{
	failed_step = step;
	return -errno;
}

static int set_recv_timeout(int fd)
{
	struct timeval tv = { .tv_sec = RECV_TIMEOUT_S };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return step_err("set SO_RCVTIMEO");
	return 0;
}

static int trigger_open_tcp(struct trigger *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int one = 1, lfd, err;

	t->len = 1;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return step_err("create the TCP listener");
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
		err = step_err("listen on 127.0.0.1");
		goto cleanup;
	}
	t->tx = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (t->tx < 0 || connect(t->tx, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = step_err("connect to the TCP listener");
		goto cleanup;
	}
	t->rx = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (t->rx < 0) {
		err = step_err("accept the TCP connection");
		goto cleanup;
	}
	if (setsockopt(t->tx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(t->rx, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		err = step_err("set TCP_NODELAY");
		goto cleanup;
	}
	err = set_recv_timeout(t->rx);
cleanup:
	close(lfd);
	return err;
}

static int trigger_open_udp(struct trigger *t)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	t->len = UDP_PAYLOAD;
	t->rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	t->tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->rx < 0 || t->tx < 0)
		return step_err("create the UDP sockets");
	if (bind(t->rx, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(t->rx, (struct sockaddr *)&sa, &len) < 0)
		return step_err("bind the UDP receiver to 127.0.0.1");
	if (connect(t->tx, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return step_err("connect the UDP sender");
	return set_recv_timeout(t->rx);
}

static int trigger_once(const struct trigger *t, char *buf)
{
	ssize_t n = send(t->tx, buf, t->len, 0);
	int tries;

	if (n != (ssize_t)t->len) {
		failed_step = "send";
		return n < 0 ? -errno : -EIO;
	}
	/* Normally there already; otherwise wait (SO_RCVTIMEO bounds it). */
	for (tries = 0; tries < 3; tries++) {
		n = recv(t->rx, buf, t->len, 0);
		if (n == (ssize_t)t->len)
			return 0;
		if (n >= 0 || errno != EINTR)
			break;
	}
	failed_step = "receive";
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	return -EIO; /* short read or EOF: the peer is gone */
}

/* Iterate until duration_ns has passed; the clock is read every CLOCK_EVERY. */
static int trigger_run(const struct trigger *t, uint64_t duration_ns, uint64_t *iters,
		       uint64_t *elapsed_ns)
{
	char buf[UDP_PAYLOAD] = { 0 };
	uint64_t t0 = now_ns(), t1 = t0;
	int i, err;

	*iters = 0;
	while (t1 - t0 < duration_ns) {
		for (i = 0; i < CLOCK_EVERY; i++) {
			err = trigger_once(t, buf);
			if (err)
				return err;
		}
		*iters += CLOCK_EVERY;
		t1 = now_ns();
	}
	*elapsed_ns = t1 - t0;
	return 0;
}

/* Whether the bpf_stats sysctl is on: then every BPF program run, the unit's
 * included, also pays for its run-time accounting (two clock reads). */
static bool bpf_stats_on(void)
{
	FILE *f = fopen("/proc/sys/kernel/bpf_stats_enabled", "re");
	int on = 0;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 0;
		fclose(f);
	}
	return on;
}

/* The reference program's runs, summed over CPUs. */
static int ref_runs(struct evcost_bpf *skel, uint64_t *sum)
{
	int ncpus = libbpf_num_possible_cpus(), i, err;
	uint32_t zero = 0;
	uint64_t *vals;

	if (ncpus < 0)
		return ncpus;
	vals = calloc((size_t)ncpus, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	err = bpf_map__lookup_elem(skel->maps.evcost_runs, &zero, sizeof(zero), vals,
				   (size_t)ncpus * sizeof(*vals), 0);
	for (*sum = 0, i = 0; !err && i < ncpus; i++)
		*sum += vals[i];
	free(vals);
	return err;
}

int main(int argc, char **argv)
{
	struct trigger trig = { .tx = -1, .rx = -1 };
	struct evcost_bpf *skel = NULL;
	uint64_t iters = 0, elapsed = 0, runs0 = 0, runs1 = 0;
	struct evcost_opts o;
	int err, rc = 2;

	if (parse_args(argc, argv, &o)) {
		usage(stderr);
		return 1;
	}
	if (o.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(o.cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "evcost: failed to pin to CPU %d: %s\n", o.cpu, strerror(errno));
			return 2;
		}
	}
	err = !strcmp(o.trigger, "tcp") ? trigger_open_tcp(&trig) : trigger_open_udp(&trig);
	if (err) {
		fprintf(stderr, "evcost: failed to %s: %s\n", failed_step, strerror(-err));
		goto cleanup;
	}
	if (o.ref) {
		skel = evcost_bpf__open();
		if (!skel) {
			fprintf(stderr, "evcost: failed to open the reference program: %s\n",
				strerror(errno));
			goto cleanup;
		}
		err = evcost_bpf__load(skel);
		if (err) {
			fprintf(stderr, "evcost: failed to load the reference program: %s\n",
				strerror(-err));
			goto cleanup;
		}
		err = evcost_bpf__attach(skel);
		if (err) {
			fprintf(stderr, "evcost: failed to attach tp_btf/sock_send_length: %s\n",
				strerror(-err));
			goto cleanup;
		}
	}
	err = trigger_run(&trig, WARMUP_NS, &iters, &elapsed);
	if (!err && skel)
		err = ref_runs(skel, &runs0);
	if (!err)
		err = trigger_run(&trig, (uint64_t)(o.seconds * 1e9), &iters, &elapsed);
	if (!err && skel)
		err = ref_runs(skel, &runs1);
	if (err) {
		fprintf(stderr, "evcost: failed to %s: %s\n", failed_step ? failed_step : "read the run count",
			strerror(-err));
		goto cleanup;
	}
	if (bpf_stats_on())
		fprintf(stderr, "evcost: note: kernel.bpf_stats_enabled is 1: BPF program runs, "
				"the unit's included, cost more than usual\n");
	printf("{\"trigger\":\"%s\",\"ref\":%s,\"iters\":%llu,\"seconds\":%.6f,\"ns_per_iter\":%.3f",
	       o.trigger, o.ref ? "true" : "false", (unsigned long long)iters, elapsed / 1e9,
	       (double)elapsed / (double)iters);
	if (skel)
		printf(",\"ref_runs_per_iter\":%.4f", (double)(runs1 - runs0) / (double)iters);
	printf("}\n");
	rc = fflush(stdout) ? 2 : 0;
cleanup:
	evcost_bpf__destroy(skel);
	if (trig.tx >= 0)
		close(trig.tx);
	if (trig.rx >= 0)
		close(trig.rx);
	return rc;
}
