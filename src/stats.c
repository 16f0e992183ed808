/* SPDX-License-Identifier: MIT */
/* stats.c - what uaio_stats(3) reports beyond the plain counters: errors
 * by errno, requests in flight and their peak, and the latency of each
 * request from its hand-off at submit to its event being posted.
 *
 * The histogram is log-linear: 8 buckets of 128 ns below 1.024 us, then
 * every power of two split into 8 equal buckets, up to 2^37 ns (137 s);
 * the last bucket also takes anything longer.  A bucket is at most 12.5%
 * wide, so a percentile read as its bucket's upper bound is at most 12.5%
 * high.
 *
 * Cost: one clock read per submit call that hands requests on (none for
 * requests completed inline: their latency is 0) and one per posting of
 * timed events; the histogram is written with plain stores under the
 * post_lock that posting holds anyway.  UAIO_F_NOSTATS / UAIO_STATS=0
 * drop the clock reads and the histogram. */
#include "internal.h"
#include "hist.h"
#include <stdlib.h>
#include <time.h>

#define UNIT_SHIFT 7	/* 128 ns: the width of the first 8 buckets */
#define SUB_BITS 3	/* 8 buckets per power of two (src/hist.h) */

_Static_assert(sizeof(struct uaio_stats) == 3072, "struct uaio_stats is 3072 bytes");
_Static_assert(offsetof(struct uaio_stats, workers) == 56, "first layout kept");
_Static_assert(offsetof(struct uaio_stats, errno_count) == 128, "documented offset");
_Static_assert(offsetof(struct uaio_stats, lat_bucket) == 1216, "documented offset");
_Static_assert(offsetof(struct uaio_stats, faults_injected) == 3008, "documented offset");
_Static_assert(offsetof(struct uaio_stats, no_thread) == 3016, "documented offset");

bool g_stats_default = true;	/* $UAIO_STATS != 0; written once by setup's global_init */
static _Atomic long long inflight;	/* process: handed on, not yet posted; relaxed, a statistic */
static _Atomic unsigned long long peak;	/* highest `inflight` seen; relaxed, a statistic */

static unsigned bucket_of(uint64_t ns)
{
	unsigned b = hist_bucket(ns >> UNIT_SHIFT, SUB_BITS);

	return b < UAIO_STATS_BUCKETS ? b : UAIO_STATS_BUCKETS - 1;
}

UAIO_API unsigned long long uaio_stats_bucket_ns(unsigned i)
{
	if (i > UAIO_STATS_BUCKETS)
		i = UAIO_STATS_BUCKETS;
	return hist_bucket_low(i, SUB_BITS) << UNIT_SHIFT;
}

UAIO_API unsigned long long uaio_stats_percentile(const struct uaio_stats *st, double pct)
{
	unsigned long long total = 0, rank;
	double r;

	for (unsigned i = 0; i < UAIO_STATS_BUCKETS; i++)
		total += st->lat_bucket[i];
	if (!total || !(pct > 0))
		return 0;
	r = (pct < 100 ? pct : 100) * (double)total / 100;
	/* the smallest rank >= r, forgiving r a rounding error above an integer */
	rank = r < 1 ? 1 : (unsigned long long)(r - 1e-7) + 1;
	/* the upper bound of the bucket holding that rank */
	return uaio_stats_bucket_ns(hist_rank_bucket(st->lat_bucket, UAIO_STATS_BUCKETS, rank) + 1);
}

/* Allocates ctx's errno counts and histogram if this is its first submit.
 * Without memory the context goes uncounted there until a later submit. */
void stats_prepare(struct uaio_ctx *ctx)
{
	struct ctx_stats *xs, *none = NULL;

	/* acquire: pairs with the release below (the arrays are zeroed). */
	if (atomic_load_explicit(&ctx->xs, memory_order_acquire))
		return;
	xs = calloc(1, sizeof(*xs));
	if (!xs)
		return;
	/* release: the zeroed arrays are visible before the pointer. */
	if (!atomic_compare_exchange_strong_explicit(&ctx->xs, &none, xs, memory_order_release,
						     memory_order_acquire))
		free(xs);	/* another submitter was first */
}

/* The stamp of requests that a submit call hands on. */
uint64_t stats_stamp(const struct uaio_ctx *ctx)
{
	struct timespec ts;
	uint64_t ns;

	if (ctx->flags & UAIO_F_NOSTATS)
		return STAMP_UNTIMED;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return ns >= STAMP_TIMED ? ns : STAMP_TIMED;
}

/* The time now if one of the n stamps is timed, else 0 (no clock read). */
uint64_t stats_clock(const uint64_t *stamps, int n)
{
	struct timespec ts;
	int i = 0;

	while (i < n && stamps[i] < STAMP_TIMED)
		i++;
	if (i == n)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* +v on a counter that only post_lock holders write. */
static void add_locked(_Atomic unsigned long long *c, unsigned long long v)
{
	/* relaxed: writers are serialised by post_lock; readers only need
	 * an untorn value. */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
			      memory_order_relaxed);
}

