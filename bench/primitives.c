/* SPDX-License-Identifier: MIT */
/*
 * primitives.c - the price, on this machine, of the synchronization
 * primitives every uaio_submit and uaio_getevents call pays on its inline
 * path (issue 14): a relaxed atomic add (a statistic, a count), an
 * uncontended mutex lock/unlock pair (the ring's post lock), an
 * uncontended read lock/unlock pair of a pthread_rwlock (the handle
 * table's, ctx_get) and a pthread_setcancelstate disable/restore pair
 * (each public call runs with cancellation off).  One thread, no
 * contention: the floor of each, not its worst case.  Prints the median
 * of 5 rounds in ns per operation or pair.
 *
 *   cc -O2 -o build/primitives bench/primitives.c -lpthread
 *   build/primitives
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ROUNDS 5

static _Atomic unsigned long counter;
static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void do_atomic(long n)
{
	for (long i = 0; i < n; i++)	/* relaxed: only the instruction's cost is wanted */
		atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
}

static void do_mutex(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_mutex_lock(&mutex);
		pthread_mutex_unlock(&mutex);
	}
}

static void do_rwlock(long n)
{
	for (long i = 0; i < n; i++) {
		pthread_rwlock_rdlock(&rwlock);
		pthread_rwlock_unlock(&rwlock);
	}
}

static void do_cancelstate(long n)
{
	for (long i = 0; i < n; i++) {
		int old;

		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		pthread_setcancelstate(old, &old);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void measure(const char *name, void (*fn)(long), long n)
{
	double r[ROUNDS];

	for (int k = 0; k < ROUNDS; k++) {
		double t0 = now_ns();

		fn(n);
		r[k] = (now_ns() - t0) / (double)n;
	}
	qsort(r, ROUNDS, sizeof(r[0]), cmp_double);
	printf("%-32s %6.1f ns  (min %.1f, max %.1f)\n", name, r[ROUNDS / 2], r[0], r[ROUNDS - 1]);
}

int main(void)
{
	measure("atomic add (lock add)", do_atomic, 20000000);
	measure("mutex lock+unlock", do_mutex, 5000000);
	measure("rwlock rdlock+unlock", do_rwlock, 5000000);
	measure("setcancelstate off+restore", do_cancelstate, 5000000);
	return 0;
}
