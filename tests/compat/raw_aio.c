/* Issue 7: libaio's interface written with raw system calls, as programs
 * that never link libaio (Seastar, stress-ng, nginx) issue them.  Linked
 * with tests/compat/libaio_cases.c instead of -laio, it turns that program
 * into a raw-syscall user; tests/syscalls_compare.sh runs it on the kernel
 * and under `uaio-run --syscalls`.  io_queue_* keep libaio's own logic. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <libaio.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

int io_queue_wait(io_context_t ctx, struct timespec *timeout);

static int raw(long r)
{
	return r < 0 ? -errno : (int)r;
}

int io_setup(int maxevents, io_context_t *ctxp)
{
	return raw(syscall(SYS_io_setup, maxevents, ctxp));
}

int io_destroy(io_context_t ctx)
{
	return raw(syscall(SYS_io_destroy, ctx));
}

int io_submit(io_context_t ctx, long nr, struct iocb *ios[])
{
	return raw(syscall(SYS_io_submit, ctx, nr, ios));
}

int io_cancel(io_context_t ctx, struct iocb *iocb, struct io_event *evt)
{
	return raw(syscall(SYS_io_cancel, ctx, iocb, evt));
}

int io_getevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
		 struct timespec *timeout)
{
	return raw(syscall(SYS_io_getevents, ctx, min_nr, nr, events, timeout));
}

int io_pgetevents(io_context_t ctx, long min_nr, long nr, struct io_event *events,
		  struct timespec *timeout, sigset_t *sigmask)
{
	struct { const void *mask; unsigned long size; } usig = { sigmask, _NSIG / 8 };

	return raw(syscall(SYS_io_pgetevents, ctx, min_nr, nr, events, timeout, &usig));
}

int io_queue_init(int maxevents, io_context_t *ctxp)
{
	if (maxevents <= 0)
		return -EINVAL;
	*ctxp = NULL;
	return io_setup(maxevents, ctxp);
}

int io_queue_release(io_context_t ctx)
{
	return io_destroy(ctx);
}

int io_queue_wait(io_context_t ctx, struct timespec *timeout)
{
	return io_getevents(ctx, 0, 0, NULL, timeout);
}

int io_queue_run(io_context_t ctx)
{
	struct timespec zero = { 0, 0 };
	struct io_event ev;
	int ret;

	while ((ret = io_getevents(ctx, 0, 1, &ev, &zero)) == 1)
		((io_callback_t)ev.data)(ctx, ev.obj, (long)ev.res, (long)ev.res2);
	return ret;
}
