// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The fd manifest (sandbox/manifest.h): one SCM_RIGHTS message from the
 * loader to the worker, received and checked strictly. Anything unexpected
 * closes every fd that arrived and fails.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct ucred */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <bpf/bpf.h>

#include "capture.h"
#include "conn.h"
#include "usm.h"
#include "sandbox/manifest.h"
#include "sandbox/supervisor.h"

#define PERF_PAGES_MAX 1024u

static const char *const role_names[NW_FD_ROLE_MAX] = {
	[NW_FD_NONE] = "none",
	[NW_FD_RPC_LISTEN] = "rpc-listen",
	[NW_FD_CONNS_MAP] = "conns-map",
	[NW_FD_CLOSED_RINGBUF] = "closed-ringbuf",
	[NW_FD_CLOSED_PERF] = "closed-perf",
	[NW_FD_TELEMETRY_MAP] = "telemetry-map",
	[NW_FD_CLOSED_BATCH] = "closed-batch-map",
	[NW_FD_PKT_RINGBUF] = "pkt-ringbuf",
	[NW_FD_PKT_TELEMETRY] = "pkt-telemetry-map",
	[NW_FD_PKT_FORWARD] = "pkt-forward",
	[NW_FD_USM_RINGBUF] = "usm-ringbuf",
	[NW_FD_USM_TELEMETRY] = "usm-telemetry-map",
	[NW_FD_SUPERVISOR_MAP] = "supervisor-map",
};

const char *nw_manifest_role_name(unsigned int role)
{
	if (role >= NW_FD_ROLE_MAX || !role_names[role])
		return "unknown";
	return role_names[role];
}

int nw_manifest_send(int sock, const struct nw_manifest *m, const int *fds)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * NW_MANIFEST_MAX_FDS)];
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	struct cmsghdr *c;
	uint16_t count;
	ssize_t n;

	if (!m || m->hdr.count > NW_MANIFEST_MAX_FDS || (m->hdr.count && !fds))
		return -EINVAL;
	count = m->hdr.count;
	for (uint16_t i = 0; i < count; i++)
		if (fds[i] < 0)
			return -EBADF;

	memset(&msg, 0, sizeof(msg));
	iov.iov_base = (void *)m;
	iov.iov_len = nw_manifest_wire_size(count);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (count) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * count);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * count);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != iov.iov_len)
		return -EMSGSIZE;
	return 0;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Collect every fd from every control message first (so that all of them can
 * be closed on error), then judge the control messages.
 */
static int collect_fds(struct msghdr *msg, int *got, size_t *ngot)
{
	int err = 0, ncmsg = 0;

	*ngot = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		ncmsg++;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			err = -EBADMSG; /* e.g. SCM_CREDENTIALS: nothing to close */
			continue;
		}
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			if (*ngot < NW_MANIFEST_MAX_FDS + 1)
				got[(*ngot)++] = fd;
			else
				close(fd); /* cannot happen with our buffer size; be safe */
		}
	}
	if (ncmsg > 1)
		err = -EBADMSG;
	return err;
}

int nw_manifest_recv(int sock, struct nw_manifest *m, int *fds, size_t max_fds)
{
	/* one spare byte catches an oversized message on stream sockets too */
	unsigned char data[sizeof(struct nw_manifest) + 1];
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * NW_MANIFEST_MAX_FDS)];
	} ctl;
	int got[NW_MANIFEST_MAX_FDS + 1];
	size_t ngot = 0, cap = max_fds < NW_MANIFEST_MAX_FDS ? max_fds : NW_MANIFEST_MAX_FDS;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg;
	struct nw_manifest_hdr hdr;
	ssize_t n;
	int err;

	if (!m || (max_fds && !fds))
		return -EINVAL;
	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = cap ? CMSG_SPACE(sizeof(int) * cap) : 0;
	if (!cap)
		msg.msg_control = NULL;

	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;

	err = collect_fds(&msg, got, &ngot);
	if (err)
		goto fail;
	if (n == 0 && ngot == 0) {
		err = -ECONNRESET; /* peer closed without sending */
		goto fail;
	}
	if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		err = -EMSGSIZE;
		goto fail;
	}
	if ((size_t)n < sizeof(hdr)) {
		err = -EMSGSIZE;
		goto fail;
	}
	memcpy(&hdr, data, sizeof(hdr));
	if (hdr.magic != NW_MANIFEST_MAGIC || hdr.version != NW_MANIFEST_VERSION) {
		err = -EPROTO;
		goto fail;
	}
	if (hdr.count > NW_MANIFEST_MAX_FDS || hdr.count != ngot || hdr.count > max_fds) {
		err = -EBADMSG;
		goto fail;
	}
	if ((size_t)n != nw_manifest_wire_size(hdr.count)) {
		err = (size_t)n < nw_manifest_wire_size(hdr.count) ? -EMSGSIZE : -EBADMSG;
		goto fail;
	}
	memset(m, 0, sizeof(*m));
	memcpy(m, data, (size_t)n);
	for (uint16_t i = 0; i < hdr.count; i++) {
		uint16_t role = m->entries[i].role;
		if (role == NW_FD_NONE || role >= NW_FD_ROLE_MAX) {
			err = -EINVAL;
			goto fail;
		}
	}
	memcpy(fds, got, sizeof(int) * ngot);
	return (int)hdr.count;

