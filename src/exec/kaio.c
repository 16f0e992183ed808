/* SPDX-License-Identifier: MIT */
/* exec/kaio.c - the kernel-AIO executor: O_DIRECT reads and writes go to
 * one process-wide kernel AIO context, everything else to the worker pool.
 *
 * Where io_uring is refused but kernel AIO is not (Docker's and
 * containerd's default seccomp profiles), no thread pool reaches kernel
 * AIO's O_DIRECT throughput on a small machine: 32 threads blocked in
 * pread reach about 0.6x of it here.  So O_DIRECT goes to the kernel's
 * own AIO, with RWF_NOWAIT: a request the kernel would block on inside
 * io_submit (an extending write that needs block allocation, a contended
 * inode lock) comes back -EAGAIN and is handed to the pool untouched.  A
 * short transfer is finished by the pool as well (only end of file may
 * shorten a read), so the event is the one kernel AIO without RWF_NOWAIT
 * would post.  A program's own RWF_NOWAIT is the program's: its -EAGAIN
 * is posted.
 *
 * States: a request is claimed (RUNNING) before io_submit, so a cancel
 * answers -EAGAIN as the kernel's AIO does for file I/O (SPEC: cancel);
 * one the kernel refused goes back to QUEUED (req_requeue) for the pool.
 *
 * Completion: every kernel iocb signals one eventfd (IOCB_FLAG_RESFD).
 * The kernel's completion ring is read in user space, as libaio's
 * user-space reaping does: no system call per reap.  One reader at a time
 * (cq_take): a thread in uaio_getevents (kaio_reap, and kaio_wait_fd
 * before it sleeps on the eventfd, so a completion wakes it directly), or
 * the completion thread ("uaio-kaio"), which serves programs that only
 * read their ring.  While getevents callers reap, that thread sleeps in
 * ticks of REAP_TICK_MS instead of being woken by every completion (a
 * wake-up costs ~100 us of a virtual CPU here); left alone, it sleeps on
 * the eventfd.
 *
 * Life: the kernel context, the eventfd and the thread start with the
 * first request and go with the last context on this executor.  A forked
 * child has none of them (the kernel does not share AIO contexts with a
 * child); it starts afresh.
 */
#include "check.h"
#include "exec/exec.h"
#include "trace.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KAIO_NR		1024	/* kernel events; requests in the kernel at most */
#define CQ_BATCH	64
#define REAP_TICK_MS	2	/* the thread's sleep while getevents callers reap */
#define LOST_TICK_MS	10	/* ...and while its eventfd is not ours */

/* Lock order: K.life is taken with no other uaio lock held; K.efd_lock
 * is a leaf. */
static struct {
	pthread_mutex_t life;	/* protects users, thread; start and teardown */
	unsigned users;		/* contexts on this executor */
	_Atomic bool up;	/* context, eventfd and thread exist; written under life */
	aio_context_t kctx;	/* set before up */
	bool user_reap;		/* kctx's ring has the layout kring_reap reads */
	pthread_t thread;
	pthread_mutex_t efd_lock;	/* protects efd, efd_id and efd_lost changes */
	_Atomic int efd;	/* the eventfd every iocb signals; relaxed: a number */
	struct fd_id efd_id;	/* what efd named when we made it */
	_Atomic bool efd_lost;	/* efd is not ours now; relaxed: a hint, rechecked */
	_Atomic long inkernel;	/* iocbs the kernel took whose event is not handled */
	_Atomic int quit;	/* the last context is gone: the thread exits */
	_Atomic uint32_t tick;	/* futex word of the thread's timed sleep */
	_Atomic int cq_owner;	/* 1 while a thread reads the completion ring */
	_Atomic long last_reap;	/* CLOCK_MONOTONIC_COARSE ms of a getevents reap */
} K = { .life = PTHREAD_MUTEX_INITIALIZER, .efd_lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

static __thread bool cq_self;	/* this thread is the completion thread */

static long sys_io_setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long sys_io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long sys_io_submit(aio_context_t ctx, long n, struct iocb **v)
{
	return syscall(SYS_io_submit, ctx, n, v);
}

static long sys_io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev,
			     struct timespec *ts)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, ts);
}

