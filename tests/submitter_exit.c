/* SPEC §2 submit/threads: a request outlives the thread that submitted it: cold reads and writes submitted by threads that exit at once each yield exactly one event with the full result (io_uring cancels an exiting task's queued io-wq work; uaio must run it anyway). */
#include "t.h"
#include <pthread.h>

#define NT 4
#define PER 32
#define RS 16384
#define FSZ (16u << 20)

static aio_context_t ctx;
static int rfd, wfd;
static unsigned char rbufs[NT][PER][RS], wbufs[NT][PER][RS];
static struct iocb cbs[NT][PER * 2];

static void *submitter(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct iocb *v[PER * 2];

	for (int i = 0; i < PER; i++) {
		long long off = (long long)(((t * PER + i) * 37u) % (FSZ / RS)) * RS;

		uaio_prep_pread(&cbs[t][i], rfd, rbufs[t][i], RS, off);
		cbs[t][i].aio_data = (uint64_t)(t * PER * 2 + i);
		memset(wbufs[t][i], t * PER + i + 1, RS);
		uaio_prep_pwrite(&cbs[t][PER + i], wfd, wbufs[t][i], RS, (long long)(t * PER + i) * RS);
		cbs[t][PER + i].aio_rw_flags = RWF_DSYNC;	/* never inline */
		cbs[t][PER + i].aio_data = (uint64_t)(t * PER * 2 + PER + i);
	}
	for (int i = 0; i < PER * 2; i++)
		v[i] = &cbs[t][i];
	CHECK_EQ(uaio_submit(ctx, PER * 2, v), PER * 2);
	return NULL;	/* and the thread is gone, its requests not */
}

int main(void)
{
	static int seen[NT * PER * 2];
	struct io_event ev[64];
	pthread_t th[NT];
	int got = 0;

	setenv("UAIO_THREADS", "1", 1);	/* io-wq / pool of one: the queues stay long */
	rfd = t_tmpfile(FSZ, 0);
	wfd = t_tmpfile(0, 0);
	REQUIRE(fsync(rfd) == 0);
	REQUIRE(posix_fadvise(rfd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	REQUIRE(t_setup(NT * PER * 2, &ctx) == 0);
	for (int t = 0; t < NT; t++)
		REQUIRE(pthread_create(&th[t], NULL, submitter, (void *)(intptr_t)t) == 0);
	for (int t = 0; t < NT; t++)
		pthread_join(th[t], NULL);
	while (got < NT * PER * 2) {
		struct timespec ts = { 30, 0 };
		int r = uaio_getevents(ctx, 1, 64, ev, &ts);

		if (r <= 0) {
			t_fail("getevents %d after %d events", r, got);
			break;
		}
		for (int j = 0; j < r; j++) {
			int id = (int)ev[j].data, t = id / (PER * 2), i = id % (PER * 2);

			REQUIRE(id >= 0 && id < NT * PER * 2);
			seen[id]++;
			CHECK_EQ(ev[j].res, RS);
			if (i < PER)
				CHECK_EQ(rbufs[t][i][RS - 1],
					 t_pattern((uint64_t)cbs[t][i].aio_offset + RS - 1));
		}
		got += r;
	}
	for (int id = 0; id < NT * PER * 2; id++)
		if (seen[id] != 1)
			t_fail("request %d: %d events", id, seen[id]);
	for (int t = 0; t < NT; t++)
		for (int i = 0; i < PER; i++) {
			unsigned char b[RS];

			REQUIRE(pread(wfd, b, RS, (off_t)(t * PER + i) * RS) == RS);
			CHECK_EQ(b[0], (unsigned char)(t * PER + i + 1));
		}
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(rfd);
	close(wfd);
	return t_done();
}
