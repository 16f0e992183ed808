/* SPEC §5/§2 POLL: 10,000 pending POLLs need no thread each (a handful at most), and after every fd becomes ready all 10,000 complete exactly once. */
#include "t.h"
#include <poll.h>

#define NPIPE 100
#define PER 100
#define TOTAL (NPIPE * PER)

int main(void)
{
	static struct iocb cbs[TOTAL];
	static struct iocb *v[TOTAL];
	static unsigned char seen[TOTAL];
	static struct io_event ev[512];
	int p[NPIPE][2], thr0, thr1, got = 0;
	aio_context_t ctx = 0;
	struct timespec ts0 = { 0, 0 };

	REQUIRE(t_setup(TOTAL, &ctx) == 0);
	for (int i = 0; i < NPIPE; i++)
		REQUIRE(pipe(p[i]) == 0);
	thr0 = t_thread_count();
	for (int i = 0; i < TOTAL; i++) {
		uaio_prep_poll(&cbs[i], p[i / PER][0], POLLIN);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	for (int off = 0; off < TOTAL;) {
		int n = TOTAL - off < 1000 ? TOTAL - off : 1000;
		int r = uaio_submit(ctx, n, v + off);

		REQUIRE(r > 0);
		off += r;
	}
	CHECK_EQ(uaio_getevents(ctx, 0, 512, ev, &ts0), 0);	/* all pending */
	thr1 = t_thread_count();
	fprintf(stderr, "threads: %d before, %d with %d POLLs pending\n", thr0, thr1, TOTAL);
	CHECK(thr1 - thr0 <= 8);
	{
		struct uaio_stats st;

		CHECK_EQ(uaio_stats(ctx, &st), 0);
		CHECK_EQ(st.submitted, TOTAL);
		CHECK_EQ(st.completed, 0);
	}
	for (int i = 0; i < NPIPE; i++)
		REQUIRE(write(p[i][1], "r", 1) == 1);
	while (got < TOTAL) {
		struct timespec ts = { 10, 0 };
		int r = uaio_getevents(ctx, 1, 512, ev, &ts);

		if (r <= 0) {
			t_fail("getevents: %d after %d of %d events", r, got, TOTAL);
			break;
		}
		for (int j = 0; j < r; j++) {
			uint64_t i = ev[j].data;

			REQUIRE(i < TOTAL);
			CHECK_EQ(ev[j].obj, (uint64_t)(uintptr_t)&cbs[i]);
			CHECK_EQ(ev[j].res & POLLIN, POLLIN);
			seen[i]++;
		}
		got += r;
	}
	CHECK_EQ(got, TOTAL);
	CHECK_EQ(uaio_getevents(ctx, 0, 512, ev, &ts0), 0);
	for (int i = 0; i < TOTAL; i++)
		if (seen[i] != 1) {
			t_fail("POLL %d completed %d times", i, seen[i]);
			break;
		}
	CHECK(t_thread_count() - thr0 <= 8);
	CHECK_EQ(uaio_destroy(ctx), 0);
	for (int i = 0; i < NPIPE; i++) {
		close(p[i][0]);
		close(p[i][1]);
	}
	return t_done();
}
