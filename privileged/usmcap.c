/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * USM capture: a second AF_PACKET SOCK_DGRAM socket in the root network
 * namespace with the socket filter of bpf/usm.bpf.c, which copies the first
 * bytes of HTTP and Kafka segments into the ring buffer nw_usm_rb and keeps
 * nothing on the socket. Opened only when --http or --kafka is on. The
 * socket, the program and the classified-flow map stay here; the worker gets
 * the ring and a read-only fd on the counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "usm.h"
#include "usm.skel.h"
#include "privileged/loader.h"

struct ldr_usm {
	struct usm_bpf *skel;
	int pkt_fd;
	int tel_rdonly;
};

static int packet_socket(void)
{
	/* protocol 0: no packet reaches the socket before its filter is attached */
	int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

/* The socket is made in the root network namespace (/proc/1/ns/net) even if
 * the loader was started elsewhere, and the loader goes back to its own.
 * Where pid 1's namespace cannot be looked at (a microVM's init, hidepid),
 * the loader's own namespace is taken for the root one. */
static int packet_socket_in_root_netns(void)
{
	struct stat self, root;
	int own = -1, rootns = -1, fd, err;

	if (stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (stat("/proc/1/ns/net", &root) < 0)
		return errno == EACCES || errno == EPERM ? packet_socket() : -errno;
	if (self.st_dev == root.st_dev && self.st_ino == root.st_ino)
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

/* A second fd on the map that the kernel only lets read. */
static int map_fd_rdonly(int fd)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, opts, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	fd = bpf_map_get_fd_by_id_opts(info.id, &opts);
	return fd < 0 ? -errno : fd;
}

uint32_t ldr_usm_protocols(const struct ldr_usm_cfg *cfg)
{
	return (cfg->http ? USM_PROTO_BIT(USM_PROTO_HTTP) : 0) |
	       (cfg->kafka ? USM_PROTO_BIT(USM_PROTO_KAFKA) : 0);
}

static int load(struct ldr_usm *u, const struct ldr_usm_cfg *cfg, char *what, size_t len)
{
	int err;

	u->skel = usm_bpf__open();
	if (!u->skel) {
		snprintf(what, len, "open bpf/usm.bpf.c");
		return -errno;
	}
	u->skel->rodata->nw_usm_http = cfg->http;
	u->skel->rodata->nw_usm_kafka = cfg->kafka;
	u->skel->rodata->nw_usm_fragment = cfg->fragment_bytes;
	u->skel->rodata->nw_usm_wakeup_bytes = cfg->wakeup_bytes;
	err = bpf_map__set_max_entries(u->skel->maps.nw_usm_rb, cfg->ring_bytes);
	if (!err)
		err = bpf_map__set_max_entries(u->skel->maps.nw_usm_flows, cfg->max_flows);
	if (err) {
		snprintf(what, len, "size the USM maps");
		return err;
	}
	err = usm_bpf__load(u->skel);
	if (err) {
		snprintf(what, len, "load bpf/usm.bpf.c");
		return err;
	}
	u->tel_rdonly = map_fd_rdonly(bpf_map__fd(u->skel->maps.nw_usm_tel));
	if (u->tel_rdonly < 0) {
		snprintf(what, len, "open map " NW_MAP_USM_TEL " read-only");
		return u->tel_rdonly;
	}
	return 0;
}

struct ldr_usm *ldr_usm_start(const struct ldr_usm_cfg *cfg, char *what, size_t len)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ldr_usm *u;
	int err, prog;

	if (!cfg || !ldr_usm_protocols(cfg) || cfg->fragment_bytes < USM_PAYLOAD_MIN ||
	    cfg->fragment_bytes > USM_PAYLOAD_MAX || cfg->max_flows < USM_FLOWS_MIN ||
	    cfg->max_flows > USM_FLOWS_MAX) {
		snprintf(what, len, "check the USM configuration");
		errno = EINVAL;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->tel_rdonly = -1;
	u->pkt_fd = packet_socket_in_root_netns();
	if (u->pkt_fd < 0) {
		err = u->pkt_fd;
		snprintf(what, len, "open a packet socket in the root network namespace");
		goto fail;
	}
	err = load(u, cfg, what, len);
	if (err)
		goto fail;
	prog = bpf_program__fd(u->skel->progs.nw_usm_capture);
	if (setsockopt(u->pkt_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0) {
		err = -errno;
		snprintf(what, len, "attach the socket filter");
		goto fail;
	}
	/* every interface, every protocol: outgoing packets too (ETH_P_ALL) */
	if (bind(u->pkt_fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		err = -errno;
		snprintf(what, len, "bind the packet socket");
		goto fail;
	}
	return u;
fail:
	ldr_usm_destroy(u);
	errno = err < 0 ? -err : EINVAL;
	return NULL;
}

void ldr_usm_destroy(struct ldr_usm *u)
{
	if (!u)
		return;
	if (u->pkt_fd >= 0)
		close(u->pkt_fd);
	if (u->tel_rdonly >= 0)
		close(u->tel_rdonly);
	usm_bpf__destroy(u->skel);
	free(u);
}

int ldr_usm_ring_fd(const struct ldr_usm *u)
{
	return u && u->skel ? bpf_map__fd(u->skel->maps.nw_usm_rb) : -ENOENT;
}

int ldr_usm_tel_fd(const struct ldr_usm *u)
{
	return u && u->tel_rdonly >= 0 ? u->tel_rdonly : -ENOENT;
}
