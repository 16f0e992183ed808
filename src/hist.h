/* SPDX-License-Identifier: MIT */
/* hist.h - log-linear latency histogram arithmetic, shared by
 * uaio_stats(3) (src/stats.c) and uaio-bench (tools/bench/hist.c).
 *
 * A value v (in the caller's unit) below 2^sub falls in bucket v; above
 * that every power of two [2^e, 2^(e+1)) is split into 2^sub equal
 * buckets, so a bucket is at most 1/2^sub of its values wide.  Callers
 * choose sub (stats: 3, unit 128 ns; bench: 6, unit 1 ns) and clamp at
 * their own maximum. */
#ifndef UAIO_HIST_H
#define UAIO_HIST_H

#include <stdint.h>

/* The bucket that holds v. */
static inline unsigned hist_bucket(uint64_t v, unsigned sub)
{
	unsigned e;

	if (v < (1ull << sub))
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);	/* v in [2^e, 2^(e+1)), e >= sub */
	return ((e - sub + 1) << sub) + (unsigned)((v >> (e - sub)) & ((1ull << sub) - 1));
}

/* The smallest value of bucket i; bucket i ends where bucket i + 1 starts. */
static inline uint64_t hist_bucket_low(unsigned i, unsigned sub)
{
	if (i < (1u << sub))
		return i;
	return ((1ull << sub) + (i & ((1u << sub) - 1))) << ((i >> sub) - 1);
}

/* How many values bucket i holds. */
static inline uint64_t hist_bucket_width(unsigned i, unsigned sub)
{
	return i < (1u << sub) ? 1 : 1ull << ((i >> sub) - 1);
}

/* The bucket holding the rank-th smallest value (rank >= 1), or n if the
 * n buckets hold fewer values. */
static inline unsigned hist_rank_bucket(const unsigned long long *bucket, unsigned n,
					unsigned long long rank)
{
	unsigned long long seen = 0;

	for (unsigned i = 0; i < n; i++) {
		seen += bucket[i];
		if (seen >= rank)
			return i;
	}
	return n;
}

#endif
