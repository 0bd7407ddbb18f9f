/* Unit tests for sandbox/manifest.c: wire checks over a real socketpair and fd
 * type checks against real BPF maps / perf events (those need root; skipped
 * otherwise). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "sandbox/manifest.c"

static int count_open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own fd */
}

static void seqpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

/* Send arbitrary bytes plus fds, bypassing nw_manifest_send's own checks. */
static void raw_send(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr a;
		char b[CMSG_SPACE(sizeof(int) * 80)];
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	memset(&ctl, 0, sizeof(ctl));
	if (nfds) {
		struct cmsghdr *c;
		msg.msg_control = ctl.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sock, &msg, 0), (ssize_t)len);
}

static void fill(struct nw_manifest *m, uint16_t count)
{
	memset(m, 0, sizeof(*m));
	m->hdr.magic = NW_MANIFEST_MAGIC;
	m->hdr.version = NW_MANIFEST_VERSION;
	m->hdr.count = count;
	for (uint16_t i = 0; i < count && i < NW_MANIFEST_MAX_FDS; i++)
		m->entries[i].role = NW_FD_CONNS_MAP;
}

/* Three harmless fds (/dev/null) to pass around. */
static void devnulls(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		assert_true(fds[i] >= 0);
	}
}

static void closev(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

static void test_roundtrip(void **state)
{
	struct nw_manifest m, got;
	int sv[2], fds[3], rfds[NW_MANIFEST_MAX_FDS];
	int before;

	seqpair(sv);
	devnulls(fds, 3);
	fill(&m, 3);
	m.entries[1].role = NW_FD_CLOSED_PERF;
	m.entries[1].arg = 0;
	m.hdr.perf_pages = 8;
	assert_int_equal(nw_manifest_send(sv[0], &m, fds), 0);
	before = count_open_fds();
	assert_int_equal(nw_manifest_recv(sv[1], &got, rfds, NW_MANIFEST_MAX_FDS), 3);
	assert_int_equal(count_open_fds(), before + 3);
	assert_memory_equal(&got.hdr, &m.hdr, sizeof(m.hdr));
	assert_memory_equal(got.entries, m.entries, 3 * sizeof(m.entries[0]));
	for (int i = 0; i < 3; i++) {
		assert_true(fcntl(rfds[i], F_GETFD) & FD_CLOEXEC);
		close(rfds[i]);
	}
	closev(fds, 3);
	closev(sv, 2);
}

static void test_send_rejects(void **state)
{
	struct nw_manifest m;
	int fds[2] = { 0, -1 };

	fill(&m, NW_MANIFEST_MAX_FDS + 1);
	assert_int_equal(nw_manifest_send(-1, &m, fds), -EINVAL);
	fill(&m, 2);
	assert_int_equal(nw_manifest_send(-1, &m, fds), -EBADF);
	assert_int_equal(nw_manifest_send(-1, &m, NULL), -EINVAL);
}

/* Send `len` bytes of `m` with `nfds` fds; expect recv to fail with `want`
 * and to leave no received fd open. */
static void expect_reject(const void *buf, size_t len, size_t nfds, size_t max_fds, int want)
{
	struct nw_manifest got;
	int sv[2], fds[NW_MANIFEST_MAX_FDS + 4], rfds[NW_MANIFEST_MAX_FDS];
	int before;

	assert_true(nfds <= NW_MANIFEST_MAX_FDS + 4);
	seqpair(sv);
	devnulls(fds, nfds);
	raw_send(sv[0], buf, len, fds, nfds);
	closev(fds, nfds);
	before = count_open_fds();
	assert_int_equal(nw_manifest_recv(sv[1], &got, rfds, max_fds), want);
	assert_int_equal(count_open_fds(), before);
	closev(sv, 2);
}

static void test_fds_fewer_than_entries(void **state)
{
	struct nw_manifest m;

	fill(&m, 3);
	expect_reject(&m, nw_manifest_wire_size(3), 2, NW_MANIFEST_MAX_FDS, -EBADMSG);
	expect_reject(&m, nw_manifest_wire_size(3), 0, NW_MANIFEST_MAX_FDS, -EBADMSG);
}

static void test_fds_more_than_entries(void **state)
{
	struct nw_manifest m;

	fill(&m, 2);
	expect_reject(&m, nw_manifest_wire_size(2), 3, NW_MANIFEST_MAX_FDS, -EBADMSG);
}

static void test_wrong_count(void **state)
{
	struct {
		struct nw_manifest m;
		struct nw_manifest_entry extra[4];
	} big;

	/* count over the maximum, with as many entries on the wire */
	fill(&big.m, NW_MANIFEST_MAX_FDS);
	big.m.hdr.count = NW_MANIFEST_MAX_FDS + 1;
	expect_reject(&big, nw_manifest_wire_size(NW_MANIFEST_MAX_FDS + 1), 3,
		      NW_MANIFEST_MAX_FDS, -EMSGSIZE); /* longer than any manifest: MSG_TRUNC */
	/* count says 2, three entries on the wire */
	fill(&big.m, 3);
	big.m.hdr.count = 2;
	expect_reject(&big, nw_manifest_wire_size(3), 2, NW_MANIFEST_MAX_FDS, -EBADMSG);
	/* count says 3, two entries on the wire */
	fill(&big.m, 3);
	expect_reject(&big, nw_manifest_wire_size(2), 3, NW_MANIFEST_MAX_FDS, -EMSGSIZE);
	/* more fds than the caller's array holds, though the control buffer
	 * (rounded up to 8 bytes) fits them: count over max_fds */
	fill(&big.m, 4);
	expect_reject(&big, nw_manifest_wire_size(4), 4, 3, -EBADMSG);
}

static void test_count_over_caller_max(void **state)
{
	struct nw_manifest m;

	/* the caller takes 1 (or 0) fds and gets 3: control truncation */
	fill(&m, 3);
	expect_reject(&m, nw_manifest_wire_size(3), 3, 1, -EMSGSIZE);
	expect_reject(&m, nw_manifest_wire_size(3), 3, 0, -EMSGSIZE);
}

static void test_truncated_control(void **state)
{
	struct nw_manifest m;

	/* 40 fds into a control buffer sized for 8: the kernel sets MSG_CTRUNC */
	fill(&m, 40);
	expect_reject(&m, nw_manifest_wire_size(40), 40, 8, -EMSGSIZE);
}

static void test_truncated_data(void **state)
{
	struct nw_manifest m;

	fill(&m, 1);
	expect_reject(&m, sizeof(m.hdr) - 4, 1, NW_MANIFEST_MAX_FDS, -EMSGSIZE);
	expect_reject(&m, nw_manifest_wire_size(1) - 1, 1, NW_MANIFEST_MAX_FDS, -EMSGSIZE);
}

static void test_wrong_magic_version(void **state)
{
	struct nw_manifest m;

	fill(&m, 1);
	m.hdr.magic = 0x12345678;
	expect_reject(&m, nw_manifest_wire_size(1), 1, NW_MANIFEST_MAX_FDS, -EPROTO);
	fill(&m, 1);
	m.hdr.version = NW_MANIFEST_VERSION + 1;
	expect_reject(&m, nw_manifest_wire_size(1), 1, NW_MANIFEST_MAX_FDS, -EPROTO);
}

static void test_unknown_role(void **state)
{
	struct nw_manifest m;

	fill(&m, 2);
	m.entries[1].role = NW_FD_ROLE_MAX;
	expect_reject(&m, nw_manifest_wire_size(2), 2, NW_MANIFEST_MAX_FDS, -EINVAL);
	fill(&m, 2);
	m.entries[0].role = NW_FD_NONE;
	expect_reject(&m, nw_manifest_wire_size(2), 2, NW_MANIFEST_MAX_FDS, -EINVAL);
}

static void test_second_cmsg_credentials(void **state)
{
	struct nw_manifest m, got;
	int sv[2], fds[2], rfds[NW_MANIFEST_MAX_FDS], one = 1, before;

	seqpair(sv);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	devnulls(fds, 2);
	fill(&m, 2);
	assert_int_equal(nw_manifest_send(sv[0], &m, fds), 0);
	closev(fds, 2);
	before = count_open_fds();
	assert_int_equal(nw_manifest_recv(sv[1], &got, rfds, NW_MANIFEST_MAX_FDS), -EBADMSG);
	assert_int_equal(count_open_fds(), before);
	closev(sv, 2);
}

static void test_peer_closed(void **state)
{
	struct nw_manifest got;
	int sv[2], rfds[4];

	seqpair(sv);
	close(sv[0]);
	assert_int_equal(nw_manifest_recv(sv[1], &got, rfds, 4), -ECONNRESET);
	close(sv[1]);
}

/* ---- fd type checks ---------------------------------------------------- */

static int listen_sock(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	struct sockaddr a = { .sa_family = AF_UNIX };

	assert_true(fd >= 0);
	/* an address of just the family autobinds to an abstract name */
	assert_int_equal(bind(fd, &a, sizeof(sa_family_t)), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static int perf_fd(int cpu)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
		.wakeup_events = 1,
	};
	return (int)syscall(__NR_perf_event_open, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

struct fixture {
	struct nw_manifest m;
	int fds[8];
};

static int need_bpf(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 8, 1, NULL);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static void make_ringbuf_set(struct fixture *f)
{
	fill(&f->m, 4);
	f->m.entries[0].role = NW_FD_RPC_LISTEN;
	f->fds[0] = listen_sock();
	f->m.entries[1].role = NW_FD_CONNS_MAP;
	f->fds[1] = bpf_map_create(BPF_MAP_TYPE_HASH, NW_MAP_CONNS, sizeof(struct nw_conn_key),
				   sizeof(struct nw_conn), 128, NULL);
	f->m.entries[2].role = NW_FD_CLOSED_RINGBUF;
	f->fds[2] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NW_MAP_CLOSED_RB, 0, 0, 4096 * 4, NULL);
	f->m.entries[3].role = NW_FD_TELEMETRY_MAP;
	f->fds[3] = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_TELEMETRY, 4, 8, NW_TEL_MAX, NULL);
	for (int i = 0; i < 4; i++)
		assert_true(f->fds[i] >= 0);
}

static void test_verify_ringbuf_set(void **state)
{
	struct fixture f;
	int pipefd[2], other, tmp;

	if (!need_bpf())
		skip();
	make_ringbuf_set(&f);
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);

	/* a pipe where the listening socket belongs */
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	tmp = f.fds[0];
	f.fds[0] = pipefd[0];
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOTSOCK);
	/* a pipe where a map belongs */
	f.fds[0] = tmp;
	tmp = f.fds[1];
	f.fds[1] = pipefd[0];
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EBADFD);
	f.fds[1] = tmp;
	close(pipefd[0]);
	close(pipefd[1]);

	/* a unix socket that is not listening; a datagram socket */
	other = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[0], other), -EINVAL);
	close(other);
	other = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[0], other), -EPROTOTYPE);
	close(other);

	/* the telemetry array where the conns hash belongs, and vice versa */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[1], f.fds[3]), -EBADFD);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[3], f.fds[1]), -EBADFD);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[2], f.fds[1]), -EBADFD);
	/* right type and name, wrong value size */
	other = bpf_map_create(BPF_MAP_TYPE_HASH, NW_MAP_CONNS, sizeof(struct nw_conn_key), 64, 16, NULL);
	assert_true(other >= 0);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[1], other), -EBADFD);
	close(other);
	/* right shape, wrong name */
	other = bpf_map_create(BPF_MAP_TYPE_HASH, "other", sizeof(struct nw_conn_key),
			       sizeof(struct nw_conn), 16, NULL);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[1], other), -EBADFD);
	close(other);

	/* RDONLY flag: a writable fd is refused, a read-only one accepted */
	f.m.entries[3].flags = NW_FD_F_RDONLY;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EACCES);
	{
		struct bpf_map_info info;
		__u32 len = sizeof(info);
		LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
		memset(&info, 0, sizeof(info));
		assert_int_equal(bpf_obj_get_info_by_fd(f.fds[3], &info, &len), 0);
		other = bpf_map_get_fd_by_id_opts(info.id, &o);
		assert_true(other >= 0);
		tmp = f.fds[3];
		f.fds[3] = other;
		assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
		f.fds[3] = tmp;
		close(other);
	}
	f.m.entries[3].flags = 0x80;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EINVAL);
	f.m.entries[3].flags = 0;

	/* completeness: missing telemetry, duplicate conns map */
	f.m.hdr.count = 3;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	f.m.hdr.count = 4;
	f.m.entries[3].role = NW_FD_CONNS_MAP;
	tmp = f.fds[3];
	f.fds[3] = f.fds[1];
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
	f.fds[3] = tmp;
	f.m.entries[3].role = NW_FD_TELEMETRY_MAP;
	/* ring-buffer mode with perf pages set */
	f.m.hdr.perf_pages = 8;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EINVAL);
	f.m.hdr.perf_pages = 0;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
	closev(f.fds, 4);
}

