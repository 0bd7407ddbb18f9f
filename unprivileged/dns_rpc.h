/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * GetDNSStats and LookupAddresses as protobuf responses. Each response is one
 * allocation (free() releases it). A NULL struct worker_dns (--dns=off)
 * answers with no statistics, capture "off", and no names.
 */
#ifndef NW_DNS_RPC_H
#define NW_DNS_RPC_H

#include "netwarden.pb-c.h"
#include "unprivileged/dns_worker.h"

#define DNS_RPC_MAX_LOOKUPS 1024 /* addresses per LookupAddresses */
#define DNS_RPC_NAMES_MAX 16     /* names per address */

/*
 * This client's statistics since its previous call (collecting the snooper's
 * first), then emptied. 0, or -EINVAL (bad id), -ENOSPC (too many clients),
 * -ENOMEM.
 */
int dns_rpc_stats(struct worker_dns *d, const char *client_id, Netwarden__GetDNSStatsResponse **out);

/* Names of each address asked. 0, -EINVAL (an address not 4 or 16 bytes, too many), -ENOMEM. */
int dns_rpc_lookup(struct worker_dns *d, const Netwarden__LookupAddressesRequest *req,
		   Netwarden__LookupAddressesResponse **out);

#endif
