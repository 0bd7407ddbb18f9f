/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Test hooks (--test-hooks only): SIGUSR2 sent with sigqueue(value) makes the
 * worker attempt one forbidden action from its event loop, fully confined,
 * and log what happened; a plain SIGUSR2 is value 0. The integration test
 * (tests/integration/test_confinement.py) drives the table. Never renumber.
 */
#ifndef NW_TESTHOOKS_H
#define NW_TESTHOOKS_H

enum nw_test_hook {
	NW_HOOK_SOCKET = 0,          /* socket(AF_INET, SOCK_STREAM) */
	NW_HOOK_OPEN = 1,            /* openat("/etc/passwd") */
	NW_HOOK_MAP_CREATE = 2,      /* bpf(BPF_MAP_CREATE) */
	NW_HOOK_PROG_LOAD = 3,       /* bpf(BPF_PROG_LOAD) */
	NW_HOOK_MAP_UPDATE = 4,      /* bpf(BPF_MAP_UPDATE_ELEM) on the telemetry map */
	NW_HOOK_MAP_DELETE_RDONLY = 5, /* bpf(BPF_MAP_DELETE_ELEM) on the read-only telemetry fd */
	NW_HOOK_PTRACE = 6,          /* ptrace(PTRACE_TRACEME) */
	NW_HOOK_EXECVE = 7,          /* execve("/bin/sh") */
	NW_HOOK_SENDTO_ADDR = 8,     /* sendto(rpc fd, ..., a destination address) */
	NW_HOOK_SEND_LISTEN = 9,     /* send() on the passed listening socket */
	NW_HOOK_SENDMSG = 10,        /* sendmsg() (could pass fds to a client) */
	NW_HOOK_IO_URING = 11,       /* io_uring_setup */
	NW_HOOK_MMAP_EXEC = 12,      /* mmap(PROT_EXEC) */
	NW_HOOK_MMAP_SHARED = 13,    /* mmap(MAP_SHARED) of the conns map fd */
	NW_HOOK_CONNECT = 14,        /* connect() the RPC socket to 127.0.0.1:80 */
	NW_HOOK_FORK = 15,           /* fork() */
	NW_HOOK_UNSHARE = 16,        /* unshare(CLONE_NEWUSER) */
	NW_HOOK_KILL = 17,           /* kill(the loader's pid in our namespace: 0 = group) */
	NW_HOOK_GETSOCKOPT = 18,     /* getsockopt(SO_RCVBUF): an option not allowed */
	NW_HOOK_MAX,
};

#endif
