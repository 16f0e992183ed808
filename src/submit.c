/* SPDX-License-Identifier: MIT */
/* submit.c - io_submit: copy and check each iocb in the kernel's order,
 * complete what cannot block at once, hand the rest to the executor. */
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BATCH 64

struct batch {
	struct uaio_ctx *ctx;
	struct uaio_req *pool[BATCH];
	int npool;
	bool have_pool, have_poller;	/* reserve() succeeded in this call */
	int handed;		/* requests handed on (not completed inline) */
	uint64_t stamp;		/* their t_submit: one clock read per call; 0 until needed */
	/* F_GETFL of the last fd looked up in this call: a batch is usually
	 * for one fd, and nothing in a submit call changes an fd's flags.
	 * (Another thread's fcntl or close racing the call has no order
	 * with it, in the kernel either.) */
	int fl_fd, fl;
	/* The call's own reference to ref_ufd's file (fref.c), shared by the
	 * requests of the call on that fd: one duplicate per fd and call. */
	int ref_ufd, ref_fd;
};

static void batch_flush(struct batch *b)
{
	if (b->npool)
		b->ctx->exec->submit(b->pool, b->npool);
	b->npool = 0;
}

static bool has_cap_nice(void)
{
	static _Atomic int cached = -1;	/* relaxed: every thread computes the same */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	int v = atomic_load_explicit(&cached, memory_order_relaxed);

	if (v < 0) {
		memset(d, 0, sizeof(d));
		v = syscall(SYS_capget, &h, d) == 0 &&
		    (d[0].effective & ((1u << CAP_SYS_NICE) | (1u << CAP_SYS_ADMIN)));
		atomic_store_explicit(&cached, v, memory_order_relaxed);
	}
	return v;
}

