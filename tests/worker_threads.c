/* SPEC §2/§3 threads: uaio's own threads are named (uaio-worker, uaio-poller, uaio-uring) and block every signal; the pool grows past one worker under a queue of blocking work and shrinks back to none when idle (UAIO_IDLE_MS). */
#include "t.h"
#include <dirent.h>
#include <poll.h>

#if defined(__SANITIZE_THREAD__)
#define SAN_THREADS 1	/* TSan's background thread */
#else
#define SAN_THREADS 0
#endif

#define NR 64
#define RS 65536
#define FSZ (32u << 20)

static void msleep(long ms)
{
	struct timespec s = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&s, NULL);
}

static unsigned long long live_workers(void)
{
	struct uaio_stats st;

	REQUIRE(uaio_stats(0, &st) == 0);
	return st.workers;
}

/* Counts tasks named `name`; for each, checks that it blocks every
 * signal a program can catch. */
static int scan_tasks(const char *name, int *unblocked)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d))) {
		char path[300], comm[64], line[256];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;	/* exited meanwhile */
		comm[0] = 0;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
		comm[strcspn(comm, "\n")] = 0;
		if (strcmp(comm, name) != 0)
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long m;

			if (sscanf(line, "SigBlk: %llx", &m) == 1) {
				for (int sig = 1; sig <= 64; sig++) {
					/* SIGKILL and SIGSTOP cannot be blocked; 32 and 33
					 * are glibc's own (cancel, setxid) */
					if (sig == SIGKILL || sig == SIGSTOP || sig == 32 || sig == 33)
						continue;
					if (!(m & (1ULL << (sig - 1)))) {
						fprintf(stderr, "%s task %s: signal %d not blocked (SigBlk %llx)\n",
							name, e->d_name, sig, m);
						(*unblocked)++;
						break;
					}
				}
			}
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static void cold_batch(aio_context_t ctx, int fd, unsigned seed, unsigned long long *peak,
		       int *named_max, int *unblocked)
{
	static unsigned char bufs[NR][RS];
	struct iocb cbs[NR], *v[NR];
	struct io_event ev[NR];
	int got = 0;

	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	for (int i = 0; i < NR; i++) {
		uaio_prep_pread(&cbs[i], fd, bufs[i], RS,
				(long long)((i * 131u + seed) % (FSZ / RS)) * RS);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(uaio_submit(ctx, NR, v), NR);
	while (got < NR) {
		struct timespec ts = { 0, 2000000 };
		int r = uaio_getevents(ctx, 0, NR, ev, &ts);
		unsigned long long w = live_workers();

		REQUIRE(r >= 0);
		if (w > *peak)
			*peak = w;
		for (int j = 0; j < r; j++) {
			int i = (int)ev[j].data;

			CHECK_EQ(ev[j].res, RS);
			CHECK_EQ(bufs[i][9], t_pattern((uint64_t)cbs[i].aio_offset + 9));
		}
		got += r;
	}
	/* the workers are still there (idle for less than 200 ms, most likely) */
	{
		int n = scan_tasks("uaio-worker", unblocked);

		if (n > *named_max)
			*named_max = n;
	}
}

/* The io_uring executor has no pool: its one thread, uaio-uring, must be
 * named and block every signal; the pool's growth is not its business. */
static int uring_thread(aio_context_t ctx, int fd)
{
	unsigned long long peak = 0;
	int named = 0, unblocked = 0, n;

	cold_batch(ctx, fd, 0, &peak, &named, &unblocked);
	n = scan_tasks("uaio-uring", &unblocked);
	CHECK_EQ(n, 1);
	CHECK_EQ(unblocked, 0);
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(scan_tasks("uaio-uring", &unblocked), 0);	/* gone with the last context */
	close(fd);
	if (t_failures)
		return t_done();
	t_skip("worker pool growth is the threads executor's (uaio-uring thread checked)");
	return T_SKIP;
}

int main(void)
{
	aio_context_t ctx = 0;
	unsigned long long peak = 0;
	int fd, named = 0, unblocked = 0, p[2];

	setenv("UAIO_IDLE_MS", "200", 1);	/* before the first uaio call */
	fd = t_tmpfile(FSZ, 0);
	REQUIRE(fsync(fd) == 0);
	REQUIRE(t_setup(NR, &ctx) == 0);
	if (!strcmp(uaio_executor_name(ctx), "uring"))
		return uring_thread(ctx, fd);
	CHECK_EQ(live_workers(), 0);	/* nothing started before there is work */

	cold_batch(ctx, fd, 0, &peak, &named, &unblocked);
	fprintf(stderr, "peak workers %llu, named uaio-worker tasks seen %d\n", peak, named);
	CHECK(peak > 1);
	CHECK(named >= 1);
	CHECK(named <= (int)peak);

	/* the poller thread too (a pending pipe read puts it to work) */
	REQUIRE(pipe(p) == 0);
	{
		struct iocb cb, *v = &cb;
		struct io_event ev;
		char c;

		uaio_prep_pread(&cb, p[0], &c, 1, 0);
		CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
		msleep(20);
		{
			/* named threads only: every thread is the main one, a
			 * uaio-worker or the uaio-poller (retried: workers may be
			 * exiting while we count) */
			int ok = 0, a = 0, n = 0, w = 0;

			for (int k = 0; k < 50 && !ok; k++) {
				a = t_thread_count();
				n = scan_tasks("uaio-poller", &unblocked);
				w = scan_tasks("uaio-worker", &unblocked);
				ok = a == t_thread_count() && a == 1 + n + w + SAN_THREADS;
			}
			if (!ok)
				t_fail("%d threads: 1 main + %d uaio-poller + %d uaio-worker", a, n, w);
			CHECK(n <= 1);
		}
		REQUIRE(write(p[1], "q", 1) == 1);
		CHECK_EQ(t_wait1(&t_uaio, ctx, &ev), 1);
		CHECK_EQ(ev.res, 1);
	}
	CHECK_EQ(unblocked, 0);

	/* idle: back to no workers (the 200 ms idle time, with a 5 s net) */
	for (int i = 0; i < 500 && live_workers() != 0; i++)
		msleep(10);
	CHECK_EQ(live_workers(), 0);
	for (int i = 0; i < 100 && scan_tasks("uaio-worker", &unblocked) != 0; i++)
		msleep(10);
	CHECK_EQ(scan_tasks("uaio-worker", &unblocked), 0);

	/* and it grows again when needed */
	peak = 0;
	named = 0;
	cold_batch(ctx, fd, 7, &peak, &named, &unblocked);
	CHECK(peak >= 1);
	CHECK_EQ(unblocked, 0);

	CHECK_EQ(uaio_destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
	close(fd);
	return t_done();
}
