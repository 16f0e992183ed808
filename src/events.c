/* SPDX-License-Identifier: MIT */
/* events.c - the completion side of a context: posting events (into the
 * ring, ring.c, with the statistics, the eventfd count and the wake-up of
 * the waiters), and getevents / pgetevents, which reap the ring and sleep
 * on those waiters. */
#include "check.h"
#include "ring.h"
#include <sys/uio.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* A request is over (posted, or refused at submit): destroy may go on. */
void inflight_done(struct uaio_ctx *ctx)
{
	/* release: our event and buffer writes happen before destroy sees 0. */
	if (atomic_fetch_sub_explicit(&ctx->inflight, 1, memory_order_release) == 1 &&
	    atomic_load(&ctx->dead))
		futex_wake(&ctx->inflight, 1, true);
}

/* Wakes every sleeping reaper.  post_lock held. */
static void wake_waiters_locked(struct uaio_ctx *ctx)
{
	struct waiter *w;

	while ((w = ctx->waiters)) {
		ctx->waiters = w->next;
		w->next = w->prev = NULL;
		/* release: pairs with the waiter's acquire of `woken`. */
		atomic_store_explicit(&w->woken, 1, memory_order_release);
		if (w->efd >= 0)
			eventfd_write(w->efd, 1);
		else
			futex_wake(&w->woken, 1, true);
	}
}

void ctx_wake_all(struct uaio_ctx *ctx)
{
	pthread_mutex_lock(&ctx->post_lock);
	wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->post_lock);
}

/* stamp: the request's t_submit (STAMP_*), for the statistics. */
void ctx_post(struct uaio_ctx *ctx, uint64_t data, uint64_t obj, int64_t res, uint64_t stamp,
	      unsigned nefd)
{
	uint64_t now = stats_clock(&stamp, 1);	/* outside the lock */
	struct io_event ev = { data, obj, res, 0 };

	stats_posted(&stamp, 1);	/* before the event can be seen */
	if (unlikely(g_check))
		check_posted(ctx, obj, stamp);
	pthread_mutex_lock(&ctx->post_lock);
	ring_put_locked(ctx, &ev);
	/* relaxed: a statistic, counted before the event can be seen. */
	atomic_fetch_add_explicit(&ctx->st_completed, 1, memory_order_relaxed);
	stats_event_locked(ctx, res, stamp, now);
	if (nefd)	/* relaxed: the release of the tail below publishes it */
		atomic_fetch_add_explicit(&ctx->efd_pending, nefd, memory_order_relaxed);
	ring_publish_locked(ctx);
	if (ctx->waiters)
		wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->post_lock);
}

/* Posts n events under one lock, with one tail publication and wake-up
 * (and one clock read for the statistics). */
void ctx_post_many(struct uaio_ctx *ctx, const struct io_event *evs, const uint64_t *stamps, int n,
		   unsigned nefd)
{
	uint64_t now = stats_clock(stamps, n);	/* outside the lock */

	stats_posted(stamps, n);	/* before the events can be seen */
	if (unlikely(g_check))
		check_posted_many(ctx, evs, stamps, n);
	pthread_mutex_lock(&ctx->post_lock);
	for (int i = 0; i < n; i++) {
		ring_put_locked(ctx, &evs[i]);
		stats_event_locked(ctx, evs[i].res, stamps[i], now);
	}
	/* relaxed: a statistic, counted before the events can be seen. */
	atomic_fetch_add_explicit(&ctx->st_completed, (unsigned)n, memory_order_relaxed);
	if (nefd)	/* relaxed: the release of the tail below publishes it */
		atomic_fetch_add_explicit(&ctx->efd_pending, nefd, memory_order_relaxed);
	ring_publish_locked(ctx);
	if (ctx->waiters)
		wake_waiters_locked(ctx);
	pthread_mutex_unlock(&ctx->post_lock);
}

