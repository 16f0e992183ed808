/* uaio_faults(7): short cuts a read or write as a real short transfer would: the event's res is the bytes moved, a read fills only that part of the buffers, a write writes only that part. */
#include "t.h"
#include <stdbool.h>

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

static long long one(aio_context_t ctx, struct iocb *cb)
{
	struct io_event ev;

	REQUIRE(uaio_submit(ctx, 1, &cb) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	return ev.res;
}

static bool pattern_at(const unsigned char *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != t_pattern(off + i))
			return false;
	return true;
}

static bool all(const unsigned char *p, size_t n, unsigned char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

static void reads(void)
{
	static unsigned char buf[8192], v0[1000], v1[1000], v2[1000];
	struct iovec iov[3] = { { v0, 1000 }, { v1, 1000 }, { v2, 1000 } };
	aio_context_t ctx = 0;
	struct iocb cb;
	int fd = t_tmpfile(1 << 20, 0);

	REQUIRE(f_setup(4, &ctx, "op=pread:short;op=preadv:short=1500") == 0);
	memset(buf, 0xee, sizeof(buf));
	uaio_prep_pread(&cb, fd, buf, 8192, 4096);
	CHECK_EQ(one(ctx, &cb), 4096);				/* half */
	CHECK(pattern_at(buf, 4096, 4096));
	CHECK(all(buf + 4096, 4096, 0xee));			/* the rest untouched */

	memset(v0, 0xee, 1000), memset(v1, 0xee, 1000), memset(v2, 0xee, 1000);
	uaio_prep_preadv(&cb, fd, iov, 3, 100);
	CHECK_EQ(one(ctx, &cb), 1500);
	CHECK(pattern_at(v0, 1000, 100));
	CHECK(pattern_at(v1, 500, 1100));
	CHECK(all(v1 + 500, 500, 0xee));
	CHECK(all(v2, 1000, 0xee));

	uaio_prep_preadv(&cb, fd, iov, 1, 0);			/* 1000 <= 1500: not cut */
	CHECK_EQ(one(ctx, &cb), 1000);
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
}

static void writes(void)
{
	static unsigned char a[4096], back[8192];
	struct iovec iov[2] = { { a, 2048 }, { a + 2048, 2048 } };
	aio_context_t ctx = 0;
	struct iocb cb;
	struct stat st;
	int fd = t_tmpfile(0, 0);

	memset(a, 'A', sizeof(a));
	REQUIRE(f_setup(4, &ctx, "op=pwrite:short=1000;op=pwritev:short=3000;op=pread:short=0") == 0);
	uaio_prep_pwrite(&cb, fd, a, 4096, 0);
	CHECK_EQ(one(ctx, &cb), 1000);
	REQUIRE(fstat(fd, &st) == 0);
	CHECK_EQ(st.st_size, 1000);				/* exactly the cut write */
	REQUIRE(pread(fd, back, sizeof(back), 0) == 1000);
	CHECK(all(back, 1000, 'A'));

	uaio_prep_pwritev(&cb, fd, iov, 2, 8192);
	CHECK_EQ(one(ctx, &cb), 3000);
	REQUIRE(fstat(fd, &st) == 0);
	CHECK_EQ(st.st_size, 8192 + 3000);
	REQUIRE(pread(fd, back, sizeof(back), 8192) == 3000);
	CHECK(all(back, 3000, 'A'));

	uaio_prep_pread(&cb, fd, back, 100, 0);			/* short=0: nothing moved */
	memset(back, 0xee, 100);
	CHECK_EQ(one(ctx, &cb), 0);
	CHECK(all(back, 100, 0xee));
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
}

/* O_DIRECT never completes at submit: the executor moves the cut part;
 * plain "short" keeps it aligned. */
static void direct(void)
{
	unsigned char *buf;
	aio_context_t ctx = 0;
	struct iocb cb;
	char p[64];
	int fd = t_tmpfile(1 << 16, 0), dfd;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	dfd = open(p, O_RDWR | O_DIRECT);
	if (dfd < 0) {
		printf("O_DIRECT refused here: the direct case is not run\n");
		close(fd);
		return;
	}
	REQUIRE(posix_memalign((void **)&buf, 4096, 4 * 4096) == 0);
	memset(buf, 0xee, 4 * 4096);
	REQUIRE(f_setup(4, &ctx, "op=pread:short") == 0);
	uaio_prep_pread(&cb, dfd, buf, 4 * 4096, 4096);
	CHECK_EQ(one(ctx, &cb), 8192);				/* half, still aligned */
	CHECK(pattern_at(buf, 8192, 4096));
	CHECK(all(buf + 8192, 4 * 4096 - 8192, 0xee));
	CHECK_EQ(uaio_destroy(ctx), 0);
	free(buf);
	close(dfd);
	close(fd);
}

int main(void)
{
	direct();
	reads();
	writes();
	return t_done();
}
