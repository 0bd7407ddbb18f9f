/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The USM record ABI (struct usm_record, usm_tuple and their enums) is shared
 * with the kernel capture and defined once, in bpf/usm.h. This name stays for
 * the userspace modules that include it.
 */
#ifndef NW_USM_RECORD_H
#define NW_USM_RECORD_H

#include "bpf/usm.h"

#endif /* NW_USM_RECORD_H */
