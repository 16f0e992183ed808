/* SPDX-License-Identifier: MIT */
/* hist.c - uaio-bench's latency histogram.
 *
 * Log-linear (src/hist.h, the arithmetic src/stats.c uses too): values
 * below 64 ns exact, above that 64 sub-buckets per power of two, so a
 * bucket is at most 1/64 (1.6%) wide and its midpoint is within 0.8% of
 * every value in it.  Values are clamped at 2^40 ns (18 minutes).  Fixed
 * size, so recording never allocates and memory stays flat. */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "hist.h"

static unsigned hist_index(uint64_t v)
{
	if (v >= (1ull << HIST_MAX_BITS))
		v = (1ull << HIST_MAX_BITS) - 1;
	return hist_bucket(v, HIST_SUB_BITS);
}

/* The midpoint of bucket idx. */
static double hist_value(unsigned idx)
{
	uint64_t width = hist_bucket_width(idx, HIST_SUB_BITS);

	if (idx < HIST_SUB)
		return idx;
	return (double)hist_bucket_low(idx, HIST_SUB_BITS) + (double)(width - 1) / 2;
}

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	store64(&h->count, h->count + 1);	/* read by the progress line */
}

void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
	into->count += h->count;
	into->sum += h->sum;
	if (h->min < into->min)
		into->min = h->min;
	if (h->max > into->max)
		into->max = h->max;
}

/* The value at quantile q (0..1): the bucket holding the ceil(q*count)-th value. */
double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->count);
	unsigned i;
	double v;

	if (!h->count)
		return 0;
	if (rank < 1)
		rank = 1;
	i = hist_rank_bucket(h->bucket, HIST_BUCKETS, rank);
	if (i == HIST_BUCKETS)
		return (double)h->max;
	v = hist_value(i);
	/* Never report a percentile above the exact maximum. */
	return v > (double)h->max ? (double)h->max : v;
}
