/* SPEC §2 getevents: unknown ctx, min_nr < 0, nr < 0, min_nr > nr -> -EINVAL; an unreadable timeout -> -EFAULT (read before the ctx lookup); an unwritable events buffer with events ready -> -EFAULT and the events stay in the ring; timeouts are tv_sec*1e9 + tv_nsec without range checks; each compared with the kernel. */
#include "t.h"
#include <time.h>

#define KHALF 0xffff888000000000ull

/* Under valgrind (make check-valgrind) the kernel's side is not run: its
 * system call wrappers report (and choke on) the deliberately bad pointers,
 * and it does not model the kernel's ring; the kernel's answers are then
 * the known ones.  Requests whose buffer is bad when they execute are left
 * out there too, as valgrind reports the intended bad argument as an error. */
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fd;
static void *none_page, *ro_page;

/* Submit one 8-byte read (completes at once on both). */
static void submit_read(const struct t_api *a, aio_context_t ctx, struct iocb *cb, void *b, uint64_t data)
{
	struct iocb *v[1] = { cb };
	uaio_prep_pread(cb, fd, b, 8, 0);
	cb->aio_data = data;
	CHECK_EQ(a->submit(ctx, 1, v), 1);
}

/* Results, in a fixed order, so that kernel and uaio can be compared. */
static int run(const struct t_api *a, int *out, double *waits)
{
	aio_context_t ctx = 0, dead = 0;
	struct io_event ev[4];
	struct timespec z = { 0, 0 };
	struct iocb cb1, cb2;
	unsigned char b1[8], b2[8];
	int i = 0;
	double t0;

	REQUIRE(a->setup(4, &ctx) == 0);
	REQUIRE(a->setup(4, &dead) == 0);
	REQUIRE(a->destroy(dead) == 0);

	/* argument checks, nothing pending */
	out[i++] = a->getevents(12345, 0, 1, ev, &z);			/* 0 */
	out[i++] = a->getevents(dead, 0, 1, ev, &z);			/* 1 */
	out[i++] = a->getevents(0, 0, 1, ev, &z);			/* 2 */
	out[i++] = a->getevents(ctx, -1, 1, ev, &z);			/* 3 */
	out[i++] = a->getevents(ctx, 0, -1, ev, &z);			/* 4 */
	out[i++] = a->getevents(ctx, 2, 1, ev, &z);			/* 5 */
	out[i++] = a->getevents(ctx, -1, -1, ev, &z);			/* 6 */
	out[i++] = a->getevents(ctx, 0, 0, ev, &z);			/* 7: nothing to do */
	out[i++] = a->getevents(ctx, 0, 0, NULL, NULL);			/* 8 */
	/* an unreadable timeout: -EFAULT, read before the ctx is looked up */
	out[i++] = a->getevents(ctx, 0, 1, ev, (struct timespec *)none_page);	/* 9 */
	out[i++] = a->getevents(ctx, 0, 1, ev, (struct timespec *)KHALF);	/* 10 */
	out[i++] = a->getevents(12345, 0, 1, ev, (struct timespec *)none_page);	/* 11 */
	out[i++] = a->getevents(ctx, -1, 1, ev, (struct timespec *)none_page);	/* 12 */
	/* a read-only timeout is fine (it is only read) */
	out[i++] = a->getevents(ctx, 0, 1, ev, (struct timespec *)ro_page);	/* 13 */

	/* zero timeout with nothing pending: 0 at once */
	t0 = now();
	out[i++] = a->getevents(ctx, 1, 1, ev, &z);			/* 14 */
	waits[0] = now() - t0;

	/* 0.2 s timeout, nothing pending: 0 after about 0.2 s */
	struct timespec t200 = { 0, 200 * 1000 * 1000 };
	t0 = now();
	out[i++] = a->getevents(ctx, 1, 1, ev, &t200);			/* 15 */
	waits[1] = now() - t0;
	/* no range check: { -1, 1.2e9 } is 0.2 s */
	struct timespec odd = { -1, 1200 * 1000 * 1000 };
	t0 = now();
	out[i++] = a->getevents(ctx, 1, 1, ev, &odd);			/* 16 */
	waits[2] = now() - t0;

	/* an event ready, the events buffer unwritable: -EFAULT, event kept */
	submit_read(a, ctx, &cb1, b1, 101);
	out[i++] = a->getevents(ctx, 1, 1, (struct io_event *)none_page, &z);	/* 17 */
	out[i++] = a->getevents(ctx, 1, 1, (struct io_event *)ro_page, &z);	/* 18 */
	out[i++] = a->getevents(ctx, 1, 1, NULL, &z);				/* 19 */
	out[i++] = a->getevents(ctx, 1, 1, (struct io_event *)KHALF, &z);	/* 20 */
	/* the buffer straddles into a PROT_NONE page: two events, the second slot bad */
	submit_read(a, ctx, &cb2, b2, 102);
	struct io_event *straddle = (struct io_event *)((char *)none_page - sizeof(struct io_event));
	out[i++] = a->getevents(ctx, 2, 2, straddle, &z);			/* 21 */
	/* both events are still there, in order */
	memset(ev, 0, sizeof(ev));
	out[i++] = a->getevents(ctx, 2, 4, ev, &z);			/* 22 */
	out[i++] = (int)ev[0].data;					/* 23 */
	out[i++] = (int)ev[1].data;					/* 24 */
	out[i++] = (int)ev[0].res;					/* 25 */
	out[i++] = ev[0].obj == (uint64_t)(uintptr_t)&cb1;		/* 26 */
	out[i++] = a->getevents(ctx, 0, 4, ev, &z);			/* 27: none left */

	/* tv_nsec > 1e9 with an event ready: accepted, no -EINVAL */
	submit_read(a, ctx, &cb1, b1, 103);
	struct timespec big = { 0, 1100 * 1000 * 1000 };
	out[i++] = a->getevents(ctx, 1, 1, ev, &big);			/* 28 */
	out[i++] = (int)ev[0].data;					/* 29 */
	/* min_nr 0 with an event ready: it is returned */
	submit_read(a, ctx, &cb1, b1, 104);
	out[i++] = a->getevents(ctx, 0, 4, ev, &z);			/* 30 */
	/* nr 0 with an event ready: 0, and the event stays */
	submit_read(a, ctx, &cb1, b1, 105);
	out[i++] = a->getevents(ctx, 0, 0, ev, &z);			/* 31 */
	out[i++] = a->getevents(ctx, 1, 1, ev, NULL);			/* 32 */
	out[i++] = (int)ev[0].data;					/* 33 */
	/* min_nr > nr with events ready: still -EINVAL */
	submit_read(a, ctx, &cb1, b1, 106);
	out[i++] = a->getevents(ctx, 2, 1, ev, &z);			/* 34 */
	out[i++] = a->getevents(ctx, 1, 1, ev, &z);			/* 35 */

	CHECK_EQ(a->destroy(ctx), 0);
	/* the destroyed ctx is unknown */
	out[i++] = a->getevents(ctx, 0, 1, ev, &z);			/* 36 */
	return i;
}

