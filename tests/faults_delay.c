/* uaio_faults(7): delay= completes a request normally but not before its time, without holding back others; a delayed request is cancelled as a queued one (-ECANCELED), and destroy does not wait for its time. */
#include "t.h"
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

static bool pattern_at(const unsigned char *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != t_pattern(off + i))
			return false;
	return true;
}

/* Short delays: the right data, through the ring and the eventfd. */
static void correct(int fd)
{
	static unsigned char buf[4][4096];
	struct iocb cbs[6], *v[6];
	struct io_event ev[6];
	aio_context_t ctx = 0;
	int efd = eventfd(0, EFD_CLOEXEC), p[2], q[2], got = 0;
	uint64_t c;

	/* The poll and the read get a pipe each: on one pipe the read (due
	 * later, but delays are only lower bounds) could take the byte before
	 * the poll looked, and the poll would wait for ever. */
	REQUIRE(efd >= 0 && pipe(p) == 0 && pipe(q) == 0);
	REQUIRE(write(p[1], "x", 1) == 1);
	REQUIRE(write(q[1], "y", 1) == 1);
	REQUIRE(f_setup(8, &ctx, "op=read:delay=20ms;op=write:delay=1ms;op=fsync,poll:delay=300us") == 0);
	uaio_prep_pread(&cbs[0], fd, buf[0], 4096, 0);
	uaio_prep_pread(&cbs[1], fd, buf[1], 4096, 8192);
	memset(buf[2], 'W', 4096);
	uaio_prep_pwrite(&cbs[2], fd, buf[2], 4096, 65536);
	uaio_prep_fsync(&cbs[3], fd);
	uaio_prep_poll(&cbs[4], p[0], POLLIN);
	uaio_prep_pread(&cbs[5], q[0], buf[3], 1, 0);		/* a pipe, delayed too */
	for (int i = 0; i < 6; i++) {
		cbs[i].aio_data = (uint64_t)i;
		uaio_set_eventfd(&cbs[i], efd);
		v[i] = &cbs[i];
	}
	REQUIRE(uaio_submit(ctx, 6, v) == 6);
	while (got < 6) {
		int n = uaio_getevents(ctx, 1, 6 - got, ev + got, NULL);

		REQUIRE(n > 0);
		got += n;
	}
	for (int i = 0; i < 6; i++) {
		static const long long want[6] = { 4096, 4096, 4096, 0, POLLIN, 1 };
		int k = (int)ev[i].data;

		if (k == 4)
			CHECK(ev[i].res & POLLIN);
		else
			CHECK_EQ(ev[i].res, want[k]);
	}
	CHECK(pattern_at(buf[0], 4096, 0));
	CHECK(pattern_at(buf[1], 4096, 8192));
	CHECK_EQ(buf[3][0], 'y');
	REQUIRE(pread(fd, buf[0], 4096, 65536) == 4096);
	CHECK(memcmp(buf[0], buf[2], 4096) == 0);
	for (uint64_t sum = 0; sum < 6; sum += c)	/* +1 follows each event */
		REQUIRE(read(efd, &c, sizeof(c)) == sizeof(c));
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(efd);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* A request delayed by an hour cannot complete first (the delay is a lower
 * bound, whatever the timing): a later undelayed one overtakes it; cancel
 * then answers it with -ECANCELED. */
static void overtake_and_cancel(int fd)
{
	static unsigned char a[512], b[512];
	struct iocb ca, cb, *v;
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	aio_context_t ctx = 0;

	REQUIRE(f_setup(4, &ctx, "op=pread:count=1:delay=3600s") == 0);
	uaio_prep_pread(&ca, fd, a, sizeof(a), 0);
	ca.aio_data = 1;
	v = &ca;
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	uaio_prep_pread(&cb, fd, b, sizeof(b), 512);
	cb.aio_data = 2;
	v = &cb;
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.data, 2);
	CHECK_EQ(ev.res, 512);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 0);
	CHECK_EQ(uaio_cancel(ctx, &ca, &ev), -EINPROGRESS);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.data, 1);
	CHECK_EQ(ev.res, -ECANCELED);
	CHECK_EQ(uaio_cancel(ctx, &ca, &ev), -EINVAL);		/* no longer in flight */
	CHECK_EQ(uaio_destroy(ctx), 0);
}

/* destroy cancels held requests instead of waiting an hour. */
static void destroy_held(int fd)
{
	static unsigned char a[8][512];
	struct iocb cbs[8], *v[8];
	aio_context_t ctx = 0;

	REQUIRE(f_setup(16, &ctx, "delay=3600s") == 0);
	for (int i = 0; i < 8; i++) {
		uaio_prep_pread(&cbs[i], fd, a[i], 512, i * 512);
		v[i] = &cbs[i];
	}
	REQUIRE(uaio_submit(ctx, 8, v) == 8);
	CHECK_EQ(uaio_destroy(ctx), 0);
}

/* Cancels racing the timer's release: every request ends with exactly one
 * event, its data or -ECANCELED. */
static void cancel_race(int fd)
{
	enum { N = 64 };
	static unsigned char bufs[N][512];
	static struct iocb cbs[N];
	struct iocb *v[N];
	struct io_event ev[N];
	static char seen[N];
	aio_context_t ctx = 0;
	int got = 0;

	REQUIRE(f_setup(N, &ctx, "seed=7;op=pread:p=0.5:delay=200us") == 0);
	for (int round = 0; round < 20; round++) {
		memset(seen, 0, sizeof(seen));
		for (int i = 0; i < N; i++) {
			uaio_prep_pread(&cbs[i], fd, bufs[i], 512, i * 512);
			cbs[i].aio_data = (uint64_t)i;
			v[i] = &cbs[i];
		}
		REQUIRE(uaio_submit(ctx, N, v) == N);
		for (int i = N - 1; i >= 0; i--) {
			int r = uaio_cancel(ctx, &cbs[i], &ev[0]);

			CHECK(r == -EINPROGRESS || r == -EINVAL || r == -EAGAIN);
		}
		for (got = 0; got < N;) {
			int n = uaio_getevents(ctx, 1, N - got, ev, NULL);

			REQUIRE(n > 0);
			for (int k = 0; k < n; k++) {
				int i = (int)ev[k].data;

				CHECK(!seen[i]);
				seen[i] = 1;
				CHECK(ev[k].res == 512 || ev[k].res == -ECANCELED);
				if (ev[k].res == 512)
					CHECK(pattern_at(bufs[i], 512, (uint64_t)i * 512));
			}
			got += n;
		}
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
}

int main(void)
{
	int fd = t_tmpfile(1 << 17, 0);

	correct(fd);
	overtake_and_cancel(fd);
	destroy_held(fd);
	cancel_race(fd);
	close(fd);
	return t_done();
}
