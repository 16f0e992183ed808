/* SPEC §2 setup/submit: the ring never overflows: submitting more than it can hold unreaped gives -EAGAIN (or a partial count); after reaping submit works again; at least nr_events requests can be in flight at once. */
#include "t.h"

#define NREQ 8
#define MAXN 4096

static struct iocb cbs[MAXN];
static struct iocb *v[MAXN];
static char bufs[MAXN][8];
static unsigned char seen[MAXN];

static int drain(aio_context_t ctx, int expect_max)
{
	struct io_event ev[64];
	struct timespec ts = { 0, 0 };
	int total = 0, r;

	while ((r = uaio_getevents(ctx, 0, 64, ev, &ts)) > 0) {
		for (int j = 0; j < r; j++) {
			uint64_t i = ev[j].data;

			REQUIRE(i < MAXN);
			CHECK_EQ(ev[j].obj, (uint64_t)(uintptr_t)&cbs[i]);
			CHECK_EQ(ev[j].res, 8);
			seen[i]++;
		}
		total += r;
		REQUIRE(total <= expect_max);
	}
	CHECK_EQ(r, 0);
	return total;
}

/* Submit cached reads one by one without reaping until refused. */
static int fill(aio_context_t ctx, int fd, int first, int *err)
{
	int n = 0;

	for (;;) {
		int i = first + n, r;

		REQUIRE(i < MAXN);
		uaio_prep_pread(&cbs[i], fd, bufs[i], 8, (i % 512) * 8);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
		r = uaio_submit(ctx, 1, &v[i]);
		if (r != 1) {
			*err = r;
			return n;
		}
		n++;
	}
}

int main(void)
{
	aio_context_t ctx = 0;
	struct uaio_ring *ring;
	int fd = t_tmpfile(4096, 0), err = 0, filled, reaped, next;

	REQUIRE(t_setup(NREQ, &ctx) == 0);
	ring = (struct uaio_ring *)(uintptr_t)ctx;

	/* 1. cached reads complete inside submit: their events pile up */
	filled = fill(ctx, fd, 0, &err);
	CHECK_EQ(err, -EAGAIN);
	CHECK(filled >= NREQ);
	CHECK(filled <= (int)ring->nr - 1);	/* one slot always stays empty */
	/* the ring holds every accepted event, none lost or overwritten */
	CHECK_EQ((ring->tail + ring->nr - ring->head) % ring->nr, (unsigned)filled);
	/* still refused while nothing is reaped */
	CHECK_EQ(uaio_submit(ctx, 1, &v[filled]), -EAGAIN);

	/* 2. reap 3, then a batch of 10 gets a partial count (1..3) */
	{
		struct io_event ev[3];
		struct timespec ts = { 0, 0 };
		int r;

		CHECK_EQ(uaio_getevents(ctx, 3, 3, ev, &ts), 3);
		for (int j = 0; j < 3; j++) {
			REQUIRE(ev[j].data < MAXN);
			seen[ev[j].data]++;
		}
		next = filled;
		for (int i = next; i < next + 10; i++) {
			uaio_prep_pread(&cbs[i], fd, bufs[i], 8, (i % 512) * 8);
			cbs[i].aio_data = (uint64_t)i;
			v[i] = &cbs[i];
		}
		r = uaio_submit(ctx, 10, &v[next]);
		CHECK(r >= 1 && r <= 3);
		if (r > 0)
			next += r;
		CHECK_EQ((ring->tail + ring->nr - ring->head) % ring->nr, (unsigned)(next - 3));
	}
	reaped = drain(ctx, next);
	CHECK_EQ(reaped, next - 3);
	for (int i = 0; i < next; i++)
		if (seen[i] != 1) {
			t_fail("request %d: %d events", i, seen[i]);
			break;
		}

	/* 3. after reaping, the whole capacity is usable again */
	{
		int again = fill(ctx, fd, next, &err);

		CHECK_EQ(err, -EAGAIN);
		CHECK_EQ(again, filled);
		CHECK_EQ(drain(ctx, again), again);
		next += again;
	}
	CHECK_EQ(uaio_destroy(ctx), 0);

	/* 4. at least nr_events requests in flight: that many pending pipe
	 * reads on a larger context are all accepted, then all complete */
	{
		enum { NP = 600 };
		int p[2], got = 0;
		struct io_event ev[64];
		static char pb[NP];

		ctx = 0;
		REQUIRE(t_setup(NP, &ctx) == 0);
		REQUIRE(pipe(p) == 0);
		for (int i = 0; i < NP; i++) {
			uaio_prep_pread(&cbs[i], p[0], &pb[i], 1, 0);
			cbs[i].aio_data = (uint64_t)i;
			v[i] = &cbs[i];
		}
		CHECK_EQ(uaio_submit(ctx, NP / 2, v), NP / 2);
		CHECK_EQ(uaio_submit(ctx, NP - NP / 2, v + NP / 2), NP - NP / 2);
		{
			char data[NP];

			memset(data, 'z', sizeof(data));
			REQUIRE(write(p[1], data, NP) == NP);
		}
		memset(seen, 0, sizeof(seen));
		while (got < NP) {
			struct timespec ts = { 10, 0 };
			int r = uaio_getevents(ctx, 1, 64, ev, &ts);

			REQUIRE(r > 0);
			for (int j = 0; j < r; j++) {
				REQUIRE(ev[j].data < NP);
				CHECK_EQ(ev[j].res, 1);
				seen[ev[j].data]++;
			}
			got += r;
		}
		for (int i = 0; i < NP; i++) {
			CHECK_EQ(seen[i], 1);
			CHECK_EQ(pb[i], 'z');
		}
		CHECK_EQ(uaio_destroy(ctx), 0);
		close(p[0]);
		close(p[1]);
	}
	close(fd);
	return t_done();
}
