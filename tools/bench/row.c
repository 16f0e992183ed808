/* SPDX-License-Identifier: MIT */
/* row.c - one row: one engine on one mode.  Sets the jobs up, starts their
 * threads, drives the phases (ramp, measure, stop) from the main thread
 * with a progress line, and gathers the result. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

struct progress prog;

/* The clock of one row: set by the phases, read by the result. */
struct row_clock {
	uint64_t t_begin;	/* jobs started */
	uint64_t t0, t1;	/* measured span */
	struct cpu c0, c1;
	uint64_t t_last, last_ops;	/* progress line: last refresh */
};

void progress_clear(void)
{
	if (prog.tty)
		fputs("\r\033[K", stderr);
}

void progress_show(const char *mode, const char *eng, double el, double span,
		   double iops, double mibs, double eta)
{
	if (!prog.tty)
		return;
	fprintf(stderr, "\r\033[K[%u/%u] %s %-18s %6.1f/%.1f s %10.0f IOPS %9.1f MiB/s  ETA %d:%02d",
		prog.row, prog.nrows, mode, eng, el, span, iops, mibs, (int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t jobs_ops(struct bench *b, unsigned n)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += load64(&b->jobs[i]->completed);
	return s;
}

/* Written blocks of this row, read back through the page cache and compared. */
static void verify_row(struct bench *b, struct result *res)
{
	const struct opts *o = b->o;
	void *buf = xmemalign(o->bs);

	for (unsigned i = 0; i < b->t->n; i++) {
		struct file *f = &b->t->f[i];

		for (uint64_t w = 0; w < (b->t->nblocks + 63) / 64; w++) {
			uint64_t bits = f->written[w];

			f->written[w] = 0;
			while (bits) {
				uint64_t blk = w * 64 + (uint64_t)__builtin_ctzll(bits);
				ssize_t n = pread(f->fd, buf, o->bs, (off_t)(blk * o->bs));

				bits &= bits - 1;
				res->verify_checked++;
				if (n != (ssize_t)o->bs || !check_verify(buf, o->bs, i, blk * o->bs, b->gen)) {
					if (!res->verify_bad)
						fprintf(stderr, "\r" PROG ": %s: verify mismatch in %s at offset %llu\n",
							engine_names[res->engine], f->path,
							(unsigned long long)(blk * o->bs));
					res->verify_bad++;
				}
			}
		}
	}
	free(buf);
}

/* This mode's descriptors; cold: the files' cached pages dropped first. */
static void row_files(struct bench *b, int mode)
{
	for (unsigned i = 0; i < b->t->n; i++) {
		b->fds[i] = mode == MODE_DIRECT ? b->t->f[i].dfd : b->t->f[i].fd;
		/* Cold: drop the file's cached pages (clean: written and synced). */
		if (mode == MODE_COLD && !b->t->f[i].blockdev &&
		    (fdatasync(b->fds[i]) < 0 || posix_fadvise(b->fds[i], 0, 0, POSIX_FADV_DONTNEED)))
			fatal("%s: dropping the page cache: %s", b->t->f[i].path, strerror(errno));
	}
}

/* Each job's group: where its sequential blocks start, its --io-size share. */
static void row_groups(struct bench *b)
{
	const struct opts *o = b->o;
	uint64_t total_blocks = b->t->nblocks * b->t->n;

	for (unsigned g = 0; g < o->numjobs; g++) {
		uint64_t share = o->io_size / o->numjobs;

		b->groups[g] = (struct group){ .seq = total_blocks * g / o->numjobs,
					       .budget = share < o->bs ? o->bs : share - share % o->bs };
	}
}

static void row_jobs(struct bench *b, const struct engine *e, unsigned njobs)
{
	const struct opts *o = b->o;
	unsigned per_group = e->threads ? b->nsync : 1;

	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];
		struct hist *h = &j->hist;

		memset(j, 0, offsetof(struct job, hist));
		hist_reset(h);
		j->b = b;
		j->e = e;
		j->id = i;
		j->depth = e->threads ? 1 : o->depth;
		j->g = &b->groups[i / per_group];
		j->reqs = e->threads ? &b->pool[i] : &b->pool[(size_t)i * o->depth];
		j->rng = SEED ^ mix64(i + 1 + (e->threads ? 1000 : 0));
		j->last_done = now_ns();
	}
}

