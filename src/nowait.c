/* SPDX-License-Identifier: MIT */
/* nowait.c - a submit call's cached reads tried in one system call.
 *
 * A read that can complete without waiting is done inside submit, as
 * the kernel's AIO does it, by one preadv2(RWF_NOWAIT) each.  In this
 * machine's virtual CPUs a system call's entry and exit cost more than
 * copying a 4 KiB page, so a call with several such reads sends them to
 * the kernel together: one io_submit, every iocb with RWF_NOWAIT, on a
 * kernel AIO context of the calling thread's own.  The kernel does for
 * each exactly what preadv2(RWF_NOWAIT) would (the same read_iter, the
 * same file, looked up by the kernel inside the call) and posts its
 * answer to that context's ring before io_submit returns; we read the
 * ring in user space.  16 cached 4 KiB reads: 1.8 us each by preadv2,
 * 0.75 us each this way (one io_submit).
 *
 * The answers are only the requests' first inline attempt (submit.c's
 * try_inline takes them): a full read completes the request; a short one
 * goes on as a short preadv2 would (end of file, part cached, or a pipe
 * that now has this number); -EAGAIN from a file (nw_streams) sends it to
 * the executor, as from preadv2; any other error is thrown away and the
 * attempt made again by preadv2 (NOWAIT_AGAIN), so that only what
 * preadv2 would have answered is taken from here.  A read the kernel queues instead of answering (the flags
 * were stale: the file is O_DIRECT now) is waited for here, which at
 * worst makes the request slower, as fdflags.c's cache promises.
 *
 * Each thread's context is made on its first call with two such reads
 * and destroyed when the thread exits.  None is used when io_setup is
 * refused (then never again in that thread, or in the process for
 * ENOSYS/EPERM), under valgrind (it cannot see the kernel write the
 * buffers when we read the ring ourselves), or while uaio intercepts the
 * AIO system calls (our own io_submit would be trapped).  A forked child
 * has no kernel AIO context: it makes its own. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define NW_EVENTS	UA_IOCB_BATCH	/* the most reads one submit call sends */

enum { NW_NONE = 0, NW_REFUSED = -1 };

/* This thread's context, made in generation gen of the process; the
 * thread's value of nw_key (not __thread: LeakSanitizer misreads the
 * dynamic TLS of a dlopened copy of uaio, libaio.so.1, and crashes). */
struct nw_thread {
	aio_context_t ctx;	/* NW_NONE, NW_REFUSED or the context */
	unsigned gen;
};

/* Bumped in a forked child: contexts of an earlier generation are the
 * parent's and do not exist here.  Relaxed: read by the thread that made
 * the context, written only in the child before it has other threads. */
static _Atomic unsigned nw_gen = 1;
/* Set when io_setup said it will never work here.  Relaxed: a hint. */
static _Atomic bool nw_off;
static pthread_key_t nw_key;
static pthread_once_t nw_once = PTHREAD_ONCE_INIT;
static bool nw_key_ok;

static void nw_thread_exit(void *arg)
{
	struct nw_thread *t = arg;

	/* relaxed: see nw_gen */
	if (t->gen == atomic_load_explicit(&nw_gen, memory_order_relaxed) && t->ctx > 0)
		syscall(SYS_io_destroy, t->ctx);
	free(t);
}

static void nw_init(void)
{
	nw_key_ok = pthread_key_create(&nw_key, nw_thread_exit) == 0;
}

/* This thread's context, made now if need be; 0 if there is none. */
static aio_context_t nw_get(void)
{
	unsigned gen = atomic_load_explicit(&nw_gen, memory_order_relaxed);	/* relaxed: see nw_gen */
	struct nw_thread *t;
	aio_context_t c = 0;

	pthread_once(&nw_once, nw_init);
	if (!nw_key_ok)
		return 0;
	t = pthread_getspecific(nw_key);
	if (t && t->gen == gen)
		return t->ctx > 0 ? t->ctx : 0;
	if (!t) {	/* destroyed with the thread (nw_thread_exit) */
		if (!(t = malloc(sizeof(*t))))
			return 0;
		if (pthread_setspecific(nw_key, t) != 0) {
			free(t);
			return 0;
		}
	}
	t->gen = gen;
	t->ctx = NW_REFUSED;
	if (syscall(SYS_io_setup, NW_EVENTS, &c) < 0) {
		if (errno == ENOSYS || errno == EPERM)	/* relaxed: a hint */
			atomic_store_explicit(&nw_off, true, memory_order_relaxed);
		return 0;
	}
	if (!kring_readable(c)) {
		syscall(SYS_io_destroy, c);	/* a ring we cannot read */
		return 0;
	}
	t->ctx = c;
	return c;
}

