/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * GetHTTPStats and GetKafkaStats answers: one client's accumulated stats
 * (usm_clients.h) as protobuf, in one allocation that the caller frees with
 * free() after the response is sent.
 */
#ifndef NW_USM_RPC_H
#define NW_USM_RPC_H

#include <stdint.h>

#include "netwarden.pb-c.h"
#include "unprivileged/usm_worker.h"

/*
 * u NULL (no capture) or the protocol switched off: an empty answer with
 * enabled false. Otherwise the trackers are flushed first, then the client's
 * stats are taken. 0 with *out set, -ENOENT unknown or expired client (only
 * when enabled), -ENOMEM.
 */
int usm_rpc_http(struct worker_usm *u, const char *client_id, uint64_t now_ns,
		 Netwarden__GetHTTPStatsResponse **out);
int usm_rpc_kafka(struct worker_usm *u, const char *client_id, uint64_t now_ns,
		  Netwarden__GetKafkaStatsResponse **out);

#endif /* NW_USM_RPC_H */
