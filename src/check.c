/* SPDX-License-Identifier: MIT */
/* check.c - UAIO_CHECK: the misuse checker.  uaio sees every request
 * whole, so it can say what the kernel cannot: an iocb submitted twice,
 * requests in flight whose file ranges or buffers overlap, a write buffer
 * changed before the write ran, O_DIRECT alignment, getevents calls that
 * cannot wait, events left in the ring.  Each finding is reported once per
 * call site (the hash of the caller's backtrace) as one line and the
 * backtrace on fd 2, and counted in a summary at exit.  The checker never
 * changes what a call answers.
 *
 * In-flight table: every request handed on (not completed inside submit)
 * is entered at dispatch and leaves as its event is posted (events.c,
 * which every completion passes: executors, cancel, destroy).  Entries
 * carry copies of what the checks need (never the request itself, which
 * its executor may free once a canceller posted its event). */
#include "check.h"
#include "ring.h"
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

bool g_check;
static unsigned level;	/* CHECK_* bits; written with g_check */

enum kind { K_DUP, K_FILE, K_MEM, K_CHANGED, K_DIO, K_NOWAIT, K_UNREAPED, K_RINGFULL, K_LEAK, K_MAX };
static const char *const kind_name[K_MAX] = {
	"iocb-in-flight", "file-overlap", "buffer-overlap", "buffer-changed", "dio-misaligned",
	"getevents-no-wait", "destroy-unreaped", "ring-full", "not-destroyed",
};
/* relaxed: counts, read by the summary at exit */
static _Atomic unsigned long kind_count[K_MAX];
static _Atomic unsigned long nsites;

/* Call sites already reported: open addressing on the backtrace hash,
 * lock free (a report may come from the SIGSYS handler of --syscalls).
 * 0 marks a free slot. */
#define SITES 4096
static _Atomic uint64_t sites[SITES];

#define BT_MAX 32
#define BT_KEEP 16	/* frames an entry keeps for a later report */

struct span {
	uintptr_t lo, hi;
};

struct ent {
	struct ent *onext;		/* obj bucket chain */
	struct ent *prev, *next;	/* the list of all entries */
	const struct uaio_ctx *ctx;
	const struct uaio_req *req;	/* identity only: never dereferenced */
	uint64_t obj;
	unsigned op;
	int fd;
	bool wr;			/* writes the file (reads memory) */
	bool has_file;			/* a regular file or device range */
	dev_t dev;
	ino_t ino;
	uint64_t off, end;
	int nspan;
	struct span *spans, span_inline[2];
	bool summed, sum_checked;	/* buffers level: a write's checksum */
	uint64_t sum;
	int nbt;
	void *bt[BT_KEEP];		/* buffers level: the submit's backtrace */
};

/* chk_lock protects the obj buckets, the all list and every entry in them. */
static pthread_mutex_t chk_lock = PTHREAD_MUTEX_INITIALIZER;
#define OBJ_BUCKETS 1024
static struct ent *obj_bucket[OBJ_BUCKETS];
static struct ent *all;
/* Entries in the table: written under chk_lock; read without it by
 * check_inline as a hint (relaxed): with none in flight an inline request
 * has nothing to overlap. */
static _Atomic unsigned long nflight;
/* A forked child's inherited entries, kept reachable (no leak to
 * LeakSanitizer); volatile: kept, though never read. */
static struct ent *volatile orphans;

static unsigned obj_hash(uint64_t obj)
{
	return (unsigned)((obj >> 4) ^ (obj >> 14)) % OBJ_BUCKETS;
}

static const char *op_name(unsigned c)
{
	const struct opcode *op = op_get(c);

	return op ? op->name : "?";
}

/* ---- reports ---- */

static uint64_t bt_hash(enum kind k, void *const *bt, int n)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)k;

	for (int i = 0; i < n; i++)
		h = (h ^ (uint64_t)(uintptr_t)bt[i]) * 1099511628211ULL;
	return h ? h : 1;
}