/* ---- which requests go to the kernel ---- */

/* O_DIRECT reads and writes, untouched so far and not under fault
 * injection; the rest is the pool's.  None while uaio intercepts the AIO
 * system calls (uaio_intercept_syscalls): its filter would trap our own
 * io_submit (it covers every executable mapping, this library's too). */
static bool kernel_takes(const struct uaio_req *req)
{
	unsigned op = req->cb.aio_lio_opcode;

	return !intercept_is_active() && req->kind == KIND_FILE && (req->fl & O_DIRECT) &&
	       !req->done && !req->fault &&
	       (op == IOCB_CMD_PREAD || op == IOCB_CMD_PWRITE || op == IOCB_CMD_PREADV ||
		op == IOCB_CMD_PWRITEV);
}

static bool user_nowait(const struct uaio_req *req)
{
	return req->cb.aio_rw_flags & RWF_NOWAIT;
}

/* Reads (and the program's own RWF_NOWAIT writes) go to the kernel as
 * they are: whatever it answers is the event, as with kernel AIO, and
 * nothing needs the file after io_submit, which takes the kernel's own
 * reference.  So they run on the caller's descriptor, without the
 * duplicate (two system calls per submit) a hand-back would need.  A
 * read has nothing to allocate: what could block it in io_submit (an
 * extent block not cached, a writer's inode lock) blocks kernel AIO's
 * io_submit alike.  Writes get RWF_NOWAIT and a duplicate: an extending
 * write would wait for block allocation. */
static bool kaio_holds_file(const struct uaio_req *req)
{
	return kernel_takes(req) && (!op_is_write(req->cb.aio_lio_opcode) || user_nowait(req));
}

/* The kernel may hand req back (RWF_NOWAIT): it holds a duplicate. */
static bool may_hand_back(const struct uaio_req *req)
{
	return req->fd_ref && !user_nowait(req);
}

/* ---- the eventfd ---- */

/* A new eventfd for the iocbs to come; the old number, if any, is the
 * program's now and stays open.  efd_lock held. */
static void efd_make_locked(void)
{
	struct fd_id id;
	int fd = fd_move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));

	if (fd >= 0 && !fd_id_take(fd, &id)) {
		close(fd);
		fd = -1;
	}
	/* relaxed: readers take the number as a hint and check it */
	atomic_store_explicit(&K.efd, fd, memory_order_relaxed);
	if (fd >= 0)
		K.efd_id = id;
	atomic_store_explicit(&K.efd_lost, fd < 0, memory_order_relaxed);	/* a hint */
}

/* Is efd still our eventfd?  If not (the program closed it, or put
 * another file in its place), makes a new one for later iocbs. */
static bool efd_check(void)
{
	bool ok;

	pthread_mutex_lock(&K.efd_lock);
	ok = atomic_load_explicit(&K.efd, memory_order_relaxed) >= 0 &&	/* efd_lock held */
	     !atomic_load_explicit(&K.efd_lost, memory_order_relaxed) &&
	     fd_id_same(atomic_load_explicit(&K.efd, memory_order_relaxed), &K.efd_id);
	if (!ok)
		efd_make_locked();
	pthread_mutex_unlock(&K.efd_lock);
	return ok;
}

/* Clears the eventfd's count: completions after this signal it again. */
static void efd_clear(int fd)
{
	eventfd_t junk;

	if (fd >= 0)
		(void)!read(fd, &junk, sizeof(junk));
}

/* ---- the completion side ---- */

/* One reader of the completion ring at a time.  acquire/release: the
 * previous reader's head and request updates are seen by the next. */
static bool cq_take(void)
{
	return atomic_exchange_explicit(&K.cq_owner, 1, memory_order_acquire) == 0;
}

static void cq_give(void)
{
	atomic_store_explicit(&K.cq_owner, 0, memory_order_release);
}

/* Owner only: up to max events from the kernel; their slots are free
 * once head moves. */
