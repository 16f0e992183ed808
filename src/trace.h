/* SPDX-License-Identifier: MIT */
/* trace.h - UAIO_TRACE=FILE: every request the program submits, as fio's
 * iolog version 3 in FILE.<pid> (replayable with fio --read_iolog), and
 * with UAIO_TRACE_DETAIL=1 one JSON line per request in FILE.<pid>.jsonl.
 * Internal (hidden).  Each hook in the request path is one line behind
 * one predictable branch on a global that never changes after the first
 * setup, so that tracing off costs a load and a not-taken branch:
 *
 *	if (unlikely(g_trace)) trace_xxx(...);
 */
#ifndef UAIO_TRACE_H
#define UAIO_TRACE_H

#include "internal.h"

#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Where a request was picked up (the JSON's "route"). */
enum trace_route {
	TR_QUEUED,	/* handed on, never started (cancelled, or failed before) */
	TR_INLINE,	/* completed inside io_submit */
	TR_WORKER,	/* a threads-executor worker */
	TR_POLLER,	/* the readiness thread (poller.c) */
	TR_URING,	/* an io_uring SQE */
	TR_KAIO,	/* the kernel's AIO (io_submit) */
};

/* True when UAIO_TRACE was set at the process's first setup.  Written once
 * by process_init (under its pthread_once), before any request exists;
 * read without ordering: every reader got its context after that. */
extern bool g_trace;

/* process.c's first setup: reads UAIO_TRACE and sets g_trace. */
void trace_init(void);
/* submit.c: req (still submit's copy) was accepted; inline_done: it is
 * complete already (its result follows by trace_done). */
void trace_submit(struct uaio_req *req, bool inline_done);
/* An executor or the poller picks req up (it owns it: RUNNING). */
void trace_start(struct uaio_req *req, enum trace_route route);
/* req's event is being posted with res. */
void trace_done(const struct uaio_req *req, int64_t res);
/* Writes what is buffered (a context was destroyed). */
void trace_flush(void);
void trace_atfork_prepare(void);
void trace_atfork_parent(void);
void trace_atfork_child(void);
#endif
