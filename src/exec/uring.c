/* SPDX-License-Identifier: MIT */
/* exec/uring.c - the io_uring executor.
 *
 * One ring per process, shared by every context on this executor: a ring
 * costs a file descriptor, three mappings and locked memory, and SPEC §1
 * wants 65,536 contexts without an fd or a thread each.  The ring and its
 * completion thread live while at least one context uses them.
 *
 * Submit: a uaio_submit batch takes the SQ lock, fills one SQE per request
 * and enters the kernel once.  Completion: one thread ("uaio-uring",
 * signals blocked) sleeps on the ring's eventfd, takes the CQEs in batches
 * and posts them to the contexts' AIO rings with req_complete_many (one
 * lock and one wake-up per batch and context).  A thread in
 * uaio_getevents does the same when the CQ is free (uring_reap), so the
 * caller who reaps anyway need not wait for the completion thread.
 *
 * What goes to the ring: reads and writes on files that are not streams,
 * fsync, fdatasync and POLL.  A buffered read has already failed a
 * RWF_NOWAIT attempt at submit; it goes to the kernel's asynchronous
 * buffered read (no thread waits for it) and, started, cannot be withdrawn
 * (-EAGAIN), as O_DIRECT.  Buffered writes and syncs are flagged
 * IOSQE_ASYNC: they wait in io-wq's queue (capped like the pool,
 * UAIO_THREADS), where IORING_OP_ASYNC_CANCEL can still withdraw them, so
 * cancel behaves as on the threads executor.  Streams that cannot be tried
 * without blocking go to the worker pool.
 *
 * States: a read, write or sync is QUEUED while the kernel has it (the
 * kernel decides whether a cancel wins), RUNNING once it moved data and is
 * resubmitted for the rest.  A POLL is WAITING; cancel and the completion
 * thread race for it with one exchange, as with the poller.
 *
 * Cancel (cancel(2)): an ASYNC_CANCEL, then wait for the kernel's verdict
 * (0: withdrawn, the request's CQE brings -ECANCELED and we answer
 * -EINPROGRESS; anything else: -EAGAIN).  The request stays allocated
 * until the completion thread has handled the verdict (cancel_hold); a
 * -ECANCELED that overtakes its verdict is parked until the verdict says
 * whose it was.  Destroy sends its ASYNC_CANCELs without waiting.
 *
 * The kernel may withdraw a queued request by itself (its submitting
 * thread exited: io-wq cancels that thread's pending work).  Such a
 * request never started; it is sent again (IOSQE_ASYNC) or handed to the
 * worker pool.
 *
 * Files: an O_DIRECT read or write holds its file in a registered
 * file slot, not in a duplicate descriptor (submit.c asks holds_file).
 * An IORING_OP_FILES_UPDATE just before its SQE puts the file the
 * caller's descriptor names at that moment in the slot, inside the same
 * io_uring_enter, and the read or write uses the slot (IOSQE_FIXED_FILE;
 * see slot_take for why that order is safe without a link).
 * That saves the duplicate's two system calls (F_DUPFD_CLOEXEC, close)
 * and, above all, the close: closing any descriptor of a file releases
 * every POSIX record lock the process holds on it (fcntl F_SETLK), which
 * a program's own lock must not suffer from its I/O.  A finished
 * request's slot is reused by the next request, or emptied by the
 * completion thread within a tick (REAP_TICK_MS) so that the file is not
 * held after its event, as the kernel's AIO drops its reference then.
 * With no slot free (or no table: before 5.19, or RLIMIT_NOFILE 0) the
 * request gets a duplicate, as before.
 *
 * The ring is created with the first request (so setup opens no
 * descriptor) and released, with its thread, by the last context's
 * destroy.  A forked child never sees it: its mappings are MADV_DONTFORK
 * and the child closes the descriptors.
 */
#include "check.h"
#include "exec/exec.h"
#include "trace.h"
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define SQ_ENTRIES	256
#define CQ_ENTRIES	8192	/* a full CQ spills into the kernel's list (NODROP) */
#define CQE_BATCH	64
#define READ_ONE_MAX	(128u << 10)	/* see async_read_fits */
#define READ_BUDGET	(512u << 10)

#define REAP_TICK_MS	2	/* the thread's look while getevents callers reap */
#define CLEAR_TRIES	8	/* slots_clear gives way to submitters this often in a row */
#define LOST_TICK_MS	10	/* lost ring: the completion thread looks this often */
#define LOST_GIVEUP	100	/* ...and, unable to enter it, gives up after this many
				 * empty looks once the last context is gone */

#define TAG_NONE	0ULL	/* a fire-and-forget cancel, the wake-up NOP, a slot update */
#define TAG_WAIT	1ULL	/* low bit set: a struct cancel_wait */
#define TAG_INSTALL	2ULL	/* bit 1 set: the request whose slot's file is being installed */
#define TAG_QUIET	4ULL	/* a slot update that posts a CQE only if it fails; not
				 * counted in U.inkernel (see sqe_get_quiet) */

/* IORING_OP_FIXED_FD_INSTALL (Linux 6.8; Debian 12's headers stop at
 * IORING_OP_SENDMSG_ZC, 48): a descriptor for a registered file.  Used
 * only after slots_up has seen it do that (install_probe). */
#define OP_FIXED_FD_INSTALL	54

#define FILE_SLOTS	1024	/* registered file slots at most (RLIMIT_NOFILE bounds them too) */

/* What a canceller asked of the kernel (IORING_OP_ASYNC_CANCEL). */
enum { CANCEL_ASKED_NONE, CANCEL_ASKED_WAIT, CANCEL_ASKED_NOWAIT, CANCEL_ASKED_WON };

/* What this executor keeps in a request: req->exec_priv, zero when the
 * request comes to uring_submit. */
struct uring_req {
	struct iovec *rest;		/* iovecs for what is left, or NULL; freed with req */
	bool in_exec;			/* uring_cancel decides for it: active_lock */
	unsigned char cancel_asked;	/* CANCEL_ASKED_*: active_lock */
	bool cancel_hold;		/* a cancel verdict is due; its handler frees it: active_lock */
	bool orphan;			/* completed while held: active_lock */
	bool parked;			/* answered -ECANCELED before the verdict: active_lock */
	bool async;			/* sent again with IOSQE_ASYNC (see retry_withdrawn()) */
	bool sub_hold;			/* submit_verify still looks at it: active_lock */
	bool probe;			/* first sent with RWF_NOWAIT (submit_verify) */
	int bounced;			/* its answer at issue, kept for submit_verify: active_lock */
	unsigned short slot;		/* its file's registered slot + 1, or 0 (fd_ref: a duplicate) */
};
_Static_assert(sizeof(struct uring_req) <= EXEC_PRIV_SIZE, "struct uring_req outgrew exec_priv");
_Static_assert(_Alignof(struct uring_req) <= _Alignof(void *), "exec_priv is aligned for pointers");

static struct uring_req *ur(struct uaio_req *req)
{
	return (struct uring_req *)(void *)req->exec_priv;
}

/* A canceller waiting for the kernel's verdict on its ASYNC_CANCEL. */
struct cancel_wait {
	struct uaio_req *req;	/* held (cancel_hold) until the verdict is handled */
	_Atomic uint32_t done;	/* futex word: 0 -> 1 by the completion thread */
	int res;		/* the ASYNC_CANCEL's result, written before done */
};

/* Lock order: ctx->active_lock, then U.sq_lock.  U.life is taken with no
 * other uaio lock held (fork's prepare takes it after the table lock). */
static struct {
	pthread_mutex_t life;	/* protects users, cap, thread; start and teardown */
	unsigned users;		/* contexts on this executor */
	_Atomic bool up;	/* ring and thread exist; written under life */
	unsigned cap;		/* io-wq bounded worker cap last applied */
	pthread_t thread;
	pthread_mutex_t sq_lock;	/* protects the ring's SQ side and read_budget */
	size_t read_budget;	/* bytes of buffered reads the next enter may still
				 * send without IOSQE_ASYNC (see prep_rw) */
	struct io_uring ring;	/* CQ side: the completion thread only */
	int efd;		/* eventfd the kernel signals on every CQE */
	/* Written by ring_up, then by the completion thread under sq_lock: */
	bool efd_lost;		/* efd is no longer ours; the thread sleeps on the ring */
	struct fd_id efd_id;	/* what efd named when we made it */
	int reg_fd;		/* the thread's registered index of the ring, or -1 */
	unsigned char reg_flags;	/* U.ring.int_flags with that index in use */
	bool reg_on;		/* U.ring enters through reg_fd (sq_lock and the CQ held) */
	unsigned char plain_flags;	/* U.ring.int_flags as liburing set it up */
	struct fd_id ring_id;	/* what the ring descriptor named; set before up */
	/* The ring descriptor is no longer ours (closed or replaced by the
	 * program): only the completion thread enters the ring, through its
	 * registered index; new requests go to the pool.  Set once; ring_up
	 * clears it. */
	_Atomic bool lost;
	_Atomic long inkernel;	/* SQEs whose CQE is not handled yet (TAG_QUIET ones aside) */
	bool quiet_ok;		/* IOSQE_CQE_SKIP_SUCCESS works (5.17); set before up */
	_Atomic int quit;	/* the last context is gone: exit when idle */
	_Atomic int cq_owner;	/* 1 while a thread reads the CQ (cq_take) */
	_Atomic long last_reap;	/* CLOCK_MONOTONIC_COARSE ms of a getevents reap */
	_Atomic uint32_t tick;	/* futex word of the thread's timed sleep */
} U = { .life = PTHREAD_MUTEX_INITIALIZER, .sq_lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1,
      .reg_fd = -1 };