static int cq_read(struct io_event *ev, int max)
{
	if (!K.user_reap) {
		struct timespec zero = { 0, 0 };
		long got = sys_io_getevents(K.kctx, 0, max, ev, &zero);

		return got > 0 ? (int)got : 0;
	}
	return kring_reap(K.kctx, ev, max);
}

static bool no_keep(struct uaio_req *req)
{
	(void)req;
	return false;
}

/* What the kernel did not finish (refused, or short), RUNNING: nothing
 * of it is lost; the pool does the rest, from req->done on.  One on the
 * caller's descriptor (refused inside the submit call) first takes a
 * reference; without a descriptor for it, the submitter runs it, as
 * submit does (hold_file). */
static void hand_back(struct uaio_req *req)
{
	if (!req_hold_file(req)) {
		req_complete(req, req_run_blocking(req));
		return;
	}
	req_requeue(req);
	exec_fallback(&req, 1);
}

/* Owner only: handles one batch of completions; returns how many. */
static int cq_drain(void)
{
	struct io_event ev[CQ_BATCH];
	struct uaio_req *done[CQ_BATCH];
	int64_t res[CQ_BATCH];
	int n = cq_read(ev, CQ_BATCH), nd = 0;

	/* acquire: pairs with kernel_send's release (see there). */
	(void)atomic_load_explicit(&K.inkernel, memory_order_acquire);

	for (int i = 0; i < n; i++) {
		struct uaio_req *req = (struct uaio_req *)(uintptr_t)ev[i].data;
		int64_t r = ev[i].res;

		if (may_hand_back(req) && (r == -EAGAIN || r == -EOPNOTSUPP ||
					   (r > 0 && (size_t)r < req->total))) {
			req->done = r > 0 ? (size_t)r : 0;
			hand_back(req);
			continue;
		}
		done[nd] = req;
		res[nd++] = r;
	}
	req_complete_many(done, res, nd, no_keep);
	/* relaxed: a count; the owner flag orders the updates. */
	atomic_fetch_sub_explicit(&K.inkernel, n, memory_order_relaxed);
	return n;
}

/* Drains while it can be the reader; another reader drains for us. */
static void drain_all(void)
{
	while (cq_take()) {
		int n = cq_drain();

		cq_give();
		if (n < CQ_BATCH)
			return;
	}
}

/* A thread in uaio_getevents takes what the kernel finished, without a
 * system call when nothing did. */
static void kaio_reap(void)
{
	/* acquire: pairs with kctx_up's release; the context is set up.
	 * relaxed count: a hint, a completion after it is seen next time. */
	if (!atomic_load_explicit(&K.up, memory_order_acquire) ||
	    atomic_load_explicit(&K.inkernel, memory_order_relaxed) <= 0)
		return;
	if (!cq_self)	/* relaxed: a hint for the completion thread's sleep */
		atomic_store_explicit(&K.last_reap, mono_coarse_ms(), memory_order_relaxed);
	drain_all();
}

/* A getevents caller about to sleep watches the eventfd when requests
 * are in the kernel: their completions wake it directly and it reaps
 * them itself.  The count is cleared and the ring drained first, so that
 * a readable eventfd always means a completion after this. */
static int kaio_wait_fd(void)
{
	int fd;

	/* acquire: see kaio_reap; relaxed count: a stale one costs a futex sleep. */
	if (!atomic_load_explicit(&K.up, memory_order_acquire) ||
	    atomic_load_explicit(&K.inkernel, memory_order_relaxed) <= 0)
		return -1;
	if (!efd_check())	/* checked, not trusted: /dev/null in its place is always readable */
		return -1;
	fd = atomic_load_explicit(&K.efd, memory_order_relaxed);	/* checked just now */
	efd_clear(fd);
	kaio_reap();
	return fd;
}

/* The thread's sleep: ticks while getevents callers reap (they are woken
 * by the eventfd themselves), else on the eventfd, in slices of at most
 * FD_SLEEP_MAX_MS (a descriptor closed under a sleep is never signalled). */
