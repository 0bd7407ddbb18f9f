/* WRAP: getsockopt accept4 */
/* Unit tests for unprivileged/rpc.c: a real unix listening socket served
 * through the real event loop, clients in the same thread driving it. Good
 * requests are answered; garbage, empty and oversized frames get their Error
 * and a close while another client keeps being served; peers are authorised
 * by uid, primary gid and supplementary groups (SO_PEERCRED/SO_PEERGROUPS
 * faked through --wrap=getsockopt); max_clients; idle timeouts; a client that
 * does not read a large answer stalls only itself; accept failures. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <signal.h>
#include <sys/un.h>

#include "proto/frame.c"
#include "unprivileged/evloop.c"
#include "unprivileged/rpc.c"

/* ---- fakes ------------------------------------------------------------------ */

static struct {
	bool on;
	struct ucred cred;
	gid_t groups[100];
	int n_groups; /* -1: SO_PEERGROUPS fails */
	int peercred_errno;
} fake;

int __real_getsockopt(int fd, int level, int name, void *val, socklen_t *len);
int __wrap_getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	if (!fake.on || level != SOL_SOCKET)
		return __real_getsockopt(fd, level, name, val, len);
	if (name == SO_PEERCRED) {
		if (fake.peercred_errno) {
			errno = fake.peercred_errno;
			return -1;
		}
		memcpy(val, &fake.cred, sizeof(fake.cred));
		*len = sizeof(fake.cred);
		return 0;
	}
	if (name == SO_PEERGROUPS) {
		socklen_t need = (socklen_t)(fake.n_groups * sizeof(gid_t));
		if (fake.n_groups < 0) {
			errno = ENOPROTOOPT;
			return -1;
		}
		if (*len < need) {
			*len = need;
			errno = ERANGE;
			return -1;
		}
		memcpy(val, fake.groups, need);
		*len = need;
		return 0;
	}
	return __real_getsockopt(fd, level, name, val, len);
}

static int accept_fail_errno; /* accept4 fails once with this */

int __real_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags);
int __wrap_accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (accept_fail_errno) {
		errno = accept_fail_errno;
		accept_fail_errno = 0;
		return -1;
	}
	return __real_accept4(fd, sa, len, flags);
}

/* ---- the handler under the server ---------------------------------------------- */

#define BIG_ID_LEN (4u << 20) /* a response far bigger than a socket buffer */

struct fx {
	int lfd;
	struct evloop *loop;
	struct rpc_server *srv;
	struct rpc_config cfg;
	int handled, released;
	uid_t last_peer_uid;
	char *big_id;
};

static void handle(void *ctx, const struct ucred *peer, const Netwarden__Request *req,
		   Netwarden__Response *resp)
{
	struct fx *f = ctx;

	f->handled++;
	f->last_peer_uid = peer->uid;
	switch (req->kind_case) {
	case NETWARDEN__REQUEST__KIND_GET_STATS: {
		Netwarden__GetStatsResponse *s = malloc(sizeof(*s));
		assert_non_null(s);
		netwarden__get_stats_response__init(s);
		s->worker_pid = 4242;
		resp->kind_case = NETWARDEN__RESPONSE__KIND_GET_STATS;
		resp->get_stats = s;
		break;
	}
	case NETWARDEN__REQUEST__KIND_REGISTER: {
		Netwarden__RegisterResponse *r = malloc(sizeof(*r));
		assert_non_null(r);
		netwarden__register_response__init(r);
		/* "big" asks for an answer of BIG_ID_LEN bytes; "none" for no answer */
		if (!strcmp(req->register_->client_id, "none")) {
			free(r);
			break;
		}
		r->client_id = !strcmp(req->register_->client_id, "big") ? f->big_id
									   : req->register_->client_id;
		r->client_id = strdup(r->client_id);
		assert_non_null(r->client_id);
		resp->kind_case = NETWARDEN__RESPONSE__KIND_REGISTER;
		resp->register_ = r;
		break;
	}
	default: {
		Netwarden__Error *e = malloc(sizeof(*e));
		assert_non_null(e);
		netwarden__error__init(e);
		e->code = NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST;
		e->message = "empty request";
		resp->kind_case = NETWARDEN__RESPONSE__KIND_ERROR;
		resp->error = e;
		break;
	}
	}
}

