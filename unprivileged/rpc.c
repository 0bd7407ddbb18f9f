// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The worker's RPC server (unprivileged/rpc.h).
 *
 * One request at a time per client: while a response is being written the
 * client's socket is not read, so a client holds at most one request frame
 * (capped) and one response in memory, and a client that does not read its
 * answers only stalls itself. Refusals (peer credentials, too many clients)
 * are answered with one small Error frame written straight to the fresh
 * socket, then closed: they never take a client slot. Idleness is counted
 * in ticks: a client that neither completes a request nor drains output
 * between ticks spanning idle_timeout_ms is dropped, so a half-sent frame
 * cannot hold a slot forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "proto/frame.h"
#include "unprivileged/rpc.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

#define RPC_IDLE_TIMEOUT_DEFAULT_MS 30000
#define RPC_ACCEPT_BATCH 64     /* accepts per wakeup: the loop serves others in between */
#define RPC_PEERGROUPS_MAX 4096 /* supplementary groups looked at (NGROUPS_MAX is 65536) */

struct rpc_client {
	struct ev_handler h; /* first: the handler is the client */
	struct rpc_server *srv;
	struct rpc_client *prev, *next;
	struct ucred peer;
	struct nw_frame_reader rd;
	uint8_t *out; /* one response frame being written */
	size_t out_len, out_off;
	uint32_t events;       /* registered epoll mask */
	bool close_after_out;  /* a fatal error reply: close once written */
	bool active;           /* completed a request or wrote since the last tick */
	uint64_t idle_since_ms; /* tick time it was first seen inactive; 0 = not yet */
};

struct rpc_server {
	struct ev_handler listen_h;
	struct evloop *loop;
	struct rpc_config cfg;
	rpc_handle_fn handle;
	rpc_release_fn release;
	void *ctx;
	struct rpc_client *clients;
	unsigned int n_clients;
	bool listen_paused; /* out of fds: accepting again at the next tick or close */
	struct rpc_stats stats;
};

static void listen_set(struct rpc_server *srv, bool on)
{
	if (srv->listen_paused == !on)
		return;
	if (evloop_mod(srv->loop, &srv->listen_h, on ? EPOLLIN : 0) == 0)
		srv->listen_paused = !on;
}

static void client_close(struct rpc_client *c)
{
	struct rpc_server *srv = c->srv;

	evloop_del(srv->loop, &c->h);
	close(c->h.fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->n_clients--;
	nw_frame_reader_free(&c->rd);
	free(c->out);
	free(c);
	listen_set(srv, true);
}

/* Pack an Error response into a frame; NULL when out of memory. */
static uint8_t *error_frame(Netwarden__ErrorCode code, const char *msg, size_t *len)
{
	Netwarden__Error e = NETWARDEN__ERROR__INIT;
	Netwarden__Response resp = NETWARDEN__RESPONSE__INIT;
	uint8_t *buf;

	e.code = code;
	e.message = (char *)msg;
	resp.kind_case = NETWARDEN__RESPONSE__KIND_ERROR;
	resp.error = &e;
	if (nw_frame_encode(&resp.base, NW_FRAME_MAX, &buf, len))
		return NULL;
	return buf;
}

/* Best effort on a fresh socket whose send buffer is empty: never blocks. */
static void refuse(int fd, Netwarden__ErrorCode code, const char *msg)
{
	size_t len;
	uint8_t *buf = error_frame(code, msg, &len);

	if (buf)
		(void)!send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(buf);
	close(fd);
}

static bool gid_allowed(const struct rpc_config *cfg, gid_t gid)
{
	for (size_t i = 0; i < cfg->n_allow_gids; i++)
		if (cfg->allow_gids[i] == gid)
			return true;
	return false;
}

/* Supplementary groups of the peer at connect() time (Linux 4.13+). */
static bool peer_groups_allowed(const struct rpc_config *cfg, int fd)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool ok = false;
	size_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
		if (errno != ERANGE || len > RPC_PEERGROUPS_MAX * sizeof(gid_t))
			return false;
		groups = malloc(len);
		if (!groups || getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0) {
			free(groups);
			return false;
		}
	}
	n = len / sizeof(gid_t);
	for (size_t i = 0; i < n && !ok; i++)
		ok = gid_allowed(cfg, groups[i]);
	if (groups != small)
		free(groups);
	return ok;
}

static bool peer_allowed(const struct rpc_config *cfg, int fd, const struct ucred *peer)
{
	if (peer->uid == 0)
		return true;
	for (size_t i = 0; i < cfg->n_allow_uids; i++)
		if (cfg->allow_uids[i] == peer->uid)
			return true;
	if (!cfg->n_allow_gids)
		return false;
	return gid_allowed(cfg, peer->gid) || peer_groups_allowed(cfg, fd);
}

