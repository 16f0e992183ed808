/* Issue 5, resource exhaustion, and issue 16: thread creation fails (a seccomp filter on clone, as RLIMIT_NPROC would for a non-root user).  Before any uaio thread exists, what the kernel would serve is still served, by the submitter (an fsync; a pipe read without data blocks in submit until data comes, as in the kernel), and counted in uaio_stats.no_thread; only a POLL that is not ready, which needs the poller or the ring's completion thread, is refused with -EAGAIN; after workers, poller and ring exist, every request is accepted and gets exactly one event; cancel and destroy work either way. */
#include "exhaust.h"
#include <poll.h>

#define NR 128

static void *noop(void *arg)
{
	return arg;
}

static void threads_fail_now(void)
{
	pthread_t t;

	x_deny_threads();
	CHECK_EQ(pthread_create(&t, NULL, noop, NULL), EAGAIN);
}

/* No uaio thread exists when clone starts failing. */
static int cold(void)
{
	static char buf[4096];
	struct iocb cb[4], *v[4] = { &cb[0], &cb[1], &cb[2], &cb[3] };
	struct io_event ev;
	struct timespec zero = { 0, 0 };
	int fd = t_tmpfile(65536, 0), p[2], fds;
	aio_context_t ctx;
	int64_t res[2] = { 4096, 0 };
	struct uaio_stats st;
	pid_t writer;

	REQUIRE(pipe(p) == 0);
	threads_fail_now();
	CHECK_EQ(x_setup(NR, &ctx), 0);
	fds = x_fd_count();

	/* an fsync needs a worker (or the ring and its thread): the kernel's
	 * answer all the same, the submitter doing it (it was -EAGAIN) */
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 1);	/* done inside submit */
	CHECK_EQ(ev.res, 0);
	/* a cached read completes inside submit; so does the fsync after it
	 * (it was refused: a short count of 1) */
	x_prep(&cb[0], IOCB_CMD_PREAD, fd, buf, sizeof(buf), 0);
	x_prep(&cb[1], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	x_collect(ctx, cb, res, 2);
	CHECK_EQ(uaio_cancel(ctx, &cb[1], &ev), -EINVAL);	/* done already */
	/* waiting for readiness needs the poller (or the ring): a POLL is
	 * still refused, nothing could answer it later */
	x_prep(&cb[0], IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0);
	cb[0].aio_buf = POLLIN;
	CHECK_EQ(uaio_submit(ctx, 1, v), -EAGAIN);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 0);
	/* a pipe read without data blocks in submit, as in the kernel, until
	 * another process writes (it was -EAGAIN) */
	writer = fork();
	REQUIRE(writer >= 0);
	if (writer == 0) {
		usleep(200000);
		_exit(write(p[1], "w", 1) == 1 ? 0 : 1);
	}
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], buf, 8, 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 1);
	CHECK_EQ(ev.res, 1);
	CHECK_EQ(buf[0], 'w');
	REQUIRE(waitpid(writer, NULL, 0) == writer);
	REQUIRE(uaio_stats(ctx, &st) == 0);
	CHECK_EQ(st.no_thread, 3);	/* two fsyncs and the pipe read */
	/* ready already: answered inside submit, no thread needed */
	REQUIRE(write(p[1], "x", 1) == 1);
	x_prep(&cb[0], IOCB_CMD_POLL, p[0], NULL, 0, 0);
	cb[0].aio_buf = POLLIN;
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, &ev, &zero), 1);
	CHECK_EQ(ev.res, POLLIN);
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], buf, 1, 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, &ev, &zero), 1);
	CHECK_EQ(ev.res, 1);
	CHECK_EQ(x_fd_count(), fds);	/* a ring that could not start left nothing open */
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), -EINVAL);
	close(fd);
	close(p[0]);
	close(p[1]);
	return t_done();
}

/* Workers, the poller and (uring) the ring run before clone fails. */
static int warm(void)
{
	static char buf[8];
	static struct iocb cb[NR];
	struct iocb *v[NR];
	int64_t res[NR];
	struct io_event ev;
	int fd = t_tmpfile(4096, 0), p[2];
	aio_context_t ctx;

	REQUIRE(pipe(p) == 0);
	for (int i = 0; i < NR; i++)
		v[i] = &cb[i];
	CHECK_EQ(x_setup(NR, &ctx), 0);
	/* start a worker (or the ring) and the poller */
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	x_prep(&cb[1], IOCB_CMD_PREAD, p[0], buf, 1, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	REQUIRE(write(p[1], "a", 1) == 1);
	res[0] = 0;
	res[1] = 1;
	x_collect(ctx, cb, res, 2);

	threads_fail_now();
	/* a queue deeper than the workers: the pool wants more and cannot */
	for (int i = 0; i < 100; i++) {
		x_prep(&cb[i], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
		res[i] = 0;
	}
	CHECK_EQ(uaio_submit(ctx, 100, v), 100);
	x_collect(ctx, cb, res, 100);

	/* readiness waits: three reads and a POLL; cancel one read and the POLL */
	for (int i = 0; i < 3; i++) {
		x_prep(&cb[i], IOCB_CMD_PREAD, p[0], buf + i, 1, 0);
		res[i] = 1;
	}
	x_prep(&cb[3], IOCB_CMD_POLL, p[0], NULL, 0, 0);
	cb[3].aio_buf = POLLIN;
	res[3] = 0;
	CHECK_EQ(uaio_submit(ctx, 4, v), 4);
	CHECK_EQ(uaio_cancel(ctx, &cb[2], &ev), -EINPROGRESS);
	res[2] = -ECANCELED;
	CHECK_EQ(uaio_cancel(ctx, &cb[3], &ev), -EINPROGRESS);
	REQUIRE(write(p[1], "bc", 2) == 2);
	x_collect(ctx, cb, res, 4);

	/* destroy ends a wait nobody will satisfy */
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], buf, 1, 0);
	x_prep(&cb[1], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
	close(p[0]);
	close(p[1]);
	return t_done();
}

int main(void)
{
	int r;

	x_skip_under_valgrind();
	setenv("UAIO_IDLE_MS", "600000", 1);	/* warm workers stay for the test */
	r = x_child(cold);
	if (r == T_SKIP)
		t_skip("seccomp filters unavailable");
	if (r != T_PASS)
		t_fail("cold: child exit %d", r);
	r = x_child(warm);
	if (r != T_PASS)
		t_fail("warm: child exit %d", r);
	return t_done();
}
