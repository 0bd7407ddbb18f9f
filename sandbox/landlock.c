// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Landlock deny-all ruleset (sandbox/landlock.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include "sandbox/landlock.h"

/* Debian 12's headers stop at ABI 2: the later fields and bits, as in the
 * kernel's include/uapi/linux/landlock.h. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif
#define NW_LL_FS_ABI1 ((1ULL << 13) - 1)  /* EXECUTE .. MAKE_SYM */
#define NW_LL_FS_REFER (1ULL << 13)       /* ABI 2 */
#define NW_LL_FS_TRUNCATE (1ULL << 14)    /* ABI 3 */
#define NW_LL_FS_IOCTL_DEV (1ULL << 15)   /* ABI 5 */
#define NW_LL_NET_BIND_TCP (1ULL << 0)    /* ABI 4 */
#define NW_LL_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#define NW_LL_SCOPE_ABSTRACT_UNIX (1ULL << 0) /* ABI 6 */
#define NW_LL_SCOPE_SIGNAL (1ULL << 1)        /* ABI 6 */

struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;             /* ABI 6 */
};

int nw_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (v < 0)
		return errno == ENOSYS ? -ENOSYS : -EOPNOTSUPP;
	return v > 0 ? (int)v : -EOPNOTSUPP;
}

int nw_landlock_deny_all(struct nw_landlock_info *info)
{
	struct ruleset_attr attr;
	size_t size;
	int abi, fd, err = 0;

	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	abi = nw_landlock_abi();
	if (abi < 0)
		return -EOPNOTSUPP;
	memset(&attr, 0, sizeof(attr));
	attr.handled_access_fs = NW_LL_FS_ABI1;
	if (abi >= 2)
		attr.handled_access_fs |= NW_LL_FS_REFER;
	if (abi >= 3)
		attr.handled_access_fs |= NW_LL_FS_TRUNCATE;
	if (abi >= 5)
		attr.handled_access_fs |= NW_LL_FS_IOCTL_DEV;
	size = sizeof(attr.handled_access_fs);
	if (abi >= 4) {
		attr.handled_access_net = NW_LL_NET_BIND_TCP | NW_LL_NET_CONNECT_TCP;
		size = offsetof(struct ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = NW_LL_SCOPE_ABSTRACT_UNIX | NW_LL_SCOPE_SIGNAL;
		size = sizeof(attr);
	}
	fd = (int)syscall(__NR_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0)
		return -errno;
	/* no rule: nothing handled is granted */
	if (syscall(__NR_landlock_restrict_self, fd, 0) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	info->abi = abi;
	info->handled_fs = attr.handled_access_fs;
	info->handled_net = attr.handled_access_net;
	info->scoped = attr.scoped;
	return 0;
}
