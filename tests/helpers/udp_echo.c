/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * udp_echo: exact-byte UDP exchanges for the integration tests.
 *
 *   udp_echo server --bind ADDR [--port P] [--count K] [--timeout S]
 *       Unconnected socket bound to ADDR:P (P 0 = ephemeral). Echoes every
 *       datagram back to its sender with sendto() until K datagrams were
 *       echoed (default 1) or the timeout. Prints
 *       {"event":"listening","addr":..,"port":..,"pid":..,"cookie":..} then
 *       {"event":"done","role":"server",...,"peers":[{"addr","port","datagrams","bytes"}]}
 *   udp_echo client --connect ADDR --port P [--count K] [--size S] [--unconnected]
 *                   [--timeout S] [--hold]
 *       Sends K datagrams of S bytes (send() on a connected socket, or sendto()
 *       on an unconnected one) and reads each echo (recv()/recvfrom()). Prints
 *       {"event":"done","role":"client","laddr",..,"lport",..,"raddr",..,"rport",..,
 *        "pid",..,"sent":bytes,"recv":bytes,"sent_dgrams":K,"recv_dgrams":K,"cookie":C}
 *       laddr is what getsockname() says (0.0.0.0 / :: for an unconnected
 *       socket); --hold waits for stdin EOF/line before closing the socket.
 * Exit 0 on success, 1 on error, 3 on timeout (or a missing echo).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HELPER_NAME "udp_echo"
#include "tests/helpers/helper_net.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

#define MAX_DGRAM 65507
#define MAX_PEERS 64

struct peer {
	struct sockaddr_storage ss;
	unsigned long long dgrams, bytes;
};

/* Wait for fd to be readable until `deadline` (ms); 0 on readable, -1 on timeout. */
static int wait_readable(int fd, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - (long long)now_ms();
		int r;

		if (left <= 0)
			return -1;
		r = poll(&p, 1, (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			die("poll");
	}
}

static unsigned long long sock_cookie(int fd)
{
	unsigned long long cookie = 0;
	socklen_t clen = sizeof(cookie);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &clen) < 0)
		die("getsockopt(SO_COOKIE)");
	return cookie;
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return !memcmp(a, b, sizeof(struct sockaddr_in));
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr, 16) &&
	       ((const struct sockaddr_in6 *)a)->sin6_port ==
		       ((const struct sockaddr_in6 *)b)->sin6_port;
}

static int run_server(const char *addr, unsigned port, unsigned long long count, unsigned timeout)
{
	static char buf[MAX_DGRAM];
	static struct peer peers[MAX_PEERS];
	struct sockaddr_storage ss, local;
	socklen_t len, llen = sizeof(local);
	unsigned long long done = 0, rbytes = 0, sbytes = 0;
	long long deadline = (long long)now_ms() + (long long)timeout * 1000;
	char abuf[INET6_ADDRSTRLEN];
	unsigned lport, i, npeers = 0;
	int fd;

	if (parse_addr(addr, port, &ss, &len) < 0) {
		fprintf(stderr, "udp_echo: bad address %s\n", addr);
		return 1;
	}
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		die("bind");
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		die("getsockname");
	fmt_addr(&local, abuf, sizeof(abuf), &lport);
	printf("{\"event\":\"listening\",\"addr\":\"%s\",\"port\":%u,\"pid\":%d,\"cookie\":%llu}\n",
	       abuf, lport, (int)getpid(), sock_cookie(fd));
	fflush(stdout);

	while (done < count) {
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		ssize_t r, w;

		if (wait_readable(fd, deadline) < 0) {
			fprintf(stderr, "udp_echo: server timeout after %llu datagrams\n", done);
			return 3;
		}
		r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom");
		}
		w = sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, flen);
		if (w != r)
			die("sendto");
		rbytes += (unsigned long long)r;
		sbytes += (unsigned long long)w;
		done++;
		for (i = 0; i < npeers && !same_peer(&peers[i].ss, &from); i++)
			;
		if (i == npeers && npeers < MAX_PEERS)
			peers[npeers++].ss = from;
		if (i < npeers) {
			peers[i].dgrams++;
			peers[i].bytes += (unsigned long long)r;
		}
	}
	printf("{\"event\":\"done\",\"role\":\"server\",\"laddr\":\"%s\",\"lport\":%u,\"pid\":%d,"
	       "\"sent\":%llu,\"recv\":%llu,\"sent_dgrams\":%llu,\"recv_dgrams\":%llu,"
	       "\"cookie\":%llu,\"peers\":[",
	       abuf, lport, (int)getpid(), sbytes, rbytes, done, done, sock_cookie(fd));
	for (i = 0; i < npeers; i++) {
		char pbuf[INET6_ADDRSTRLEN];
		unsigned pport;

		fmt_addr(&peers[i].ss, pbuf, sizeof(pbuf), &pport);
		printf("%s{\"addr\":\"%s\",\"port\":%u,\"datagrams\":%llu,\"bytes\":%llu}",
		       i ? "," : "", pbuf, pport, peers[i].dgrams, peers[i].bytes);
	}
	printf("]}\n");
	fflush(stdout);
	close(fd);
	return 0;
}