static void release(void *ctx, Netwarden__Response *resp)
{
	struct fx *f = ctx;

	f->released++;
	switch (resp->kind_case) {
	case NETWARDEN__RESPONSE__KIND_GET_STATS: free(resp->get_stats); break;
	case NETWARDEN__RESPONSE__KIND_REGISTER:
		free(resp->register_->client_id);
		free(resp->register_);
		break;
	case NETWARDEN__RESPONSE__KIND_ERROR: free(resp->error); break;
	default: break;
	}
}

/* ---- fixture ------------------------------------------------------------------- */

static int listen_socket(void)
{
	static int seq;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len;

	assert_true(fd >= 0);
	/* abstract name: nothing on disk to clean up */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
			  (size_t)snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1,
					   "nw-test-rpc-%d-%d", getpid(), seq++));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, len), 0);
	assert_int_equal(listen(fd, 128), 0);
	return fd;
}

static int start(struct fx *f)
{
	f->loop = evloop_new();
	assert_non_null(f->loop);
	f->srv = rpc_server_new(f->lfd, f->loop, &f->cfg, handle, release, f);
	assert_non_null(f->srv);
	return 0;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(&fake, 0, sizeof(fake));
	accept_fail_errno = 0;
	f->lfd = listen_socket();
	f->big_id = malloc(BIG_ID_LEN + 1);
	assert_non_null(f->big_id);
	memset(f->big_id, 'b', BIG_ID_LEN);
	f->big_id[BIG_ID_LEN] = 0;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	rpc_server_free(f->srv);
	evloop_free(f->loop);
	close(f->lfd);
	free(f->big_id);
	free(f);
	memset(&fake, 0, sizeof(fake));
	return 0;
}

static int connect_client(struct fx *f)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &len), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, len), 0);
	return fd;
}

/* Run the loop until it has nothing more to do right now. */
static void pump(struct fx *f)
{
	for (int i = 0; i < 100; i++)
		if (evloop_run_once(f->loop, 0) <= 0)
			return;
}

static void send_raw(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_request(int fd, const Netwarden__Request *req)
{
	uint8_t *buf;
	size_t len;

	assert_int_equal(nw_frame_encode(&req->base, NW_FRAME_MAX_REQUEST, &buf, &len), 0);
	send_raw(fd, buf, len);
	free(buf);
}

static void send_stats(int fd)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__GetStatsRequest gs = NETWARDEN__GET_STATS_REQUEST__INIT;

	req.kind_case = NETWARDEN__REQUEST__KIND_GET_STATS;
	req.get_stats = &gs;
	send_request(fd, &req);
}

static void send_register(int fd, const char *id)
{
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__RegisterRequest r = NETWARDEN__REGISTER_REQUEST__INIT;

	r.client_id = (char *)id;
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &r;
	send_request(fd, &req);
}

/*
 * Read one response from a client socket, running the server loop while
 * waiting. 1 and *out, 0 at EOF/reset before a whole frame, -1 if nothing
 * came at all.
 */
