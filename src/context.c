/* SPDX-License-Identifier: MIT */
/* context.c - setup and destroy of contexts, the quota, and the process's
 * statistics.  Lookup (ctx_get, ctx_put) is the handle table's (table.c);
 * what runs once per process, at fork and at exit is process.c's. */
#include "arena.h"
#include "check.h"
#include "internal.h"
#include "ring.h"
#include "trace.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Under the table lock (table.c): */
static unsigned long quota_used;	/* nr_events of live contexts (limit: UAIO_MAX_NR) */
static unsigned next_id;
static struct uaio_stats retired;	/* counters of destroyed contexts */
_Atomic unsigned long long g_workers;	/* live workers; relaxed, statistics only */

static struct uaio_ctx *ctx_new(unsigned nr_events, unsigned flags, const struct exec_ops *ex)
{
	struct uaio_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return NULL;
	pthread_mutex_init(&ctx->post_lock, NULL);
	pthread_mutex_init(&ctx->reap_lock, NULL);
	pthread_mutex_init(&ctx->active_lock, NULL);
	ctx->max_reqs = nr_events;
	ctx->flags = flags;
	ctx->exec = ex;
	atomic_init(&ctx->refs, 1);	/* the table's */
	return ctx;
}

/* Maps a ring for ctx and enters it in the table.  Table lock held. */
static int ctx_install(struct uaio_ctx *ctx, unsigned nr_events, size_t len)
{
	struct arena_slice s;

	if (quota_used + nr_events > config()->max_nr || quota_used + nr_events < quota_used)
		return -EAGAIN;
	if (arena_alloc(len, &s) < 0)
		return -ENOMEM;
	if (table_reserve() < 0) {
		arena_free(&s, 0);
		return -ENOMEM;
	}
	ctx->ring = (struct uaio_ring *)s.lib;
	ctx->ring_off = s.off;
	ctx->ring_len = s.len;
	ctx->nr = ring_entries(len);
	ctx->handle = ctx->home = (uint64_t)(uintptr_t)s.user;
	atomic_init(&ctx->avail, (int)ctx->nr - 1);
	ring_init(ctx->ring, next_id++, ctx->nr);
	table_enter(ctx);
	quota_used += nr_events;
	return 0;
}

static void ctx_uninstall(struct uaio_ctx *ctx)
{
	struct arena_slice s = { ctx->ring_off, ctx->ring_len, (char *)ctx->ring, NULL };

	table_remove(ctx);
	arena_free(&s, ctx->handle);
	quota_used -= ctx->max_reqs;
}

static int setup_checked(unsigned nr_events, const struct uaio_params *p, aio_context_t *ctxp)
{
	const struct exec_ops *ex;
	struct faults *faults;
	bool fallback;
	unsigned flags = 0;
	aio_context_t cur;
	struct uaio_ctx *ctx;
	size_t len;
	int ret;

	process_init();
	if (p)
		flags = p->flags;
	if (!config()->checks)
		flags |= UAIO_F_NOCHECK;
	if (!g_stats_default)
		flags |= UAIO_F_NOSTATS;
	if (config()->async_writes)
		flags |= UAIO_F_ASYNC_WRITES;
	if (ua_read(!(flags & UAIO_F_NOCHECK), &cur, (uint64_t)(uintptr_t)ctxp, sizeof(cur)) < 0)
		return -EFAULT;
	if (cur || nr_events == 0)
		return -EINVAL;
	if (p) {
		for (unsigned i = 0; i < sizeof(p->reserved) / sizeof(p->reserved[0]); i++)
			if (p->reserved[i])
				return -EINVAL;
		if (p->flags & ~(UAIO_F_NOCHECK | UAIO_F_NOSTATS | UAIO_F_ASYNC_WRITES))
			return -EINVAL;
		if (p->threads)
			exec_set_limits(&(struct exec_limits){ .threads = p->threads });
	}
	ex = exec_choose(p ? p->executor : NULL, &fallback);
	if (!ex)
		return -EINVAL;
	if (!(len = ring_len(nr_events)))
		return -EINVAL;
	ret = faults_parse(p && p->faults ? p->faults : config_faults(), &faults);
	if (ret < 0)
		return ret;
	ctx = ctx_new(nr_events, flags, ex);
	if (!ctx) {
		faults_free(faults);
		return -ENOMEM;
	}
	ctx->faults = faults;	/* freed with ctx */
	if (ex->ctx_init && (ret = ex->ctx_init(ctx)) < 0) {
		if (!fallback) {	/* forced "uring": -EPERM, -ENOSYS or -ENOMEM */
			ctx_put(ctx);
			return ret;
		}
		ctx->exec = ex->fallback;
	}
	table_wrlock();
	ret = ctx_install(ctx, nr_events, len);
	table_unlock();
	if (ret < 0) {
		if (ctx->exec->ctx_fini)
			ctx->exec->ctx_fini(ctx);
		ctx_put(ctx);
		return ret;
	}
	report_setup(ex->name);
	cur = ctx->handle;
	if (ua_write(!(flags & UAIO_F_NOCHECK), (uint64_t)(uintptr_t)ctxp, &cur, sizeof(cur)) < 0) {
		uaio_destroy(cur);
		return -EFAULT;
	}
	return 0;
}

