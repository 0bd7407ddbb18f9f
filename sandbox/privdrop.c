// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Privilege drop for the worker (sandbox/privdrop.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "sandbox/privdrop.h"

#define KEEP_MAX 256

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

int nw_privdrop_close_fds(const int *keep, size_t n)
{
	int sorted[KEEP_MAX];
	unsigned int next = 0;

	if (n > KEEP_MAX || (n && !keep))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 0)
			return -EBADF;
		sorted[i] = keep[i];
	}
	qsort(sorted, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		unsigned int fd = (unsigned int)sorted[i];
		if (fd < next)
			continue; /* duplicate */
		if (fd > next && close_range(next, fd - 1, 0) < 0)
			return -errno;
		next = fd + 1;
	}
	if (close_range(next, ~0U, 0) < 0)
		return -errno;
	return 0;
}

/*
 * Needs CAP_SETPCAP, so before setuid: from here on no execve can give root
 * back its powers, and nothing can keep or raise capabilities.
 */
static int lock_securebits(void)
{
	unsigned int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP_LOCKED |
			    SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
			    SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

	if (cap_set_secbits(bits) < 0)
		return -errno;
	return 0;
}

static int drop_bounding(void)
{
	cap_value_t max = cap_max_bits();

	for (cap_value_t c = 0; c < max; c++) {
		int r = cap_get_bound(c);
		if (r < 0)
			break; /* beyond what the kernel knows */
		if (r && cap_drop_bound(c) < 0)
			return -errno;
	}
	return 0;
}

static int clear_ambient(void)
{
	if (cap_reset_ambient() < 0)
		return -errno;
	return 0;
}

static int set_ids(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) < 0)
		return -errno;
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	if (setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

static int clear_caps(void)
{
	cap_t caps = cap_init(); /* all clear */
	int err = 0;

	if (!caps)
		return -errno;
	if (cap_set_proc(caps) < 0)
		err = -errno;
	cap_free(caps);
	return err;
}

/*
 * No core dumps, no new processes, no file growth, no locked memory (the
 * buffers were mapped before the drop), and only as many fds as the
 * caller says. RLIMIT_FSIZE 0 is safe because the worker's stderr is the
 * loader's pipe, not a file: a write to a regular file would raise SIGXFSZ.
 */
static int set_rlimits(uint64_t nofile)
{
	static const int zero_limits[] = { RLIMIT_CORE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_MEMLOCK };
	const struct rlimit zero = { 0, 0 };

	for (size_t i = 0; i < sizeof(zero_limits) / sizeof(zero_limits[0]); i++)
		if (setrlimit(zero_limits[i], &zero) < 0)
			return -errno;
	if (nofile) {
		const struct rlimit nf = { (rlim_t)nofile, (rlim_t)nofile };

		if (setrlimit(RLIMIT_NOFILE, &nf) < 0)
			return -errno;
	}
	return 0;
}

static int set_nnp(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* setuid made us non-dumpable already; make sure, so no same-uid
	 * process can ptrace the worker or read its memory */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int nw_privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	cap_t now = NULL, none = NULL;
	int err = -EPERM;

	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid)
		return -EPERM;
	if (getgroups(0, NULL) != 0)
		return -EPERM;
	now = cap_get_proc();
	none = cap_init();
	if (!now || !none) {
		err = -ENOMEM;
		goto cleanup;
	}
	if (cap_compare(now, none) != 0)
		goto cleanup;
	for (cap_value_t c = 0; c < cap_max_bits(); c++) {
		int b = cap_get_bound(c);
		if (b < 0)
			break;
		if (b != 0 || cap_get_ambient(c) > 0)
			goto cleanup;
	}
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		goto cleanup;
	/* like OpenSSH's permanently_set_uid: root must not come back */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0)
		goto cleanup;
	err = 0;
cleanup:
	if (now)
		cap_free(now);
	if (none)
		cap_free(none);
	return err;
}

int nw_privdrop_apply(const struct nw_privdrop *p, const char **failed_step)
{
	const char *step = "arguments";
	int err = -EINVAL;

	if (!p || p->uid == 0 || p->gid == 0 || p->uid == (uid_t)-1 || p->gid == (gid_t)-1)
		goto cleanup;
	step = "close fds";
	err = nw_privdrop_close_fds(p->keep_fds, p->n_keep);
	if (err)
		goto cleanup;
	step = "securebits";
	err = lock_securebits();
	if (err)
		goto cleanup;
	step = "ambient capabilities";
	err = clear_ambient();
	if (err)
		goto cleanup;
	step = "bounding set";
	err = drop_bounding();
	if (err)
		goto cleanup;
	step = "setresuid/setresgid";
	err = set_ids(p->uid, p->gid);
	if (err)
		goto cleanup;
	step = "clear capabilities";
	err = clear_caps();
	if (err)
		goto cleanup;
	step = "rlimits";
	err = set_rlimits(p->nofile);
	if (err)
		goto cleanup;
	step = "no_new_privs";
	err = set_nnp();
	if (err)
		goto cleanup;
	step = "verify";
	err = nw_privdrop_verify(p->uid, p->gid);
cleanup:
	if (err && failed_step)
		*failed_step = step;
	return err;
}