/* True the first time this site is seen. */
static bool site_new(uint64_t h)
{
	for (unsigned i = 0, j = (unsigned)h % SITES; i < SITES; i++, j = (j + 1) % SITES) {
		uint64_t v = 0;

		/* relaxed: the slot's value is all there is to it */
		if (atomic_compare_exchange_strong_explicit(&sites[j], &v, h, memory_order_relaxed,
							    memory_order_relaxed)) {
			atomic_fetch_add_explicit(&nsites, 1, memory_order_relaxed); /* a count */
			return true;
		}
		if (v == h)
			return false;
	}
	return true;	/* full: report rather than lose it */
}

/* One finding: counted always, reported once per site.  bt: the frames to
 * show (a request's submit), else this call's own.  Plain write(2) and
 * backtrace_symbols_fd: no stdio lock, no malloc, so that a report from
 * the SIGSYS handler cannot deadlock. */
static __attribute__((noinline, format(printf, 4, 5)))
void finding(enum kind k, void *const *bt, int nbt, const char *fmt, ...)
{
	void *own[BT_MAX];
	char line[768];
	va_list ap;
	int n;

	atomic_fetch_add_explicit(&kind_count[k], 1, memory_order_relaxed); /* a count */
	if (!bt) {
		nbt = backtrace(own, BT_MAX) - 1;	/* not this function's frame */
		bt = own + 1;
		nbt = nbt < 0 ? 0 : nbt;
	}
	if (!site_new(bt_hash(k, bt, nbt)))
		return;
	n = snprintf(line, sizeof(line), "uaio-check: %s: ", kind_name[k]);
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		return;
	backtrace_symbols_fd(bt, nbt, 2);
	if (level & CHECK_HALT)
		abort();
}

/* ---- what a request touches ---- */

/* A 64-bit checksum of the buffers, read with the checked copy (a bad
 * buffer is the write's own -EFAULT, not our crash).  false: unreadable. */
static bool spans_sum(const struct ent *e, uint64_t *sum)
{
	unsigned char chunk[4096];
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < e->nspan; i++)
		for (uintptr_t p = e->spans[i].lo; p < e->spans[i].hi;) {
			size_t n = e->spans[i].hi - p < sizeof(chunk) ? e->spans[i].hi - p : sizeof(chunk);

			if (ua_read(true, chunk, p, n) < 0)
				return false;
			for (size_t j = 0; j < n; j++)
				h = (h ^ chunk[j]) * 1099511628211ULL;
			p += n;
		}
	*sum = h;
	return true;
}

static bool spans_copy(struct ent *e, const struct uaio_req *req)
{
	int n = 0;

	e->spans = e->span_inline;
	if (req->niov > 2 && !(e->spans = malloc((size_t)req->niov * sizeof(*e->spans))))
		return false;
	for (int i = 0; i < req->niov && req->iov; i++) {
		uintptr_t lo = (uintptr_t)req->iov[i].iov_base;

		if (req->iov[i].iov_len)
			e->spans[n++] = (struct span){ lo, lo + req->iov[i].iov_len };
	}
	e->nspan = n;
	return true;
}

static void ent_fini(struct ent *e)
{
	if (e->spans != e->span_inline)
		free(e->spans);
}

#ifndef STATX_DIOALIGN
#define STATX_DIOALIGN 0x00002000U
#endif

/* What one statx says of a request's file: its identity, and for
 * O_DIRECT its alignment.  One system call per checked request. */
struct finfo {
	bool ok;
	mode_t mode;
	dev_t dev;
	ino_t ino;
	unsigned blksize, dio_mem, dio_off;	/* dio_*: 0 when not reported */
};

static void finfo_get(int fd, bool dio, struct finfo *fi)
{
	struct statx sx;

	memset(fi, 0, sizeof(*fi));
	if (statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_INO | (dio ? STATX_DIOALIGN : 0), &sx) < 0)
		return;
	fi->ok = true;
	fi->mode = sx.stx_mode;
	fi->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	fi->ino = sx.stx_ino;
	fi->blksize = sx.stx_blksize;
	if (dio && (sx.stx_mask & STATX_DIOALIGN)) {
		fi->dio_mem = sx.stx_dio_mem_align;
		fi->dio_off = sx.stx_dio_offset_align;
	}
}