static void cq_sleep(void)
{
	/* relaxed: hints; a wrong guess costs one tick or one wake-up */
	long since = mono_coarse_ms() - atomic_load_explicit(&K.last_reap, memory_order_relaxed);
	bool lost = atomic_load_explicit(&K.efd_lost, memory_order_relaxed);
	int fd = atomic_load_explicit(&K.efd, memory_order_relaxed);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (since <= REAP_TICK_MS * 4 || lost || fd < 0) {
		long ms = lost || fd < 0 ? LOST_TICK_MS : REAP_TICK_MS;
		/* relaxed: the futex compares it; kctx_down bumps it to wake us */
		uint32_t t = atomic_load_explicit(&K.tick, memory_order_relaxed);
		struct timespec abs;

		clock_gettime(CLOCK_MONOTONIC, &abs);
		abs.tv_nsec += ms * 1000000;
		if (abs.tv_nsec >= 1000000000) {
			abs.tv_sec++;
			abs.tv_nsec -= 1000000000;
		}
		futex_wait_abs(&K.tick, t, &abs, true);
		if (lost)
			efd_check();
		return;
	}
	if (poll(&p, 1, FD_SLEEP_MAX_MS) <= 0 || (p.revents & POLLNVAL)) {
		efd_check();	/* idle or closed: is it still ours? */
		return;
	}
	if (efd_check())	/* never take a count from the program's own eventfd */
		efd_clear(fd);
}

static void *cq_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "uaio-kaio");
	cq_self = true;
	for (;;) {
		/* acquire: pairs with kctx_down's release of quit; relaxed
		 * count: it reaches 0 for good only after quit. */
		if (atomic_load_explicit(&K.quit, memory_order_acquire) &&
		    atomic_load_explicit(&K.inkernel, memory_order_relaxed) == 0)
			break;
		drain_all();
		cq_sleep();
	}
	return NULL;
}

/* ---- the submit side ---- */

static int kctx_up(void);

/* The kernel context starts with the first request, not at setup. */
static bool kctx_ready(void)
{
	int r = 0;

	/* acquire: pairs with kctx_up's release; the context is set up. */
	if (atomic_load_explicit(&K.up, memory_order_acquire))
		return true;
	pthread_mutex_lock(&K.life);
	if (!atomic_load_explicit(&K.up, memory_order_relaxed))	/* relaxed: life orders it */
		r = kctx_up();
	pthread_mutex_unlock(&K.life);
	return r == 0;
}

/* 0 when the kernel will take req (or could, once started), else
 * EXEC_FALLBACK: the pool (or the poller) runs it. */
static int kaio_reserve(const struct uaio_req *req)
{
	if (!kernel_takes(req))
		return EXEC_FALLBACK;
	return kctx_ready() ? 0 : EXEC_FALLBACK;
}

static void kiocb_fill(struct iocb *k, struct uaio_req *req, int efd)
{
	bool wr = op_is_write(req->cb.aio_lio_opcode);

	memset(k, 0, sizeof(*k));
	k->aio_data = (uint64_t)(uintptr_t)req;
	k->aio_lio_opcode = wr ? IOCB_CMD_PWRITEV : IOCB_CMD_PREADV;
	k->aio_fildes = (uint32_t)req->fd;	/* the request's own reference */
	k->aio_buf = (uint64_t)(uintptr_t)req->iov;
	k->aio_nbytes = (uint64_t)req->niov;
	k->aio_offset = req->cb.aio_offset;
	k->aio_rw_flags = req->cb.aio_rw_flags | (may_hand_back(req) ? RWF_NOWAIT : 0);
	if (req->cb.aio_flags & IOCB_FLAG_IOPRIO) {
		k->aio_flags |= IOCB_FLAG_IOPRIO;
		k->aio_reqprio = req->cb.aio_reqprio;
	}
	if (efd >= 0) {
		k->aio_flags |= IOCB_FLAG_RESFD;
		k->aio_resfd = (uint32_t)efd;
	}
}