static void test_verify_perf_set(void **state)
{
	struct fixture f;
	int p0, p1, p2;

	if (!need_bpf())
		skip();
	make_ringbuf_set(&f);
	close(f.fds[2]);
	p0 = perf_fd(0);
	if (p0 < 0) {
		closev(f.fds, 2);
		close(f.fds[3]);
		skip();
	}
	p1 = perf_fd(0); /* any cpu will do for type checks */
	p2 = perf_fd(0);
	assert_true(p1 >= 0 && p2 >= 0);
	/* perf mode needs the read-only pending-batch map too */
	f.m.hdr.count = 6;
	f.m.hdr.perf_pages = 8;
	f.m.entries[2].role = NW_FD_CLOSED_PERF;
	f.m.entries[2].arg = 1;
	f.fds[2] = p1;
	f.m.entries[4].role = NW_FD_CLOSED_PERF;
	f.m.entries[4].arg = 0;
	f.fds[4] = p0;
	f.m.entries[5].role = NW_FD_CLOSED_PERF;
	f.m.entries[5].arg = 2;
	f.fds[5] = p2;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	{
		int bm = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NW_MAP_CLOSED_BATCH, sizeof(__u32),
					sizeof(struct nw_conn_batch), 1, NULL);
		LIBBPF_OPTS(bpf_get_fd_by_id_opts, ro, .open_flags = BPF_F_RDONLY);
		struct bpf_map_info info;
		__u32 il = sizeof(info);
		int bro;

		assert_true(bm >= 0);
		memset(&info, 0, sizeof(info));
		assert_int_equal(bpf_obj_get_info_by_fd(bm, &info, &il), 0);
		bro = bpf_map_get_fd_by_id_opts(info.id, &ro);
		assert_true(bro >= 0);
		f.m.entries[6] = (struct nw_manifest_entry){ .role = NW_FD_CLOSED_BATCH,
							     .flags = NW_FD_F_RDONLY };
		/* writable fd, or not flagged read-only: refused */
		assert_int_equal(nw_manifest_verify_entry(&f.m.entries[6], bm), -EACCES);
		f.m.entries[6].flags = 0;
		assert_int_equal(nw_manifest_verify_entry(&f.m.entries[6], bro), -EACCES);
		f.m.entries[6].flags = NW_FD_F_RDONLY;
		assert_int_equal(nw_manifest_verify_entry(&f.m.entries[6], bro), 0);
		/* a ring-buffer map where the batch map belongs */
		assert_int_equal(nw_manifest_verify_entry(&f.m.entries[6], f.fds[3]), -EBADFD);
		f.m.hdr.count = 7;
		f.fds[6] = bro;
		assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
		close(bm);
	}
	f.m.hdr.count = 7;
	f.m.hdr.perf_pages = 8;
	f.m.entries[2].role = NW_FD_CLOSED_PERF;
	f.m.entries[2].arg = 1;
	f.fds[2] = p1;
	f.m.entries[4].role = NW_FD_CLOSED_PERF;
	f.m.entries[4].arg = 0;
	f.fds[4] = p0;
	f.m.entries[5].role = NW_FD_CLOSED_PERF;
	f.m.entries[5].arg = 2;
	f.fds[5] = p2;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);

	/* perf pages must be a power of two */
	f.m.hdr.perf_pages = 6;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EINVAL);
	f.m.hdr.perf_pages = 0;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EINVAL);
	f.m.hdr.perf_pages = 8;
	/* a gap: cpus 0, 1, 3 */
	f.m.entries[5].arg = 3;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	/* a duplicate cpu */
	f.m.entries[5].arg = 1;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
	f.m.entries[5].arg = 2;
	/* a map where a perf event belongs, a perf event where a map belongs */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], f.fds[1]), -EBADFD);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[1], p0), -EBADFD);
	/* both event modes at once */
	{
		int rb = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NW_MAP_CLOSED_RB, 0, 0, 4096 * 4, NULL);
		f.m.hdr.count = 8;
		f.m.entries[7] = (struct nw_manifest_entry){ .role = NW_FD_CLOSED_RINGBUF };
		f.fds[7] = rb;
		assert_int_equal(nw_manifest_verify_entry(&f.m.entries[7], rb), 0);
		assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
		close(rb);
	}
	closev(f.fds, 7);
}