/* The file's identity and the request's byte range, for a read or write
 * of a regular file or a block device (not a stream: no offsets there;
 * not an append: its offset is the end of file). */
static void file_range(struct ent *e, const struct uaio_req *req, const struct finfo *fi)
{
	bool append = e->wr && ((req->fl & O_APPEND) || (req->cb.aio_rw_flags & RWF_APPEND));

	if (!req->total || append || !fi->ok || !(S_ISREG(fi->mode) || S_ISBLK(fi->mode)))
		return;
	e->has_file = true;
	e->dev = fi->dev;
	e->ino = fi->ino;
	e->off = (uint64_t)req->cb.aio_offset;
	e->end = e->off + req->total;
}

/* A read or write: *fi is its file.  false: no memory to check this
 * request with (it goes unchecked). */
static bool ent_fill(struct ent *e, const struct uaio_req *req, struct finfo *fi)
{
	const struct opcode *op = op_get(req->cb.aio_lio_opcode);

	memset(e, 0, sizeof(*e));
	e->ctx = req->ctx;
	e->req = req;
	e->obj = req->obj;
	e->op = req->cb.aio_lio_opcode;
	e->fd = (int)req->cb.aio_fildes;
	e->wr = op && op->write;
	e->spans = e->span_inline;
	fi->ok = false;
	if (!op || !op->rw)
		return true;
	if (!spans_copy(e, req))
		return false;
	finfo_get(e->fd, req->fl & O_DIRECT, fi);
	file_range(e, req, fi);
	return true;
}

/* ---- O_DIRECT alignment ---- */

/* The file's O_DIRECT alignment for memory and for offsets/lengths, and
 * where it came from; false when nothing says. */
static bool dio_align(int fd, const struct finfo *fi, unsigned *mem, unsigned *off, const char **src)
{
	int bs;

	if (fi->dio_mem && fi->dio_off) {
		*mem = fi->dio_mem;
		*off = fi->dio_off;
		*src = "statx STATX_DIOALIGN";
		return true;
	}
	if (S_ISBLK(fi->mode) && ioctl(fd, BLKSSZGET, &bs) == 0 && bs > 0) {
		*mem = *off = (unsigned)bs;
		*src = "the device's logical block size, BLKSSZGET";
		return true;
	}
	if (!fi->blksize)
		return false;
	*mem = *off = fi->blksize;
	*src = "st_blksize: the kernel reports no STATX_DIOALIGN here";
	return true;
}

static void check_dio(const struct ent *e, const struct uaio_req *req, const struct finfo *fi)
{
	unsigned mem, oa;
	const char *src;
	char what[320];
	int n = 0;

	if (!(req->fl & O_DIRECT) || !fi->ok || !dio_align(e->fd, fi, &mem, &oa, &src))
		return;
	for (int i = 0; i < req->niov && req->iov; i++) {
		uintptr_t b = (uintptr_t)req->iov[i].iov_base;

		if (b % mem && n < 200)
			n += snprintf(what + n, sizeof(what) - (size_t)n, "%sbuffer %#lx not a multiple of %u",
				      n ? ", " : "", (unsigned long)b, mem);
		if (req->iov[i].iov_len % oa && n < 200)
			n += snprintf(what + n, sizeof(what) - (size_t)n, "%slength %zu not a multiple of %u",
				      n ? ", " : "", req->iov[i].iov_len, oa);
	}
	if ((uint64_t)req->cb.aio_offset % oa && n < 200)
		n += snprintf(what + n, sizeof(what) - (size_t)n, "%soffset %lld not a multiple of %u",
			      n ? ", " : "", (long long)req->cb.aio_offset, oa);
	if (n)
		finding(K_DIO, NULL, 0,
			"O_DIRECT %s on fd %d (iocb %#llx): %s; required: memory %u, offset and length %u (%s); "
			"the kernel answers a bare -EINVAL", op_name(e->op), e->fd,
			(unsigned long long)e->obj, what, mem, oa, src);
}