static int get_response(struct fx *f, int fd, Netwarden__Response **out)
{
	struct nw_frame_reader rd;
	int ret = -1;

	*out = NULL;
	nw_frame_reader_init(&rd, NW_FRAME_MAX);
	for (int tries = 0; tries < 5000; tries++) {
		uint8_t *dst;
		size_t space = nw_frame_reader_space(&rd, &dst);
		ssize_t n = recv(fd, dst, space, MSG_DONTWAIT);

		if (n > 0) {
			int r = nw_frame_reader_commit(&rd, (size_t)n);
			assert_true(r == 0 || r == 1);
			if (r == 1) {
				*out = netwarden__response__unpack(NULL, rd.len, rd.body);
				assert_non_null(*out);
				ret = 1;
				break;
			}
			tries = 0;
			continue;
		}
		if (n == 0 || errno == ECONNRESET) {
			ret = 0;
			break;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		if (evloop_run_once(f->loop, tries < 10 ? 0 : 1) < 0)
			break;
	}
	nw_frame_reader_free(&rd);
	return ret;
}

/* The next response is an Error with this code. */
static void expect_error(struct fx *f, int fd, Netwarden__ErrorCode code)
{
	Netwarden__Response *resp;

	assert_int_equal(get_response(f, fd, &resp), 1);
	assert_int_equal(resp->kind_case, NETWARDEN__RESPONSE__KIND_ERROR);
	assert_int_equal(resp->error->code, code);
	assert_non_null(resp->error->message);
	assert_true(resp->error->message[0] != 0);
	netwarden__response__free_unpacked(resp, NULL);
}

/* GetStats on fd is answered. */
static void expect_served(struct fx *f, int fd)
{
	Netwarden__Response *resp;

	send_stats(fd);
	assert_int_equal(get_response(f, fd, &resp), 1);
	assert_int_equal(resp->kind_case, NETWARDEN__RESPONSE__KIND_GET_STATS);
	assert_int_equal(resp->get_stats->worker_pid, 4242);
	netwarden__response__free_unpacked(resp, NULL);
}

/* The server closed its end of fd. */
static void expect_closed(struct fx *f, int fd)
{
	Netwarden__Response *resp;

	assert_int_equal(get_response(f, fd, &resp), 0);
}

static struct rpc_stats stats(struct fx *f)
{
	struct rpc_stats s;

	rpc_server_get_stats(f->srv, &s);
	return s;
}

/* ---- tests --------------------------------------------------------------------- */

static void test_good_requests(void **state)
{
	struct fx *f = *state;
	Netwarden__Response *resp;
	int c;

	start(f);
	c = connect_client(f);
	pump(f);
	assert_int_equal(rpc_server_clients(f->srv), 1);
	expect_served(f, c);
	send_register(c, "client-a");
	assert_int_equal(get_response(f, c, &resp), 1);
	assert_int_equal(resp->kind_case, NETWARDEN__RESPONSE__KIND_REGISTER);
	assert_string_equal(resp->register_->client_id, "client-a");
	netwarden__response__free_unpacked(resp, NULL);
	assert_int_equal(f->last_peer_uid, getuid());
	assert_int_equal(f->handled, 2);
	assert_int_equal(f->released, 2);
	assert_int_equal(stats(f).accepted, 1);
	assert_int_equal(stats(f).requests, 2);
	close(c);
	pump(f);
	assert_int_equal(rpc_server_clients(f->srv), 0);
}

/* Two requests in one write, and one request a byte at a time: answered in order. */
static void test_pipelined_and_trickled(void **state)
{
	struct fx *f = *state;
	Netwarden__Request req = NETWARDEN__REQUEST__INIT;
	Netwarden__RegisterRequest r = NETWARDEN__REGISTER_REQUEST__INIT;
	Netwarden__Response *resp;
	uint8_t *a, *b, both[256];
	size_t la, lb;
	int c;

	start(f);
	c = connect_client(f);
	req.kind_case = NETWARDEN__REQUEST__KIND_REGISTER;
	req.register_ = &r;
	r.client_id = "first";
	assert_int_equal(nw_frame_encode(&req.base, 1024, &a, &la), 0);
	r.client_id = "second";
	assert_int_equal(nw_frame_encode(&req.base, 1024, &b, &lb), 0);
	memcpy(both, a, la);
	memcpy(both + la, b, lb);
	send_raw(c, both, la + lb);
	assert_int_equal(get_response(f, c, &resp), 1);
	assert_string_equal(resp->register_->client_id, "first");
	netwarden__response__free_unpacked(resp, NULL);
	assert_int_equal(get_response(f, c, &resp), 1);
	assert_string_equal(resp->register_->client_id, "second");
	netwarden__response__free_unpacked(resp, NULL);

	for (size_t i = 0; i < la; i++) {
		send_raw(c, a + i, 1);
		pump(f);
		assert_int_equal(f->handled, 2 + (i == la - 1));
	}
	assert_int_equal(get_response(f, c, &resp), 1);
	assert_string_equal(resp->register_->client_id, "first");
	netwarden__response__free_unpacked(resp, NULL);
	free(a);
	free(b);
	close(c);
}

static void test_garbage_frame(void **state)
{
	struct fx *f = *state;
	static const uint8_t garbage[] = { 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff };
	int good, bad;

	start(f);
	good = connect_client(f);
	expect_served(f, good);
	bad = connect_client(f);
	send_raw(bad, garbage, sizeof(garbage));
	expect_error(f, bad, NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME);
	expect_closed(f, bad);
	expect_served(f, good);
	assert_int_equal(stats(f).bad_frames, 1);
	assert_int_equal(stats(f).requests, 2); /* the garbage is not a request */
	assert_int_equal(rpc_server_clients(f->srv), 1);
	close(bad);
	close(good);
}

static void test_empty_frame(void **state)
{
	struct fx *f = *state;
	static const uint8_t empty[] = { 0, 0, 0, 0 };
	int good, bad;

	start(f);
	good = connect_client(f);
	bad = connect_client(f);
	send_raw(bad, empty, sizeof(empty));
	expect_error(f, bad, NETWARDEN__ERROR_CODE__ERROR_BAD_FRAME);
	expect_closed(f, bad);
	expect_served(f, good);
	assert_int_equal(stats(f).bad_frames, 1);
	close(bad);
	close(good);
}

/* Decodes, but has no kind: the handler's answer goes back, the client stays. */
static void test_no_kind(void **state)
{
	struct fx *f = *state;
	/* field 99, length-delimited, one byte: a valid message with no kind */
	static const uint8_t frame[] = { 0, 0, 0, 4, 0x9a, 0x06, 0x01, 0x01 };
	int c;

	start(f);
	c = connect_client(f);
	send_raw(c, frame, sizeof(frame));
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST);
	expect_served(f, c);
	assert_int_equal(stats(f).bad_frames, 0);
	close(c);
}

