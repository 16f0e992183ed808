/* SPDX-License-Identifier: MIT */
/* main.c - uaio-bench: the engines this machine can set up, the modes that
 * can run on the files, then one row per engine and mode and the outputs.
 * bench.h says what each file does. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The --cost row "uaio-syscalls" has uaio answer trapped system calls in
 * its SIGSYS handler: a synchronous signal at the program's own io_* call,
 * where calling malloc or taking locks is safe.  A TSan build cannot know
 * that and would report each call. */
const char *__tsan_default_options(void) __attribute__((visibility("default")));
const char *__tsan_default_options(void)
{
	return "report_signal_unsafe=0";
}

/* --cost sets up its own rows and reports their failures; only uaio's
 * executors other than threads (which this machine or build may lack)
 * are probed first, so that a missing one is left out with its reason. */
static bool cost_probes(int e)
{
	const char *ex = engines[e]->executor;

	return ex && strcmp(ex, "threads");
}

/* Engines that cannot be set up here are left out, once, with the reason. */
static void probe_engines(struct run *R, const struct opts *o)
{
	for (int e = 0; e < ENG_COUNT; e++) {
		const struct engine *en = engines[e];
		char ex[48] = "";
		int r;

		if (!(R->mask & (1ull << e)) || (o->cost && !cost_probes(e)))
			continue;
		if ((r = probe_engine(e)) < 0) {
			if (en->executor)
				snprintf(ex, sizeof(ex), "(executor \"%s\")", en->executor);
			R->left[R->nleft].engine = e;
			snprintf(R->left[R->nleft].why, sizeof(R->left[R->nleft].why), "%s%s: %s",
				 en->setup_call, ex, strerror(-r));
			R->nleft++;
			R->mask &= ~(1ull << e);
		}
	}
}

/* None of the chosen engines can run: say why, on the one line of a usage error. */
static void none_left(const struct run *R)
{
	char why[ENG_COUNT * 180] = "";
	size_t n = 0;

	for (unsigned i = 0; i < R->nleft && n < sizeof(why); i++)
		n += (size_t)snprintf(why + n, sizeof(why) - n, "%s%s: %s", i ? "; " : "",
				      engine_names[R->left[i].engine], R->left[i].why);
	bad_usage("none of the chosen engines can be set up on this machine (%s)", why);
}

static int cost_main(const struct run *R)
{
	print_host();
	for (unsigned i = 0; i < R->nleft; i++)
		printf("# %s left out: %s\n", engine_names[R->left[i].engine], R->left[i].why);
	return R->o->flat ? run_flat(R->o, R->mask) : run_cost(R->o, R->mask);
}

/* glibc's pool: enough threads for every request in flight (default 20). */
static void posix_pool(const struct opts *o)
{
	struct aioinit ai;

	memset(&ai, 0, sizeof(ai));
	ai.aio_threads = (int)(o->depth * o->numjobs < 256 ? o->depth * o->numjobs : 256);
	ai.aio_num = (int)(o->depth * o->numjobs);
	ai.aio_idle_time = 1;
	aio_init(&ai);
}

/* Which modes can run on these files (O_DIRECT may be refused); the rows to come. */
static void check_modes(struct run *R, const struct target *t)
{
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!(R->o->modes & (1u << m)))
			continue;
		R->mode_ran[m] = true;
		if (m == MODE_DIRECT)
			for (unsigned i = 0; i < t->n; i++)
				if (t->f[i].dfd < 0) {
					R->mode_ran[m] = false;
					snprintf(R->mode_why[m], sizeof(R->mode_why[m]),
						 "%s: the file system (%s) refuses O_DIRECT (%s)", t->f[i].path,
						 fs_name(t->f[i].fstype), strerror(t->f[i].direct_err));
					break;
				}
		if (R->mode_ran[m])
			prog.nrows += (unsigned)__builtin_popcountll(R->mask);
	}
}

/* Buffered rows start on a warm page cache, if the files fit in half the free memory. */
static void warm_cache(struct run *R, const struct target *t)
{
	long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages > 0 && (double)t->span * t->n > (double)pages * (double)psz / 2) {
		printf("# buffered: %s not pre-read: larger than half the free memory\n",
		       t->n > 1 ? "files" : "file");
		return;
	}
	if (prog.tty) {
		fputs("\r\033[Kpre-reading into the page cache...", stderr);
		fflush(stderr);
	}
	R->preread_s = preread(t);
	progress_clear();
	printf("# buffered: pre-read into the page cache in %.2f s\n", R->preread_s);
}

/* Every engine on every mode that can run, a table per mode; the verify mismatches. */
static uint64_t run_rows(struct run *R, struct bench *b)
{
	const struct opts *o = R->o;
	uint64_t mismatches = 0;

	for (int m = 0; m < MODE_COUNT; m++) {
		if (!(o->modes & (1u << m)))
			continue;
		for (int e = 0; e < ENG_COUNT && R->mode_ran[m]; e++) {
			if (!(R->mask & (1ull << e)))
				continue;
			prog.row++;
			run_row(b, e, m, &R->res[m][e]);
			mismatches += R->res[m][e].verify_bad;
		}
		print_table(R, m);
	}
	return mismatches;
}

int main(int argc, char **argv)
{
	static struct run R;
	static struct opts o;
	struct target t;
	struct bench b;
	uint64_t mismatches;

	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* tables appear as they finish, even in a pipe */
	prog.tty = !o.quiet && isatty(STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);
	R.o = &o;
	R.mask = o.engines ? o.engines : o.cost ? (1ull << ENG_COUNT) - 1 : ENG_DEFAULT;
	probe_engines(&R, &o);
	if (o.cost)
		return cost_main(&R);
	if (!R.mask)
		none_left(&R);
	if (R.mask & (1ull << ENG_POSIX))
		posix_pool(&o);
	open_target(&o, &t, o.modes_set);
	R.t = &t;
	bench_init(&b, &o, &t, R.mask);
	R.nsync = b.nsync;
	print_header(&R);
	check_modes(&R, &t);
	prog.row_secs = o.io_size ? 0 : o.ramp + o.runtime + 0.05;
	if (o.modes & (1u << MODE_BUFFERED))
		warm_cache(&R, &t);
	mismatches = run_rows(&R, &b);
	if (o.json)
		write_json(&R);
	if (o.svg)
		write_svg(&R);
	bench_free(&b);
	close_target(&t);
	if (mismatches) {
		fprintf(stderr, PROG ": verify: %llu mismatched block%s\n", (unsigned long long)mismatches,
			mismatches > 1 ? "s" : "");
		return 1;
	}
	return 0;
}
