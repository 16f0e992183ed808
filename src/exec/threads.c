/* SPDX-License-Identifier: MIT */
/* exec/threads.c - the worker-pool executor: works on every kernel and
 * under any seccomp profile.  One pool per process, shared by every
 * context.  It grows on demand up to a cap and shrinks when idle.
 *
 * Waking a sleeping thread costs ~100 us on a virtual CPU, so: a batch of
 * requests costs one wake-up; a woken worker that sees more work wakes
 * (or starts) the next one; and a worker that runs dry spins briefly
 * before it sleeps.
 *
 * A request on a file (KIND_FILE: an O_DIRECT or uncached read, a write
 * that waits for the device) takes about as long on the device as a
 * sleeping worker takes to wake up.  So while no more of them are queued
 * than workers are busy with them, none is woken: the next worker to
 * finish takes the next request, without sleeping in between.  A
 * request's time on the device is bounded, but a worker can still be
 * held long (a hung device, an O_DIRECT pipe found to be a stream), so
 * this waiting is allowed only while one idle worker, the watcher,
 * sleeps in slices of WATCH_MS: when it wakes and work is queued, it
 * takes it.  A queued request thus waits for a worker at most WATCH_MS
 * longer than it would with a wake-up. */
#include "exec/exec.h"
#include "trace.h"
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_CAP 128
#define WATCH_MS 1	/* the watcher's sleep while file requests are in flight */

/* Lock order: pool.lock is a leaf; no other lock is taken under it. */
static struct {
	pthread_mutex_t lock;		/* protects the queue and the counts */
	struct uaio_req *head, *tail;
	unsigned nthreads, nidle, nspin, cap;
	unsigned nfile;			/* workers running a KIND_FILE request */
	bool watcher;			/* an idle worker sleeps in WATCH_MS slices */
	_Atomic uint32_t seq;		/* futex word idle workers sleep on */
	_Atomic uint32_t wseq;		/* the watcher's own, so that a wake-up
					 * meant for any idle worker leaves it be */
	_Atomic unsigned queued;	/* queue length hint for spinners (relaxed) */
	long idle_ms, spin_ns;
	long spin_budget;		/* current worker spin, ns; adapted */
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .cap = DEFAULT_CAP, .idle_ms = -1 };

static void pool_set_cap(unsigned cap)
{
	pthread_mutex_lock(&pool.lock);
	if (cap)
		pool.cap = cap;
	pthread_mutex_unlock(&pool.lock);
}

static void threads_set_limits(const struct exec_limits *lim)
{
	pool_set_cap(lim->threads);
}

/* The cap, for the io_uring executor's io-wq workers. */
unsigned exec_threads_cap(void)
{
	unsigned cap;

	pthread_mutex_lock(&pool.lock);
	cap = pool.cap;
	pthread_mutex_unlock(&pool.lock);
	return cap;
}

static void *worker_main(void *arg);

/* Starts a worker already counted in nthreads; on failure (threads or
 * memory ran out) takes the count back and returns false. */
static bool spawn_worker(void)
{
	bool ok;

	pthread_attr_t attr;
	pthread_t t;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 << 10);
	thread_block_signals_attr(&attr);
	ok = pthread_create(&t, &attr, worker_main, NULL) == 0;
	if (!ok) {
		pthread_mutex_lock(&pool.lock);
		pool.nthreads--;	/* the queue is served by those that exist */
		pthread_mutex_unlock(&pool.lock);
	} else {
		atomic_fetch_add_explicit(&g_workers, 1, memory_order_relaxed); /* statistic */
	}
	pthread_attr_destroy(&attr);
	return ok;
}

/* Decides, under the lock, how to get the queued work going: nothing if a
 * worker spins or a busy one will take it, else wake an idle one (the
 * watcher last), else start one.  The caller acts on the answer after
 * unlocking: 1 wake, 2 spawn, 3 wake the watcher. */
