/* SPDX-License-Identifier: MIT */
/* process.c - what uaio does once per process.  The first setup reads
 * the configuration and registers the fork handlers and the exit-time
 * drain; those handlers act on every module, so this file sits at the
 * top of the layers (below only the entry points). */
#include "arena.h"
#include "check.h"
#include "internal.h"
#include "trace.h"
#include <stdlib.h>

/* exit(): finish what is in flight, as the kernel's exit_aio does.  Waits
 * for requests on the pool; requests waiting for readiness (pipes, POLL)
 * could wait for ever and are cancelled. */
_Atomic int g_exiting;

static void at_exit_drain(void)
{
	struct uaio_ctx **all;
	size_t n;

	/* relaxed: workers poll it every slice. */
	atomic_store_explicit(&g_exiting, 1, memory_order_relaxed);
	all = table_hold_all(&n);
	for (size_t i = 0; i < n; i++) {
		ctx_drain(all[i]);
		ctx_put(all[i]);
	}
	free(all);
}

/* The table lock is not held across fork: the child drops the table and
 * the arena's state without reading them (orphaned), and a rwlock cannot
 * be unlocked by the child (glibc ties a writer to its thread id, which
 * fork changes), so it is written afresh there. */
static void atfork_prepare(void)
{
	exec_atfork_prepare();	/* the executors, then the poller */
	fref_atfork_prepare();
	events_atfork_prepare();
	trace_atfork_prepare();	/* last: its lock is taken last */
}

static void atfork_parent(void)
{
	trace_atfork_parent();
	events_atfork_parent();
	fref_atfork_parent();
	exec_atfork_parent();
}

/* The child inherits no ring (MADV_DONTFORK) and no uaio thread: it forgets
 * every context, so their handles answer -EINVAL, and starts afresh.  The
 * old contexts' memory stays allocated (other threads of the parent may
 * have held their locks; nothing in the child may touch them). */
static void atfork_child(void)
{
	table_atfork_child();
	ctx_atfork_child();
	events_atfork_child();
	arena_atfork_child();
	ua_atfork_child();
	report_atfork_child();
	stats_atfork_child();
	exec_atfork_child();
	fref_atfork_child();
	nowait_atfork_child();
	trace_atfork_child();
	check_atfork_child();
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	const struct config *cfg = config();

	g_stats_default = cfg->stats;
	exec_set_limits(&(struct exec_limits){ .threads = cfg->threads });
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	trace_init();	/* its exit handler runs after the drain's */
	check_init(cfg->check);	/* its summary at exit comes after the drain */
	atexit(at_exit_drain);
}

/* At each setup: the first one starts the process's machinery. */
void process_init(void)
{
	pthread_once(&once, global_init);
}
