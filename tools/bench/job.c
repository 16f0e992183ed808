/* SPDX-License-Identifier: MIT */
/* job.c - the job loop every engine runs: prepare requests, submit them in
 * batches, reap, record latencies; fsync every N writes after a drain. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static void submit_queued(struct job *j, unsigned *inflight)
{
	unsigned batch = j->e->batches ? j->b->o->batch_submit : 1;

	while (j->qhead < j->qtail) {
		unsigned n = j->qtail - j->qhead < batch ? j->qtail - j->qhead : batch;
		struct req **first = &j->queue[j->qhead];
		uint64_t t = now_ns();
		int r;

		for (unsigned i = 0; i < n; i++)
			first[i]->t_submit = t;
		r = j->e->submit(j, first, n);
		if (r == -EINTR)
			continue;
		if ((r == -EAGAIN || r == 0) && *inflight > 0)
			break;
		if (r <= 0)
			fatal("%s: submit: %s", j->e->name, strerror(r ? -r : EAGAIN));
		j->qhead += (unsigned)r;
		*inflight += (unsigned)r;
	}
	if (j->qhead == j->qtail) {
		j->qhead = j->qtail = 0;
	} else if (j->qhead) {
		memmove(j->queue, j->queue + j->qhead, (j->qtail - j->qhead) * sizeof(*j->queue));
		j->qtail -= j->qhead;
		j->qhead = 0;
	}
}

static const char *op_name(enum op op)
{
	return op == OP_READ ? "read" : op == OP_WRITE ? "write" : "fsync";
}

/* A completion's result must be the whole block (0 for fsync). */
static void check_res(struct job *j, const struct req *q)
{
	int64_t want = q->op == OP_FSYNC ? 0 : (int64_t)q->len;

	if (q->res == want)
		return;
	if (q->res < 0)
		fatal("%s: %s of %s at offset %llu: %s", j->e->name, op_name(q->op),
		      j->b->t->f[q->file].path, (unsigned long long)q->off,
		      strerror((int)-q->res));
	fatal("%s: %s of %s at offset %llu returned %lld, not %lld", j->e->name,
	      op_name(q->op), j->b->t->f[q->file].path, (unsigned long long)q->off,
	      (long long)q->res, (long long)want);
}

/* A measured completion: counted, and its latency (t - submit) recorded. */
static void count_done(struct job *j, const struct req *q, uint64_t t)
{
	if (q->op == OP_FSYNC) {
		j->fsyncs++;
		return;
	}
	hist_add(&j->hist, t - q->t_submit);
	j->bytes += q->len;
	if (q->op == OP_READ)
		j->reads++;
	else
		j->writes++;
}

static void reap_some(struct job *j, unsigned *inflight)
{
	unsigned batch = j->e->batches ? j->b->o->batch_complete : 1;
	unsigned min = *inflight < batch ? *inflight : batch;
	int r = j->e->reap(j, min, j->depth), ph;
	uint64_t t = now_ns();

	if (r == -EINTR || r == -ETIME)
		return;
	if (r < 0)
		fatal("%s: reap: %s", j->e->name, strerror(-r));
	ph = phase_get(j->b);
	*inflight -= (unsigned)r;
	for (int i = 0; i < r; i++) {
		struct req *q = j->done[i];

		check_res(j, q);
		if (ph == PH_MEASURE)
			count_done(j, q, t);
		j->freel[j->nfree++] = q;
	}
	if (r > 0) {
		store64(&j->last_done, t);
		store64(&j->completed, j->completed + (uint64_t)r);
	}
}

enum { SYNC_NONE, SYNC_DRAIN, SYNC_RUN };

/* --fsync: once drained, one fsync per file; then back to I/O. */
static void queue_fsyncs(struct job *j, unsigned inflight, unsigned *state, unsigned *next)
{
	if (*state == SYNC_DRAIN && !inflight && j->qhead == j->qtail) {
		*state = SYNC_RUN;
		*next = 0;
	}
	if (*state != SYNC_RUN)
		return;
	if (*next == j->b->t->n && !inflight) {
		*state = SYNC_NONE;
		return;
	}
	while (*next < j->b->t->n && j->nfree) {
		struct req *r = j->freel[--j->nfree];

		r->op = OP_FSYNC;
		r->file = (*next)++;
		r->off = 0;
		j->queue[j->qtail++] = r;
	}
}

/* Fills the queue from the free list; false once --io-size is used up. */
static bool queue_io(struct job *j, unsigned *sync_state)
{
	const struct opts *o = j->b->o;

	while (j->nfree) {
		struct req *r;

		/* relaxed: a shared budget; only the sum matters, no data hangs on it. */
		if (o->io_size &&
		    __atomic_fetch_add(&j->g->issued, o->bs, __ATOMIC_RELAXED) >= j->g->budget)
			return false;
		r = next_req(j);
		j->queue[j->qtail++] = r;
		/* relaxed: a shared write count; only its value matters. */
		if (r->op == OP_WRITE && o->fsync_every &&
		    (__atomic_add_fetch(&j->g->writes, 1, __ATOMIC_RELAXED) % o->fsync_every) == 0) {
			*sync_state = SYNC_DRAIN;
			break;
		}
	}
	return true;
}

static void job_loop(struct job *j)
{
	unsigned inflight = 0, sync_state = SYNC_NONE, sync_next = 0;
	bool out_of_budget = false;

	for (;;) {
		bool stopping = out_of_budget || phase_get(j->b) >= PH_STOP;

		queue_fsyncs(j, inflight, &sync_state, &sync_next);
		if (!stopping && sync_state == SYNC_NONE && !queue_io(j, &sync_state))
			out_of_budget = stopping = true;
		submit_queued(j, &inflight);
		if (!inflight) {
			if (stopping && j->qhead == j->qtail)
				break;
			continue;
		}
		reap_some(j, &inflight);
	}
}

void *job_main(void *arg)
{
	struct job *j = arg;
	int r = j->e->init(j);

	/* release: err (and the counts) are seen with finished; acq_rel on
	 * ready: row_ready's acquire sees err once the count covers this job. */
	if (r < 0) {
		j->err = r;
		__atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
		__atomic_add_fetch(&j->b->ready, 1, __ATOMIC_ACQ_REL);
		return NULL;
	}
	__atomic_add_fetch(&j->b->ready, 1, __ATOMIC_ACQ_REL);
	while (phase_get(j->b) == PH_SETUP) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	if (phase_get(j->b) != PH_ABORT)
		job_loop(j);
	j->e->fini(j);
	__atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);	/* release: counts final */
	return NULL;
}