/* ---- DNS capture roles ---------------------------------------------------- */

static int rdonly_dup(int fd)
{
	LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	fd = bpf_map_get_fd_by_id_opts(info.id, &o);
	assert_true(fd >= 0);
	return fd;
}

/* One end of a SEQPACKET pair created by a process of another uid. */
static int foreign_pair_end(void)
{
	int carrier[2], got[1] = { -1 }, st;
	pid_t pid;

	seqpair(carrier);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int sv[2];
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534) ||
		    socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
			_exit(1);
		raw_send(carrier[1], "x", 1, &sv[0], 1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	{
		union {
			struct cmsghdr a;
			char b[CMSG_SPACE(sizeof(int))];
		} ctl;
		char c;
		struct iovec iov = { &c, 1 };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				      .msg_controllen = sizeof(ctl.b) };
		assert_int_equal(recvmsg(carrier[0], &msg, MSG_CMSG_CLOEXEC), 1);
		memcpy(got, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(int));
	}
	closev(carrier, 2);
	return got[0];
}

static void test_verify_forward_socket(void **state)
{
	struct nw_manifest_entry e = { .role = NW_FD_PKT_FORWARD };
	int sv[2], st[2], pipefd[2], fd;

	seqpair(sv);
	assert_int_equal(nw_manifest_verify_entry(&e, sv[1]), 0);
	e.flags = NW_FD_F_RDONLY;
	assert_int_equal(nw_manifest_verify_entry(&e, sv[1]), -EINVAL);
	e.flags = 0;
	e.arg = 1;
	assert_int_equal(nw_manifest_verify_entry(&e, sv[1]), -EINVAL);
	e.arg = 0;
	/* a stream pair, a pipe, a listening socket, an unconnected seqpacket socket */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, st), 0);
	assert_int_equal(nw_manifest_verify_entry(&e, st[1]), -EPROTOTYPE);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	assert_int_equal(nw_manifest_verify_entry(&e, pipefd[0]), -ENOTSOCK);
	fd = listen_sock();
	assert_int_equal(nw_manifest_verify_entry(&e, fd), -EPROTOTYPE);
	close(fd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_int_equal(nw_manifest_verify_entry(&e, fd), -EACCES); /* no peer */
	{
		struct sockaddr a = { .sa_family = AF_UNIX };
		assert_int_equal(bind(fd, &a, sizeof(sa_family_t)), 0);
		assert_int_equal(listen(fd, 1), 0);
		assert_int_equal(nw_manifest_verify_entry(&e, fd), -EINVAL); /* listening */
	}
	close(fd);
	/* never a packet socket (needs root to create) */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		assert_int_equal(nw_manifest_verify_entry(&e, fd), -EPROTOTYPE);
		close(fd);
	}
	/* a pair whose other end belongs to another uid */
	if (geteuid() == 0) {
		fd = foreign_pair_end();
		assert_true(fd >= 0);
		assert_int_equal(nw_manifest_verify_entry(&e, fd), -EACCES);
		close(fd);
	}
	closev(sv, 2);
	closev(st, 2);
	closev(pipefd, 2);
}

