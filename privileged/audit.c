/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --seccomp=audit: the worker's filter turns every call it does not allow
 * into a user notification (SECCOMP_RET_USER_NOTIF). The worker hands the
 * listener over its control socket once, right after loading the filter;
 * from then on each denied call waits here until it is logged (pid, name,
 * arguments) and answered -EPERM. The answer is never "continue": the
 * notification mechanism must not be used to allow anything (seccomp_unotify(2)).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "privileged/loader.h"

#define HANDOFF_MAGIC "NWSN"

static struct seccomp_notif *req;
static struct seccomp_notif_resp *resp;

int ldr_audit_init(void)
{
	/* asks the kernel for the structure sizes: before the loader's own filter */
	if (req)
		return 0;
	return seccomp_notify_alloc(&req, &resp);
}

static int fd_is_notify(int fd)
{
	char path[64], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return -errno;
	link[n] = '\0';
	return strcmp(link, "anon_inode:seccomp notify") ? -EBADFD : 0;
}

int ldr_audit_take(struct ldr_worker *w)
{
	char data[sizeof(HANDOFF_MAGIC)];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * 2)];
	} ctl;
	struct iovec iov = { data, sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			      .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c;
	int fd = -1, nfds = 0, err;
	ssize_t n;

	n = recvmsg(w->ctl_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds++ == 0)
				fd = got;
			else
				close(got);
		}
	}
	if (n == 0 && !nfds)
		return -ECONNRESET; /* the worker closed its end without a handoff */
	err = n != (ssize_t)sizeof(HANDOFF_MAGIC) - 1 || memcmp(data, HANDOFF_MAGIC, (size_t)n) ||
	      nfds != 1 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EBADMSG : fd_is_notify(fd);
	if (err) {
		if (fd >= 0)
			close(fd);
		return err;
	}
	w->notify_fd = fd;
	return 0;
}

int ldr_audit_handle(struct ldr_worker *w)
{
	char args[6 * 20];
	char *name;
	size_t off = 0;
	uint64_t count;

	if (!req)
		return -EINVAL;
	memset(req, 0, sizeof(*req));
	if (seccomp_notify_receive(w->notify_fd, req))
		return errno == ENOENT || errno == EINTR ? 0 : -errno; /* the caller died meanwhile */
	name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	for (int i = 0; i < 6; i++)
		off += (size_t)snprintf(args + off, sizeof(args) - off, "%s0x%" PRIx64, i ? ", " : "",
					(uint64_t)req->data.args[i]);
	resp->id = req->id;
	resp->val = 0;
	resp->error = -EPERM;
	resp->flags = 0;
	/* ENOENT: the call was interrupted or the worker is gone; still a denial */
	seccomp_notify_respond(w->notify_fd, resp);
	count = ldr_sup_add(w, NW_SUP_SECCOMP_DENIALS, 1);
	ldr_log("seccomp audit: worker pid %u denied %s(%s) (syscall %d): answered EPERM (denial %" PRIu64 ")",
		req->pid, name ? name : "?", args, req->data.nr, count);
	free(name);
	return 0;
}