/* Starts the jobs' threads; false (and res->why) if one cannot start. */
static bool row_start(struct bench *b, unsigned njobs, struct result *res)
{
	int err;

	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];

		for (unsigned k = 0; k < j->depth; k++) {
			j->reqs[k].idx = k;
			j->freel[k] = &j->reqs[k];
		}
		j->nfree = j->depth;
		if ((err = pthread_create(&j->th, NULL, job_main, j)) != 0) {
			for (unsigned k = 0; k < i; k++) {
				phase_set(b, PH_ABORT);
				pthread_join(b->jobs[k]->th, NULL);
			}
			snprintf(res->why, sizeof(res->why), "pthread_create: %s", strerror(err));
			return false;
		}
	}
	return true;
}

/* Waits for every job's engine setup; false (and res->why) if one failed. */
static bool row_ready(struct bench *b, const struct engine *e, unsigned njobs, struct result *res)
{
	int err = 0;

	/* acquire: pairs with job_main's increments; each job's err is seen. */
	while (__atomic_load_n(&b->ready, __ATOMIC_ACQUIRE) < (int)njobs) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < njobs && !err; i++)
		err = b->jobs[i]->err;
	if (!err)
		return true;
	phase_set(b, PH_ABORT);
	for (unsigned i = 0; i < njobs; i++)
		pthread_join(b->jobs[i]->th, NULL);
	snprintf(res->why, sizeof(res->why), "%s: %s", e->setup_call, strerror(-err));
	return false;
}

static void row_measure_from(struct bench *b, struct row_clock *rc, uint64_t t)
{
	rc->c0 = cpu_now();
	rc->t0 = t;
	phase_set(b, PH_MEASURE);
}

static void row_stop_at(struct bench *b, struct row_clock *rc, uint64_t t)
{
	rc->c1 = cpu_now();
	rc->t1 = t;
	phase_set(b, PH_STOP);
}

/* The progress line's ETA: this row's rest, then the rows to come. */
static double row_eta(struct bench *b, double el, double *span, double iops)
{
	const struct opts *o = b->o;
	double eta;

	if (o->io_size) {
		uint64_t issued = 0;
		for (unsigned g = 0; g < o->numjobs; g++)
			issued += load64(&b->groups[g].issued);
		*span = 0;
		eta = iops > 0 && issued < o->io_size
			? (double)(o->io_size - issued) / (double)o->bs / iops : 0;
	} else {
		eta = *span - el > 0 ? *span - el : 0;
	}
	return eta + (double)(prog.nrows - prog.row) * prog.row_secs;
}

static void row_progress(struct bench *b, const struct engine *e, int mode, unsigned njobs,
			 struct row_clock *rc, uint64_t t)
{
	const struct opts *o = b->o;
	double el = (double)(t - rc->t_begin) / 1e9, span = o->ramp + o->runtime, eta, iops;
	uint64_t ops;

	if (!prog.tty || t < rc->t_last + TICK_NS / 2)
		return;
	ops = jobs_ops(b, njobs);
	iops = (double)(ops - rc->last_ops) * 1e9 / (double)(t - rc->t_last);
	eta = row_eta(b, el, &span, iops);
	progress_show(mode_names[mode], e->name, el, span, iops, iops * (double)o->bs / MiB, eta);
	rc->last_ops = ops;
	rc->t_last = t;
}