static __thread bool cq_self;	/* this thread is the completion thread */

/* Registered file slots (see the top of this file).  Lock order: U.sq_lock,
 * then S.lock, a leaf. */
static struct {
	pthread_mutex_t lock;	/* protects the two stacks */
	/* Slots registered, 0 for none; set by ring_up before up's release,
	 * cleared by ring_down with no context left: read after an acquire
	 * of up (submit's reserve, ring_ready). */
	unsigned n;
	int fd[FILE_SLOTS];	/* the descriptor a slot's update reads at issue: sq_lock */
	bool install;		/* OP_FIXED_FD_INSTALL works: set with n */
	unsigned short dirty[FILE_SLOTS];	/* free, still holding a finished request's file */
	unsigned short clean[FILE_SLOTS];	/* free and empty */
	unsigned ndirty, nclean;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* ---- a ring descriptor taken away ---- */

static bool ring_lost(void)
{
	/* acquire: pairs with mark_lost; a cheap flag, read on every submit */
	return atomic_load_explicit(&U.lost, memory_order_acquire);
}

static void mark_lost(void)
{
	/* release: pairs with ring_lost's acquire */
	atomic_store_explicit(&U.lost, true, memory_order_release);
}

/* io_uring_enter's answers that our ring never gives: the descriptor
 * was closed (EBADF) or now names another file (ENOTTY, EOPNOTSUPP), or
 * the ring is going away (ENXIO). */
static bool lost_errno(int r)
{
	return r == -EBADF || r == -ENOTTY || r == -EOPNOTSUPP || r == -ENXIO;
}

/* Is the ring descriptor still our ring?  Marks the ring lost if not. */
static bool ring_check(void)
{
	if (ring_lost())
		return false;
	if (fd_id_same(U.ring.ring_fd, &U.ring_id))
		return true;
	mark_lost();
	return false;
}

/* sq_lock held: wakes the completion thread, which enters a lost ring
 * for everyone.  Only through an eventfd still ours. */
static void kick(void)
{
	if (!U.efd_lost && fd_id_same(U.efd, &U.efd_id))
		eventfd_write(U.efd, 1);
}

/* ---- the SQ side (U.sq_lock held) ---- */

/* Enters the kernel with every queued SQE; retries transient refusals.
 * 0: entered; 1: queued for the completion thread (the ring is lost and
 * only that thread can enter it); -errno: not entered. */
static int sq_flush(void)
{
	int r = 0;

	/* release: what we wrote to the requests (and cancel_waits) whose
	 * SQEs go in now is seen by cq_main after its acquire.  The kernel's
	 * hand-off orders it too, but neither C11 nor TSan can see that. */
	atomic_fetch_add_explicit(&U.inkernel, 0, memory_order_release);
	U.read_budget = READ_BUDGET;	/* for the SQEs of the next enter */
	if (ring_lost() && !U.reg_on) {	/* never enter a descriptor not ours */
		kick();
		return U.reg_fd >= 0 ? 1 : -EBADF;
	}
	for (int tries = 0; io_uring_sq_ready(&U.ring) && tries < 1000; tries++) {
		r = io_uring_submit(&U.ring);
		if (r < 0 && lost_errno(r) && !U.reg_on) {
			mark_lost();
			kick();
			return r;
		}
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			break;
		if (r <= 0)
			sched_yield();
	}
	return r < 0 ? r : 0;
}

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&U.ring);

	if (!sqe && sq_flush() == 0)
		sqe = io_uring_get_sqe(&U.ring);
	if (sqe)	/* relaxed: a count; sq_flush publishes */
		atomic_fetch_add_explicit(&U.inkernel, 1, memory_order_relaxed);
	return sqe;
}

/* An SQE for a slot update.  Its success needs no answer (a failed one
 * leaves the slot empty, which its request finds: -EBADF), so with
 * IOSQE_CQE_SKIP_SUCCESS the kernel posts no CQE for it unless it fails:
 * half the CQEs of an O_DIRECT read, with their eventfd signals and the
 * wake-ups those cause, are gone.  Such an SQE is not counted in
 * inkernel, and its CQE, if any, is not taken off it (TAG_QUIET).  The
 * prep clears the flags: quiet_mark after it. */
static struct io_uring_sqe *sqe_get_quiet(void)
{
	struct io_uring_sqe *sqe;

	if (!U.quiet_ok)
		return sqe_get();
	sqe = io_uring_get_sqe(&U.ring);
	if (!sqe && sq_flush() == 0)
		sqe = io_uring_get_sqe(&U.ring);
	return sqe;
}

static void quiet_mark(struct io_uring_sqe *sqe)
{
	if (U.quiet_ok)
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
	io_uring_sqe_set_data64(sqe, U.quiet_ok ? TAG_QUIET : TAG_NONE);
}

/* True when n SQEs can be had without an enter in between. */
static bool sq_room(unsigned n)
{
	if (io_uring_sq_space_left(&U.ring) < n)
		(void)sq_flush();
	return io_uring_sq_space_left(&U.ring) >= n;
}

/* After an enter that failed, the last `left` SQEs queued did not go in.
 * Walking back from the last one queued: sqe, if among them, becomes a
 * NOP (whoever enters next sends it empty, so its request never runs
 * twice).  Returns how many of those not entered are before it. */
static unsigned sq_unqueue(struct io_uring_sqe *sqe, unsigned left)
{
	bool quiet;

	if (!left)
		return 0;
	quiet = sqe->user_data == TAG_QUIET;	/* uncounted: its NOP's CQE stays so */
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, quiet ? TAG_QUIET : TAG_NONE);
	return left - 1;
}

/* ---- registered file slots ---- */

/* A free slot, one still holding a finished request's file first (the
 * update replaces it: no separate emptying); -1 if none. */
static int fslot_get(void)
{
	int k = -1;

	pthread_mutex_lock(&S.lock);
	if (S.ndirty)
		k = S.dirty[--S.ndirty];
	else if (S.nclean)
		k = S.clean[--S.nclean];
	pthread_mutex_unlock(&S.lock);
	return k;
}

/* k's request is done with it; the file stays in it until the slot is
 * reused or emptied (slots_clear). */
static void fslot_put(unsigned k)
{
	pthread_mutex_lock(&S.lock);
	S.dirty[S.ndirty++] = (unsigned short)k;
	pthread_mutex_unlock(&S.lock);
}

/* Queues the update that puts fd's file in slot k (room checked). */
static struct io_uring_sqe *slot_update(int k, int fd)
{
	struct io_uring_sqe *sqe = sqe_get_quiet();

	S.fd[k] = fd;
	io_uring_prep_files_update(sqe, &S.fd[k], 1, k);
	quiet_mark(sqe);
	return sqe;
}

/* req runs on the caller's descriptor (uring_holds_file), valid only
 * during the submit call, which this is: its file goes into a slot by an
 * update SQE just before req's own, both in the coming enter.  The kernel
 * issues them in order, each at once (an update never waits), and an
 * update empties the slot before it looks the descriptor up: if that
 * fails (closed meanwhile), req finds the slot empty and fails -EBADF,
 * never reading a file left there before.  (Not IOSQE_IO_LINK: a linked
 * SQE is issued from task work after the enter, which cost a third of
 * the throughput of O_DIRECT reads at batch 1.)  Without a slot, or room
 * for the two SQEs, req gets a duplicate instead.  False if it cannot
 * have either.  *upd: the update SQE, if queued.  sq_lock held. */
static bool slot_take(struct uaio_req *req, struct io_uring_sqe **upd)
{
	struct uring_req *u = ur(req);
	int k;

	if (u->slot || req->fd_ref)
		return true;
	if (!sq_room(2) || (k = fslot_get()) < 0)
		return req_hold_file(req);
	u->slot = (unsigned short)(k + 1);
	*upd = slot_update(k, req->fd);
	return true;
}

/* The completion thread, before it sleeps: empties the slots finished
 * requests left their files in, so that no file is held for long after
 * its event (a deleted file's blocks, a flock, a pipe's other end).
 * The SQEs run in order: a slot reused after this is filled after it is
 * emptied.  A submitter holds sq_lock through its enter: waiting for it
 * made every such submitter pay a futex wake-up, so unless told to wait
 * (wait), this gives up when sq_lock is taken (false) and is tried again
 * after the next sleep; cq_main waits after CLEAR_TRIES of those. */