static int client_set_events(struct rpc_client *c, uint32_t events)
{
	int err;

	if (c->events == events)
		return 0;
	err = evloop_mod(c->srv->loop, &c->h, events);
	if (!err)
		c->events = events;
	return err;
}

/* Write what the socket takes. 0, or -errno when the client is gone. */
static int client_flush(struct rpc_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->h.fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return client_set_events(c, EPOLLOUT);
			return -errno;
		}
		c->out_off += (size_t)n;
		c->active = true;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->close_after_out)
		return -ECONNABORTED;
	return client_set_events(c, EPOLLIN);
}

/* Queue a frame (owned from now on) and start writing it. */
static int client_send(struct rpc_client *c, uint8_t *frame, size_t len)
{
	free(c->out);
	c->out = frame;
	c->out_len = len;
	c->out_off = 0;
	return client_flush(c);
}

/* Answer with an Error and close once it is written. */
static int client_fail(struct rpc_client *c, Netwarden__ErrorCode code, const char *msg)
{
	size_t len;
	uint8_t *buf = error_frame(code, msg, &len);

	nw_frame_reader_reset(&c->rd);
	if (!buf)
		return -ENOMEM;
	c->close_after_out = true;
	return client_send(c, buf, len);
}

static int client_request(struct rpc_client *c)
{
	struct rpc_server *srv = c->srv;
	Netwarden__Request *req;
	Netwarden__Response resp = NETWARDEN__RESPONSE__INIT;
	uint8_t *buf;
	size_t len;
	int err;

	req = netwarden__request__unpack(NULL, c->rd.len, c->rd.body);
	nw_frame_reader_reset(&c->rd);
	if (!req) {
		srv->stats.bad_frames++;
		return client_fail(c, NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME,
				   "undecodable request: not a netwarden.Request");
	}
	srv->stats.requests++;
	c->active = true;
	srv->handle(srv->ctx, &c->peer, req, &resp);
	netwarden__request__free_unpacked(req, NULL);
	if (resp.kind_case == NETWARDEN__RESPONSE__KIND__NOT_SET) {
		err = -EINVAL;
	} else {
		err = nw_frame_encode(&resp.base, NW_FRAME_MAX, &buf, &len);
	}
	if (srv->release)
		srv->release(srv->ctx, &resp);
	if (err == -EMSGSIZE || err == -EINVAL)
		buf = error_frame(NETWARDEN__ERROR_CODE__ERROR_INTERNAL,
				  err == -EMSGSIZE ? "response over the frame size cap"
						   : "no response for this request",
				  &len);
	else if (err)
		buf = NULL;
	if (!buf)
		return -ENOMEM;
	return client_send(c, buf, len);
}

/* Read at most one frame: the next one is read after the response is out. */
static int client_read(struct rpc_client *c)
{
	struct rpc_server *srv = c->srv;
	char msg[128];

	for (;;) {
		uint8_t *dst;
		size_t space = nw_frame_reader_space(&c->rd, &dst);
		ssize_t n;
		int r;

		n = recv(c->h.fd, dst, space, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET; /* closed, maybe mid-frame: nothing to answer */
		r = nw_frame_reader_commit(&c->rd, (size_t)n);
		switch (r) {
		case 0:
			continue;
		case 1:
			return client_request(c);
		case -EBADMSG:
			srv->stats.bad_frames++;
			return client_fail(c, NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME,
					   "empty frame: length 0");
		case -EMSGSIZE:
			srv->stats.oversized_frames++;
			snprintf(msg, sizeof(msg), "request of %u bytes is over the cap of %u bytes",
				 c->rd.len, c->rd.cap);
			return client_fail(c, NETWARDEN__ERROR_CODE__ERROR_TOO_LARGE, msg);
		default:
			return r;
		}
	}
}

static void on_client(struct ev_handler *h, uint32_t events)
{
	struct rpc_client *c = (struct rpc_client *)h;
	int err = 0;

	if (c->out)
		err = client_flush(c);
	else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		err = client_read(c); /* reads the EOF or error behind HUP/ERR */
	if (err)
		client_close(c);
}

static void accept_one(struct rpc_server *srv, int fd)
{
	struct rpc_client *c;
	struct ucred peer;
	socklen_t len = sizeof(peer);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0 || len != sizeof(peer)) {
		srv->stats.refused_peercred++;
		refuse(fd, NETWARDEN__ERROR_CODE__ERROR_PERMISSION, "cannot read peer credentials");
		return;
	}
	if (!peer_allowed(&srv->cfg, fd, &peer)) {
		char msg[128];

		srv->stats.refused_peercred++;
		snprintf(msg, sizeof(msg), "uid %u gid %u is not allowed to query netwarden",
			 (unsigned)peer.uid, (unsigned)peer.gid);
		refuse(fd, NETWARDEN__ERROR_CODE__ERROR_PERMISSION, msg);
		return;
	}
	if (srv->n_clients >= srv->cfg.max_clients) {
		srv->stats.refused_busy++;
		refuse(fd, NETWARDEN__ERROR_CODE__ERROR_BUSY, "too many clients: try again later");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(fd, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "out of memory");
		return;
	}
	c->h.fd = fd;
	c->h.fn = on_client;
	c->srv = srv;
	c->peer = peer;
	c->events = EPOLLIN;
	c->active = true;
	nw_frame_reader_init(&c->rd, srv->cfg.max_request);
	if (evloop_add(srv->loop, &c->h, EPOLLIN)) {
		free(c);
		refuse(fd, NETWARDEN__ERROR_CODE__ERROR_INTERNAL, "cannot watch connection");
		return;
	}
	c->next = srv->clients;
	if (c->next)
		c->next->prev = c;
	srv->clients = c;
	srv->n_clients++;
	srv->stats.accepted++;
}

