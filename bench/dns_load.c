// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dns_load: the load of bench/dns_capture.py (perf.md S7/S8), in C so that
 * the cost measured is the kernel's and the capture's, not an interpreter's.
 *
 *   dns_load dns --server ADDR [--port 53] --count N [--window W] [--name NAME]
 *       N UDP DNS queries (type A) from one socket, at most W unanswered at a
 *       time; every answer is read (a query unanswered for 1 s is given up).
 *   dns_load udp --count N [--size 64] [--port P]
 *       N datagrams of SIZE bytes sent on lo to a socket of this process and
 *       read back: the per-packet tax of a packet socket that rejects them.
 *
 * Prints one JSON line: {"mode":..,"sent":..,"received":..,"elapsed_ns":..,
 * "cpu_ns":..} where cpu_ns is this process's CPU time (its sends and, on
 * lo, the softirq work that runs in its context).
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t build_query(uint8_t *q, uint16_t id, const char *name)
{
	size_t n = 12;

	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* one question */
	while (*name) {
		size_t l = strcspn(name, ".");

		q[n++] = (uint8_t)l;
		memcpy(q + n, name, l);
		n += l;
		name += l + (name[l] == '.');
	}
	q[n++] = 0;
	q[n++] = 0;
	q[n++] = 1; /* A */
	q[n++] = 0;
	q[n++] = 1; /* IN */
	return n;
}

static int run_dns(const char *server, int port, long count, int window, const char *name,
		   long *sent, long *received)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t q[300], r[4096];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), outstanding = 0;

	if (fd < 0 || inet_pton(AF_INET, server, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	while (*received < count) {
		while (*sent < count && outstanding < window) {
			size_t n = build_query(q, (uint16_t)*sent, name);

			if (send(fd, q, n, 0) < 0)
				return -1;
			(*sent)++;
			outstanding++;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int rc = poll(&p, 1, 1000);

		if (rc < 0)
			return -1;
		if (rc == 0) { /* lost ones: give them up */
			count -= outstanding;
			outstanding = 0;
			continue;
		}
		while (recv(fd, r, sizeof(r), MSG_DONTWAIT) > 0) {
			(*received)++;
			outstanding--;
		}
	}
	close(fd);
	return 0;
}

static int run_udp(long count, int size, int port, long *sent, long *received)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	uint8_t buf[65536];
	int rx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int tx = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (rx < 0 || tx < 0 || size < 1 || size > (int)sizeof(buf) ||
	    bind(rx, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(rx, (struct sockaddr *)&sa, &len) < 0 ||
	    connect(tx, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	memset(buf, 0xab, (size_t)size);
	for (; *sent < count; (*sent)++) {
		if (send(tx, buf, (size_t)size, 0) < 0)
			return -1;
		if (recv(rx, buf, sizeof(buf), 0) > 0)
			(*received)++;
	}
	close(rx);
	close(tx);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' }, { "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },  { "window", required_argument, NULL, 'w' },
		{ "name", required_argument, NULL, 'n' },   { "size", required_argument, NULL, 'z' },
		{ 0 },
	};
	const char *mode = argc > 1 ? argv[1] : "", *server = NULL, *name = "bench.nwt.test";
	long count = 0, sent = 0, received = 0;
	int port = 53, window = 16, size = 64, opt, rc;
	uint64_t t0, c0;

	optind = 2;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': count = atol(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'n': name = optarg; break;
		case 'z': size = atoi(optarg); break;
		default: return 2;
		}
	}
	if (count <= 0 || window <= 0 || (strcmp(mode, "dns") && strcmp(mode, "udp")) ||
	    (!strcmp(mode, "dns") && !server)) {
		fprintf(stderr, "usage: dns_load dns --server ADDR [--port P] --count N [--window W] "
				"[--name NAME] | udp --count N [--size S] [--port P]\n");
		return 2;
	}
	t0 = clock_ns(CLOCK_MONOTONIC);
	c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	rc = !strcmp(mode, "dns") ? run_dns(server, port, count, window, name, &sent, &received)
				  : run_udp(count, size, !strcmp(mode, "udp") && port == 53 ? 0 : port,
					    &sent, &received);
	if (rc) {
		fprintf(stderr, "dns_load: %s\n", strerror(errno));
		return 1;
	}
	printf("{\"mode\":\"%s\",\"sent\":%ld,\"received\":%ld,\"elapsed_ns\":%llu,\"cpu_ns\":%llu}\n",
	       mode, sent, received, (unsigned long long)(clock_ns(CLOCK_MONOTONIC) - t0),
	       (unsigned long long)(clock_ns(CLOCK_PROCESS_CPUTIME_ID) - c0));
	return 0;
}
