/* SPDX-License-Identifier: MIT */
/* submit.c - io_submit as a pipeline: copy-in (uaccess.c), checks and
 * each opcode's prep (prep.c, by its row in opcode.c), then routing here:
 * complete what cannot block at once, hand the rest to the executor. */
#include "check.h"
#include "internal.h"
#include "trace.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define BATCH UA_IOCB_BATCH	/* iocbs copied in, and requests handed on, at a time */

struct batch {
	struct uaio_ctx *ctx;
	struct uaio_req *pool[BATCH];
	int npool;
	bool have_pool, have_poller;	/* reserve() succeeded in this call */
	int handed;		/* requests handed on (not completed inline) */
	uint64_t stamp;		/* their t_submit: one clock read per call; 0 until needed */
	/* F_GETFL of the last fd looked up in this call: a batch is usually
	 * for one fd, and nothing in a submit call changes an fd's flags.
	 * (Another thread's fcntl or close racing the call has no order
	 * with it, in the kernel either.)  fl_cached: fl is fdflags.c's
	 * cached answer, not asked in this call. */
	int fl_fd, fl;
	bool fl_cached;
	bool single;		/* the call has one iocb: submit_verify may serve it */
	/* The call's own reference to ref_ufd's file (fref.c), shared by the
	 * requests of the call on that fd: one duplicate per fd and call. */
	int ref_ufd, ref_fd;
};

static void batch_flush(struct batch *b)
{
	if (b->npool)
		b->ctx->exec->submit(b->pool, b->npool);
	b->npool = 0;
}

/* Outcome of routing one request. */
enum route { ROUTE_DONE, ROUTE_POOL, ROUTE_POLLER };

/* Deciding a request (decide()) returns 0 when routed, -errno, or: */
enum {
	FL_STALE = 1,		/* its cached flags were stale: decide again */
	DECIDE_INJECTED,	/* an injected error (faults.c) completes it now */
};

static enum route finish_now(struct uaio_req *req, int64_t res, int64_t *out)
{
	*out = res;
	(void)req;
	return ROUTE_DONE;
}

/* Cached flags (fdflags.c) let a read or write be tried inline, and no
 * more: on an answer they did not lead us to expect, or before a
 * decision made on the flags alone, submit asks fcntl.  True when the
 * flags changed (req->fl holds the new ones): nothing has been done yet,
 * and the request is decided again. */
static bool flags_stale(struct uaio_req *req)
{
	int fl;

	if (!req->fl_cached)
		return false;
	req->fl_cached = false;
	fl = fdfl_refresh(req->fd);
	if (fl == req->fl)
		return false;
	req->fl = fl;
	return true;
}

/* Pipes, sockets, ttys, eventfds: one non-blocking attempt, then wait for
 * readiness in the poller (or, for a file that cannot be tried without
 * blocking, in a worker that polls in slices). */
static int route_stream(struct uaio_req *req, bool user_nowait, int64_t *res, enum route *rt)
{
	bool wr = op_is_write(req->cb.aio_lio_opcode);
	int64_t n;
	int ret;

	ret = anon_rw_check((int)req->cb.aio_fildes, wr);
	if (ret < 0)
		return ret;
	req->kind = KIND_STREAM;
	n = req_try_nowait(req);
	if (n == -EOPNOTSUPP) {
		if (user_nowait)
			return -EOPNOTSUPP;
		*rt = ROUTE_POOL;
		return 0;
	}
	if (n == -EAGAIN && !user_nowait) {
		*rt = ROUTE_POLLER;
		return 0;
	}
	if (n > 0 && wr) {
		req->done = (size_t)n;
		if (req->done < req->total && !user_nowait) {
			*rt = ROUTE_POLLER;
			return 0;
		}
		n = (int64_t)req->done;
	}
	*rt = finish_now(req, n, res);
	return 0;
}

/* The caller's RWF_NOWAIT read came back short: at end of file that is
 * the answer; otherwise the rest would block, and a read is never short
 * but at end of file, so the answer is -EAGAIN. */