/* The kernel signals a request's eventfd after its event is in the ring
 * and before it wakes getevents; here the eventfd is written after the
 * post (not under post_lock: a write can block), so getevents waits for
 * those writes instead: whoever gets an event can read its eventfd. */
void ctx_efd_signalled(struct uaio_ctx *ctx, unsigned n)
{
	/* release: the eventfd writes come before a reaper sees the count drop. */
	atomic_fetch_sub_explicit(&ctx->efd_pending, n, memory_order_release);
}

static void efd_wait(struct uaio_ctx *ctx)
{
	/* acquire: pairs with ctx_efd_signalled. */
	for (unsigned i = 0; atomic_load_explicit(&ctx->efd_pending, memory_order_acquire); i++) {
		if (i < 64)
			__builtin_ia32_pause();
		else
			sched_yield();	/* the poster may be off the CPU */
	}
}

/* One eventfd per thread that sleeps on a descriptor (pgetevents with a
 * signal mask; getevents while requests are in an executor's kernel
 * ring, see wait_completion), kept for the thread's life: ppoll on it
 * applies the mask atomically, and watches it with the executor's
 * descriptor, which a futex cannot.  (One made for each sleep cost four
 * system calls per sleep: eventfd2, the F_DUPFD that places it high,
 * two closes.) */
static pthread_key_t efd_key;
static pthread_once_t efd_once = PTHREAD_ONCE_INIT;
static __thread struct fd_id efd_id;	/* what this thread's eventfd named */
static _Atomic bool efd_key_made;	/* efd_key exists */

/* Every thread's eventfd, so that a forked child closes the copies it
 * inherits (a copy is shared with the parent: a wake-up meant for one
 * process could be read by the other) while they are surely its own, in
 * the fork handler, before the program can reuse a number. */
struct efd_node {
	int fd;
	struct efd_node *prev, *next;
};
static pthread_mutex_t efd_reg_lock = PTHREAD_MUTEX_INITIALIZER;	/* protects efd_reg; a leaf */
static struct efd_node *efd_reg;
static __thread struct efd_node *efd_me;	/* this thread's entry (heap), or NULL */

/* Takes this thread's entry off the list and frees it.  efd_reg_lock held. */
static void efd_unlink_locked(void)
{
	struct efd_node *n = efd_me;

	if (!n)
		return;
	if (n->prev)
		n->prev->next = n->next;
	else
		efd_reg = n->next;
	if (n->next)
		n->next->prev = n->prev;
	efd_me = NULL;
	free(n);
}

void events_atfork_prepare(void)
{
	pthread_mutex_lock(&efd_reg_lock);
}

void events_atfork_parent(void)
{
	pthread_mutex_unlock(&efd_reg_lock);
}

void events_atfork_child(void)
{
	for (struct efd_node *n = efd_reg, *next; n; n = next) {
		next = n->next;
		close(n->fd);
		free(n);
	}
	efd_reg = NULL;
	efd_me = NULL;
	if (atomic_load_explicit(&efd_key_made, memory_order_relaxed))	/* single-threaded here */
		pthread_setspecific(efd_key, NULL);	/* the forking thread makes a new one */
	/* the forking thread took it in prepare: unlocked, not overwritten */
	pthread_mutex_unlock(&efd_reg_lock);
}

static void efd_close(void *p)
{
	pthread_mutex_lock(&efd_reg_lock);
	efd_unlink_locked();
	pthread_mutex_unlock(&efd_reg_lock);
	if (fd_id_same((int)(intptr_t)p - 1, &efd_id))	/* not if the program took it */
		close((int)(intptr_t)p - 1);
}

static void efd_key_init(void)
{
	if (pthread_key_create(&efd_key, efd_close) == 0)	/* relaxed: read by a forked child only */
		atomic_store_explicit(&efd_key_made, true, memory_order_relaxed);
}