/* Sends n claimed requests; what the kernel refuses goes to the pool.
 * A refusal with our eventfd gone (the program closed it) is retried
 * once with a new one. */
static void kernel_send(struct uaio_req **reqs, int n)
{
	struct iocb kcb[n], *v[n];
	int efd = atomic_load_explicit(&K.efd, memory_order_relaxed);	/* refused if stale */
	bool retried = false;

	for (int i = 0; i < n; i++) {
		if (unlikely(g_check))
			check_before_write(reqs[i]);	/* the kernel takes the data from here on */
		kiocb_fill(&kcb[i], reqs[i], efd);
		v[i] = &kcb[i];
		if (unlikely(g_trace))	/* before the release below: the reaper reads it */
			trace_start(reqs[i], TR_KAIO);
	}
	/* release: raised before the kernel can complete them, and, for
	 * ThreadSanitizer, which cannot see the kernel order them, the
	 * requests' contents before the reaper's acquire in cq_drain. */
	atomic_fetch_add_explicit(&K.inkernel, n, memory_order_release);
	for (int i = 0; i < n;) {
		long r = sys_io_submit(K.kctx, n - i, &v[i]);

		if (r > 0) {
			i += (int)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && !retried && !efd_check()) {
			retried = true;
			efd = atomic_load_explicit(&K.efd, memory_order_relaxed);	/* just made */
			for (int j = i; j < n; j++)
				kiocb_fill(&kcb[j], reqs[j], efd);
			continue;
		}
		/* relaxed: as above; this one never reached the kernel */
		atomic_fetch_sub_explicit(&K.inkernel, 1, memory_order_relaxed);
		hand_back(reqs[i++]);
	}
}

/* Requests of one context, QUEUED: O_DIRECT ones are claimed and sent in
 * one io_submit; the rest go to the pool. */
static void kaio_submit(struct uaio_req **reqs, int n)
{
	struct uaio_req *mine[n], *back[n];
	int nm = 0, nb = 0;

	for (int i = 0; i < n; i++) {
		struct uaio_req *req = reqs[i];

		if (!kernel_takes(req) || !kctx_ready()) {
			if (req->fd_ref)
				back[nb++] = req;
			else if (req_claim(req, REQ_QUEUED))	/* on the caller's descriptor */
				hand_back(req);
		} else if (req_claim(req, REQ_QUEUED))	/* false: cancelled, and freed */
			mine[nm++] = req;
	}
	if (nb)
		exec_fallback(back, nb);
	if (nm)
		kernel_send(mine, nm);
}

/* The one request of a submit call, an O_DIRECT read on cached flags
 * (exec.h): its own io_submit is the check.  That is the system call the
 * program would have made, on the program's descriptor, without
 * RWF_NOWAIT: whatever the number names now, the kernel does with it
 * what it would have done for the program, and what it would have refused
 * the program (-EBADF closed or not readable, -EINVAL a directory or no
 * read method, ...) it refuses here, inside io_submit; submit then takes
 * the request back and decides it again with fresh flags, so that the
 * error comes from submit.  (A pipe put on the number blocks io_submit
 * as it blocks the kernel's.)  -EAGAIN, a full kernel context, is taken
 * back too: fresh flags send it the usual way (the pool). */
static int kaio_submit_verify(struct uaio_req *req)
{
	struct iocb k, *v[1] = { &k };
	bool retried = false;
	long r;

	if (!kernel_takes(req) || !kctx_ready())
		return 1;
	if (!req_claim(req, REQ_QUEUED))	/* cancelled: its event is posted, freed */
		return 0;
	kiocb_fill(&k, req, atomic_load_explicit(&K.efd, memory_order_relaxed));	/* refused if stale */
	/* release: as in kernel_send. */
	atomic_fetch_add_explicit(&K.inkernel, 1, memory_order_release);
	for (;;) {
		r = sys_io_submit(K.kctx, 1, v);
		if (r == 1)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && !retried && !efd_check()) {
			retried = true;	/* our eventfd was gone, not the program's file */
			kiocb_fill(&k, req, atomic_load_explicit(&K.efd, memory_order_relaxed));
			continue;
		}
		break;
	}
	/* relaxed: as in kernel_send; this one never reached the kernel */
	atomic_fetch_sub_explicit(&K.inkernel, 1, memory_order_relaxed);
	return 1;
}