static int64_t nowait_rest(struct uaio_req *req, int64_t n)
{
	for (;;) {
		int64_t m;

		req->done = (size_t)n;
		m = req_try_nowait(req);
		if (m == 0)
			return n;
		if (m < 0)
			return m == -EAGAIN ? -EAGAIN : n;
		n += m;
		if ((size_t)n == req->total)
			return n;
	}
}

/* A buffered write is a copy into the page cache, done inside io_submit
 * by the kernel's AIO: done here too (SPEC §3), unless the context asked
 * for every buffered write to be offloaded. */
static bool write_inline(const struct uaio_req *req, int64_t n)
{
	if (req->ctx->flags & UAIO_F_ASYNC_WRITES)
		return false;
	return n == -EOPNOTSUPP || n == -EAGAIN || (n >= 0 && (size_t)n < req->total);
}

/* Descriptors whose file system answered a buffered write's RWF_NOWAIT
 * with -EOPNOTSUPP (ext4): their writes skip that attempt, a system call
 * that can only fail.  Only a hint: a number reused for another file at
 * worst skips an attempt that would have been made, and the write then
 * goes without NOWAIT, as it would after the attempt. */
#define NOWAIT_HINTS 65536
static _Atomic unsigned long nowait_refused[NOWAIT_HINTS / (8 * sizeof(unsigned long))];

static bool nowait_hint(int fd)
{
	const unsigned bits = 8 * sizeof(unsigned long);

	/* relaxed: a hint; any value read is safe. */
	return (unsigned)fd < NOWAIT_HINTS &&
	       (atomic_load_explicit(&nowait_refused[(unsigned)fd / bits], memory_order_relaxed) >>
		((unsigned)fd % bits) & 1);
}

static void nowait_learn(int fd)
{
	const unsigned bits = 8 * sizeof(unsigned long);

	if ((unsigned)fd < NOWAIT_HINTS)	/* relaxed: a hint */
		atomic_fetch_or_explicit(&nowait_refused[(unsigned)fd / bits], 1UL << ((unsigned)fd % bits),
					 memory_order_relaxed);
}

/* The inline attempt: with RWF_NOWAIT, or, for a buffered write whose
 * file system refused that before (nowait_hint), a plain write, whose
 * answer is final (*final) unless the fd is a stream (-ESPIPE). */
static int64_t try_inline(struct uaio_req *req, bool wr, bool user_nowait, bool *final)
{
	int64_t n;

	*final = false;
	if (req->has_pre) {	/* the call's reads were tried together (nowait.c) */
		req->has_pre = false;
		if (req->pre != NOWAIT_AGAIN)
			return req->pre;	/* data, end of file, or not cached */
	}
	if (wr && !user_nowait && !(req->ctx->flags & UAIO_F_ASYNC_WRITES) &&
	    nowait_hint((int)req->cb.aio_fildes)) {
		n = req_write_file(req);	/* -ESPIPE: nothing done, a stream */
		*final = n != -ESPIPE;
		return n;
	}
	n = req_try_nowait(req);
	if (wr && n == -EOPNOTSUPP)
		nowait_learn((int)req->cb.aio_fildes);
	return n;
}

/* Regular files: a cached read (or a write to the page cache) completes
 * here with RWF_NOWAIT, as io_uring does; a short NOWAIT read is finished
 * by a worker, never returned short unless at end of file.  A buffered
 * write the file system cannot do with RWF_NOWAIT (ext4) is done here
 * without it. */
