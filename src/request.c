/* SPDX-License-Identifier: MIT */
/* request.c - the life of a request that leaves submit: allocation, the
 * context's active list (what cancel can find), execution and completion. */
#include "check.h"
#include "internal.h"
#include "trace.h"
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

void post_event(struct uaio_ctx *ctx, uint64_t data, uint64_t obj, int64_t res, int resfd, bool own_fd,
		uint64_t stamp)
{
	ctx_post(ctx, data, obj, res, stamp, resfd >= 0);
	if (resfd >= 0) {
		eventfd_write(resfd, 1);	/* after the event is visible, as the kernel */
		ctx_efd_signalled(ctx, 1);
		if (own_fd)
			fref_put(resfd);
	}
	inflight_done(ctx);
}

struct uaio_req *req_alloc(const struct uaio_req *proto)
{
	struct uaio_req *req = malloc(sizeof(*req));

	if (!req)
		return NULL;
	*req = *proto;
	if (proto->iov == proto->iov_inline)
		req->iov = req->iov_inline;
	memset(req->exec_priv, 0, sizeof(req->exec_priv));	/* the executor's, fresh */
	atomic_fetch_add_explicit(&req->ctx->refs, 1, memory_order_relaxed); /* owner holds one */
	return req;
}

void req_free(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;

	if (req->iov != req->iov_inline)
		free(req->iov);
	req_file_drop(req);	/* if a cancel posted its event: just after it */
	if (ctx->exec->req_fini)
		ctx->exec->req_fini(req);
	free(req);
	ctx_put(ctx);
}

/* Gives req a private reference to its file if it runs on the caller's
 * descriptor (exec_ops.holds_file); false when no descriptor is left. */
bool req_hold_file(struct uaio_req *req)
{
	int fd;

	if (req->fd_ref)
		return true;
	if ((fd = fref_new(req->fd)) < 0)
		return false;
	req->fd = fd;
	req->fd_ref = true;
	/* relaxed: as submit's own references (destroy waits for inflight first) */
	atomic_fetch_add_explicit(&req->ctx->files, 1, memory_order_relaxed);
	return true;
}

/* Drops req's reference to its file, if it holds one. */
void req_file_drop(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;

	if (!req->fd_ref)
		return;
	req->fd_ref = false;
	fref_put(req->fd);
	/* release: the close happens before destroy sees 0. */
	if (atomic_fetch_sub_explicit(&ctx->files, 1, memory_order_release) == 1 &&
	    atomic_load(&ctx->dead))	/* seq_cst: pairs with destroy's store of dead */
		futex_wake(&ctx->files, 1, true);
}

/* Enters req on the active list unless the context is being destroyed. */
bool active_insert(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;

	pthread_mutex_lock(&ctx->active_lock);
	if (atomic_load(&ctx->dead)) {	/* seq_cst: destroy sets it, then sweeps */
		pthread_mutex_unlock(&ctx->active_lock);
		return false;
	}
	req->act_prev = NULL;
	req->act_next = ctx->active;
	if (ctx->active)
		ctx->active->act_prev = req;
	ctx->active = req;
	pthread_mutex_unlock(&ctx->active_lock);
	return true;
}

void active_unlink_locked(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;

	if (req->act_prev)
		req->act_prev->act_next = req->act_next;
	else
		ctx->active = req->act_next;
	if (req->act_next)
		req->act_next->act_prev = req->act_prev;
	req->act_prev = req->act_next = NULL;
}

/* One exchange decides between an executor and a canceller: moves req from
 * `from` to RUNNING and returns true; or, when a canceller won (it has
 * posted the event), waits until the canceller has finished unlinking req
 * under active_lock, frees it and returns false. */
bool req_claim(struct uaio_req *req, int from)
{
	if (req_claim_for_run(req, from))
		return true;
	pthread_mutex_lock(&req->ctx->active_lock);
	pthread_mutex_unlock(&req->ctx->active_lock);
	req_free(req);
	return false;
}