static int run_client(const char *addr, unsigned port, unsigned long long count, size_t size,
		      int unconnected, unsigned timeout, int hold)
{
	static char out[MAX_DGRAM], in[MAX_DGRAM];
	struct sockaddr_storage ss, local;
	socklen_t len, llen = sizeof(local);
	unsigned long long k, sbytes = 0, rbytes = 0, sd = 0, rd = 0;
	long long deadline = (long long)now_ms() + (long long)timeout * 1000;
	char lbuf[INET6_ADDRSTRLEN], rbuf[INET6_ADDRSTRLEN];
	unsigned lport, rport;
	size_t i;
	int fd;

	if (parse_addr(addr, port, &ss, &len) < 0) {
		fprintf(stderr, "udp_echo: bad address %s\n", addr);
		return 1;
	}
	for (i = 0; i < size; i++)
		out[i] = (char)('A' + i % 26);
	fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (!unconnected && connect(fd, (struct sockaddr *)&ss, len) < 0)
		die("connect");
	for (k = 0; k < count; k++) {
		ssize_t w, r;

		if (unconnected)
			w = sendto(fd, out, size, 0, (struct sockaddr *)&ss, len);
		else
			w = send(fd, out, size, 0);
		if (w != (ssize_t)size)
			die("send");
		sbytes += (unsigned long long)w;
		sd++;
		if (wait_readable(fd, deadline) < 0) {
			fprintf(stderr, "udp_echo: no echo for datagram %llu\n", k);
			return 3;
		}
		if (unconnected) {
			struct sockaddr_storage from;
			socklen_t flen = sizeof(from);

			r = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
		} else {
			r = recv(fd, in, sizeof(in), 0);
		}
		if (r < 0)
			die("recv");
		rbytes += (unsigned long long)r;
		rd++;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0)
		die("getsockname");
	fmt_addr(&local, lbuf, sizeof(lbuf), &lport);
	fmt_addr(&ss, rbuf, sizeof(rbuf), &rport);
	printf("{\"event\":\"done\",\"role\":\"client\",\"mode\":\"%s\",\"laddr\":\"%s\","
	       "\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,\"pid\":%d,\"sent\":%llu,\"recv\":%llu,"
	       "\"sent_dgrams\":%llu,\"recv_dgrams\":%llu,\"cookie\":%llu}\n",
	       unconnected ? "unconnected" : "connected", lbuf, lport, rbuf, rport, (int)getpid(),
	       sbytes, rbytes, sd, rd, sock_cookie(fd));
	fflush(stdout);
	if (hold) {
		char line[64];

		if (!fgets(line, sizeof(line), stdin)) {
			/* EOF releases too */
		}
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "connect", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 's' },
		{ "unconnected", no_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hold", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = NULL, *conn_addr = NULL;
	unsigned long long count = 1, size = 100;
	unsigned port = 0, timeout = 20;
	int unconnected = 0, hold = 0, c;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: udp_echo server|client [options] (see source)\n");
		return 1;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bind_addr = optarg; break;
		case 'c': conn_addr = optarg; break;
		case 'p': port = (unsigned)parse_num(optarg, "port"); break;
		case 'k': count = parse_num(optarg, "count"); break;
		case 's': size = parse_num(optarg, "size"); break;
		case 'u': unconnected = 1; break;
		case 't': timeout = (unsigned)parse_num(optarg, "timeout"); break;
		case 'H': hold = 1; break;
		default: return 1;
		}
	}
	if (port > 65535 || size > MAX_DGRAM || count == 0) {
		fprintf(stderr, "udp_echo: bad --port, --size or --count\n");
		return 1;
	}
	if (!strcmp(argv[1], "server")) {
		if (!bind_addr) {
			fprintf(stderr, "udp_echo: server needs --bind\n");
			return 1;
		}
		return run_server(bind_addr, port, count, timeout);
	}
	if (!conn_addr || !port) {
		fprintf(stderr, "udp_echo: client needs --connect and --port\n");
		return 1;
	}
	return run_client(conn_addr, port, count, (size_t)size, unconnected, timeout, hold);
}
