/* SPDX-License-Identifier: MIT */
/* util.c - futex, environment and thread-attribute helpers. */
#include "internal.h"
#include <errno.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

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
