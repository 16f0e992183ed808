/* SPDX-License-Identifier: MIT */
/* cancel.c - io_cancel.  A request that has not started is withdrawn by
 * one exchange on its state word, so cancel and execution never both
 * win; its event (-ECANCELED, or 0 for POLL) goes through the ring. */
#include "internal.h"
#include <errno.h>
#include <stddef.h>

/* Errors: -EFAULT iocb unreadable; -EINVAL aio_key not 0, unknown context,
 * iocb not in flight on it; -EAGAIN already executing.  Success is
 * -EINPROGRESS, as the modern kernel answers; result is not written. */
static int do_cancel(aio_context_t h, struct iocb *iocb, struct io_event *result);

UAIO_API int uaio_cancel(aio_context_t h, struct iocb *iocb, struct io_event *result)
{
	int cs = nocancel_begin(), r = do_cancel(h, iocb, result);

	nocancel_end(cs);
	return r;
}

static int do_cancel(aio_context_t h, struct iocb *iocb, struct io_event *result)
{
	struct uaio_ctx *ctx;
	struct uaio_req *req;
	uint32_t key;
	uint64_t data = 0, stamp = 0, obj = (uint64_t)(uintptr_t)iocb;
	int64_t res = 0;
	int own = -EINVAL, fd = -1;

	(void)result;
	if (ua_read(true, &key, obj + offsetof(struct iocb, aio_key), sizeof(key)) < 0)
		return -EFAULT;
	if (key != 0)
		return -EINVAL;
	if (!(ctx = ctx_get(h)))
		return -EINVAL;
	pthread_mutex_lock(&ctx->active_lock);
	for (req = ctx->active; req; req = req->act_next) {
		if (req->obj != obj)
			continue;
		data = req->cb.aio_data;	/* copied before the exchange frees it */
		fd = req->resfd;
		stamp = req->t_submit;
		own = req_cancel_locked(req, &res, true);
		break;
	}
	pthread_mutex_unlock(&ctx->active_lock);
	if (own >= 0 && own != CANCEL_DONE) {
		atomic_fetch_add_explicit(&ctx->st_cancelled, 1, memory_order_relaxed); /* statistic */
		post_event(ctx, data, obj, res, fd, true, stamp);
		if (own == CANCEL_OWN)
			req_free(req);
	}
	ctx_put(ctx);
	return own >= 0 ? -EINPROGRESS : own;
}
