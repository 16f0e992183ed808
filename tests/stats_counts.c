/* SPEC §4 statistics (uaio_stats): a known workload is counted exactly: submitted, completed, cancelled, errors by errno (EPIPE inline, ENOSPC from the executor, ECANCELED), in flight while reads wait on a pipe and 0 after, peak in flight >= the waiting batch, histogram total == completed, percentiles monotone, and requests held >= 50 ms counted in buckets that reach past 50 ms. */
#include "t.h"
#include <signal.h>

#define NGOOD 10	/* cached reads: res 16 */
#define NPIPE 2		/* writes to a pipe without reader: -EPIPE */
#define NFULL 3		/* writes to /dev/full: -ENOSPC, from the executor */
#define NHELD 5		/* reads on an empty pipe: wait in flight */
#define NCANCEL 2	/* of those, cancelled: -ECANCELED */
#define TOTAL (NGOOD + NPIPE + NFULL + NHELD)
#define HOLD_MS 50

static struct iocb cbs[TOTAL];
static char bufs[TOTAL][16];

/* Reaps n events into ev[]. */
static void reap(aio_context_t ctx, struct io_event *ev, int n)
{
	int got = 0;

	while (got < n) {
		struct timespec ts = { 60, 0 };	/* a safety net, not a timing check */
		int r = uaio_getevents(ctx, n - got, n - got, ev + got, &ts);

		REQUIRE(r > 0);
		got += r;
	}
}

static void submit(aio_context_t ctx, int from, int n)
{
	struct iocb *v[TOTAL];

	for (int i = 0; i < n; i++)
		v[i] = &cbs[from + i];
	CHECK_EQ(uaio_submit(ctx, n, v), n);
}

/* Pure functions of the public header: bucket bounds and percentiles. */
static void buckets(void)
{
	static struct uaio_stats st;

	CHECK_EQ(uaio_stats_bucket_ns(0), 0);
	CHECK_EQ(uaio_stats_bucket_ns(1), 128);
	CHECK_EQ(uaio_stats_bucket_ns(8), 1024);
	CHECK_EQ(uaio_stats_bucket_ns(9), 1152);
	CHECK_EQ(uaio_stats_bucket_ns(UAIO_STATS_BUCKETS), 1ull << 37);
	for (unsigned i = 0; i < UAIO_STATS_BUCKETS; i++) {
		unsigned long long lo = uaio_stats_bucket_ns(i), hi = uaio_stats_bucket_ns(i + 1);

		CHECK(lo < hi);
		CHECK(i < 8 || (hi - lo) * 8 <= lo);	/* at most 12.5% wide */
	}
	CHECK_EQ(uaio_stats_percentile(&st, 50), 0);	/* empty */
	st.lat_bucket[0] = 998;
	st.lat_bucket[100] = 1;
	st.lat_bucket[200] = 1;
	CHECK_EQ(uaio_stats_percentile(&st, 50), uaio_stats_bucket_ns(1));
	CHECK_EQ(uaio_stats_percentile(&st, 99.8), uaio_stats_bucket_ns(1));
	CHECK_EQ(uaio_stats_percentile(&st, 99.9), uaio_stats_bucket_ns(101));
	CHECK_EQ(uaio_stats_percentile(&st, 100), uaio_stats_bucket_ns(201));
	CHECK_EQ(sizeof(struct uaio_stats), 3072);
}

