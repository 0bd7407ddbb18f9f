/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * connload: open and close many short TCP connections at a fixed rate, for
 * the completeness-under-load test and the wakeup benchmark. Bounded in time
 * and count; stops by itself.
 *
 *   connload server --bind ADDR --port P --seconds S
 *       accept and close at once (the server closes first, so the client's
 *       ports never sit in TIME_WAIT); prints
 *       {"event":"listening","port":P} then, after S seconds,
 *       {"event":"done","accepted":N}
 *   connload client --connect ADDR --port P --rate R --seconds S [--parallel N]
 *       start R connections per second for S seconds, at most N (default 256)
 *       in flight; each waits for the server's FIN, then closes; prints
 *       {"event":"done","attempted":A,"connected":C,"failed":F,"elapsed_s":E,
 *        "rate":C/E}
 * Exit 0 on success, 1 on error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELPER_NAME "connload"
#include "tests/helpers/helper_cli.h"

#define MAX_PARALLEL 4096
#define MAX_SECONDS 120
#define MAX_RATE 200000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static socklen_t parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		return sizeof(*in4);
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		return sizeof(*in6);
	}
	fprintf(stderr, "connload: bad address '%s'\n", s);
	exit(1);
}

static int server(const char *addr, unsigned port, long seconds)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, port, &ss);
	int one = 1, lfd, ep;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned long accepted = 0;
	double end;

	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) || listen(lfd, 4096))
		die("bind/listen");
	len = sizeof(ss);
	getsockname(lfd, (struct sockaddr *)&ss, &len);
	printf("{\"event\":\"listening\",\"port\":%u,\"pid\":%d}\n",
	       ntohs(((struct sockaddr_in *)&ss)->sin_port), getpid());
	fflush(stdout);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev))
		die("epoll");
	end = now_s() + (double)seconds;
	while (now_s() < end) {
		int n = epoll_wait(ep, &ev, 1, 100);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (;;) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd < 0)
				break;
			accepted++;
			close(fd);
		}
	}
	printf("{\"event\":\"done\",\"accepted\":%lu}\n", accepted);
	return 0;
}

struct client_stats {
	unsigned long attempted, connected, failed;
};

static int start_one(int ep, const struct sockaddr_storage *ss, socklen_t len,
		     struct client_stats *st)
{
	struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN | EPOLLRDHUP };
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	st->attempted++;
	if (fd < 0) {
		st->failed++;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)ss, len) && errno != EINPROGRESS) {
		st->failed++;
		close(fd);
		return -1;
	}
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
		st->failed++;
		close(fd);
		return -1;
	}
	return 0;
}

static int client(const char *addr, unsigned port, long rate, long seconds, long parallel)
{
	struct sockaddr_storage ss;
	socklen_t len = parse_addr(addr, port, &ss);
	struct epoll_event evs[256];
	struct client_stats st = { 0 };
	long inflight = 0;
	double start = now_s(), stop = start + (double)seconds, drain_until = stop + 5, t;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0)
		die("epoll_create1");
	while ((t = now_s()) < drain_until && (t < stop || inflight > 0)) {
		/* start what the rate allows by now */
		double due = t < stop ? (t - start) * (double)rate : (double)seconds * (double)rate;

		while ((double)st.attempted < due && inflight < parallel)
			if (!start_one(ep, &ss, len, &st))
				inflight++;
		int n = epoll_wait(ep, evs, 256, 1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			if (!(evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
				continue; /* connected; wait for the server's FIN */
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (err || (evs[i].events & EPOLLERR))
				st.failed++;
			else
				st.connected++;
			close(fd);
			inflight--;
		}
	}
	t = now_s() - start;
	printf("{\"event\":\"done\",\"attempted\":%lu,\"connected\":%lu,\"failed\":%lu,"
	       "\"unfinished\":%ld,\"elapsed_s\":%.3f,\"rate\":%.0f}\n",
	       st.attempted, st.connected, st.failed, inflight, t,
	       (double)st.connected / (t < (double)seconds ? t : (double)seconds));
	return 0;
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	long port = 0, rate = 1000, seconds = 10, parallel = 256;

	if (argc < 2)
		goto usage;
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--bind") || !strcmp(k, "--connect"))
			addr = v;
		else if (!strcmp(k, "--port"))
			port = num(v, 0, 65535, "--port");
		else if (!strcmp(k, "--rate"))
			rate = num(v, 1, MAX_RATE, "--rate");
		else if (!strcmp(k, "--seconds"))
			seconds = num(v, 1, MAX_SECONDS, "--seconds");
		else if (!strcmp(k, "--parallel"))
			parallel = num(v, 1, MAX_PARALLEL, "--parallel");
		else
			goto usage;
	}
	if (!addr)
		goto usage;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "server"))
		return server(addr, (unsigned)port, seconds);
	if (!strcmp(argv[1], "client") && port)
		return client(addr, (unsigned)port, rate, seconds, parallel);
usage:
	fprintf(stderr, "usage: connload server --bind ADDR [--port P] --seconds S\n"
			"       connload client --connect ADDR --port P --rate R --seconds S "
			"[--parallel N]\n");
	return 1;
}
