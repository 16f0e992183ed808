/* SPDX-License-Identifier: MIT */
/* util.c - futex, clock, environment, thread-attribute helpers, and the
 * kernel's AIO completion ring read in user space. */
#include "internal.h"
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KAIO_RING_MAGIC 0xa10a10a1u

bool kring_readable(aio_context_t c)
{
	const struct kaio_ring *r = (const struct kaio_ring *)(uintptr_t)c;

	return r->magic == KAIO_RING_MAGIC && r->incompat_features == 0 &&
	       r->header_length == sizeof(struct kaio_ring);
}

int kring_reap(aio_context_t c, struct io_event *ev, int max)
{
	struct kaio_ring *r = (struct kaio_ring *)(uintptr_t)c;
	unsigned head, tail;
	int n = 0;

	/* relaxed: only the one reader moves head; acquire on tail: the kernel
	 * wrote the events (and the buffers they read into) before it moved
	 * tail. */
	head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	while (head != tail && n < max) {
		ev[n++] = r->ev[head];
		head = head + 1 >= r->nr ? 0 : head + 1;
	}
	/* release: the events are copied before the kernel may reuse their slots. */
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
	return n;
}

/* CLOCK_MONOTONIC_COARSE in ms: the vDSO, no system call. */
long mono_coarse_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Sleeps while *w == val until woken or the absolute CLOCK_MONOTONIC time.
 * A deadline is always passed, so a signal with a handler ends the wait
 * with EINTR even under SA_RESTART (the kernel restarts only untimed
 * futex waits).  Returns 0 or -errno. */
long futex_wait_abs(_Atomic uint32_t *w, uint32_t val, const struct timespec *abs_mono, bool priv)
{
	int op = FUTEX_WAIT_BITSET | (priv ? FUTEX_PRIVATE_FLAG : 0);
	long r = syscall(SYS_futex, w, op, val, abs_mono, NULL, FUTEX_BITSET_MATCH_ANY);
	return r < 0 ? -errno : 0;
}

void futex_wake(_Atomic uint32_t *w, int n, bool priv)
{
	syscall(SYS_futex, w, FUTEX_WAKE | (priv ? FUTEX_PRIVATE_FLAG : 0), n, NULL, NULL, 0);
}

long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return dflt;
	v = strtol(s, &end, 0);
	return *end ? dflt : v;
}

/* uaio's threads block every signal: the program's handlers must run on
 * the program's own threads only. */
void thread_block_signals_attr(pthread_attr_t *attr)
{
	sigset_t all;

	sigfillset(&all);
	pthread_attr_setsigmask_np(attr, &all);
}