/* Placed high and checked at each use: one the program closed or
 * replaced is left to it and a new one made. */
static int thread_efd(void)
{
	struct efd_node *n;
	intptr_t v;
	int fd;

	pthread_once(&efd_once, efd_key_init);
	v = (intptr_t)pthread_getspecific(efd_key);
	if (v && fd_id_same((int)v - 1, &efd_id))
		return (int)v - 1;
	pthread_setspecific(efd_key, NULL);
	fd = fd_move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (fd >= 0 && !fd_id_take(fd, &efd_id)) {
		close(fd);
		fd = -1;
	}
	n = fd >= 0 ? calloc(1, sizeof(*n)) : NULL;
	if (fd >= 0 && !n) {
		close(fd);
		fd = -1;
	}
	pthread_mutex_lock(&efd_reg_lock);
	efd_unlink_locked();	/* the old number is not ours now */
	if (n) {
		n->fd = fd;
		n->next = efd_reg;
		if (efd_reg)
			efd_reg->prev = n;
		efd_reg = n;
		efd_me = n;
	}
	pthread_mutex_unlock(&efd_reg_lock);
	if (fd >= 0)
		pthread_setspecific(efd_key, (void *)(intptr_t)(fd + 1));
	return fd;
}

static long ts_until_ms(const struct timespec *deadline)
{
	struct timespec now;
	long long ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (deadline->tv_sec - now.tv_sec > (1 << 30))
		return 0x7fffffff;
	ns = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000LL + (deadline->tv_nsec - now.tv_nsec);
	return ns <= 0 ? 0 : (long)((ns + 999999) / 1000000 > 0x7fffffff ? 0x7fffffff : (ns + 999999) / 1000000);
}

/* pgetevents without an eventfd (descriptors ran out): ppoll on no
 * descriptor still applies the mask atomically; it sleeps at most 1 ms
 * and the caller looks at the ring again.  0, -ETIMEDOUT or -EINTR. */
