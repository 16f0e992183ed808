/* SPEC §1 ring: a program may reap by reading the ring directly (read tail, copy events from head, store a new head with release, like fio's userspace_reap), interleaved with getevents; head is clamped modulo nr. */
#include "t.h"

#define TOTAL 10000
#define BATCH 32
#define RSZ 16
#define FSZ (64 << 10)

static unsigned char seen[TOTAL];
static unsigned char bufs[TOTAL][RSZ];

/* fio's userspace_reap: copies at most max events from head to tail. */
static int direct_reap(aio_context_t ctx, struct io_event *out, int max)
{
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctx;
	unsigned nr = ring->nr;
	unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	int n = 0;

	head %= nr;
	while (head != tail && n < max) {
		out[n++] = ring->io_events[head];
		head = (head + 1) % nr;
	}
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

static void account(const struct io_event *ev, int n, struct iocb *cbs)
{
	for (int j = 0; j < n; j++) {
		uint64_t i = ev[j].data;

		if (i >= TOTAL) {
			t_fail("event with bad data %llu", (unsigned long long)i);
			continue;
		}
		CHECK_EQ(ev[j].obj, (uint64_t)(uintptr_t)&cbs[i]);
		CHECK_EQ(ev[j].res, RSZ);
		CHECK_EQ(ev[j].res2, 0);
		CHECK_EQ(bufs[i][3], t_pattern((i * RSZ) % FSZ + 3));
		seen[i]++;
	}
}

/* head written out of range: head = nr + 5 must act as 5. */
static void head_clamp(const struct t_api *a, int fd, int *got_out, uint64_t *data_out)
{
	aio_context_t ctx = 0;
	struct iocb cbs[8], *v[8];
	struct io_event ev[8];
	unsigned char b[8][RSZ];
	struct uaio_ring *ring;

	REQUIRE(a->setup(16, &ctx) == 0);
	ring = (struct uaio_ring *)(uintptr_t)ctx;
	for (int i = 0; i < 8; i++) {
		uaio_prep_pread(&cbs[i], fd, b[i], RSZ, i * RSZ);
		cbs[i].aio_data = 100 + i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(a->submit(ctx, 5, v), 5);
	CHECK_EQ(t_wait1(a, ctx, ev), 1);
	{
		struct timespec ts = { 10, 0 };
		int n = 1;

		while (n < 5) {
			int r = a->getevents(ctx, 1, 5 - n, ev, &ts);
			REQUIRE(r > 0);
			n += r;
		}
	}
	CHECK_EQ(ring->head, 5);
	CHECK_EQ(ring->tail, 5);
	CHECK_EQ(a->submit(ctx, 3, v + 5), 3);
	/* the kernel completes buffered reads inside submit; uaio does for cached ones */
	{
		struct timespec ts = { 10, 0 };
		unsigned nr = ring->nr;

		for (int k = 0; k < 1000 && __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) != 8; k++) {
			struct timespec s = { 0, 1000000 };
			nanosleep(&s, NULL);
		}
		CHECK_EQ(ring->tail, 8);
		__atomic_store_n(&ring->head, nr + 5, __ATOMIC_RELEASE);
		memset(ev, 0, sizeof(ev));
		*got_out = a->getevents(ctx, 1, 8, ev, &ts);
		for (int j = 0; j < 3 && j < *got_out; j++)
			data_out[j] = ev[j].data;
		CHECK_EQ(ring->head, 8);	/* written back in range */
		/* a zero-timeout look finds nothing more */
		ts.tv_sec = 0;
		CHECK_EQ(a->getevents(ctx, 0, 8, ev, &ts), 0);
	}
	CHECK_EQ(a->destroy(ctx), 0);
}

int main(void)
{
	static struct iocb cbs[TOTAL];
	struct iocb *v[BATCH];
	struct io_event ev[BATCH];
	aio_context_t ctx = 0;
	int fd = t_tmpfile(FSZ, 0);
	int next = 0, reaped = 0, inflight = 0, round = 0;
	struct uaio_ring *ring;
	unsigned long long direct = 0, viaget = 0;

	REQUIRE(t_setup(BATCH, &ctx) == 0);
	ring = (struct uaio_ring *)(uintptr_t)ctx;
	CHECK_EQ(ring->magic, UAIO_RING_MAGIC);
	REQUIRE(ring->nr > BATCH);
	while (reaped < TOTAL) {
		/* submit up to BATCH in flight (at least nr_events must fit) */
		int n = 0;

		while (inflight + n < BATCH && next + n < TOTAL) {
			int i = next + n;

			uaio_prep_pread(&cbs[i], fd, bufs[i], RSZ, (i * RSZ) % FSZ);
			cbs[i].aio_data = (uint64_t)i;
			v[n] = &cbs[i];
			n++;
		}
		if (n) {
			int r = uaio_submit(ctx, n, v);

			if (r != n) {
				t_fail("submit %d at %d (inflight %d, round %d): got %d", n, next, inflight, round, r);
				break;
			}
			next += n;
			inflight += n;
		}
		/* reap: alternate direct reaping, getevents, and a mix of both */
		{
			int got = 0;

			switch (round % 3) {
			case 0:
				got = direct_reap(ctx, ev, BATCH);
				direct += got;
				break;
			case 1: {
				struct timespec ts = { 0, 0 };

				got = uaio_getevents(ctx, 0, BATCH, ev, &ts);
				REQUIRE(got >= 0);
				viaget += got;
				break;
			}
			case 2: {
				/* take a few directly, leave the rest to getevents */
				struct timespec ts = { 0, 0 };
				int g2;

				got = direct_reap(ctx, ev, 3);
				direct += got;
				account(ev, got, cbs);
				reaped += got;
				inflight -= got;
				g2 = uaio_getevents(ctx, 0, BATCH, ev, &ts);
				REQUIRE(g2 >= 0);
				viaget += g2;
				got = g2;
				break;
			}
			}
			account(ev, got, cbs);
			reaped += got;
			inflight -= got;
			if (inflight == BATCH || (next == TOTAL && inflight)) {
				/* nothing could be submitted: wait for one */
				struct timespec ts = { 10, 0 };
				int r = uaio_getevents(ctx, 1, 1, ev, &ts);

				REQUIRE(r == 1);
				account(ev, r, cbs);
				reaped += r;
				inflight -= r;
			}
		}
		round++;
	}
	CHECK_EQ(reaped, TOTAL);
	CHECK(direct > 0);
	CHECK(viaget > 0);
	/* every aio_data exactly once */
	for (int i = 0; i < TOTAL; i++)
		if (seen[i] != 1) {
			t_fail("aio_data %d seen %d times", i, seen[i]);
			break;
		}
	/* nothing left */
	{
		struct timespec ts = { 0, 0 };

		CHECK_EQ(uaio_getevents(ctx, 0, BATCH, ev, &ts), 0);
		CHECK_EQ(direct_reap(ctx, ev, BATCH), 0);
	}
	CHECK_EQ(uaio_destroy(ctx), 0);

	/* head out of range, on the kernel and on uaio */
	{
		int kgot = -1, ugot = -1;
		uint64_t kd[3] = { 0 }, ud[3] = { 0 };

		if (k_available()) {
			head_clamp(&t_kernel, fd, &kgot, kd);
			CHECK_EQ(kgot, 3);
		}
		head_clamp(&t_uaio, fd, &ugot, ud);
		CHECK_EQ(ugot, 3);
		for (int j = 0; j < 3; j++) {
			CHECK_EQ(ud[j], 105 + j);
			if (kgot >= 0)
				CHECK_EQ(kd[j], ud[j]);
		}
	}
	close(fd);
	return t_done();
}
