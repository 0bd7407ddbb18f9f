/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * --dns-filter=classic: a classic BPF filter on the packet socket accepts
 * UDP/TCP packets from or to a DNS port, and this file hands them to the
 * worker over a SOCK_SEQPACKET socketpair. The worker must never hold a packet
 * socket, so the loader reads it — and only copies: a header filled from the
 * kernel's metadata (sockaddr_ll, PACKET_AUXDATA, the receive timestamp),
 * then the packet bytes as received, never looked at. The worker decodes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include "capture.h"
#include "privileged/loader.h"

#define FWD_BATCH 64                   /* packets per wakeup: the loop stays responsive */
#define FWD_SNDBUF (4 * 1024 * 1024)
#define FILTER_MAX (24 + 4 * NW_PKT_MAX_PORTS)

struct ldr_dnsfwd {
	int pkt_fd;
	int sv[2];      /* [0] loader end (write only), [1] the worker's end */
	__u32 drops;    /* kernel queue drops + socketpair full, since start */
	uint64_t forwarded;
};

/* --- the classic filter ------------------------------------------------- */

#define AD(x) (SKF_AD_OFF + (x))

enum { ON_TRUE, ON_FALSE, ALWAYS };

struct fixup {
	unsigned int at;
	int when; /* which of the jump's targets is the label */
};

struct prog {
	struct sock_filter insn[FILTER_MAX];
	unsigned int n;
	struct fixup to_accept[2 * NW_PKT_MAX_PORTS], to_drop[8];
	unsigned int n_accept, n_drop;
};

static void emit(struct prog *p, __u16 code, __u8 jt, __u8 jf, __u32 k)
{
	p->insn[p->n++] = (struct sock_filter){ code, jt, jf, k };
}

static void jump_drop(struct prog *p, int when, __u16 code, __u32 k)
{
	p->to_drop[p->n_drop++] = (struct fixup){ p->n, when };
	emit(p, code, 0, 0, k);
}

/* X = L4 offset: A = [x+off]; accept when it is one of the ports. */
static void match_ports(struct prog *p, __u32 off, const uint16_t *ports, size_t n)
{
	emit(p, BPF_LD | BPF_H | BPF_IND, 0, 0, off);
	for (size_t i = 0; i < n; i++) {
		p->to_accept[p->n_accept++] = (struct fixup){ p->n, ON_TRUE };
		emit(p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, ports[i]);
	}
}

static void patch(struct prog *p, const struct fixup *f, unsigned int target)
{
	struct sock_filter *i = &p->insn[f->at];
	__u32 dist = target - f->at - 1;

	if (f->when == ALWAYS)
		i->k = dist;
	else if (f->when == ON_TRUE)
		i->jt = (__u8)dist;
	else
		i->jf = (__u8)dist;
}

/*
 * On a SOCK_DGRAM packet socket the filter sees the packet from its network
 * header; protocol, packet type and interface come from ancillary loads.
 *   lo outgoing -> drop (loopback shows each packet twice)
 *   IPv4: UDP/TCP, not a non-first fragment, X = 4*ihl
 *   IPv6: next header UDP/TCP (no extension headers, as tcpdump), X = 40
 *   source or destination port in ports -> accept NW_PKT_FWD_SNAPLEN bytes
 * Returns the number of instructions written to out, or -errno.
 */
int ldr_dnsfwd_filter(const uint16_t *ports, size_t n, struct sock_filter *out, size_t max)
{
	struct prog p;
	unsigned int v6, to_ports, accept;

	if (!n || n > NW_PKT_MAX_PORTS || !out)
		return -EINVAL;
	memset(&p, 0, sizeof(p));
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (__u32)AD(SKF_AD_PKTTYPE));
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 2, PACKET_OUTGOING);
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (__u32)AD(SKF_AD_IFINDEX));
	jump_drop(&p, ON_TRUE, BPF_JMP | BPF_JEQ | BPF_K, 1); /* lo */
	emit(&p, BPF_LD | BPF_W | BPF_ABS, 0, 0, (__u32)AD(SKF_AD_PROTOCOL));
	v6 = p.n;
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, ETH_P_IP); /* jf: the IPv6 test */
	emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 9);          /* IPv4 protocol */
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, IPPROTO_UDP);
	jump_drop(&p, ON_FALSE, BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP);
	emit(&p, BPF_LD | BPF_H | BPF_ABS, 0, 0, 6);          /* flags + fragment offset */
	jump_drop(&p, ON_TRUE, BPF_JMP | BPF_JSET | BPF_K, 0x1fff);
	emit(&p, BPF_LDX | BPF_B | BPF_MSH, 0, 0, 0);         /* X = 4 * ihl */
	to_ports = p.n;
	emit(&p, BPF_JMP | BPF_JA, 0, 0, 0);
	p.insn[v6].jf = (__u8)(p.n - v6 - 1);
	jump_drop(&p, ON_FALSE, BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6);
	emit(&p, BPF_LD | BPF_B | BPF_ABS, 0, 0, 6);          /* IPv6 next header */
	emit(&p, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, IPPROTO_UDP);
	jump_drop(&p, ON_FALSE, BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP);
	emit(&p, BPF_LDX | BPF_W | BPF_IMM, 0, 0, 40);
	p.insn[to_ports].k = p.n - to_ports - 1;
	match_ports(&p, 0, ports, n);
	match_ports(&p, 2, ports, n);
	jump_drop(&p, ALWAYS, BPF_JMP | BPF_JA, 0);
	accept = p.n;
	emit(&p, BPF_RET | BPF_K, 0, 0, NW_PKT_FWD_SNAPLEN);
	emit(&p, BPF_RET | BPF_K, 0, 0, 0);
	for (unsigned int i = 0; i < p.n_accept; i++)
		patch(&p, &p.to_accept[i], accept);
	for (unsigned int i = 0; i < p.n_drop; i++)
		patch(&p, &p.to_drop[i], accept + 1);
	if (p.n > max)
		return -ENOSPC;
	memcpy(out, p.insn, p.n * sizeof(p.insn[0]));
	return (int)p.n;
}

