/* SPDX-License-Identifier: MIT */
/* config.c - the process's settings from the environment.  Every UAIO_*
 * variable the library reads is read here, each at the time it always
 * was: programs (and the tests) set some of them between calls.
 *
 *   at the first setup, once: UAIO_MAX_NR, UAIO_NOCHECK, UAIO_STATS,
 *	UAIO_ASYNC_WRITES, UAIO_THREADS, UAIO_CHECK (struct config, config())
 *   at first use, once: UAIO_SPIN_US (the first of getevents' spin and
 *	the pool's start), UAIO_IDLE_MS (the pool's start), UAIO_TRACE and
 *	UAIO_TRACE_DETAIL (the first setup, from trace_init)
 *   at each use: UAIO_EXECUTOR and UAIO_FAULTS (each setup that names
 *	none), UAIO_FAULTS_VERBOSE (each refused fault spec), UAIO_REPORT
 *	(each report line), UAIO_UACCESS (read once, by uaccess.c's once)
 *
 * This file calls nothing of uaio's: it sits at the bottom of the layers. */
#include "internal.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct config cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;
static long spin_ns, idle_ms;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT, idle_once = PTHREAD_ONCE_INIT;
static char trace_path[PATH_MAX];	/* a copy: the program may change its environment */
static bool trace_detail;
static pthread_once_t trace_once = PTHREAD_ONCE_INIT;

/* UAIO_CHECK: unset, "" or "0": off; else a comma-separated list of
 * "1" (report and go on), "halt" (abort at the first finding) and
 * "buffers" (also checksum writes); any of them turns checking on.  An
 * unknown word turns it on too: a misspelt request to check still checks. */
static unsigned check_level(const char *v)
{
	char buf[64], *save = NULL;
	unsigned lvl = 0;

	if (!v || !*v || !strcmp(v, "0"))
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		lvl |= CHECK_ON;
		if (!strcmp(w, "halt"))
			lvl |= CHECK_HALT;
		else if (!strcmp(w, "buffers"))
			lvl |= CHECK_BUFFERS;
	}
	return lvl ? lvl : CHECK_ON;
}

static void cfg_read(void)
{
	cfg.max_nr = (unsigned long)env_long("UAIO_MAX_NR", 65536);
	cfg.checks = env_long("UAIO_NOCHECK", 0) == 0;
	cfg.stats = env_long("UAIO_STATS", 1) != 0;
	cfg.async_writes = env_long("UAIO_ASYNC_WRITES", 0) != 0;
	cfg.threads = (unsigned)env_long("UAIO_THREADS", 0);
	cfg.check = check_level(getenv("UAIO_CHECK"));
}

/* Read at the first call (the process's first setup), then fixed. */
const struct config *config(void)
{
	pthread_once(&cfg_once, cfg_read);
	return &cfg;
}

static void spin_read(void) { spin_ns = env_long("UAIO_SPIN_US", 30) * 1000; }
static void idle_read(void) { idle_ms = env_long("UAIO_IDLE_MS", 2000); }

/* How long a reaper or an idle worker spins for work, in ns. */
long config_spin_ns(void)
{
	pthread_once(&spin_once, spin_read);
	return spin_ns;
}

/* How long an idle worker waits before it exits, in ms. */
long config_idle_ms(void)
{
	pthread_once(&idle_once, idle_read);
	return idle_ms;
}

/* "threads", "uring", "auto", or NULL. */
const char *config_executor(void)
{
	return getenv("UAIO_EXECUTOR");
}

/* The fault rules of a context whose parameters give none (uaio_faults(7)). */
const char *config_faults(void)
{
	return getenv("UAIO_FAULTS");
}

/* Say on stderr why a fault spec was refused. */
bool config_faults_verbose(void)
{
	return getenv("UAIO_FAULTS_VERBOSE") != NULL;
}

/* The file report.c appends its line to, or NULL. */
const char *config_report(void)
{
	return getenv("UAIO_REPORT");
}

/* "vm": checked copies through process_vm even where faults can be caught. */
const char *config_uaccess(void)
{
	return getenv("UAIO_UACCESS");
}

static void trace_read(void)
{
	const char *s = getenv("UAIO_TRACE");

	if (s && *s && strlen(s) < sizeof(trace_path))
		strcpy(trace_path, s);
	trace_detail = env_long("UAIO_TRACE_DETAIL", 0) != 0;
}

/* UAIO_TRACE (the trace's base name: trace.c adds .<pid>) or NULL;
 * *detail: UAIO_TRACE_DETAIL != 0.  A name longer than PATH_MAX is none. */
const char *config_trace(bool *detail)
{
	pthread_once(&trace_once, trace_read);
	*detail = trace_detail;
	return trace_path[0] ? trace_path : NULL;
}
