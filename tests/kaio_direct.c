/* SPEC §3 executors (kernel AIO for O_DIRECT): on every executor, O_DIRECT reads and writes give the kernel AIO's answers, including those the kaio executor's RWF_NOWAIT attempt cannot finish (an extending write the kernel refuses without blocking, a read cut short by end of file) and a program's own RWF_NOWAIT.  On "kaio", O_DIRECT reads and writes run in the kernel's AIO: no worker thread is started for them, the "uaio-kaio" thread exists, and a cancel of one in the kernel never answers -EINPROGRESS. */
#include "t.h"
#include <dirent.h>
#include <stdbool.h>

#define BS 4096

static int direct_fd(size_t size)
{
	int fd = t_tmpfile(size, 0), dfd;
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	dfd = open(p, O_RDWR | O_DIRECT);
	close(fd);
	if (dfd < 0)
		t_skip("no O_DIRECT on this file system");
	return dfd;
}

/* One request through api a: the event's res, or submit's error - 1000. */
static long long one(const struct t_api *a, aio_context_t ctx, int op, int fd, void *buf, size_t n,
		     long long off, int rwf)
{
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 10, 0 };
	int r;

	uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)buf, n, off);
	cb.aio_rw_flags = rwf;
	if ((r = a->submit(ctx, 1, v)) != 1)
		return r - 1000;
	REQUIRE(a->getevents(ctx, 1, 1, &ev, &ts) == 1);
	return ev.res;
}

/* The same requests on the kernel's AIO and on uaio: same answers. */
static void same_answers(unsigned char *b)
{
	static const struct { int op; size_t n; long long off; int rwf; } rq[] = {
		{ IOCB_CMD_PREAD, BS, 0, 0 },
		{ IOCB_CMD_PREAD, 4 * BS, 6 * BS, 0 },		/* 2 blocks before the end */
		{ IOCB_CMD_PREAD, BS, 64 * BS, 0 },		/* past the end: 0 */
		{ IOCB_CMD_PWRITE, BS, 2 * BS, 0 },
		{ IOCB_CMD_PWRITE, 2 * BS, 8 * BS, 0 },		/* extends the file */
		{ IOCB_CMD_PWRITE, BS, 32 * BS, RWF_NOWAIT },	/* extends: the program's NOWAIT */
		{ IOCB_CMD_PREADV, 0, 0, 0 },			/* filled below: 2 iovecs */
	};
	const struct t_api *apis[2] = { &t_kernel, &t_uaio };
	long long res[2][sizeof(rq) / sizeof(rq[0])];
	struct iovec iov[2] = { { b, BS }, { b + 2 * BS, BS } };

	for (int k = 0; k < 2; k++) {
		aio_context_t ctx = 0;
		int fd = direct_fd(8 * BS);

		REQUIRE(apis[k]->setup(8, &ctx) == 0);
		for (size_t i = 0; i < sizeof(rq) / sizeof(rq[0]); i++) {
			void *buf = rq[i].op == IOCB_CMD_PREADV ? (void *)iov : b;
			size_t n = rq[i].op == IOCB_CMD_PREADV ? 2 : rq[i].n;

			memset(b, 0x11 * (int)(i + 1), 4 * BS);
			res[k][i] = one(apis[k], ctx, rq[i].op, fd, buf, n, rq[i].off, rq[i].rwf);
		}
		REQUIRE(pread(fd, b, BS, 8 * BS) == BS);	/* the extending write landed */
		CHECK(b[0] == 0x55 && b[BS - 1] == 0x55);
		apis[k]->destroy(ctx);
		close(fd);
	}
	for (size_t i = 0; i < sizeof(rq) / sizeof(rq[0]); i++) {
		if (res[0][i] != res[1][i])
			fprintf(stderr, "request %zu: kernel %lld, uaio %lld\n", i, res[0][i], res[1][i]);
		CHECK_EQ(res[1][i], res[0][i]);
	}
}

static bool thread_named(const char *name)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool found = false;

	REQUIRE(d);
	while (!found && (e = readdir(d))) {
		char p[300], comm[64] = "";
		FILE *f;

		snprintf(p, sizeof(p), "/proc/self/task/%s/comm", e->d_name);
		if (e->d_name[0] == '.' || !(f = fopen(p, "re")))
			continue;
		found = fgets(comm, sizeof(comm), f) && !strncmp(comm, name, strlen(name));
		fclose(f);
	}
	closedir(d);
	return found;
}

/* On kaio: 32 O_DIRECT reads in the kernel, no worker thread for them;
 * a cancel finds each one started (-EAGAIN) or done (-EINVAL). */
static void routed_to_kernel(unsigned char *b)
{
	struct iocb cb[32], *v[32];
	struct io_event ev[32];
	struct uaio_stats st;
	struct timespec ts = { 10, 0 };
	aio_context_t ctx = 0;
	int fd = direct_fd(64 * BS), got = 0;

	REQUIRE(fsync(fd) == 0);	/* dirty pages: a NOWAIT direct read would wait for them */

	REQUIRE(t_setup(64, &ctx) == 0);
	for (int i = 0; i < 32; i++) {
		uaio_prep_pread(&cb[i], fd, b + (size_t)(i % 4) * BS, BS, (long long)i * 2 * BS);
		cb[i].aio_data = (uint64_t)i;
		v[i] = &cb[i];
	}
	CHECK_EQ(uaio_submit(ctx, 32, v), 32);
	for (int i = 0; i < 32; i++) {
		int r = uaio_cancel(ctx, &cb[i], &ev[0]);

		CHECK(r == -EAGAIN || r == -EINVAL);
	}
	while (got < 32) {
		int n = uaio_getevents(ctx, 1, 32, ev, &ts);

		REQUIRE(n > 0);
		for (int i = 0; i < n; i++)
			CHECK_EQ(ev[i].res, BS);
		got += n;
	}
	REQUIRE(uaio_stats(0, &st) == 0);
	CHECK_EQ(st.workers, 0);
	CHECK(thread_named("uaio-kaio"));
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
}

int main(void)
{
	unsigned char *b;

	REQUIRE(posix_memalign((void **)&b, BS, 4 * BS) == 0);
	if (!strcmp(t_executor(), "kaio"))
		routed_to_kernel(b);	/* first: no worker may exist yet */
	same_answers(b);
	free(b);
	return t_done();
}