/* The executor finished req (state RUNNING): post its event, free it. */
void req_complete(struct uaio_req *req, int64_t res)
{
	struct uaio_ctx *ctx = req->ctx;

	pthread_mutex_lock(&ctx->active_lock);
	req_mark_done(req);
	active_unlink_locked(req);
	pthread_mutex_unlock(&ctx->active_lock);
	req_file_drop(req);	/* before the event: whoever reaps it finds the file released */
	if (unlikely(g_trace))
		trace_done(req, res);
	post_event(ctx, req->cb.aio_data, req->obj, res, req->resfd, true, req->t_submit);
	req_free(req);
}

/* Completes n RUNNING requests as req_complete does, with one active_lock
 * and one post_lock per run of requests on the same context.  A request
 * keep_locked() keeps (an executor still holds it: a cancel verdict is
 * due) is left to that executor to free. */
void req_complete_many(struct uaio_req **reqs, const int64_t *res, int n,
		       bool (*keep_locked)(struct uaio_req *req))
{
	struct io_event ev[64];
	uint64_t stamps[64];
	int fds[64];
	bool keep[64];
	unsigned nefd;

	for (int i = 0, j; i < n; i = j) {
		struct uaio_ctx *ctx = reqs[i]->ctx;

		atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed); /* held across the frees */
		nefd = 0;
		pthread_mutex_lock(&ctx->active_lock);
		for (j = i; j < n && j - i < 64 && reqs[j]->ctx == ctx; j++) {
			struct uaio_req *req = reqs[j];

			req_mark_done(req);
			active_unlink_locked(req);
			ev[j - i] = (struct io_event){ req->cb.aio_data, req->obj, res[j], 0 };
			stamps[j - i] = req->t_submit;
			fds[j - i] = req->resfd;
			nefd += req->resfd >= 0;
			keep[j - i] = keep_locked(req);
		}
		pthread_mutex_unlock(&ctx->active_lock);
		for (int k = i; k < j; k++) {
			req_file_drop(reqs[k]);	/* before the events, as req_complete */
			if (unlikely(g_trace))
				trace_done(reqs[k], res[k]);
		}
		ctx_post_many(ctx, ev, stamps, j - i, nefd);
		for (int k = 0; k < j - i; k++) {
			if (fds[k] >= 0) {
				eventfd_write(fds[k], 1);	/* after the event is visible */
				ctx_efd_signalled(ctx, 1);
				fref_put(fds[k]);
			}
			if (!keep[k])
				req_free(reqs[i + k]);
			inflight_done(ctx);
		}
		ctx_put(ctx);
	}
}

int64_t req_cancelled_res(const struct uaio_req *req)
{
	if (req->kind == KIND_POLL)
		return 0;
	/* bytes already in the pipe or socket reached the reader: report them */
	return req->done ? (int64_t)req->done : -ECANCELED;
}

/* Tries to cancel req; ctx->active_lock held.  Returns CANCEL_OWN if the
 * caller now owns req (must post *res and free it), CANCEL_POST if
 * cancelled but still owned by the executor (post *res only), CANCEL_DONE
 * if the executor did it all, or -EAGAIN / -EINVAL.  The executor decides
 * first (a request in the kernel, say); else one exchange does. */
int req_cancel_locked(struct uaio_req *req, int64_t *res, bool wait)
{
	const struct exec_ops *ex = req->ctx->exec;
	int s = REQ_QUEUED, r;

	if (ex->cancel && (r = ex->cancel(req, res, wait)) != CANCEL_PASS)
		return r;
	if (req_claim_for_cancel(req, &s)) {
		*res = req_cancelled_res(req);
		active_unlink_locked(req);
		if (unlikely(g_trace))	/* its holder frees it only under active_lock */
			trace_done(req, *res);
		return CANCEL_POST;
	}
	if (s == REQ_WAITING && poller_cancel(req)) {
		*res = req_cancelled_res(req);
		active_unlink_locked(req);
		if (unlikely(g_trace))
			trace_done(req, *res);
		return CANCEL_OWN;
	}
	return s == REQ_RUNNING || s == REQ_WAITING ? -EAGAIN : -EINVAL;
}

