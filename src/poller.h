/* SPDX-License-Identifier: MIT */
/* poller.h - the readiness service: one epoll thread per process where
 * requests wait for their file to be ready (POLL, and reads and writes
 * on pipes, sockets and eventfds that would block).  Not an executor:
 * submit and the executors hand it RUNNING requests. */
#ifndef UAIO_POLLER_H
#define UAIO_POLLER_H

#include "internal.h"

/* 0 when the poller runs or could be started now, -EAGAIN when its
 * thread cannot be created, else epoll_create1's -errno. */
int poller_reserve(void);
/* Takes ownership of a RUNNING request: it waits here until ready. */
void poller_arm(struct uaio_req *req);
/* A canceller's exchange for a WAITING request (active_lock held);
 * true when it won and took req out of its group. */
bool poller_cancel(struct uaio_req *req);
/* The res of a POLL that became ready with revents, as the kernel's. */
unsigned poll_wake_result(const struct uaio_req *req, unsigned revents);
void poller_atfork_prepare(void);
void poller_atfork_parent(void);
void poller_atfork_child(void);
#endif
