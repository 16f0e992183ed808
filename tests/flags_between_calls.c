/* SPEC §2 submit: an fd's flags are read at each submit, as the kernel reads them: O_NONBLOCK set, cleared and set again between submit calls on the same pipe is followed every time (a read of an empty O_NONBLOCK pipe completes with -EAGAIN; without it the read waits for data). */
#include "t.h"
#include <fcntl.h>

static int submit_read(aio_context_t ctx, int fd, char *b, struct iocb *cb)
{
	struct iocb *v = cb;

	uaio_prep_pread(cb, fd, b, 1, 0);
	return uaio_submit(ctx, 1, &v);
}

int main(void)
{
	aio_context_t ctx = 0;
	struct iocb cb;
	struct io_event ev;
	struct timespec zero = { 0, 0 }, ten = { 10, 0 };
	char b = 0;
	int p[2], fl;

	REQUIRE(pipe(p) == 0);
	REQUIRE(t_setup(4, &ctx) == 0);
	fl = fcntl(p[0], F_GETFL);
	for (int round = 0; round < 2; round++) {
		REQUIRE(fcntl(p[0], F_SETFL, fl | O_NONBLOCK) == 0);
		REQUIRE(submit_read(ctx, p[0], &b, &cb) == 1);
		REQUIRE(uaio_getevents(ctx, 1, 1, &ev, &ten) == 1);
		CHECK_EQ(ev.res, -EAGAIN);

		REQUIRE(fcntl(p[0], F_SETFL, fl & ~O_NONBLOCK) == 0);
		REQUIRE(submit_read(ctx, p[0], &b, &cb) == 1);
		CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 0);	/* waits for data */
		REQUIRE(write(p[1], "x", 1) == 1);
		REQUIRE(uaio_getevents(ctx, 1, 1, &ev, &ten) == 1);
		CHECK_EQ(ev.res, 1);
		CHECK_EQ(b, 'x');
		b = 0;
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	return t_done();
}
