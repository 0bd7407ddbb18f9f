/* Unit tests for privileged/dnsfwd.c (--dns-filter=classic), as root on lo:
 * the classic filter on a real packet socket keeps the DNS ports only and
 * loopback packets once; the loader's pump forwards them unparsed, with
 * the kernel's metadata, and the worker's decoder reads them back; a worker
 * that falls behind costs counted drops, never a blocked loader. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "privileged/dnsfwd.c"
#include "unprivileged/evloop.c"
#include "unprivileged/capture_decode.c"
#include "unprivileged/capture.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

static const uint16_t ports[] = { 53, 5353 };

static void test_filter_build(void **state)
{
	struct sock_filter insn[64];
	uint16_t many[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	int n1, n8;

	n1 = ldr_dnsfwd_filter(ports, 1, insn, 64);
	assert_true(n1 > 10);
	n8 = ldr_dnsfwd_filter(many, 8, insn, 64);
	assert_int_equal(n8, n1 + 2 * 7); /* two comparisons per port */
	assert_int_equal(insn[n8 - 2].code, BPF_RET | BPF_K);
	assert_int_equal(insn[n8 - 2].k, NW_PKT_FWD_SNAPLEN);
	assert_int_equal(insn[n8 - 1].k, 0);
	/* every jump lands inside the program */
	for (int i = 0; i < n8; i++) {
		if (BPF_CLASS(insn[i].code) != BPF_JMP)
			continue;
		if (BPF_OP(insn[i].code) == BPF_JA)
			assert_true(i + 1 + (int)insn[i].k < n8);
		else
			assert_true(i + 1 + insn[i].jt < n8 && i + 1 + insn[i].jf < n8);
	}
	assert_int_equal(ldr_dnsfwd_filter(many, 9, insn, 64), -EINVAL);
	assert_int_equal(ldr_dnsfwd_filter(many, 0, insn, 64), -EINVAL);
	assert_int_equal(ldr_dnsfwd_filter(many, 8, insn, 10), -ENOSPC);
}

struct rig {
	int pkt;
	struct ldr_dnsfwd *f;
};

static void rig_open(struct rig *r)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int err = 0, rcvbuf = 4 << 20;

	r->pkt = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->pkt >= 0);
	/* as capture.c does: room for a burst */
	assert_int_equal(setsockopt(r->pkt, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)), 0);
	r->f = ldr_dnsfwd_new(r->pkt, ports, 2, &err);
	assert_non_null(r->f);
	assert_int_equal(bind(r->pkt, (struct sockaddr *)&sll, sizeof(sll)), 0);
	fcntl(ldr_dnsfwd_worker_fd(r->f), F_SETFL, O_NONBLOCK);
}

static void rig_close(struct rig *r)
{
	ldr_dnsfwd_free(r->f);
	close(r->pkt);
}

/* A UDP datagram from a fresh socket; returns its source port. */
static uint16_t send_udp(int af, const char *dst, uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = af == AF_INET ? sizeof(*a4) : sizeof(*a6);
	int u = socket(af, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint16_t sport;

	assert_true(u >= 0);
	ss.ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		inet_pton(af, dst, &a4->sin_addr);
		a4->sin_port = htons(port);
	} else {
		inet_pton(af, dst, &a6->sin6_addr);
		a6->sin6_port = htons(port);
	}
	assert_int_equal(sendto(u, buf, len, 0, (struct sockaddr *)&ss, sl), (ssize_t)len);
	sl = sizeof(ss);
	assert_int_equal(getsockname(u, (struct sockaddr *)&ss, &sl), 0);
	sport = ntohs(af == AF_INET ? a4->sin_port : a6->sin6_port);
	close(u);
	return sport;
}

struct got {
	struct capture_pkt p[64];
	struct nw_pkt_fwd_hdr fh[64];
	uint8_t payload[64][64];
	size_t n;
};