static bool slots_clear(bool wait)
{
	static int none = -1;	/* read by the kernel at issue; never written */
	bool any = false;

	if (wait)
		pthread_mutex_lock(&U.sq_lock);
	else if (pthread_mutex_trylock(&U.sq_lock) != 0)
		return false;
	pthread_mutex_lock(&S.lock);
	while (S.ndirty && io_uring_sq_space_left(&U.ring) > 0) {
		unsigned k = S.dirty[--S.ndirty];
		struct io_uring_sqe *sqe = sqe_get_quiet();

		io_uring_prep_files_update(sqe, &none, 1, k);
		quiet_mark(sqe);
		S.clean[S.nclean++] = (unsigned short)k;
		any = true;
	}
	pthread_mutex_unlock(&S.lock);
	if (any)
		(void)sq_flush();
	pthread_mutex_unlock(&U.sq_lock);
	return true;
}

/* Any slot still holding a file? */
static bool slots_dirty(void)
{
	bool r;

	pthread_mutex_lock(&S.lock);
	r = S.ndirty > 0;
	pthread_mutex_unlock(&S.lock);
	return r;
}

/* ring_up, before the completion thread: does OP_FIXED_FD_INSTALL give a
 * descriptor for the file in a slot?  Tried on the ring's own eventfd in
 * slot 0: the new descriptor must name it. */
static bool install_probe(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int none = -1, fd = -1;
	bool ok = false;

	if (io_uring_register_files_update(&U.ring, 0, &U.efd, 1) != 1)
		return false;
	if ((sqe = io_uring_get_sqe(&U.ring))) {
		io_uring_prep_rw(OP_FIXED_FD_INSTALL, sqe, 0, NULL, 0, 0);
		sqe->flags = IOSQE_FIXED_FILE;
		io_uring_sqe_set_data64(sqe, TAG_NONE);
		if (io_uring_submit_and_wait(&U.ring, 1) == 1 && io_uring_peek_cqe(&U.ring, &cqe) == 0) {
			fd = cqe->res;
			io_uring_cqe_seen(&U.ring, cqe);
		}
	}
	ok = fd >= 0 && fd_id_same(fd, &U.efd_id);
	if (fd >= 0)
		close(fd);	/* ours: made just now */
	io_uring_register_files_update(&U.ring, 0, &none, 1);
	return ok;
}

/* ring_up: a sparse table of registered files, if the kernel has one
 * (5.19) and the update opcode.  U.life held, before up's release. */
static void slots_up(void)
{
	struct io_uring_probe *p = io_uring_get_probe_ring(&U.ring);
	struct rlimit rl;
	unsigned n = FILE_SLOTS;

	S.n = S.ndirty = S.nclean = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < n)
		n = (unsigned)rl.rlim_cur;	/* the kernel refuses a bigger table */
	if (p && io_uring_opcode_supported(p, IORING_OP_FILES_UPDATE) && n &&
	    io_uring_register_files_sparse(&U.ring, n) == 0) {
		for (unsigned k = 0; k < n; k++)
			S.clean[S.nclean++] = (unsigned short)(n - 1 - k);
		S.n = n;
		S.install = p->last_op >= OP_FIXED_FD_INSTALL && install_probe();
	}
	if (p)
		io_uring_free_probe(p);
}

struct uring_op;
typedef bool prep_fn(struct io_uring_sqe *sqe, struct uaio_req *req, const struct uring_op *op);

/* One row per opcode the ring runs: how its SQE is filled. */
struct uring_op {
	prep_fn *prep;
	unsigned char one, vec;	/* read/write: IORING_OP_* for one buffer, for several */
	unsigned fsync_flags;	/* fsync: IORING_FSYNC_* */
};

/* The iovecs for the part of a vectored transfer not done yet; NULL
 * without memory. */
static struct iovec *rw_vec(struct uaio_req *req, int *n)
{
	struct uring_req *u = ur(req);

	*n = req->niov;
	if (!req->done)
		return req->iov;
	free(u->rest);
	if (!(u->rest = malloc((size_t)req->niov * sizeof(*u->rest))))
		return NULL;
	*n = iov_rest(req, u->rest);
	return u->rest;
}

/* A buffered read sent without IOSQE_ASYNC (the kernel's asynchronous
 * buffered read: no thread waits for it) starts its page reads inside
 * io_uring_enter: a few small ones cost nothing there, but 128 cold 1 MiB
 * reads under POSIX_FADV_RANDOM held the submitter 500 ms (the block
 * layer ran out of requests).  So one enter sends at most READ_BUDGET
 * bytes of them, none larger than READ_ONE_MAX; the rest wait in io-wq.
 * sq_lock held. */
static bool async_read_fits(const struct uaio_req *req)
{
	size_t len = req->total - req->done;

	if (op_is_write(req->cb.aio_lio_opcode) || len > READ_ONE_MAX || len > U.read_budget)
		return false;
	U.read_budget -= len;
	return true;
}

/* Fills an SQE for the part of a read or write not done yet, on its
 * file's slot if it has one. */
static bool prep_rw(struct io_uring_sqe *sqe, struct uaio_req *req, const struct uring_op *op)
{
	struct uring_req *u = ur(req);
	uint64_t off = (uint64_t)req->cb.aio_offset + req->done;
	int fd = u->slot ? u->slot - 1 : req->fd;

	if (req->niov == 1) {
		/* Integer arithmetic: the caller's buffer may be NULL (NULL + 0 is UB). */
		void *base = (void *)((uintptr_t)req->iov[0].iov_base + req->done);

		io_uring_prep_rw(op->one, sqe, fd, base, (unsigned)(req->iov[0].iov_len - req->done), off);
	} else {
		struct iovec *v;
		int n;

		if (!(v = rw_vec(req, &n)))
			return false;
		io_uring_prep_rw(op->vec, sqe, fd, v, (unsigned)n, off);
	}
	if (u->slot)
		sqe->flags |= IOSQE_FIXED_FILE;
	if (u->async)
		sqe->flags |= IOSQE_ASYNC;
	sqe->rw_flags = (int)(req->cb.aio_rw_flags & ~RWF_HIPRI);	/* HIPRI needs IOPOLL */
	if (u->probe)
		sqe->rw_flags |= RWF_NOWAIT;	/* see uring_submit_verify */
	if (req->cb.aio_flags & IOCB_FLAG_IOPRIO)
		sqe->ioprio = (uint16_t)req->cb.aio_reqprio;
	/* A buffered read (its NOWAIT attempt at submit failed) goes to the
	 * kernel's own asynchronous buffered read, which waits for the page
	 * without a thread; in io-wq (IOSQE_ASYNC), where cancel could still
	 * withdraw it, cold reads ran at 0.2-0.3x of plain io_uring's speed
	 * (SPEC: never slow the common path to keep file I/O cancellable).
	 * Buffered writes wait in io-wq: they block (ext4 has no NOWAIT
	 * buffered write), and there a cancel reaches them. */
	if (!(req->fl & O_DIRECT) && !async_read_fits(req))
		sqe->flags |= IOSQE_ASYNC;
	return true;
}

static bool prep_sync(struct io_uring_sqe *sqe, struct uaio_req *req, const struct uring_op *op)
{
	struct uring_req *u = ur(req);

	io_uring_prep_fsync(sqe, u->slot ? u->slot - 1 : req->fd, op->fsync_flags);
	sqe->flags |= IOSQE_ASYNC | (u->slot ? IOSQE_FIXED_FILE : 0);
	return true;
}

static bool prep_poll(struct io_uring_sqe *sqe, struct uaio_req *req, const struct uring_op *op)
{
	(void)op;
	io_uring_prep_poll_add(sqe, req->fd, req->poll_events);
	return true;
}

/* Indexed by aio_lio_opcode; submit lets no other opcode through. */
static const struct uring_op uring_ops[] = {
	[IOCB_CMD_PREAD] = { prep_rw, IORING_OP_READ, IORING_OP_READV, 0 },
	[IOCB_CMD_PWRITE] = { prep_rw, IORING_OP_WRITE, IORING_OP_WRITEV, 0 },
	[IOCB_CMD_FSYNC] = { prep_sync, 0, 0, 0 },
	[IOCB_CMD_FDSYNC] = { prep_sync, 0, 0, IORING_FSYNC_DATASYNC },
	[IOCB_CMD_POLL] = { prep_poll, 0, 0, 0 },
	[IOCB_CMD_PREADV] = { prep_rw, IORING_OP_READ, IORING_OP_READV, 0 },
	[IOCB_CMD_PWRITEV] = { prep_rw, IORING_OP_WRITE, IORING_OP_WRITEV, 0 },
};

/* Queues req's SQE (after its slot's update, if it takes a slot now:
 * *upd); NULL if there is no room or no memory. */
static struct io_uring_sqe *sqe_queue(struct uaio_req *req, struct io_uring_sqe **upd)
{
	const struct uring_op *op = &uring_ops[req->cb.aio_lio_opcode];
	struct io_uring_sqe *sqe;

