/* SPEC §2 cancel (every submitted iocb yields exactly one event): a program's own RWF_NOWAIT O_DIRECT write that the kernel refuses (-EAGAIN: it extends the file), cancelled again and again while another thread reaps, gets one event: -ECANCELED when a cancel answered -EINPROGRESS, else the write's own answer, never both.  The io_uring executor once posted both when a cancel came while the kernel's -EAGAIN was being handed on (found by the fuzzer).  Repeated, since the race needs the cancel to land in a short window: a pass cannot prove the window closed; a failure is always a real double event. */
#include "t.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#define BS 4096
#define ROUNDS 2000
#define TRIES 2000	/* cancels per round at most */

static aio_context_t ctx;
static struct iocb cbs[ROUNDS];
static _Atomic int events[ROUNDS];	/* events seen per round */
static long long results[ROUNDS];	/* the first event's res */
static _Atomic int stop;

static void *reaper(void *arg)
{
	(void)arg;
	/* acquire: pairs with main's release store after its last round */
	while (!atomic_load_explicit(&stop, memory_order_acquire)) {
		struct io_event ev[4];
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		int n = uaio_getevents(ctx, 1, 4, ev, &ts);

		if (n < 0) {
			t_fail("getevents answered %d", n);
			break;
		}
		for (int k = 0; k < n; k++) {
			uint64_t i = ev[k].data;

			if (i >= ROUNDS || ev[k].obj != (uint64_t)(uintptr_t)&cbs[i]) {
				t_fail("event data %llu obj %#llx for no request of ours",
				       (unsigned long long)i, (unsigned long long)ev[k].obj);
				continue;
			}
			if (atomic_load_explicit(&events[i], memory_order_relaxed) == 0)
				results[i] = ev[k].res;
			else
				t_fail("round %llu: a second event, res %lld (the first: %lld)",
				       (unsigned long long)i, (long long)ev[k].res, results[i]);
			/* release: results[i] is written before main sees the count */
			atomic_fetch_add_explicit(&events[i], 1, memory_order_release);
		}
	}
	return NULL;
}

int main(void)
{
	unsigned char *buf;
	int fd, dfd, cancelled = 0, refused = 0;
	bool won[ROUNDS] = { false };
	pthread_t t;
	char p[64];

	fd = t_tmpfile(BS, 0);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	dfd = open(p, O_RDWR | O_DIRECT);
	close(fd);
	if (dfd < 0)
		t_skip("no O_DIRECT on this file system");
	REQUIRE(posix_memalign((void **)&buf, BS, BS) == 0);
	memset(buf, 0x5a, BS);
	REQUIRE(t_setup(8, &ctx) == 0);
	REQUIRE(pthread_create(&t, NULL, reaper, NULL) == 0);
	for (int i = 0; i < ROUNDS && !t_failures; i++) {
		struct iocb *v = &cbs[i];
		struct io_event res;
		int c = -EAGAIN;

		/* Past the end, further each round: the kernel refuses to extend
		 * a file without blocking. */
		uaio_prep_pwrite(&cbs[i], dfd, buf, BS, (long long)(64 + i) * BS);
		cbs[i].aio_rw_flags = RWF_NOWAIT;
		cbs[i].aio_data = (uint64_t)i;
		REQUIRE(uaio_submit(ctx, 1, &v) == 1);
		/* -EAGAIN: started, or the kernel's verdict refused; try again
		 * until it is cancelled or has completed (-EINVAL) */
		for (int k = 0; k < TRIES && c == -EAGAIN; k++)
			c = uaio_cancel(ctx, &cbs[i], &res);
		CHECK(c == -EINPROGRESS || c == -EAGAIN || c == -EINVAL);
		won[i] = c == -EINPROGRESS;
		/* acquire: pairs with the reaper's release */
		while (atomic_load_explicit(&events[i], memory_order_acquire) == 0 && !t_failures)
			sched_yield();
	}
	{
		/* the last rounds' late doubles, if any, reach the reaper */
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	/* release: pairs with the reaper's acquire */
	atomic_store_explicit(&stop, 1, memory_order_release);
	REQUIRE(pthread_join(t, NULL) == 0);
	for (int i = 0; i < ROUNDS && !t_failures; i++) {
		CHECK_EQ(atomic_load(&events[i]), 1);
		if (won[i]) {
			CHECK_EQ(results[i], -ECANCELED);
			cancelled++;
		} else {
			/* -EAGAIN from the kernel, or written where the file
			 * system can extend without blocking */
			CHECK(results[i] == -EAGAIN || results[i] == BS);
			refused += results[i] == -EAGAIN;
		}
	}
	printf("%d rounds on %s: %d cancelled, %d refused by the kernel\n", ROUNDS, t_executor(),
	       cancelled, refused);
	REQUIRE(uaio_destroy(ctx) == 0);
	close(dfd);
	free(buf);
	return t_done();
}
