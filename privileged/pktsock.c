/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * What the capture paths (capture.c for DNS, usmcap.c for USM) and the
 * connection tracer (bpfload.c) share: a packet socket in the root network
 * namespace, binding it to everything once its filter is on, and a read-only
 * second fd on a map.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include "privileged/loader.h"

/* The initial network namespace's inode number, fixed by the kernel (PROC_NET_INIT_INO). */
#define NETNS_INIT_INO 0xEFFFFFF9u

/* Protocol 0: no packet reaches the socket before its filter is attached. */
static int packet_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/*
 * Already in the root namespace (the inode says so even where /proc/1 is not
 * ours to read): create it here. Elsewhere: enter /proc/1/ns/net, create it,
 * come back, like Datadog's WithNS.
 */
int ldr_packet_socket_root_netns(void)
{
	struct stat self;
	int own = -1, rootns = -1, fd, err;

	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (self.st_ino == NETNS_INIT_INO)
		return packet_socket();
	own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	rootns = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	if (own < 0 || rootns < 0) {
		err = -errno;
		goto out;
	}
	if (setns(rootns, CLONE_NEWNET) < 0) {
		err = -errno;
		goto out;
	}
	err = fd = packet_socket();
	if (setns(own, CLONE_NEWNET) < 0) {
		err = -errno;
		if (fd >= 0)
			close(fd);
	}
out:
	if (own >= 0)
		close(own);
	if (rootns >= 0)
		close(rootns);
	return err;
}

/* Start receiving: every interface, every protocol, outgoing packets too. */
int ldr_packet_socket_bind_all(int fd)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	return bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0 ? -errno : 0;
}

/* A second fd on the map that the kernel only lets read. */
int ldr_map_fd_rdonly(int map_fd)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, opts, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int fd;

	if (map_fd < 0)
		return map_fd;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	fd = bpf_map_get_fd_by_id_opts(info.id, &opts);
	return fd < 0 ? -errno : fd;
}