static int route_rw(struct uaio_req *req, int64_t *res, enum route *rt)
{
	unsigned rwf = (unsigned)req->cb.aio_rw_flags;
	bool user_nowait = rwf & RWF_NOWAIT, wr = op_is_write(req->cb.aio_lio_opcode), final;
	int64_t n;

	req->kind = KIND_FILE;
	*rt = ROUTE_POOL;
	if (!wr && (req->fl & O_DIRECT) && req->fl_cached && req->may_verify &&
	    req->ctx->exec->holds_file(req)) {
		req->unverified = true;	/* the executor's submit_verify checks the flags */
		return 0;
	}
	if ((req->fl & O_DIRECT) || (wr && !user_nowait &&
	    ((rwf & (RWF_DSYNC | RWF_SYNC)) || (req->fl & (O_SYNC | O_DSYNC)))))
		return flags_stale(req) ? FL_STALE : 0;	/* waits for the device: never inline */
	n = try_inline(req, wr, user_nowait, &final);
	if (n < 0 && n != -EAGAIN && flags_stale(req))
		return FL_STALE;
	if (final) {
		*rt = finish_now(req, n, res);
		return 0;
	}
	if (n == -ESPIPE)
		/* An O_NONBLOCK pipe or socket answers -EAGAIN, as with the kernel. */
		return route_stream(req, user_nowait || (req->fl & O_NONBLOCK), res, rt);
	if (n == -EISDIR)
		return -EINVAL;	/* the kernel: no read_iter on a directory */
	if (n == -EOPNOTSUPP && !wr && fd_is_dir((int)req->cb.aio_fildes))
		return -EINVAL;
	if (wr && !user_nowait && write_inline(req, n)) {
		req->done = n > 0 ? (size_t)n : 0;
		*rt = finish_now(req, req_write_file(req), res);
		return 0;
	}
	if (n == -EOPNOTSUPP && !user_nowait)
		return 0;	/* no NOWAIT support here: a worker does it */
	if (user_nowait && !wr && n > 0 && (size_t)n < req->total)
		n = nowait_rest(req, n);
	if (user_nowait || (n < 0 && n != -EAGAIN) || (n >= 0 && (size_t)n == req->total)) {
		*rt = finish_now(req, n, res);
		return 0;
	}
	if (n == -EAGAIN)
		return 0;
	req->done = (size_t)n;
	if (n == 0 && !wr) {
		*rt = finish_now(req, 0, res);
		return 0;
	}
	if (!wr) {	/* short: end of file, or partly cached? */
		n = req_try_nowait(req);
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			*rt = finish_now(req, (int64_t)req->done, res);
			return 0;
		}
		if (n > 0)
			req->done += (size_t)n;
		if (req->done == req->total) {
			*rt = finish_now(req, (int64_t)req->done, res);
			return 0;
		}
	}
	return 0;
}

/* A read or write, its buffers imported: one that faults.c delays waits
 * for its time untried; the rest are tried here. */
static int route_file(struct uaio_req *req, int64_t *res, enum route *rt)
{
	int ret;

	if (req->fault && faults_prep_rw(req)) {
		*rt = ROUTE_POOL;	/* delayed: held by faults.c, then the executor runs it */
		return 0;
	}
	ret = route_rw(req, res, rt);
	return ret < 0 ? aio_prep_rw_error(req, ret) : ret;
}

/* A POLL already ready completes now; the rest wait in the poller. */
static int route_poll(struct uaio_req *req, int64_t *res, enum route *rt)
{
	struct pollfd p;

	*rt = ROUTE_POLLER;
	if (req->fault)	/* delayed (faults.c): not ready before its time */
		return 0;
	p.fd = (int)req->cb.aio_fildes;
	p.events = (short)req->poll_events;
	p.revents = 0;
	if (poll(&p, 1, 0) > 0 && (p.revents & req->poll_events))
		*rt = finish_now(req, p.revents & req->poll_events, res);
	return 0;
}

/* Makes sure whatever will run a request routed rt exists (a worker, the
 * poller, the ring) before submit accepts it: 0, or -EAGAIN if no thread
 * can be created for it, or another -errno if descriptors ran out.  Asked
 * once per call and kind, and again by the call's next request after a
 * refusal. */