static void test_verify_pkt_sets(void **state)
{
	struct fixture f;
	int ring, tel, tel_ro, sv[2], wrong;

	if (!need_bpf())
		skip();
	make_ringbuf_set(&f);
	ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NW_MAP_PKT_RB, 0, 0, 4096 * 4, NULL);
	tel = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_PKT_TEL, 4, 8, NW_PKT_TEL_MAX, NULL);
	assert_true(ring >= 0 && tel >= 0);
	tel_ro = rdonly_dup(tel);
	f.m.hdr.count = 6;
	f.m.entries[4] = (struct nw_manifest_entry){ .role = NW_FD_PKT_RINGBUF };
	f.fds[4] = ring;
	f.m.entries[5] = (struct nw_manifest_entry){ .role = NW_FD_PKT_TELEMETRY, .flags = NW_FD_F_RDONLY };
	f.fds[5] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);

	/* the closed-connection ring where the packet ring belongs, and vice versa */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], f.fds[2]), -EBADFD);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[2], ring), -EBADFD);
	/* the conns telemetry where the capture's belongs; a writable or unflagged one */
	wrong = rdonly_dup(f.fds[3]);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], wrong), -EBADFD);
	close(wrong);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], tel), -EACCES);
	f.m.entries[5].flags = 0;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], tel_ro), -EACCES);
	f.m.entries[5].flags = NW_FD_F_RDONLY;
	f.m.entries[4].flags = NW_FD_F_RDONLY;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], ring), -EINVAL);
	f.m.entries[4].flags = 0;

	/* the ring without its counters, the counters without the ring */
	f.m.hdr.count = 5;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	f.m.entries[4] = f.m.entries[5];
	f.fds[4] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);

	/* classic mode: the forwarding socket alone */
	seqpair(sv);
	f.m.entries[4] = (struct nw_manifest_entry){ .role = NW_FD_PKT_FORWARD };
	f.fds[4] = sv[1];
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
	/* both capture modes at once; two forwarding sockets */
	f.m.hdr.count = 7;
	f.m.entries[5] = (struct nw_manifest_entry){ .role = NW_FD_PKT_RINGBUF };
	f.fds[5] = ring;
	f.m.entries[6] = (struct nw_manifest_entry){ .role = NW_FD_PKT_TELEMETRY, .flags = NW_FD_F_RDONLY };
	f.fds[6] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
	f.m.hdr.count = 6;
	f.m.entries[5] = f.m.entries[4];
	f.fds[5] = sv[1];
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);

	/* no capture at all (--dns=off) is complete too */
	f.m.hdr.count = 4;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
	closev(f.fds, 4);
	closev(sv, 2);
	close(ring);
	close(tel);
	close(tel_ro);
}

