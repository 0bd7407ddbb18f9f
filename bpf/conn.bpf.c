// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The connection tracer. Three program sets see the same TCP events and the
 * loader autoloads exactly one (by name prefix): tp_* (BTF tracepoints), fe_*
 * (fentry/fexit), kp_* (kprobes). The cg_* programs (cgroup hooks on the
 * cgroup2 root) run with every set: UDP is counted per datagram at the socket
 * layer, where the full tuple (local address included) is in the packet, and
 * sockets' creation, bind and release are seen in process context.
 *
 * TCP entries are keyed by socket cookie; UDP entries by cookie + peer, so an
 * unconnected UDP socket has one entry per peer it talks to.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "conn.h"

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define MSG_PEEK 2

/* TCP states (include/net/tcp_states.h) */
#define TCP_ESTABLISHED 1
#define TCP_SYN_SENT 2
#define TCP_SYN_RECV 3
#define TCP_CLOSE 7

/* Peers of one UDP socket the release hook closes directly; more are swept
 * by userspace after an NW_EV_SOCK_RELEASED event. */
#define UDP_PEER_SLOTS 4

const volatile bool nw_use_ringbuf = true;
/* Ring-buffer mode: records are submitted without waking the consumer until
 * this many bytes wait (the worker reads the ring on its drain timer and
 * before every query; this is the safety valve against overflow); 0 wakes it
 * for every record. */
const volatile __u32 nw_rb_wakeup_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* the loader sets the real limit */
	__type(key, struct nw_conn_key);
	__type(value, struct nw_conn);
} nw_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 * 1024);
} nw_closed_rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} nw_closed_pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nw_conn_batch);
} nw_closed_batch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NW_TEL_MAX);
	__type(key, __u32);
	__type(value, __u64);
} nw_telemetry SEC(".maps");

struct udp_peer {
	__u8 addr[16];
	__u16 port;
	__u16 used;
};

/* What the cg_* hooks learn about a UDP socket in process context. */
struct sock_info {
	__u32 pid;
	__u32 netns;
	__u8 bound;    /* the application called bind(): a server socket */
	__u8 overflow; /* more peers than slots */
	__u8 known;    /* created while we were attached */
	__u8 _pad;
	__u32 npeers;
	struct udp_peer peers[UDP_PEER_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_info);
} nw_socks SEC(".maps");

/* kprobe set: the sock a tcp_sendmsg call started with, until it returns */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} nw_send_args SEC(".maps");

static __always_inline void tel_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&nw_telemetry, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline __u32 current_tgid(void)
{
	return bpf_get_current_pid_tgid() >> 32;
}

/* ::ffff:a.b.c.d */
static __always_inline bool v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline void fold_v4(__u8 *a)
{
	__u32 *w = (__u32 *)a;

	w[0] = w[3];
	w[1] = w[2] = w[3] = 0;
}

/* Addresses, ports, family and netns from the socket; pid/type/direction stay. */
static __always_inline void tuple_from_sk(struct nw_conn_tuple *t, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	t->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	t->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	__builtin_memset(t->saddr, 0, sizeof(t->saddr));
	__builtin_memset(t->daddr, 0, sizeof(t->daddr));
	if (family == AF_INET) {
		__u32 s = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(t->saddr, &s, 4);
		__builtin_memcpy(t->daddr, &d, 4);
		t->family = NW_FAMILY_INET;
		return;
	}
	BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
	BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	t->family = NW_FAMILY_INET6;
	if (v4_mapped(t->daddr)) {
		fold_v4(t->daddr);
		fold_v4(t->saddr); /* mapped too on a connected socket */
		t->family = NW_FAMILY_INET;
	}
}

static __always_inline bool is_tcp(const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	return (family == AF_INET || family == AF_INET6) &&
	       BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP;
}

static __always_inline __u64 rb_submit_flags(void)
{
	if (!nw_rb_wakeup_bytes)
		return 0;
	if (bpf_ringbuf_query(&nw_closed_rb, BPF_RB_AVAIL_DATA) >= nw_rb_wakeup_bytes) {
		tel_inc(NW_TEL_RB_WAKEUPS);
		return BPF_RB_FORCE_WAKEUP;
	}
	return BPF_RB_NO_WAKEUP;
}

