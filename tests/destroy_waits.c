/* SPEC §2 destroy: waits for requests in flight (their buffers are final when it returns), never hangs on a pending pipe read or POLL, wakes threads waiting in getevents (-EINVAL), and afterwards the handle is unknown (-EINVAL). */
#include "t.h"
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#define NR 96
#define RS 65536
#define FSZ (32u << 20)

static void msleep(long ms)
{
	struct timespec s = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&s, NULL);
}

/* 1. cold reads in flight: when destroy returns, no buffer changes any
 * more, and each is either untouched (cancelled) or complete */
static void in_flight(void)
{
	static unsigned char bufs[NR][RS], snap[NR][RS];
	struct iocb cbs[NR], *v[NR];
	aio_context_t ctx = 0;
	int fd = t_tmpfile(FSZ, 0), done = 0, untouched = 0;

	REQUIRE(fsync(fd) == 0);
	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	REQUIRE(t_setup(NR, &ctx) == 0);
	memset(bufs, 0, sizeof(bufs));
	for (int i = 0; i < NR; i++) {
		uaio_prep_pread(&cbs[i], fd, bufs[i], RS, (long long)((i * 97u) % (FSZ / RS)) * RS);
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, NR, v), NR);
	CHECK_EQ(uaio_destroy(ctx), 0);
	memcpy(snap, bufs, sizeof(bufs));
	msleep(100);
	CHECK(memcmp(snap, bufs, sizeof(bufs)) == 0);
	for (int i = 0; i < NR; i++) {
		uint64_t off = (uint64_t)cbs[i].aio_offset;
		int ok = 1, zero = 1;

		for (int k = 0; k < RS; k += 509) {
			ok &= bufs[i][k] == t_pattern(off + k);
			zero &= bufs[i][k] == 0;
		}
		ok &= bufs[i][RS - 1] == t_pattern(off + RS - 1);
		zero &= bufs[i][RS - 1] == 0;
		if (ok)
			done++;
		else if (zero)
			untouched++;
		else
			t_fail("buffer %d half written after destroy", i);
	}
	fprintf(stderr, "after destroy: %d read, %d cancelled\n", done, untouched);
	close(fd);
}

/* 2. requests that cannot finish by themselves do not hold destroy up */
static void stuck(void)
{
	aio_context_t ctx = 0;
	struct iocb cbs[3], *v[3];
	struct io_event ev;
	struct timespec ts0 = { 0, 0 };
	char rb[16], c;
	int p[2], q[2];

	REQUIRE(pipe(p) == 0);
	REQUIRE(pipe(q) == 0);
	REQUIRE(t_setup(4, &ctx) == 0);
	memset(rb, 0, sizeof(rb));
	uaio_prep_pread(&cbs[0], p[0], rb, sizeof(rb), 0);
	uaio_prep_poll(&cbs[1], q[0], POLLIN);
	/* a write that can never finish: bigger than the pipe, nobody reads */
	{
		static char big[1 << 20];

		uaio_prep_pwrite(&cbs[2], q[1], big, sizeof(big), 0);
	}
	for (int i = 0; i < 3; i++)
		v[i] = &cbs[i];
	CHECK_EQ(uaio_submit(ctx, 3, v), 3);
	CHECK_EQ(uaio_destroy(ctx), 0);		/* the alarm catches a hang */
	/* the cancelled read took nothing: data written now stays in the pipe */
	REQUIRE(write(p[1], "z", 1) == 1);
	msleep(20);
	CHECK_EQ(read(p[0], &c, 1), 1);
	CHECK_EQ(c, 'z');
	CHECK_EQ(rb[0], 0);

	/* the handle is unknown now */
	uaio_prep_pread(&cbs[0], p[0], rb, sizeof(rb), 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), -EINVAL);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &ts0), -EINVAL);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, NULL), -EINVAL);
	CHECK_EQ(uaio_cancel(ctx, &cbs[1], &ev), -EINVAL);
	CHECK_EQ(uaio_destroy(ctx), -EINVAL);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

struct waiter {
	aio_context_t ctx;
	int mode;	/* 0: NULL timeout, 1: 10 s, 2: pgetevents with a mask */
	int ret;
	_Atomic int started, done;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	struct io_event ev[2];
	struct timespec ts = { 10, 0 };
	sigset_t m;

	sigemptyset(&m);
	atomic_store(&w->started, 1);
	if (w->mode == 2)
		w->ret = uaio_pgetevents(w->ctx, 1, 2, ev, NULL, &m);
	else
		w->ret = uaio_getevents(w->ctx, 1, 2, ev, w->mode ? &ts : NULL);
	atomic_store(&w->done, 1);
	return NULL;
}

/* 3. threads waiting in getevents are woken by destroy with -EINVAL */
static void waiters(void)
{
	for (int mode = 0; mode < 6; mode++) {
		int pending = mode >= 3;	/* a POLL the destroy cancels */
		aio_context_t ctx = 0;
		struct waiter w[2];
		pthread_t th[2];
		struct iocb cb, *v = &cb;
		int p[2];

		REQUIRE(pipe(p) == 0);
		REQUIRE(t_setup(4, &ctx) == 0);
		uaio_prep_poll(&cb, p[0], POLLIN);
		if (pending)
			REQUIRE(uaio_submit(ctx, 1, &v) == 1);
		for (int i = 0; i < 2; i++) {
			memset(&w[i], 0, sizeof(w[i]));
			w[i].ctx = ctx;
			w[i].mode = mode % 3;
			REQUIRE(pthread_create(&th[i], NULL, wait_thread, &w[i]) == 0);
		}
		while (!atomic_load(&w[0].started) || !atomic_load(&w[1].started))
			sched_yield();
		msleep(50);	/* most likely asleep by now; either way the answer is -EINVAL */
		CHECK_EQ(uaio_destroy(ctx), 0);
		for (int k = 0; k < 500 && !(atomic_load(&w[0].done) && atomic_load(&w[1].done)); k++)
			msleep(10);
		if (!(atomic_load(&w[0].done) && atomic_load(&w[1].done))) {
			t_fail("mode %d: a getevents waiter was not woken by destroy", mode);
			REQUIRE(write(p[1], "x", 1) == 1);	/* cannot help: the context is gone */
			exit(t_done());
		}
		for (int i = 0; i < 2; i++)
			pthread_join(th[i], NULL);
		if (!pending) {
			CHECK_EQ(w[0].ret, -EINVAL);
			CHECK_EQ(w[1].ret, -EINVAL);
		} else {
			/* the cancelled POLL's event may reach one waiter (the
			 * kernel's waiters may copy it too); the other gets -EINVAL */
			CHECK(w[0].ret == -EINVAL || w[0].ret == 1);
			CHECK(w[1].ret == -EINVAL || w[1].ret == 1);
			CHECK(w[0].ret + w[1].ret < 2);
		}
		close(p[0]);
		close(p[1]);
	}
}

int main(void)
{
	alarm(60);
	in_flight();
	stuck();
	waiters();
	/* the kernel also wakes a waiter of a destroyed context with -EINVAL */
	return t_done();
}