/* ---- in flight ---- */

static bool spans_overlap(const struct ent *a, const struct ent *b)
{
	for (int i = 0; i < a->nspan; i++)
		for (int j = 0; j < b->nspan; j++)
			if (a->spans[i].lo < b->spans[j].hi && b->spans[j].lo < a->spans[i].hi)
				return true;
	return false;
}

/* e against the requests in flight; chk_lock held.  One report per kind
 * and request: one overlap is enough to show the bug. */
static void conflicts_locked(const struct ent *e)
{
	bool file = false, mem = false;

	for (struct ent *o = obj_bucket[obj_hash(e->obj)]; o; o = o->onext)
		if (o->obj == e->obj) {
			finding(K_DUP, NULL, 0,
				"iocb %#llx (%s, fd %d) submitted again while in flight on context %#llx: "
				"both events carry the same obj, the program cannot tell them apart",
				(unsigned long long)e->obj, op_name(e->op), e->fd,
				(unsigned long long)o->ctx->handle);
			break;
		}
	for (struct ent *o = all; o && !(file && mem); o = o->next) {
		if (o->obj == e->obj)
			continue;	/* the same iocb: reported above */
		if (!file && e->has_file && o->has_file && e->dev == o->dev && e->ino == o->ino &&
		    (e->wr || o->wr) && e->off < o->end && o->off < e->end) {
			file = true;
			finding(K_FILE, NULL, 0,
				"%s [%llu, %llu) on fd %d (iocb %#llx) overlaps in-flight %s [%llu, %llu) on fd %d "
				"(iocb %#llx) of the same file (dev %u:%u ino %llu): their order is undefined",
				op_name(e->op), (unsigned long long)e->off, (unsigned long long)e->end, e->fd,
				(unsigned long long)e->obj, op_name(o->op), (unsigned long long)o->off,
				(unsigned long long)o->end, o->fd, (unsigned long long)o->obj, major(e->dev),
				minor(e->dev), (unsigned long long)e->ino);
		}
		if (!mem && (!e->wr || !o->wr) && spans_overlap(e, o)) {
			mem = true;
			finding(K_MEM, NULL, 0,
				"%s (iocb %#llx) buffer [%#lx, %#lx) overlaps the buffer of in-flight %s (iocb %#llx), "
				"and at least one of them writes memory: its contents are undefined",
				op_name(e->op), (unsigned long long)e->obj, (unsigned long)e->spans[0].lo,
				(unsigned long)e->spans[e->nspan - 1].hi, op_name(o->op), (unsigned long long)o->obj);
		}
	}
}

void check_inline(const struct uaio_req *req)
{
	struct finfo fi;
	struct ent e;

	/* relaxed: a hint.  A request another thread enters meanwhile has no
	 * order with this one (nor would it with the kernel's). */
	if (!atomic_load_explicit(&nflight, memory_order_relaxed) && !(req->fl & O_DIRECT))
		return;
	if (!ent_fill(&e, req, &fi))
		return;
	check_dio(&e, req, &fi);
	pthread_mutex_lock(&chk_lock);
	conflicts_locked(&e);
	pthread_mutex_unlock(&chk_lock);
	ent_fini(&e);
}

void check_dispatch(const struct uaio_req *req)
{
	struct ent *e = malloc(sizeof(*e));
	struct finfo fi;
	unsigned h;

	if (!e)
		return;
	if (!ent_fill(e, req, &fi)) {
		free(e);
		return;
	}
	check_dio(e, req, &fi);
	if ((level & CHECK_BUFFERS) && e->wr && e->nspan) {
		e->summed = spans_sum(e, &e->sum);
		e->nbt = backtrace(e->bt, BT_KEEP);
	}
	h = obj_hash(e->obj);
	pthread_mutex_lock(&chk_lock);
	conflicts_locked(e);
	e->onext = obj_bucket[h];
	obj_bucket[h] = e;
	e->next = all;
	if (all)
		all->prev = e;
	all = e;
	atomic_fetch_add_explicit(&nflight, 1, memory_order_relaxed);	/* a count, see there */
	pthread_mutex_unlock(&chk_lock);
}

