/* SPEC §1 ring: a program that reaps from the ring itself while another
 * thread's requests are being posted, and that also calls getevents, gets
 * every event exactly once.  uaio publishes the tail twice (in the ring,
 * and privately); a reap from the ring's tail followed by a getevents
 * that read the private one before its store once handed out a whole ring
 * of stale slots (zeroed and duplicated events, found by the soak test). */
#include "t.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define NR 8
#define RSZ 16
#define SECONDS 2

static aio_context_t ctx;
static int fd;
static _Atomic int stop;
static _Atomic unsigned long long posted;
static unsigned char *seen;	/* by aio_data; only the reaper writes it */
static unsigned long long cap;

static int direct_reap(struct io_event *out, int max)
{
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctx;
	unsigned nr = ring->nr;
	/* acquire: only this thread writes head */
	unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) % nr;
	/* acquire: events before tail are written (uaio's release) */
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	int n = 0;

	while (head != tail && n < max) {
		out[n++] = ring->io_events[head];
		head = (head + 1) % nr;
	}
	/* release: the events are copied before uaio may reuse their slots */
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

/* Inline reads of a cached file: each is posted by this thread, in submit. */
static void *submitter(void *arg)
{
	static unsigned char buf[RSZ];
	unsigned long long i = 1;

	(void)arg;
	while (!atomic_load(&stop) && i < cap) {
		struct iocb cb, *v = &cb;

		uaio_prep_pread(&cb, fd, buf, RSZ, 0);
		cb.aio_data = i;
		if (uaio_submit(ctx, 1, &v) == 1) {
			atomic_store(&posted, i);
			i++;
		}
	}
	atomic_store(&stop, 1);
	return NULL;
}

static void account(const struct io_event *ev, int n, unsigned long long *got)
{
	for (int j = 0; j < n; j++) {
		unsigned long long d = ev[j].data;

		if (d == 0 || d >= cap) {
			t_fail("event with data %llu (res %lld)", d, (long long)ev[j].res);
			continue;
		}
		if (seen[d]++)
			t_fail("event %llu seen twice", d);
		CHECK_EQ(ev[j].res, RSZ);
		(*got)++;
	}
}

int main(void)
{
	struct io_event ev[NR];
	unsigned long long got = 0;
	struct timespec t0, t;
	pthread_t th;
	bool dir = false;

	cap = 20000000;
	seen = calloc(cap, 1);
	REQUIRE(seen);
	fd = t_tmpfile(4096, 0);
	REQUIRE(fd >= 0);
	REQUIRE(t_setup(NR, &ctx) == 0);
	REQUIRE(pthread_create(&th, NULL, submitter, NULL) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		int n = (dir = !dir) ? direct_reap(ev, NR) : uaio_getevents(ctx, 0, NR, ev, NULL);

		REQUIRE(n >= 0);
		account(ev, n, &got);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= SECONDS)
			atomic_store(&stop, 1);
	} while (!atomic_load(&stop) && !t_failures);
	atomic_store(&stop, 1);
	pthread_join(th, NULL);
	if (t_failures)
		return t_done();	/* the ring's count cannot be trusted now */
	while (got < (unsigned long long)atomic_load(&posted)) {
		int n = uaio_getevents(ctx, 1, NR, ev, NULL);

		REQUIRE(n > 0);
		account(ev, n, &got);
	}
	CHECK_EQ(got, atomic_load(&posted));
	CHECK(got > 0);
	uaio_destroy(ctx);
	close(fd);
	free(seen);
	return t_done();
}