fail:
	close_all(got, ngot);
	return err;
}

/* The anon inode behind an fd, e.g. "anon_inode:bpf-map". */
static int fd_link(int fd, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int check_listen_socket(int fd)
{
	int val = 0;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	if (val != AF_UNIX)
		return -EPROTOTYPE;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0)
		return -errno;
	if (val != SOCK_STREAM)
		return -EPROTOTYPE;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0)
		return -errno;
	return val ? 0 : -EINVAL;
}

/*
 * The worker's end of the loader's forwarding socketpair: a connected AF_UNIX
 * SOCK_SEQPACKET socket whose peer runs as our (still root) uid: the loader.
 * Anything else (a packet socket above all) is refused.
 */
static int check_forward_socket(int fd)
{
	struct ucred peer;
	int val = 0;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	if (val != AF_UNIX)
		return -EPROTOTYPE;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len) < 0)
		return -errno;
	if (val != SOCK_SEQPACKET)
		return -EPROTOTYPE;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0)
		return -errno;
	if (val)
		return -EINVAL;
	/* an unconnected socket has no peer credentials (overflow uid); the
	 * pid is not looked at: the worker's pid namespace cannot see ours */
	len = sizeof(peer);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) < 0)
		return -errno;
	return peer.uid == geteuid() ? 0 : -EACCES;
}

struct map_expect {
	uint32_t type;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries; /* 0: any */
	const char *name;
};

static int check_map(int fd, const struct map_expect *x)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	char link[64];
	int err;

	/* A prog or link fd would also answer OBJ_GET_INFO: check the kind first. */
	err = fd_link(fd, link, sizeof(link));
	if (err)
		return err;
	if (strcmp(link, "anon_inode:bpf-map") != 0)
		return -EBADFD;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -EBADFD;
	if (info.type != x->type || info.key_size != x->key_size ||
	    info.value_size != x->value_size)
		return -EBADFD;
	if (x->max_entries && info.max_entries != x->max_entries)
		return -EBADFD;
	if (x->name && strncmp(info.name, x->name, sizeof(info.name)) != 0)
		return -EBADFD;
	return 0;
}

static int check_perf(int fd)
{
	char link[64];
	__u64 id;
	int err;

	err = fd_link(fd, link, sizeof(link));
	if (err)
		return err;
	if (strcmp(link, "anon_inode:[perf_event]") != 0)
		return -EBADFD;
	if (ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0)
		return -EBADFD;
	return 0;
}

