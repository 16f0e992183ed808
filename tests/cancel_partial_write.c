/* SPEC §2 cancel/destroy: a stream write that moved part of its bytes and waits for room for the rest, when cancelled (or ended by destroy), reports the bytes it moved, never -ECANCELED: the reader does get them.  Found by the soak test (tests/soak). */
#include "t.h"
#include <poll.h>

#define CHUNK 16384

/* Fills the pipe until a non-blocking write would block; returns bytes. */
static size_t fill_pipe(int wfd)
{
	static unsigned char junk[4096];
	size_t total = 0;
	int fl = fcntl(wfd, F_GETFL);
	ssize_t r;

	REQUIRE(fcntl(wfd, F_SETFL, fl | O_NONBLOCK) == 0);
	while ((r = write(wfd, junk, sizeof(junk))) > 0)
		total += (size_t)r;
	REQUIRE(fcntl(wfd, F_SETFL, fl) == 0);
	return total;
}

/* Reads everything now in the pipe; returns bytes. */
static size_t drain(int rfd)
{
	static unsigned char b[65536];
	size_t total = 0;
	int fl = fcntl(rfd, F_GETFL);
	ssize_t r;

	REQUIRE(fcntl(rfd, F_SETFL, fl | O_NONBLOCK) == 0);
	while ((r = read(rfd, b, sizeof(b))) > 0)
		total += (size_t)r;
	REQUIRE(fcntl(rfd, F_SETFL, fl) == 0);
	return total;
}

/* A write with part of it in the pipe: the pipe holds filled + moved bytes.
 * by_destroy: end it with destroy instead of cancel. */
static void one(int by_destroy)
{
	static unsigned char buf[CHUNK];
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	struct io_event ev;
	struct timespec ts = { 10, 0 };
	int p[2];
	size_t filled, got;

	REQUIRE(pipe(p) == 0);
	REQUIRE(t_setup(4, &ctx) == 0);
	filled = fill_pipe(p[1]);
	/* room for one page only: the write below moves 4096 bytes, then waits */
	{
		static unsigned char b[4096];
		REQUIRE(read(p[0], b, sizeof(b)) == (ssize_t)sizeof(b));
		filled -= sizeof(b);
	}
	uaio_prep_pwrite(&cb, p[1], buf, CHUNK, 0);
	cb.aio_data = 7;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	if (by_destroy) {
		CHECK_EQ(uaio_destroy(ctx), 0);
		got = drain(p[0]);
		CHECK(got >= filled && got < filled + CHUNK);
	} else {
		int r = uaio_cancel(ctx, &cb, &ev);

		CHECK(r == -EINPROGRESS || r == -EAGAIN);
		got = drain(p[0]);
		CHECK(got >= filled);
		CHECK_EQ(uaio_getevents(ctx, 1, 1, &ev, &ts), 1);
		CHECK_EQ(ev.data, 7);
		if (r == -EINPROGRESS) {
			/* what the pipe received past the filler is what the event says */
			CHECK(ev.res > 0);
			CHECK_EQ(ev.res, (long long)(got - filled));
		} else {
			got += drain(p[0]);
			CHECK_EQ(ev.res, CHUNK);
			CHECK_EQ(got - filled, CHUNK);
		}
		CHECK_EQ(uaio_destroy(ctx), 0);
	}
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	one(0);
	one(1);
	return t_done();
}
