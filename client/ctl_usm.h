/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* netwardenctl's http and kafka views: an aligned table or JSON on stdout. */
#ifndef NW_CTL_USM_H
#define NW_CTL_USM_H

#include <stdbool.h>

#include "netwarden.pb-c.h"

/* 0, or -ENOMEM (nothing printed). */
int ctl_usm_http_print(const char *client_id, const Netwarden__GetHTTPStatsResponse *r, bool json);
int ctl_usm_kafka_print(const char *client_id, const Netwarden__GetKafkaStatsResponse *r, bool json);

#endif
