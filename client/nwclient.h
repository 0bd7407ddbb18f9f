/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Client side of netwarden's RPC: connect to the worker's unix socket, send
 * one netwarden.Request frame, read one netwarden.Response frame
 * (proto/frame.h). Blocking, with a timeout on every step.
 */
#ifndef NW_CLIENT_H
#define NW_CLIENT_H

#include "netwarden.pb-c.h"

#define NW_CLIENT_DEFAULT_SOCKET "/run/netwarden/netwarden.sock"

struct nw_client;

/*
 * NULL + errno: ENOENT/ECONNREFUSED/ENOTDIR (nobody listens there),
 * EACCES/EPERM (the socket or its directory is not ours to use),
 * EAGAIN (the server's backlog stayed full for timeout_ms), ENAMETOOLONG.
 */
struct nw_client *nw_client_connect(const char *path, int timeout_ms);
void nw_client_free(struct nw_client *c); /* accepts NULL */

/*
 * Send req, wait for the response. 0 and *resp (free it with
 * netwarden__response__free_unpacked(*resp, NULL)), or: -EMSGSIZE the request
 * is over NW_FRAME_MAX_REQUEST; -ECONNRESET the server closed without an
 * answer; -ETIMEDOUT; -EBADMSG an undecodable, empty or oversized response;
 * -errno otherwise. A server that refuses us answers with an Error and
 * closes: that Error is returned even if sending the request failed.
 */
int nw_client_call(struct nw_client *c, const Netwarden__Request *req, Netwarden__Response **resp);

int nw_client_register(struct nw_client *c, const char *client_id, Netwarden__Response **resp);
int nw_client_get_connections(struct nw_client *c, const char *client_id,
			      Netwarden__Response **resp);
int nw_client_get_stats(struct nw_client *c, Netwarden__Response **resp);
int nw_client_get_http_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp);
int nw_client_get_kafka_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp);
int nw_client_get_dns_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp);
/* addrs: n addresses of 4 or 16 bytes */
int nw_client_lookup_addresses(struct nw_client *c, const ProtobufCBinaryData *addrs, size_t n,
			       Netwarden__Response **resp);

/* "BAD_FRAME", "PERMISSION", ... ("UNKNOWN" for codes this client does not know). */
const char *nw_client_error_name(Netwarden__ErrorCode code);

#endif