/* ---- the kernel context's life ---- */

/* K.life held. */
static int kctx_up(void)
{
	pthread_attr_t attr;
	aio_context_t kctx = 0;
	int r;

	if (sys_io_setup(KAIO_NR, &kctx) < 0)
		return -errno;
	K.kctx = kctx;
	K.user_reap = kring_readable(kctx);
	if (K.user_reap) {	/* a forked child must not see the parent's ring */
		const struct kaio_ring *r = (const struct kaio_ring *)(uintptr_t)kctx;

		madvise((void *)(uintptr_t)kctx, (sizeof(*r) + r->nr * sizeof(struct io_event) +
						  PAGE_SZ - 1) & ~(PAGE_SZ - 1), MADV_DONTFORK);
	}
	pthread_mutex_lock(&K.efd_lock);
	efd_make_locked();
	pthread_mutex_unlock(&K.efd_lock);
	atomic_store_explicit(&K.inkernel, 0, memory_order_relaxed);	/* no thread yet */
	atomic_store_explicit(&K.quit, 0, memory_order_relaxed);	/* no thread yet */
	atomic_store_explicit(&K.cq_owner, 0, memory_order_relaxed);	/* published by up */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	thread_block_signals_attr(&attr);
	r = pthread_create(&K.thread, &attr, cq_main, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		sys_io_destroy(kctx);
		pthread_mutex_lock(&K.efd_lock);
		if (atomic_load_explicit(&K.efd, memory_order_relaxed) >= 0)	/* efd_lock held */
			close(atomic_load_explicit(&K.efd, memory_order_relaxed));
		atomic_store_explicit(&K.efd, -1, memory_order_relaxed);
		pthread_mutex_unlock(&K.efd_lock);
		return -ENOMEM;
	}
	/* release: the context is set up before a submitter sees up. */
	atomic_store_explicit(&K.up, true, memory_order_release);
	return 0;
}

/* K.life held, and no request is in the kernel (the last context is
 * gone): the thread leaves, then the context and the eventfd go. */
static void kctx_down(void)
{
	int fd;

	/* release: pairs with cq_main's acquire. */
	atomic_store_explicit(&K.quit, 1, memory_order_release);
	/* relaxed: the futex and the eventfd carry the wake-up */
	atomic_fetch_add_explicit(&K.tick, 1, memory_order_relaxed);
	futex_wake(&K.tick, 1, true);
	pthread_mutex_lock(&K.efd_lock);
	fd = atomic_load_explicit(&K.efd, memory_order_relaxed);	/* efd_lock held */
	if (fd >= 0 && fd_id_same(fd, &K.efd_id))
		eventfd_write(fd, 1);
	pthread_mutex_unlock(&K.efd_lock);
	pthread_join(K.thread, NULL);
	/* release: a reaper that looks after this sees up false. */
	atomic_store_explicit(&K.up, false, memory_order_release);
	while (!cq_take())	/* a reaper may still be draining: wait, then keep it */
		sched_yield();
	sys_io_destroy(K.kctx);
	K.kctx = 0;
	pthread_mutex_lock(&K.efd_lock);
	if (fd >= 0 && fd == atomic_load_explicit(&K.efd, memory_order_relaxed) &&
	    fd_id_same(fd, &K.efd_id))
		close(fd);
	atomic_store_explicit(&K.efd, -1, memory_order_relaxed);
	pthread_mutex_unlock(&K.efd_lock);
	cq_give();
}

/* ---- does kernel AIO work here?  Asked once per process. ---- */

static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;	/* protects probe_res, probed */
static int probe_res;
static bool probed;

/* Maps io_setup's failure to setup's answer: -ENOSYS (no kernel AIO),
 * -EPERM (seccomp), else -ENOMEM (aio-max-nr, memory). */