static int kick_locked(void)
{
	if (!pool.head || pool.nspin)
		return 0;
	/* relaxed: written under the lock we hold; read atomically only as a hint elsewhere */
	if (pool.watcher && atomic_load_explicit(&pool.queued, memory_order_relaxed) <= pool.nfile)
		return 0;	/* a busy worker will take it (see the top) */
	if (pool.nidle > (unsigned)pool.watcher) {
		/* relaxed: the futex compare and the lock order the hand-over. */
		atomic_fetch_add_explicit(&pool.seq, 1, memory_order_relaxed);
		return 1;
	}
	if (pool.watcher) {
		atomic_fetch_add_explicit(&pool.wseq, 1, memory_order_relaxed); /* as above */
		return 3;
	}
	if (pool.nthreads < pool.cap) {
		pool.nthreads++;
		return 2;
	}
	return 0;
}

static void run(struct uaio_req *req);

/* No worker exists and none could be started: the caller runs what is
 * queued itself rather than leave accepted requests with nobody to run
 * them.  Submit does such work itself up front (threads_reserve), so this
 * serves the last worker's idle exit racing a submit, the io_uring
 * executor handing back what its ring did not take, and requests the
 * fault timer releases. */
static void run_stranded(void)
{
	struct uaio_req *req;

	for (;;) {
		pthread_mutex_lock(&pool.lock);
		req = pool.nthreads ? NULL : pool.head;
		if (req) {
			pool.head = req->next;
			if (!pool.head)
				pool.tail = NULL;
			atomic_fetch_sub_explicit(&pool.queued, 1, memory_order_relaxed); /* hint */
		}
		pthread_mutex_unlock(&pool.lock);
		if (!req)
			return;
		/* relaxed: a statistic */
		atomic_fetch_add_explicit(&req->ctx->st_no_thread, 1, memory_order_relaxed);
		run(req);
	}
}

static void kick(int what)
{
	if (what == 1)
		futex_wake(&pool.seq, 1, true);
	else if (what == 3)
		futex_wake(&pool.wseq, 1, true);
	else if (what == 2 && !spawn_worker())
		run_stranded();
}

static void threads_submit(struct uaio_req **reqs, int n)
{
	int what;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < n; i++) {
		reqs[i]->next = NULL;
		if (pool.tail)
			pool.tail->next = reqs[i];
		else
			pool.head = reqs[i];
		pool.tail = reqs[i];
	}
	atomic_fetch_add_explicit(&pool.queued, (unsigned)n, memory_order_relaxed); /* hint */
	what = kick_locked();
	pthread_mutex_unlock(&pool.lock);
	kick(what);
}

static void run(struct uaio_req *req)
{
	if (!req_claim(req, REQ_QUEUED))
		return;
	if (unlikely(g_trace))
		trace_start(req, TR_WORKER);
	req_complete(req, req_run_blocking(req));
}

/* Spins for queued work.  The budget (pool lock held to change it) halves
 * after a fruitless spin, so a disk-bound load does not burn the CPU its
 * workers need, and doubles back towards UAIO_SPIN_US after a useful one. */
static void spin_a_while(long limit)
{
	struct timespec t0, t;
	bool found = false;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0;; i++) {
		if (atomic_load_explicit(&pool.queued, memory_order_relaxed)) {
			found = true;
			break;
		}
		__builtin_ia32_pause();
		if ((i & 63) == 63) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > limit)
				break;
		}
	}
	pthread_mutex_lock(&pool.lock);
	limit = found ? limit * 2 : limit / 2;
	pool.spin_budget = limit > pool.spin_ns ? pool.spin_ns : limit < 500 ? 500 : limit;
	pthread_mutex_unlock(&pool.lock);
}

/* Sleeps as an idle worker, lock held on entry and exit.  False when the
 * idle time ran out with nothing to do: the worker should exit. */