static void on_listen(struct ev_handler *h, uint32_t events)
{
	struct rpc_server *srv = (struct rpc_server *)h; /* listen_h is first */

	for (int i = 0; i < RPC_ACCEPT_BATCH; i++) {
		int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd >= 0) {
			accept_one(srv, fd);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			listen_set(srv, false); /* level-triggered: do not spin */
		return;
	}
}

struct rpc_server *rpc_server_new(int listen_fd, struct evloop *loop, const struct rpc_config *cfg,
				  rpc_handle_fn handle, rpc_release_fn release, void *ctx)
{
	struct rpc_server *srv;
	int flags, err;

	if (listen_fd < 0 || !loop || !handle || (cfg && (cfg->n_allow_uids > RPC_MAX_ALLOW ||
							    cfg->n_allow_gids > RPC_MAX_ALLOW))) {
		errno = EINVAL;
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		errno = ENOMEM;
		return NULL;
	}
	if (cfg)
		srv->cfg = *cfg;
	if (!srv->cfg.max_clients)
		srv->cfg.max_clients = RPC_MAX_CLIENTS_DEFAULT;
	if (!srv->cfg.max_request || srv->cfg.max_request > NW_FRAME_MAX)
		srv->cfg.max_request = NW_FRAME_MAX_REQUEST;
	if (srv->cfg.idle_timeout_ms <= 0)
		srv->cfg.idle_timeout_ms = RPC_IDLE_TIMEOUT_DEFAULT_MS;
	srv->loop = loop;
	srv->handle = handle;
	srv->release = release;
	srv->ctx = ctx;
	srv->listen_h.fd = listen_fd;
	srv->listen_h.fn = on_listen;
	/* accept4() must never block the loop, even if a peer gives up after EPOLLIN */
	flags = fcntl(listen_fd, F_GETFL);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		err = errno;
		goto fail;
	}
	err = -evloop_add(loop, &srv->listen_h, EPOLLIN);
	if (err)
		goto fail;
	return srv;
fail:
	free(srv);
	errno = err;
	return NULL;
}

void rpc_server_free(struct rpc_server *srv)
{
	if (!srv)
		return;
	while (srv->clients)
		client_close(srv->clients);
	evloop_del(srv->loop, &srv->listen_h);
	free(srv);
}

void rpc_server_get_stats(const struct rpc_server *srv, struct rpc_stats *out)
{
	if (srv)
		*out = srv->stats;
	else
		memset(out, 0, sizeof(*out));
}

unsigned int rpc_server_clients(const struct rpc_server *srv)
{
	return srv ? srv->n_clients : 0;
}

void rpc_server_tick(struct rpc_server *srv, uint64_t now_ms)
{
	struct rpc_client *c, *next;

	if (!srv)
		return;
	listen_set(srv, true);
	for (c = srv->clients; c; c = next) {
		next = c->next;
		if (c->active) {
			c->active = false;
			c->idle_since_ms = 0;
			continue;
		}
		if (!c->idle_since_ms) {
			c->idle_since_ms = now_ms ? now_ms : 1;
			continue;
		}
		if (now_ms - c->idle_since_ms >= (uint64_t)srv->cfg.idle_timeout_ms) {
			srv->stats.timeouts++;
			client_close(c);
		}
	}
}
