/* SPDX-License-Identifier: MIT */
/*
 * write_roundtrip.c - the synchronous round trip of small buffered writes
 * (issue 12): N writes of 256 bytes, each submitted alone and reaped with
 * getevents(min_nr 0, nr 1, 30 s), the pattern of libaio's own test
 * programs.  Runs the kernel's AIO and uaio on each executor (and uaio
 * with every buffered write offloaded, UAIO_F_ASYNC_WRITES) in turns of
 * N/10 writes, so that a loaded machine slows all of them alike, and
 * prints seconds, microseconds per round trip and the ratio to the kernel.
 *
 *   cc -O2 -Iinclude -o build/write_roundtrip bench/write_roundtrip.c build/libuaio.a -luring -lpthread
 *   build/write_roundtrip [N]        (default 1000000)
 */
#include "uaio.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct engine {
	const char *name;
	const char *executor;	/* NULL: the kernel */
	unsigned flags;
	aio_context_t ctx;
	int fd;
	long long off, bad;
	double secs;
};

static int submit(struct engine *e, struct iocb **v)
{
	if (!e->executor)
		return (int)syscall(SYS_io_submit, e->ctx, 1L, v);
	return uaio_submit(e->ctx, 1, v);
}

static int reap(struct engine *e, struct io_event *ev)
{
	struct timespec ts = { 30, 0 };
	long r;

	if (!e->executor) {
		r = syscall(SYS_io_getevents, e->ctx, 0L, 1L, ev, &ts);
		return r < 0 ? -errno : (int)r;
	}
	return uaio_getevents(e->ctx, 0, 1, ev, &ts);
}

static void run(struct engine *e, long n)
{
	static char buf[256];
	struct iocb cb, *v = &cb;
	struct io_event ev;
	double t0 = now();

	for (long i = 0; i < n; i++) {
		memset(&cb, 0, sizeof(cb));
		cb.aio_lio_opcode = IOCB_CMD_PWRITE;
		cb.aio_fildes = (uint32_t)e->fd;
		cb.aio_buf = (uint64_t)(uintptr_t)buf;
		cb.aio_nbytes = sizeof(buf);
		cb.aio_offset = e->off;
		e->off = (e->off + (long long)sizeof(buf)) % (64 << 20);
		if (submit(e, &v) != 1) {
			e->bad++;
			continue;
		}
		if (reap(e, &ev) != 1) {	/* not there at once: the round trip failed */
			struct timespec ts = { 30, 0 };

			e->bad++;
			if (!e->executor)
				syscall(SYS_io_getevents, e->ctx, 1L, 1L, &ev, &ts);
			else
				uaio_getevents(e->ctx, 1, 1, &ev, &ts);
		}
	}
	e->secs += now() - t0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct engine es[] = {
		{ "kernel AIO", NULL, 0, 0, -1, 0, 0, 0 },
		{ "uaio threads", "threads", 0, 0, -1, 0, 0, 0 },
		{ "uaio uring", "uring", 0, 0, -1, 0, 0, 0 },
		{ "uaio threads, writes offloaded", "threads", UAIO_F_ASYNC_WRITES, 0, -1, 0, 0, 0 },
		{ "uaio uring, writes offloaded", "uring", UAIO_F_ASYNC_WRITES, 0, -1, 0, 0, 0 },
	};
	int ne = (int)(sizeof(es) / sizeof(es[0]));
	const char *d = getenv("TMPDIR");
	char path[4096];

	if (n < 10)
		n = 10;
	for (int i = 0; i < ne; i++) {
		struct engine *e = &es[i];
		int r;

		snprintf(path, sizeof(path), "%s/uaio-roundtrip-XXXXXX", d && *d ? d : "/var/tmp");
		e->fd = mkstemp(path);
		if (e->fd < 0) {
			perror("mkstemp");
			return 1;
		}
		unlink(path);
		if (!e->executor) {
			r = syscall(SYS_io_setup, 8, &e->ctx) < 0 ? -errno : 0;
		} else {
			struct uaio_params p;

			memset(&p, 0, sizeof(p));
			p.executor = e->executor;
			p.flags = e->flags;
			r = uaio_setup_params(8, &p, &e->ctx);
		}
		if (r < 0) {
			fprintf(stderr, "%s: setup: %s (left out)\n", e->name, strerror(-r));
			e->ctx = 0;
		}
	}
	for (int round = 0; round < 10; round++)
		for (int i = 0; i < ne; i++)
			if (es[i].ctx)
				run(&es[i], n / 10);
	printf("# %ld buffered 256-byte writes, each submitted alone and reaped with getevents(min_nr 0)\n", n);
	printf("%-32s %10s %12s %10s %12s\n", "engine", "seconds", "us/write", "x kernel", "not at once");
	for (int i = 0; i < ne; i++) {
		struct engine *e = &es[i];

		if (!e->ctx)
			continue;
		printf("%-32s %10.2f %12.2f %10.2f %12lld\n", e->name, e->secs, e->secs * 1e6 / (double)n,
		       es[0].ctx ? e->secs / es[0].secs : 0.0, e->bad);
		if (!e->executor)
			syscall(SYS_io_destroy, e->ctx);
		else
			uaio_destroy(e->ctx);
		close(e->fd);
	}
	return 0;
}
