/* SPDX-License-Identifier: MIT */
/* ring.c - the completion ring: the kernel's struct aio_ring ABI, which
 * programs read directly (head, tail and the events after the header).
 * uaio writes it only through the library's view (ctx->ring).
 *
 * Slots: a context starts with nr - 1 free slots (ctx->avail).  Submit
 * takes one per request; it comes back only once the request's event has
 * been reaped, whether by getevents or by a program that advances the
 * ring's head itself.  So the ring can never overflow: at most nr - 1
 * events are in flight or unreaped. */
#include "ring.h"
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <errno.h>
#include <unistd.h>

static unsigned possible_cpus(void)
{
	static _Atomic unsigned cached;	/* relaxed: every thread computes the same */
	unsigned n = atomic_load_explicit(&cached, memory_order_relaxed), lo, hi;
	FILE *f;

	if (n)
		return n;
	f = fopen("/sys/devices/system/cpu/possible", "re");
	if (f && fscanf(f, "%u-%u", &lo, &hi) == 2)
		n = hi + 1;
	else
		n = (unsigned)sysconf(_SC_NPROCESSORS_CONF);
	n = n ? n : 1;
	if (f) {	/* no descriptor (fds ran out): ask again next time */
		fclose(f);
		atomic_store_explicit(&cached, n, memory_order_relaxed);
	}
	return n;
}

/* As the kernel's aio_setup_ring: at least 4 events per possible CPU,
 * room for twice as many as asked plus 2, rounded up to whole pages. */
