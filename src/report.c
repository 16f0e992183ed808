/* SPDX-License-Identifier: MIT */
/* report.c - UAIO_REPORT=FILE: when the process exits, append one line
 * with its uaio statistics and the executors its contexts used to FILE.
 * `uaio-run -v` sets it and sums, over every process it started, the
 * last line each one wrote: counters as key=value, then errno=NAME:count,...
 * and lat=bucket:count,... for the non-zero entries of the arrays. */
#include "internal.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_EXEC 4

/* Executor names seen by setup: each slot is claimed once (CAS), read at
 * exit; acq_rel/acquire so the reader sees the name the claimer stored. */
static _Atomic(const char *) used[MAX_EXEC];
static _Atomic unsigned long long setups;	/* relaxed: a statistic */

void report_setup(const char *exec_name)
{
	atomic_fetch_add_explicit(&setups, 1, memory_order_relaxed); /* statistic */
	for (int i = 0; i < MAX_EXEC; i++) {
		const char *cur = atomic_load_explicit(&used[i], memory_order_acquire);

		if (cur == exec_name)
			return;
		if (!cur && atomic_compare_exchange_strong_explicit(&used[i], &cur, exec_name,
				memory_order_acq_rel, memory_order_acquire))
			return;
		if (cur == exec_name)
			return;
	}
}

void report_atfork_child(void)
{
	for (int i = 0; i < MAX_EXEC; i++)
		atomic_store_explicit(&used[i], NULL, memory_order_relaxed); /* single thread now */
	atomic_store_explicit(&setups, 0, memory_order_relaxed);
}

/* Appends printf output to buf[*len..size), keeping it terminated. */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	*len = n < 0 ? *len : *len + (size_t)n < size ? *len + (size_t)n : size - 1;	/* truncated */
}

/* " errno=EBADF:2,EFAULT:1" (other: res below -UAIO_STATS_ERRNOS) and
 * " lat=0:10,17:4" (bucket index: count, non-empty buckets only). */
static void put_arrays(char *buf, size_t size, size_t *len, const struct uaio_stats *st)
{
	const char *sep = " errno=";

	for (int e = 0; e < UAIO_STATS_ERRNOS; e++) {
		const char *name = e ? strerrorname_np(e) : "other";

		if (!st->errno_count[e])
			continue;
		if (name)
			put(buf, size, len, "%s%s:%llu", sep, name, st->errno_count[e]);
		else
			put(buf, size, len, "%serrno%d:%llu", sep, e, st->errno_count[e]);
		sep = ",";
	}
	sep = " lat=";
	for (int i = 0; i < UAIO_STATS_BUCKETS; i++) {
		if (!st->lat_bucket[i])
			continue;
		put(buf, size, len, "%s%d:%llu", sep, i, st->lat_bucket[i]);
		sep = ",";
	}
}

/* Writes the process's totals so far.  Called after each destroy (a
 * process that ends with _exit(), as fio's job processes do, has usually
 * destroyed its contexts first) and at exit; the reader keeps the last
 * line of each pid. */
void report_write(void)
{
	const char *path = config_report();
	struct uaio_stats st;
	char line[16384], names[64] = "";
	size_t len = 0;
	int fd;

	if (!path || !*path || uaio_stats(0, &st) < 0)
		return;
	for (int i = 0; i < MAX_EXEC; i++) {
		const char *n = atomic_load_explicit(&used[i], memory_order_acquire);

		if (n)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? "," : "", n);
	}
	put(line, sizeof(line), &len,
	    "uaio pid=%d setups=%llu executors=%s submitted=%llu completed=%llu "
	    "inline=%llu offloaded=%llu polled=%llu cancelled=%llu errors=%llu in_flight=%llu "
	    "peak_in_flight=%llu lat_count=%llu lat_sum_ns=%llu",
	    (int)getpid(), atomic_load_explicit(&setups, memory_order_relaxed),
	    names[0] ? names : "-", st.submitted, st.completed, st.inline_done,
	    st.offloaded, st.polled, st.cancelled, st.errors, st.in_flight,
	    st.peak_in_flight, st.lat_count, st.lat_sum_ns);
	put_arrays(line, sizeof(line) - 1, &len, &st);
	line[len++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, line, len) < 0) {
		/* nothing to do: the report is best effort */
	}
	close(fd);
}

/* Runs from _dl_fini, after the exit-time drain (an atexit handler
 * registered later than the loader's), so the counts are final. */
__attribute__((destructor)) static void report_at_exit(void)
{
	report_write();
}
