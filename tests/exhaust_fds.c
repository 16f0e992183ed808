/* Issue 5, resource exhaustion: descriptors run out (RLIMIT_NOFILE at the number open).  The first setup needs no descriptor (like the kernel's): ring memory needs none, and forced uring, whose ring cannot start, hands its requests to the pool until it can; with a context in place setup works; a request that would leave submit but gets no descriptor for its file reference is done by the submitter when it waits for the device (an fsync, RESFD or not: the kernel needs no descriptor), so submit refuses with -EAGAIN only a readiness wait that needs a new descriptor (a RESFD dup, the poller's epoll) and completes the rest with one event each; pgetevents with a mask, getevents, cancel and destroy answer as usual; descriptors return to their count. */
#include "exhaust.h"
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>

static char buf[16][4096];

/* Nothing of uaio exists yet: ring memory needs no descriptor; an
 * io_uring does, and waits for one. */
static int cold(void)
{
	struct x_nofile x;
	aio_context_t ctx;
	int fds = x_fd_count();

	x_fds_exhaust(&x);
	/* no descriptor for anything: setup still works, as the kernel's
	 * (forced uring too: its requests go to the pool until a ring can
	 * start) */
	CHECK_EQ(x_setup(8, &ctx), 0);
	CHECK_EQ(uaio_destroy(ctx), 0);
	x_fds_restore(&x);
	CHECK_EQ(x_fd_count(), fds);
	CHECK_EQ(x_setup(8, &ctx), 0);	/* works now, forced uring too */
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(x_fd_count(), fds);	/* the arena holds no descriptor */
	return t_done();
}

