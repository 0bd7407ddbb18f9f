/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* netwardenctl's dns view: an aligned table or JSON on stdout. */
#ifndef NW_CTL_DNS_H
#define NW_CTL_DNS_H

#include <stdbool.h>

#include "netwarden.pb-c.h"

/* 0, or -ENOMEM (nothing printed). */
int ctl_dns_print(const char *client_id, const Netwarden__GetDNSStatsResponse *r, bool json);

/* "A", "AAAA", ... or NULL for a type without a name here. */
const char *ctl_dns_qtype_name(uint32_t qtype);

#endif