/* The kernel's ioprio_check_cap: class in the top 3 bits, level below. */
static int ioprio_check(int16_t prio)
{
	unsigned v = (uint16_t)prio, cls = v >> 13, level = v & 7;

	switch (cls) {
	case 1:	/* real time */
		return has_cap_nice() ? 0 : -EPERM;
	case 2:	/* best effort */
	case 3:	/* idle */
		return 0;
	case 0:	/* none */
		return level ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

/* -EBADF if fd is not open, -EINVAL if it is not an eventfd. */
static int eventfd_check(int fd)
{
	char path[64], link[64];
	ssize_t n;

	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return 0;	/* no /proc: trust the caller */
	link[n] = 0;
	return strcmp(link, "anon_inode:[eventfd]") ? -EINVAL : 0;
}

static bool range_ok(uint64_t buf, uint64_t len)
{
	return buf + len >= buf && buf + len <= USER_TOP;	/* the kernel's access_ok */
}

/* Fills req's iovec array (the kernel's import_ubuf / import_iovec). */
static int import_buffers(struct uaio_req *req, bool checked)
{
	const struct iocb *cb = &req->cb;
	size_t total = 0;
	uint64_t n;

	if (cb->aio_lio_opcode == IOCB_CMD_PREAD || cb->aio_lio_opcode == IOCB_CMD_PWRITE) {
		size_t len = cb->aio_nbytes > MAX_RW_COUNT ? MAX_RW_COUNT : cb->aio_nbytes;

		if (!range_ok(cb->aio_buf, len))
			return -EFAULT;
		req->iov = req->iov_inline;
		req->iov[0].iov_base = (void *)(uintptr_t)cb->aio_buf;
		req->iov[0].iov_len = len;
		req->niov = 1;
		req->total = len;
		return 0;
	}
	n = cb->aio_nbytes;
	if (n > IOV_MAX)
		return -EINVAL;
	req->iov = n <= 4 ? req->iov_inline : malloc(n * sizeof(struct iovec));
	if (!req->iov)
		return -ENOMEM;
	req->niov = (int)n;
	if (n && ua_read(checked, req->iov, cb->aio_buf, n * sizeof(struct iovec)) < 0)
		return -EFAULT;
	for (uint64_t i = 0; i < n; i++) {
		size_t len = req->iov[i].iov_len;

		if ((ssize_t)len < 0)
			return -EINVAL;
		if (len > MAX_RW_COUNT - total)
			req->iov[i].iov_len = len = MAX_RW_COUNT - total;
		if (!range_ok((uint64_t)(uintptr_t)req->iov[i].iov_base, len))
			return -EFAULT;
		total += len;
	}
	req->total = total;
	return 0;
}

static bool is_dir(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_reg(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

/* Outcome of preparing one request. */
enum route { ROUTE_DONE, ROUTE_POOL, ROUTE_POLLER };

static enum route finish_now(struct uaio_req *req, int64_t res, int64_t *out)
{
	*out = res;
	(void)req;
	return ROUTE_DONE;
}

/* Pipes, sockets, ttys, eventfds: one non-blocking attempt, then wait for
 * readiness in the poller (or, for a file that cannot be tried without
 * blocking, in a worker that polls in slices). */
/* Kernel AIO refuses, at submit with -EINVAL, a read or write on a file
 * without read_iter/write_iter.  Among unseekable files those are
 * anonymous-inode files of a few kinds, told apart by their link name. */
static int anon_rw_check(int fd, bool wr)
{
	static const struct { const char *name; bool rd, wr; } kinds[] = {
		{ "anon_inode:[eventfd]", true, false },
		{ "anon_inode:[signalfd]", true, false },
		{ "anon_inode:[timerfd]", true, false },
		{ "anon_inode:inotify", false, false },
		{ "anon_inode:[eventpoll]", false, false },
		{ "anon_inode:[pidfd]", false, false },
	};
	char path[40], name[64];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0 || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || S_ISCHR(st.st_mode))
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, name, sizeof(name) - 1);
	if (n < 0)
		return 0;
	name[n] = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(name, kinds[i].name))
			return (wr ? kinds[i].wr : kinds[i].rd) ? 0 : -EINVAL;
	return 0;
}

static int route_stream(struct uaio_req *req, bool user_nowait, int64_t *res, enum route *rt)
{
	int64_t n;
	int ret;

	ret = anon_rw_check((int)req->cb.aio_fildes, req->cb.aio_lio_opcode == IOCB_CMD_PWRITE ||
						    req->cb.aio_lio_opcode == IOCB_CMD_PWRITEV);
	if (ret < 0)
		return ret;
	req->kind = KIND_STREAM;
	n = req_try_nowait(req);
	if (n == -EOPNOTSUPP) {
		if (user_nowait)
			return -EOPNOTSUPP;
		*rt = ROUTE_POOL;
		return 0;
	}
	if (n == -EAGAIN && !user_nowait) {
		*rt = ROUTE_POLLER;
		return 0;
	}
	if (n > 0 && (req->cb.aio_lio_opcode == IOCB_CMD_PWRITE || req->cb.aio_lio_opcode == IOCB_CMD_PWRITEV)) {
		req->done = (size_t)n;
		if (req->done < req->total && !user_nowait) {
			*rt = ROUTE_POLLER;
			return 0;
		}
		n = (int64_t)req->done;
	}
	*rt = finish_now(req, n, res);
	return 0;
}

/* The caller's RWF_NOWAIT read came back short: at end of file that is
 * the answer; otherwise the rest would block, and a read is never short
 * but at end of file, so the answer is -EAGAIN. */
static int64_t nowait_rest(struct uaio_req *req, int64_t n)
{
	for (;;) {
		int64_t m;

		req->done = (size_t)n;
		m = req_try_nowait(req);
		if (m == 0)
			return n;
		if (m < 0)
			return m == -EAGAIN ? -EAGAIN : n;
		n += m;
		if ((size_t)n == req->total)
			return n;
	}
}

/* A buffered write is a copy into the page cache, done inside io_submit
 * by the kernel's AIO: done here too (SPEC §3), unless the context asked
 * for every buffered write to be offloaded. */
static bool write_inline(const struct uaio_req *req, int64_t n)
{
	if (req->ctx->flags & UAIO_F_ASYNC_WRITES)
		return false;
	return n == -EOPNOTSUPP || n == -EAGAIN || (n >= 0 && (size_t)n < req->total);
}

/* Descriptors whose file system answered a buffered write's RWF_NOWAIT
 * with -EOPNOTSUPP (ext4): their writes skip that attempt, a system call
 * that can only fail.  Only a hint: a number reused for another file at
 * worst skips an attempt that would have been made, and the write then
 * goes without NOWAIT, as it would after the attempt. */
#define NOWAIT_HINTS 65536
static _Atomic unsigned long nowait_refused[NOWAIT_HINTS / (8 * sizeof(unsigned long))];

static bool nowait_hint(int fd)
{
	const unsigned bits = 8 * sizeof(unsigned long);

	/* relaxed: a hint; any value read is safe. */
	return (unsigned)fd < NOWAIT_HINTS &&
	       (atomic_load_explicit(&nowait_refused[(unsigned)fd / bits], memory_order_relaxed) >>
		((unsigned)fd % bits) & 1);
}

static void nowait_learn(int fd)
{
	const unsigned bits = 8 * sizeof(unsigned long);

	if ((unsigned)fd < NOWAIT_HINTS)	/* relaxed: a hint */
		atomic_fetch_or_explicit(&nowait_refused[(unsigned)fd / bits], 1UL << ((unsigned)fd % bits),
					 memory_order_relaxed);
}

/* Regular files: a cached read (or a write to the page cache) completes
 * here with RWF_NOWAIT, as io_uring does; a short NOWAIT read is finished
 * by a worker, never returned short unless at end of file.  A buffered
 * write the file system cannot do with RWF_NOWAIT (ext4) is done here
 * without it. */
static int route_rw(struct uaio_req *req, int64_t *res, enum route *rt)
{
	unsigned rwf = (unsigned)req->cb.aio_rw_flags;
	bool user_nowait = rwf & RWF_NOWAIT, wr = req->cb.aio_lio_opcode == IOCB_CMD_PWRITE ||
					      req->cb.aio_lio_opcode == IOCB_CMD_PWRITEV;
	int64_t n;

	req->kind = KIND_FILE;
	*rt = ROUTE_POOL;
	if ((req->fl & O_DIRECT) || (wr && !user_nowait &&
	    ((rwf & (RWF_DSYNC | RWF_SYNC)) || (req->fl & (O_SYNC | O_DSYNC)))))
		return 0;	/* would wait for the device: never inline */
	if (wr && !user_nowait && !(req->ctx->flags & UAIO_F_ASYNC_WRITES) &&
	    nowait_hint((int)req->cb.aio_fildes)) {
		n = req_write_file(req);	/* -ESPIPE: nothing done, a stream */
		if (n != -ESPIPE) {
			*rt = finish_now(req, n, res);
			return 0;
		}
	} else {
		n = req_try_nowait(req);
	}
	if (wr && n == -EOPNOTSUPP)
		nowait_learn((int)req->cb.aio_fildes);
	if (n == -ESPIPE)
		/* An O_NONBLOCK pipe or socket answers -EAGAIN, as with the kernel. */
		return route_stream(req, user_nowait || (req->fl & O_NONBLOCK), res, rt);
	if (n == -EISDIR)
		return -EINVAL;	/* the kernel: no read_iter on a directory */
	if (n == -EOPNOTSUPP && !wr && is_dir((int)req->cb.aio_fildes))
		return -EINVAL;
	if (wr && !user_nowait && write_inline(req, n)) {
		req->done = n > 0 ? (size_t)n : 0;
		*rt = finish_now(req, req_write_file(req), res);
		return 0;
	}
	if (n == -EOPNOTSUPP && !user_nowait)
		return 0;	/* no NOWAIT support here: a worker does it */
	if (user_nowait && !wr && n > 0 && (size_t)n < req->total)
		n = nowait_rest(req, n);
	if (user_nowait || (n < 0 && n != -EAGAIN) || (n >= 0 && (size_t)n == req->total)) {
		*rt = finish_now(req, n, res);
		return 0;
	}
	if (n == -EAGAIN)
		return 0;
	req->done = (size_t)n;
	if (n == 0 && !wr) {
		*rt = finish_now(req, 0, res);
		return 0;
	}
	if (!wr) {	/* short: end of file, or partly cached? */
		n = req_try_nowait(req);
		if (n == 0 || (n < 0 && n != -EAGAIN)) {
			*rt = finish_now(req, (int64_t)req->done, res);
			return 0;
		}
		if (n > 0)
			req->done += (size_t)n;
		if (req->done == req->total) {
			*rt = finish_now(req, (int64_t)req->done, res);
			return 0;
		}
	}
	return 0;
}

static int prep_rw(struct uaio_req *req, bool checked, int64_t *res, enum route *rt)
{
	const struct iocb *cb = &req->cb;
	bool wr = cb->aio_lio_opcode == IOCB_CMD_PWRITE || cb->aio_lio_opcode == IOCB_CMD_PWRITEV;
	int acc = req->fl & O_ACCMODE, ret;

	if ((cb->aio_flags & IOCB_FLAG_IOPRIO) && (ret = ioprio_check(cb->aio_reqprio)) < 0)
		return ret;
	if (cb->aio_rw_flags & ~UAIO_RWF_OK)
		return -EOPNOTSUPP;
	if ((cb->aio_rw_flags & RWF_DONTCACHE) && !is_reg((int)cb->aio_fildes))
		return -EOPNOTSUPP;	/* only file systems' page cache has it */
	if ((cb->aio_rw_flags & RWF_APPEND) && (cb->aio_rw_flags & RWF_NOAPPEND))
		return -EINVAL;
	if (wr ? acc == O_RDONLY : acc == O_WRONLY)
		return -EBADF;
	/* A directory has no read method: the kernel says -EINVAL before it
	 * looks at the buffers.  Asked only when something fails, to keep
	 * the hot path at one system call. */
	ret = import_buffers(req, checked);
	if (!ret && (cb->aio_offset < 0 ||
		     (long long)((unsigned long long)cb->aio_offset + req->total) < 0))
		ret = -EINVAL;
	if (!ret && req->fault && faults_prep_rw(req)) {
		*rt = ROUTE_POOL;	/* delayed: held by faults.c, then the executor runs it */
		return 0;
	}
	if (!ret)
		ret = route_rw(req, res, rt);
	if (ret < 0 && !wr && is_dir((int)cb->aio_fildes))
		ret = -EINVAL;
	return ret;
}

static int prep_sync(struct uaio_req *req, enum route *rt)
{
	const struct iocb *cb = &req->cb;
	struct stat st;

	if (cb->aio_buf || cb->aio_offset || cb->aio_nbytes || cb->aio_rw_flags)
		return -EINVAL;
	if (fstat((int)cb->aio_fildes, &st) < 0)
		return -EBADF;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL;	/* no fsync: pipes, sockets, character devices */
	req->kind = KIND_SYNC;
	*rt = ROUTE_POOL;
	return 0;
}

static int prep_poll(struct uaio_req *req, int64_t *res, enum route *rt)
{
	const struct iocb *cb = &req->cb;
	struct pollfd p;

	if ((uint16_t)cb->aio_buf != cb->aio_buf)
		return -EINVAL;
	if (cb->aio_offset || cb->aio_nbytes || cb->aio_rw_flags)
		return -EINVAL;
	req->kind = KIND_POLL;
	req->poll_events = (unsigned)cb->aio_buf | POLLERR | POLLHUP;
	*rt = ROUTE_POLLER;
	if (req->fault)	/* delayed (faults.c): not ready before its time */
		return 0;
	p.fd = (int)cb->aio_fildes;
	p.events = (short)req->poll_events;
	p.revents = 0;
	if (poll(&p, 1, 0) > 0 && (p.revents & req->poll_events)) {
		*rt = finish_now(req, p.revents & req->poll_events, res);
		return 0;
	}
	return 0;
}

/* Makes sure whatever will run a request routed rt exists (a worker, the
 * poller, the ring) before submit accepts it: 0, or -EAGAIN if no thread
 * can be created for it, or another -errno if descriptors ran out.  Asked
 * once per call and kind, and again by the call's next request after a
 * refusal. */
static int reserve(struct batch *b, const struct uaio_req *req, enum route rt)
{
	const struct exec_ops *ex = b->ctx->exec;
	int r;

	if (rt == ROUTE_POLLER && !(req->kind == KIND_POLL && ex->takes_poll)) {
		if (!b->have_poller && (r = poller_reserve()) < 0)
			return r;
		b->have_poller = true;
		return 0;
	}
	return exec_reserve(ex, req, &b->have_pool);
}

/* Nothing can run req after submit: no thread could be created for it
 * (RLIMIT_NPROC, a cgroup's pids.max, no memory for a stack).  The
 * kernel's AIO owns no thread, so nothing a program does to its limits
 * stops it: what it would do inside io_submit when it cannot queue, the
 * submitter does here (a read from the device, an O_DSYNC write, an
 * fsync; a read from an empty pipe blocks, as there, until data, a
 * signal, destroy or exit).  A POLL cannot be waited for here (the
 * kernel answers it later): -EAGAIN.  So is a wait for readiness when
 * the poller lacks a descriptor, not a thread. */
static int no_runner(struct batch *b, struct uaio_req *req, enum route *rt, int64_t *res)
{
	int r = *rt == ROUTE_DONE ? 0 : reserve(b, req, *rt);

	if (r == 0)
		return 0;
	if (r != -EAGAIN || req->kind == KIND_POLL)
		return -EAGAIN;	/* a POLL, or no descriptor for the poller's epoll */
	/* relaxed: a statistic */
	atomic_fetch_add_explicit(&b->ctx->st_no_thread, 1, memory_order_relaxed);
	*rt = finish_now(req, req_run_blocking(req), res);
	return 0;
}

/* Hands req on; no_runner() has made sure something will run it. */
static int dispatch(struct batch *b, struct uaio_req *proto, enum route rt)
{
	struct uaio_ctx *ctx = b->ctx;
	struct uaio_req *req;
	int resfd = -1;
	/* The kernel takes a reference on the eventfd and needs no descriptor;
	 * our dup failing is our own limit, so -EAGAIN, not -EMFILE. */
	if (proto->cb.aio_flags & IOCB_FLAG_RESFD) {
		resfd = fref_new((int)proto->cb.aio_resfd);	/* high, closed in a forked child */
		if (resfd < 0)
			return -EAGAIN;
	}
	proto->resfd = resfd;
	req = req_alloc(proto);
	if (!req) {	/* the kernel's aio_get_req failing: -EAGAIN */
		if (resfd >= 0)
			fref_put(resfd);
		return -EAGAIN;
	}
	proto->iov = NULL;	/* now owned by req */
	if (rt == ROUTE_POLLER && req->kind == KIND_POLL && ctx->exec->takes_poll)
		rt = ROUTE_POOL;	/* the executor waits for readiness itself */
	/* published to others by the locks that follow */
	req_state_init(req, rt == ROUTE_POOL || req->fault == FAULT_DELAY ? REQ_QUEUED : REQ_RUNNING);
	if (!b->stamp)
		b->stamp = stats_stamp(ctx);
	req->t_submit = b->stamp;
	if (!active_insert(req)) {	/* destroyed meanwhile */
		post_event(ctx, req->cb.aio_data, req->obj, req_cancelled_res(req), req->resfd, true, STAMP_INLINE);
		req_free(req);
		return 0;
	}
	b->handed++;
	if (req->fault == FAULT_DELAY) {	/* faults.c starts it when due */
		faults_hold(req, rt == ROUTE_POOL);
		return 0;
	}
	if (rt == ROUTE_POOL) {
		atomic_fetch_add_explicit(&ctx->st_offloaded, 1, memory_order_relaxed); /* statistic */
		b->pool[b->npool++] = req;
		if (b->npool == BATCH)
			batch_flush(b);
	} else {
		atomic_fetch_add_explicit(&ctx->st_polled, 1, memory_order_relaxed); /* statistic */
		poller_arm(req);
	}
	return 0;
}

/* Gives req a reference of its own to its file (fref.c), shared with the
 * call's other requests on that fd; false when no descriptor is left. */
static bool take_ref(struct batch *b, struct uaio_req *req)
{
	int ufd = (int)req->cb.aio_fildes, r;

	if (b->ref_fd < 0 || b->ref_ufd != ufd) {
		if ((r = fref_new(ufd)) < 0)
			return false;
		if (b->ref_fd >= 0)
			fref_put(b->ref_fd);
		b->ref_fd = r;
		b->ref_ufd = ufd;
	}
	fref_get(b->ref_fd);
	req->fd = b->ref_fd;
	req->fd_ref = true;
	/* relaxed: destroy reads it only after the request is in flight and
	 * ordered by inflight's own accounting. */
	atomic_fetch_add_explicit(&b->ctx->files, 1, memory_order_relaxed);
	return true;
}

/* A request leaving submit holds its file.  Without a descriptor for
 * that, what waits for the device is done here, as the kernel's AIO
 * itself would; what waits for readiness (it could wait for ever) goes
 * on with the caller's descriptor. */
static enum route hold_file(struct batch *b, struct uaio_req *req, enum route rt, int64_t *res)
{
	if (rt == ROUTE_DONE || take_ref(b, req))
		return rt;
	if (req->kind == KIND_FILE || req->kind == KIND_SYNC)
		return finish_now(req, req_run_blocking(req), res);
	return rt;
}

/* Checks one copied iocb in the kernel's order and starts it. */
/* *keyed: set when the iocb got as far as the kernel's aio_key store
 * (after the fd and eventfd lookups), whether or not it then failed. */
static int submit_one(struct batch *b, const struct iocb *cb, uint64_t uptr, bool key_ok,
		      bool *keyed)
{
	struct uaio_ctx *ctx = b->ctx;
	bool checked = !(ctx->flags & UAIO_F_NOCHECK);
	struct uaio_req req;
	enum route rt = ROUTE_DONE;
	int64_t res = 0;
	int ret;

	if (cb->aio_reserved2 || (int64_t)cb->aio_nbytes < 0)
		return -EINVAL;
	if (!slot_get(ctx))
		return -EAGAIN;
	atomic_fetch_add_explicit(&ctx->inflight, 1, memory_order_relaxed); /* batch guard holds destroy */
	memset(&req, 0, sizeof(req));
	req.cb = *cb;
	req.obj = uptr;
	req.ctx = ctx;
	req.resfd = -1;
	req.fd = (int)cb->aio_fildes;
	if (b->fl_fd != (int)cb->aio_fildes || b->fl_fd < 0) {
		b->fl_fd = (int)cb->aio_fildes;
		b->fl = fcntl(b->fl_fd, F_GETFL);
	}
	req.fl = b->fl;
	ret = -EBADF;
	if (req.fl < 0 || (req.fl & O_PATH))
		goto out_release;
	if ((cb->aio_flags & IOCB_FLAG_RESFD) && (ret = eventfd_check((int)cb->aio_resfd)) < 0)
		goto out_release;
	ret = -EFAULT;
	if (!key_ok)
		goto out_release;
	*keyed = true;
	if (ctx->faults && faults_submit(&req, &res)) {
		ret = 0;	/* an injected error (faults.c): completes now with res */
		goto prepared;
	}
	switch (cb->aio_lio_opcode) {
	case IOCB_CMD_PREAD:
	case IOCB_CMD_PWRITE:
	case IOCB_CMD_PREADV:
	case IOCB_CMD_PWRITEV:
		ret = prep_rw(&req, checked, &res, &rt);
		break;
	case IOCB_CMD_FSYNC:
	case IOCB_CMD_FDSYNC:
		ret = prep_sync(&req, &rt);
		break;
	case IOCB_CMD_POLL:
		ret = prep_poll(&req, &res, &rt);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret < 0 || (ret = no_runner(b, &req, &rt, &res)) < 0)
		goto out_release;
	rt = hold_file(b, &req, rt, &res);
prepared:
	atomic_fetch_add_explicit(&ctx->st_submitted, 1, memory_order_relaxed); /* statistic */
	if (rt == ROUTE_DONE) {
		atomic_fetch_add_explicit(&ctx->st_inline, 1, memory_order_relaxed); /* statistic */
		post_event(ctx, cb->aio_data, uptr, res,
			   cb->aio_flags & IOCB_FLAG_RESFD ? (int)cb->aio_resfd : -1, false, STAMP_INLINE);
		ret = 0;
	} else {
		ret = dispatch(b, &req, rt);
		if (ret < 0) {
			atomic_fetch_sub_explicit(&ctx->st_submitted, 1, memory_order_relaxed);
			goto out_release;
		}
	}
	if (req.iov && req.iov != req.iov_inline)
		free(req.iov);
	return 0;

out_release:
	req_file_drop(&req);
	if (req.iov && req.iov != req.iov_inline)
		free(req.iov);
	slot_put(ctx);
	inflight_done(ctx);
	return ret;
}

/* Writes 0 to aio_key of iocbs[0..n) as the kernel does; returns how many
 * leading ones could be written. */
static int write_keys(bool checked, const uint64_t *ptrs, int n)
{
	static const uint32_t zero[BATCH];
	uint64_t keys[BATCH];

	for (int i = 0; i < n; i++)
		keys[i] = ptrs[i] + offsetof(struct iocb, aio_key);
	return ua_write_pieces(checked, keys, zero, n, sizeof(uint32_t));
}

/* write_keys() zeroed aio_key of a whole chunk in one call; the kernel
 * stores it only for iocbs that pass the fd checks and stops at the first
 * failure.  Puts back the caller's value where it was not 0 (rare: the
 * kernel itself requires 0 for cancel), in iocbs [from, to). */
static void restore_keys(bool checked, const uint64_t *ptrs, const struct iocb *cbs,
			 int from, int to)
{
	for (int j = from; j < to; j++)
		if (cbs[j].aio_key)
			ua_write(checked, ptrs[j] + offsetof(struct iocb, aio_key),
				 &cbs[j].aio_key, sizeof(cbs[j].aio_key));
}

/* Batches of up to SMALL iocbs: one process_vm_readv copies the iocbs
 * (remote side: one page walk each) and then zeroes their aio_key (local
 * side), one system call instead of two; from about three iocbs on, two
 * calls with one page walk each cost less.  Returns false (nothing
 * decided) unless every iocb was read; *keys = leading keys zeroed. */
#define SMALL 2

static bool read_small(const uint64_t *ptrs, struct iocb *cbs, int n, int *keys)
{
	static const uint32_t zero[SMALL];
	struct iovec l[1 + SMALL], r[SMALL + 1];
	size_t all = sizeof(struct iocb) * (size_t)n;
	ssize_t got;

	l[0] = (struct iovec){ cbs, all };
	for (int i = 0; i < n; i++) {
		if (ptrs[i] == 0)
			return false;
		r[i] = (struct iovec){ (void *)(uintptr_t)ptrs[i], sizeof(struct iocb) };
		l[1 + i] = (struct iovec){ (char *)(uintptr_t)ptrs[i] + offsetof(struct iocb, aio_key),
					   sizeof(uint32_t) };
	}
	r[n] = (struct iovec){ (void *)zero, sizeof(uint32_t) * (size_t)n };
	got = process_vm_readv(ua_pid(), l, (unsigned long)n + 1, r, (unsigned long)n + 1, 0);
	if (got < (ssize_t)all)
		return false;
	*keys = (int)((size_t)got - all) / (int)sizeof(uint32_t);
	for (int i = 0; i < *keys; i++)	/* seen by memory checkers too */
		((struct iocb *)(uintptr_t)ptrs[i])->aio_key = 0;
	return true;
}

/* Copies up to n iocb pointers; returns how many leading ones were readable. */
static int read_ptrs(bool checked, uint64_t *ptrs, uint64_t src, int n)
{
	if (ua_read(checked, ptrs, src, (size_t)n * sizeof(*ptrs)) == 0)
		return n;
	for (int i = 0; i < n; i++)
		if (ua_read(true, &ptrs[i], src + (uint64_t)i * sizeof(*ptrs), sizeof(*ptrs)) < 0)
			return i;
	return n;
}

/* Errors (of the first iocb; later ones end the batch early): -EINVAL
 * nr < 0, unknown context, bad iocb field or opcode; -EFAULT unreadable
 * pointer; -EAGAIN no free slot; -EBADF bad fd or fd mode;
 * -EOPNOTSUPP unknown rw flag; -EPERM real-time priority not allowed. */
static int do_submit(aio_context_t h, long nr, struct iocb **iocbpp);

UAIO_API int uaio_submit(aio_context_t h, long nr, struct iocb **iocbpp)
{
	int cs = nocancel_begin(), r = do_submit(h, nr, iocbpp);

	nocancel_end(cs);
	return r;
}

static int do_submit(aio_context_t h, long nr, struct iocb **iocbpp)
{
	uint64_t ptrs[BATCH];
	struct iocb cbs[BATCH];
	struct batch b = { .fl_fd = -1, .ref_ufd = -1, .ref_fd = -1 };
	long i = 0;
	int err = 0;
	bool checked;

	if (nr < 0)
		return -EINVAL;
	if (!(b.ctx = ctx_get(h)))
		return -EINVAL;
	/* seq_cst: the guard must be visible before we look at dead (destroy
	 * stores dead, then reads inflight). */
	atomic_fetch_add(&b.ctx->inflight, 1);
	if (atomic_load(&b.ctx->dead)) {
		err = -EINVAL;
		goto out;
	}
	checked = !(b.ctx->flags & UAIO_F_NOCHECK);
	stats_prepare(b.ctx);
	if (nr > b.ctx->nr)
		nr = b.ctx->nr;
	while (i < nr && !err) {
		int k = nr - i > BATCH ? BATCH : (int)(nr - i), m, keys, j;

		/* Integer arithmetic: iocbpp may be a bad pointer, even NULL. */
		m = read_ptrs(checked, ptrs, (uint64_t)(uintptr_t)iocbpp + (uint64_t)i * sizeof(*iocbpp), k);
		if (!checked || m > SMALL || !ua_user_local() || !read_small(ptrs, cbs, m, &keys)) {
			m = ua_read_pieces(checked, cbs, ptrs, m, sizeof(struct iocb));
			keys = write_keys(checked, ptrs, m);
		}
		for (j = 0; j < m; j++) {
			bool keyed = false;

			err = submit_one(&b, &cbs[j], ptrs[j], j < keys, &keyed);
			if (err) {
				restore_keys(checked, ptrs, cbs, keyed ? j + 1 : j, keys);
				break;
			}
			i++;
		}
		batch_flush(&b);
		if (!err && m < k)
			err = -EFAULT;
	}
	if (b.handed)
		stats_handed(b.ctx, b.handed);
	if (b.ref_fd >= 0)
		fref_put(b.ref_fd);
out:
	inflight_done(b.ctx);
	ctx_put(b.ctx);
	return i ? (int)i : err;
}
