/* SPDX-License-Identifier: MIT */
/*
 * stats_cost.c - what uaio's statistics cost, measured in pairs: two
 * contexts in one process, one with the latency histogram (flags 0) and
 * one without (UAIO_F_NOSTATS), take turns in 5 ms slices, so that a
 * loaded machine slows both alike.  Prints, per context, the median and
 * 10th percentile of the slices' ns per request, and the median of the
 * per-round ratios (stats on / off).
 *
 *   cc -O2 -Iinclude -o build/stats_cost bench/stats_cost.c build/libuaio.a -luring -lpthread
 *   EXECUTOR=threads build/stats_cost read0 1 300
 *
 * op: read0 (0-byte reads: completed inline, as uaio-bench --cost) or
 * fsync (fsync of a tmpfs file: always handed to the executor, so every
 * request is timed).  batch: requests per submit and per reap (1-64).
 */
#include "uaio.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLICE_NS 5000000ull

static unsigned long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000000000ull + (unsigned long long)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double quantile(double *v, int n, double q)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[(int)(q * (n - 1))];
}

/* One slice on ctx: ns per request. */
static double slice(aio_context_t ctx, struct iocb **v, int batch)
{
	struct io_event ev[64];
	unsigned long long t0 = now_ns(), t, n = 0;

	do {
		int got = 0;

		if (uaio_submit(ctx, batch, v) != batch)
			exit(4);
		while (got < batch) {
			int r = uaio_getevents(ctx, batch - got, batch, ev, NULL);

			if (r < 0)
				exit(5);
			got += r;
		}
		n += (unsigned)batch;
		t = now_ns();
	} while (t - t0 < SLICE_NS);
	return (double)(t - t0) / (double)n;
}

int main(int argc, char **argv)
{
	static char buf[16];
	const char *op = argc > 1 ? argv[1] : "read0";
	int batch = argc > 2 ? atoi(argv[2]) : 1, rounds = argc > 3 ? atoi(argv[3]) : 300;
	char path[] = "/dev/shm/uaio-stats-cost.XXXXXX";
	aio_context_t ctx[2] = { 0, 0 };
	struct uaio_params p;
	struct iocb cb[64], *v[64];
	double *on, *off, *ratio;
	int fd;

	if (batch < 1 || batch > 64 || rounds < 10)
		return 2;
	fd = mkstemp(path);
	if (fd < 0 || unlink(path) < 0 || write(fd, "x", 1) != 1)
		return 3;
	memset(&p, 0, sizeof(p));
	p.executor = getenv("EXECUTOR");
	if (uaio_setup_params(128, &p, &ctx[0]) < 0)
		return 3;
	p.flags = UAIO_F_NOSTATS;
	if (uaio_setup_params(128, &p, &ctx[1]) < 0)
		return 3;
	for (int i = 0; i < batch; i++) {
		if (!strcmp(op, "fsync"))
			uaio_prep_fsync(&cb[i], fd);
		else
			uaio_prep_pread(&cb[i], fd, buf, 0, 0);
		v[i] = &cb[i];
	}
	on = malloc(sizeof(double) * (size_t)rounds);
	off = malloc(sizeof(double) * (size_t)rounds);
	ratio = malloc(sizeof(double) * (size_t)rounds);
	if (!on || !off || !ratio)
		return 3;
	for (int r = -rounds / 10; r < rounds; r++) {	/* a tenth for warm-up */
		double a, b;

		if (r & 1) {	/* alternate which goes first */
			b = slice(ctx[1], v, batch);
			a = slice(ctx[0], v, batch);
		} else {
			a = slice(ctx[0], v, batch);
			b = slice(ctx[1], v, batch);
		}
		if (r < 0)
			continue;
		on[r] = a;
		off[r] = b;
		ratio[r] = a / b;
	}
	printf("%s %s batch %d, %d rounds: stats on median %.0f p10 %.0f ns/req | off median %.0f p10 %.0f | on/off median ratio %.4f\n",
	       uaio_executor_name(ctx[0]), op, batch, rounds, quantile(on, rounds, .5), quantile(on, rounds, .1),
	       quantile(off, rounds, .5), quantile(off, rounds, .1), quantile(ratio, rounds, .5));
	uaio_destroy(ctx[0]);
	uaio_destroy(ctx[1]);
	free(on);
	free(off);
	free(ratio);
	return 0;
}
