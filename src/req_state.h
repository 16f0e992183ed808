/* SPDX-License-Identifier: MIT */
/* req_state.h - the moves of a request's state word, req->state, by name.
 * A request that left submit is owned by whoever moved its state last;
 * who may move it from where is decided by one exchange, so a runner and
 * a canceller never both win.
 *
 * REQ_QUEUED: handed on, not started.  It waits in one of three places:
 *   the threads executor's queue; the io_uring executor (its SQ or the
 *   kernel: that executor's cancel decides, see exec_ops.cancel); or
 *   faults.c's hold list (a FAULT_DELAY request, until due).  Run by
 *   req_claim_for_run, withdrawn by req_claim_for_cancel.
 * REQ_WAITING: waiting for readiness in the poller, or a POLL in the
 *   io_uring executor.  Same two exchanges.
 * REQ_RUNNING: its runner owns it (it may have moved data); a canceller
 *   gets -EAGAIN.  The poller may park it WAITING again; the kernel-AIO
 *   executor hands what the kernel refused back to QUEUED (req_requeue).
 * REQ_DONE: its runner is posting its event (req_mark_done).
 * REQ_CANCELLED: a canceller won; it posts the event, and whoever held
 *   the request (queue, ring, group) frees it when it comes across it. */
#ifndef UAIO_REQ_STATE_H
#define UAIO_REQ_STATE_H

#include "internal.h"

/* submit, before the request is published (by active_lock and the
 * executor's lock): relaxed. */
static inline void req_state_init(struct uaio_req *req, int s)
{
	atomic_store_explicit(&req->state, s, memory_order_relaxed);
}

/* A runner takes req from `from` (QUEUED or WAITING) to RUNNING; false
 * if a canceller (or another runner) moved it first. */
static inline bool req_claim_for_run(struct uaio_req *req, int from)
{
	/* acq_rel: the winner sees the other side's writes to req. */
	return atomic_compare_exchange_strong_explicit(&req->state, &from, REQ_RUNNING,
						       memory_order_acq_rel, memory_order_acquire);
}

/* A canceller takes req from *from (QUEUED or WAITING) to CANCELLED;
 * false, with the state it found in *from, if a runner moved it first. */
static inline bool req_claim_for_cancel(struct uaio_req *req, int *from)
{
	/* acq_rel: the winner of the exchange owns the request's fate. */
	return atomic_compare_exchange_strong_explicit(&req->state, from, REQ_CANCELLED,
						       memory_order_acq_rel, memory_order_acquire);
}

/* The poller, its lock held: a RUNNING req linked in a group waits. */
static inline void req_park_waiting(struct uaio_req *req)
{
	/* release: the request is linked before anyone may take it. */
	atomic_store_explicit(&req->state, REQ_WAITING, memory_order_release);
}

/* The poller, its lock held: undoes req_park_waiting (epoll refused). */
static inline void req_unpark(struct uaio_req *req)
{
	/* relaxed: nobody could take it; the poller's lock was held throughout. */
	atomic_store_explicit(&req->state, REQ_RUNNING, memory_order_relaxed);
}

/* An executor that waits for a POLL itself: QUEUED -> WAITING, with
 * ctx->active_lock held (a canceller's exchange happens under it too). */
static inline void req_wait_locked(struct uaio_req *req)
{
	/* relaxed: published by active_lock. */
	atomic_store_explicit(&req->state, REQ_WAITING, memory_order_relaxed);
}

/* The runner of a RUNNING req that moved nothing it will not account
 * for in req->done (the kernel refused it, or did part of it): back to
 * QUEUED, for another runner to claim. */
static inline void req_requeue(struct uaio_req *req)
{
	/* release: req->done and the rest are written before another runner
	 * claims it (acquire in req_claim_for_run). */
	atomic_store_explicit(&req->state, REQ_QUEUED, memory_order_release);
}

/* The runner of a RUNNING req, ctx->active_lock held: its event follows. */
static inline void req_mark_done(struct uaio_req *req)
{
	/* release: a canceller that sees DONE also sees nothing to undo. */
	atomic_store_explicit(&req->state, REQ_DONE, memory_order_release);
}
#endif
