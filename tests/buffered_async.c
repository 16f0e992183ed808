/* SPEC §3: a read whose pages are cached completes inside submit
 * (RWF_NOWAIT first); one that would block goes to the executor, never
 * returned short; data is right either way. */
#include "t.h"

#define N 64
#define FILE_SZ (16u << 20)

static void run_batch(aio_context_t ctx, int fd, unsigned char *bufs, const long long *offs)
{
	struct iocb cbs[N], *v[N];
	struct io_event ev[N];
	int got = 0;

	for (int i = 0; i < N; i++) {
		uaio_prep_pread(&cbs[i], fd, bufs + (size_t)i * 8192, 8192, offs[i]);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, N, v), N);
	while (got < N) {
		struct timespec ts = { 10, 0 };
		int r = uaio_getevents(ctx, 1, N, ev, &ts);

		REQUIRE(r > 0);
		for (int j = 0; j < r; j++) {
			int i = (int)ev[j].data;

			CHECK_EQ(ev[j].res, 8192);
			CHECK_EQ(ev[j].obj, (uint64_t)(uintptr_t)&cbs[i]);
			for (int k = 0; k < 8192; k += 1021)
				CHECK_EQ(bufs[(size_t)i * 8192 + k], t_pattern((uint64_t)offs[i] + k));
		}
		got += r;
	}
}

int main(void)
{
	static unsigned char bufs[N * 8192];
	long long offs[N];
	struct uaio_stats a, b, c;
	aio_context_t ctx = 0;
	int fd = t_tmpfile(FILE_SZ, 0);

	REQUIRE(fsync(fd) == 0);
	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	for (int i = 0; i < N; i++)
		offs[i] = (long long)((i * 7919u) % (FILE_SZ / 8192 - 1)) * 8192 + 8192;
	REQUIRE(t_setup(N, &ctx) == 0);
	REQUIRE(uaio_stats(ctx, &a) == 0);
	run_batch(ctx, fd, bufs, offs);		/* cold: some must go to workers */
	REQUIRE(uaio_stats(ctx, &b) == 0);
	CHECK_EQ(b.submitted - a.submitted, N);
	CHECK(b.offloaded > a.offloaded);
	run_batch(ctx, fd, bufs, offs);		/* now cached: all inline */
	REQUIRE(uaio_stats(ctx, &c) == 0);
	CHECK_EQ(c.inline_done - b.inline_done, N);
	CHECK_EQ(c.offloaded, b.offloaded);
	CHECK_EQ(c.completed - a.completed, 2 * N);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
	return t_done();
}
