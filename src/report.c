/* SPDX-License-Identifier: MIT */
/* report.c - UAIO_REPORT=FILE: when the process exits, append one line
 * with its uaio statistics and the executors its contexts used to FILE.
 * `uaio-run -v` sets it and sums, over every process it started, the
 * last line each one wrote. */
#include "internal.h"
#include <fcntl.h>
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

/* Writes the process's totals so far.  Called after each destroy (a
 * process that ends with _exit(), as fio's job processes do, has usually
 * destroyed its contexts first) and at exit; the reader keeps the last
 * line of each pid. */
void report_write(void)
{
	const char *path = getenv("UAIO_REPORT");
	struct uaio_stats st;
	char line[512], names[64] = "";
	int fd, len;

	if (!path || !*path || uaio_stats(0, &st) < 0)
		return;
	for (int i = 0; i < MAX_EXEC; i++) {
		const char *n = atomic_load_explicit(&used[i], memory_order_acquire);

		if (n)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? "," : "", n);
	}
	len = snprintf(line, sizeof(line),
		       "uaio pid=%d setups=%llu executors=%s submitted=%llu completed=%llu "
		       "inline=%llu offloaded=%llu polled=%llu cancelled=%llu\n",
		       (int)getpid(), atomic_load_explicit(&setups, memory_order_relaxed),
		       names[0] ? names : "-", st.submitted, st.completed, st.inline_done,
		       st.offloaded, st.polled, st.cancelled);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)len) < 0) {
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
