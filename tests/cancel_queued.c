/* SPEC §2 cancel: a queued request is cancelled (-EINPROGRESS, its event res -ECANCELED), a running one gives -EAGAIN, a completed or already cancelled one -EINVAL; every submitted iocb yields exactly one event; aio_key != 0, unknown ctx -> -EINVAL, NULL iocb -> -EFAULT. */
#include "t.h"

#define NQ 128
#define RS 65536
#define FSZ (64u << 20)

static struct iocb cbs[NQ];
static unsigned char bufs[NQ][RS];

/* Argument checks, the same on the kernel (which reads the iocb first). */
static void args(const struct t_api *a, int out[6])
{
	aio_context_t ctx = 0;
	struct iocb never, cb, *v = &cb;
	struct io_event ev;
	int p[2];

	REQUIRE(pipe(p) == 0);
	REQUIRE(a->setup(4, &ctx) == 0);
	memset(&never, 0, sizeof(never));
	uaio_prep_poll(&cb, p[0], 1 /* POLLIN */);
	REQUIRE(a->submit(ctx, 1, &v) == 1);
	if (a == &t_kernel && t_under_valgrind()) {
		out[0] = out[1] = -EFAULT;	/* valgrind flags NULL to the raw syscall */
	} else {
		out[0] = a->cancel(ctx, NULL, &ev);			/* NULL iocb */
		out[1] = a->cancel(0x12345000, NULL, &ev);		/* NULL before ctx */
	}
	out[2] = a->cancel(0, &cb, &ev);				/* ctx 0 */
	out[3] = a->cancel(0x12345000, &cb, &ev);			/* never a ring */
	out[4] = a->cancel(ctx, &never, &ev);				/* never submitted */
	cb.aio_key = 1;
	out[5] = a->cancel(ctx, &cb, &ev);				/* aio_key != 0 */
	cb.aio_key = 0;
	CHECK_EQ(a->cancel(ctx, &cb, &ev), -EINPROGRESS);		/* still cancellable */
	CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	CHECK_EQ(ev.res, 0);
	CHECK_EQ(a->destroy(ctx), 0);
	CHECK_EQ(a->cancel(ctx, &cb, &ev), -EINVAL);			/* destroyed */
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	aio_context_t ctx = 0;
	struct iocb *v[NQ];
	struct io_event ev[NQ];
	int fd, einprogress = 0, eagain = 0, einval = 0, rounds = 0;
	struct uaio_stats st0, st1;

	setenv("UAIO_THREADS", "1", 1);	/* one worker: the queue stays long */
	fd = t_tmpfile(FSZ, 0);
	REQUIRE(fsync(fd) == 0);
	REQUIRE(t_setup(NQ, &ctx) == 0);
	REQUIRE(uaio_stats(ctx, &st0) == 0);

	while (rounds < 5 && einprogress == 0) {
		int cres[NQ], nev[NQ], got = 0;

		rounds++;
		REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		for (int i = 0; i < NQ; i++) {
			/* scattered, so readahead does not warm the next one */
			long long off = (long long)((i * 379u + rounds * 17u) % (FSZ / RS)) * RS;

			uaio_prep_pread(&cbs[i], fd, bufs[i], RS, off);
			cbs[i].aio_data = (uint64_t)i;
			cbs[i].aio_key = 0xdead;	/* submit overwrites it with 0 */
			v[i] = &cbs[i];
			memset(bufs[i], 0, 64);
			cres[i] = 1;
			nev[i] = 0;
		}
		CHECK_EQ(uaio_submit(ctx, NQ, v), NQ);
		CHECK_EQ(cbs[NQ - 1].aio_key, 0);
		/* aio_key != 0: refused, whatever the request's state */
		cbs[NQ - 1].aio_key = 1;
		CHECK_EQ(uaio_cancel(ctx, &cbs[NQ - 1], &ev[0]), -EINVAL);
		cbs[NQ - 1].aio_key = 0;
		for (int i = NQ - 1; i >= NQ / 2; i--) {
			cres[i] = uaio_cancel(ctx, &cbs[i], &ev[0]);
			if (cres[i] == -EINPROGRESS) {
				einprogress++;
				/* twice: -EINVAL */
				CHECK_EQ(uaio_cancel(ctx, &cbs[i], &ev[0]), -EINVAL);
			} else if (cres[i] == -EAGAIN)
				eagain++;
			else if (cres[i] == -EINVAL)
				einval++;
			else
				t_fail("cancel #%d: %d", i, cres[i]);
		}
		while (got < NQ) {
			struct timespec ts = { 10, 0 };
			int r = uaio_getevents(ctx, 1, NQ, ev, &ts);

			if (r <= 0) {
				t_fail("getevents %d after %d of %d events", r, got, NQ);
				break;
			}
			for (int j = 0; j < r; j++) {
				int i = (int)ev[j].data;

				REQUIRE(i >= 0 && i < NQ);
				CHECK_EQ(ev[j].obj, (uint64_t)(uintptr_t)&cbs[i]);
				nev[i]++;
				if (cres[i] == -EINPROGRESS) {
					CHECK_EQ(ev[j].res, -ECANCELED);
					CHECK_EQ(bufs[i][0] | bufs[i][63], 0);	/* never ran */
				} else {
					long long off = cbs[i].aio_offset;

					CHECK_EQ(ev[j].res, RS);
					CHECK_EQ(bufs[i][0], t_pattern((uint64_t)off));
					CHECK_EQ(bufs[i][RS - 1], t_pattern((uint64_t)off + RS - 1));
				}
			}
			got += r;
		}
		for (int i = 0; i < NQ; i++)
			if (nev[i] != 1)
				t_fail("round %d: request %d had %d events", rounds, i, nev[i]);
		/* after completion: every cancel is -EINVAL */
		CHECK_EQ(uaio_cancel(ctx, &cbs[0], &ev[0]), -EINVAL);
		CHECK_EQ(uaio_cancel(ctx, &cbs[NQ - 1], &ev[0]), -EINVAL);
		{
			struct timespec ts = { 0, 0 };

			CHECK_EQ(uaio_getevents(ctx, 0, NQ, ev, &ts), 0);
		}
	}
	fprintf(stderr, "%d round(s): %d cancelled, %d running, %d done\n", rounds, einprogress,
		eagain, einval);
	/* SPEC: a buffered read the io_uring executor has handed to the
	 * kernel's asynchronous read is started (-EAGAIN), as kernel AIO's
	 * file I/O; elsewhere the cold reads wait in uaio's own queue. */
	if (strcmp(t_executor(), "uring"))
		CHECK(einprogress > 0);
	else
		CHECK(eagain + einval > 0);
	REQUIRE(uaio_stats(ctx, &st1) == 0);
	CHECK_EQ(st1.cancelled - st0.cancelled, (unsigned long long)einprogress);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);

	/* argument checks, compared with the kernel */
	{
		int u[6], k[6];

		args(&t_uaio, u);
		CHECK_EQ(u[0], -EFAULT);
		CHECK_EQ(u[1], -EFAULT);
		CHECK_EQ(u[2], -EINVAL);
		CHECK_EQ(u[3], -EINVAL);
		CHECK_EQ(u[4], -EINVAL);
		CHECK_EQ(u[5], -EINVAL);
		if (k_available()) {
			args(&t_kernel, k);
			for (int i = 0; i < 6; i++)
				CHECK_EQ(k[i], u[i]);
		}
	}
	return t_done();
}
