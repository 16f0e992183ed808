/* uaio_faults(7): err= with every=N fails exactly the N-th, 2N-th, ... matching request with -errno, without doing its I/O; the event comes through getevents and the eventfd like a real one. */
#include "t.h"
#include <poll.h>
#include <stdbool.h>
#include <sys/eventfd.h>

#define NREQ 12

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

/* NREQ pwrites of 512 bytes to consecutive blocks, one submit each
 * (the spec counts matches in submission order), plus a pread that the
 * rule's op filter lets through. */
static void writes(bool with_efd)
{
	static char data[NREQ][512], rbuf[512], back[512];
	struct iocb cbs[NREQ + 1], *v;
	struct io_event ev[NREQ + 1];
	aio_context_t ctx = 0;
	int fd = t_tmpfile(0, 0), efd = -1, got = 0;
	uint64_t cnt = 0;

	REQUIRE(pwrite(fd, "z", 1, NREQ * 512 + 511) == 1);	/* zeros to read back */
	REQUIRE(f_setup(64, &ctx, "op=pwrite:every=3:err=EIO") == 0);
	if (with_efd)
		REQUIRE((efd = eventfd(0, EFD_CLOEXEC)) >= 0);
	for (int i = 0; i < NREQ; i++) {
		memset(data[i], 'a' + i, sizeof(data[i]));
		uaio_prep_pwrite(&cbs[i], fd, data[i], 512, i * 512);
		cbs[i].aio_data = (uint64_t)i;
		if (with_efd)
			uaio_set_eventfd(&cbs[i], efd);
		v = &cbs[i];
		CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	}
	uaio_prep_pread(&cbs[NREQ], fd, rbuf, 512, 0);
	cbs[NREQ].aio_data = NREQ;
	v = &cbs[NREQ];
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	if (with_efd) {	/* the eventfd counts every write's completion */
		while (cnt < NREQ) {
			uint64_t c;

			REQUIRE(read(efd, &c, sizeof(c)) == sizeof(c));
			cnt += c;
		}
		CHECK_EQ(cnt, NREQ);
	}
	while (got < NREQ + 1) {
		int n = uaio_getevents(ctx, 1, NREQ + 1 - got, ev + got, NULL);

		REQUIRE(n > 0);
		got += n;
	}
	for (int i = 0; i < got; i++) {
		int k = (int)ev[i].data;

		CHECK_EQ(ev[i].obj, (uint64_t)(uintptr_t)&cbs[k]);
		if (k == NREQ)
			CHECK_EQ(ev[i].res, 512);	/* a read: not matched by op=pwrite */
		else if (k % 3 == 2)
			CHECK_EQ(ev[i].res, -EIO);	/* the 3rd, 6th, 9th, 12th */
		else
			CHECK_EQ(ev[i].res, 512);
	}
	for (int i = 0; i < NREQ; i++) {	/* a failed write wrote nothing */
		char want[512];

		memset(want, i % 3 == 2 ? 0 : 'a' + i, sizeof(want));
		REQUIRE(pread(fd, back, 512, i * 512) == 512);
		CHECK(memcmp(back, want, 512) == 0);
	}
	{	/* uaio_stats counts what the rule did, per context */
		struct uaio_stats st;

		CHECK_EQ(uaio_stats(ctx, &st), 0);
		CHECK_EQ(st.faults_injected, NREQ / 3);
		CHECK_EQ(st.errno_count[EIO], NREQ / 3);
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	if (efd >= 0)
		close(efd);
	close(fd);
}

/* after=, count= and an errno given by number; fsync and poll too. */
static void after_count(void)
{
	struct iocb cb, *v = &cb;
	struct io_event ev;
	aio_context_t ctx = 0;
	int fd = t_tmpfile(4096, 0), p[2];
	char buf[64];

	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], "x", 1) == 1);
	REQUIRE(f_setup(8, &ctx, "op=pread:after=2:count=2:err=ENOSPC;"
			"op=fsync:err=28;op=poll:err=EINTR") == 0);
	for (int i = 0; i < 6; i++) {
		uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
		REQUIRE(uaio_submit(ctx, 1, &v) == 1);
		REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
		CHECK_EQ(ev.res, i == 2 || i == 3 ? -ENOSPC : (long long)sizeof(buf));
	}
	uaio_prep_fsync(&cb, fd);
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.res, -ENOSPC);
	uaio_prep_fdsync(&cb, fd);	/* op=fsync does not cover fdsync */
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.res, 0);
	uaio_prep_poll(&cb, p[0], POLLIN);
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.res, -EINTR);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

int main(void)
{
	writes(false);
	writes(true);
	after_count();
	return t_done();
}