/* Cancels every request that has not started (or, with waiting_only, only
 * those waiting for readiness), posting their events. */
void ctx_cancel_all(struct uaio_ctx *ctx, bool waiting_only)
{
	struct uaio_req *list = NULL, *req, *next;
	struct { uint64_t data, obj, stamp; int64_t res; int fd; } *ev = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&ctx->active_lock);
	for (req = ctx->active; req; req = next) {
		int64_t res;
		int own, s;

		next = req->act_next;
		s = atomic_load_explicit(&req->state, memory_order_acquire);
		if (waiting_only && s != REQ_WAITING)
			continue;
		if (n == cap) {
			void *p = realloc(ev, (cap = cap ? cap * 2 : 16) * sizeof(*ev));
			if (!p)
				break;
			ev = p;
		}
		/* Copy what the event needs first: a pool-owned request may be
		 * freed by its worker as soon as the exchange is done. */
		ev[n].data = req->cb.aio_data;
		ev[n].obj = req->obj;
		ev[n].fd = req->resfd;
		ev[n].stamp = req->t_submit;
		own = req_cancel_locked(req, &res, false);
		if (own < 0 || own == CANCEL_DONE)
			continue;
		ev[n++].res = res;
		if (own == CANCEL_OWN) {
			req->sweep_next = list;
			list = req;
		}
	}
	pthread_mutex_unlock(&ctx->active_lock);
	for (size_t i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&ctx->st_cancelled, 1, memory_order_relaxed); /* statistic */
		post_event(ctx, ev[i].data, ev[i].obj, ev[i].res, ev[i].fd, true, ev[i].stamp);
	}
	free(ev);
	for (req = list; req; req = next) {
		next = req->sweep_next;
		req_free(req);
	}
}

/* The part of req's buffers not yet moved, as an iovec array in out[]. */
int iov_rest(const struct uaio_req *req, struct iovec *out)
{
	size_t skip = req->done;
	int n = 0;

	for (int i = 0; i < req->niov; i++) {
		size_t len = req->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		/* Integer arithmetic: the caller's base may be NULL (a NULL + 0 is UB). */
		out[n].iov_base = (void *)((uintptr_t)req->iov[i].iov_base + skip);
		out[n].iov_len = len - skip;
		skip = 0;
		n++;
	}
	return n;
}

static bool is_write(const struct uaio_req *req)
{
	return op_is_write(req->cb.aio_lio_opcode);
}

/* One attempt at the rest of req's transfer.  off -1: stream position.
 * The raw system call, not glibc's preadv2/pwritev2: their cancellation
 * bookkeeping was 2-3% of a warm-read profile, and uaio's entry points
 * hold cancellation off anyway (io_submit is no cancellation point).
 * The offset goes as (low, high) words; on 64-bit the kernel takes it
 * from the low one. */
static ssize_t rw_once(const struct uaio_req *req, long long off, int flags)
{
	struct iovec v[1024];
	int n = iov_rest(req, v);
	long r;

	r = syscall(is_write(req) ? SYS_pwritev2 : SYS_preadv2, (long)req->fd, v, (long)n,
		    (long)off, (long)((unsigned long long)off >> 32 >> (sizeof(long) * 8 - 32)), (long)flags);
	return r < 0 ? -errno : r;
}

int64_t req_try_nowait(struct uaio_req *req)
{
	long long off = req->kind == KIND_STREAM ? -1 : req->cb.aio_offset + (long long)req->done;

	return rw_once(req, off, (int)req->cb.aio_rw_flags | RWF_NOWAIT);
}

static int64_t run_stream(struct uaio_req *req);