/* One closed connection on its own (ring-buffer mode, or a busy batch). */
static __always_inline bool emit_single(void *ctx, const struct nw_conn *c)
{
	struct nw_conn_closed_event *e;

	if (nw_use_ringbuf) {
		e = bpf_ringbuf_reserve(&nw_closed_rb, sizeof(*e), 0);
		if (!e)
			return false;
		e->hdr.type = NW_EV_CONN_CLOSED;
		e->hdr.size = sizeof(*e);
		__builtin_memcpy(&e->conn, c, sizeof(*c));
		bpf_ringbuf_submit(e, rb_submit_flags());
		return true;
	} else {
		struct nw_conn_closed_event ev;

		ev.hdr.type = NW_EV_CONN_CLOSED;
		ev.hdr.size = sizeof(ev);
		__builtin_memcpy(&ev.conn, c, sizeof(*c));
		return !bpf_perf_event_output(ctx, &nw_closed_pb, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	}
}

/*
 * Perf mode: queue in this CPU's batch; send it when full. The busy flag
 * guards against a program preempting another on the same CPU mid-update:
 * the later one sends its connection alone.
 */
static __always_inline bool emit_batched(void *ctx, const struct nw_conn *c)
{
	__u32 zero = 0;
	struct nw_conn_batch *b = bpf_map_lookup_elem(&nw_closed_batch, &zero);
	__u16 len;

	if (!b || b->busy || b->len >= NW_BATCH_SIZE) {
		tel_inc(NW_TEL_BATCH_UNBATCHED);
		return emit_single(ctx, c);
	}
	b->busy = 1;
	len = b->len;
	__builtin_memcpy(&b->conns[len & (NW_BATCH_SIZE - 1)], c, sizeof(*c));
	b->len = len + 1;
	if (b->len == NW_BATCH_SIZE) {
		b->hdr.type = NW_EV_CONN_BATCH;
		b->hdr.size = sizeof(*b);
		b->cpu = bpf_get_smp_processor_id();
		if (bpf_perf_event_output(ctx, &nw_closed_pb, BPF_F_CURRENT_CPU, b, sizeof(*b))) {
			/* entries userspace did not take as pending are gone */
			__u32 idx = NW_TEL_BATCH_LOST_CONNS;
			__u64 *v = bpf_map_lookup_elem(&nw_telemetry, &idx);

			if (v)
				__sync_fetch_and_add(v, NW_BATCH_SIZE);
		} else {
			tel_inc(NW_TEL_BATCH_SENT);
		}
		b->id++;
		b->len = 0;
	}
	b->busy = 0;
	return true;
}

/* Closed record out; false when the channel was full (the entry then stays
 * flagged NW_CONN_F_CLOSED for userspace to find on its next scan). */
static __always_inline bool emit_closed(void *ctx, struct nw_conn *c)
{
	c->stats.flags |= NW_CONN_F_CLOSED;
	if (!(nw_use_ringbuf ? emit_single(ctx, c) : emit_batched(ctx, c))) {
		tel_inc(NW_TEL_EVENT_LOST);
		return false;
	}
	tel_inc(NW_TEL_CLOSED_EMITTED);
	return true;
}

static __always_inline void emit_released(void *ctx, __u64 cookie)
{
	struct nw_sock_released_event ev = {
		.hdr = { .type = NW_EV_SOCK_RELEASED, .size = sizeof(ev) },
		.cookie = cookie,
	};

	if (nw_use_ringbuf ? bpf_ringbuf_output(&nw_closed_rb, &ev, sizeof(ev), rb_submit_flags()) :
			     bpf_perf_event_output(ctx, &nw_closed_pb, BPF_F_CURRENT_CPU, &ev, sizeof(ev)))
		tel_inc(NW_TEL_EVENT_LOST);
}

/* Emit and forget one entry; a failed emit leaves it flagged in the map. */
static __always_inline void close_entry(void *ctx, struct nw_conn_key *key, struct nw_conn *c)
{
	if (emit_closed(ctx, c))
		bpf_map_delete_elem(&nw_conns, key);
}

static __always_inline struct nw_conn *conn_create(struct nw_conn_key *key, struct nw_conn *init)
{
	long err = bpf_map_update_elem(&nw_conns, key, init, BPF_NOEXIST);

	if (err && err != -17 /* EEXIST: created on another CPU */)
		tel_inc(NW_TEL_CONN_MAP_FULL);
	return bpf_map_lookup_elem(&nw_conns, key);
}

/* ---- TCP, shared by the three sets ------------------------------------- */

static __always_inline struct nw_conn *tcp_lookup(__u64 cookie)
{
	struct nw_conn_key key = { .cookie = cookie };

	return bpf_map_lookup_elem(&nw_conns, &key);
}

static __always_inline struct nw_conn *tcp_get(const struct sock *sk, __u64 cookie, __u8 dir)
{
	struct nw_conn_key key = { .cookie = cookie };
	struct nw_conn *c = bpf_map_lookup_elem(&nw_conns, &key);
	struct nw_conn init = {};

	if (c)
		return c;
	tuple_from_sk(&init.tup, sk);
	init.tup.type = NW_TYPE_TCP;
	init.tup.direction = dir;
	init.stats.cookie = cookie;
	init.stats.first_seen_ns = init.stats.last_seen_ns = bpf_ktime_get_boot_ns();
	return conn_create(&key, &init);
}

/* Counters the kernel keeps in tcp_sock; the tuple while it is incomplete. */
static __always_inline void tcp_refresh(struct nw_conn *c, const struct sock *sk)
{
	const struct tcp_sock *tp = (const struct tcp_sock *)sk;

	c->stats.sent_packets = BPF_CORE_READ(tp, segs_out);
	c->stats.recv_packets = BPF_CORE_READ(tp, segs_in);
	c->stats.retransmits = BPF_CORE_READ(tp, total_retrans);
	c->stats.rtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	c->stats.rtt_var_us = BPF_CORE_READ(tp, mdev_us) >> 2;
	c->stats.last_seen_ns = bpf_ktime_get_boot_ns();
	if (!c->tup.sport || !c->tup.dport) {
		/* the port is assigned after SYN_SENT is traced; a socket that is
		 * closing loses its addresses again: only a complete tuple is taken */
		struct nw_conn_tuple t = c->tup;

		tuple_from_sk(&t, sk);
		if (t.sport && t.dport)
			c->tup = t;
	}
}

static __always_inline void tcp_state(const struct sock *sk, __u64 cookie, int old, int new)
{
	struct nw_conn *c;

	if (new == TCP_SYN_SENT) {
		/* connect(): process context */
		c = tcp_get(sk, cookie, NW_DIR_OUTGOING);
		if (c)
			c->tup.pid = current_tgid();
	} else if (new == TCP_ESTABLISHED) {
		__u8 dir = old == TCP_SYN_SENT ? NW_DIR_OUTGOING :
			   old == TCP_SYN_RECV ? NW_DIR_INCOMING : NW_DIR_UNKNOWN;

		c = tcp_get(sk, cookie, dir);
		if (!c || (c->stats.flags & NW_CONN_F_ESTABLISHED))
			return; /* the program's second copy saw it first */
		if (c->tup.direction == NW_DIR_UNKNOWN)
			c->tup.direction = dir;
		c->stats.flags |= NW_CONN_F_ESTABLISHED;
		c->stats.tcp_established = 1;
		c->tup.sport = 0; /* complete now: take it again */
		tcp_refresh(c, sk);
	} else if (new == TCP_CLOSE) {
		c = tcp_lookup(cookie);
		if (!c)
			return;
		c->stats.tcp_closed = 1;
		if (!(c->stats.flags & NW_CONN_F_ESTABLISHED))
			c->stats.flags |= NW_CONN_F_FAILED;
		tcp_refresh(c, sk);
	}
}

/* Bytes the application handed to / took from the socket (process context). */
static __always_inline void tcp_bytes(const struct sock *sk, __u64 cookie, long sent, long recvd)
{
	struct nw_conn *c = tcp_lookup(cookie);

	if (!c) {
		/* a connection older than us: direction unknown */
		tel_inc(NW_TEL_MISSING_ENTRY);
		c = tcp_get(sk, cookie, NW_DIR_UNKNOWN);
		if (!c)
			return;
	}
	if (!c->tup.pid) {
		c->tup.pid = current_tgid();
		c->stats.flags |= NW_CONN_F_PID_LATE;
	}
	if (sent > 0)
		__sync_fetch_and_add(&c->stats.sent_bytes, sent);
	if (recvd > 0)
		__sync_fetch_and_add(&c->stats.recv_bytes, recvd);
	tcp_refresh(c, sk);
}

/* accept() returned this socket: the process that owns it now. */
static __always_inline void tcp_accepted(const struct sock *sk, __u64 cookie)
{
	struct nw_conn *c = tcp_get(sk, cookie, NW_DIR_INCOMING);

	if (c)
		c->tup.pid = current_tgid();
}

static __always_inline void tcp_retransmit(const struct sock *sk, __u64 cookie)
{
	struct nw_conn *c = tcp_lookup(cookie);

	if (c)
		tcp_refresh(c, sk);
}

/* The socket is gone for good: both the application and the protocol are done. */
static __always_inline void tcp_destroy(void *ctx, const struct sock *sk, __u64 cookie)
{
	struct nw_conn_key key = { .cookie = cookie };
	struct nw_conn *c = bpf_map_lookup_elem(&nw_conns, &key);

	if (!c)
		return;
	tcp_refresh(c, sk);
	close_entry(ctx, &key, c);
}

/* ---- tracepoint set (tp_btf) --------------------------------------------
 *
 * The kernel skips a BPF program that fires while the same program is already
 * running on that CPU (its recursion_misses count): a socket's state change or
 * destruction in softirq, landing inside the handling of another socket's
 * close() in process context, would be lost. State changes and destruction
 * are therefore attached twice; the nested event finds the copy that is not
 * running, and both handlers are idempotent (ESTABLISHED and CLOSE are
 * flags, a destroyed entry is gone for the second copy).
 */

#define TP_STATE_PROG(name)                                                              \
	SEC("tp_btf/inet_sock_set_state")                                                \
	int BPF_PROG(name, const struct sock *sk, int old, int new)                     \
	{                                                                                \
		if (is_tcp(sk))                                                          \
			tcp_state(sk, bpf_get_socket_cookie((void *)sk), old, new);      \
		return 0;                                                                \
	}
TP_STATE_PROG(tp_set_state)
TP_STATE_PROG(tp_set_state_b)

#define TP_DESTROY_PROG(name)                                                            \
	SEC("tp_btf/tcp_destroy_sock")                                                   \
	int BPF_PROG(name, struct sock *sk)                                              \
	{                                                                                \
		tcp_destroy(ctx, sk, bpf_get_socket_cookie(sk));                         \
		return 0;                                                                \
	}
TP_DESTROY_PROG(tp_destroy)
TP_DESTROY_PROG(tp_destroy_b)

SEC("tp_btf/sock_send_length")
int BPF_PROG(tp_send_length, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && is_tcp(sk))
		tcp_bytes(sk, bpf_get_socket_cookie(sk), ret, 0);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(tp_recv_length, struct sock *sk, int ret, int flags)
{
	if (ret > 0 && !(flags & MSG_PEEK) && is_tcp(sk))
		tcp_bytes(sk, bpf_get_socket_cookie(sk), 0, ret);
	return 0;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tp_retransmit, const struct sock *sk, const struct sk_buff *skb)
{
	tcp_retransmit(sk, bpf_get_socket_cookie((void *)sk));
	return 0;
}

/* ---- fentry set ---------------------------------------------------------- */

SEC("fentry/tcp_set_state")
int BPF_PROG(fe_set_state, struct sock *sk, int state)
{
	if (is_tcp(sk))
		tcp_state(sk, bpf_get_socket_cookie(sk), BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return 0;
}

SEC("fexit/tcp_sendmsg")
int BPF_PROG(fe_sendmsg, struct sock *sk, struct msghdr *msg, size_t size, int ret)
{
	if (ret > 0)
		tcp_bytes(sk, bpf_get_socket_cookie(sk), ret, 0);
	return 0;
}

SEC("fentry/tcp_cleanup_rbuf")
int BPF_PROG(fe_cleanup_rbuf, struct sock *sk, int copied)
{
	if (copied > 0)
		tcp_bytes(sk, bpf_get_socket_cookie(sk), 0, copied);
	return 0;
}

SEC("fexit/inet_csk_accept")
int BPF_PROG(fe_accept, struct sock *sk, void *arg, struct sock *ret)
{
	if (ret && is_tcp(ret))
		tcp_accepted(ret, bpf_get_socket_cookie(ret));
	return 0;
}

SEC("fentry/tcp_retransmit_skb")
int BPF_PROG(fe_retransmit, struct sock *sk)
{
	tcp_retransmit(sk, bpf_get_socket_cookie(sk));
	return 0;
}

SEC("fentry/inet_csk_destroy_sock")
int BPF_PROG(fe_destroy, struct sock *sk)
{
	if (is_tcp(sk))
		tcp_destroy(ctx, sk, bpf_get_socket_cookie(sk));
	return 0;
}

/* ---- kprobe set ------------------------------------------------------------
 * kprobe programs cannot call bpf_get_socket_cookie: they read the cookie the
 * kernel stored (cg_sock_create assigns one to every socket created while we
 * are attached), and fall back to a scrambled pointer so no kernel address
 * reaches userspace. */

static __always_inline __u64 kp_cookie(const struct sock *sk)
{
	__u64 cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);

	return cookie ? cookie : (((__u64)(unsigned long)sk * 0x9e3779b97f4a7c15ULL) | (1ULL << 63));
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(kp_set_state, struct sock *sk, int state)
{
	if (is_tcp(sk))
		tcp_state(sk, kp_cookie(sk), BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return 0;
}

SEC("kprobe/tcp_sendmsg")
int BPF_KPROBE(kp_sendmsg, struct sock *sk)
{
	__u64 id = bpf_get_current_pid_tgid(), skp = (__u64)(unsigned long)sk;

	bpf_map_update_elem(&nw_send_args, &id, &skp, BPF_ANY);
	return 0;
}

SEC("kretprobe/tcp_sendmsg")
int BPF_KRETPROBE(kp_sendmsg_ret, int ret)
{
	__u64 id = bpf_get_current_pid_tgid(), *skp = bpf_map_lookup_elem(&nw_send_args, &id);
	const struct sock *sk;

	if (!skp)
		return 0;
	sk = (const struct sock *)(unsigned long)*skp;
	bpf_map_delete_elem(&nw_send_args, &id);
	if (ret > 0)
		tcp_bytes(sk, kp_cookie(sk), ret, 0);
	return 0;
}

SEC("kprobe/tcp_cleanup_rbuf")
int BPF_KPROBE(kp_cleanup_rbuf, struct sock *sk, int copied)
{
	if (copied > 0)
		tcp_bytes(sk, kp_cookie(sk), 0, copied);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kp_accept, struct sock *sk)
{
	if (sk && is_tcp(sk))
		tcp_accepted(sk, kp_cookie(sk));
	return 0;
}

SEC("kprobe/tcp_retransmit_skb")
int BPF_KPROBE(kp_retransmit, struct sock *sk)
{
	tcp_retransmit(sk, kp_cookie(sk));
	return 0;
}

SEC("kprobe/inet_csk_destroy_sock")
int BPF_KPROBE(kp_destroy, struct sock *sk)
{
	if (is_tcp(sk))
		tcp_destroy(ctx, sk, kp_cookie(sk));
	return 0;
}

/* ---- cgroup hooks, every set: UDP and socket lifetime -------------------- */

static __always_inline struct sock_info *sock_info_get(struct bpf_sock *sk, bool create)
{
	struct sock_info *si = bpf_sk_storage_get(&nw_socks, sk, 0,
						  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);

	if (!si && create)
		tel_inc(NW_TEL_SOCK_STORAGE_FAIL);
	return si;
}

static __always_inline __u32 current_netns(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

SEC("cgroup/sock_create")
int cg_sock_create(struct bpf_sock *sk)
{
	struct sock_info *si;

	/* gives the socket its cookie now, for the kprobe set too */
	bpf_get_socket_cookie(sk);
	if (sk->protocol != IPPROTO_UDP)
		return 1;
	si = sock_info_get(sk, true);
	if (si) {
		si->pid = current_tgid();
		si->netns = current_netns();
		si->known = 1;
	}
	return 1;
}

/*
 * A UDP socket the application bind()s is a server (incoming), whatever port
 * it asks for; one bound implicitly by its first send or connect() is a
 * client (outgoing). The hook runs for explicit bind() only.
 */
static __always_inline void udp_bind(struct bpf_sock_addr *ctx)
{
	struct sock_info *si;

	if (ctx->protocol != IPPROTO_UDP || !ctx->sk)
		return;
	si = sock_info_get(ctx->sk, true);
	if (si)
		si->bound = 1;
}

SEC("cgroup/bind4")
int cg_bind4(struct bpf_sock_addr *ctx)
{
	udp_bind(ctx);
	return 1;
}

SEC("cgroup/bind6")
int cg_bind6(struct bpf_sock_addr *ctx)
{
	udp_bind(ctx);
	return 1;
}

/*
 * The application closed a TCP socket: its byte counts are final, so it is
 * reported closed now, in process context. Waiting for the socket's
 * destruction would lose connections: that happens in softirq, where the
 * kernel skips a tracing program already running on the CPU (the recursion
 * guard), and no second copy of a program fully closes that gap. Sockets no
 * application ever held (never accepted) are still reported at destruction.
 */
static __always_inline void tcp_release(struct bpf_sock *sk)
{
	struct nw_conn_key key = { .cookie = bpf_get_socket_cookie(sk) };
	struct nw_conn *c = bpf_map_lookup_elem(&nw_conns, &key);

	/* packets and RTT are as of the socket's last send or receive: this
	 * program type cannot read tcp_sock */
	if (!c)
		return;
	c->stats.last_seen_ns = bpf_ktime_get_boot_ns();
	if (!(c->stats.flags & NW_CONN_F_ESTABLISHED))
		c->stats.flags |= NW_CONN_F_FAILED;
	c->stats.tcp_closed = 1;
	close_entry(sk, &key, c);
}

/* close(): report a TCP socket, or every peer entry of a UDP socket, closed. */
SEC("cgroup/sock_release")
int cg_sock_release(struct bpf_sock *sk)
{
	struct sock_info *si;
	__u64 cookie;

	if (sk->protocol == IPPROTO_TCP) {
		tcp_release(sk);
		return 1;
	}
	if (sk->protocol != IPPROTO_UDP)
		return 1;
	si = sock_info_get(sk, false);
	if (!si)
		return 1;
	cookie = bpf_get_socket_cookie(sk);
	for (int i = 0; i < UDP_PEER_SLOTS; i++) {
		struct nw_conn_key key = { .cookie = cookie };
		struct nw_conn *c;

		if (!si->peers[i].used)
			continue;
		__builtin_memcpy(key.peer, si->peers[i].addr, sizeof(key.peer));
		key.peer_port = si->peers[i].port;
		c = bpf_map_lookup_elem(&nw_conns, &key);
		if (c)
			close_entry(sk, &key, c);
	}
	if (si->overflow)
		emit_released(sk, cookie);
	/* the storage goes with the socket */
	return 1;
}

struct udp_pkt {
	__u8 local[16], remote[16];
	__u16 lport, rport;
	__u8 family;
	__u32 payload;
};

/* Addresses and payload length of a UDP datagram; false if it is not one. */
static __always_inline bool udp_parse(struct __sk_buff *skb, bool ingress, struct udp_pkt *p)
{
	struct udphdr uh;
	__u32 off;

	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) || ip.protocol != IPPROTO_UDP ||
		    (ip.frag_off & bpf_htons(0x1fff)))
			return false;
		off = ip.ihl * 4;
		__builtin_memcpy(ingress ? p->local : p->remote, &ip.daddr, 4);
		__builtin_memcpy(ingress ? p->remote : p->local, &ip.saddr, 4);
		p->family = NW_FAMILY_INET;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) || ip6.nexthdr != IPPROTO_UDP)
			return false;
		off = sizeof(ip6);
		__builtin_memcpy(ingress ? p->local : p->remote, &ip6.daddr, 16);
		__builtin_memcpy(ingress ? p->remote : p->local, &ip6.saddr, 16);
		p->family = NW_FAMILY_INET6;
	} else {
		return false;
	}
	if (off < 20 || skb->len < off + sizeof(uh) || bpf_skb_load_bytes(skb, off, &uh, sizeof(uh)))
		return false;
	p->lport = bpf_ntohs(ingress ? uh.dest : uh.source);
	p->rport = bpf_ntohs(ingress ? uh.source : uh.dest);
	p->payload = skb->len - off - sizeof(uh);
	return true;
}

