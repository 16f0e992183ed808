/* SPDX-License-Identifier: MIT */
/* libaio.c - libaio 0.3.113's interface on uaio, for a drop-in libaio.so.1.
 *
 * Every function keeps libaio's name, signature, symbol version and
 * return convention (-errno, errno untouched).  libaio itself is a thin
 * layer over the system calls; the few places where it does work of its
 * own are reproduced here exactly:
 *  - io_getevents/io_pgetevents answer 0 without entering the kernel when
 *    the timeout is zero and the ring is empty, whatever the other
 *    arguments say;
 *  - io_queue_init refuses maxevents <= 0 and clears *ctxp before setup;
 *  - io_queue_run hands each event to the callback stored in aio_data;
 *  - the LIBAIO_0.1 compatibility entry points take the old signatures.
 * Where libaio would crash (it reads a bogus context's memory, writes
 * through a bad ctxp in io_queue_init) uaio answers -EINVAL / -EFAULT. */
#include "internal.h"
#include <errno.h>
#include <stddef.h>

/* libaio's io_context_t is an opaque pointer with the same value as the
 * kernel's aio_context_t; its struct iocb and io_event are the kernel's
 * layout under other field names, so the kernel types are used here. */
typedef void *io_context_t;
typedef void (*io_callback_t)(io_context_t ctx, struct iocb *iocb, long res, long res2);

#define EXPORT UAIO_API
#define SYMVER(impl, name) __asm__(".symver " #impl "," name)

static aio_context_t handle(io_context_t ctx)
{
	return (aio_context_t)(uintptr_t)ctx;
}

/* libaio's aio_ring_is_empty(): a zero timeout on an empty ring of a live
 * context answers 0 before any argument is looked at.  The timeout is
 * read (checked, unless the context has UAIO_F_NOCHECK) only when the
 * ring is empty, so a reaper with events waiting pays no extra call. */
static bool ring_empty_shortcut(io_context_t ctx, const struct timespec *timeout)
{
	struct uaio_ctx *c;
	struct timespec t;
	bool empty;

	if (!ctx || !timeout || !(c = ctx_get(handle(ctx))))
		return false;
	/* relaxed: a snapshot, as libaio's plain reads of the ring are. */
	empty = atomic_load_explicit((_Atomic unsigned *)&c->ring->head, memory_order_relaxed) ==
		atomic_load_explicit((_Atomic unsigned *)&c->ring->tail, memory_order_relaxed);
	if (empty && ua_read(!(c->flags & UAIO_F_NOCHECK), &t,
			     (uint64_t)(uintptr_t)timeout, sizeof(t)) < 0)
		empty = false;		/* getevents answers -EFAULT */
	ctx_put(c);
	return empty && !t.tv_sec && !t.tv_nsec;
}

EXPORT int io_setup(int maxevents, io_context_t *ctxp)
{
	return uaio_setup((unsigned)maxevents, (aio_context_t *)ctxp);
}

EXPORT int io_destroy(io_context_t ctx)
{
	return uaio_destroy(handle(ctx));
}

EXPORT int io_submit(io_context_t ctx, long nr, struct iocb **iocbs)
{
	return uaio_submit(handle(ctx), nr, iocbs);
}

SYMVER(io_cancel_0_4, "io_cancel@@LIBAIO_0.4");
EXPORT int io_cancel_0_4(io_context_t ctx, struct iocb *iocb, struct io_event *evt)
{
	return uaio_cancel(handle(ctx), iocb, evt);
}

SYMVER(io_getevents_0_4, "io_getevents@@LIBAIO_0.4");
EXPORT int io_getevents_0_4(io_context_t ctx, long min_nr, long nr,
			    struct io_event *events, struct timespec *timeout)
{
	if (ring_empty_shortcut(ctx, timeout))
		return 0;
	return uaio_getevents(handle(ctx), min_nr, nr, events, timeout);
}

EXPORT int io_pgetevents(io_context_t ctx, long min_nr, long nr,
			 struct io_event *events, struct timespec *timeout,
			 sigset_t *sigmask)
{
	if (ring_empty_shortcut(ctx, timeout))
		return 0;
	return uaio_pgetevents(handle(ctx), min_nr, nr, events, timeout, sigmask);
}

EXPORT int io_queue_init(int maxevents, io_context_t *ctxp)
{
	io_context_t zero = NULL;

	if (maxevents <= 0)
		return -EINVAL;
	if (ua_write(true, (uint64_t)(uintptr_t)ctxp, &zero, sizeof(zero)) < 0)
		return -EFAULT;
	return io_setup(maxevents, ctxp);
}

EXPORT int io_queue_release(io_context_t ctx)
{
	return io_destroy(ctx);
}

SYMVER(io_queue_wait_0_4, "io_queue_wait@@LIBAIO_0.4");
EXPORT int io_queue_wait_0_4(io_context_t ctx, struct timespec *timeout)
{
	return io_getevents_0_4(ctx, 0, 0, NULL, timeout);
}

/* Reaps what is ready, one event at a time as libaio does, calling the
 * callback io_set_callback() stored in aio_data.  Returns 0 when the
 * ring is drained, or the error getevents gave. */
EXPORT int io_queue_run(io_context_t ctx)
{
	struct timespec zero = { 0, 0 };
	struct io_event ev;
	int ret;

	while ((ret = io_getevents_0_4(ctx, 0, 1, &ev, &zero)) == 1) {
		io_callback_t cb = (io_callback_t)(uintptr_t)ev.data;

		cb(ctx, (struct iocb *)(uintptr_t)ev.obj, (long)ev.res, (long)ev.res2);
	}
	return ret;
}

/* LIBAIO_0.1: the signatures of libaio before 0.4, kept for old binaries. */
SYMVER(io_cancel_0_1, "io_cancel@LIBAIO_0.1");
EXPORT int io_cancel_0_1(io_context_t ctx, struct iocb *iocb)
{
	struct io_event ev;

	return io_cancel_0_4(ctx, iocb, &ev);
}

SYMVER(io_getevents_0_1, "io_getevents@LIBAIO_0.1");
EXPORT int io_getevents_0_1(io_context_t ctx, long nr, struct io_event *events,
			    const struct timespec *timeout)
{
	return io_getevents_0_4(ctx, 1, nr, events, (struct timespec *)timeout);
}

SYMVER(io_queue_wait_0_1, "io_queue_wait@LIBAIO_0.1");
EXPORT int io_queue_wait_0_1(io_context_t ctx, const struct timespec *timeout)
{
	return io_getevents_0_4(ctx, 0, 0, NULL, (struct timespec *)timeout);
}
