/* SPDX-License-Identifier: MIT */
/* fref.c - file references.  The kernel's io_submit takes a reference to
 * the open file (fget) and holds it until the request's event is posted,
 * so closing the descriptor, or reusing its number for another file,
 * changes nothing for requests already submitted.  In user space the only
 * reference to an open file description is a descriptor: a request that
 * leaves submit runs on a private duplicate (F_DUPFD_CLOEXEC), which one
 * submit call shares among its requests on the same descriptor and which
 * is closed when the last of them is done.
 *
 * Duplicates are placed high (from three quarters of RLIMIT_NOFILE up),
 * out of the range programs count on, and counted in refs[], indexed by
 * descriptor: a count above 0 marks a descriptor as ours, which is what a
 * forked child closes (it inherits the descriptors, not the requests).
 *
 * A duplicate still in use is shared by later submit calls on the same
 * descriptor (last_dup[]): kcmp(KCMP_FILE) tells, in one system call,
 * that the caller's descriptor still names the open file the duplicate
 * does, which saves the F_DUPFD and the close of a fresh one (at O_DIRECT
 * QD32 on one file, one system call per read).  It takes a reference
 * first (only from a count above 0, so never on a duplicate being closed)
 * and compares after, so a number closed and reused meanwhile is seen for
 * what it now names.  Where kcmp is refused (seccomp profiles without
 * CAP_SYS_PTRACE, kernels without CONFIG_KCMP) every call makes its own,
 * as before. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <linux/kcmp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define FREF_MAX (1 << 20)	/* descriptors tracked; none is placed higher */

static _Atomic uint32_t refs[FREF_MAX];	/* users of each private descriptor */
/* The duplicate last made for each program descriptor, + 1 (0: none); a
 * hint, checked by kcmp.  relaxed: it publishes nothing, refs[] decides. */
static _Atomic int last_dup[FREF_MAX];
static _Atomic bool kcmp_off;	/* kcmp refused: make a duplicate each time; relaxed: a hint */
static _Atomic pid_t self_pid;	/* for kcmp; 0 until first asked, reset in a forked child;
				 * relaxed: every thread computes the same value */
static _Atomic int hiwater;		/* highest descriptor ever counted + 1; relaxed:
					 * read only by the forked child, single-threaded */
static _Atomic int base_cache = -1;	/* where duplicates start; relaxed: a hint */
/* Around each duplicate's creation and closing `busy` counts the threads
 * inside; fork sets `forking` and waits for `busy` to reach 0, so a child
 * never inherits a private descriptor that refs[] does not mark.  (Not a
 * rwlock: a child cannot unlock one its parent's thread took.)  seq_cst
 * on both sides: each stores its own flag, then reads the other's. */
static _Atomic int busy, forking;

static void enter(void)
{
	for (;;) {
		atomic_fetch_add(&busy, 1);
		if (!atomic_load(&forking))
			return;
		atomic_fetch_sub(&busy, 1);
		while (atomic_load(&forking))
			sched_yield();
	}
}

static void leave(void)
{
	atomic_fetch_sub(&busy, 1);	/* seq_cst: see above */
}

static int dup_base(bool fresh)
{
	struct rlimit rl;
	int b = atomic_load_explicit(&base_cache, memory_order_relaxed);

	if (b >= 0 && !fresh)
		return b;
	b = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= 64) {
		rlim_t lim = rl.rlim_cur < FREF_MAX ? rl.rlim_cur : FREF_MAX;

		b = (int)(lim - lim / 4);
	}
	atomic_store_explicit(&base_cache, b, memory_order_relaxed);
	return b;
}

static int dup_high(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, dup_base(false));

	/* EINVAL: the limit went below our base; EMFILE: nothing free above it. */
	if (r < 0 && (errno == EINVAL || errno == EMFILE))
		r = fcntl(fd, F_DUPFD_CLOEXEC, dup_base(true));
	if (r < 0 && (errno == EINVAL || errno == EMFILE))
		r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (r >= FREF_MAX) {	/* beyond what we can track */
		close(r);
		errno = EMFILE;
		r = -1;
	}
	return r < 0 ? -errno : r;
}

/* uaio's own descriptors (ring, eventfds, epoll) go up there too, out
 * of the program's way: returns the moved descriptor, or fd itself when
 * there is no room above the base (it still works where it is). */
int fd_move_high(int fd)
{
	int r;

	if (fd < 0 || fd >= dup_base(false))
		return fd;
	r = fcntl(fd, F_DUPFD_CLOEXEC, dup_base(false));
	if (r < 0 && (errno == EINVAL || errno == EMFILE))
		r = fcntl(fd, F_DUPFD_CLOEXEC, dup_base(true));
	if (r < 0)
		return fd;
	close(fd);
	return r;
}

