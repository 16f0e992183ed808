/* SPEC §2 submit (inline completion): a submit call's cached reads, tried together in one kernel call (nowait.c), give each request exactly what a read of its own would: full data at submit for cached pages, a short read at end of file and 0 past it, the rest of a batch after an iocb that fails left unread (its buffer untouched, as the kernel leaves it), a pipe now on a descriptor number that was a file read a moment ago read as a pipe (data there at submit, and an empty one waited for), a file given O_DIRECT a moment ago read right; the kernel AIO context each submitting thread uses for this is gone when the thread exits, and a forked child reads through its own. */
#include "t.h"
#include <pthread.h>
#include <stdbool.h>
#include <sys/eventfd.h>

#define BS 4096
#define NR 16
#define FSZ (NR * BS + 1000)	/* the last block is short */
#define FD 200			/* the number the pipe case reuses */

static aio_context_t ctx;
static int fd;
static unsigned char bufs[NR + 2][BS] __attribute__((aligned(4096)));

static void prep(struct iocb *cb, int f, int i, long long off)
{
	uaio_prep_pread(cb, f, bufs[i], BS, off);
	cb->aio_data = (uint64_t)i;
}

static int ready(struct io_event *ev, int max)
{
	struct timespec zero = { 0, 0 };

	return uaio_getevents(ctx, 0, max, ev, &zero);
}

static bool pattern_ok(int i, long long off, long n)
{
	for (long j = 0; j < n; j++)
		if (bufs[i][j] != t_pattern((uint64_t)(off + j)))
			return false;
	return true;
}

/* NR cached reads, then one at end of file (short) and one past it (0). */
static void cached_batch(void)
{
	struct iocb cbs[NR + 2], *v[NR + 2];
	struct io_event ev[NR + 2];
	int n;

	for (int i = 0; i < NR; i++)
		prep(&cbs[i], fd, i, (long long)((i * 5) % NR) * BS);
	prep(&cbs[NR], fd, NR, (long long)NR * BS);		/* 1000 bytes left */
	prep(&cbs[NR + 1], fd, NR + 1, (long long)FSZ + BS);	/* past the end */
	for (int i = 0; i < NR + 2; i++)
		v[i] = &cbs[i];
	memset(bufs, 0, sizeof(bufs));
	CHECK_EQ(uaio_submit(ctx, NR + 2, v), NR + 2);
	n = ready(ev, NR + 2);
	CHECK_EQ(n, NR + 2);	/* cached: all done at submit, as the kernel does them */
	for (int k = 0; k < n; k++) {
		int i = (int)ev[k].data;
		long want = i < NR ? BS : i == NR ? 1000 : 0;

		CHECK_EQ((long)ev[k].res, want);
		CHECK(pattern_ok(i, (long long)cbs[i].aio_offset, want));
		CHECK_EQ(ev[k].obj, (uint64_t)(uintptr_t)&cbs[i]);
	}
}

/* An iocb with a bad descriptor ends the batch: the ones before it are
 * read, it and the ones after it are not (buffers untouched). */
static void batch_stops_at_error(void)
{
	struct iocb cbs[8], *v[8];
	struct io_event ev[8];
	int n;

	for (int i = 0; i < 8; i++) {
		prep(&cbs[i], i == 5 ? 9999 : fd, i, (long long)i * BS);
		v[i] = &cbs[i];
	}
	memset(bufs, 0xee, sizeof(bufs));
	CHECK_EQ(uaio_submit(ctx, 8, v), 5);
	n = ready(ev, 8);
	CHECK_EQ(n, 5);
	for (int k = 0; k < n; k++)
		CHECK(ev[k].data < 5 && ev[k].res == BS && pattern_ok((int)ev[k].data, (long long)ev[k].data * BS, BS));
	for (int i = 5; i < 8; i++)
		CHECK(bufs[i][0] == 0xee && bufs[i][BS - 1] == 0xee);
	/* iocb 0 failing: the kernel's answer is the error itself */
	prep(&cbs[0], 9999, 0, 0);
	CHECK_EQ(uaio_submit(ctx, 8, v), -EBADF);
	CHECK_EQ(ready(ev, 8), 0);
}