static int reserve(struct batch *b, const struct uaio_req *req, enum route rt)
{
	const struct exec_ops *ex = b->ctx->exec;
	int r;

	if (rt == ROUTE_POLLER && !(req->kind == KIND_POLL && ex->takes_poll)) {
		if (!b->have_poller && (r = poller_reserve()) < 0)
			return r;
		b->have_poller = true;
		return 0;
	}
	return exec_reserve(ex, req, &b->have_pool);
}

/* Nothing can run req after submit: no thread could be created for it
 * (RLIMIT_NPROC, a cgroup's pids.max, no memory for a stack).  The
 * kernel's AIO owns no thread, so nothing a program does to its limits
 * stops it: what it would do inside io_submit when it cannot queue, the
 * submitter does here (a read from the device, an O_DSYNC write, an
 * fsync; a read from an empty pipe blocks, as there, until data, a
 * signal, destroy or exit).  A POLL cannot be waited for here (the
 * kernel answers it later): -EAGAIN.  So is a wait for readiness when
 * the poller lacks a descriptor, not a thread. */
static int no_runner(struct batch *b, struct uaio_req *req, enum route *rt, int64_t *res)
{
	int r = *rt == ROUTE_DONE ? 0 : reserve(b, req, *rt);

	if (r == 0)
		return 0;
	if (r != -EAGAIN || req->kind == KIND_POLL)
		return -EAGAIN;	/* a POLL, or no descriptor for the poller's epoll */
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&b->ctx->st_no_thread, 1, memory_order_relaxed);
	*rt = finish_now(req, req_run_blocking(req), res);
	return 0;
}

/* dispatch(): the executor refused a request sent on cached flags
 * (submit_verify) before it started; submit decides it again. */
#define DISPATCH_AGAIN 1

/* Takes back a request dispatch() made, which nothing has seen but its
 * executor's submit_verify (no check, no trace: may_verify is off under
 * both): no event, as if it had never been submitted. */
static void undispatch(struct batch *b, struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;

	pthread_mutex_lock(&ctx->active_lock);
	active_unlink_locked(req);
	pthread_mutex_unlock(&ctx->active_lock);
	b->handed--;
	if (req->resfd >= 0)
		fref_put(req->resfd);
	req_free(req);
}

/* Hands req on; no_runner() has made sure something will run it. */
static int dispatch(struct batch *b, struct uaio_req *proto, enum route rt)
{
	struct uaio_ctx *ctx = b->ctx;
	struct uaio_req *req;
	int resfd = -1;
	/* The kernel takes a reference on the eventfd and needs no descriptor;
	 * our dup failing is our own limit, so -EAGAIN, not -EMFILE. */
	if ((proto->cb.aio_flags & IOCB_FLAG_RESFD) && (resfd = proto->resfd) < 0) {
		resfd = fref_new((int)proto->cb.aio_resfd);	/* high, closed in a forked child */
		if (resfd < 0)
			return -EAGAIN;
	}
	proto->resfd = resfd;
	req = req_alloc(proto);
	if (!req) {	/* the kernel's aio_get_req failing: -EAGAIN */
		if (resfd >= 0)
			fref_put(resfd);
		return -EAGAIN;
	}
	proto->iov = NULL;	/* now owned by req */
	if (rt == ROUTE_POLLER && req->kind == KIND_POLL && ctx->exec->takes_poll)
		rt = ROUTE_POOL;	/* the executor waits for readiness itself */
	/* published to others by the locks that follow */
	req_state_init(req, rt == ROUTE_POOL || req->fault == FAULT_DELAY ? REQ_QUEUED : REQ_RUNNING);
	if (!b->stamp)
		b->stamp = stats_stamp(ctx);
	req->t_submit = b->stamp;
	if (unlikely(g_check))
		check_dispatch(req);	/* before anyone can post its event */
	if (!active_insert(req)) {	/* destroyed meanwhile */
		if (unlikely(g_trace))
			trace_done(req, req_cancelled_res(req));
		if (unlikely(g_check))
			check_undo(req);
		post_event(ctx, req->cb.aio_data, req->obj, req_cancelled_res(req), req->resfd, true, STAMP_INLINE);
		req_free(req);
		return 0;
	}
	b->handed++;
	if (req->fault == FAULT_DELAY) {	/* faults.c starts it when due */
		faults_hold(req, rt == ROUTE_POOL);
		return 0;
	}
	if (rt == ROUTE_POOL && req->unverified) {
		if (ctx->exec->submit_verify(req) == 0) {
			atomic_fetch_add_explicit(&ctx->st_offloaded, 1, memory_order_relaxed); /* statistic */
			return 0;
		}
		undispatch(b, req);
		return DISPATCH_AGAIN;
	}
	if (rt == ROUTE_POOL) {
		atomic_fetch_add_explicit(&ctx->st_offloaded, 1, memory_order_relaxed); /* statistic */
		b->pool[b->npool++] = req;
		if (b->npool == BATCH)
			batch_flush(b);
	} else {
		atomic_fetch_add_explicit(&ctx->st_polled, 1, memory_order_relaxed); /* statistic */
		poller_arm(req);
	}
	return 0;
}