/* A context exists; nothing else of uaio has started. */
static int fresh(void)
{
	struct iocb cb[4], *v[4] = { &cb[0], &cb[1], &cb[2], &cb[3] };
	struct timespec zero = { 0, 0 }, shortw = { 0, 20000000 };
	struct io_event ev[2];
	struct x_nofile x;
	aio_context_t ctx, ctx2;
	int fd = t_tmpfile(65536, 0), p[2], efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), fds;
	int64_t res[5] = { 4096, 0, 0, 0, 0 };
	sigset_t mask;
	eventfd_t n;

	REQUIRE(pipe(p) == 0 && efd >= 0);
	sigemptyset(&mask);
	CHECK_EQ(x_setup(8, &ctx), 0);
	fds = x_fd_count();
	x_fds_exhaust(&x);

	CHECK_EQ(x_setup(8, &ctx2), 0);	/* the arena needs no new descriptor */
	/* cached reads complete inside submit, RESFD or not: no dup needed */
	x_prep(&cb[0], IOCB_CMD_PREAD, fd, buf[0], 4096, 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	x_collect(ctx, cb, res, 1);
	x_resfd(&cb[0], efd);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	x_collect(ctx, cb, res, 1);
	CHECK_EQ(eventfd_read(efd, &n), 0);
	CHECK_EQ(n, 1);
	/* an fsync would leave submit, but there is no descriptor for its
	 * file reference: the submitter does it (the kernel needs none) and
	 * signals the caller's eventfd itself, so no dup is needed either */
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_resfd(&cb[0], efd);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, ev, &zero), 1);	/* in the ring at once */
	CHECK_EQ(ev[0].obj, (uint64_t)(uintptr_t)&cb[0]);
	CHECK_EQ(ev[0].res, 0);
	CHECK_EQ(eventfd_read(efd, &n), 0);
	CHECK_EQ(n, 1);
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_prep(&cb[1], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_resfd(&cb[1], efd);
	x_prep(&cb[2], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	CHECK_EQ(uaio_submit(ctx, 3, v), 3);
	res[0] = res[1] = res[2] = 0;
	/* pgetevents with a mask waits without its eventfd */
	x_collect(ctx, cb, res, 3);
	CHECK_EQ(eventfd_read(efd, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(uaio_pgetevents(ctx, 1, 1, ev, &shortw, &mask), 0);
	CHECK_EQ(uaio_cancel(ctx, &cb[0], ev), -EINVAL);	/* done */
	res[0] = 4096;
	/* readiness waits without an epoll descriptor: the poller polls */
	x_prep(&cb[0], IOCB_CMD_POLL, p[0], NULL, 0, 0);
	cb[0].aio_buf = POLLIN;
	x_prep(&cb[1], IOCB_CMD_PREAD, p[0], buf[0], 1, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(uaio_getevents(ctx, 0, 2, ev, &zero), 0);
	CHECK_EQ(write(p[1], "ab", 2), 2);
	x_collect(ctx, cb, NULL, 2);
	CHECK(read(p[0], buf[0], 1) == 1 || errno == EAGAIN);	/* what the read left */
	/* a batch of fsyncs, no RESFD */
	for (int i = 0; i < 4; i++)
		x_prep(&cb[i], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	CHECK_EQ(uaio_submit(ctx2, 4, v), 4);
	x_collect(ctx2, cb, res + 1, 4);
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(uaio_destroy(ctx2), 0);
	CHECK_EQ(uaio_getevents(ctx2, 0, 1, ev, &zero), -EINVAL);

	x_fds_restore(&x);
	CHECK_EQ(x_fd_count(), fds);
	CHECK_EQ(eventfd_read(efd, &n), -1);	/* nothing was signalled */
	close(fd);
	close(efd);
	close(p[0]);
	close(p[1]);
	return t_done();
}

/* Workers, poller and (uring) ring already run when descriptors run out.
 * In a thread of its own: see warm(). */
static void *warm_io(void *arg)
{
	struct iocb cb[16], *v[16];
	struct io_event ev;
	struct x_nofile x;
	aio_context_t ctx;
	int fd = t_tmpfile(65536, 0), p[2], efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int64_t res[16];
	eventfd_t n;

	(void)arg;
	REQUIRE(pipe(p) == 0 && efd >= 0);
	for (int i = 0; i < 16; i++)
		v[i] = &cb[i];
	CHECK_EQ(x_setup(32, &ctx), 0);
	/* start a worker (or the ring) and the poller */
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_prep(&cb[1], IOCB_CMD_PREAD, p[0], buf[1], 1, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	REQUIRE(write(p[1], "a", 1) == 1);
	res[0] = 0;
	res[1] = 1;
	x_collect(ctx, cb, res, 2);

	x_fds_exhaust(&x);
	for (int i = 0; i < 3; i++) {
		x_prep(&cb[i], IOCB_CMD_PREAD, p[0], buf[i], 1, 0);
		res[i] = 1;
	}
	x_prep(&cb[3], IOCB_CMD_POLL, p[0], NULL, 0, 0);
	cb[3].aio_buf = POLLIN;
	res[3] = 0;
	for (int i = 4; i < 14; i++) {
		x_prep(&cb[i], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
		res[i] = 0;
	}
	x_prep(&cb[14], IOCB_CMD_PREAD, fd, buf[14], 4096, 0);
	x_resfd(&cb[14], efd);
	res[14] = 4096;
	x_prep(&cb[15], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_resfd(&cb[15], efd);
	res[15] = 0;
	/* no descriptor for file references: the pipe reads and the POLL wait
	 * on the caller's descriptor, the fsyncs are done by the submitter */
	CHECK_EQ(uaio_submit(ctx, 16, v), 16);
	CHECK_EQ(uaio_cancel(ctx, &cb[2], &ev), -EINPROGRESS);
	res[2] = -ECANCELED;
	CHECK_EQ(uaio_cancel(ctx, &cb[3], &ev), -EINPROGRESS);
	REQUIRE(write(p[1], "bc", 2) == 2);
	x_collect(ctx, cb, res, 16);
	CHECK_EQ(eventfd_read(efd, &n), 0);
	CHECK_EQ(n, 2);
	/* destroy ends a wait nobody will satisfy, with descriptors still out */
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], buf[0], 1, 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_destroy(ctx), 0);
	x_fds_restore(&x);
	close(fd);
	close(efd);
	close(p[0]);
	close(p[1]);
	return NULL;
}

static int warm(void)
{
	int fds = x_fd_count();
	pthread_t t;

	REQUIRE(pthread_create(&t, NULL, warm_io, NULL) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
	/* the poller's epoll stays for the process's life; the ring and its
	 * eventfd went with the last context; the eventfd a thread keeps for
	 * its sleeps next to the ring (or kaio's eventfd) went with the thread */
	CHECK_EQ(x_fd_count(), fds + 1);
	return t_done();
}

int main(void)
{
	int r;

	x_skip_under_valgrind();
	setenv("UAIO_IDLE_MS", "600000", 1);
	if ((r = x_child(cold)) != T_PASS)
		t_fail("cold: child exit %d", r);
	if ((r = x_child(fresh)) != T_PASS)
		t_fail("fresh: child exit %d", r);
	if ((r = x_child(warm)) != T_PASS)
		t_fail("warm: child exit %d", r);
	return t_done();
}