/* A read with an eventfd in the middle of the batch: every one done. */
static void resfd_in_batch(void)
{
	struct iocb cbs[6], *v[6];
	struct io_event ev[6];
	int efd = eventfd(0, 0);
	uint64_t cnt = 0;

	REQUIRE(efd >= 0);
	for (int i = 0; i < 6; i++) {
		prep(&cbs[i], fd, i, (long long)i * BS);
		v[i] = &cbs[i];
	}
	uaio_set_eventfd(&cbs[3], efd);
	CHECK_EQ(uaio_submit(ctx, 6, v), 6);
	CHECK_EQ(ready(ev, 6), 6);
	CHECK_EQ(read(efd, &cnt, sizeof(cnt)), (ssize_t)sizeof(cnt));
	CHECK_EQ(cnt, 1u);
	for (int i = 0; i < 6; i++)
		CHECK(pattern_ok(i, (long long)i * BS, BS));
	close(efd);
}

/* FD was a file read a moment ago (its flags are remembered), now a pipe. */
static void pipe_on_file_number(void)
{
	struct iocb cbs[2], *v[2] = { &cbs[0], &cbs[1] };
	struct io_event ev[2];
	unsigned char data[2 * BS];
	int p[2], n, got = 0;
	long sum = 0;

	REQUIRE(dup2(fd, FD) == FD);
	prep(&cbs[0], FD, 0, 0);
	prep(&cbs[1], FD, 1, BS);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(ready(ev, 2), 2);
	REQUIRE(pipe(p) == 0);
	REQUIRE(dup2(p[0], FD) == FD);
	close(p[0]);
	/* data there: the first read takes 4096, the second the 1904 left */
	memset(data, 0x5a, sizeof(data));
	/* 6000 bytes: the first read takes 4096, the second the 1904 left */
	REQUIRE(write(p[1], data, 6000) == 6000);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	while (got < 2 && (n = t_wait1(&t_uaio, ctx, &ev[got])) == 1) {
		sum += (long)ev[got].res;
		got++;
	}
	CHECK_EQ(got, 2);
	CHECK_EQ(sum, 6000L);
	/* empty: both wait (the kernel's io_submit would block) until data comes */
	prep(&cbs[0], FD, 0, 0);
	prep(&cbs[1], FD, 1, 0);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(ready(ev, 2), 0);
	REQUIRE(write(p[1], data, 6000) == 6000);	/* one read gets 4096, the other 1904 */
	for (got = 0, sum = 0; got < 2 && t_wait1(&t_uaio, ctx, &ev[0]) == 1; got++)
		sum += (long)ev[0].res;
	CHECK_EQ(got, 2);
	CHECK_EQ(sum, 6000L);
	close(p[1]);
	close(FD);
}

/* An eventfd read in a batch waits for a count like any eventfd read
 * (an eventfd's lseek succeeds: it must not pass for a file), and a
 * cancel withdraws it. */
static void eventfd_batch(void)
{
	struct iocb cbs[2], *v[2] = { &cbs[0], &cbs[1] };
	struct io_event ev[2];
	int efd = eventfd(0, 0);
	uint64_t one = 1;

	REQUIRE(efd >= 0);
	prep(&cbs[0], efd, 0, 0);
	prep(&cbs[1], efd, 1, 0);
	cbs[0].aio_nbytes = cbs[1].aio_nbytes = 8;
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(ready(ev, 2), 0);
	REQUIRE(write(efd, &one, 8) == 8);	/* one of them gets it */
	CHECK_EQ(t_wait1(&t_uaio, ctx, &ev[0]), 1);
	CHECK_EQ((long)ev[0].res, 8L);
	/* The other still waits, withdrawn by cancel.  -EAGAIN while the
	 * poller, woken by the write, is trying it (then it waits again). */
	struct iocb *other = ev[0].data == 0 ? &cbs[1] : &cbs[0];
	int rc, tries = 0;

	while ((rc = uaio_cancel(ctx, other, NULL)) == -EAGAIN && tries++ < 10000)
		usleep(1000);
	CHECK_EQ(rc, -EINPROGRESS);
	CHECK_EQ(t_wait1(&t_uaio, ctx, &ev[1]), 1);
	CHECK_EQ((long)ev[1].res, (long)-ECANCELED);
	close(efd);
}

