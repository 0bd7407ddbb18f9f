// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Test hooks (unprivileged/testhooks.h), compiled in always but reachable
 * only with --test-hooks. Each attempt is made with raw syscalls, so that
 * what reaches the kernel is exactly what the table says; each logs before
 * (the kill case ends there) and after (the errno the sandbox returned).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "unprivileged/testhooks.h"
#include "unprivileged/worker.h"

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static const char *const hook_names[NW_HOOK_MAX] = {
	[NW_HOOK_SOCKET] = "socket",
	[NW_HOOK_OPEN] = "open",
	[NW_HOOK_MAP_CREATE] = "bpf-map-create",
	[NW_HOOK_PROG_LOAD] = "bpf-prog-load",
	[NW_HOOK_MAP_UPDATE] = "bpf-map-update",
	[NW_HOOK_MAP_DELETE_RDONLY] = "bpf-delete-readonly-map",
	[NW_HOOK_PTRACE] = "ptrace",
	[NW_HOOK_EXECVE] = "execve",
	[NW_HOOK_SENDTO_ADDR] = "sendto-address",
	[NW_HOOK_SEND_LISTEN] = "send-listening-socket",
	[NW_HOOK_SENDMSG] = "sendmsg",
	[NW_HOOK_IO_URING] = "io_uring_setup",
	[NW_HOOK_MMAP_EXEC] = "mmap-exec",
	[NW_HOOK_MMAP_SHARED] = "mmap-shared-map",
	[NW_HOOK_CONNECT] = "connect",
	[NW_HOOK_FORK] = "fork",
	[NW_HOOK_UNSHARE] = "unshare",
	[NW_HOOK_KILL] = "kill",
	[NW_HOOK_GETSOCKOPT] = "getsockopt-other",
};

static long bpf_on(int cmd, int map_fd)
{
	union bpf_attr attr;
	__u32 key = 0;
	__u64 val = 0;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (__u32)map_fd;
	attr.key = (__u64)(unsigned long)&key;
	if (cmd != BPF_MAP_DELETE_ELEM) /* past its last field: must be zero */
		attr.value = (__u64)(unsigned long)&val;
	if (cmd == BPF_MAP_CREATE) {
		attr.map_type = BPF_MAP_TYPE_ARRAY;
		attr.key_size = 4;
		attr.value_size = 8;
		attr.max_entries = 1;
	}
	return syscall(__NR_bpf, cmd, &attr, sizeof(attr));
}