static int setup_errno(int e)
{
	if (e == ENOSYS || e == EPERM || e == EACCES)
		return e == ENOSYS ? -ENOSYS : -EPERM;
	return -ENOMEM;
}

static int kaio_probe(void)
{
	int r;

	pthread_mutex_lock(&probe_lock);
	if (!probed && intercept_is_active()) {
		/* io_setup would be trapped and served by uaio: the kernel is
		 * never asked now (kernel_takes), the pool does the work. */
		pthread_mutex_unlock(&probe_lock);
		return 0;
	}
	if (!probed) {
		aio_context_t c = 0;

		if (sys_io_setup(1, &c) == 0) {
			sys_io_destroy(c);
			probe_res = 0;
		} else {
			probe_res = setup_errno(errno);
		}
		/* out of aio-max-nr or memory now says nothing for later */
		probed = probe_res != -ENOMEM;
	}
	/* -ENOMEM: the context starts; its O_DIRECT goes to the pool until
	 * the kernel context can start (kctx_ready). */
	r = probe_res == -ENOMEM ? 0 : probe_res;
	pthread_mutex_unlock(&probe_lock);
	return r;
}

static int kaio_ctx_init(struct uaio_ctx *ctx)
{
	int r = kaio_probe();

	(void)ctx;
	if (r < 0)
		return r;
	pthread_mutex_lock(&K.life);
	K.users++;
	pthread_mutex_unlock(&K.life);
	return 0;
}

static void kaio_ctx_fini(struct uaio_ctx *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&K.life);
	if (--K.users == 0 && atomic_load_explicit(&K.up, memory_order_relaxed)) /* life orders it */
		kctx_down();
	pthread_mutex_unlock(&K.life);
}

/* ---- fork ---- */

static void kaio_atfork_prepare(void)
{
	pthread_mutex_lock(&probe_lock);
	pthread_mutex_lock(&K.life);
	pthread_mutex_lock(&K.efd_lock);
}

static void kaio_atfork_parent(void)
{
	pthread_mutex_unlock(&K.efd_lock);
	pthread_mutex_unlock(&K.life);
	pthread_mutex_unlock(&probe_lock);
}

/* The child has no kernel context (the kernel does not give it the
 * parent's) and no thread; it closes the eventfd and starts afresh. */
static void kaio_atfork_child(void)
{
	int fd = atomic_load_explicit(&K.efd, memory_order_relaxed);	/* single-threaded here */

	if (fd >= 0 && fd_id_same(fd, &K.efd_id))
		close(fd);
	atomic_store_explicit(&K.efd, -1, memory_order_relaxed);	/* single-threaded here */
	atomic_store_explicit(&K.efd_lost, false, memory_order_relaxed);
	atomic_store_explicit(&K.up, false, memory_order_relaxed);
	atomic_store_explicit(&K.inkernel, 0, memory_order_relaxed);
	atomic_store_explicit(&K.quit, 0, memory_order_relaxed);
	atomic_store_explicit(&K.cq_owner, 0, memory_order_relaxed);
	K.kctx = 0;
	K.users = 0;
	/* the forking thread took them in prepare: unlocked, not overwritten,
	 * so that ThreadSanitizer's view of them stays right */
	pthread_mutex_unlock(&K.efd_lock);
	pthread_mutex_unlock(&K.life);
	pthread_mutex_unlock(&probe_lock);
}

const struct exec_ops exec_kaio = {
	.name = "kaio",
	.probe = kaio_probe,
	.ctx_init = kaio_ctx_init,
	.ctx_fini = kaio_ctx_fini,
	.reserve = kaio_reserve,
	.submit = kaio_submit,
	.reap = kaio_reap,
	.wait_fd = kaio_wait_fd,
	.atfork_prepare = kaio_atfork_prepare,
	.atfork_parent = kaio_atfork_parent,
	.atfork_child = kaio_atfork_child,
	.fallback = &exec_threads,
	.holds_file = kaio_holds_file,
	.submit_verify = kaio_submit_verify,
};
