/* SPEC §2 submit: with IOCB_FLAG_RESFD the eventfd gets +1 per completed request, after the event is visible in the ring; a resfd that is not an eventfd gives -EINVAL, a closed one -EBADF. */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#define N 64
#define ROUNDS 200

static uint64_t efd_read_nb(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

/* Bad resfd: the same answers as the kernel. */
static void bad_resfd(const struct t_api *a, int out[4])
{
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	char buf[8];
	int fd = t_tmpfile(4096, 0), p[2], closed;
	struct io_event ev;
	struct timespec ts = { 0, 0 };

	REQUIRE(pipe(p) == 0);
	closed = dup(p[0]);
	close(closed);
	REQUIRE(a->setup(4, &ctx) == 0);
	uaio_prep_pread(&cb, fd, buf, 8, 0);
	uaio_set_eventfd(&cb, p[1]);			/* a pipe */
	out[0] = a->submit(ctx, 1, &v);
	uaio_prep_pread(&cb, fd, buf, 8, 0);
	uaio_set_eventfd(&cb, fd);			/* a regular file */
	out[1] = a->submit(ctx, 1, &v);
	uaio_prep_pread(&cb, fd, buf, 8, 0);
	uaio_set_eventfd(&cb, closed);			/* not open */
	out[2] = a->submit(ctx, 1, &v);
	out[3] = a->getevents(ctx, 0, 1, &ev, &ts);	/* nothing was accepted */
	CHECK_EQ(a->destroy(ctx), 0);
	close(fd);
	close(p[0]);
	close(p[1]);
}

struct writer {
	int wfd;
	_Atomic int go;	/* round number to write for */
	int rounds;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;

	for (int r = 1; r <= w->rounds; r++) {
		while (atomic_load(&w->go) < r)
			sched_yield();
		REQUIRE(write(w->wfd, "y", 1) == 1);
	}
	return NULL;
}

int main(void)
{
	aio_context_t ctx = 0;
	struct iocb cbs[N], *v[N];
	struct io_event ev[N];
	static char bufs[N][16];
	int fd = t_tmpfile(N * 16, 0);
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t total = 0;

	REQUIRE(efd >= 0);
	REQUIRE(t_setup(N, &ctx) == 0);

	/* 1. counter: +1 per completed request */
	for (int i = 0; i < N; i++) {
		uaio_prep_pread(&cbs[i], fd, bufs[i], 16, i * 16);
		uaio_set_eventfd(&cbs[i], efd);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, N, v), N);
	{
		int got = 0;

		while (got < N) {
			struct timespec ts = { 10, 0 };
			int r = uaio_getevents(ctx, 1, N, ev, &ts);

			REQUIRE(r > 0);
			for (int j = 0; j < r; j++)
				CHECK_EQ(ev[j].res, 16);
			got += r;
		}
		/* the eventfd write may follow the ring post; wait for the count */
		for (int k = 0; k < 1000 && total < N; k++) {
			struct pollfd pf = { efd, POLLIN, 0 };

			poll(&pf, 1, 10);
			total += efd_read_nb(efd);
		}
		CHECK_EQ(total, N);
		struct pollfd pf = { efd, POLLIN, 0 };
		CHECK_EQ(poll(&pf, 1, 50), 0);	/* no extra increments */
	}

	/* 2. the event is in the ring when the eventfd becomes readable:
	 * pending pipe reads completed by another thread */
	{
		int p[2];
		struct writer w;
		pthread_t th;
		char c[ROUNDS];
		int missing = 0;

		REQUIRE(pipe(p) == 0);
		w.wfd = p[1];
		w.rounds = ROUNDS;
		atomic_store(&w.go, 0);
		REQUIRE(pthread_create(&th, NULL, writer_thread, &w) == 0);
		for (int r = 1; r <= ROUNDS; r++) {
			struct iocb cb, *cv = &cb;
			struct pollfd pf = { efd, POLLIN, 0 };
			struct timespec ts0 = { 0, 0 };
			int n;

			uaio_prep_pread(&cb, p[0], &c[r - 1], 1, 0);
			uaio_set_eventfd(&cb, efd);
			cb.aio_data = 5000 + (uint64_t)r;
			REQUIRE(uaio_submit(ctx, 1, &cv) == 1);
			atomic_store(&w.go, r);
			REQUIRE(poll(&pf, 1, 10000) == 1);
			CHECK_EQ(efd_read_nb(efd), 1);
			n = uaio_getevents(ctx, 0, 1, ev, &ts0);
			if (n != 1) {
				missing++;
				REQUIRE(t_wait1(&t_uaio, ctx, ev) == 1);
			}
			CHECK_EQ(ev[0].data, 5000 + (uint64_t)r);
			CHECK_EQ(ev[0].res, 1);
		}
		if (missing)
			t_fail("%d of %d eventfd wake-ups came before the event was in the ring", missing, ROUNDS);
		pthread_join(th, NULL);
		close(p[0]);
		close(p[1]);
	}

	/* 3. the same for requests completed by workers (cold reads) */
	{
		int big = t_tmpfile(8 << 20, 0);
		static char cb2[N][4096];
		int got = 0, early = 0;

		REQUIRE(fsync(big) == 0);
		REQUIRE(posix_fadvise(big, 0, 0, POSIX_FADV_DONTNEED) == 0);
		for (int i = 0; i < N; i++) {
			uaio_prep_pread(&cbs[i], big, cb2[i], 4096, (long long)i * 131072);
			uaio_set_eventfd(&cbs[i], efd);
			cbs[i].aio_data = (uint64_t)i;
			v[i] = &cbs[i];
		}
		CHECK_EQ(uaio_submit(ctx, N, v), N);
		while (got < N) {
			struct pollfd pf = { efd, POLLIN, 0 };
			struct timespec ts0 = { 0, 0 };
			uint64_t cnt;
			int n;

			REQUIRE(poll(&pf, 1, 10000) == 1);
			cnt = efd_read_nb(efd);
			/* every counted completion is already reapable */
			n = 0;
			while ((uint64_t)n < cnt) {
				int r = uaio_getevents(ctx, 0, (long)(cnt - (uint64_t)n), ev, &ts0);

				if (r <= 0) {
					early++;
					break;
				}
				for (int j = 0; j < r; j++)
					CHECK_EQ(ev[j].res, 4096);
				n += r;
			}
			got += n;
			if (early)
				break;
		}
		CHECK_EQ(early, 0);
		if (early) {
			while (got < N) {
				int r = t_wait1(&t_uaio, ctx, ev);
				REQUIRE(r == 1);
				got++;
			}
		}
		close(big);
	}
	CHECK_EQ(uaio_destroy(ctx), 0);

	/* 4. bad resfd: -EINVAL (not an eventfd) / -EBADF (closed), like the kernel */
	{
		int u[4], k[4];

		bad_resfd(&t_uaio, u);
		CHECK_EQ(u[0], -EINVAL);
		CHECK_EQ(u[1], -EINVAL);
		CHECK_EQ(u[2], -EBADF);
		CHECK_EQ(u[3], 0);
		if (k_available()) {
			bad_resfd(&t_kernel, k);
			for (int i = 0; i < 4; i++)
				CHECK_EQ(k[i], u[i]);
		}
	}
	close(efd);
	close(fd);
	return t_done();
}
