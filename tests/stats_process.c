/* SPEC §4 statistics (uaio_stats with ctx 0): the process totals sum every context, destroyed ones included: counters, errors by errno and the latency histogram; in flight counts the live contexts' waiting requests and goes back to 0; the process peak is at least the highest context's. */
#include "t.h"
#include <signal.h>

/* Reaps n events. */
static void reap(aio_context_t ctx, int n)
{
	struct io_event ev[8];
	int got = 0;

	while (got < n) {
		struct timespec ts = { 60, 0 };	/* a safety net, not a timing check */
		int r = uaio_getevents(ctx, 1, n - got, ev, &ts);

		REQUIRE(r > 0);
		got += r;
	}
}

/* Submits reads of 1 byte (fd) and writes to a dead pipe (wfd), n of each. */
static void work(aio_context_t ctx, int fd, int wfd, int nr, int nw)
{
	static char buf[8];
	struct iocb cbs[8], *v[8];

	for (int i = 0; i < nr + nw; i++) {
		if (i < nr)
			uaio_prep_pread(&cbs[i], fd, buf + i, 1, i);
		else
			uaio_prep_pwrite(&cbs[i], wfd, "x", 1, 0);
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, nr + nw, v), nr + nw);
}

int main(void)
{
	aio_context_t a = 0, b = 0;
	struct uaio_stats p0, p1, p2, sa, sb;
	struct iocb hold[2], *hv[2] = { &hold[0], &hold[1] };
	char hb[2];
	int fd = t_tmpfile(4096, 0), dead[2], held[2];

	signal(SIGPIPE, SIG_IGN);
	REQUIRE(pipe(dead) == 0 && pipe(held) == 0);
	close(dead[0]);
	REQUIRE(uaio_stats(0, &p0) == 0);

	REQUIRE(t_setup(8, &a) == 0);
	work(a, fd, dead[1], 4, 1);
	reap(a, 5);
	REQUIRE(uaio_stats(a, &sa) == 0);
	CHECK_EQ(sa.submitted, 5);
	CHECK_EQ(sa.lat_count, 5);
	CHECK_EQ(uaio_destroy(a), 0);

	REQUIRE(t_setup(8, &b) == 0);
	work(b, fd, dead[1], 3, 2);
	reap(b, 5);
	uaio_prep_pread(&hold[0], held[0], &hb[0], 1, 0);
	uaio_prep_pread(&hold[1], held[0], &hb[1], 1, 0);
	CHECK_EQ(uaio_submit(b, 2, hv), 2);

	REQUIRE(uaio_stats(0, &p1) == 0);
	CHECK_EQ(p1.submitted - p0.submitted, 12);
	CHECK_EQ(p1.completed - p0.completed, 10);
	CHECK_EQ(p1.errno_count[EPIPE] - p0.errno_count[EPIPE], 3);
	CHECK_EQ(p1.errors - p0.errors, 3);
	CHECK_EQ(p1.lat_count - p0.lat_count, 10);
	CHECK_EQ(p1.in_flight, 2);
	CHECK(p1.peak_in_flight >= 2);
	CHECK_EQ(p1.contexts, p0.contexts + 1);

	REQUIRE(write(held[1], "ab", 2) == 2);
	reap(b, 2);
	REQUIRE(uaio_stats(b, &sb) == 0);
	CHECK_EQ(sb.submitted, 7);
	CHECK_EQ(sb.completed, 7);
	CHECK_EQ(sb.in_flight, 0);
	CHECK(sb.peak_in_flight >= 2);
	CHECK_EQ(uaio_destroy(b), 0);

	REQUIRE(uaio_stats(0, &p2) == 0);
	CHECK_EQ(p2.submitted - p0.submitted, 12);
	CHECK_EQ(p2.completed - p0.completed, 12);
	CHECK_EQ(p2.errno_count[EPIPE] - p0.errno_count[EPIPE], 3);
	CHECK_EQ(p2.lat_count - p0.lat_count, 12);
	CHECK_EQ(p2.in_flight, 0);
	CHECK(p2.peak_in_flight >= sb.peak_in_flight);
	CHECK_EQ(p2.contexts, p0.contexts);
	for (int i = 0; i < UAIO_STATS_BUCKETS; i++)
		CHECK(p2.lat_bucket[i] >= sa.lat_bucket[i] + sb.lat_bucket[i]);
	CHECK(p2.lat_p50_ns <= p2.lat_p99_ns && p2.lat_p99_ns <= p2.lat_p999_ns);
	close(fd);
	close(dead[1]);
	close(held[0]);
	close(held[1]);
	return t_done();
}