/* The next tick, or the end of the ramp or of the run time if sooner. */
static uint64_t row_deadline(const struct bench *b, const struct row_clock *rc, int ph, uint64_t next)
{
	const struct opts *o = b->o;
	uint64_t deadline = next;

	if (ph == PH_RAMP && rc->t_begin + (uint64_t)(o->ramp * 1e9) < deadline)
		deadline = rc->t_begin + (uint64_t)(o->ramp * 1e9);
	if (ph == PH_MEASURE && !o->io_size && rc->t0 + (uint64_t)(o->runtime * 1e9) < deadline)
		deadline = rc->t0 + (uint64_t)(o->runtime * 1e9);
	return deadline;
}

/* Time moves the phase on: ramp to measure, measure to stop; true at the stop. */
static bool row_timed_phase(struct bench *b, struct row_clock *rc, int ph, uint64_t t)
{
	const struct opts *o = b->o;

	if (ph == PH_RAMP && t >= rc->t_begin + (uint64_t)(o->ramp * 1e9)) {
		row_measure_from(b, rc, t);
	} else if (ph == PH_MEASURE && !o->io_size && t >= rc->t0 + (uint64_t)(o->runtime * 1e9)) {
		row_stop_at(b, rc, t);
		return true;
	}
	return false;
}

/* Jobs finished (--io-size: the row ends with the last), or none moving. */
static bool row_jobs_done(struct bench *b, const struct engine *e, unsigned njobs,
			  struct row_clock *rc, uint64_t t)
{
	uint64_t stall = 0;
	unsigned fin = 0;

	for (unsigned i = 0; i < njobs; i++) {
		/* acquire: pairs with job_main's release; the job's counts are final. */
		fin += (unsigned)__atomic_load_n(&b->jobs[i]->finished, __ATOMIC_ACQUIRE);
		if (load64(&b->jobs[i]->last_done) > stall)
			stall = load64(&b->jobs[i]->last_done);
	}
	if (b->o->io_size && fin == njobs) {
		/* at the last completion, not at this tick: a short row (a small
		 * --replay) would otherwise measure the tick */
		row_stop_at(b, rc, stall > rc->t0 ? stall : now_ns());
		return true;
	}
	if (t > stall + (uint64_t)STALL_S * 1000000000u)
		fatal("%s: no request completed for %d s; giving up", e->name, STALL_S);
	return false;
}

/* The main thread's part of a row: phases by the clock, until the stop. */
static void row_drive(struct bench *b, const struct engine *e, int mode, unsigned njobs,
		      struct row_clock *rc)
{
	const struct opts *o = b->o;

	rc->t_begin = now_ns();
	if (o->io_size || o->ramp <= 0)
		row_measure_from(b, rc, now_ns());
	else
		phase_set(b, PH_RAMP);
	rc->t_last = rc->t_begin;
	for (uint64_t next = rc->t_begin + TICK_NS;; next += TICK_NS) {
		int ph = phase_get(b);
		uint64_t t;

		sleep_until(row_deadline(b, rc, ph, next));
		t = now_ns();
		if (row_timed_phase(b, rc, ph, t) || row_jobs_done(b, e, njobs, rc, t))
			break;
		row_progress(b, e, mode, njobs, rc, t);
	}
}

/* The jobs' counts and latencies, merged into res. */
static void row_result(struct bench *b, unsigned njobs, const struct row_clock *rc,
		       struct result *res)
{
	const struct opts *o = b->o;
	const struct hist *m = b->merged;

	hist_reset(b->merged);
	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];

		hist_merge(b->merged, &j->hist);
		res->reads += j->reads;
		res->writes += j->writes;
		res->fsyncs += j->fsyncs;
		res->bytes += j->bytes;
	}
	res->ran = true;
	res->jobs = o->numjobs;
	res->threads = njobs;
	res->secs = (double)(rc->t1 - rc->t0) / 1e9;
	res->ops = res->reads + res->writes;
	res->iops = res->secs > 0 ? (double)res->ops / res->secs : 0;
	res->mibs = res->secs > 0 ? (double)res->bytes / res->secs / MiB : 0;
	res->lat_min = m->count ? (double)m->min : 0;
	res->lat_mean = m->count ? (double)m->sum / (double)m->count : 0;
	res->p50 = hist_quantile(m, 0.50);
	res->p90 = hist_quantile(m, 0.90);
	res->p99 = hist_quantile(m, 0.99);
	res->p999 = hist_quantile(m, 0.999);
	res->lat_max = (double)m->max;
	res->usr_s = (double)(rc->c1.usr_us - rc->c0.usr_us) / 1e6;
	res->sys_s = (double)(rc->c1.sys_us - rc->c0.sys_us) / 1e6;
}