/* Unlinks the first entry of bucket h for (ctx, obj), and req if given; chk_lock held. */
static struct ent *take_locked(unsigned h, const struct uaio_ctx *ctx, uint64_t obj,
			       const struct uaio_req *req)
{
	for (struct ent **pp = &obj_bucket[h], *e; (e = *pp); pp = &e->onext) {
		if (e->obj != obj || e->ctx != ctx || (req && e->req != req))
			continue;
		*pp = e->onext;
		if (e->prev)
			e->prev->next = e->next;
		else
			all = e->next;
		if (e->next)
			e->next->prev = e->prev;
		atomic_fetch_sub_explicit(&nflight, 1, memory_order_relaxed);	/* a count, see there */
		return e;
	}
	return NULL;
}

static void forget(const struct uaio_ctx *ctx, uint64_t obj, const struct uaio_req *req)
{
	struct ent *e;

	pthread_mutex_lock(&chk_lock);
	e = take_locked(obj_hash(obj), ctx, obj, req);
	pthread_mutex_unlock(&chk_lock);
	if (e) {
		ent_fini(e);
		free(e);
	}
}

void check_undo(const struct uaio_req *req)
{
	forget(req->ctx, req->obj, req);
}

/* Before the event is visible: a program that reaps it and submits the
 * same iocb again must find it gone.  Of two entries for one iocb on one
 * context (itself a finding) either may go: they are alike. */
void check_posted(const struct uaio_ctx *ctx, uint64_t obj, uint64_t stamp)
{
	if (stamp != STAMP_INLINE)
		forget(ctx, obj, NULL);
}

void check_posted_many(const struct uaio_ctx *ctx, const struct io_event *evs,
		       const uint64_t *stamps, int n)
{
	for (int i = 0; i < n; i++)
		check_posted(ctx, evs[i].obj, stamps[i]);
}

/* Buffers level: the write's data as the executor is about to take it. */
void check_before_write(const struct uaio_req *req)
{
	struct ent *e;
	uint64_t sum;

	if (!(level & CHECK_BUFFERS) || !op_is_write(req->cb.aio_lio_opcode))
		return;
	pthread_mutex_lock(&chk_lock);
	for (e = obj_bucket[obj_hash(req->obj)]; e; e = e->onext)
		if (e->req == req && e->ctx == req->ctx && e->obj == req->obj)
			break;
	if (e && e->summed && !e->sum_checked) {
		e->sum_checked = true;	/* once: a requeued request runs again */
		if (spans_sum(e, &sum) && sum != e->sum)
			finding(K_CHANGED, e->bt + 1, e->nbt - 1,
				"%s (iocb %#llx) on fd %d: its buffer changed between submit and execution: "
				"the data written is not what was submitted (backtrace: the submit)",
				op_name(e->op), (unsigned long long)e->obj, e->fd);
	}
	pthread_mutex_unlock(&chk_lock);
}

/* ---- getevents, destroy, the ring ---- */

static unsigned long ctx_flight(const struct uaio_ctx *ctx)
{
	unsigned long n = 0;

	pthread_mutex_lock(&chk_lock);
	for (struct ent *e = all; e; e = e->next)
		n += e->ctx == ctx;
	pthread_mutex_unlock(&chk_lock);
	return n;
}

/* A zero timeout is an explicit poll (fio reaps that way): not reported. */
void check_getevents(const struct uaio_ctx *ctx, long min_nr, const struct timespec *ts)
{
	unsigned long n;

	if (min_nr || !ts || (!ts->tv_sec && !ts->tv_nsec) || !(n = ctx_flight(ctx)))
		return;
	finding(K_NOWAIT, NULL, 0,
		"getevents on context %#llx with min_nr 0 and a timeout of %lld.%09ld s while %lu requests "
		"that did not complete inside submit are in flight: it returns at once, it never waits "
		"for them (the kernel's too)", (unsigned long long)ctx->handle, (long long)ts->tv_sec,
		ts->tv_nsec, n);
}

