/* SPDX-License-Identifier: MIT */
/* table.c - the text output: the host line, the run's header and one table
 * per mode. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

unsigned online_cpus(void)
{
	cpu_set_t set;

	/* What nproc prints: the CPUs this process may run on. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return (unsigned)CPU_COUNT(&set);
	return (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
}

void print_host(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("# " PROG ": %s, %u CPUs, %s %s %s\n", u.nodename, online_cpus(), u.sysname,
	       u.release, u.machine);
}

const char *rw_label(const struct opts *o, char *buf, size_t n)
{
	if (o->replay)
		snprintf(buf, n, "replay of %llu requests", (unsigned long long)replay.nops);
	else if (rw_reads(o->rw) && rw_writes(o->rw))
		snprintf(buf, n, "%s %u%% reads", rw_names[o->rw], o->rwmix);
	else
		snprintf(buf, n, "%s", rw_names[o->rw]);
	return buf;
}

static void print_files(const struct target *t)
{
	char size[32];

	for (unsigned i = 0; i < t->n; i++) {
		const struct file *f = &t->f[i];

		printf("# file: %s (%s, %s), %s used", f->path,
		       f->temporary ? "temporary, removed at exit" : f->blockdev ? "block device" : "kept",
		       f->blockdev ? "raw" : fs_name(f->fstype), fmt_size(size, sizeof(size), t->span));
		if (f->fill_s > 0)
			printf(", written in %.2f s", f->fill_s);
		printf("\n");
	}
}

static void print_job(const struct opts *o)
{
	char bs[32], rw[48], ios[32];

	if (o->replay)
		printf("# replay: %s: %llu reads, %llu writes, %llu fsyncs on %u file%s, in the trace's order "
		       "(bs: the largest; skipped: %llu wait/trim)\n", o->replay,
		       (unsigned long long)replay.reads, (unsigned long long)replay.writes,
		       (unsigned long long)replay.syncs, replay.nnames, replay.nnames == 1 ? "" : "s",
		       (unsigned long long)replay.skipped);
	printf("# job: %s, bs %s, iodepth %u, batch submit %u / complete %u, %u job%s",
	       rw_label(o, rw, sizeof(rw)), fmt_size(bs, sizeof(bs), o->bs), o->depth,
	       o->batch_submit, o->batch_complete, o->numjobs, o->numjobs > 1 ? "s" : "");
	if (o->fsync_every)
		printf(", fsync every %u writes", o->fsync_every);
	if (o->verify)
		printf(", verify");
	if (o->io_size)
		printf(", %s per row\n", fmt_size(ios, sizeof(ios), o->io_size));
	else
		printf(", %.1f s per row after %.1f s ramp\n", o->runtime, o->ramp);
}

/* The files, the job, the engines and what was left out. */
void print_header(const struct run *R)
{
	const struct opts *o = R->o;

	print_host();
	print_files(R->t);
	print_job(o);
	printf("# engines:");
	for (int e = 0; e < ENG_COUNT; e++)
		if (R->mask & (1ull << e))
			printf(" %s", engines[e]->name);
	if (R->mask & (1ull << ENG_SYNC))
		printf(" (sync: %u thread%s per job; batches do not apply to it)", R->nsync,
		       R->nsync > 1 ? "s" : "");
	printf("\n");
	for (unsigned i = 0; i < R->nleft; i++)
		printf("# %s left out: %s\n", engine_names[R->left[i].engine], R->left[i].why);
	if (getenv("UAIO_NOCHECK"))
		printf("# note: UAIO_NOCHECK is set in the environment; it may turn the uaio rows' checks off\n");
	printf("# latency: submit to reap, from a log-linear histogram; usr%%/sys%%: process CPU time "
	       "over the row's wall time (all threads); cpu/io = (usr+sys) per I/O; x = ratio to %s\n",
	       engine_names[o->baseline]);
}

static void fmt_us(char *buf, size_t n, double ns)
{
	double us = ns / 1000;

	snprintf(buf, n, us < 1000 ? "%.1f" : "%.0f", us);
}

double cpu_per_io_us(const struct result *r)
{
	return r->ops ? (r->usr_s + r->sys_s) * 1e6 / (double)r->ops : 0;
}

/* One engine's line of a table; base: the baseline engine's result. */
static void print_result(const struct result *r, int e, const struct result *base, bool verify)
{
	char p50[16], p99[16], p999[16], mx[16];

	if (!r->ran) {
		printf("%-18s unavailable: %s\n", engine_names[e], r->why);
		return;
	}
	fmt_us(p50, sizeof(p50), r->p50);
	fmt_us(p99, sizeof(p99), r->p99);
	fmt_us(p999, sizeof(p999), r->p999);
	fmt_us(mx, sizeof(mx), r->lat_max);
	printf("%-18s %9.0f %8.1f %8s %8s %9s %9s %5.0f %5.0f %10.2f ", engine_names[e], r->iops,
	       r->mibs, p50, p99, p999, mx, r->secs > 0 ? r->usr_s * 100 / r->secs : 0,
	       r->secs > 0 ? r->sys_s * 100 / r->secs : 0, cpu_per_io_us(r));
	if (base->ran && base->iops > 0)
		printf("%6.2f ", r->iops / base->iops);
	else
		printf("%6s ", "-");
	if (base->ran && cpu_per_io_us(base) > 0)
		printf("%7.2f", cpu_per_io_us(r) / cpu_per_io_us(base));
	else
		printf("%7s", "-");
	if (verify)
		printf(" %llu/%llu bad", (unsigned long long)r->verify_bad,
		       (unsigned long long)r->verify_checked);
	printf("\n");
}

void print_table(const struct run *R, int mode)
{
	const struct opts *o = R->o;
	const struct result *base = &R->res[mode][o->baseline];
	char bs[32], rw[48];

	printf("\n%s, bs %s, iodepth %u: %s\n", rw_label(o, rw, sizeof(rw)),
	       fmt_size(bs, sizeof(bs), o->bs), o->depth, mode_titles[mode]);
	if (!R->mode_ran[mode]) {
		printf("  not run: %s\n", R->mode_why[mode]);
		return;
	}
	printf("%-18s %9s %8s %8s %8s %9s %9s %5s %5s %10s %6s %7s%s\n", "engine", "IOPS", "MiB/s",
	       "p50(us)", "p99(us)", "p99.9(us)", "max(us)", "usr%", "sys%", "cpu/io(us)", "xIOPS",
	       "xCPU/io", o->verify ? " verify" : "");
	for (int e = 0; e < ENG_COUNT; e++)
		if (R->mask & (1ull << e))
			print_result(&R->res[mode][e], e, base, o->verify);
}