/* Counts one event being posted.  post_lock held. */
void stats_event_locked(struct uaio_ctx *ctx, int64_t res, uint64_t stamp, uint64_t now)
{
	/* acquire: pairs with stats_prepare's release (zeroed arrays). */
	struct ctx_stats *xs = atomic_load_explicit(&ctx->xs, memory_order_acquire);
	uint64_t lat = 0;

	if (!xs)
		return;
	if (res < 0)
		add_locked(&xs->errno_count[res > -UAIO_STATS_ERRNOS ? -res : 0], 1);
	if (stamp == STAMP_UNTIMED || (ctx->flags & UAIO_F_NOSTATS))
		return;
	if (stamp >= STAMP_TIMED && now > stamp)
		lat = now - stamp;
	add_locked(&xs->lat_bucket[bucket_of(lat)], 1);
	add_locked(&xs->lat_sum_ns, lat);
}

/* n events are about to be posted: those handed on are no longer in
 * flight.  Called before the events can be seen, so that a reaper that
 * then submits more never finds them still counted. */
void stats_posted(const uint64_t *stamps, int n)
{
	long long handed = 0;

	for (int i = 0; i < n; i++)
		handed += stamps[i] != STAMP_INLINE;
	if (handed)	/* relaxed: a statistic; the tail's release publishes it with the events */
		atomic_fetch_sub_explicit(&inflight, handed, memory_order_relaxed);
}

static void max_update(_Atomic unsigned long long *m, unsigned long long v)
{
	unsigned long long cur = atomic_load_explicit(m, memory_order_relaxed);

	/* relaxed: a statistic; the loop only keeps the largest value. */
	while (v > cur && !atomic_compare_exchange_weak_explicit(m, &cur, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

static unsigned long long ctx_in_flight(struct uaio_ctx *ctx)
{
	/* relaxed: statistics; completed is read first so that it is the
	 * older of the two, and the difference is clamped anyway. */
	unsigned long long c = atomic_load_explicit(&ctx->st_completed, memory_order_relaxed);
	unsigned long long s = atomic_load_explicit(&ctx->st_submitted, memory_order_relaxed);

	return s > c ? s - c : 0;
}

/* A submit call handed n requests on: the peaks are sampled now. */
void stats_handed(struct uaio_ctx *ctx, int n)
{
	/* relaxed: a statistic; the posts subtract, possibly first. */
	long long g = atomic_fetch_add_explicit(&inflight, n, memory_order_relaxed) + n;

	max_update(&ctx->st_peak, ctx_in_flight(ctx));
	if (g > 0)
		max_update(&peak, (unsigned long long)g);
}

/* relaxed: statistics are read as a snapshot, without ordering. */
static unsigned long long ld(_Atomic unsigned long long *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Adds ctx's statistics to st (peak: the larger). */
void stats_add_ctx(struct uaio_stats *st, struct uaio_ctx *c)
{
	/* acquire: pairs with stats_prepare's release (zeroed arrays). */
	struct ctx_stats *xs = atomic_load_explicit(&c->xs, memory_order_acquire);
	unsigned long long p = ld(&c->st_peak);

	st->submitted += ld(&c->st_submitted);
	st->completed += ld(&c->st_completed);
	st->inline_done += ld(&c->st_inline);
	st->offloaded += ld(&c->st_offloaded);
	st->polled += ld(&c->st_polled);
	st->cancelled += ld(&c->st_cancelled);
	st->no_thread += ld(&c->st_no_thread);
	st->in_flight += ctx_in_flight(c);
	st->peak_in_flight = p > st->peak_in_flight ? p : st->peak_in_flight;
	st->faults_injected += faults_injected(c->faults);
	if (!xs)
		return;
	st->lat_sum_ns += ld(&xs->lat_sum_ns);
	for (unsigned i = 0; i < UAIO_STATS_ERRNOS; i++)
		st->errno_count[i] += ld(&xs->errno_count[i]);
	for (unsigned i = 0; i < UAIO_STATS_BUCKETS; i++)
		st->lat_bucket[i] += ld(&xs->lat_bucket[i]);
}

/* Fills the fields derived from the others; process: ctx 0's view. */
void stats_finish(struct uaio_stats *st, bool process)
{
	st->errors = st->lat_count = 0;
	for (unsigned i = 0; i < UAIO_STATS_ERRNOS; i++)
		st->errors += st->errno_count[i];
	for (unsigned i = 0; i < UAIO_STATS_BUCKETS; i++)
		st->lat_count += st->lat_bucket[i];
	if (process) {	/* relaxed: a statistic */
		unsigned long long p = atomic_load_explicit(&peak, memory_order_relaxed);

		st->peak_in_flight = p > st->peak_in_flight ? p : st->peak_in_flight;
	}
	if (st->in_flight > st->peak_in_flight)
		st->peak_in_flight = st->in_flight;
	st->lat_p50_ns = uaio_stats_percentile(st, 50);
	st->lat_p99_ns = uaio_stats_percentile(st, 99);
	st->lat_p999_ns = uaio_stats_percentile(st, 99.9);
}

void stats_atfork_child(void)
{
	/* relaxed: the child has one thread now. */
	atomic_store_explicit(&inflight, 0, memory_order_relaxed);
	atomic_store_explicit(&peak, 0, memory_order_relaxed);
}