static void test_oversized(void **state)
{
	struct fx *f = *state;
	static const uint32_t lens[] = { NW_FRAME_MAX_REQUEST + 1, 0x7fffffff, 0xffffffff };
	int good;

	start(f);
	good = connect_client(f);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t hdr[4];
		int bad = connect_client(f);

		nw_frame_put_header(hdr, lens[i]);
		send_raw(bad, hdr, sizeof(hdr));
		expect_error(f, bad, NETWARDEN__ERROR_CODE__ERROR_TOO_LARGE);
		expect_closed(f, bad);
		expect_served(f, good);
		close(bad);
	}
	assert_int_equal(stats(f).oversized_frames, 3);
	close(good);
}

/* The cap is configurable; exactly the cap is fine. */
static void test_configured_cap(void **state)
{
	struct fx *f = *state;
	uint8_t frame[4 + 64];
	int c;

	f->cfg.max_request = 64;
	start(f);
	c = connect_client(f);
	/* field 99 (unknown), length-delimited, 61 bytes: 3 + 61 = 64 */
	nw_frame_put_header(frame, 64);
	frame[4] = 0x9a;
	frame[5] = 0x06;
	frame[6] = 61;
	memset(frame + 7, 'z', 61);
	send_raw(c, frame, sizeof(frame));
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_BAD_REQUEST); /* decoded: no kind */
	nw_frame_put_header(frame, 65);
	send_raw(c, frame, 4);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_TOO_LARGE);
	expect_closed(f, c);
	close(c);
}

static void test_peer_authorisation(void **state)
{
	struct fx *f = *state;
	int c;

	f->cfg.allow_uids[0] = 1001;
	f->cfg.n_allow_uids = 1;
	f->cfg.allow_gids[0] = 2002;
	f->cfg.n_allow_gids = 1;
	start(f);
	fake.on = true;

	/* neither uid nor gid nor any group */
	fake.cred = (struct ucred){ .pid = 1, .uid = 1234, .gid = 1234 };
	fake.n_groups = 2;
	fake.groups[0] = 5;
	fake.groups[1] = 6;
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_PERMISSION);
	expect_closed(f, c);
	close(c);
	assert_int_equal(stats(f).refused_peercred, 1);
	assert_int_equal(stats(f).accepted, 0);
	assert_int_equal(rpc_server_clients(f->srv), 0);
	assert_int_equal(f->handled, 0);

	/* SO_PEERGROUPS unsupported: primary gid only */
	fake.n_groups = -1;
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_PERMISSION);
	close(c);

	/* credentials unreadable: refused */
	fake.peercred_errno = EBADF;
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_PERMISSION);
	close(c);
	fake.peercred_errno = 0;
	assert_int_equal(stats(f).refused_peercred, 3);

	/* root */
	fake.cred.uid = 0;
	c = connect_client(f);
	expect_served(f, c);
	assert_int_equal(f->last_peer_uid, 0);
	close(c);

	/* allowed uid */
	fake.cred.uid = 1001;
	c = connect_client(f);
	expect_served(f, c);
	close(c);

	/* allowed primary gid */
	fake.cred.uid = 1234;
	fake.cred.gid = 2002;
	c = connect_client(f);
	expect_served(f, c);
	close(c);

	/* allowed supplementary group, also when the list needs a bigger buffer */
	fake.cred.gid = 1234;
	fake.n_groups = 3;
	fake.groups[2] = 2002;
	c = connect_client(f);
	expect_served(f, c);
	close(c);
	fake.n_groups = 100; /* more than the first getsockopt buffer holds */
	for (int i = 0; i < 100; i++)
		fake.groups[i] = 3000 + (gid_t)i;
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_PERMISSION);
	close(c);
	fake.groups[99] = 2002;
	c = connect_client(f);
	expect_served(f, c);
	close(c);
	assert_int_equal(stats(f).accepted, 5);
	assert_int_equal(stats(f).refused_peercred, 4);
}