static bool sleep_idle(void)
{
	struct timespec ts;
	_Atomic uint32_t *word;
	uint32_t seq;
	long r, ms;
	/* The first idle worker while file requests are in flight watches. */
	bool watch = !pool.watcher && pool.nfile > 0;

	pool.nidle++;
	pool.watcher |= watch;
	ms = watch ? WATCH_MS : pool.idle_ms;
	word = watch ? &pool.wseq : &pool.seq;
	seq = atomic_load_explicit(word, memory_order_relaxed); /* relaxed: as kick_locked */
	pthread_mutex_unlock(&pool.lock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	r = futex_wait_abs(word, seq, &ts, true);
	pthread_mutex_lock(&pool.lock);
	pool.nidle--;
	if (watch) {
		pool.watcher = false;
		return true;	/* takes what waits, or sleeps again */
	}
	if (r == -ETIMEDOUT && !pool.head) {
		pool.nthreads--;
		return false;
	}
	return true;
}

/* Waits for work with the lock held; false when the worker should exit.
 * One worker at a time spins before sleeping. */
static bool wait_for_work(void)
{
	while (!pool.head) {
		if (!pool.nspin && pool.spin_ns > 0) {
			long budget = pool.spin_budget ? pool.spin_budget : pool.spin_ns;

			pool.nspin = 1;
			pthread_mutex_unlock(&pool.lock);
			spin_a_while(budget);
			pthread_mutex_lock(&pool.lock);
			pool.nspin = 0;
			if (pool.head)
				break;
		}
		if (!sleep_idle())
			return false;
	}
	return true;
}

static void *worker_main(void *arg)
{
	struct uaio_req *req;
	bool file;
	int what;

	(void)arg;
	pthread_setname_np(pthread_self(), "uaio-worker");
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		if (!wait_for_work())
			break;
		req = pool.head;
		pool.head = req->next;
		if (!pool.head)
			pool.tail = NULL;
		atomic_fetch_sub_explicit(&pool.queued, 1, memory_order_relaxed); /* hint */
		what = kick_locked();	/* more queued: pass the baton */
		file = req->kind == KIND_FILE;
		pool.nfile += file;
		pthread_mutex_unlock(&pool.lock);
		kick(what);
		run(req);
		pthread_mutex_lock(&pool.lock);
		pool.nfile -= file;
	}
	pthread_mutex_unlock(&pool.lock);
	atomic_fetch_sub_explicit(&g_workers, 1, memory_order_relaxed); /* statistic */
	return NULL;
}

static pthread_once_t tunables_once = PTHREAD_ONCE_INIT;

static void pool_init_tunables(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.idle_ms = config_idle_ms();
	pool.spin_ns = config_spin_ns();
	pthread_mutex_unlock(&pool.lock);
}

static void threads_submit_entry(struct uaio_req **reqs, int n)
{
	pthread_once(&tunables_once, pool_init_tunables);
	threads_submit(reqs, n);
}

/* Submit asks before it accepts work for the pool: 0 if a worker exists
 * (it may be busy: the request then waits in the queue) or could be
 * started now, -EAGAIN if threads ran out (clone refused, no memory for
 * a stack) and none is left: submit then does the request itself, as
 * the kernel's AIO, which needs no thread, would. */
static int threads_reserve(const struct uaio_req *req)
{
	bool start;

	(void)req;
	pthread_once(&tunables_once, pool_init_tunables);
	pthread_mutex_lock(&pool.lock);
	start = pool.nthreads == 0;
	if (start)
		pool.nthreads++;	/* counted before it runs, as kick_locked does */
	pthread_mutex_unlock(&pool.lock);
	return !start || spawn_worker() ? 0 : -EAGAIN;
}

static void pool_atfork_prepare(void)
{
	pthread_mutex_lock(&pool.lock);
}

static void pool_atfork_parent(void)
{
	pthread_mutex_unlock(&pool.lock);
}

/* The child has no workers; queued requests belong to the parent's
 * contexts, which the child has forgotten. */
static void pool_atfork_child(void)
{
	pool.head = pool.tail = NULL;
	pool.nthreads = pool.nidle = pool.nspin = pool.nfile = 0;
	pool.watcher = false;
	atomic_store_explicit(&pool.queued, 0, memory_order_relaxed);
	/* the forking thread took it in prepare: unlocked, not overwritten,
	 * so that ThreadSanitizer's view of it stays right */
	pthread_mutex_unlock(&pool.lock);
}

const struct exec_ops exec_threads = {
	.name = "threads",
	.reserve = threads_reserve,
	.submit = threads_submit_entry,
	.atfork_prepare = pool_atfork_prepare,
	.atfork_parent = pool_atfork_parent,
	.atfork_child = pool_atfork_child,
	.set_limits = threads_set_limits,
};