static void test_verify_usm_set(void **state)
{
	struct fixture f;
	int ring, tel, tel_ro, wrong;

	if (!need_bpf())
		skip();
	make_ringbuf_set(&f);
	ring = bpf_map_create(BPF_MAP_TYPE_RINGBUF, NW_MAP_USM_RB, 0, 0, 4096 * 4, NULL);
	tel = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, NW_MAP_USM_TEL, 4, 8, USM_TEL_MAX, NULL);
	assert_true(ring >= 0 && tel >= 0);
	tel_ro = rdonly_dup(tel);
	f.m.hdr.count = 6;
	f.m.entries[4] = (struct nw_manifest_entry){ .role = NW_FD_USM_RINGBUF,
						      .arg = USM_PROTO_BIT(USM_PROTO_HTTP) };
	f.fds[4] = ring;
	f.m.entries[5] = (struct nw_manifest_entry){ .role = NW_FD_USM_TELEMETRY, .flags = NW_FD_F_RDONLY };
	f.fds[5] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
	f.m.entries[4].arg = USM_PROTO_MASK_ALL;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);

	/* the argument names the protocols: none, or an unknown one, is refused */
	f.m.entries[4].arg = 0;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], ring), -EINVAL);
	f.m.entries[4].arg = USM_PROTO_MASK_ALL | (1u << 5);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], ring), -EINVAL);
	f.m.entries[4].arg = USM_PROTO_BIT(USM_PROTO_KAFKA);
	/* the closed-connection ring where the USM ring belongs, and vice versa */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], f.fds[2]), -EBADFD);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[2], ring), -EBADFD);
	/* the conns telemetry (a plain array) where the per-CPU counters belong */
	wrong = rdonly_dup(f.fds[3]);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], wrong), -EBADFD);
	close(wrong);
	/* writable, or not flagged read-only */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], tel), -EACCES);
	f.m.entries[5].flags = 0;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], tel_ro), -EACCES);
	f.m.entries[5].flags = NW_FD_F_RDONLY;
	f.m.entries[5].arg = 1;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[5], tel_ro), -EINVAL);
	f.m.entries[5].arg = 0;
	f.m.entries[4].flags = NW_FD_F_RDONLY;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], ring), -EINVAL);
	f.m.entries[4].flags = 0;

	/* the ring without its counters, the counters without the ring */
	f.m.hdr.count = 5;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	f.m.entries[4] = f.m.entries[5];
	f.fds[4] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -ENOENT);
	/* two rings */
	f.m.hdr.count = 7;
	f.m.entries[4] = (struct nw_manifest_entry){ .role = NW_FD_USM_RINGBUF, .arg = 1u << 1 };
	f.fds[4] = ring;
	f.m.entries[5] = f.m.entries[4];
	f.fds[5] = ring;
	f.m.entries[6] = (struct nw_manifest_entry){ .role = NW_FD_USM_TELEMETRY, .flags = NW_FD_F_RDONLY };
	f.fds[6] = tel_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
	closev(f.fds, 4);
	close(ring);
	close(tel);
	close(tel_ro);
}

