/* SPEC §3/§2 submit: reads and writes on pipes and sockets never block submit and complete when the peer acts (writes larger than the buffer complete fully); a cached file read has its event in the ring when submit returns. */
#include "t.h"
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#define BIG (1 << 20)

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + (i >> 9)); }

struct drain { int fd; size_t want; unsigned char *buf; size_t got; };

static void *drain_thread(void *arg)
{
	struct drain *d = arg;

	while (d->got < d->want) {
		ssize_t r = read(d->fd, d->buf + d->got, d->want - d->got);

		if (r <= 0)
			break;
		d->got += (size_t)r;
	}
	return NULL;
}

static int zero_look(aio_context_t ctx, struct io_event *ev)
{
	struct timespec ts = { 0, 0 };

	return uaio_getevents(ctx, 0, 1, ev, &ts);
}

/* fd pair r (read end) / w (write end): a pipe or a socket pair */
static void stream_case(aio_context_t ctx, int r, int w, const char *what)
{
	struct iocb cb, *v = &cb;
	struct io_event ev;
	char rb[4096];
	int fl_r = fcntl(r, F_GETFL), fl_w = fcntl(w, F_GETFL);

	fprintf(stderr, "-- %s\n", what);
	/* read on an empty stream: submit returns, nothing completes */
	uaio_prep_pread(&cb, r, rb, sizeof(rb), 0);
	cb.aio_data = 1;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(zero_look(ctx, &ev), 0);
	/* the caller's fd flags are left alone */
	CHECK_EQ(fcntl(r, F_GETFL), fl_r);
	REQUIRE(write(w, "hello", 5) == 5);
	CHECK_EQ(t_wait1(&t_uaio, ctx, &ev), 1);
	CHECK_EQ(ev.data, 1);
	CHECK_EQ(ev.res, 5);	/* short, as a pipe/socket read returns */
	CHECK(memcmp(rb, "hello", 5) == 0);

	/* data already there: the event is in the ring when submit returns */
	REQUIRE(write(w, "abc", 3) == 3);
	uaio_prep_pread(&cb, r, rb, sizeof(rb), 0);
	cb.aio_data = 2;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(zero_look(ctx, &ev), 1);
	CHECK_EQ(ev.data, 2);
	CHECK_EQ(ev.res, 3);

	/* a write larger than the buffer: submit returns, the event comes
	 * once a reader has drained everything, and reports all of it */
	{
		static unsigned char wb[BIG], got[BIG];
		struct drain d = { r, BIG, got, 0 };
		pthread_t th;

		for (size_t i = 0; i < BIG; i++)
			wb[i] = pat(i);
		memset(got, 0, sizeof(got));
		uaio_prep_pwrite(&cb, w, wb, BIG, 0);
		cb.aio_data = 3;
		CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
		CHECK_EQ(fcntl(w, F_GETFL), fl_w);
		REQUIRE(pthread_create(&th, NULL, drain_thread, &d) == 0);
		CHECK_EQ(t_wait1(&t_uaio, ctx, &ev), 1);
		CHECK_EQ(ev.data, 3);
		CHECK_EQ(ev.res, BIG);
		pthread_join(th, NULL);
		CHECK_EQ(d.got, BIG);
		CHECK(memcmp(got, wb, BIG) == 0);
	}
	/* many queued reads on one stream are served in order of arrival of
	 * the data, each read getting its own bytes */
	{
		struct iocb cbs[8], *vv[8];
		char bufs[8][1];
		unsigned seen = 0;
		int n = 0;

		for (int i = 0; i < 8; i++) {
			uaio_prep_pread(&cbs[i], r, bufs[i], 1, 0);
			cbs[i].aio_data = 100 + (uint64_t)i;
			vv[i] = &cbs[i];
		}
		CHECK_EQ(uaio_submit(ctx, 8, vv), 8);
		CHECK_EQ(zero_look(ctx, &ev), 0);
		REQUIRE(write(w, "ABCDEFGH", 8) == 8);
		while (n < 8) {
			struct io_event e8[8];
			struct timespec ts = { 10, 0 };
			int k = uaio_getevents(ctx, 1, 8, e8, &ts);

			REQUIRE(k > 0);
			for (int j = 0; j < k; j++) {
				int i = (int)(e8[j].data - 100);

				REQUIRE(i >= 0 && i < 8);
				CHECK_EQ(e8[j].res, 1);
				seen |= 1u << (bufs[i][0] - 'A');
			}
			n += k;
		}
		CHECK_EQ(seen, 0xff);	/* every byte went to exactly one read */
	}
	CHECK_EQ(fcntl(r, F_GETFL), fl_r);
	CHECK_EQ(fcntl(w, F_GETFL), fl_w);
}

int main(void)
{
	aio_context_t ctx = 0;
	int p[2], s[2];

	alarm(60);	/* a blocked submit must not hang the run for ever */
	REQUIRE(t_setup(16, &ctx) == 0);
	REQUIRE(pipe(p) == 0);
	stream_case(ctx, p[0], p[1], "pipe");
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	stream_case(ctx, s[0], s[1], "unix stream socket");

	/* a cached file read: in the ring when submit returns (as the kernel) */
	{
		int fd = t_tmpfile(65536, 0);
		struct iocb cb, *v = &cb;
		struct io_event ev;
		char buf[4096];

		for (int i = 0; i < 16; i++) {
			uaio_prep_pread(&cb, fd, buf, sizeof(buf), i * 4096);
			cb.aio_data = 77;
			CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
			CHECK_EQ(zero_look(ctx, &ev), 1);
			CHECK_EQ(ev.res, 4096);
			CHECK_EQ((unsigned char)buf[100], t_pattern(i * 4096 + 100));
		}
		if (k_available()) {
			aio_context_t kc = 0;

			REQUIRE(k_setup(4, &kc) == 0);
			uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
			CHECK_EQ(k_submit(kc, 1, &v), 1);
			{
				struct timespec ts = { 0, 0 };

				CHECK_EQ(k_getevents(kc, 0, 1, &ev, &ts), 1);
			}
			k_destroy(kc);
		}
		close(fd);
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	close(s[0]);
	close(s[1]);
	return t_done();
}
