/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The worker's RPC server: accepts on the listening socket the loader passed,
 * authorises each peer by SO_PEERCRED, reads length-prefixed frames
 * (proto/frame.h), decodes netwarden.Request, calls the handler, writes the
 * netwarden.Response. A bad frame from one client never affects another.
 */
#ifndef NW_RPC_H
#define NW_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "netwarden.pb-c.h"
#include "unprivileged/evloop.h"

#define RPC_MAX_CLIENTS_DEFAULT 64
#define RPC_MAX_ALLOW 32

struct rpc_config {
	uid_t allow_uids[RPC_MAX_ALLOW]; /* root (0) is always allowed */
	size_t n_allow_uids;
	gid_t allow_gids[RPC_MAX_ALLOW];
	size_t n_allow_gids;
	unsigned int max_clients;        /* simultaneous connections; 0 = default */
	uint32_t max_request;            /* frame cap for requests; 0 = NW_FRAME_MAX_REQUEST */
	int idle_timeout_ms;             /* drop a connection idle this long; 0 = 30000 */
};

/*
 * Fill *resp for *req (set resp->kind_case and the member). The peer's
 * credentials are given for logging/scoping. Anything allocated and hung off
 * resp is released by rpc_release_fn after the response is sent.
 */
typedef void (*rpc_handle_fn)(void *ctx, const struct ucred *peer,
			      const Netwarden__Request *req, Netwarden__Response *resp);
typedef void (*rpc_release_fn)(void *ctx, Netwarden__Response *resp);

struct rpc_stats {
	uint64_t accepted;
	uint64_t refused_peercred;  /* uid/gid not allowed */
	uint64_t refused_busy;      /* over max_clients */
	uint64_t bad_frames;        /* undecodable requests */
	uint64_t oversized_frames;  /* length over the cap */
	uint64_t requests;
	uint64_t timeouts;
};

struct rpc_server;

struct rpc_server *rpc_server_new(int listen_fd, struct evloop *loop, const struct rpc_config *cfg,
				  rpc_handle_fn handle, rpc_release_fn release, void *ctx);
void rpc_server_free(struct rpc_server *srv); /* accepts NULL; closes client fds, not listen_fd */
void rpc_server_get_stats(const struct rpc_server *srv, struct rpc_stats *out);
unsigned int rpc_server_clients(const struct rpc_server *srv);
/* Call periodically (e.g. once a second) to drop idle connections. */
void rpc_server_tick(struct rpc_server *srv, uint64_t now_ms);

#endif