int main(void)
{
	static const int want[] = {
		-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 0,
		-EFAULT, -EFAULT, -EFAULT, -EFAULT, 0,
		0, 0, 0,
		-EFAULT, -EFAULT, -EFAULT, -EFAULT, -EFAULT,
		2, 101, 102, 8, 1, 0,
		1, 103, 1, 0, 1, 105, -EINVAL, 1, -EINVAL,
	};
	int k[64], u[64];
	double kw[3], uw[3];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	fd = t_tmpfile(4096, 0);
	/* two pages: a writable one, then a PROT_NONE one (for the straddle) */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(two != MAP_FAILED);
	none_page = two + 4096;
	REQUIRE(mprotect(none_page, 4096, PROT_NONE) == 0);
	/* a readable timespec of 0, read-only */
	ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(ro_page != MAP_FAILED);

	int vg = t_under_valgrind();
	int nu = run(&t_uaio, u, uw);
	int nk = vg ? nu : run(&t_kernel, k, kw);
	if (vg) {
		memcpy(k, want, sizeof(want));
		memcpy(kw, uw, sizeof(kw));
	}
	CHECK_EQ(nk, (int)(sizeof(want) / sizeof(want[0])));
	CHECK_EQ(nu, nk);
	for (int i = 0; i < nk && i < nu; i++)
		if (k[i] != want[i] || u[i] != want[i])
			t_fail("result %d: kernel %d uaio %d want %d", i, k[i], u[i], want[i]);

	/* zero timeout: no wait (a generous bound, this is not a speed test) */
	CHECK(kw[0] < 2.0);
	CHECK(uw[0] < 2.0);
	/* 0.2 s: waited at least about that long, and not for ever */
	CHECK(kw[1] >= 0.19 && kw[1] < 5.0);
	CHECK(uw[1] >= 0.19 && uw[1] < 5.0);
	CHECK(kw[2] >= 0.19 && kw[2] < 5.0);
	CHECK(uw[2] >= 0.19 && uw[2] < 5.0);
	fprintf(stderr, "waits kernel %.3f %.3f %.3f uaio %.3f %.3f %.3f\n", kw[0], kw[1], kw[2], uw[0], uw[1],
		uw[2]);

	close(fd);
	munmap(two, 8192);
	munmap(ro_page, 4096);
	return t_done();
}
