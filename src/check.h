/* SPDX-License-Identifier: MIT */
/* check.h - UAIO_CHECK, the misuse checker (check.c).  Every hook is one
 * line behind `if (unlikely(g_check))`: off, a checker costs one
 * predictable branch on a flag written once, before any context exists. */
#ifndef UAIO_CHECK_H
#define UAIO_CHECK_H

#include "internal.h"

#define unlikely(x) __builtin_expect(!!(x), 0)

/* Set by check_init (the first setup, under process.c's once, before
 * any context is published through the table lock); never changed
 * after, so a plain read is ordered by that lock. */
extern bool g_check;

/* process.c: the first setup, with config()->check (CHECK_* bits). */
void check_init(unsigned level);
void check_atfork_child(void);
/* submit.c: a request completed inside submit (checked against those in
 * flight), one about to be handed on (checked, then entered), and one
 * entered whose dispatch found the context destroyed. */
void check_inline(const struct uaio_req *req);
void check_dispatch(const struct uaio_req *req);
void check_undo(const struct uaio_req *req);
/* submit.c: submit answers -EAGAIN, no slot left. */
void check_ring_full(struct uaio_ctx *ctx);
/* events.c: events about to be posted; those of handed-on requests (a
 * stamp other than STAMP_INLINE) leave the in-flight table. */
void check_posted(const struct uaio_ctx *ctx, uint64_t obj, uint64_t stamp);
void check_posted_many(const struct uaio_ctx *ctx, const struct io_event *evs,
		       const uint64_t *stamps, int n);
/* events.c: getevents, its timeout copied in (min_nr 0 only). */
void check_getevents(const struct uaio_ctx *ctx, long min_nr, const struct timespec *ts);
/* context.c: destroy, once it is decided. */
void check_destroy(struct uaio_ctx *ctx);
/* The executors, just before a write's data leaves its buffer. */
void check_before_write(const struct uaio_req *req);

#endif