/* A file read buffered a moment ago, then given O_DIRECT: right data. */
static void direct_since(void)
{
	struct iocb cbs[4], *v[4];
	struct io_event ev[4];
	int got = 0, f = t_tmpfile(FSZ, O_RDONLY), fl;

	for (int i = 0; i < 4; i++) {
		prep(&cbs[i], f, i, (long long)i * BS);
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, 4, v), 4);
	for (got = 0; got < 4 && t_wait1(&t_uaio, ctx, &ev[0]) == 1; got++)
		;
	fl = fcntl(f, F_GETFL);
	if (fcntl(f, F_SETFL, fl | O_DIRECT) != 0) {
		close(f);
		return;	/* no O_DIRECT on this file system: nothing to check */
	}
	memset(bufs, 0, sizeof(bufs));
	CHECK_EQ(uaio_submit(ctx, 4, v), 4);
	for (got = 0; got < 4 && t_wait1(&t_uaio, ctx, &ev[got]) == 1; got++)
		CHECK_EQ((long)ev[got].res, (long)BS);
	CHECK_EQ(got, 4);
	for (int i = 0; i < 4; i++)
		CHECK(pattern_ok(i, (long long)i * BS, BS));
	close(f);
}

static int aio_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "/[aio]") != NULL;
	fclose(f);
	return n;
}

#define NT 8
static pthread_barrier_t bar;

static void *reader(void *arg)
{
	struct iocb cbs[4], *v[4];
	struct io_event ev[4];
	int t = (int)(intptr_t)arg, got = 0;
	static unsigned char tb[NT][4][BS];

	for (int i = 0; i < 4; i++) {
		uaio_prep_pread(&cbs[i], fd, tb[t][i], BS, (long long)i * BS);
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, 4, v), 4);
	for (got = 0; got < 4 && t_wait1(&t_uaio, ctx, &ev[0]) == 1; got++)
		CHECK_EQ((long)ev[0].res, (long)BS);
	CHECK_EQ(got, 4);
	pthread_barrier_wait(&bar);	/* all alive: their contexts exist */
	pthread_barrier_wait(&bar);
	return NULL;
}

/* Threads that read in batches and exit leave no kernel context behind. */
static void thread_contexts(void)
{
	pthread_t th[NT];
	int before = aio_maps(), during;

	REQUIRE(pthread_barrier_init(&bar, NULL, NT + 1) == 0);
	for (int t = 0; t < NT; t++)
		REQUIRE(pthread_create(&th[t], NULL, reader, (void *)(intptr_t)t) == 0);
	pthread_barrier_wait(&bar);
	during = aio_maps();
	pthread_barrier_wait(&bar);
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	/* Under valgrind (or when the kernel refuses io_setup) reads go one
	 * by one: no context; else one per thread. */
	if (!t_under_valgrind() && k_available())
		CHECK_EQ(during, before + NT);
	CHECK_EQ(aio_maps(), before);
	pthread_barrier_destroy(&bar);
}

static void child(void *arg)
{
	(void)arg;
	ctx = 0;
	REQUIRE(t_setup(256, &ctx) == 0);	/* the parent's contexts are not the child's */
	cached_batch();
	CHECK_EQ(uaio_destroy(ctx), 0);
}

int main(void)
{
	REQUIRE(t_setup(256, &ctx) == 0);
	fd = t_tmpfile(FSZ, O_RDONLY);
	cached_batch();
	cached_batch();	/* the thread's context made: now it is used */
	batch_stops_at_error();
	resfd_in_batch();
	pipe_on_file_number();
	eventfd_batch();
	direct_since();
	thread_contexts();
	if (!t_under_valgrind())	/* fork with threads running hangs valgrind (fork_child too) */
		CHECK_EQ(t_fork_run(child, NULL), 0);
	cached_batch();
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
	return t_done();
}