static __always_inline void udp_remember_peer(struct sock_info *si, const struct nw_conn_key *key)
{
	for (int i = 0; i < UDP_PEER_SLOTS; i++) {
		if (si->peers[i].used)
			continue;
		__builtin_memcpy(si->peers[i].addr, key->peer, sizeof(key->peer));
		si->peers[i].port = key->peer_port;
		si->peers[i].used = 1;
		return;
	}
	si->overflow = 1;
	tel_inc(NW_TEL_UDP_PEER_OVERFLOW);
}

static __always_inline void udp_count(struct __sk_buff *skb, bool ingress)
{
	struct bpf_sock *sk = skb->sk;
	struct nw_conn_key key = {};
	struct sock_info *si;
	struct udp_pkt p;
	struct nw_conn *c;
	__u32 segs;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP || !udp_parse(skb, ingress, &p))
		return;
	si = sock_info_get(sk, true);
	if (si && !ingress) {
		/* egress of a UDP send runs in the sender's context */
		si->pid = current_tgid();
		if (!si->netns)
			si->netns = current_netns();
	}
	key.cookie = bpf_get_socket_cookie(skb);
	__builtin_memcpy(key.peer, p.remote, sizeof(key.peer));
	key.peer_port = p.rport;
	c = bpf_map_lookup_elem(&nw_conns, &key);
	if (!c) {
		struct nw_conn init = {};

		__builtin_memcpy(init.tup.saddr, p.local, 16);
		__builtin_memcpy(init.tup.daddr, p.remote, 16);
		init.tup.sport = p.lport;
		init.tup.dport = p.rport;
		init.tup.family = p.family;
		init.tup.type = NW_TYPE_UDP;
		if (si) {
			init.tup.pid = si->pid;
			init.tup.netns = si->netns;
			init.tup.direction = !si->known && !si->bound ? NW_DIR_UNKNOWN :
					     si->bound ? NW_DIR_INCOMING : NW_DIR_OUTGOING;
		}
		init.stats.cookie = key.cookie;
		init.stats.first_seen_ns = bpf_ktime_get_boot_ns();
		c = conn_create(&key, &init);
		if (!c)
			return;
		if (si)
			udp_remember_peer(si, &key);
	}
	segs = skb->gso_segs ? skb->gso_segs : 1;
	if (ingress) {
		__sync_fetch_and_add(&c->stats.recv_bytes, p.payload);
		__sync_fetch_and_add(&c->stats.recv_packets, segs);
	} else {
		__sync_fetch_and_add(&c->stats.sent_bytes, p.payload);
		__sync_fetch_and_add(&c->stats.sent_packets, segs);
		if (si && !c->tup.pid)
			c->tup.pid = si->pid;
	}
	c->stats.last_seen_ns = bpf_ktime_get_boot_ns();
}

SEC("cgroup_skb/ingress")
int cg_skb_ingress(struct __sk_buff *skb)
{
	udp_count(skb, true);
	return 1;
}

SEC("cgroup_skb/egress")
int cg_skb_egress(struct __sk_buff *skb)
{
	udp_count(skb, false);
	return 1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
