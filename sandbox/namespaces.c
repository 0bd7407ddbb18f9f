// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Namespaces and the empty root (sandbox/namespaces.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "sandbox/namespaces.h"

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
#define ROOT_FLAGS (MS_NOSUID | MS_NODEV | MS_NOEXEC)

int nw_ns_enter_empty(const char **failed_step)
{
	const char *step;
	int err = 0;

#define STEP(name, call)                \
	do {                            \
		step = (name);          \
		if ((call) < 0) {       \
			err = -errno;   \
			goto cleanup;   \
		}                       \
	} while (0)

	STEP("unshare", unshare(NS_FLAGS));
	/* nothing we mount or unmount propagates back to the host */
	STEP("make mounts private", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	STEP("mount empty tmpfs", mount("netwarden-empty", NW_NS_EMPTY_ROOT_BASE, "tmpfs", ROOT_FLAGS,
					"mode=0555,size=4k,nr_inodes=8"));
	STEP("chdir to the new root", chdir(NW_NS_EMPTY_ROOT_BASE));
	/* pivot_root(".", "."): the old root ends up stacked on the new one */
	STEP("pivot_root", syscall(SYS_pivot_root, ".", "."));
	STEP("detach the old root", umount2(".", MNT_DETACH));
	STEP("chdir /", chdir("/"));
	/* read-only for the filesystem and for this mount */
	STEP("remount / read-only", mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | ROOT_FLAGS, NULL));
	STEP("remount / read-only (bind)",
	     mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | ROOT_FLAGS, NULL));
#undef STEP
cleanup:
	if (err && failed_step)
		*failed_step = step;
	return err;
}

int nw_ns_verify(void)
{
	char buf[256];
	struct statvfs sv;
	long n;
	int fd, err = 0;

	if (getpid() != 1)
		return -EPERM; /* not started in a pid namespace of its own */
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstatvfs(fd, &sv) < 0)
		err = -errno;
	else if (!(sv.f_flag & ST_RDONLY) || !(sv.f_flag & ST_NOEXEC))
		err = -EPERM;
	/* only "." and ".." */
	while (!err && (n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			err = -errno;
			break;
		}
		for (long off = 0; off < n;) {
			unsigned short reclen;
			const char *name = buf + off + 19; /* d_ino, d_off, d_reclen, d_type */

			memcpy(&reclen, buf + off + 16, sizeof(reclen));
			if (strcmp(name, ".") && strcmp(name, ".."))
				err = -EPERM;
			off += reclen;
		}
	}
	close(fd);
	return err;
}
