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
	u->tel_rdonly = ldr_map_fd_rdonly(bpf_map__fd(u->skel->maps.nw_usm_tel));
	if (u->tel_rdonly < 0) {
		snprintf(what, len, "open map " NW_MAP_USM_TEL " read-only");
		return u->tel_rdonly;
	}
	return 0;
}

struct ldr_usm *ldr_usm_start(const struct ldr_usm_cfg *cfg, char *what, size_t len)
{
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
	u->pkt_fd = ldr_packet_socket_root_netns();
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
	err = ldr_packet_socket_bind_all(u->pkt_fd);
	if (err) {
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