static int wait_slice(const struct timespec *deadline, const sigset_t *sigmask)
{
	long ms = ts_until_ms(deadline);
	struct timespec rel = { 0, 1000000 };

	if (ms == 0)
		return -ETIMEDOUT;
	if (ppoll(NULL, 0, &rel, sigmask) < 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

/* The sleep of wait_completion on w->efd and the executor's xfd (if >= 0;
 * woken by it for another context's CQEs, the caller reaps and looks
 * again).  In slices of at most FD_SLEEP_MAX_MS, each computed from the
 * absolute deadline: a descriptor closed under the sleep is never
 * signalled, and one that is always readable ends the sleep, never the
 * deadline.  0, -ETIMEDOUT, -EINTR, or -EBADF: w->efd was closed. */
static int wait_fds(struct waiter *w, int xfd, const struct timespec *deadline,
		    const sigset_t *sigmask)
{
	struct pollfd p[2] = { { .fd = w->efd, .events = POLLIN }, { .fd = xfd, .events = POLLIN } };
	eventfd_t junk;

	for (;;) {
		long ms = ts_until_ms(deadline);
		struct timespec rel;
		int n;

		if (ms == 0)
			return -ETIMEDOUT;
		ms = ms > FD_SLEEP_MAX_MS ? FD_SLEEP_MAX_MS : ms;
		rel = (struct timespec){ ms / 1000, (ms % 1000) * 1000000 };
		n = ppoll(p, xfd >= 0 ? 2 : 1, &rel, sigmask);
		if (n < 0)
			return errno == EINTR ? -EINTR : 0;
		if (p[0].revents & POLLNVAL)
			return -EBADF;
		if (n > 0) {
			if (p[0].revents & POLLIN)
				eventfd_read(w->efd, &junk);
			return 0;
		}
		/* acquire: pairs with the completer's release store of woken. */
		if (atomic_load_explicit(&w->woken, memory_order_acquire))
			return 0;
	}
}

/* Sleeps until a completer wakes us, the deadline passes or a signal
 * arrives.  Returns 0, -ETIMEDOUT or -EINTR. */
static int wait_completion(struct uaio_ctx *ctx, const struct timespec *deadline,
			   const sigset_t *sigmask)
{
	struct waiter w = { .efd = -1 };
	/* With requests in the kernel (io_uring, kaio executors), sleep on
	 * the executor's descriptor too: their completions wake us directly
	 * and we drain them ourselves (see uring_wait_fd).  Other completions
	 * then wake us through the thread's eventfd (a futex cannot be
	 * polled). */
	int xfd = ctx->exec->wait_fd ? ctx->exec->wait_fd() : -1;
	long r = 0;

	if (sigmask) {
		if ((w.efd = thread_efd()) < 0)
			return wait_slice(deadline, sigmask);
	} else if (xfd >= 0) {
		if ((w.efd = thread_efd()) < 0)
			xfd = -1;	/* no descriptor to spare: the futex alone */
	}
	pthread_mutex_lock(&ctx->post_lock);
	if (ring_ready(ctx) || atomic_load(&ctx->dead)) {
		pthread_mutex_unlock(&ctx->post_lock);
		return 0;
	}
	w.next = ctx->waiters;
	if (w.next)
		w.next->prev = &w;
	ctx->waiters = &w;
	pthread_mutex_unlock(&ctx->post_lock);

	if (w.efd >= 0) {
		r = wait_fds(&w, xfd, deadline, sigmask);
		if (r == -EBADF)	/* our eventfd was closed under us: thread_efd makes another */
			r = 0;
	} else {
		/* acquire: pairs with the completer's release store of woken. */
		while (!atomic_load_explicit(&w.woken, memory_order_acquire)) {
			r = futex_wait_abs(&w.woken, 0, deadline, true);
			if (r == -ETIMEDOUT || r == -EINTR)
				break;
			r = 0;
		}
	}
	pthread_mutex_lock(&ctx->post_lock);
	if (!atomic_load_explicit(&w.woken, memory_order_relaxed)) {	/* still linked */
		if (w.prev)
			w.prev->next = w.next;
		else
			ctx->waiters = w.next;
		if (w.next)
			w.next->prev = w.prev;
	} else {
		r = r == -EINTR ? r : 0;
	}
	pthread_mutex_unlock(&ctx->post_lock);
	return (int)r;
}

/* The timeout as the kernel reads it: sec * 1e9 + nsec, no range check;
 * negative waits for ever.  Returns false for "wait for ever". */
static bool deadline_from(const struct timespec *t, struct timespec *abs, bool *nowait)
{
	__int128 ns = (__int128)t->tv_sec * 1000000000 + t->tv_nsec;
	struct timespec now;

	*nowait = ns == 0;
	if (ns < 0 || ns > ((__int128)1 << 62))
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns += (__int128)now.tv_sec * 1000000000 + now.tv_nsec;
	abs->tv_sec = (time_t)(ns / 1000000000);
	abs->tv_nsec = (long)(ns % 1000000000);
	return true;
}

/* Spins briefly for an event: waking a sleeping thread costs ~100 us on a
 * virtual CPU, far more than most completions take to arrive.  The budget
 * adapts: it halves after a spin that found nothing (a disk-bound load,
 * where spinning only steals the workers' CPU) and doubles, up to
 * UAIO_SPIN_US, after one that did. */
static void spin_for_event(struct uaio_ctx *ctx)
{
	unsigned max = (unsigned)config_spin_ns(), limit;
	struct timespec t0, t;

	if (!max)
		return;
	/* relaxed: a tuning hint, any recent value will do. */
	limit = atomic_load_explicit(&ctx->spin_budget, memory_order_relaxed);
	if (limit == 0 || limit > max)
		limit = max;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0;; i++) {
		if (ring_ready(ctx) || atomic_load_explicit(&ctx->dead, memory_order_relaxed)) {
			limit = limit * 2 > max ? max : limit * 2;
			break;
		}
		__builtin_ia32_pause();
		if ((i & 63) == 63 && ctx->exec->reap)
			ctx->exec->reap();
		if ((i & 63) == 63) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > (long)limit) {
				limit = limit / 2 < 500 ? 500 : limit / 2;
				break;
			}
		}
	}
	atomic_store_explicit(&ctx->spin_budget, limit, memory_order_relaxed);
}

