/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcp_xfer: move an exact number of bytes over one TCP connection, for the
 * integration tests' byte-accuracy checks.
 *
 *   tcp_xfer server --bind ADDR [--port P] [--send N] [--recv M] [--rounds R]
 *                   [--timeout S] [--hold]
 *   tcp_xfer client --connect ADDR --port P [--bind ADDR] [--send N] [--recv M]
 *                   [--rounds R] [--timeout S] [--hold]
 *
 * In each of R rounds (default 1) both sides send exactly N bytes and receive
 * exactly M (concurrently, so any size works), then print one JSON line with
 * the totals so far:
 *   {"event":"done","round":r,"role":..,"laddr":..,"lport":..,"raddr":..,
 *    "rport":..,"pid":..,"sent":N*r,"recv":M*r,"cookie":C}
 * The server first prints {"event":"listening","addr":..,"port":..,"pid":..}.
 * --hold waits for a line on stdin (or EOF) after every round, before the next
 * round and before closing, so a test can look at a live connection between
 * rounds. Exit 0 on success, 1 on any error (message on stderr), 3 on timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELPER_NAME "tcp_xfer"
#include "tests/helpers/helper_net.h"

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static void on_alarm(int sig)
{
	static const char msg[] = "tcp_xfer: timeout\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(3);
}

/* Send `nsend` and receive `nrecv` bytes at the same time on fd. */
static void transfer(int fd, unsigned long long nsend, unsigned long long nrecv,
		     unsigned long long *sent, unsigned long long *recvd)
{
	static char out[65536], in[65536];
	size_t i;

	for (i = 0; i < sizeof(out); i++)
		out[i] = (char)('a' + i % 26);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		die("fcntl");
	*sent = *recvd = 0;
	while (*sent < nsend || *recvd < nrecv) {
		struct pollfd p = { .fd = fd, .events = 0 };

		if (*sent < nsend)
			p.events |= POLLOUT;
		if (*recvd < nrecv)
			p.events |= POLLIN;
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && *recvd < nrecv) {
			size_t want = nrecv - *recvd < sizeof(in) ? nrecv - *recvd : sizeof(in);
			ssize_t r = recv(fd, in, want, 0);

			if (r == 0) {
				fprintf(stderr, "tcp_xfer: peer closed after %llu of %llu bytes\n",
					*recvd, nrecv);
				exit(1);
			}
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				die("recv");
			if (r > 0)
				*recvd += (unsigned long long)r;
		}
		if ((p.revents & POLLOUT) && *sent < nsend) {
			size_t want = nsend - *sent < sizeof(out) ? nsend - *sent : sizeof(out);
			ssize_t w = send(fd, out, want, MSG_NOSIGNAL);

			if (w < 0 && errno != EAGAIN && errno != EINTR)
				die("send");
			if (w > 0)
				*sent += (unsigned long long)w;
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "connect", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "send", required_argument, NULL, 's' },
		{ "recv", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "hold", no_argument, NULL, 'H' },
		{ "rounds", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = NULL, *conn_addr = NULL;
	unsigned long long nsend = 0, nrecv = 0, sent = 0, recvd = 0, cookie = 0, rounds = 1, r;
	unsigned port = 0, timeout = 20, lport, rport;
	struct sockaddr_storage ss, local, remote;
	socklen_t len, llen = sizeof(local), rlen = sizeof(remote), clen = sizeof(cookie);
	char lbuf[INET6_ADDRSTRLEN], rbuf[INET6_ADDRSTRLEN];
	int server, fd, one = 1, hold = 0, c;

	if (argc < 2 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: tcp_xfer server|client [options] (see source)\n");
		return 1;
	}
	server = !strcmp(argv[1], "server");
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bind_addr = optarg; break;
		case 'c': conn_addr = optarg; break;
		case 'p': port = (unsigned)parse_num(optarg, "port"); break;
		case 's': nsend = parse_num(optarg, "send"); break;
		case 'r': nrecv = parse_num(optarg, "recv"); break;
		case 't': timeout = (unsigned)parse_num(optarg, "timeout"); break;
		case 'H': hold = 1; break;
		case 'R': rounds = parse_num(optarg, "rounds"); break;
		default: return 1;
		}
	}
	if (server ? !bind_addr : (!conn_addr || !port) || port > 65535) {
		fprintf(stderr, "tcp_xfer: server needs --bind, client needs --connect and --port\n");
		return 1;
	}
	signal(SIGALRM, on_alarm);
	alarm(timeout);

	if (parse_addr(server ? bind_addr : conn_addr, port, &ss, &len) < 0) {
		fprintf(stderr, "tcp_xfer: bad address\n");
		return 1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	if (server) {
		int lfd = fd;

		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(lfd, (struct sockaddr *)&ss, len) < 0)
			die("bind");
		if (listen(lfd, 4) < 0)
			die("listen");
		if (getsockname(lfd, (struct sockaddr *)&local, &llen) < 0)
			die("getsockname");
		fmt_addr(&local, lbuf, sizeof(lbuf), &lport);
		printf("{\"event\":\"listening\",\"addr\":\"%s\",\"port\":%u,\"pid\":%d}\n", lbuf,
		       lport, (int)getpid());
		fflush(stdout);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			die("accept");
		close(lfd);
	} else {
		if (bind_addr) {
			struct sockaddr_storage bs;
			socklen_t blen;

			if (parse_addr(bind_addr, 0, &bs, &blen) < 0 || bs.ss_family != ss.ss_family) {
				fprintf(stderr, "tcp_xfer: bad --bind address\n");
				return 1;
			}
			if (bind(fd, (struct sockaddr *)&bs, blen) < 0)
				die("bind");
		}
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			die("connect");
	}
	llen = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) < 0)
		die("getsockname/getpeername");
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &clen) < 0)
		die("getsockopt(SO_COOKIE)");
	fmt_addr(&local, lbuf, sizeof(lbuf), &lport);
	fmt_addr(&remote, rbuf, sizeof(rbuf), &rport);
	for (r = 1; r <= rounds; r++) {
		unsigned long long s1, r1;

		transfer(fd, nsend, nrecv, &s1, &r1);
		sent += s1;
		recvd += r1;
		printf("{\"event\":\"done\",\"round\":%llu,\"role\":\"%s\",\"laddr\":\"%s\","
		       "\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,\"pid\":%d,\"sent\":%llu,"
		       "\"recv\":%llu,\"cookie\":%llu}\n",
		       r, server ? "server" : "client", lbuf, lport, rbuf, rport, (int)getpid(), sent,
		       recvd, cookie);
		fflush(stdout);
		if (hold) {
			char line[64];

			alarm(timeout);
			if (!fgets(line, sizeof(line), stdin)) {
				/* EOF is the release signal too */
			}
		}
	}
	close(fd);
	return 0;
}