	*upd = NULL;
	if ((req->kind == KIND_FILE || req->kind == KIND_SYNC) && !req->fd_ref && !slot_take(req, upd))
		return NULL;
	if (!(sqe = sqe_get()))
		return NULL;
	if (unlikely(g_check))
		check_before_write(req);	/* the kernel takes the data from here on */
	if (!op->prep(sqe, req, op)) {
		io_uring_prep_nop(sqe);	/* the SQE is taken: send it empty */
		io_uring_sqe_set_data64(sqe, TAG_NONE);
		if (*upd) {	/* not entered yet either: its slot is free again */
			io_uring_prep_nop(*upd);
			fslot_put(ur(req)->slot - 1u);
			ur(req)->slot = 0;
			*upd = NULL;
		}
		return NULL;
	}
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)req);
	if (unlikely(g_trace))	/* before sq_flush's release: the reaper sees it */
		trace_start(req, TR_URING);
	return sqe;
}

/* Sends an ASYNC_CANCEL for req; its CQE goes to tag. */
static bool sqe_cancel(struct uaio_req *req, uint64_t tag)
{
	struct io_uring_sqe *sqe;
	bool ok;

	pthread_mutex_lock(&U.sq_lock);
	sqe = sqe_get();
	if (sqe) {
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)req, 0);
		io_uring_sqe_set_data64(sqe, tag);
	}
	ok = sqe && sq_flush() >= 0;
	pthread_mutex_unlock(&U.sq_lock);
	return ok;
}

/* ---- handing back what the ring did not take ---- */

/* req is not (or no longer) in the kernel and never started: give it to
 * the worker pool (reads, writes, syncs) or the poller (POLL).  Only
 * inside the submit call (uring_submit): one on the caller's descriptor
 * takes a duplicate now, or, without a descriptor for that, is done here
 * as submit would (hold_file). */
static void fall_back(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;
	bool poll = req->kind == KIND_POLL, armed;

	pthread_mutex_lock(&ctx->active_lock);
	ur(req)->in_exec = false;
	/* for a POLL, one exchange decides between us and a canceller */
	armed = poll && req_claim_for_run(req, REQ_WAITING);
	pthread_mutex_unlock(&ctx->active_lock);
	if (!poll && !req->fd_ref && !req_hold_file(req)) {
		if (req_claim(req, REQ_QUEUED))	/* false: cancelled, and freed */
			req_complete(req, req_run_blocking(req));
	} else if (!poll)
		exec_fallback(&req, 1);
	else if (armed)
		poller_arm(req);
	else
		req_free(req);	/* cancelled: its event is posted */
}

static int ring_up(void);

/* The ring starts with the first request, not at setup: a program that
 * never submits never sees its descriptor.  False if it cannot start. */
static bool ring_ready(void)
{
	int r = 0;

	/* acquire: pairs with ring_up's release; the ring is initialised. */
	if (atomic_load_explicit(&U.up, memory_order_acquire))
		return true;
	pthread_mutex_lock(&U.life);
	if (!atomic_load_explicit(&U.up, memory_order_relaxed))	/* relaxed: life orders it */
		r = ring_up();
	pthread_mutex_unlock(&U.life);
	return r == 0;
}

/* Submit asks before it accepts a request for the ring: 0 if the ring
 * runs or could be started now.  If not (no descriptor, no memory, no
 * thread for its completions), and for streams, which the ring does not
 * take, EXEC_FALLBACK: submit hands the request to the poller (POLL) or
 * the pool instead, as fall_back would. */
static int uring_reserve(const struct uaio_req *req)
{
	if (req->kind == KIND_STREAM)
		return EXEC_FALLBACK;
	return ring_ready() ? 0 : EXEC_FALLBACK;
}

/* Requests of one context, QUEUED: mark them ours, then one enter. */
static void uring_submit(struct uaio_req **reqs, int n)
{
	struct uaio_req *mine[n], *back[n], *gone[n], *sent[n];
	struct io_uring_sqe *sqes[n], *upd[n];
	struct uaio_ctx *ctx = reqs[0]->ctx;
	int nm = 0, nb = 0, ng = 0, nf = 0, ns = 0;

	pthread_mutex_lock(&ctx->active_lock);
	for (int i = 0; i < n; i++) {
		struct uaio_req *req = reqs[i];

		/* acquire: a canceller's exchange (under this lock) is final. */
		if (atomic_load_explicit(&req->state, memory_order_acquire) != REQ_QUEUED)
			gone[ng++] = req;	/* cancelled before it got here */
		else if (req->kind == KIND_STREAM)
			back[nb++] = req;
		else {
			ur(req)->in_exec = true;
			if (req->kind == KIND_POLL)
				req_wait_locked(req);
			mine[nm++] = req;
		}
	}
	pthread_mutex_unlock(&ctx->active_lock);
	for (int i = 0; i < ng; i++)
		req_free(gone[i]);
	if (nb)
		exec_fallback(back, nb);
	if (!nm)
		return;
	if (!ring_ready() || ring_lost()) {
		for (int i = 0; i < nm; i++)
			fall_back(mine[i]);
		return;
	}

	pthread_mutex_lock(&U.sq_lock);
	for (int i = 0; i < nm; i++) {
		if ((sqes[ns] = sqe_queue(mine[i], &upd[ns])))
			sent[ns++] = mine[i];
		else
			gone[nf++] = mine[i];
	}
	if (sq_flush() != 0) {
		/* Not entered: the kernel has not seen the last `left` SQEs.
		 * Ours among them become NOPs (whoever enters next sends them
		 * empty) and their requests go to the pool, never run twice.
		 * Their slots are free again (an update that went in without
		 * its request's SQE left a file there: the slot is emptied or
		 * reused as any other). */
		unsigned left = io_uring_sq_ready(&U.ring);

		for (int i = ns - 1; i >= 0 && left; i--) {
			struct uring_req *u = ur(sent[i]);

			left = sq_unqueue(sqes[i], left);
			if (upd[i]) {
				left = sq_unqueue(upd[i], left);
				fslot_put(u->slot - 1u);
			}
			u->slot = 0;
			gone[nf++] = sent[i];
		}
	}
	pthread_mutex_unlock(&U.sq_lock);
	for (int i = 0; i < nf; i++)
		fall_back(gone[i]);
}

/* ---- the CQ side: the completion thread ---- */

struct done_list {
	struct uaio_req *reqs[CQE_BATCH];
	int64_t res[CQE_BATCH];
	int n;
};

static void done_add(struct done_list *d, struct uaio_req *req, int64_t res)
{
	d->reqs[d->n] = req;
	d->res[d->n++] = res;
}

/* The rest of a short transfer goes back to the ring; if it cannot, this
 * thread finishes it (only when the ring refuses SQEs). */
static bool resubmit(struct uaio_req *req)
{
	struct io_uring_sqe *sqe, *upd;
	bool ok;

	pthread_mutex_lock(&U.sq_lock);
	sqe = sqe_queue(req, &upd);	/* req has its slot or its duplicate: no update */
	ok = sqe && sq_flush() >= 0;
	if (sqe && !ok)	/* ours is the last */
		(void)sq_unqueue(sqe, io_uring_sq_ready(&U.ring));
	pthread_mutex_unlock(&U.sq_lock);
	return ok;
}

/* Answers that may mean the kernel gave req up without doing it: it goes
 * to the pool unless a canceller asked for it.  The kernel's asynchronous
 * buffered read copies the data in the submitting thread; once that
 * thread has exited the copy fails with -EFAULT (test submitter_exit), so
 * the pool reads it again (a bad buffer gives -EFAULT there too). */
static bool maybe_withdrawn(const struct uaio_req *req, int res)
{
	if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
		return true;
	return res == -EFAULT && !(req->fl & O_DIRECT) && !op_is_write(req->cb.aio_lio_opcode);
}

/* A request the kernel withdrew (res) that holds its file in a slot
 * goes to the pool on a descriptor the kernel makes for that file
 * (OP_FIXED_FD_INSTALL; install_done takes it from there).  Where the
 * kernel cannot, it is sent again to run in io-wq (IOSQE_ASYNC), once:
 * what comes back withdrawn again is the kernel's answer, as is the
 * -EAGAIN of the program's own RWF_NOWAIT. */
static void retry_withdrawn(struct uaio_req *req, int res, struct done_list *d)
{
	struct uring_req *u = ur(req);
	bool own_nowait = res == -EAGAIN && (req->cb.aio_rw_flags & RWF_NOWAIT);
	struct io_uring_sqe *sqe;
	bool ok = false;

	if (own_nowait) {
		/* The kernel's answer is its event.  rw_done has let cancels take
		 * it (in_exec false with a slot), so a canceller may have won the
		 * exchange and posted -ECANCELED: claim it first, as below, or
		 * the request gets two events. */
		if (req_claim(req, REQ_QUEUED))	/* false: cancelled, and freed */
			done_add(d, req, res);
		return;
	}
	if (S.install) {
		pthread_mutex_lock(&U.sq_lock);
		if ((sqe = sqe_get())) {
			io_uring_prep_rw(OP_FIXED_FD_INSTALL, sqe, u->slot - 1, NULL, 0, 0);
			sqe->flags = IOSQE_FIXED_FILE;
			io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)req | TAG_INSTALL);
			ok = sq_flush() >= 0;
			if (!ok)	/* ours is the last */
				(void)sq_unqueue(sqe, io_uring_sq_ready(&U.ring));
		}
		pthread_mutex_unlock(&U.sq_lock);
		/* not sent (the ring refuses SQEs): the kernel's answer is its
		 * event; the caller let cancels take it (in_exec false) */
		if (!ok && req_claim(req, REQ_QUEUED))	/* false: cancelled, and freed */
			done_add(d, req, res);
		return;
	}
	if (u->async || (u->async = true, !resubmit(req)))
		done_add(d, req, res);
}