/* The loader's counters: a read-only nw_supervisor array, optional, at most one. */
static void test_verify_supervisor_map(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, mm, .map_flags = BPF_F_MMAPABLE);
	struct fixture f;
	int sup, sup_ro, wrong, wrong_ro;

	if (!need_bpf())
		skip();
	make_ringbuf_set(&f);
	sup = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_SUPERVISOR, 4, 8, NW_SUP_MAX, &mm);
	wrong = bpf_map_create(BPF_MAP_TYPE_ARRAY, NW_MAP_SUPERVISOR, 4, 8, NW_SUP_MAX + 1, NULL);
	assert_true(sup >= 0 && wrong >= 0);
	sup_ro = rdonly_dup(sup);
	wrong_ro = rdonly_dup(wrong);
	f.m.hdr.count = 5;
	f.m.entries[4] = (struct nw_manifest_entry){ .role = NW_FD_SUPERVISOR_MAP, .flags = NW_FD_F_RDONLY };
	f.fds[4] = sup_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), 0);
	/* writable, or not flagged read-only: the worker must not be able to forge them */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], sup), -EACCES);
	f.m.entries[4].flags = 0;
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], sup_ro), -EACCES);
	f.m.entries[4].flags = NW_FD_F_RDONLY;
	/* not the supervisor's array: another size, the telemetry map */
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], wrong_ro), -EBADFD);
	close(wrong_ro);
	wrong_ro = rdonly_dup(f.fds[3]);
	assert_int_equal(nw_manifest_verify_entry(&f.m.entries[4], wrong_ro), -EBADFD);
	/* two of them */
	f.m.hdr.count = 6;
	f.m.entries[5] = f.m.entries[4];
	f.fds[5] = sup_ro;
	assert_int_equal(nw_manifest_verify(&f.m, f.fds), -EEXIST);
	assert_string_equal(nw_manifest_role_name(NW_FD_SUPERVISOR_MAP), "supervisor-map");
	assert_int_equal(NW_FD_SUPERVISOR_MAP, 12);
	closev(f.fds, 4);
	close(sup);
	close(sup_ro);
	close(wrong);
	close(wrong_ro);
}