void run_row(struct bench *b, int eng, int mode, struct result *res)
{
	const struct opts *o = b->o;
	const struct engine *e = engines[eng];
	unsigned njobs = e->threads ? o->numjobs * b->nsync : o->numjobs;
	struct row_clock rc = { 0 };

	memset(res, 0, sizeof(*res));
	res->engine = eng;
	row_files(b, mode);
	b->gen++;
	row_groups(b);
	phase_set(b, PH_SETUP);
	b->ready = 0;
	row_jobs(b, e, njobs);
	if (!row_start(b, njobs, res) || !row_ready(b, e, njobs, res))
		return;
	row_drive(b, e, mode, njobs, &rc);
	for (unsigned i = 0; i < njobs; i++)
		pthread_join(b->jobs[i]->th, NULL);
	progress_clear();
	row_result(b, njobs, &rc, res);
	if (o->verify)
		verify_row(b, res);
	/* Written data goes to disk between rows, so no row pays for another's writeback. */
	if (rw_writes(o->rw))
		for (unsigned i = 0; i < b->t->n; i++)
			if (fdatasync(b->t->f[i].fd) < 0)
				fatal("%s: fdatasync: %s", b->t->f[i].path, strerror(errno));
}

void bench_init(struct bench *b, const struct opts *o, struct target *t, uint64_t engines_mask)
{
	unsigned per_total = SYNC_MAX_TOTAL / o->numjobs;

	memset(b, 0, sizeof(*b));
	b->o = o;
	b->t = t;
	b->nsync = o->depth < SYNC_MAX_THREADS ? o->depth : SYNC_MAX_THREADS;
	if (b->nsync > per_total)
		b->nsync = per_total ? per_total : 1;
	b->maxjobs = o->numjobs;
	if ((engines_mask & (1ull << ENG_SYNC)) && o->numjobs * b->nsync > b->maxjobs)
		b->maxjobs = o->numjobs * b->nsync;
	b->pool = xmalloc((size_t)o->numjobs * o->depth * sizeof(*b->pool));
	for (size_t i = 0; i < (size_t)o->numjobs * o->depth; i++) {
		b->pool[i].buf = xmemalign(o->bs);
		/* Touch every page now, and give writes non-zero data. */
		fill_random(b->pool[i].buf, o->bs, SEED + i);
	}
	b->jobs = xmalloc(b->maxjobs * sizeof(*b->jobs));
	for (unsigned i = 0; i < b->maxjobs; i++) {
		size_t d = i < o->numjobs ? o->depth : 1;
		struct job *j = xmalloc(sizeof(*j));

		j->freel = xmalloc(d * sizeof(*j->freel));
		j->queue = xmalloc(d * sizeof(*j->queue));
		j->done = xmalloc(d * sizeof(*j->done));
		j->scratch = xmalloc(2 * d * sizeof(*j->scratch));
		j->events = xmalloc(d * sizeof(*j->events));
		b->jobs[i] = j;
	}
	b->merged = xmalloc(sizeof(*b->merged));
}

void bench_free(struct bench *b)
{
	for (size_t i = 0; i < (size_t)b->o->numjobs * b->o->depth; i++)
		free(b->pool[i].buf);
	free(b->pool);
	for (unsigned i = 0; i < b->maxjobs; i++) {
		struct job *j = b->jobs[i];

		free(j->freel);
		free(j->queue);
		free(j->done);
		free(j->scratch);
		free(j->events);
		free(j);
	}
	free(b->jobs);
	free(b->merged);
}
