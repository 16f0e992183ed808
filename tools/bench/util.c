/* SPDX-License-Identifier: MIT */
/* util.c - uaio-bench's error exits, clocks, random data and memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

/* Files this run created and has not finished writing: removed on an error exit. */
static const char *created_paths[64];
static unsigned ncreated;

void remember_created(const char *path)
{
	created_paths[ncreated++] = path;
}

/* The files are complete: they stay, whatever happens later. */
void forget_created(void)
{
	ncreated = 0;
}

static void remove_created(void)
{
	for (unsigned i = 0; i < ncreated; i++)
		if (created_paths[i])
			unlink(created_paths[i]);
	ncreated = 0;
}

void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_created();
	exit(2);
}

void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("\r" PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_created();
	exit(1);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Process CPU time (every thread: uaio's, glibc's and io_uring's workers count). */
struct cpu cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (struct cpu){
		(uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec,
		(uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec,
	};
}

/* xorshift64*: cheap, and fixed-seeded so runs are repeatable. */
uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = xorshift(&seed) | 1;	/* non-zero: no sparse-file or zero-page shortcuts */
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

void *xmalloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	if (!p)
		fatal("out of memory (%zu bytes)", len);
	return p;
}

void *xmemalign(size_t len)
{
	void *p = NULL;

	/* 4096: O_DIRECT needs buffers aligned to the logical block size. */
	if (posix_memalign(&p, 4096, len))
		fatal("out of memory (%zu bytes)", len);
	return p;
}

/* "1 GiB", "4 KiB" when exact, else bytes. */
const char *fmt_size(char *buf, size_t n, uint64_t v)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (int i = 0; i < 4; i++) {
		unsigned shift = 40 - 10 * (unsigned)i;
		if (v >= (1ull << shift) && v % (1ull << shift) == 0) {
			snprintf(buf, n, "%llu %s", (unsigned long long)(v >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, n, "%llu bytes", (unsigned long long)v);
	return buf;
}

/* Process CPU ns per request between two cpu_now() readings. */
double cpu_ns_per(struct cpu c0, struct cpu c1, uint64_t n)
{
	return (double)((c1.usr_us - c0.usr_us) + (c1.sys_us - c0.sys_us)) * 1000 / (double)n;
}

/* Raw system calls return -1/errno; make them -errno like uaio's calls. */
int sys_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}