/* OP_FIXED_FD_INSTALL's answer for a withdrawn request (retry_withdrawn()): fd, a
 * new descriptor for the file in its slot, becomes the request's own
 * private reference (placed high, as fref.c places them), and the pool
 * runs the request on it, as it would have on a duplicate made at
 * submit.  Meanwhile a cancel may have taken it: the pool then frees it. */
static void install_done(struct uaio_req *req, int fd, struct done_list *d)
{
	struct uring_req *u = ur(req);
	int ref = fd >= 0 ? fref_new(fd) : -1;

	if (fd >= 0)
		close(fd);	/* made just now for us; ref is its high copy */
	if (ref < 0) {	/* no descriptor: the kernel's answer (or ours) is its event */
		if (req_claim(req, REQ_QUEUED))	/* false: cancelled meanwhile, and freed */
			done_add(d, req, fd < 0 ? fd : -EAGAIN);
		return;
	}
	req->fd = ref;
	req->fd_ref = true;
	/* relaxed: as submit's own references (destroy waits for inflight first) */
	atomic_fetch_add_explicit(&req->ctx->files, 1, memory_order_relaxed);
	fslot_put(u->slot - 1u);
	u->slot = 0;
	exec_fallback(&req, 1);
}

/* A read, write or sync the kernel answered with res. */
static void rw_done(struct uaio_req *req, int res, struct done_list *d)
{
	struct uaio_ctx *ctx = req->ctx;
	struct uring_req *u = ur(req);

	if (u->probe && (res == -EBADF || res == -EISDIR || res == -EINVAL || res == -EAGAIN ||
			 res == -EOPNOTSUPP)) {
		bool held;

		pthread_mutex_lock(&ctx->active_lock);
		if ((held = u->sub_hold))
			u->bounced = res;	/* submit_verify decides */
		pthread_mutex_unlock(&ctx->active_lock);
		if (held)
			return;
	}
	u->probe = false;	/* sent again, it waits as any other */
	if (maybe_withdrawn(req, res)) {
		int asked;
		bool back = false;

		pthread_mutex_lock(&ctx->active_lock);
		asked = u->cancel_asked;
		/* relaxed: only this thread moves a QUEUED request of ours on */
		if (!asked && !req->done &&
		    atomic_load_explicit(&req->state, memory_order_relaxed) == REQ_QUEUED) {
			if (!u->slot || S.install)
				u->in_exec = false;	/* cancel now goes the pool's way */
			back = true;
		}
		pthread_mutex_unlock(&ctx->active_lock);
		if (back && u->slot)	/* withdrawn by the kernel: it never started */
			retry_withdrawn(req, res, d);
		else if (back)
			exec_fallback(&req, 1);
		if (back)
			return;
		if (res == -ECANCELED && asked == CANCEL_ASKED_WAIT) {
			pthread_mutex_lock(&ctx->active_lock);
			u->parked = true;	/* the verdict decides: see verdict() */
			pthread_mutex_unlock(&ctx->active_lock);
			return;
		}
		if (res == -ECANCELED && asked) {
			if (asked == CANCEL_ASKED_NOWAIT)	/* statistic: destroy's cancel */
				atomic_fetch_add_explicit(&ctx->st_cancelled, 1, memory_order_relaxed);
			done_add(d, req, -ECANCELED);
			return;
		}
	}
	/* From now on a canceller finds it running (already RUNNING when
	 * this is the rest of a short transfer: the exchange then fails). */
	(void)req_claim_for_run(req, REQ_QUEUED);
	if (req->kind == KIND_SYNC) {
		done_add(d, req, res);
		return;
	}
	if (res > 0) {
		req->done += (size_t)res;
		if (req->done < req->total) {	/* short: only end of file may stop a read */
			if (!resubmit(req))	/* on a slot: nothing else has the file */
				done_add(d, req, u->slot ? (int64_t)req->done : req_run_blocking(req));
			return;
		}
	}
	done_add(d, req, req->done ? (int64_t)req->done : res);
}

static void poll_done(struct uaio_req *req, int res, struct done_list *d)
{
	if (!req_claim(req, REQ_WAITING))
		return;		/* cancelled: its event is posted */
	if (res > 0 && (res & req->poll_events)) {
		done_add(d, req, poll_wake_result(req, (unsigned)res));
		return;
	}
	/* The kernel dropped it: wait in the poller instead. */
	pthread_mutex_lock(&req->ctx->active_lock);
	ur(req)->in_exec = false;
	pthread_mutex_unlock(&req->ctx->active_lock);
	poller_arm(req);	/* the readiness service takes a RUNNING request */
}

/* The kernel's answer to a waiting canceller: 0 withdrawn, else not.
 * This thread, not the canceller, updates and releases the request. */
static void verdict(struct cancel_wait *w, int res, struct done_list *d)
{
	struct uaio_req *req = w->req;
	struct uring_req *u = ur(req);
	struct uaio_ctx *ctx = req->ctx;
	bool orphan, parked;

	pthread_mutex_lock(&ctx->active_lock);
	u->cancel_hold = false;
	u->cancel_asked = res == 0 ? CANCEL_ASKED_WON : CANCEL_ASKED_NONE;
	orphan = u->orphan && !u->sub_hold;	/* else submit_verify frees it */
	parked = u->parked;
	u->parked = false;
	if (parked && res != 0 && (!u->slot || S.install))
		u->in_exec = false;	/* refused, yet never ran: the pool runs it */
	pthread_mutex_unlock(&ctx->active_lock);
	w->res = res;
	/* release: res is written before the canceller sees done. */
	atomic_store_explicit(&w->done, 1, memory_order_release);
	futex_wake(&w->done, 1, true);
	if (orphan)
		req_free(req);	/* completed while the verdict was due */
	else if (parked && res == 0)
		done_add(d, req, -ECANCELED);
	else if (parked && u->slot)
		retry_withdrawn(req, -ECANCELED, d);
	else if (parked)
		exec_fallback(&req, 1);
}

static void handle(uint64_t data, int res, struct done_list *d)
{
	struct uaio_req *req = (struct uaio_req *)(uintptr_t)data;

	if (data == TAG_NONE || data == TAG_QUIET)
		return;
	if (data & TAG_WAIT)
		verdict((struct cancel_wait *)(uintptr_t)(data & ~TAG_WAIT), res, d);
	else if (data & TAG_INSTALL)
		install_done((struct uaio_req *)(uintptr_t)(data & ~TAG_INSTALL), res, d);

	else if (req->kind == KIND_POLL)
		poll_done(req, res, d);
	else
		rw_done(req, res, d);
}

/* Sleeps on the ring's eventfd rather than in io_uring_enter: a poll and
 * a read are a wait every tool understands (valgrind up to 3.19 holds its
 * big lock across io_uring_enter and would stop the whole process).  At
 * most FD_SLEEP_MAX_MS: an eventfd the program closes under the sleep is
 * never signalled again.  False when efd is no longer ours: closed
 * (EBADF, POLLNVAL) or another file in its place (a read of 0 bytes,
 * EINVAL, or a different file on a check). */
static bool efd_sleep(void)
{
	struct pollfd p = { .fd = U.efd, .events = POLLIN };
	eventfd_t n;
	ssize_t r;

	if (poll(&p, 1, FD_SLEEP_MAX_MS) < 0)
		return errno == EINTR;
	if (p.revents & POLLNVAL)
		return false;
	if (!p.revents) {	/* idle: is everything still ours? */
		ring_check();
		return fd_id_same(U.efd, &U.efd_id);
	}
	r = read(U.efd, &n, sizeof(n));
	if (r == sizeof(n) || (r < 0 && (errno == EAGAIN || errno == EINTR)))
		return true;
	return false;
}

/* efd is lost and the ring is not: a new eventfd in its place.  The old
 * number is not closed: it is the program's now. */
static void efd_rebuild(void)
{
	struct fd_id id;
	int fd;

	if (!ring_check())
		return;
	fd = fd_move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (fd < 0)
		return;
	io_uring_unregister_eventfd(&U.ring);
	if (!fd_id_take(fd, &id) || io_uring_register_eventfd(&U.ring, fd) < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&U.sq_lock);
	U.efd = fd;
	U.efd_id = id;
	U.efd_lost = false;
	pthread_mutex_unlock(&U.sq_lock);
}

/* No eventfd: wait in the ring itself, through the registered index that
 * no close() of the program reaches, or just sleep a tick. */
static void ring_sleep(void)
{
	int ms = ring_lost() ? LOST_TICK_MS : FD_SLEEP_MAX_MS;
	struct __kernel_timespec ts = { ms / 1000, (long long)(ms % 1000) * 1000000 };
	struct io_uring_getevents_arg arg = { .ts = (uint64_t)(uintptr_t)&ts };

	if (U.reg_fd < 0 || io_uring_enter2((unsigned)U.reg_fd, 0, 1,
					    IORING_ENTER_GETEVENTS | IORING_ENTER_REGISTERED_RING |
					    IORING_ENTER_EXT_ARG, (sigset_t *)&arg, sizeof(arg)) < 0)
		nanosleep(&(struct timespec){ 0, LOST_TICK_MS * 1000000L }, NULL);
}