/* Groups are not consulted when no gid is allowed, and uid 0 is not "a gid". */
static void test_only_root_by_default(void **state)
{
	struct fx *f = *state;
	int c;

	start(f);
	fake.on = true;
	fake.cred = (struct ucred){ .pid = 1, .uid = 1, .gid = 0 };
	fake.n_groups = 1;
	fake.groups[0] = 0;
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_PERMISSION);
	close(c);
}

static void test_max_clients(void **state)
{
	struct fx *f = *state;
	int a, b, c, d;

	f->cfg.max_clients = 2;
	start(f);
	a = connect_client(f);
	b = connect_client(f);
	pump(f);
	assert_int_equal(rpc_server_clients(f->srv), 2);
	c = connect_client(f);
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_BUSY);
	expect_closed(f, c);
	assert_int_equal(stats(f).refused_busy, 1);
	expect_served(f, a);
	expect_served(f, b);
	close(a);
	pump(f);
	assert_int_equal(rpc_server_clients(f->srv), 1);
	d = connect_client(f);
	expect_served(f, d);
	assert_int_equal(stats(f).accepted, 3);
	close(b);
	close(c);
	close(d);
}

static void test_idle_timeout(void **state)
{
	struct fx *f = *state;
	static const uint8_t half[] = { 0, 0 };
	int idle, partial, busy;
	uint64_t t = 1000000;

	f->cfg.idle_timeout_ms = 5000;
	start(f);
	idle = connect_client(f);
	partial = connect_client(f);
	busy = connect_client(f);
	pump(f);
	send_raw(partial, half, sizeof(half));
	pump(f);
	for (int i = 0; i < 6; i++, t += 1000) {
		rpc_server_tick(f->srv, t);
		expect_served(f, busy);
		/* trickling bytes of a frame that never completes is not activity */
		if (i == 3) {
			send_raw(partial, half, 1);
			pump(f);
		}
	}
	assert_int_equal(rpc_server_clients(f->srv), 3);
	rpc_server_tick(f->srv, t);
	assert_int_equal(rpc_server_clients(f->srv), 1);
	assert_int_equal(stats(f).timeouts, 2);
	expect_closed(f, idle);
	expect_closed(f, partial);
	expect_served(f, busy);
	close(idle);
	close(partial);
	close(busy);
}

/* Bytes of a response not yet written, summed over the server's clients. */
static size_t out_pending(struct fx *f)
{
	size_t n = 0;

	for (struct rpc_client *c = f->srv->clients; c; c = c->next)
		n += c->out_len - c->out_off;
	return n;
}

/* A client that does not read a 4 MiB answer: the loop never blocks, others
 * are served, the reader that stalled gets every byte when it reads. */
static void test_slow_reader(void **state)
{
	struct fx *f = *state;
	Netwarden__Response *resp;
	int slow, good;

	start(f);
	slow = connect_client(f);
	good = connect_client(f);
	send_register(slow, "big");
	pump(f);
	assert_int_equal(f->handled, 1);
	assert_int_equal(f->released, 1); /* encoded: released at once, bytes buffered */
	assert_true(out_pending(f) > 0);
	/* a second request from the slow client waits until its answer is out */
	send_stats(slow);
	pump(f);
	assert_int_equal(f->handled, 1);
	expect_served(f, good);
	expect_served(f, good);
	assert_int_equal(get_response(f, slow, &resp), 1);
	assert_int_equal(resp->kind_case, NETWARDEN__RESPONSE__KIND_REGISTER);
	assert_int_equal(strlen(resp->register_->client_id), BIG_ID_LEN);
	netwarden__response__free_unpacked(resp, NULL);
	assert_int_equal(get_response(f, slow, &resp), 1);
	assert_int_equal(resp->kind_case, NETWARDEN__RESPONSE__KIND_GET_STATS);
	netwarden__response__free_unpacked(resp, NULL);
	close(slow);
	close(good);
}