static void test_role_names(void **state)
{
	assert_string_equal(nw_manifest_role_name(NW_FD_CLOSED_PERF), "closed-perf");
	assert_string_equal(nw_manifest_role_name(999), "unknown");
	assert_string_equal(nw_manifest_role_name(NW_FD_PKT_RINGBUF), "pkt-ringbuf");
	assert_string_equal(nw_manifest_role_name(NW_FD_PKT_TELEMETRY), "pkt-telemetry-map");
	assert_string_equal(nw_manifest_role_name(NW_FD_PKT_FORWARD), "pkt-forward");
	/* appended, never renumbered */
	assert_int_equal(NW_FD_CLOSED_BATCH, 6);
	assert_int_equal(NW_FD_PKT_RINGBUF, 7);
	assert_int_equal(NW_FD_PKT_TELEMETRY, 8);
	assert_int_equal(NW_FD_PKT_FORWARD, 9);
	assert_string_equal(nw_manifest_role_name(NW_FD_USM_RINGBUF), "usm-ringbuf");
	assert_string_equal(nw_manifest_role_name(NW_FD_USM_TELEMETRY), "usm-telemetry-map");
	assert_int_equal(NW_FD_USM_RINGBUF, 10);
	assert_int_equal(NW_FD_USM_TELEMETRY, 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_send_rejects),
		cmocka_unit_test(test_fds_fewer_than_entries),
		cmocka_unit_test(test_fds_more_than_entries),
		cmocka_unit_test(test_wrong_count),
		cmocka_unit_test(test_count_over_caller_max),
		cmocka_unit_test(test_truncated_control),
		cmocka_unit_test(test_truncated_data),
		cmocka_unit_test(test_wrong_magic_version),
		cmocka_unit_test(test_unknown_role),
		cmocka_unit_test(test_second_cmsg_credentials),
		cmocka_unit_test(test_peer_closed),
		cmocka_unit_test(test_verify_ringbuf_set),
		cmocka_unit_test(test_verify_perf_set),
		cmocka_unit_test(test_verify_forward_socket),
		cmocka_unit_test(test_verify_pkt_sets),
		cmocka_unit_test(test_verify_usm_set),
		cmocka_unit_test(test_verify_supervisor_map),
		cmocka_unit_test(test_role_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