/* While getevents callers reap (each watches the ring's descriptor when it
 * sleeps, and drains the CQ itself), the thread only looks every
 * REAP_TICK_MS instead of being woken by the eventfd for every CQE: a
 * wake-up costs ~100 us of a virtual CPU here.  True when it slept so. */
static bool tick_sleep(void)
{
	/* relaxed: a hint; a wrong guess costs one tick or one wake-up */
	long since = mono_coarse_ms() - atomic_load_explicit(&U.last_reap, memory_order_relaxed);
	/* relaxed: the futex compares it; ring_down bumps it to wake us */
	uint32_t t = atomic_load_explicit(&U.tick, memory_order_relaxed);
	struct timespec abs;

	if (since > REAP_TICK_MS * 4 || ring_lost() ||
	    atomic_load_explicit(&U.quit, memory_order_acquire))	/* pairs with ring_down */
		return false;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += REAP_TICK_MS * 1000000L;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	futex_wait_abs(&U.tick, t, &abs, true);
	return true;
}

static void cq_sleep(void)
{
	if (tick_sleep())
		return;
	if (!U.efd_lost && efd_sleep())
		return;
	if (!U.efd_lost) {
		pthread_mutex_lock(&U.sq_lock);
		U.efd_lost = true;
		pthread_mutex_unlock(&U.sq_lock);
		efd_rebuild();
		if (!U.efd_lost)
			return;
	}
	ring_sleep();
}

/* The CQ has one reader at a time: the completion thread or a thread in
 * uaio_getevents (uring_reap), whoever exchanges cq_owner from 0 first.
 * acquire/release: the previous owner's CQ head and request updates are
 * seen by the next. */
static bool cq_take(void)
{
	return atomic_exchange_explicit(&U.cq_owner, 1, memory_order_acquire) == 0;
}

static void cq_give(void)
{
	atomic_store_explicit(&U.cq_owner, 0, memory_order_release);
}

/* The last context is gone and every SQE has its CQE. */
static bool cq_finished(void)
{
	/* acquire: pairs with ring_down's release of quit; relaxed count:
	 * it reaches 0 for good only after quit, whose NOP is the last SQE. */
	return atomic_load_explicit(&U.quit, memory_order_acquire) &&
	       atomic_load_explicit(&U.inkernel, memory_order_relaxed) == 0;
}

/* req_complete_many, active_lock held: a request with a cancel verdict
 * still due (cancel_hold), or that submit_verify still looks at
 * (sub_hold), is marked orphan, for the last of them to free. */
static bool keep_locked(struct uaio_req *req)
{
	struct uring_req *u = ur(req);

	u->orphan = u->cancel_hold || u->sub_hold;
	return u->orphan;
}

/* Owner only: handles one batch of CQEs; returns how many. */
static unsigned cq_drain(void)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	struct { uint64_t data; int res; } got[CQE_BATCH];
	struct done_list d;
	unsigned n = io_uring_peek_batch_cqe(&U.ring, cqes, CQE_BATCH), quiet = 0;

	if (!n)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		got[i].data = io_uring_cqe_get_data64(cqes[i]);
		got[i].res = cqes[i]->res;
		quiet += got[i].data == TAG_QUIET;	/* never counted in inkernel */
	}
	io_uring_cq_advance(&U.ring, n);
	/* acquire: pairs with sq_flush's release. */
	(void)atomic_load_explicit(&U.inkernel, memory_order_acquire);
	d.n = 0;
	for (unsigned i = 0; i < n; i++)
		handle(got[i].data, got[i].res, &d);
	req_complete_many(d.reqs, d.res, d.n, keep_locked);
	/* relaxed: a count; the owner flag orders the decrements. */
	atomic_fetch_sub_explicit(&U.inkernel, (long)(n - quiet), memory_order_relaxed);
	return n;
}

/* A thread in uaio_getevents takes what the kernel finished, so that the
 * caller who reaps anyway does not wait for the completion thread to be
 * scheduled.  Never blocks: if another thread owns the CQ, that one does
 * the work (the owner drains until it sees the CQ empty). */
static void uring_reap(void)
{
	/* acquire: pairs with ring_up's release; the ring is set up. */
	if (!atomic_load_explicit(&U.up, memory_order_acquire))
		return;
	if (!cq_self)	/* relaxed: a hint for the completion thread's sleep */
		atomic_store_explicit(&U.last_reap, mono_coarse_ms(), memory_order_relaxed);
	for (;;) {
		unsigned n;

		if (!cq_take())
			return;
		/* acquire: ring_down clears up, then holds cq_owner for good.
		 * A lost ring is entered by the completion thread alone. */
		if (!atomic_load_explicit(&U.up, memory_order_acquire) || ring_lost()) {
			cq_give();
			return;
		}
		n = cq_drain();
		cq_give();
		if (!n)
			return;
	}
}

/* A getevents caller about to sleep also watches the ring's descriptor
 * (readable while the CQ holds CQEs) when requests are in the kernel:
 * their CQEs then wake it directly, and it drains them itself (reap),
 * instead of waiting for the completion thread to be woken, drain and
 * wake it in turn (two wake-ups of a sleeping thread, ~100 us each on a
 * virtual CPU).  An O_DIRECT or POLL completion is also run as task work
 * in the submitting thread, which is often this one: its sleep is
 * interrupted for that, and the CQE is there when it looks. */
static int uring_wait_fd(void)
{
	/* acquire: pairs with ring_up's release; the ring is set up.
	 * relaxed count: a hint, a stale value costs one futex sleep. */
	if (!atomic_load_explicit(&U.up, memory_order_acquire) ||
	    atomic_load_explicit(&U.inkernel, memory_order_relaxed) <= 0)
		return -1;
	/* Checked, not trusted: a descriptor the program replaced (with
	 * /dev/null: always readable) would wake the sleeper for ever. */
	return ring_check() ? U.ring.ring_fd : -1;
}

/* The completion thread registers the ring for itself: a registered
 * index is a reference to the ring that no close() or dup2() of the
 * program reaches, so a lost ring can still be entered, drained and
 * torn down (kernel 5.18; without it a lost ring is only drained). */
static void cq_register(void)
{
	struct io_uring copy;

	pthread_mutex_lock(&U.sq_lock);
	copy = U.ring;
	if (fd_id_same(copy.ring_fd, &U.ring_id) && io_uring_register_ring_fd(&copy) == 1) {
		U.reg_fd = copy.enter_ring_fd;
		U.reg_flags = copy.int_flags;
	}
	pthread_mutex_unlock(&U.sq_lock);
}

/* The CQ held: on a lost ring, enter through the registered index from
 * now on, and send what others queued (cancels, the last NOP). */
static void cq_lost_flush(void)
{
	pthread_mutex_lock(&U.sq_lock);
	if (!U.reg_on && U.reg_fd >= 0) {
		U.ring.enter_ring_fd = U.reg_fd;
		U.ring.int_flags = U.reg_flags;
		U.reg_on = true;
	}
	if (U.reg_on && io_uring_sq_ready(&U.ring))
		sq_flush();
	pthread_mutex_unlock(&U.sq_lock);
}

static void *cq_main(void *arg)
{
	int idle = 0, clear_tries = 0;
	bool cleared = false;

	(void)arg;
	pthread_setname_np(pthread_self(), "uaio-uring");
	cq_self = true;
	cq_register();
	for (;;) {
		unsigned n;

		/* It sleeps only after it saw the CQ empty itself: a CQE posted
		 * after that signals the eventfd.  A reaper never blocks while
		 * it owns the CQ, so waiting for it is short. */
		if (!cq_take()) {
			sched_yield();
			continue;
		}
		if (ring_lost())
			cq_lost_flush();
		n = cq_drain();
		cq_give();
		if (cq_finished())
			break;
		/* A lost ring nobody can enter: once the last context is gone,
		 * only cancelled POLLs and unsent SQEs are left; stop waiting. */
		idle = n ? 0 : idle + 1;
		if (ring_lost() && !U.reg_on && idle > LOST_GIVEUP &&
		    atomic_load_explicit(&U.quit, memory_order_acquire))	/* pairs with ring_down */
			break;
		if (n)
			continue;
		if (!cleared && !ring_lost() && slots_dirty()) {
			/* once per sleep: its CQEs are drained first */
			clear_tries = slots_clear(clear_tries >= CLEAR_TRIES) ? 0 : clear_tries + 1;
			cleared = true;
			continue;
		}
		cleared = false;
		cq_sleep();
	}
	return NULL;
}

/* ---- cancel ---- */