/* Gives req a reference of its own to its file (fref.c), shared with the
 * call's other requests on that fd; false when no descriptor is left. */
static bool take_ref(struct batch *b, struct uaio_req *req)
{
	int ufd = (int)req->cb.aio_fildes, r;

	if (b->ref_fd < 0 || b->ref_ufd != ufd) {
		if ((r = fref_new(ufd)) < 0)
			return false;
		if (b->ref_fd >= 0)
			fref_put(b->ref_fd);
		b->ref_fd = r;
		b->ref_ufd = ufd;
	}
	fref_get(b->ref_fd);
	req->fd = b->ref_fd;
	req->fd_ref = true;
	/* relaxed: destroy reads it only after the request is in flight and
	 * ordered by inflight's own accounting. */
	atomic_fetch_add_explicit(&b->ctx->files, 1, memory_order_relaxed);
	return true;
}

/* A request leaving submit holds its file.  Without a descriptor for
 * that, what waits for the device is done here, as the kernel's AIO
 * itself would; what waits for readiness (it could wait for ever) goes
 * on with the caller's descriptor. */
static enum route hold_file(struct batch *b, struct uaio_req *req, enum route rt, int64_t *res)
{
	const struct exec_ops *ex = b->ctx->exec;

	if (rt == ROUTE_DONE)
		return rt;
	/* Its eventfd is held the same way (dispatch), taken first here for
	 * what waits for the device, which without it is done here too. */
	if ((req->cb.aio_flags & IOCB_FLAG_RESFD) && (req->kind == KIND_FILE || req->kind == KIND_SYNC) &&
	    (req->resfd = fref_new((int)req->cb.aio_resfd)) < 0)
		return finish_now(req, req_run_blocking(req), res);
	if (rt == ROUTE_POOL && ex->holds_file && !req->fault && ex->holds_file(req))
		return rt;	/* the kernel takes its own reference within this call */
	if (take_ref(b, req))
		return rt;
	if (req->kind == KIND_FILE || req->kind == KIND_SYNC) {
		if (req->resfd >= 0) {	/* done here: posted to the caller's eventfd */
			fref_put(req->resfd);
			req->resfd = -1;
		}
		return finish_now(req, req_run_blocking(req), res);
	}
	return rt;
}

/* ---- the pipeline: copy-in, checks, prep, routing, dispatch ---- */

/* Copy-in's last step: the request submit works on, from the copied iocb,
 * with its fd's F_GETFL, looked up once per fd and call.  Only a read or
 * write takes it from the cache (fdflags.c; not under fault injection):
 * its inline attempt checks the flags (flags_stale()). */