size_t ring_len(unsigned nr_events)
{
	unsigned long n = nr_events > 4 * possible_cpus() ? nr_events : 4 * possible_cpus();
	size_t bytes;

	if (n * 2 > MAX_EVENTS_BYTES / sizeof(struct io_event))
		return 0;
	bytes = sizeof(struct uaio_ring) + (n * 2 + 2) * sizeof(struct io_event);
	return (bytes + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
}

unsigned ring_entries(size_t len)
{
	return (unsigned)((len - sizeof(struct uaio_ring)) / sizeof(struct io_event));
}

void ring_init(struct uaio_ring *r, unsigned id, unsigned nr)
{
	r->id = id;
	r->nr = nr;
	r->head = 0;
	r->tail = 0;
	r->magic = UAIO_RING_MAGIC;
	r->compat_features = 1;
	r->incompat_features = 0;
	r->header_length = sizeof(struct uaio_ring);
}

static unsigned ring_head(struct uaio_ctx *ctx)
{
	/* acquire: the reaper's copy of the events happened before it moved head. */
	unsigned head = atomic_load_explicit((_Atomic unsigned *)&ctx->ring->head,
					     memory_order_acquire);
	return head % ctx->nr;	/* the user may write anything there */
}

/* Credits back the slots of events reaped since the last refill.  Every
 * event still in the ring is among the `completed` uncredited ones. */
static void slots_refill(struct uaio_ctx *ctx)
{
	unsigned in_ring;

	pthread_mutex_lock(&ctx->post_lock);
	in_ring = (ctx->tail + ctx->nr - ring_head(ctx)) % ctx->nr;
	if (ctx->completed > in_ring) {
		/* release: we saw (acquire, ring_head) the reaper's copies of these
		 * slots; whoever takes a slot (slot_take, acquire) and posts to it
		 * later must see them too, or its event could overwrite one still
		 * being copied out (the C11 model; ThreadSanitizer reported it). */
		atomic_fetch_add_explicit(&ctx->avail, (int)(ctx->completed - in_ring),
					  memory_order_release);
		ctx->completed = in_ring;
	}
	pthread_mutex_unlock(&ctx->post_lock);
}

static bool slot_take(struct uaio_ctx *ctx)
{
	int a = atomic_load_explicit(&ctx->avail, memory_order_relaxed);

	/* acquire on success: pairs with slots_refill's release (the slot's
	 * previous event was copied out); relaxed on failure: only a count. */
	while (a > 0)
		if (atomic_compare_exchange_weak_explicit(&ctx->avail, &a, a - 1,
							  memory_order_acquire, memory_order_relaxed))
			return true;
	return false;
}

bool slot_get(struct uaio_ctx *ctx)
{
	if (slot_take(ctx))
		return true;
	slots_refill(ctx);
	return slot_take(ctx);
}

void slot_put(struct uaio_ctx *ctx)
{
	atomic_fetch_add_explicit(&ctx->avail, 1, memory_order_relaxed); /* a count */
}

void ring_put_locked(struct uaio_ctx *ctx, const struct io_event *ev)
{
	ctx->ring->io_events[ctx->tail] = *ev;
	ctx->tail = (ctx->tail + 1) % ctx->nr;
	ctx->completed++;
}

void ring_publish_locked(struct uaio_ctx *ctx)
{
	/* release: the events are written before any reader sees the new tail. */
	atomic_store_explicit((_Atomic unsigned *)&ctx->ring->tail, ctx->tail, memory_order_release);
	atomic_store_explicit(&ctx->tail_pub, ctx->tail, memory_order_release);
}

/* How many events lie between head and the tail.  The tail is published
 * twice, in the ring for programs that reap it themselves and in tail_pub
 * (which a program cannot scribble on), one store after the other.  A
 * program that reaped up to the ring's tail may have moved head past a
 * tail_pub not yet stored; counted from tail_pub alone, head would then be
 * a whole ring ahead, and stale slots would be reaped again (the soak test
 * saw zeroed and duplicated events).  The smaller distance counts only the
 * events both publications show.  mo: acquire when the events are to be
 * read (pairs with ring_publish_locked's releases), relaxed for a hint. */
static unsigned ring_count(struct uaio_ctx *ctx, unsigned head, memory_order mo)
{
	unsigned pub = atomic_load_explicit(&ctx->tail_pub, mo);
	unsigned seen = atomic_load_explicit((_Atomic unsigned *)&ctx->ring->tail, mo) % ctx->nr;
	unsigned a = (pub + ctx->nr - head) % ctx->nr, b = (seen + ctx->nr - head) % ctx->nr;

	return a < b ? a : b;
}

/* Copies up to nr events to the caller and advances head.  Returns the
 * number copied, 0 on a destroyed context, -EFAULT for a bad buffer (the
 * events then stay in the ring). */
int ring_reap(struct uaio_ctx *ctx, struct io_event *out, long nr)
{
	bool checked = !(ctx->flags & UAIO_F_NOCHECK);
	unsigned head, n, first;
	int ret = 0;

	pthread_mutex_lock(&ctx->reap_lock);
	if (ctx->ring_gone)
		goto out_unlock;
	head = ring_head(ctx);
	n = ring_count(ctx, head, memory_order_acquire);
	if (n > nr)
		n = (unsigned)nr;
	if (n == 0)
		goto out_unlock;
	first = ctx->nr - head < n ? ctx->nr - head : n;
	if (!checked) {
		memcpy(out, &ctx->ring->io_events[head], first * sizeof(*out));
		memcpy(out + first, &ctx->ring->io_events[0], (n - first) * sizeof(*out));
	} else {
		/* Both parts of a wrapped ring in one checked copy. */
		struct iovec src[2] = { { &ctx->ring->io_events[head], first * sizeof(*out) },
					{ &ctx->ring->io_events[0], (n - first) * sizeof(*out) } };

		if (ua_writev(true, (uint64_t)(uintptr_t)out, src, n > first ? 2 : 1) < 0) {
			ret = -EFAULT;
			goto out_unlock;
		}
	}
	/* release: our copies are done before a submitter may reuse the slots. */
	atomic_store_explicit((_Atomic unsigned *)&ctx->ring->head, (head + n) % ctx->nr,
			      memory_order_release);
	ret = (int)n;
out_unlock:
	pthread_mutex_unlock(&ctx->reap_lock);
	return ret;
}

bool ring_ready(struct uaio_ctx *ctx)
{
	/* relaxed: a hint; ring_reap re-reads with acquire. */
	unsigned head = atomic_load_explicit((_Atomic unsigned *)&ctx->ring->head,
					     memory_order_relaxed) % ctx->nr;

	return ring_count(ctx, head, memory_order_relaxed) != 0;
}