/* Events in the ring not yet reaped (the head is the program's to move). */
static unsigned unreaped(const struct uaio_ctx *ctx)
{
	/* relaxed: a diagnostic; a racing reaper makes it a moment old */
	unsigned head = atomic_load_explicit((_Atomic unsigned *)&ctx->ring->head, memory_order_relaxed);
	unsigned tail = atomic_load_explicit(&ctx->tail_pub, memory_order_relaxed);

	return (tail + ctx->nr - head % ctx->nr) % ctx->nr;
}

void check_destroy(struct uaio_ctx *ctx)
{
	unsigned n = unreaped(ctx);

	if (n)
		finding(K_UNREAPED, NULL, 0, "context %#llx destroyed with %u events never reaped",
			(unsigned long long)ctx->handle, n);
}

void check_ring_full(struct uaio_ctx *ctx)
{
	unsigned n = unreaped(ctx);

	if (n)
		finding(K_RINGFULL, NULL, 0,
			"submit on context %#llx answers -EAGAIN: its ring holds %u events not reaped "
			"(%lu requests in flight); reaping them frees their slots",
			(unsigned long long)ctx->handle, n, ctx_flight(ctx));
}

/* ---- the process ---- */

static void check_exit(void)
{
	unsigned long total = 0;
	struct uaio_ctx **live;
	char line[512];
	size_t nlive;
	int n;

	live = table_hold_all(&nlive);
	for (size_t i = 0; i < nlive; i++) {
		/* relaxed: counts */
		atomic_fetch_add_explicit(&kind_count[K_LEAK], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&nsites, 1, memory_order_relaxed);
		n = snprintf(line, sizeof(line),
			     "uaio-check: %s: context %#llx (%u events never reaped) was never destroyed\n",
			     kind_name[K_LEAK], (unsigned long long)live[i]->handle, unreaped(live[i]));
		if (write(2, line, (size_t)n) < 0)
			break;
	}
	for (size_t i = 0; i < nlive; i++)
		ctx_put(live[i]);
	free(live);
	for (int k = 0; k < K_MAX; k++)	/* relaxed: counts */
		total += atomic_load_explicit(&kind_count[k], memory_order_relaxed);
	n = snprintf(line, sizeof(line), "uaio-check: %lu findings (%lu distinct sites)", total,
		     atomic_load_explicit(&nsites, memory_order_relaxed));	/* relaxed: a count */
	for (int k = 0, first = 1; k < K_MAX; k++) {
		unsigned long c = atomic_load_explicit(&kind_count[k], memory_order_relaxed); /* a count */

		if (c && n < (int)sizeof(line) - 64) {
			n += snprintf(line + n, sizeof(line) - (size_t)n, "%s %s %lu", first ? ":" : ",",
				      kind_name[k], c);
			first = 0;
		}
	}
	line[n++] = '\n';
	if (write(2, line, (size_t)n) < 0)
		return;
}

void check_init(unsigned lvl)
{
	void *bt[2];

	if (!lvl)
		return;
	level = lvl;
	g_check = true;
	/* backtrace() loads libgcc's unwinder at its first call: here, not in
	 * a signal handler (the SIGSYS route reports from one). */
	(void)backtrace(bt, 2);
	atexit(check_exit);
}

/* The child of fork: no request of the parent is in flight here, and the
 * lock may have been held by a thread that does not exist. */
void check_atfork_child(void)
{
	if (!g_check)
		return;
	pthread_mutex_init(&chk_lock, NULL);
	/* The entries stay allocated, unread: another thread of the parent
	 * may have been changing the lists, as process.c's contexts. */
	orphans = all;
	memset(obj_bucket, 0, sizeof(obj_bucket));
	all = NULL;
	atomic_store_explicit(&nflight, 0, memory_order_relaxed);	/* no other thread here */
	/* the parent reported and counts its own findings: the child's start afresh */
	memset(sites, 0, sizeof(sites));
	memset(kind_count, 0, sizeof(kind_count));
	atomic_store_explicit(&nsites, 0, memory_order_relaxed);	/* no other thread here */
}