static void proto_init(struct batch *b, struct uaio_req *req, const struct iocb *cb, uint64_t uptr)
{
	const struct opcode *op = op_get(cb->aio_lio_opcode);
	bool may_cache = op && op->rw && !b->ctx->faults;
	const struct exec_ops *ex = b->ctx->exec;

	memset(req, 0, sizeof(*req));
	req->cb = *cb;
	req->obj = uptr;
	req->ctx = b->ctx;
	req->resfd = -1;
	req->fd = (int)cb->aio_fildes;
	if (b->fl_fd != req->fd || b->fl_fd < 0 || (b->fl_cached && !may_cache)) {
		b->fl_fd = req->fd;
		b->fl_cached = false;
		b->fl = may_cache ? fdfl_get(req->fd, &b->fl_cached) : fdfl_refresh(req->fd);
	}
	req->fl = b->fl;
	req->fl_cached = b->fl_cached;
	req->may_verify = b->single && ex->submit_verify && ex->holds_file && !g_check && !g_trace;
}

static void proto_iov_free(struct uaio_req *req)
{
	if (req->iov && req->iov != req->iov_inline)
		free(req->iov);
}

/* Prep: the opcode's own checks and buffers, by its row (opcode.c). */
static int prep(struct uaio_req *req)
{
	const struct opcode *op = op_get(req->cb.aio_lio_opcode);

	if (!op)
		return -EINVAL;
	return op->prep(req, op, !(req->ctx->flags & UAIO_F_NOCHECK));
}

/* Routing, by the kind prep found: what can be done without blocking is
 * done now (ROUTE_DONE); the rest goes to the executor (ROUTE_POOL) or
 * waits for readiness (ROUTE_POLLER). */
static int route(struct uaio_req *req, int64_t *res, enum route *rt)
{
	switch (req->kind) {
	case KIND_FILE:
		return route_file(req, res, rt);
	case KIND_POLL:
		return route_poll(req, res, rt);
	default:	/* KIND_SYNC: waits for the device, never inline */
		*rt = ROUTE_POOL;
		return 0;
	}
}

/* Checks in the kernel's order, prep by the opcode's row, routing: 0
 * (routed: *rt, *res), -errno, FL_STALE or DECIDE_INJECTED.  *keyed: set
 * when the iocb got as far as the kernel's aio_key store (after the fd
 * and eventfd lookups), whether or not it then failed. */
static int decide(struct batch *b, struct uaio_req *req, bool key_ok, bool *keyed, int64_t *res,
		  enum route *rt)
{
	int ret;

	*keyed = false;
	if ((ret = aio_check_fds(req)) < 0)
		return ret;
	if (!key_ok)	/* the kernel's aio_key store comes here */
		return -EFAULT;
	*keyed = true;
	if (b->ctx->faults && faults_submit(req, res))
		return DECIDE_INJECTED;	/* completes now with *res */
	if ((ret = prep(req)) < 0)
		return ret;
	return route(req, res, rt);
}

/* After decide(): a request its cached flags failed, or found stale, is
 * decided again with fresh ones (nothing has been done for it), so no
 * error comes from the cache.  Fresh flags serve the call's later
 * requests on the fd.  True to decide again. */
static bool again(struct batch *b, struct uaio_req *req, int ret)
{
	bool redo = ret == FL_STALE || (ret < 0 && flags_stale(req));

	if (!req->fl_cached && b->fl_cached && b->fl_fd == req->fd) {
		b->fl = req->fl;
		b->fl_cached = false;
	}
	if (redo)
		proto_iov_free(req);
	return redo;
}

