/* SPDX-License-Identifier: MIT */
/* exec/exec.h - the executor contract.  An executor runs the requests
 * submit hands on: it owns them from submit() until it completes them
 * (req_complete) or a canceller wins their state exchange (req_state.h).
 * Adding one is a new file in src/exec/ and one line in executors[]
 * (exec.c).  Nothing outside src/exec/ names an executor. */
#ifndef UAIO_EXEC_H
#define UAIO_EXEC_H

#include "internal.h"

/* Results of exec_ops.cancel and req_cancel_locked (>= 0: cancelled). */
enum {
	CANCEL_POST = 0,	/* caller posts *res; the executor frees req */
	CANCEL_OWN = 1,		/* caller posts *res and frees req */
	CANCEL_DONE = 2,	/* executor posts and frees; caller does nothing */
	CANCEL_PASS = 3,	/* exec_ops.cancel only: not the executor's to decide,
				 * the state exchange does (req_cancel_locked) */
};

/* exec_ops.reserve: the executor will not run req itself; its fallback
 * (or, for a POLL, the readiness service) will. */
#define EXEC_FALLBACK 1

/* Process-wide limits, set at load (environment) and by setup. */
struct exec_limits {
	unsigned threads;	/* most threads doing I/O (UAIO_THREADS); 0 keeps it */
};

/* The contract.  Only name and submit are required.
 * probe: 0 when the executor works here, else setup's -errno; cached by
 *   the executor (asked by every "auto" setup).  NULL: works everywhere.
 * ctx_init/ctx_fini: a context starts / stops using the executor (setup,
 *   and destroy once nothing is in flight); ctx_init returns 0 or -errno.
 * reserve: submit asks before it accepts req: 0 when the executor can run
 *   it (starting what it needs), EXEC_FALLBACK when the fallback will, or
 *   -EAGAIN (no thread can be had) / another -errno (no descriptor).
 * submit: takes a batch of requests of one context, already on its active
 *   list and QUEUED (a canceller may have won some meanwhile: their events
 *   are posted, the executor frees them).
 * cancel: called with ctx->active_lock held for every request of a context
 *   on this executor; may drop and retake the lock only when wait is true
 *   (cancel(2) wants the verdict; destroy does not).  Returns CANCEL_PASS
 *   for a request it does not decide, else a CANCEL_* value or -EAGAIN /
 *   -EINVAL, as req_cancel_locked.
 * req_fini: frees what the executor keeps in req->exec_priv (req_free).
 * reap: a getevents caller moves finished work itself.
 * wait_fd: a descriptor that turns readable when reap() has work, for a
 *   getevents caller to sleep on as well; -1 when there is none now.
 * atfork_*: pthread_atfork hooks, run for every executor (exec.c).
 * set_limits: applies new process-wide limits.
 * fallback: runs what this executor hands back (exec_fallback); NULL for
 *   the last resort, which takes everything.
 * takes_poll: POLL requests come to submit() instead of the poller.
 * holds_file: true when submit() hands req to a kernel that takes its own
 *   reference to the file (kernel AIO's io_submit; io_uring's registered
 *   file slot, filled inside the call) and nothing after that needs the
 *   descriptor: submit.c then gives req no private duplicate
 *   (fref.c) and req->fd is the caller's, valid only during the submit
 *   call.  Such a request the executor hands to its fallback must first
 *   get one (req_hold_file).
 * submit_verify: submits one request routed on cached flags (fdflags.c)
 *   without asking fcntl (req->unverified), inside a submit call of one
 *   iocb, and tells at once whether the kernel took it: 0 taken (req is
 *   the executor's now, maybe finished and freed already), or 1 refused
 *   before it started (a descriptor closed or reopened since the flags
 *   were cached: -EBADF, -EISDIR, -EINVAL at issue; or no way to send it
 *   as such): req is untouched, still dispatched, and submit undoes it and
 *   decides it again with fresh flags, so that the error comes from
 *   submit, as the kernel's.  NULL: submit always asks fcntl first. */
struct exec_ops {
	const char *name;
	int (*probe)(void);
	int (*ctx_init)(struct uaio_ctx *ctx);
	void (*ctx_fini)(struct uaio_ctx *ctx);
	int (*reserve)(const struct uaio_req *req);
	void (*submit)(struct uaio_req **reqs, int n);
	int (*cancel)(struct uaio_req *req, int64_t *res, bool wait);
	void (*req_fini)(struct uaio_req *req);
	void (*reap)(void);
	int (*wait_fd)(void);
	void (*atfork_prepare)(void);
	void (*atfork_parent)(void);
	void (*atfork_child)(void);
	void (*set_limits)(const struct exec_limits *lim);
	const struct exec_ops *fallback;
	bool takes_poll;
	bool (*holds_file)(const struct uaio_req *req);
	int (*submit_verify)(struct uaio_req *req);
};

/* exec.c: the choice, the hand-over between executors, fork */
/* "threads", "kaio", "uring" or "auto" (also NULL or empty: $UAIO_EXECUTOR, else
 * auto).  auto takes the first executor of executors[] whose probe says
 * it works here and sets *fallback when that one has a fallback: if it
 * cannot be had for this context after all (ctx_init fails), setup uses
 * ex->fallback silently.  NULL for an unknown name. */
const struct exec_ops *exec_choose(const char *name, bool *fallback);
int exec_reserve(const struct exec_ops *ex, const struct uaio_req *req, bool *have_last);
void exec_fallback(struct uaio_req **reqs, int n);
void exec_set_limits(const struct exec_limits *lim);
void exec_atfork_prepare(void);
void exec_atfork_parent(void);
void exec_atfork_child(void);

/* threads.c: the cap other executors apply to their own threads */
unsigned exec_threads_cap(void);

/* The executors, named only by exec.c's executors[]. */
extern const struct exec_ops exec_threads;
extern const struct exec_ops exec_uring;
extern const struct exec_ops exec_kaio;
#endif