/* A client that hangs up in the middle of its answer costs nothing but itself. */
static void test_hangup_mid_response(void **state)
{
	struct fx *f = *state;
	int slow, good;

	start(f);
	good = connect_client(f);
	slow = connect_client(f);
	send_register(slow, "big");
	pump(f);
	close(slow);
	pump(f);
	assert_int_equal(rpc_server_clients(f->srv), 1);
	expect_served(f, good);
	close(good);
}

/* A handler that fills nothing in: an INTERNAL error, the client stays. */
static void test_handler_without_answer(void **state)
{
	struct fx *f = *state;
	int c;

	start(f);
	c = connect_client(f);
	send_register(c, "none");
	expect_error(f, c, NETWARDEN__ERROR_CODE__ERROR_INTERNAL);
	expect_served(f, c);
	close(c);
}

static void test_accept_failures(void **state)
{
	struct fx *f = *state;
	int c;

	start(f);
	/* a transient error: the next wakeup accepts */
	accept_fail_errno = ECONNABORTED;
	c = connect_client(f);
	expect_served(f, c);
	close(c);
	/* out of fds: stop polling the listener (no busy loop) until the next tick */
	accept_fail_errno = EMFILE;
	c = connect_client(f);
	pump(f);
	assert_true(f->srv->listen_paused);
	assert_int_equal(rpc_server_clients(f->srv), 0);
	assert_int_equal(evloop_run_once(f->loop, 0), 0); /* not polled: no spinning */
	rpc_server_tick(f->srv, 1000);
	assert_false(f->srv->listen_paused);
	expect_served(f, c);
	close(c);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct rpc_config cfg = { .n_allow_uids = RPC_MAX_ALLOW + 1 };
	struct rpc_stats s;

	f->loop = evloop_new();
	errno = 0;
	assert_null(rpc_server_new(-1, f->loop, NULL, handle, release, f));
	assert_int_equal(errno, EINVAL);
	assert_null(rpc_server_new(f->lfd, NULL, NULL, handle, release, f));
	assert_null(rpc_server_new(f->lfd, f->loop, NULL, NULL, release, f));
	assert_null(rpc_server_new(f->lfd, f->loop, &cfg, handle, release, f));
	rpc_server_free(NULL);
	rpc_server_tick(NULL, 1);
	assert_int_equal(rpc_server_clients(NULL), 0);
	rpc_server_get_stats(NULL, &s);
	assert_int_equal(s.accepted, 0);
	/* defaults */
	f->srv = rpc_server_new(f->lfd, f->loop, NULL, handle, release, f);
	assert_non_null(f->srv);
	assert_int_equal(f->srv->cfg.max_clients, RPC_MAX_CLIENTS_DEFAULT);
	assert_int_equal(f->srv->cfg.max_request, NW_FRAME_MAX_REQUEST);
	assert_int_equal(f->srv->cfg.idle_timeout_ms, RPC_IDLE_TIMEOUT_DEFAULT_MS);
	assert_true(fcntl(f->lfd, F_GETFL) & O_NONBLOCK);
}

/* Freeing the server closes its clients, not the listening socket. */
static void test_free_closes_clients(void **state)
{
	struct fx *f = *state;
	char byte;
	int a, b;

	start(f);
	a = connect_client(f);
	b = connect_client(f);
	pump(f);
	rpc_server_free(f->srv);
	f->srv = NULL;
	assert_int_equal(recv(a, &byte, 1, MSG_DONTWAIT), 0);
	assert_int_equal(recv(b, &byte, 1, MSG_DONTWAIT), 0);
	assert_true(fcntl(f->lfd, F_GETFD) >= 0);
	close(a);
	close(b);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_good_requests),
		T(test_pipelined_and_trickled),
		T(test_garbage_frame),
		T(test_empty_frame),
		T(test_no_kind),
		T(test_oversized),
		T(test_configured_cap),
		T(test_peer_authorisation),
		T(test_only_root_by_default),
		T(test_max_clients),
		T(test_idle_timeout),
		T(test_slow_reader),
		T(test_hangup_mid_response),
		T(test_handler_without_answer),
		T(test_accept_failures),
		T(test_bad_arguments),
		T(test_free_closes_clients),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