/* Counts req submitted, then posts its event now or hands it on. */
static int post_or_dispatch(struct batch *b, struct uaio_req *req, enum route rt, int64_t res)
{
	struct uaio_ctx *ctx = b->ctx;
	const struct iocb *cb = &req->cb;
	int ret;

	if (unlikely(g_trace))	/* before dispatch: the request copies the stamps */
		trace_submit(req, rt == ROUTE_DONE);
	atomic_fetch_add_explicit(&ctx->st_submitted, 1, memory_order_relaxed); /* statistic */
	if (rt != ROUTE_DONE) {
		ret = dispatch(b, req, rt);
		if (ret != 0)	/* relaxed: a statistic */
			atomic_fetch_sub_explicit(&ctx->st_submitted, 1, memory_order_relaxed);
		return ret;
	}
	atomic_fetch_add_explicit(&ctx->st_inline, 1, memory_order_relaxed); /* statistic */
	if (unlikely(g_check))
		check_inline(req);
	post_event(ctx, cb->aio_data, req->obj, res,
		   cb->aio_flags & IOCB_FLAG_RESFD ? (int)cb->aio_resfd : -1, false, STAMP_INLINE);
	if (unlikely(g_trace))
		trace_done(req, res);
	return 0;
}

/* One copied iocb through the pipeline: decide() (checks, prep,
 * routing), then dispatch.  *keyed: see decide().  pre: its first inline
 * attempt's answer, already made (pre_reads()), with its slot taken. */
static int submit_one(struct batch *b, const struct iocb *cb, uint64_t uptr, bool key_ok,
		      bool *keyed, const int64_t *pre)
{
	struct uaio_ctx *ctx = b->ctx;
	struct uaio_req req;
	enum route rt = ROUTE_DONE;
	int64_t res = 0;
	bool pre_left = pre != NULL;
	int ret;

	if (!pre && (cb->aio_reserved2 || (int64_t)cb->aio_nbytes < 0))
		return -EINVAL;
	if (!pre && !slot_get(ctx)) {
		if (unlikely(g_check))
			check_ring_full(ctx);
		return -EAGAIN;
	}
	atomic_fetch_add_explicit(&ctx->inflight, 1, memory_order_relaxed); /* batch guard holds destroy */
redo:
	do {
		proto_init(b, &req, cb, uptr);
		req.has_pre = pre_left;	/* until the attempt it stands for is made */
		req.pre = pre_left ? *pre : 0;
		ret = decide(b, &req, key_ok, keyed, &res, &rt);
		pre_left = req.has_pre;
	} while (again(b, &req, ret));
	if (ret == DECIDE_INJECTED)
		goto prepared;
	if (ret < 0 || (ret = no_runner(b, &req, &rt, &res)) < 0)
		goto out_release;
	rt = hold_file(b, &req, rt, &res);
prepared:
	if ((ret = post_or_dispatch(b, &req, rt, res)) < 0)
		goto out_release;
	if (ret == DISPATCH_AGAIN) {	/* stale flags: taken back; again with fresh ones */
		b->fl_fd = (int)cb->aio_fildes;
		b->fl = fdfl_refresh(b->fl_fd);
		b->fl_cached = false;
		goto redo;
	}
	proto_iov_free(&req);
	return 0;

out_release:
	req_file_drop(&req);
	proto_iov_free(&req);
	slot_put(ctx);
	inflight_done(ctx);
	return ret;
}

/* A read that submit would try inline first, by its copied iocb and
 * its fd's flags (cached, as proto_init will find them). */
static bool pre_fits(const struct iocb *cb)
{
	bool cached;
	int fl;

	if ((cb->aio_lio_opcode != IOCB_CMD_PREAD && cb->aio_lio_opcode != IOCB_CMD_PREADV) ||
	    (cb->aio_flags & ~IOCB_FLAG_IOPRIO) || cb->aio_reserved2 || (int64_t)cb->aio_nbytes <= 0)
		return false;
	fl = fdfl_get((int)cb->aio_fildes, &cached);
	return fl >= 0 && !(fl & (O_DIRECT | O_PATH)) && (fl & O_ACCMODE) != O_WRONLY;
}

/* The call's leading reads that would each be tried inline by a
 * preadv2(RWF_NOWAIT), tried together in one system call (nowait.c);
 * their slots are taken first, so that each read the kernel does is a
 * request submit then accepts (a read for an iocb submit refuses would
 * write into the caller's buffer).  Returns how many leading iocbs have
 * their answer in pre[], their slots taken. */