bool nowait_usable(void)
{
	/* relaxed: a hint */
	return !atomic_load_explicit(&nw_off, memory_order_relaxed) && !intercept_is_active() &&
	       !ua_under_valgrind();
}

/* Whether fd takes a read at an offset, as submit.c's preadv2 asks it:
 * a 0-byte one answers 0 from a file, -ESPIPE from a pipe, socket or
 * eventfd (which lseek does not tell: an eventfd's lseek succeeds). */
static bool nw_preadable(int fd)
{
	char c;
	struct iovec v = { &c, 0 };

	return preadv2(fd, &v, 1, 0, RWF_NOWAIT) >= 0;
}

/* -EAGAIN means "not cached" from a file, but an empty pipe, socket or
 * eventfd says it too (and a stream goes another way in submit.c): for
 * each fd with such an answer, one 0-byte read tells which; a stream's
 * answers are asked again, by preadv2, whose offset it refuses. */
static void nw_streams(const int *fds, int n, int64_t *res)
{
	int seen = -1;
	bool stream = false;

	for (int i = 0; i < n; i++) {
		if (res[i] != -EAGAIN)
			continue;
		if (fds[i] != seen) {
			seen = fds[i];
			stream = !nw_preadable(seen);
		}
		if (stream)
			res[i] = NOWAIT_AGAIN;
	}
}

int nowait_reads(const int *fds, const struct iocb *cbs, int n, int64_t *res)
{
	struct iocb k[NW_EVENTS], *kp[NW_EVENTS];
	struct io_event ev[NW_EVENTS];
	aio_context_t c;
	long sent;
	int got = 0;

	if (n > NW_EVENTS)
		n = NW_EVENTS;
	if (n < 2 || !(c = nw_get()))
		return 0;
	for (int i = 0; i < n; i++) {
		k[i] = (struct iocb){
			.aio_data = (uint64_t)i,
			.aio_lio_opcode = cbs[i].aio_lio_opcode,
			.aio_fildes = (uint32_t)fds[i],
			.aio_buf = cbs[i].aio_buf,
			.aio_nbytes = cbs[i].aio_nbytes,
			.aio_offset = cbs[i].aio_offset,
			.aio_rw_flags = cbs[i].aio_rw_flags | RWF_NOWAIT,
			.aio_flags = cbs[i].aio_flags & IOCB_FLAG_IOPRIO,
			.aio_reqprio = cbs[i].aio_reqprio,
		};
		kp[i] = &k[i];
	}
	sent = syscall(SYS_io_submit, c, (long)n, kp);
	if (sent <= 0)
		return 0;
	while (got < sent) {	/* all are answered by now but a queued (O_DIRECT) one */
		int m = kring_reap(c, ev + got, (int)sent - got);

		if (m == 0) {
			long r = syscall(SYS_io_getevents, c, 1L, sent - got, ev + got, NULL);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;	/* cannot happen: a valid context, no timeout */
			m = (int)r;
		}
		got += m;
	}
	for (int i = 0; i < (int)sent; i++)
		res[i] = NOWAIT_AGAIN;
	for (int i = 0; i < got; i++)
		if (ev[i].data < (uint64_t)sent)
			res[ev[i].data] = ev[i].res < 0 && ev[i].res != -EAGAIN ? NOWAIT_AGAIN : ev[i].res;
	nw_streams(fds, (int)sent, res);
	return (int)sent;
}

void nowait_atfork_child(void)
{
	/* relaxed: the child has one thread */
	atomic_fetch_add_explicit(&nw_gen, 1, memory_order_relaxed);
}
