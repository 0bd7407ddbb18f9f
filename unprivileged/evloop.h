/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The worker's one epoll loop. Every fd registers a handler; epoll's data.ptr
 * points at it. Callbacks run to completion, never block. */
#ifndef NW_EVLOOP_H
#define NW_EVLOOP_H

#include <stdint.h>

struct evloop;
struct ev_handler;

typedef void (*ev_handler_fn)(struct ev_handler *h, uint32_t events);

/* Embed this in the object owning the fd; container_of back in the callback. */
struct ev_handler {
	int fd;
	ev_handler_fn fn;
};

struct evloop *evloop_new(void);                 /* NULL + errno */
void evloop_free(struct evloop *loop);           /* accepts NULL; does not close handler fds */
int evloop_add(struct evloop *loop, struct ev_handler *h, uint32_t events);  /* 0 / -errno */
int evloop_mod(struct evloop *loop, struct ev_handler *h, uint32_t events);
int evloop_del(struct evloop *loop, struct ev_handler *h);
/* The epoll fd (to keep it open across the privilege drop), or -1. */
int evloop_fd(const struct evloop *loop);
/* Wait up to timeout_ms (-1 forever) and dispatch. Returns events handled or -errno (EINTR is 0). */
int evloop_run_once(struct evloop *loop, int timeout_ms);

#endif