/* A read, write or sync: the kernel decides.  active_lock held. */
static int cancel_rw(struct uaio_req *req, bool wait)
{
	struct uaio_ctx *ctx = req->ctx;
	struct uring_req *u = ur(req);
	struct cancel_wait w = { 0 };
	/* acquire: a RUNNING seen here was set with acq_rel by cq_main. */
	int s = atomic_load_explicit(&req->state, memory_order_acquire);

	if (s != REQ_QUEUED)
		return s == REQ_RUNNING ? -EAGAIN : -EINVAL;
	if (u->cancel_asked)
		return u->cancel_asked == CANCEL_ASKED_WON ? -EINVAL : -EAGAIN;
	if (!wait) {	/* destroy: the completion thread posts the verdict */
		if (sqe_cancel(req, TAG_NONE))
			u->cancel_asked = CANCEL_ASKED_NOWAIT;
		return -EAGAIN;
	}
	w.req = req;
	u->cancel_asked = CANCEL_ASKED_WAIT;
	u->cancel_hold = true;	/* req stays allocated until the verdict */
	if (!sqe_cancel(req, (uint64_t)(uintptr_t)&w | TAG_WAIT)) {
		u->cancel_asked = CANCEL_ASKED_NONE;
		u->cancel_hold = false;
		return -EAGAIN;
	}
	pthread_mutex_unlock(&ctx->active_lock);
	/* acquire: pairs with verdict()'s release of done. */
	while (!atomic_load_explicit(&w.done, memory_order_acquire))
		futex_wait_abs(&w.done, 0, &(struct timespec){ (time_t)1 << 40, 0 }, true);
	pthread_mutex_lock(&ctx->active_lock);	/* req may be gone: not touched */
	if (w.res != 0)
		return -EAGAIN;
	atomic_fetch_add_explicit(&ctx->st_cancelled, 1, memory_order_relaxed); /* statistic */
	return CANCEL_DONE;	/* the completion thread posts -ECANCELED */
}

/* active_lock held.  Requests it handed back (in_exec false) are
 * cancelled as on the threads executor and the poller: CANCEL_PASS. */
static int uring_cancel(struct uaio_req *req, int64_t *res, bool wait)
{
	int s = REQ_WAITING;

	if (!ur(req)->in_exec)
		return CANCEL_PASS;
	if (req->kind != KIND_POLL)
		return cancel_rw(req, wait);
	/* one exchange decides between us and the completion thread */
	if (!req_claim_for_cancel(req, &s))
		return s == REQ_RUNNING ? -EAGAIN : -EINVAL;
	*res = 0;	/* the kernel's answer for a cancelled POLL */
	active_unlink_locked(req);
	sqe_cancel(req, TAG_NONE);	/* its CQE frees it */
	return CANCEL_POST;
}

/* ---- the ring's life ---- */

/* Maps io_uring_setup's failure to setup's answer: -EPERM (seccomp,
 * kernel.io_uring_disabled), -ENOSYS (no io_uring or too old), else
 * -ENOMEM (memory, locked memory or descriptors ran out). */
static int setup_errno(int r)
{
	if (r == -EPERM || r == -EACCES)
		return -EPERM;
	if (r == -ENOSYS || r == -EINVAL || r == -EOPNOTSUPP)
		return -ENOSYS;
	return -ENOMEM;
}

static void apply_cap(void)
{
	unsigned cap = exec_threads_cap(), vals[2] = { cap, 0 };	/* bounded, unbounded (kept) */

	if (cap != U.cap && io_uring_register_iowq_max_workers(&U.ring, vals) == 0)
		U.cap = cap;
}

/* The child of a fork must not see the parent's rings at all. */
static void ring_dontfork(void)
{
	madvise(U.ring.sq.ring_ptr, U.ring.sq.ring_sz, MADV_DONTFORK);
	if (U.ring.cq.ring_ptr != U.ring.sq.ring_ptr)
		madvise(U.ring.cq.ring_ptr, U.ring.cq.ring_sz, MADV_DONTFORK);
	madvise(U.ring.sq.sqes, U.ring.sq.ring_entries * sizeof(struct io_uring_sqe), MADV_DONTFORK);
}

static int ring_init(struct io_uring *ring)
{
	struct io_uring_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP | IORING_SETUP_SUBMIT_ALL;
	p.cq_entries = CQ_ENTRIES;
	r = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	if (r == -EINVAL) {	/* before 5.18: no SUBMIT_ALL */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
		p.cq_entries = CQ_ENTRIES;
		r = io_uring_queue_init_params(SQ_ENTRIES, ring, &p);
	}
	return r;
}

/* U.life held. */
static int ring_up(void)
{
	pthread_attr_t attr;
	int r = ring_init(&U.ring);

	if (r < 0)
		return setup_errno(r);
	/* Out of the program's way: io_uring uses the descriptor as a handle
	 * only; the mappings stay as they are. */
	U.ring.ring_fd = U.ring.enter_ring_fd = fd_move_high(U.ring.ring_fd);
	U.plain_flags = U.ring.int_flags;
	U.quiet_ok = U.ring.features & IORING_FEAT_CQE_SKIP;
	fd_id_take(U.ring.ring_fd, &U.ring_id);
	atomic_store_explicit(&U.lost, false, memory_order_relaxed);	/* published by up */
	U.reg_fd = -1;
	U.reg_on = false;
	U.efd_lost = false;
	U.efd = fd_move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (U.efd < 0 || !fd_id_take(U.efd, &U.efd_id) || io_uring_register_eventfd(&U.ring, U.efd) < 0) {
		if (U.efd >= 0)
			close(U.efd);
		U.efd = -1;
		io_uring_queue_exit(&U.ring);
		return -ENOMEM;
	}
	ring_dontfork();
	slots_up();
	U.read_budget = READ_BUDGET;
	U.cap = 0;
	apply_cap();
	atomic_store_explicit(&U.inkernel, 0, memory_order_relaxed);	/* no thread yet */
	atomic_store_explicit(&U.quit, 0, memory_order_relaxed);	/* no thread yet */
	atomic_store_explicit(&U.cq_owner, 0, memory_order_relaxed);	/* published by up */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	thread_block_signals_attr(&attr);
	r = pthread_create(&U.thread, &attr, cq_main, NULL);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		io_uring_queue_exit(&U.ring);
		close(U.efd);
		U.efd = -1;
		return -ENOMEM;
	}
	/* release: the ring is set up before a submitter sees up. */
	atomic_store_explicit(&U.up, true, memory_order_release);
	return 0;
}

/* U.life held: wakes the completion thread with a NOP after quit; it
 * leaves once every SQE, cancelled POLLs included, has its CQE. */
static void ring_down(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring gone;

	/* release: pairs with cq_main's acquire. */
	atomic_store_explicit(&U.quit, 1, memory_order_release);
	/* relaxed: the futex carries the wake-up of a ticking thread */
	atomic_fetch_add_explicit(&U.tick, 1, memory_order_relaxed);
	futex_wake(&U.tick, 1, true);
	pthread_mutex_lock(&U.sq_lock);
	sqe = sqe_get();	/* none: the thread's next look sees quit */
	if (sqe) {
		io_uring_prep_nop(sqe);
		io_uring_sqe_set_data64(sqe, TAG_NONE);
	}
	sq_flush();
	pthread_mutex_unlock(&U.sq_lock);
	pthread_join(U.thread, NULL);
	/* release: a reaper that takes the CQ after this sees up false. */
	atomic_store_explicit(&U.up, false, memory_order_release);
	while (!cq_take())	/* a reaper may still be in cq_drain: wait, then keep it */
		sched_yield();
	/* Unmapping releases the ring (the registered index went with its
	 * thread).  Descriptors the program took over are not closed. */
	S.n = 0;	/* no context is left to submit */
	gone = U.ring;
	gone.int_flags = U.plain_flags;
	if (ring_lost() || !fd_id_same(gone.ring_fd, &U.ring_id))
		gone.ring_fd = -1;
	io_uring_queue_exit(&gone);
	if (!U.efd_lost && fd_id_same(U.efd, &U.efd_id))
		close(U.efd);
	U.efd = -1;
}

static int uring_probe(void);

/* Setup on this executor: fails with uring_probe()'s -errno where
 * io_uring does not work. */
static int uring_ctx_init(struct uaio_ctx *ctx)
{
	int r = uring_probe();

	(void)ctx;
	if (r < 0)
		return r;
	pthread_mutex_lock(&U.life);
	U.users++;
	if (atomic_load_explicit(&U.up, memory_order_relaxed))	/* relaxed: life orders it */
		apply_cap();	/* setup may have changed the pool's cap */
	pthread_mutex_unlock(&U.life);
	return 0;
}

static void uring_ctx_fini(struct uaio_ctx *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&U.life);
	if (--U.users == 0 && atomic_load_explicit(&U.up, memory_order_relaxed)) /* life orders it */
		ring_down();
	pthread_mutex_unlock(&U.life);
}

/* ---- auto: does io_uring work here?  Asked once per process. ---- */

/* Protects probe_res and probed.  A probe that failed for want of memory
 * or descriptors is not kept: the next setup asks again. */
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static int probe_res;
static bool probed;