static long attempt(struct worker *w, int which)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char *argv[] = { "/bin/sh", NULL };
	int v = 0;
	socklen_t len = sizeof(v);
	struct msghdr msg;
	struct iovec iov = { "x", 1 };

	switch (which) {
	case NW_HOOK_SOCKET:
		return syscall(__NR_socket, AF_INET, SOCK_STREAM, 0);
	case NW_HOOK_OPEN:
		return syscall(__NR_openat, AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);
	case NW_HOOK_MAP_CREATE:
		return bpf_on(BPF_MAP_CREATE, -1);
	case NW_HOOK_PROG_LOAD:
		return bpf_on(BPF_PROG_LOAD, -1);
	case NW_HOOK_MAP_UPDATE:
		return bpf_on(BPF_MAP_UPDATE_ELEM, w->tel_fd);
	case NW_HOOK_MAP_DELETE_RDONLY:
		return bpf_on(BPF_MAP_DELETE_ELEM, w->tel_fd);
	case NW_HOOK_PTRACE:
		return syscall(__NR_ptrace, PTRACE_TRACEME, 0, 0, 0);
	case NW_HOOK_EXECVE:
		return syscall(__NR_execve, "/bin/sh", argv, NULL);
	case NW_HOOK_SENDTO_ADDR:
		return syscall(__NR_sendto, w->rpc_fd, "x", 1, MSG_NOSIGNAL, &sin, sizeof(sin));
	case NW_HOOK_SEND_LISTEN:
		return syscall(__NR_sendto, w->rpc_fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT, NULL, 0);
	case NW_HOOK_SENDMSG:
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		return syscall(__NR_sendmsg, w->rpc_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	case NW_HOOK_IO_URING:
		return syscall(__NR_io_uring_setup, 1, NULL);
	case NW_HOOK_MMAP_EXEC:
		return syscall(__NR_mmap, NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	case NW_HOOK_MMAP_SHARED:
		return syscall(__NR_mmap, NULL, 4096, PROT_READ, MAP_SHARED, w->conns_fd, 0);
	case NW_HOOK_CONNECT:
		return syscall(__NR_connect, w->rpc_fd, &sin, sizeof(sin));
	case NW_HOOK_FORK:
		return syscall(__NR_clone, SIGCHLD, NULL, NULL, NULL, NULL);
	case NW_HOOK_UNSHARE:
		return syscall(__NR_unshare, CLONE_NEWUSER);
	case NW_HOOK_KILL:
		return syscall(__NR_kill, 1, 0);
	case NW_HOOK_GETSOCKOPT:
		return syscall(__NR_getsockopt, w->rpc_fd, SOL_SOCKET, SO_RCVBUF, &v, &len);
	default:
		errno = EINVAL;
		return -1;
	}
}

void worker_test_hook(struct worker *w, int which)
{
	const char *name;
	long r;

	if (!w->test_hooks)
		return;
	if (which < 0 || which >= NW_HOOK_MAX) {
		worker_log("test hook %d: no such hook", which);
		return;
	}
	name = hook_names[which];
	worker_log("test hook %d (%s): attempting it", which, name);
	errno = 0;
	r = attempt(w, which);
	if (r == 0 && which == NW_HOOK_FORK)
		_exit(0); /* the child, should there ever be one */
	worker_log("test hook %d (%s): returned %ld, errno %d (%s)", which, name, r, r < 0 ? errno : 0,
		   r < 0 ? strerror(errno) : "no error");
	if (r >= 0 && (which == NW_HOOK_SOCKET || which == NW_HOOK_OPEN || which == NW_HOOK_MAP_CREATE ||
		       which == NW_HOOK_PROG_LOAD || which == NW_HOOK_IO_URING))
		close((int)r); /* a new fd: the sandbox failed, the test will say so */
}

/* A closed connection on the magic port: a parser bug, as the test wants one. */
void worker_test_record(struct worker *w, const struct nw_conn *c)
{
	if (!w->test_hooks || (c->tup.sport != NW_TEST_CRASH_PORT && c->tup.dport != NW_TEST_CRASH_PORT))
		return;
	worker_log("test hook: closed connection on port %d: crashing on this record",
		   NW_TEST_CRASH_PORT);
	*(volatile int *)0 = 1;
}

/*
 * Between Landlock and seccomp: what Landlock alone denies. The root is
 * empty, so the one file to open is "/" itself; TCP needs a socket, which
 * the seccomp filter would kill, so it is tried here, before the filter.
 */
void worker_test_landlock(struct worker *w)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(4242),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, e_open, e_bind = 0, e_connect = 0;

	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	e_open = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	/* a restarted worker runs under the loader's filter already, which
	 * kills socket(): TCP is tried by the first worker only */
	fd = prctl(PR_GET_SECCOMP) == 2 ? -1 : socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e_bind = e_connect = -1;
	} else {
		e_bind = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ? errno : 0;
		e_connect = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ? errno : 0;
		close(fd);
	}
	worker_log("test hook: before seccomp, Landlock ABI %d: open(\"/\"): %s; tcp bind: %s; tcp connect: %s",
		   w->landlock.abi, e_open ? strerror(e_open) : "allowed",
		   e_bind < 0 ? "not tried" : e_bind ? strerror(e_bind) : "allowed",
		   e_connect < 0 ? "not tried" : e_connect ? strerror(e_connect) : "allowed");
}
