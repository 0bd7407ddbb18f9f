/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The DNS packet socket: an AF_PACKET SOCK_DGRAM socket in the root network
 * namespace with either the eBPF socket filter of bpf/capture.bpf.c (which
 * copies DNS messages into the ring buffer nw_pkt_rb and keeps nothing on the
 * socket) or the classic filter of dnsfwd.c (whose packets this process
 * forwards, unparsed). The socket, the program and the loaded object stay
 * here; the worker gets the ring buffer, or its end of the forwarding pair.
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
#include "capture.h"
#include "capture.skel.h"
#include "privileged/loader.h"

#define PKT_RCVBUF_CLASSIC (4 * 1024 * 1024)

struct ldr_capture {
	struct capture_bpf *skel; /* eBPF mode */
	int pkt_fd;               /* the packet socket */
	int tel_rdonly;           /* eBPF mode: nw_pkt_tel opened read-only for the worker */
	struct ldr_dnsfwd *fwd;   /* classic mode */
};

static int start_ebpf(struct ldr_capture *c, const struct ldr_capture_cfg *cfg, char *what, size_t len)
{
	int err, prog;

	c->skel = capture_bpf__open();
	if (!c->skel) {
		snprintf(what, len, "open bpf/capture.bpf.c");
		return -errno;
	}
	for (size_t i = 0; i < cfg->nports; i++)
		c->skel->rodata->nw_dns_ports[i] = cfg->ports[i];
	c->skel->rodata->nw_dns_nports = (__u32)cfg->nports;
	c->skel->rodata->nw_pkt_wakeup_bytes = cfg->wakeup_bytes;
	err = bpf_map__set_max_entries(c->skel->maps.nw_pkt_rb, cfg->ring_bytes);
	if (!err)
		err = capture_bpf__load(c->skel);
	if (err) {
		snprintf(what, len, "load bpf/capture.bpf.c");
		return err < 0 ? err : -EINVAL;
	}
	c->tel_rdonly = ldr_map_fd_rdonly(bpf_map__fd(c->skel->maps.nw_pkt_tel));
	if (c->tel_rdonly < 0) {
		snprintf(what, len, "open map " NW_MAP_PKT_TEL " read-only");
		return c->tel_rdonly;
	}
	prog = bpf_program__fd(c->skel->progs.nw_capture);
	if (setsockopt(c->pkt_fd, SOL_SOCKET, SO_ATTACH_BPF, &prog, sizeof(prog)) < 0) {
		snprintf(what, len, "attach the socket filter");
		return -errno;
	}
	return 0;
}

struct ldr_capture *ldr_capture_start(const struct ldr_capture_cfg *cfg, char *what, size_t len)
{
	struct ldr_capture *c;
	int err, rcvbuf = PKT_RCVBUF_CLASSIC;

	if (!cfg || !cfg->nports || cfg->nports > NW_PKT_MAX_PORTS) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->tel_rdonly = -1;
	c->pkt_fd = ldr_packet_socket_root_netns();
	if (c->pkt_fd < 0) {
		err = c->pkt_fd;
		snprintf(what, len, "open a packet socket in the root network namespace");
		goto fail;
	}
	if (cfg->classic) {
		c->fwd = ldr_dnsfwd_new(c->pkt_fd, cfg->ports, cfg->nports, &err);
		if (!c->fwd) {
			snprintf(what, len, "attach the classic filter");
			goto fail;
		}
		/* packets wait here until read: room for bursts (root may force it) */
		setsockopt(c->pkt_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	} else {
		err = start_ebpf(c, cfg, what, len);
		if (err)
			goto fail;
	}
	err = ldr_packet_socket_bind_all(c->pkt_fd);
	if (err) {
		snprintf(what, len, "bind the packet socket");
		goto fail;
	}
	return c;
fail:
	ldr_capture_destroy(c);
	errno = -err;
	return NULL;
}

void ldr_capture_destroy(struct ldr_capture *c)
{
	if (!c)
		return;
	if (c->pkt_fd >= 0)
		close(c->pkt_fd);
	if (c->tel_rdonly >= 0)
		close(c->tel_rdonly);
	ldr_dnsfwd_free(c->fwd);
	capture_bpf__destroy(c->skel);
	free(c);
}

int ldr_capture_ring_fd(const struct ldr_capture *c)
{
	return c && c->skel ? bpf_map__fd(c->skel->maps.nw_pkt_rb) : -ENOENT;
}

int ldr_capture_tel_fd(const struct ldr_capture *c)
{
	return c && c->tel_rdonly >= 0 ? c->tel_rdonly : -ENOENT;
}

struct ldr_dnsfwd *ldr_capture_fwd(const struct ldr_capture *c)
{
	return c ? c->fwd : NULL;
}