static void probe(void)
{
	static const int ops[] = { IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV,
				   IORING_OP_WRITEV, IORING_OP_FSYNC, IORING_OP_POLL_ADD,
				   IORING_OP_ASYNC_CANCEL, IORING_OP_NOP };
	struct io_uring_probe *p;
	struct io_uring ring;
	int r = ring_init(&ring);

	if (r < 0) {	/* no descriptor to spare now says nothing of io_uring */
		probe_res = r == -EMFILE || r == -ENFILE ? -EMFILE : setup_errno(r);
		return;
	}
	p = io_uring_get_probe_ring(&ring);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!p || !io_uring_opcode_supported(p, ops[i]))
			r = -ENOSYS;
	if (p)
		io_uring_free_probe(p);
	io_uring_queue_exit(&ring);
	probe_res = r;
}

/* 0 when io_uring works here, else setup's -errno for it. */
static int uring_probe(void)
{
	int r;

	pthread_mutex_lock(&probe_lock);
	if (!probed) {
		probe();
		probed = probe_res != -ENOMEM && probe_res != -EMFILE;
	}
	/* Out of descriptors: the context starts; its requests go to the
	 * pool until the ring can start (ring_ready). */
	r = probe_res == -EMFILE ? 0 : probe_res;
	pthread_mutex_unlock(&probe_lock);
	return r;
}

/* ---- fork ---- */

static void uring_atfork_prepare(void)
{
	pthread_mutex_lock(&probe_lock);
	pthread_mutex_lock(&U.life);
	pthread_mutex_lock(&U.sq_lock);
	pthread_mutex_lock(&S.lock);
}

static void uring_atfork_parent(void)
{
	pthread_mutex_unlock(&S.lock);
	pthread_mutex_unlock(&U.sq_lock);
	pthread_mutex_unlock(&U.life);
	pthread_mutex_unlock(&probe_lock);
}

/* The child has no completion thread and no ring mappings (DONTFORK);
 * it closes the descriptor and starts afresh.  Requests in the parent's
 * ring belong to contexts the child has forgotten. */
static void uring_atfork_child(void)
{
	/* relaxed: single-threaded here.  Descriptors no longer ours stay. */
	if (atomic_load_explicit(&U.up, memory_order_relaxed) && !ring_lost() &&
	    fd_id_same(U.ring.ring_fd, &U.ring_id))
		close(U.ring.ring_fd);
	if (U.efd >= 0 && !U.efd_lost && fd_id_same(U.efd, &U.efd_id))
		close(U.efd);
	U.efd = -1;
	U.efd_lost = false;
	U.reg_fd = -1;
	U.reg_on = false;
	atomic_store_explicit(&U.lost, false, memory_order_relaxed);	/* single-threaded here */
	memset(&U.ring, 0, sizeof(U.ring));
	atomic_store_explicit(&U.up, false, memory_order_relaxed);	/* single-threaded here */
	U.users = 0;
	U.cap = 0;
	atomic_store_explicit(&U.inkernel, 0, memory_order_relaxed);	/* single-threaded here */
	atomic_store_explicit(&U.quit, 0, memory_order_relaxed);	/* single-threaded here */
	atomic_store_explicit(&U.cq_owner, 0, memory_order_relaxed);	/* single-threaded here */
	/* the forking thread took it in prepare: unlocked, not overwritten,
	 * so that ThreadSanitizer's view of it stays right */
	S.n = 0;
	pthread_mutex_unlock(&S.lock);
	pthread_mutex_unlock(&U.sq_lock);
	pthread_mutex_unlock(&U.life);
	pthread_mutex_unlock(&probe_lock);
}

/* Every CQE posted so far handled, by this thread or by the one that
 * owned the CQ (it never blocks while it does). */
static void cq_drain_now(void)
{
	while (!cq_take())
		sched_yield();
	while (cq_drain() == CQE_BATCH)
		;
	cq_give();
}

/* The one request of a submit call, an O_DIRECT read on cached flags
 * (exec.h): its slot's update and its SQE go in, the read with
 * RWF_NOWAIT, then this thread handles whatever CQEs are there.
 *
 * Whatever the descriptor names now, the read either does what the
 * kernel's AIO would have done (an O_DIRECT read of that file, or a read
 * of data that is there: a cached page, bytes in a pipe), or fails
 * inside that enter, so that its CQE is there when it returns: -EBADF
 * (closed: the slot is empty; or not open for reading), -EAGAIN (it
 * would wait: an empty pipe, a page not cached, a file that cannot say,
 * such as a directory), -EISDIR, -EINVAL, -EOPNOTSUPP.  rw_done keeps
 * such an answer for us (sub_hold) and we give the request back to
 * submit, which decides it again with fresh flags.  A request that
 * finished meanwhile was kept for us too (keep_locked): we free it.  An
 * -EAGAIN after we let go (a block layer out of requests) sends it again
 * without RWF_NOWAIT (retry_withdrawn()). */
static int uring_submit_verify(struct uaio_req *req)
{
	struct uaio_ctx *ctx = req->ctx;
	struct uring_req *u = ur(req);
	struct io_uring_sqe *sqe, *upd;
	bool entered = false, free_it;
	int k, bounced;

	if (!ring_ready() || ring_lost() || (k = fslot_get()) < 0)
		return 1;
	pthread_mutex_lock(&ctx->active_lock);
	/* acquire: a canceller's exchange (under this lock) is final. */
	if (atomic_load_explicit(&req->state, memory_order_acquire) != REQ_QUEUED) {
		pthread_mutex_unlock(&ctx->active_lock);	/* cancelled: its event is posted */
		fslot_put((unsigned)k);
		req_free(req);
		return 0;
	}
	u->in_exec = true;
	u->sub_hold = true;
	u->probe = true;
	u->slot = (unsigned short)(k + 1);
	pthread_mutex_unlock(&ctx->active_lock);

	pthread_mutex_lock(&U.sq_lock);
	if (sq_room(2)) {
		upd = slot_update(k, req->fd);
		sqe = sqe_get();	/* there is room: not NULL */
		uring_ops[req->cb.aio_lio_opcode].prep(sqe, req, &uring_ops[req->cb.aio_lio_opcode]);
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)req);
		entered = sq_flush() == 0;
		if (!entered) {	/* as in uring_submit: what did not go in goes nowhere */
			unsigned left = io_uring_sq_ready(&U.ring);

			(void)sq_unqueue(upd, sq_unqueue(sqe, left));
			entered = left == 0;
		}
	}
	pthread_mutex_unlock(&U.sq_lock);
	if (entered)
		cq_drain_now();

	pthread_mutex_lock(&ctx->active_lock);
	u->sub_hold = false;
	bounced = entered ? u->bounced : 1;
	if (bounced && (u->cancel_hold || u->cancel_asked)) {
		/* a canceller waits for the kernel's verdict on it: it cannot
		 * be taken back */
		pthread_mutex_unlock(&ctx->active_lock);
		if (entered) {	/* the kernel's answer is its event */
			(void)req_claim_for_run(req, REQ_QUEUED);
			req_complete_many(&req, &(int64_t){ bounced }, 1, keep_locked);
		} else {
			u->probe = false;
			fslot_put(u->slot - 1u);
			u->slot = 0;
			fall_back(req);
		}
		return 0;
	}
	if (bounced) {
		u->in_exec = false;
		u->probe = false;
		pthread_mutex_unlock(&ctx->active_lock);
		fslot_put(u->slot - 1u);
		u->slot = 0;
		u->bounced = 0;
		return 1;
	}
	free_it = u->orphan && !u->cancel_hold;	/* finished, its event posted */
	pthread_mutex_unlock(&ctx->active_lock);
	if (free_it)
		req_free(req);
	return 0;
}

static void uring_req_fini(struct uaio_req *req)
{
	free(ur(req)->rest);
	if (ur(req)->slot)
		fslot_put(ur(req)->slot - 1u);
}

/* Reads, writes and syncs hold their file in a slot (see the top of this
 * file), taken inside the submit call.  Where the kernel cannot give a
 * descriptor for a slot's file (OP_FIXED_FD_INSTALL, 6.8), only O_DIRECT
 * reads and writes: io-wq hands back what it cannot run (no thread for
 * it: RLIMIT_NPROC; a submitter that exited), and what goes to io-wq
 * from the start (buffered writes, syncs, large buffered reads) then
 * needs a descriptor for the pool.  S.n, S.install: see there. */
static bool uring_holds_file(const struct uaio_req *req)
{
	if (!S.n || (req->kind != KIND_FILE && req->kind != KIND_SYNC))
		return false;
	return S.install || (req->kind == KIND_FILE && (req->fl & O_DIRECT));
}

const struct exec_ops exec_uring = {
	.name = "uring",
	.probe = uring_probe,
	.ctx_init = uring_ctx_init,
	.ctx_fini = uring_ctx_fini,
	.reserve = uring_reserve,
	.submit = uring_submit,
	.cancel = uring_cancel,
	.req_fini = uring_req_fini,
	.reap = uring_reap,
	.wait_fd = uring_wait_fd,
	.atfork_prepare = uring_atfork_prepare,
	.atfork_parent = uring_atfork_parent,
	.atfork_child = uring_atfork_child,
	.fallback = &exec_threads,
	.takes_poll = true,
	.holds_file = uring_holds_file,
	.submit_verify = uring_submit_verify,
};