/* --- forwarding ----------------------------------------------------------- */

struct ldr_dnsfwd *ldr_dnsfwd_new(int pkt_fd, const uint16_t *ports, size_t nports, int *err)
{
	struct sock_filter insn[FILTER_MAX];
	struct sock_fprog prog;
	struct ldr_dnsfwd *f;
	int n, one = 1, sndbuf = FWD_SNDBUF;

	n = ldr_dnsfwd_filter(ports, nports, insn, FILTER_MAX);
	if (n < 0) {
		*err = n;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		*err = -ENOMEM;
		return NULL;
	}
	f->pkt_fd = pkt_fd;
	f->sv[0] = f->sv[1] = -1;
	prog = (struct sock_fprog){ .len = (unsigned short)n, .filter = insn };
	if (setsockopt(pkt_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    setsockopt(pkt_fd, SOL_SOCKET, SO_TIMESTAMPNS_OLD, &one, sizeof(one)) < 0 ||
	    setsockopt(pkt_fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, f->sv) < 0) {
		*err = -errno;
		ldr_dnsfwd_free(f);
		return NULL;
	}
	/* the worker's end is read-only in effect: nothing it writes reaches us */
	shutdown(f->sv[0], SHUT_RD);
	setsockopt(f->sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	return f;
}

void ldr_dnsfwd_free(struct ldr_dnsfwd *f)
{
	if (!f)
		return;
	for (int i = 0; i < 2; i++)
		if (f->sv[i] >= 0)
			close(f->sv[i]);
	free(f);
}

int ldr_dnsfwd_worker_fd(const struct ldr_dnsfwd *f)
{
	return f ? f->sv[1] : -ENOENT;
}

int ldr_dnsfwd_poll_fd(const struct ldr_dnsfwd *f)
{
	return f ? f->pkt_fd : -ENOENT;
}

uint64_t ldr_dnsfwd_forwarded(const struct ldr_dnsfwd *f)
{
	return f ? f->forwarded : 0;
}

/* CLOCK_REALTIME of the kernel's receive timestamp, moved to CLOCK_MONOTONIC. */
static __u64 mono_from_real(const struct timespec *rx)
{
	struct timespec real, mono;
	__s64 rx_ns = (__s64)rx->tv_sec * 1000000000LL + rx->tv_nsec;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	return (__u64)(rx_ns - ((__s64)real.tv_sec * 1000000000LL + real.tv_nsec) +
		       ((__s64)mono.tv_sec * 1000000000LL + mono.tv_nsec));
}

/* Move up to FWD_BATCH waiting packets to the worker. Returns how many. */
int ldr_dnsfwd_pump(struct ldr_dnsfwd *f)
{
	static __u8 pkt[NW_PKT_FWD_SNAPLEN];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct timespec)) + CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} ctl;
	struct tpacket_stats st;
	socklen_t stlen = sizeof(st);
	int n;

	for (n = 0; n < FWD_BATCH; n++) {
		struct nw_pkt_fwd_hdr h = { 0 };
		struct sockaddr_ll sll;
		struct iovec iov = { pkt, sizeof(pkt) };
		struct msghdr msg = { .msg_name = &sll, .msg_namelen = sizeof(sll), .msg_iov = &iov,
				      .msg_iovlen = 1, .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf) };
		struct iovec out[2];
		struct msghdr fwd = { .msg_iov = out, .msg_iovlen = 2 };
		ssize_t len = recvmsg(f->pkt_fd, &msg, MSG_DONTWAIT);

		if (len < 0)
			break;
		h.ifindex = (__u32)sll.sll_ifindex;
		h.protocol = ntohs(sll.sll_protocol);
		h.pkt_type = sll.sll_pkttype;
		h.orig_len = (__u32)len;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS_OLD) {
				struct timespec ts;
				memcpy(&ts, CMSG_DATA(c), sizeof(ts));
				h.ts_ns = mono_from_real(&ts);
			} else if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA) {
				struct tpacket_auxdata aux;
				memcpy(&aux, CMSG_DATA(c), sizeof(aux));
				h.orig_len = aux.tp_len;
			}
		}
		h.drops = f->drops;
		out[0] = (struct iovec){ &h, sizeof(h) };
		out[1] = (struct iovec){ pkt, (size_t)len };
		if (sendmsg(f->sv[0], &fwd, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			f->drops++; /* the worker is behind or restarting */
		else
			f->forwarded++;
	}
	if (getsockopt(f->pkt_fd, SOL_PACKET, PACKET_STATISTICS, &st, &stlen) == 0)
		f->drops += st.tp_drops;
	return n;
}