/* What a descriptor of ours names, to tell it from whatever a program
 * may have put in its place (close, then open or dup2). */
bool fd_id_take(int fd, struct fd_id *id)
{
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return true;
}

/* Is fd still the file fd_id_take saw?  (Eventfds and epolls share one
 * anonymous inode: for them this tells ours only from other kinds.) */
bool fd_id_same(int fd, const struct fd_id *id)
{
	struct fd_id now;

	return fd_id_take(fd, &now) && now.dev == id->dev && now.ino == id->ino;
}

/* A reference to the duplicate last made for fd, if it is in use and
 * fd still names its file; -1 otherwise. */
static int shared_dup(int fd)
{
	int d = atomic_load_explicit(&last_dup[fd], memory_order_relaxed) - 1;
	uint32_t n;
	pid_t pid;
	long r;

	if (d < 0 || atomic_load_explicit(&kcmp_off, memory_order_relaxed))
		return -1;
	/* acquire on success: pairs with fref_put's acq_rel, as a get would;
	 * from 0 never: that duplicate is closed or being closed. */
	n = atomic_load_explicit(&refs[d], memory_order_relaxed);
	do {
		if (n == 0)
			return -1;
	} while (!atomic_compare_exchange_weak_explicit(&refs[d], &n, n + 1, memory_order_acquire,
							memory_order_relaxed));
	if (!(pid = atomic_load_explicit(&self_pid, memory_order_relaxed))) {
		pid = getpid();
		atomic_store_explicit(&self_pid, pid, memory_order_relaxed);
	}
	r = syscall(SYS_kcmp, pid, pid, KCMP_FILE, fd, d);
	if (r == 0)
		return d;
	if (r < 0 && (errno == ENOSYS || errno == EPERM || errno == EACCES))
		atomic_store_explicit(&kcmp_off, true, memory_order_relaxed);
	fref_put(d);
	return -1;
}

int fref_new(int fd)
{
	int r, hw;

	if (fd >= 0 && fd < FREF_MAX && (r = shared_dup(fd)) >= 0)
		return r;
	enter();
	r = dup_high(fd);
	if (r >= 0) {
		/* relaxed: the count is ours alone until the descriptor is handed on,
		 * and handing it on (a lock, a queue) publishes it. */
		atomic_store_explicit(&refs[r], 1, memory_order_relaxed);
		hw = atomic_load_explicit(&hiwater, memory_order_relaxed);
		while (hw <= r && !atomic_compare_exchange_weak_explicit(&hiwater, &hw, r + 1,
									 memory_order_relaxed,
									 memory_order_relaxed))
			;
		if (fd >= 0 && fd < FREF_MAX)	/* relaxed: a hint (see last_dup) */
			atomic_store_explicit(&last_dup[fd], r + 1, memory_order_relaxed);
	}
	leave();
	return r;
}

void fref_get(int fd)
{
	/* relaxed: the caller holds a reference, so the count cannot reach 0 meanwhile. */
	atomic_fetch_add_explicit(&refs[fd], 1, memory_order_relaxed);
}

void fref_put(int fd)
{
	enter();
	/* acq_rel: the last holder's close comes after every other holder's use. */
	if (atomic_fetch_sub_explicit(&refs[fd], 1, memory_order_acq_rel) == 1)
		close(fd);
	leave();
}

void fref_atfork_prepare(void)
{
	atomic_store(&forking, 1);	/* seq_cst: see enter() */
	while (atomic_load(&busy))
		sched_yield();
}

void fref_atfork_parent(void)
{
	atomic_store(&forking, 0);	/* seq_cst: see enter() */
}

/* The child has none of the parent's requests: their files must not stay
 * open in it (a pipe's writer would never see its reader go). */
void fref_atfork_child(void)
{
	int hw = atomic_load_explicit(&hiwater, memory_order_relaxed);

	for (int fd = 0; fd < hw; fd++)
		if (atomic_load_explicit(&refs[fd], memory_order_relaxed)) {
			atomic_store_explicit(&refs[fd], 0, memory_order_relaxed);
			close(fd);
		}
	atomic_store_explicit(&busy, 0, memory_order_relaxed);	/* single-threaded here */
	atomic_store_explicit(&forking, 0, memory_order_relaxed);
	atomic_store_explicit(&self_pid, 0, memory_order_relaxed);	/* a new process */
}
