/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sendfile_server: serve one file to one TCP client with sendfile(2) (or with
 * splice(2) through a pipe, --splice), then wait for the client to close.
 *
 *   sendfile_server --bind ADDR [--port P] --file PATH [--splice] [--timeout S]
 *
 * Prints {"event":"listening","addr":..,"port":..,"pid":..}, then after the
 * client closed {"event":"done","role":"server","mode":"sendfile|splice",
 * "laddr",..,"lport",..,"raddr",..,"rport",..,"pid",..,"sent":N,"recv":M,"cookie":C}
 * where sent counts what sendfile/splice reported and recv what the client
 * sent before closing. A matching client: tcp_xfer client --recv <file size>.
 * Exit 0 on success, 1 on error, 3 on timeout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static void on_alarm(int sig)
{
	static const char msg[] = "sendfile_server: timeout\n";
	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more to do */
	}
	_exit(3);
}

static void die(const char *what)
{
	fprintf(stderr, "sendfile_server: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t n, unsigned *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, buf, n);
		*port = ntohs(in4->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, buf, n);
		*port = ntohs(in6->sin6_port);
	}
}

static unsigned long long send_file(int sock, int file, off_t size)
{
	unsigned long long total = 0;

	while ((off_t)total < size) {
		ssize_t n = sendfile(sock, file, NULL, (size_t)(size - (off_t)total));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("sendfile");
		total += (unsigned long long)n;
	}
	return total;
}

static unsigned long long splice_file(int sock, int file, off_t size)
{
	unsigned long long total = 0;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		die("pipe2");
	while ((off_t)total < size) {
		ssize_t in = splice(file, NULL, p[1], NULL, (size_t)(size - (off_t)total), 0);

		if (in < 0 && errno == EINTR)
			continue;
		if (in <= 0)
			die("splice file->pipe");
		while (in > 0) {
			ssize_t out = splice(p[0], NULL, sock, NULL, (size_t)in, 0);

			if (out < 0 && errno == EINTR)
				continue;
			if (out <= 0)
				die("splice pipe->socket");
			in -= out;
			total += (unsigned long long)out;
		}
	}
	close(p[0]);
	close(p[1]);
	return total;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "splice", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = NULL, *path = NULL;
	unsigned port = 0, timeout = 20, lport, rport;
	unsigned long long sent, recvd = 0, cookie = 0;
	struct sockaddr_storage ss = { 0 }, local, remote;
	socklen_t len, llen = sizeof(local), rlen = sizeof(remote), clen = sizeof(cookie);
	char lbuf[INET6_ADDRSTRLEN], rbuf[INET6_ADDRSTRLEN], buf[4096];
	int use_splice = 0, lfd, fd, file, one = 1, c;
	struct stat st;
	ssize_t r;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bind_addr = optarg; break;
		case 'p': port = (unsigned)atoi(optarg); break;
		case 'f': path = optarg; break;
		case 'S': use_splice = 1; break;
		case 't': timeout = (unsigned)atoi(optarg); break;
		default: return 1;
		}
	}
	if (!bind_addr || !path || port > 65535) {
		fprintf(stderr, "usage: sendfile_server --bind ADDR [--port P] --file PATH "
				"[--splice] [--timeout S]\n");
		return 1;
	}
	signal(SIGALRM, on_alarm);
	alarm(timeout);
	if (inet_pton(AF_INET, bind_addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, bind_addr, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "sendfile_server: bad address %s\n", bind_addr);
		return 1;
	}
	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0 || fstat(file, &st) < 0)
		die(path);
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&ss, len) < 0 || listen(lfd, 1) < 0)
		die("bind/listen");
	if (getsockname(lfd, (struct sockaddr *)&local, &llen) < 0)
		die("getsockname");
	fmt_addr(&local, lbuf, sizeof(lbuf), &lport);
	printf("{\"event\":\"listening\",\"addr\":\"%s\",\"port\":%u,\"pid\":%d}\n", lbuf, lport,
	       (int)getpid());
	fflush(stdout);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	close(lfd);
	llen = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &llen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&remote, &rlen) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &clen) < 0)
		die("getsockname/getpeername/SO_COOKIE");
	fmt_addr(&local, lbuf, sizeof(lbuf), &lport);
	fmt_addr(&remote, rbuf, sizeof(rbuf), &rport);

	sent = use_splice ? splice_file(fd, file, st.st_size) : send_file(fd, file, st.st_size);
	while ((r = recv(fd, buf, sizeof(buf), 0)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("recv");
		recvd += (unsigned long long)r;
	}
	printf("{\"event\":\"done\",\"role\":\"server\",\"mode\":\"%s\",\"laddr\":\"%s\","
	       "\"lport\":%u,\"raddr\":\"%s\",\"rport\":%u,\"pid\":%d,\"sent\":%llu,"
	       "\"recv\":%llu,\"cookie\":%llu}\n",
	       use_splice ? "splice" : "sendfile", lbuf, lport, rbuf, rport, (int)getpid(), sent,
	       recvd, cookie);
	fflush(stdout);
	close(fd);
	close(file);
	return 0;
}
