/* SPEC §2 threads/processes: after fork() the child's inherited contexts are unknown to it (-EINVAL) and a fresh context works there; the parent's context keeps working, with requests in flight across the fork. */
#include "t.h"
#include <poll.h>
#include <sys/wait.h>
#include <time.h>

static int child(aio_context_t pctx, struct iocb *pcb, int fd, int cold)
{
	struct iocb cb, *v = &cb;
	struct io_event ev[4];
	struct timespec ts0 = { 0, 0 }, ts = { 10, 0 };
	aio_context_t ctx = 0;
	char buf[64];
	static char cbuf[65536];
	int p[2];

	/* the parent's context is not ours */
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	CHECK_EQ(uaio_submit(pctx, 1, &v), -EINVAL);
	CHECK_EQ(uaio_getevents(pctx, 0, 4, ev, &ts0), -EINVAL);
	CHECK_EQ(uaio_cancel(pctx, pcb, ev), -EINVAL);
	CHECK_EQ(uaio_destroy(pctx), -EINVAL);
	{
		struct uaio_stats st;

		CHECK_EQ(uaio_stats(0, &st), 0);
		CHECK_EQ(st.contexts, 0);
	}
	/* a fresh one works: cached read, cold read (a worker), pipe (the poller) */
	CHECK_EQ(t_setup(8, &ctx), 0);
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 64);
	cb.aio_data = 1;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 4, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 1);
	CHECK_EQ(ev[0].res, 64);
	CHECK_EQ((unsigned char)buf[0], t_pattern(64));

#ifdef __SANITIZE_THREAD__
	/* TSan cannot start threads in the child of a multi-threaded
	 * process (die_after_fork): the worker and poller parts are left out. */
	(void)cold;
	(void)cbuf;
	(void)p;
#else
	uaio_prep_pread(&cb, cold, cbuf, sizeof(cbuf), 3 << 20);
	cb.aio_data = 2;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 4, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 2);
	CHECK_EQ(ev[0].res, sizeof(cbuf));
	CHECK_EQ((unsigned char)cbuf[5], t_pattern((3 << 20) + 5));

	REQUIRE(pipe(p) == 0);
	uaio_prep_pread(&cb, p[0], buf, sizeof(buf), 0);
	cb.aio_data = 3;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(uaio_getevents(ctx, 0, 4, ev, &ts0), 0);
	REQUIRE(write(p[1], "kid", 3) == 3);
	CHECK_EQ(uaio_getevents(ctx, 1, 4, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 3);
	CHECK_EQ(ev[0].res, 3);
#endif
	CHECK_EQ(uaio_destroy(ctx), 0);
#ifndef __SANITIZE_THREAD__
	close(p[0]);
	close(p[1]);
#endif
	return t_failures ? 1 : 0;
}

int main(void)
{
	aio_context_t ctx = 0;
	struct iocb cbs[4], *v[4];
	struct io_event ev[8];
	char buf[4][64];
	static char cold_buf[16][65536];
	int fd = t_tmpfile(8192, 0), cold = t_tmpfile(8 << 20, 0), p[2], q[2];
	struct timespec ts = { 10, 0 };
	pid_t pid;
	int status;

	alarm(60);
	REQUIRE(pipe(p) == 0);
	REQUIRE(pipe(q) == 0);
	REQUIRE(fsync(cold) == 0);
	REQUIRE(posix_fadvise(cold, 0, 0, POSIX_FADV_DONTNEED) == 0);
	REQUIRE(t_setup(32, &ctx) == 0);
	/* in flight across the fork: a pending pipe read, a pending POLL, a
	 * completed but unreaped read, and cold reads on the workers */
	uaio_prep_pread(&cbs[0], p[0], buf[0], sizeof(buf[0]), 0);
	uaio_prep_poll(&cbs[1], q[0], POLLIN);
	uaio_prep_pread(&cbs[2], fd, buf[2], sizeof(buf[2]), 128);
	for (int i = 0; i < 3; i++) {
		cbs[i].aio_data = 10 + (uint64_t)i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, 3, v), 3);
	for (int i = 0; i < 16; i++) {
		static struct iocb coldcb[16];
		struct iocb *cv = &coldcb[i];

		uaio_prep_pread(cv, cold, cold_buf[i], 65536, (long long)i * 262144);
		cv->aio_data = 100 + (uint64_t)i;
		REQUIRE(uaio_submit(ctx, 1, &cv) == 1);
	}

#ifdef T_UNDER_SAN
	/* The sanitizer runtimes (gcc 12) do not lock their allocator around
	 * fork: a worker thread freeing memory at that instant leaves the
	 * child's allocator locked for good.  Let the workers finish first;
	 * the pipe read and the POLL stay in flight across the fork. */
	{
		struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctx;

		for (int k = 0; k < 10000 && (__atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE) + ring->nr -
					       ring->head) % ring->nr < 17; k++) {
			struct timespec s = { 0, 1000000 };
			nanosleep(&s, NULL);
		}
		struct timespec s = { 0, 100000000 };
		nanosleep(&s, NULL);
	}
#endif
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0)
		exit(child(ctx, &cbs[0], fd, cold));

	/* the parent's context still works */
	REQUIRE(write(p[1], "parent", 6) == 6);
	REQUIRE(write(q[1], "!", 1) == 1);
	{
		int got = 0, seen_pipe = 0, seen_poll = 0, seen_file = 0, seen_cold = 0;

		while (got < 19) {
			int r = uaio_getevents(ctx, 1, 8, ev, &ts);

			if (r <= 0) {
				t_fail("parent getevents: %d after %d events", r, got);
				break;
			}
			for (int j = 0; j < r; j++) {
				uint64_t d = ev[j].data;

				if (d == 10) {
					seen_pipe++;
					CHECK_EQ(ev[j].res, 6);
				} else if (d == 11) {
					seen_poll++;
					CHECK(ev[j].res & POLLIN);
				} else if (d == 12) {
					seen_file++;
					CHECK_EQ(ev[j].res, 64);
				} else if (d >= 100 && d < 116) {
					int i = (int)(d - 100);

					seen_cold++;
					CHECK_EQ(ev[j].res, 65536);
					CHECK_EQ((unsigned char)cold_buf[i][7], t_pattern((uint64_t)i * 262144 + 7));
				} else
					t_fail("unexpected event data %llu", (unsigned long long)d);
			}
			got += r;
		}
		CHECK_EQ(seen_pipe, 1);
		CHECK_EQ(seen_poll, 1);
		CHECK_EQ(seen_file, 1);
		CHECK_EQ(seen_cold, 16);
		CHECK(memcmp(buf[0], "parent", 6) == 0);
	}
	/* and takes new work */
	uaio_prep_pread(&cbs[3], fd, buf[3], sizeof(buf[3]), 256);
	cbs[3].aio_data = 13;
	v[0] = &cbs[3];
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 8, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 13);

	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WIFEXITED(status))
		CHECK_EQ(WEXITSTATUS(status), 0);
	else
		t_fail("child killed by signal %d", WTERMSIG(status));
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(fd);
	close(cold);
	return t_done();
}