static int pre_reads(struct batch *b, const struct iocb *cbs, int m, int keys, int64_t *pre)
{
	int fds[BATCH], n, done;

	if (m < 2 || keys < 2 || b->ctx->faults || !nowait_usable())
		return 0;
	for (n = 0; n < m && n < keys && pre_fits(&cbs[n]); n++) {
		if (!slot_get(b->ctx))
			break;
		fds[n] = (int)cbs[n].aio_fildes;
	}
	done = n >= 2 ? nowait_reads(fds, cbs, n, pre) : 0;
	for (int i = done; i < n; i++)
		slot_put(b->ctx);
	return done;
}

/* Up to BATCH iocbs from the caller's array at uarray: copy-in
 * (uaccess.c), then each through submit_one.  Returns how many were
 * submitted; *err says why fewer than k. */
static int submit_chunk(struct batch *b, bool checked, uint64_t uarray, int k, int *err)
{
	uint64_t ptrs[BATCH];
	struct iocb cbs[BATCH];
	int64_t pre[BATCH];
	int m, keys, j, npre;

	m = ua_iocbs_read(checked, uarray, k, ptrs, cbs, &keys);
	npre = pre_reads(b, cbs, m, keys, pre);
	for (j = 0; j < m; j++) {
		bool keyed = false;

		*err = submit_one(b, &cbs[j], ptrs[j], j < keys, &keyed, j < npre ? &pre[j] : NULL);
		if (*err) {
			ua_iocb_keys_restore(checked, ptrs, cbs, keyed ? j + 1 : j, keys);
			break;
		}
	}
	for (int i = j + 1; i < npre; i++)	/* slots of reads not reached */
		slot_put(b->ctx);
	batch_flush(b);
	if (!*err && m < k)
		*err = -EFAULT;
	return j;
}

/* Errors (of the first iocb; later ones end the batch early): -EINVAL
 * nr < 0, unknown context, bad iocb field or opcode; -EFAULT unreadable
 * pointer; -EAGAIN no free slot; -EBADF bad fd or fd mode;
 * -EOPNOTSUPP unknown rw flag; -EPERM real-time priority not allowed. */
static int do_submit(aio_context_t h, long nr, struct iocb **iocbpp);

UAIO_API int uaio_submit(aio_context_t h, long nr, struct iocb **iocbpp)
{
	int cs = nocancel_begin(), r = do_submit(h, nr, iocbpp);

	nocancel_end(cs);
	return r;
}

static int do_submit(aio_context_t h, long nr, struct iocb **iocbpp)
{
	struct batch b = { .fl_fd = -1, .ref_ufd = -1, .ref_fd = -1 };
	long i = 0;
	int err = 0;
	bool checked;

	if (nr < 0)
		return -EINVAL;
	if (!(b.ctx = ctx_get(h)))
		return -EINVAL;
	/* seq_cst: the guard must be visible before we look at dead (destroy
	 * stores dead, then reads inflight). */
	atomic_fetch_add(&b.ctx->inflight, 1);
	if (atomic_load(&b.ctx->dead)) {
		err = -EINVAL;
		goto out;
	}
	checked = !(b.ctx->flags & UAIO_F_NOCHECK);
	stats_prepare(b.ctx);
	if (nr > b.ctx->nr)
		nr = b.ctx->nr;
	b.single = nr == 1;
	/* Integer arithmetic: iocbpp may be a bad pointer, even NULL. */
	while (i < nr && !err)
		i += submit_chunk(&b, checked, (uint64_t)(uintptr_t)iocbpp + (uint64_t)i * sizeof(*iocbpp),
				  nr - i > BATCH ? BATCH : (int)(nr - i), &err);
	if (b.handed)
		stats_handed(b.ctx, b.handed);
	if (b.ref_fd >= 0)
		fref_put(b.ref_fd);
out:
	inflight_done(b.ctx);
	ctx_put(b.ctx);
	return i ? (int)i : err;
}