static int do_getevents(aio_context_t h, long min_nr, long nr, struct io_event *events,
			struct timespec *timeout, const sigset_t *sigmask)
{
	struct timespec ts, deadline = { (time_t)1 << 41, 0 };
	struct uaio_ctx *ctx;
	sigset_t mask;
	bool nowait = false, checked;
	long got = 0;
	int ret = 0, r;

	/* The kernel copies the pointers in before the lookup, so a bad
	 * timeout is -EFAULT even on an unknown context; the lookup comes
	 * first here only to learn whether this context checks pointers. */
	ctx = ctx_get(h);
	checked = !ctx || !(ctx->flags & UAIO_F_NOCHECK);
	if ((timeout && ua_read(checked, &ts, (uint64_t)(uintptr_t)timeout, sizeof(ts)) < 0) ||
	    (sigmask && ua_read(checked, &mask, (uint64_t)(uintptr_t)sigmask, sizeof(mask)) < 0)) {
		if (ctx)
			ctx_put(ctx);
		return -EFAULT;
	}
	if (!ctx)
		return -EINVAL;
	if (min_nr < 0 || nr < 0 || min_nr > nr) {
		ctx_put(ctx);
		return -EINVAL;
	}
	if (unlikely(g_check) && timeout && !min_nr)
		check_getevents(ctx, min_nr, &ts);
	if (timeout)
		deadline_from(&ts, &deadline, &nowait);
	for (;;) {
		if (ctx->exec->reap)
			ctx->exec->reap();
		/* Integer arithmetic: events may be a bad pointer, even NULL. */
		r = ring_reap(ctx, (struct io_event *)((uintptr_t)events + (size_t)got * sizeof(*events)),
			      nr - got);
		if (r < 0) {
			ret = got ? 0 : r;
			break;
		}
		got += r;
		if (got >= min_nr || nowait)
			break;
		if (atomic_load(&ctx->dead)) {
			ret = got ? 0 : -EINVAL;
			break;
		}
		spin_for_event(ctx);
		if (ring_ready(ctx))
			continue;
		r = wait_completion(ctx, &deadline, sigmask ? &mask : NULL);
		if (r == -ETIMEDOUT)
			nowait = true;	/* one last look, then the loop ends */
		else if (r == -EINTR) {
			ret = got ? 0 : -EINTR;
			break;
		}
	}
	if (got)
		efd_wait(ctx);
	ctx_put(ctx);
	return ret < 0 ? ret : (int)got;
}

/* Errors: -EFAULT timeout, sigmask or events unusable; -EINVAL unknown
 * context, min_nr < 0, nr < 0, min_nr > nr, or the context destroyed
 * while waiting; -EINTR a signal arrived before any event. */
UAIO_API int uaio_getevents(aio_context_t ctx, long min_nr, long nr, struct io_event *events,
			    struct timespec *timeout)
{
	int cs = nocancel_begin(), r = do_getevents(ctx, min_nr, nr, events, timeout, NULL);

	nocancel_end(cs);
	return r;
}

UAIO_API int uaio_pgetevents(aio_context_t ctx, long min_nr, long nr, struct io_event *events,
			     struct timespec *timeout, const sigset_t *sigmask)
{
	int cs = nocancel_begin(), r = do_getevents(ctx, min_nr, nr, events, timeout, sigmask);

	nocancel_end(cs);
	return r;
}