int main(void)
{
	aio_context_t ctx = 0;
	struct io_event ev[TOTAL];
	struct uaio_stats st, pst;
	unsigned long long late = 0;
	int fd, full, dead[2], held[2], n = 0, cancelled = 0;

	buckets();
	signal(SIGPIPE, SIG_IGN);
	fd = t_tmpfile(4096, 0);
	full = open("/dev/full", O_WRONLY);
	if (full < 0)
		t_skip("no /dev/full");
	REQUIRE(pipe(dead) == 0 && pipe(held) == 0);
	close(dead[0]);
	REQUIRE(t_setup(TOTAL, &ctx) == 0);

	for (int i = 0; i < NGOOD; i++)
		uaio_prep_pread(&cbs[n++], fd, bufs[i], 16, 16 * i);
	for (int i = 0; i < NPIPE; i++)
		uaio_prep_pwrite(&cbs[n++], dead[1], "x", 1, 0);
	for (int i = 0; i < NFULL; i++)
		uaio_prep_pwrite(&cbs[n++], full, "x", 1, 0);
	submit(ctx, 0, n);
	reap(ctx, ev, n);
	for (int i = 0; i < n; i++) {
		int k = (int)((struct iocb *)(uintptr_t)ev[i].obj - cbs);

		CHECK_EQ(ev[i].res, k < NGOOD ? 16 : k < NGOOD + NPIPE ? -EPIPE : -ENOSPC);
	}

	for (int i = 0; i < NHELD; i++)
		uaio_prep_pread(&cbs[n + i], held[0], bufs[n + i], 1, 0);
	submit(ctx, n, NHELD);
	REQUIRE(uaio_stats(ctx, &st) == 0);
	CHECK_EQ(st.in_flight, NHELD);
	CHECK(st.peak_in_flight >= NHELD);
	REQUIRE(uaio_stats(0, &pst) == 0);
	CHECK_EQ(pst.in_flight, NHELD);
	CHECK(pst.peak_in_flight >= NHELD);

	usleep(HOLD_MS * 1000);	/* every held request is now older than HOLD_MS */
	for (int i = 0; i < NCANCEL; i++)
		cancelled += uaio_cancel(ctx, &cbs[n + i], NULL) == -EINPROGRESS;
	CHECK_EQ(cancelled, NCANCEL);
	REQUIRE(write(held[1], "abcde", NHELD - NCANCEL) == NHELD - NCANCEL);
	reap(ctx, ev, NHELD);
	for (int i = 0; i < NHELD; i++) {
		int k = (int)((struct iocb *)(uintptr_t)ev[i].obj - cbs) - n;

		CHECK_EQ(ev[i].res, k < NCANCEL ? -ECANCELED : 1);
	}

	REQUIRE(uaio_stats(ctx, &st) == 0);
	CHECK_EQ(st.submitted, TOTAL);
	CHECK_EQ(st.completed, TOTAL);
	CHECK_EQ(st.inline_done + st.offloaded + st.polled, TOTAL);
	CHECK_EQ(st.cancelled, NCANCEL);
	CHECK_EQ(st.errors, NPIPE + NFULL + NCANCEL);
	CHECK_EQ(st.errno_count[EPIPE], NPIPE);
	CHECK_EQ(st.errno_count[ENOSPC], NFULL);
	CHECK_EQ(st.errno_count[ECANCELED], NCANCEL);
	CHECK_EQ(st.errno_count[0], 0);
	CHECK_EQ(st.in_flight, 0);
	CHECK(st.peak_in_flight >= NHELD);
	CHECK_EQ(st.lat_count, TOTAL);
	{
		unsigned long long sum = 0;

		for (int i = 0; i < UAIO_STATS_BUCKETS; i++) {
			sum += st.lat_bucket[i];
			if (uaio_stats_bucket_ns(i + 1) > HOLD_MS * 1000000ull)
				late += st.lat_bucket[i];
		}
		CHECK_EQ(sum, TOTAL);
	}
	CHECK(late >= NHELD);	/* a lower bound only: each was held >= HOLD_MS */
	CHECK(st.lat_sum_ns >= NHELD * HOLD_MS * 1000000ull);
	CHECK(st.lat_p50_ns <= st.lat_p99_ns);
	CHECK(st.lat_p99_ns <= st.lat_p999_ns);
	CHECK(st.lat_p999_ns > HOLD_MS * 1000000ull);
	CHECK_EQ(st.lat_p999_ns, uaio_stats_percentile(&st, 99.9));
	for (size_t i = 0; i < sizeof(st.reserved) / sizeof(st.reserved[0]); i++)
		CHECK_EQ(st.reserved[i], 0);
	CHECK_EQ(st.faults_injected, 0);	/* no UAIO_FAULTS rule here */
	CHECK_EQ(st.no_thread, 0);	/* threads were never refused here */
	fprintf(stderr, "p50 %llu ns, p99 %llu ns, p99.9 %llu ns, peak %llu\n",
		st.lat_p50_ns, st.lat_p99_ns, st.lat_p999_ns, st.peak_in_flight);

	CHECK_EQ(uaio_stats(ctx, NULL), -EFAULT);
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(uaio_stats(ctx, &st), -EINVAL);
	close(fd);
	close(full);
	close(dead[1]);
	close(held[0]);
	close(held[1]);
	return t_done();
}