UAIO_API int uaio_setup_params(unsigned nr_events, const struct uaio_params *p, aio_context_t *ctxp)
{
	int cs = nocancel_begin(), r = setup_checked(nr_events, p, ctxp);

	nocancel_end(cs);
	return r;
}

UAIO_API int uaio_setup(unsigned nr_events, aio_context_t *ctxp)
{
	return uaio_setup_params(nr_events, NULL, ctxp);
}

/* What wait_counter does about requests that arrive while it waits. */
enum late { LATE_WAIT, LATE_CANCEL, LATE_CANCEL_WAITING };

/* Sleeps until *count is 0, looking again every slice_ms; with LATE_CANCEL*
 * each look first cancels late arrivals (ctx_cancel_all, all or only those
 * waiting for readiness). */
static void wait_counter(struct uaio_ctx *ctx, _Atomic uint32_t *count, long slice_ms,
			 enum late late)
{
	uint32_t v;

	/* acquire: pairs with the release of whoever drops the count
	 * (inflight_done: its event and buffer writes; req_file_drop: its
	 * close), so all of that is visible once we see zero. */
	while ((v = atomic_load_explicit(count, memory_order_acquire)) != 0) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += slice_ms * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		futex_wait_abs(count, v, &ts, true);
		if (late != LATE_WAIT)	/* catch late arrivals */
			ctx_cancel_all(ctx, late == LATE_CANCEL_WAITING);
	}
}

static int do_destroy(aio_context_t h);

/* Errors: -EINVAL unknown or already destroyed context. */
UAIO_API int uaio_destroy(aio_context_t h)
{
	int cs = nocancel_begin(), r = do_destroy(h);

	nocancel_end(cs);
	return r;
}

static int do_destroy(aio_context_t h)
{
	struct uaio_ctx *ctx = ctx_get(h);
	int expect = 0;

	if (!ctx)
		return -EINVAL;
	/* seq_cst: orders against a submitter's inflight increment (Dekker). */
	if (!atomic_compare_exchange_strong(&ctx->dead, &expect, 1)) {
		ctx_put(ctx);
		return -EINVAL;
	}
	if (unlikely(g_check))
		check_destroy(ctx);
	ctx_wake_all(ctx);
	ctx_cancel_all(ctx, false);
	wait_counter(ctx, &ctx->inflight, 50, LATE_CANCEL);
	if (ctx->faults)
		faults_forget(ctx);	/* delayed requests, all cancelled by now */
	/* Finished requests drop their file references just after their
	 * event: wait for that too, as the kernel's destroy does for its fputs. */
	wait_counter(ctx, &ctx->files, 10, LATE_WAIT);
	pthread_mutex_lock(&ctx->reap_lock);	/* no reader is inside the ring */
	table_wrlock();
	ctx_uninstall(ctx);
	stats_add_ctx(&retired, ctx);	/* its counts stay in the process totals */
	ctx->ring_gone = true;	/* ctx->ring stays a valid address: the library's view is never unmapped */
	table_unlock();
	pthread_mutex_unlock(&ctx->reap_lock);
	if (ctx->exec->ctx_fini)
		ctx->exec->ctx_fini(ctx);	/* nothing of ours is in flight any more */
	ctx_put(ctx);	/* the table's reference */
	ctx_put(ctx);	/* ours */
	report_write();
	if (unlikely(g_trace))	/* a program may _exit without exit handlers (fio's jobs) */
		trace_flush();
	return 0;
}

UAIO_API const char *uaio_executor_name(aio_context_t h)
{
	struct uaio_ctx *ctx = ctx_get(h);
	const char *name;

	if (!ctx)
		return NULL;
	name = ctx->exec->name;
	ctx_put(ctx);
	return name;
}

static void add_live(struct uaio_ctx *ctx, void *st)
{
	stats_add_ctx(st, ctx);
}

/* Errors: -EINVAL unknown context; -EFAULT st not writable. */
UAIO_API int uaio_stats(aio_context_t h, struct uaio_stats *st)
{
	struct uaio_stats s;
	struct uaio_ctx *ctx;

	memset(&s, 0, sizeof(s));
	if (h) {
		if (!(ctx = ctx_get(h)))
			return -EINVAL;
		stats_add_ctx(&s, ctx);
		ctx_put(ctx);
	} else {
		table_rdlock();
		s = retired;
		table_each_locked(add_live, &s);
		s.contexts = table_live();
		table_unlock();
		s.workers = atomic_load_explicit(&g_workers, memory_order_relaxed);
	}
	stats_finish(&s, h == 0);
	if (ua_write(true, (uint64_t)(uintptr_t)st, &s, sizeof(s)) < 0)
		return -EFAULT;
	return 0;
}

/* exit(): cancels what waits for readiness (it could wait for ever) and
 * waits for the rest. */
void ctx_drain(struct uaio_ctx *ctx)
{
	ctx_cancel_all(ctx, true);
	wait_counter(ctx, &ctx->inflight, 50, LATE_CANCEL_WAITING);
}

/* In a forked child, after table_atfork_child: no context is live. */
void ctx_atfork_child(void)
{
	quota_used = 0;
	memset(&retired, 0, sizeof(retired));	/* the child's statistics start afresh */
	atomic_store_explicit(&g_workers, 0, memory_order_relaxed);
}
