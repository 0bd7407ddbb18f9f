// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* netwarden RPC client library (client/nwclient.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "client/nwclient.h"
#include "proto/frame.h"

struct nw_client {
	int fd;
};

struct nw_client *nw_client_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct nw_client *c;
	int err;

	if (!path || !path[0]) {
		errno = EINVAL;
		return NULL;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto fail;
	/* SO_SNDTIMEO also bounds connect() waiting on a full backlog */
	if (timeout_ms > 0 &&
	    (setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	     setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0))
		goto fail;
	while (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		if (errno != EINTR)
			goto fail;
	return c;
fail:
	err = errno;
	nw_client_free(c);
	errno = err;
	return NULL;
}

void nw_client_free(struct nw_client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static int send_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_frame(int fd, struct nw_frame_reader *rd)
{
	for (;;) {
		uint8_t *dst;
		size_t space = nw_frame_reader_space(rd, &dst);
		ssize_t n = recv(fd, dst, space, 0);
		int r;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		r = nw_frame_reader_commit(rd, (size_t)n);
		if (r == 1)
			return 0;
		if (r == -EBADMSG || r == -EMSGSIZE)
			return -EBADMSG;
		if (r < 0)
			return r;
	}
}

int nw_client_call(struct nw_client *c, const Netwarden__Request *req, Netwarden__Response **resp)
{
	struct nw_frame_reader rd;
	uint8_t *buf;
	size_t len;
	int err, send_err;

	if (!c || !req || !resp)
		return -EINVAL;
	*resp = NULL;
	err = nw_frame_encode(&req->base, NW_FRAME_MAX_REQUEST, &buf, &len);
	if (err)
		return err;
	send_err = send_all(c->fd, buf, len);
	free(buf);
	if (send_err && send_err != -EPIPE && send_err != -ECONNRESET)
		return send_err;
	/* even if the server hung up on us, it may have said why first */
	nw_frame_reader_init(&rd, NW_FRAME_MAX);
	err = read_frame(c->fd, &rd);
	if (!err) {
		*resp = netwarden__response__unpack(NULL, rd.len, rd.body);
		if (!*resp)
			err = -EBADMSG;
	}
	nw_frame_reader_free(&rd);
	if (err && send_err)
		return -ECONNRESET;
	return err;
}

int nw_client_register(struct nw_client *c, const char *client_id, Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__RegisterRequest r = NETWARDEN__REGISTER_REQUEST__INIT;

	r.client_id = (char *)client_id;
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_get_connections(struct nw_client *c, const char *client_id,
			      Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetConnectionsRequest r = NETWARDEN__GET_CONNECTIONS_REQUEST__INIT;

	r.client_id = (char *)client_id;
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_CONNECTIONS;
	req.get_connections = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_get_stats(struct nw_client *c, Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetStatsRequest r = NETWARDEN__GET_STATS_REQUEST__INIT;

	req.kind_case = NETWARDEN__REQUEST__KIND_GET_STATS;
	req.get_stats = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_get_dns_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetDNSStatsRequest r = NETWARDEN__GET_DNSSTATS_REQUEST__INIT;

	r.client_id = (char *)client_id;
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_DNS_STATS;
	req.get_dns_stats = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_lookup_addresses(struct nw_client *c, const ProtobufCBinaryData *addrs, size_t n,
			       Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__LookupAddressesRequest r = NETWARDEN__LOOKUP_ADDRESSES_REQUEST__INIT;

	r.n_addrs = n;
	r.addrs = (ProtobufCBinaryData *)addrs;
	req.kind_case = NETWARDEN__REQUEST__KIND_LOOKUP_ADDRESSES;
	req.lookup_addresses = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_get_http_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetHTTPStatsRequest r = NETWARDEN__GET_HTTPSTATS_REQUEST__INIT;

	r.client_id = (char *)client_id;
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_HTTP_STATS;
	req.get_http_stats = &r;
	return nw_client_call(c, &req, resp);
}

int nw_client_get_kafka_stats(struct nw_client *c, const char *client_id, Netwarden__Response **resp)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetKafkaStatsRequest r = NETWARDEN__GET_KAFKA_STATS_REQUEST__INIT;

	r.client_id = (char *)client_id;
	req.kind_case = NETWARDEN__REQUEST__KIND_GET_KAFKA_STATS;
	req.get_kafka_stats = &r;
	return nw_client_call(c, &req, resp);
}

const char *nw_client_error_name(Netwarden__ErrorCode code)
{
	switch (code) {
	case NETWARDEN__ERROR_CODE__ERROR_NONE: return "NONE";
	case NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME: return "BAD_FRAME";
	case NETWARDEN__ERROR_CODE__ERROR_TOO_LARGE: return "TOO_LARGE";
	case NETWARDEN__ERROR_CODE__ERROR_UNKNOWN_CLIENT: return "UNKNOWN_CLIENT";
	case NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST: return "BAD_REQUEST";
	case NETWARDEN__ERROR_CODE__ERROR_PERMISSION: return "PERMISSION";
	case NETWARDEN__ERROR_CODE__ERROR_BUSY: return "BUSY";
	case NETWARDEN__ERROR_CODE__ERROR_INTERNAL: return "INTERNAL";
	default: return "UNKNOWN";
	}
}