static void on_pkt(void *ctx, const struct capture_pkt *p)
{
	struct got *g = ctx;

	if (g->n >= 64)
		return;
	g->p[g->n] = *p;
	memcpy(g->payload[g->n], p->payload, p->h.cap_len < 64 ? p->h.cap_len : 64);
	g->n++;
}

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void test_forward_lo(void **state)
{
	static const char q4[] = "query-over-ipv4", q6[] = "query-over-ipv6", other[] = "not dns";
	struct capture_handlers h = { on_pkt, NULL };
	struct got g = { 0 };
	struct capture *c;
	struct rig r;
	uint16_t s4, s6, s80;
	size_t mine4 = 0, mine6 = 0, mine80 = 0;
	uint64_t before = mono_now();

	rig_open(&r);
	h.ctx = &g;
	c = capture_new_forward(ldr_dnsfwd_worker_fd(r.f), &h);
	assert_non_null(c);
	s4 = send_udp(AF_INET, "127.0.0.1", 53, q4, sizeof(q4));
	s6 = send_udp(AF_INET6, "::1", 5353, q6, sizeof(q6));
	s80 = send_udp(AF_INET, "127.0.0.1", 80, other, sizeof(other));
	usleep(50000);
	assert_true(ldr_dnsfwd_pump(r.f) >= 2);
	assert_true(capture_drain(c) >= 2);
	for (size_t i = 0; i < g.n; i++) {
		const struct nw_pkt_hdr *p = &g.p[i].h;

		assert_int_equal(p->ifindex, 1);
		assert_int_equal(p->pkt_type, NW_PKT_HOST); /* the sent copy on lo was dropped */
		assert_true(p->ts_ns >= before - 1000000 && p->ts_ns <= mono_now());
		if (p->sport == s4 && p->dport == 53) {
			mine4++;
			assert_int_equal(p->ip_version, 4);
			assert_int_equal(p->cap_len, sizeof(q4));
			assert_memory_equal(g.payload[i], q4, sizeof(q4));
		} else if (p->sport == s6 && p->dport == 5353) {
			mine6++;
			assert_int_equal(p->ip_version, 6);
			assert_memory_equal(g.payload[i], q6, sizeof(q6));
		} else if (p->sport == s80) {
			mine80++;
		}
	}
	assert_int_equal(mine4, 1);
	assert_int_equal(mine6, 1);
	assert_int_equal(mine80, 0);
	assert_true(ldr_dnsfwd_forwarded(r.f) >= 2);
	capture_free(c);
	rig_close(&r);
}

/* Nobody reads the worker's end: the pump never blocks, it counts. */
static void test_worker_behind(void **state)
{
	struct rig r;
	int pumped = 0;

	rig_open(&r);
	{
		int small = 16384; /* a few messages, not the 4 MiB the loader asks for */
		assert_int_equal(setsockopt(r.f->sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	}
	for (int i = 0; i < 800; i++)
		send_udp(AF_INET, "127.0.0.1", 53, "x", 1);
	usleep(50000);
	for (int i = 0; i < 100; i++) {
		int n = ldr_dnsfwd_pump(r.f);

		pumped += n;
		if (n == 0)
			break;
	}
	assert_true(pumped >= 800);
	assert_true(r.f->drops > 0);
	assert_true(r.f->forwarded > 0 && r.f->forwarded < 800);
	/* the next message carries the count so far */
	{
		uint8_t buf[sizeof(struct nw_pkt_fwd_hdr) + NW_PKT_FWD_SNAPLEN];
		struct nw_pkt_fwd_hdr fh;
		ssize_t n;
		__u32 last = 0;

		while ((n = recv(ldr_dnsfwd_worker_fd(r.f), buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			memcpy(&fh, buf, sizeof(fh));
			assert_true(fh.drops >= last);
			last = fh.drops;
		}
		send_udp(AF_INET, "127.0.0.1", 53, "y", 1);
		usleep(20000);
		assert_int_equal(ldr_dnsfwd_pump(r.f), 1);
		n = recv(ldr_dnsfwd_worker_fd(r.f), buf, sizeof(buf), MSG_DONTWAIT);
		assert_true(n > (ssize_t)sizeof(fh));
		memcpy(&fh, buf, sizeof(fh));
		assert_true(fh.drops > 0 && fh.drops == r.f->drops);
	}
	/* the worker cannot talk back: the loader's end is shut for reading */
	assert_true(send(ldr_dnsfwd_worker_fd(r.f), "z", 1, MSG_DONTWAIT) < 0);
	rig_close(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filter_build),
		cmocka_unit_test(test_forward_lo),
		cmocka_unit_test(test_worker_behind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