int nw_manifest_verify_entry(const struct nw_manifest_entry *e, int fd)
{
	static const struct map_expect conns = {
		BPF_MAP_TYPE_HASH, sizeof(struct nw_conn_key), sizeof(struct nw_conn), 0, NW_MAP_CONNS,
	};
	static const struct map_expect ring = { BPF_MAP_TYPE_RINGBUF, 0, 0, 0, NW_MAP_CLOSED_RB };
	static const struct map_expect tel = {
		BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), NW_TEL_MAX, NW_MAP_TELEMETRY,
	};
	static const struct map_expect batch = {
		BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct nw_conn_batch), 1,
		NW_MAP_CLOSED_BATCH,
	};
	static const struct map_expect pkt_ring = { BPF_MAP_TYPE_RINGBUF, 0, 0, 0, NW_MAP_PKT_RB };
	static const struct map_expect pkt_tel = {
		BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), NW_PKT_TEL_MAX, NW_MAP_PKT_TEL,
	};
	static const struct map_expect usm_ring = { BPF_MAP_TYPE_RINGBUF, 0, 0, 0, NW_MAP_USM_RB };
	static const struct map_expect usm_tel = {
		BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64), USM_TEL_MAX, NW_MAP_USM_TEL,
	};
	int fl, err;

	if (!e || fd < 0)
		return -EINVAL;
	if (e->flags & ~NW_FD_F_RDONLY)
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	switch (e->role) {
	case NW_FD_RPC_LISTEN:
		if (e->flags || e->arg)
			return -EINVAL;
		return check_listen_socket(fd);
	case NW_FD_CONNS_MAP:
		err = check_map(fd, &conns);
		break;
	case NW_FD_CLOSED_RINGBUF:
		err = check_map(fd, &ring);
		break;
	case NW_FD_TELEMETRY_MAP:
		err = check_map(fd, &tel);
		break;
	case NW_FD_CLOSED_PERF:
		err = check_perf(fd);
		break;
	case NW_FD_CLOSED_BATCH:
		if (!(e->flags & NW_FD_F_RDONLY))
			return -EACCES; /* the worker only reads pending batches */
		err = check_map(fd, &batch);
		break;
	case NW_FD_PKT_RINGBUF:
		if (e->flags)
			return -EINVAL;
		err = check_map(fd, &pkt_ring);
		break;
	case NW_FD_PKT_TELEMETRY:
		if (!(e->flags & NW_FD_F_RDONLY))
			return -EACCES; /* the worker only reads the capture's counters */
		err = check_map(fd, &pkt_tel);
		break;
	case NW_FD_PKT_FORWARD:
		if (e->flags || e->arg)
			return -EINVAL;
		return check_forward_socket(fd);
	case NW_FD_USM_RINGBUF:
		/* the protocols it carries: at least one, none unknown */
		if (e->flags || !e->arg || (e->arg & ~USM_PROTO_MASK_ALL))
			return -EINVAL;
		err = check_map(fd, &usm_ring);
		break;
	case NW_FD_USM_TELEMETRY:
		if (!(e->flags & NW_FD_F_RDONLY))
			return -EACCES; /* the worker only reads the capture's counters */
		err = check_map(fd, &usm_tel);
		break;
	case NW_FD_SUPERVISOR_MAP: {
		static const struct map_expect sup = {
			BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64), NW_SUP_MAX, NW_MAP_SUPERVISOR,
		};
		if (!(e->flags & NW_FD_F_RDONLY))
			return -EACCES; /* the loader's counters: the worker only reads them */
		err = check_map(fd, &sup);
		break;
	}
	default:
		return -EINVAL;
	}
	if (err)
		return err;
	if (e->role != NW_FD_CLOSED_PERF && e->role != NW_FD_USM_RINGBUF && e->arg)
		return -EINVAL;
	if ((e->flags & NW_FD_F_RDONLY) && (fl & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	return 0;
}

static int check_complete(const struct nw_manifest *m)
{
	unsigned int n[NW_FD_ROLE_MAX] = { 0 };
	bool cpu_seen[NW_MANIFEST_MAX_FDS] = { false };
	uint16_t count = m->hdr.count;

	for (uint16_t i = 0; i < count; i++) {
		const struct nw_manifest_entry *e = &m->entries[i];
		if (e->role == NW_FD_NONE || e->role >= NW_FD_ROLE_MAX)
			return -EINVAL;
		n[e->role]++;
		if (e->role == NW_FD_CLOSED_PERF) {
			if (e->arg >= NW_MANIFEST_MAX_FDS)
				return -EINVAL;
			if (cpu_seen[e->arg])
				return -EEXIST;
			cpu_seen[e->arg] = true;
		}
	}
	if (n[NW_FD_RPC_LISTEN] > 1 || n[NW_FD_CONNS_MAP] > 1 || n[NW_FD_TELEMETRY_MAP] > 1 ||
	    n[NW_FD_CLOSED_RINGBUF] > 1 || n[NW_FD_CLOSED_BATCH] > 1 || n[NW_FD_PKT_RINGBUF] > 1 ||
	    n[NW_FD_PKT_TELEMETRY] > 1 || n[NW_FD_PKT_FORWARD] > 1 || n[NW_FD_USM_RINGBUF] > 1 ||
	    n[NW_FD_USM_TELEMETRY] > 1 || n[NW_FD_SUPERVISOR_MAP] > 1)
		return -EEXIST;
	if (n[NW_FD_USM_RINGBUF] != n[NW_FD_USM_TELEMETRY])
		return -ENOENT; /* USM capture: the ring with its counters, or neither */
	/* DNS capture: the ring with its counters, or the forwarding socket, or none */
	if (n[NW_FD_PKT_RINGBUF] && n[NW_FD_PKT_FORWARD])
		return -EEXIST;
	if (n[NW_FD_PKT_RINGBUF] != n[NW_FD_PKT_TELEMETRY])
		return -ENOENT;
	if (!n[NW_FD_RPC_LISTEN] || !n[NW_FD_CONNS_MAP] || !n[NW_FD_TELEMETRY_MAP])
		return -ENOENT;
	if (n[NW_FD_CLOSED_RINGBUF] && n[NW_FD_CLOSED_PERF])
		return -EEXIST; /* exactly one event mode */
	if (n[NW_FD_CLOSED_RINGBUF])
		return m->hdr.perf_pages == 0 && !n[NW_FD_CLOSED_BATCH] ? 0 : -EINVAL;
	if (!n[NW_FD_CLOSED_PERF] || !n[NW_FD_CLOSED_BATCH])
		return -ENOENT;
	for (unsigned int cpu = 0; cpu < n[NW_FD_CLOSED_PERF]; cpu++)
		if (!cpu_seen[cpu])
			return -ENOENT; /* a gap: cpus must be 0..n-1 */
	if (!m->hdr.perf_pages || m->hdr.perf_pages > PERF_PAGES_MAX ||
	    (m->hdr.perf_pages & (m->hdr.perf_pages - 1)))
		return -EINVAL;
	return 0;
}

int nw_manifest_verify(const struct nw_manifest *m, const int *fds)
{
	int err;

	if (!m || !fds || m->hdr.magic != NW_MANIFEST_MAGIC ||
	    m->hdr.version != NW_MANIFEST_VERSION || m->hdr.count > NW_MANIFEST_MAX_FDS)
		return -EINVAL;
	for (uint16_t i = 0; i < m->hdr.count; i++) {
		err = nw_manifest_verify_entry(&m->entries[i], fds[i]);
		if (err)
			return err;
	}
	return check_complete(m);
}
