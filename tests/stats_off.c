/* SPEC §4 statistics: with UAIO_F_NOSTATS (or UAIO_STATS=0 in the environment) a context keeps every counter (submitted, completed, errors by errno, in flight, peak) but measures no latency: no histogram sample, percentiles 0; a context without it in the same process still measures. */
#include "t.h"
#include <signal.h>

/* Runs 4 reads, 2 writes to a dead pipe and 1 read held on a pipe on a new
 * context with `flags`, checks the counters and returns its statistics. */
static struct uaio_stats run(unsigned flags)
{
	static char buf[8];
	aio_context_t ctx = 0;
	struct iocb cbs[7], *v[7];
	struct io_event ev[7];
	struct uaio_stats st;
	int fd = t_tmpfile(4096, 0), dead[2], held[2], got = 0;

	REQUIRE(pipe(dead) == 0 && pipe(held) == 0);
	close(dead[0]);
	REQUIRE(t_setup_flags(8, &ctx, flags) == 0);
	for (int i = 0; i < 7; i++) {
		if (i < 4)
			uaio_prep_pread(&cbs[i], fd, buf + i, 1, i);
		else if (i < 6)
			uaio_prep_pwrite(&cbs[i], dead[1], "x", 1, 0);
		else
			uaio_prep_pread(&cbs[i], held[0], buf + i, 1, 0);
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, 7, v), 7);
	REQUIRE(uaio_stats(ctx, &st) == 0);
	CHECK_EQ(st.in_flight, 1);
	CHECK(st.peak_in_flight >= 1);
	REQUIRE(write(held[1], "a", 1) == 1);
	while (got < 7) {
		struct timespec ts = { 60, 0 };	/* a safety net, not a timing check */
		int r = uaio_getevents(ctx, 1, 7 - got, ev + got, &ts);

		REQUIRE(r > 0);
		got += r;
	}
	REQUIRE(uaio_stats(ctx, &st) == 0);
	CHECK_EQ(st.submitted, 7);
	CHECK_EQ(st.completed, 7);
	CHECK_EQ(st.errors, 2);
	CHECK_EQ(st.errno_count[EPIPE], 2);
	CHECK_EQ(st.in_flight, 0);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
	close(dead[1]);
	close(held[0]);
	close(held[1]);
	return st;
}

int main(int argc, char **argv)
{
	struct uaio_stats off, on, proc;
	aio_context_t ctx = 0;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && !strcmp(argv[1], "env")) {	/* re-executed with UAIO_STATS=0 */
		off = run(0);
		CHECK_EQ(off.lat_count, 0);
		CHECK_EQ(off.lat_sum_ns, 0);
		REQUIRE(uaio_stats(0, &proc) == 0);
		CHECK_EQ(proc.lat_count, 0);
		CHECK_EQ(proc.lat_p999_ns, 0);
		return t_done();
	}
	off = run(UAIO_F_NOSTATS);
	CHECK_EQ(off.lat_count, 0);
	CHECK_EQ(off.lat_sum_ns, 0);
	CHECK_EQ(off.lat_p50_ns, 0);
	CHECK_EQ(off.lat_p999_ns, 0);
	for (int i = 0; i < UAIO_STATS_BUCKETS; i++)
		CHECK_EQ(off.lat_bucket[i], 0);
	on = run(0);
	CHECK_EQ(on.lat_count, 7);
	CHECK(on.lat_p50_ns > 0);
	REQUIRE(uaio_stats(0, &proc) == 0);
	CHECK_EQ(proc.lat_count, 7);
	CHECK_EQ(proc.errno_count[EPIPE], 4);
	/* an unknown flag is still refused */
	CHECK_EQ(t_setup_flags(8, &ctx, 1u << 30), -EINVAL);
	if (!t_failures) {
		fflush(stderr);
		setenv("UAIO_STATS", "0", 1);
		execl(argv[0], argv[0], "env", (char *)NULL);	/* the test binary, not a wrapper */
		t_fail("exec: %s", strerror(errno));
	}
	return t_done();
}
