// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * conn_hold: open N TCP connections on loopback to listeners of this same
 * process and keep both ends open, so a tracer has 2N live sockets to track
 * (bench/scale.py). Bounded: it exits when its standard input closes or after
 * --seconds, whichever comes first, so it cannot outlive its parent for long.
 *
 *   conn_hold --pairs N [--ports P] [--bytes B] [--seconds S] [--addr A]
 *       N connections (1..200000) spread over P listening ports (default one
 *       per 10000 connections, so the ephemeral ports of one destination
 *       never run out); each end sends B bytes (default 16, 0..1024) and
 *       reads the other's, so the connections have counters and an RTT.
 *       Every socket has SO_LINGER 0: the exit resets them, leaving nothing
 *       in TIME_WAIT for the next run.
 *
 * Prints {"event":"ready","pairs":N,"sockets":2N,"ports":P,"setup_ms":..,
 * "pid":..} once all are open, then {"event":"done","reason":"stdin"|"timeout"}
 * at exit. Exit 0, or 1 with a message on stderr if the setup fails or takes
 * longer than --seconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELPER_NAME "conn_hold"
#include "tests/helpers/helper_cli.h"

#define MAX_PAIRS 200000
#define MAX_PORTS 64
#define MAX_BYTES 1024
#define MAX_SECONDS 600
#define BATCH 256       /* connects queued on one listener before accepting them */
#define STEP_MS 2000    /* one connect, accept or read may wait this long */

static void sock_opts(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct timeval tv = { STEP_MS / 1000, (STEP_MS % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		die("setsockopt");
}

static void raise_nofile(rlim_t need)
{
	struct rlimit old, rl;

	if (getrlimit(RLIMIT_NOFILE, &old))
		die("getrlimit");
	if (old.rlim_cur >= need)
		return;
	rl.rlim_cur = need;
	/* above the hard limit needs CAP_SYS_RESOURCE; fs.nr_open caps it */
	rl.rlim_max = old.rlim_max < need ? need : old.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		fprintf(stderr, "conn_hold: need %llu fds, RLIMIT_NOFILE is %llu/%llu and cannot be "
			"raised (%s): use fewer --pairs per process\n", (unsigned long long)need,
			(unsigned long long)old.rlim_cur, (unsigned long long)old.rlim_max, strerror(errno));
		exit(1);
	}
}

static void send_n(int fd, const char *buf, size_t len)
{
	if (send(fd, buf, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("send");
}

/* Blocking, bounded by the socket's SO_RCVTIMEO. */
static void recv_n(int fd, char *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = recv(fd, buf + got, len - got, 0);

		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			die("recv");
		}
		got += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pairs", required_argument, NULL, 'n' },
		{ "ports", required_argument, NULL, 'p' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "addr", required_argument, NULL, 'a' },
		{ 0 },
	};
	long pairs = 0, ports = 0, bytes = 16, seconds = 120;
	const char *addr = "127.0.0.1";
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct sockaddr_in lsa[MAX_PORTS];
	int lfd[MAX_PORTS], *cfd, *afd, o;
	char buf[MAX_BYTES], rbuf[MAX_BYTES];
	double start = now_ms(), deadline;
	const char *reason = "timeout";

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': pairs = num(optarg, 1, MAX_PAIRS, "--pairs"); break;
		case 'p': ports = num(optarg, 1, MAX_PORTS, "--ports"); break;
		case 'b': bytes = num(optarg, 0, MAX_BYTES, "--bytes"); break;
		case 's': seconds = num(optarg, 1, MAX_SECONDS, "--seconds"); break;
		case 'a': addr = optarg; break;
		default: return 1;
		}
	}
	if (!pairs) {
		fprintf(stderr, "usage: conn_hold --pairs N [--ports P] [--bytes B] [--seconds S] [--addr A]\n");
		return 1;
	}
	if (!ports)
		ports = (pairs + 9999) / 10000;
	if (ports > MAX_PORTS)
		ports = MAX_PORTS;
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "conn_hold: bad IPv4 address '%s'\n", addr);
		return 1;
	}
	deadline = start + (double)seconds * 1e3;
	memset(buf, 'h', sizeof(buf));
	raise_nofile((rlim_t)(2 * pairs + ports + 32));
	cfd = calloc((size_t)pairs, sizeof(*cfd));
	afd = calloc((size_t)pairs, sizeof(*afd));
	if (!cfd || !afd)
		die("calloc");

	for (long p = 0; p < ports; p++) {
		socklen_t len = sizeof(lsa[p]);

		lfd[p] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (lfd[p] < 0)
			die("socket");
		sock_opts(lfd[p]);
		lsa[p] = sa;
		if (bind(lfd[p], (struct sockaddr *)&lsa[p], sizeof(lsa[p])) || listen(lfd[p], 4096) ||
		    getsockname(lfd[p], (struct sockaddr *)&lsa[p], &len))
			die("bind/listen");
	}

	for (long i = 0; i < pairs; i += BATCH) {
		long end = i + BATCH < pairs ? i + BATCH : pairs, p = (i / BATCH) % ports;

		if (now_ms() > deadline) {
			fprintf(stderr, "conn_hold: %ld of %ld connections after %ld s\n", i, pairs, seconds);
			return 1;
		}
		for (long k = i; k < end; k++) {
			cfd[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (cfd[k] < 0)
				die("socket");
			sock_opts(cfd[k]);
			if (connect(cfd[k], (struct sockaddr *)&lsa[p], sizeof(lsa[p])))
				die("connect");
		}
		for (long k = i; k < end; k++) {
			afd[k] = accept4(lfd[p], NULL, NULL, SOCK_CLOEXEC);
			if (afd[k] < 0)
				die("accept");
			sock_opts(afd[k]);
		}
		if (!bytes)
			continue;
		/* the accept queue is FIFO, but pairing does not matter: each end
		 * reads what its own peer sent */
		for (long k = i; k < end; k++)
			send_n(cfd[k], buf, (size_t)bytes);
		for (long k = i; k < end; k++) {
			recv_n(afd[k], rbuf, (size_t)bytes);
			send_n(afd[k], buf, (size_t)bytes);
		}
		for (long k = i; k < end; k++)
			recv_n(cfd[k], rbuf, (size_t)bytes);
	}
	printf("{\"event\":\"ready\",\"pairs\":%ld,\"sockets\":%ld,\"ports\":%ld,\"setup_ms\":%.1f,"
	       "\"pid\":%d}\n", pairs, 2 * pairs, ports, now_ms() - start, getpid());
	fflush(stdout);

	for (;;) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		double left = deadline - now_ms();
		int n;

		if (left <= 0)
			break;
		n = poll(&pfd, 1, left > 1000 ? 1000 : (int)left + 1);
		if (n < 0 && errno != EINTR)
			die("poll");
		if (n > 0) {
			char sink[256];
			ssize_t r = read(STDIN_FILENO, sink, sizeof(sink));

			if (r <= 0) {
				reason = "stdin";
				break;
			}
		}
	}
	printf("{\"event\":\"done\",\"reason\":\"%s\"}\n", reason);
	fflush(stdout);
	return 0;
}
