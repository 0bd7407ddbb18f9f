// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The worker's epoll loop (unprivileged/evloop.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "unprivileged/evloop.h"

#define EVLOOP_BATCH 64

struct evloop {
	int epfd;
	/* the batch being dispatched: evloop_del() forgets pending events of a
	 * handler removed by an earlier callback of the same batch */
	struct epoll_event batch[EVLOOP_BATCH];
	int n_batch;
};

struct evloop *evloop_new(void)
{
	struct evloop *loop = calloc(1, sizeof(*loop));

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int e = errno;
		free(loop);
		errno = e;
		return NULL;
	}
	return loop;
}

void evloop_free(struct evloop *loop)
{
	if (!loop)
		return;
	close(loop->epfd);
	free(loop);
}

int evloop_fd(const struct evloop *loop)
{
	return loop ? loop->epfd : -1;
}

static int ctl(struct evloop *loop, int op, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = h };

	if (!loop || !h || h->fd < 0 || (op != EPOLL_CTL_DEL && !h->fn))
		return -EINVAL;
	if (epoll_ctl(loop->epfd, op, h->fd, &ev) < 0)
		return -errno;
	return 0;
}

int evloop_add(struct evloop *loop, struct ev_handler *h, uint32_t events)
{
	return ctl(loop, EPOLL_CTL_ADD, h, events);
}

int evloop_mod(struct evloop *loop, struct ev_handler *h, uint32_t events)
{
	return ctl(loop, EPOLL_CTL_MOD, h, events);
}

int evloop_del(struct evloop *loop, struct ev_handler *h)
{
	int err = ctl(loop, EPOLL_CTL_DEL, h, 0);

	if (loop && h)
		for (int i = 0; i < loop->n_batch; i++)
			if (loop->batch[i].data.ptr == h)
				loop->batch[i].data.ptr = NULL;
	return err;
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	int n, handled = 0;

	if (!loop)
		return -EINVAL;
	n = epoll_wait(loop->epfd, loop->batch, EVLOOP_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	loop->n_batch = n;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = loop->batch[i].data.ptr;
		if (!h)
			continue;
		h->fn(h, loop->batch[i].events);
		handled++;
	}
	loop->n_batch = 0;
	return handled;
}