static int64_t run_file(struct uaio_req *req)
{
	int flags = (int)req->cb.aio_rw_flags;
	ssize_t r;

	while (req->done < req->total) {
		r = rw_once(req, req->cb.aio_offset + (long long)req->done, flags);
		if (r == -EINTR)
			continue;
		if (r == -ESPIPE) {	/* a pipe or socket sent here for O_SYNC/O_DIRECT */
			req->kind = KIND_STREAM;
			return run_stream(req);
		}
		if (r < 0)
			return req->done ? (int64_t)req->done : r;
		if (r == 0)
			break;	/* end of file */
		req->done += (size_t)r;
		if (flags & RWF_NOWAIT)
			break;
	}
	return (int64_t)req->done;
}

/* A stream served by a worker (a tty, say, or a socket written with
 * RWF_SYNC), or by the submitter when no thread could be had: wait for
 * readiness in short slices, and move what fits without blocking
 * (RWF_NOWAIT where the file has it), so that destroy can always end the
 * wait; a write larger than the socket's buffer would otherwise block in
 * the kernel until the peer reads it all.  A signal handler that runs
 * meanwhile (on the submitter: workers block signals) ends it with
 * -EINTR, as the kernel's pipe and socket waits inside io_submit do. */
static int64_t run_stream(struct uaio_req *req)
{
	struct pollfd p = { req->fd, is_write(req) ? POLLOUT : POLLIN, 0 };
	int flags = (int)req->cb.aio_rw_flags & ~RWF_NOWAIT;
	bool nowait = true;
	ssize_t r;

	for (;;) {
		/* relaxed: polled every slice; a late sight costs one slice. */
		if (atomic_load_explicit(&req->ctx->dead, memory_order_relaxed) ||
		    atomic_load_explicit(&g_exiting, memory_order_relaxed))
			return req->done ? (int64_t)req->done : -ECANCELED;
		r = poll(&p, 1, 100);
		if (r < 0 && errno == EINTR)	/* only a submitter serving it has signals */
			return req->done ? (int64_t)req->done : -EINTR;
		if (r <= 0)
			continue;
		r = rw_once(req, -1, nowait ? flags | RWF_NOWAIT : flags);
		if (r == -EOPNOTSUPP && nowait) {	/* no NOWAIT here (a tty): block */
			nowait = false;
			r = rw_once(req, -1, flags);
		}
		if (r == -EINTR || r == -EAGAIN)
			continue;
		if (r < 0)
			return req->done ? (int64_t)req->done : r;
		req->done += (size_t)r;
		if (!is_write(req) || r == 0 || req->done >= req->total)
			return (int64_t)req->done;
	}
}

/* A buffered write done by the submitter (SPEC §3): what run_file does,
 * but a stream answers -ESPIPE at once (pwritev2 with an offset), with
 * nothing written, for submit to route it as a stream. */
int64_t req_write_file(struct uaio_req *req)
{
	ssize_t r;

	while (req->done < req->total) {
		r = rw_once(req, req->cb.aio_offset + (long long)req->done, (int)req->cb.aio_rw_flags);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return req->done ? (int64_t)req->done : r;
		if (r == 0)
			break;
		req->done += (size_t)r;
	}
	return (int64_t)req->done;
}

int64_t req_run_blocking(struct uaio_req *req)
{
	int fd = req->fd;
	long old = -1;
	int64_t res;

	if (unlikely(g_check))
		check_before_write(req);	/* a worker (or the submitter) writes it now */
	if (req->cb.aio_flags & IOCB_FLAG_IOPRIO) {
		old = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
		syscall(SYS_ioprio_set, 1, 0, (int)(uint16_t)req->cb.aio_reqprio);
	}
	switch (req->kind) {
	case KIND_SYNC:
		res = (req->cb.aio_lio_opcode == IOCB_CMD_FSYNC ? fsync(fd) : fdatasync(fd)) < 0 ? -errno : 0;
		break;
	case KIND_STREAM:
		res = run_stream(req);
		break;
	default:
		res = run_file(req);
		break;
	}
	if (old >= 0)
		syscall(SYS_ioprio_set, 1, 0, (int)old);
	return res;
}
