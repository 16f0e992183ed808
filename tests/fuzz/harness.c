/* SPDX-License-Identifier: MIT */
/*
 * harness.c - the op interpreter behind the fuzzer and the replay test.
 *
 * Input: a byte string read as operations (one selector byte, then the
 * bytes that operation consumes; an exhausted input reads as zeros).  The
 * fuzzer controls every field of the iocbs, but file descriptors and
 * pointers go through tables: a descriptor is one of a few files the
 * harness opened (or a closed one, -1, an unopened number), a pointer is
 * a buffer the harness owns or a deliberately bad one.  The harness never
 * hands uaio a pointer it could write through into the harness's own
 * state, so a violation is uaio's, not the harness's.
 *
 * Invariants checked (abort() with a message when broken):
 * - every accepted iocb (the first N of a batch, N = submit's answer)
 *   yields exactly one event, carrying its aio_data and iocb address, and
 *   no event arrives for anything else; requests still pending when their
 *   context is destroyed are resolved by the destroy (SPEC: destroy
 *   cancels or waits; the ring goes with it);
 * - before the end of an input every pending request is cancelled and its
 *   event must arrive (streams are kept moving meanwhile);
 * - the ring header at each live handle stays valid (magic, nr, id,
 *   header_length, head and tail below nr);
 * - calls on a handle that is not live answer -EINVAL; counts are never
 *   above what was asked;
 * - the quota: setup succeeds exactly when the sum of live nr_events stays
 *   within it; after everything is destroyed a setup of the whole quota
 *   succeeds;
 * - no file descriptor is left open after an input.
 * Every wait is bounded (getevents timeouts <= 1 ms; the final drain has a
 * deadline, $UAIO_FUZZ_DRAIN_MS, default 5000).
 */
#include "harness.h"
#include "uaio.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NCTX	4
#define NSLOT	256		/* iocbs that can be pending at once */
#define SLOT_BITS 9		/* aio_data = counter << SLOT_BITS | slot */
#define NCHUNK	128		/* data buffers, one page each, guard page after */
#define CHUNK	4096
#define NEVBUF	1024		/* events buffer (then a guard page) */
#define MAXOPS	64
#define MAXIOV	1100		/* above IOV_MAX, to reach its check */
#define NSTALE	8
#define PG	4096

enum {
	F_REG, F_DIRECT, F_DISK, F_RDONLY, F_PIPE_R, F_PIPE_W, F_PIPE_RNB, F_PIPE_WNB,
	F_SOCK_A, F_SOCK_B, F_EFD, F_EFD_NB, F_DIR, F_CLOSED, F_MINUS1, F_RAW, NFD
};

struct in {
	const uint8_t *p;
	size_t n, i;
};

struct slot {
	bool pending;
	int ctx;
	uint64_t data;
	int chunk;		/* data chunk held while pending, or -1 */
};

struct hctx {
	bool live;
	aio_context_t h;
	unsigned nr, id, nr_events;
	bool nocheck;
	int npend;
};

static struct hctx C[NCTX];
static struct slot S[NSLOT];
static struct iocb *iocbs;		/* NSLOT iocbs at stable addresses */
static struct iocb *scratch_cb;	/* never submitted; aio_key set */
static char *chunks;			/* NCHUNK x (data page, guard page) */
static bool chunk_used[NCHUNK];
static char *ro_page, *none_page;
static struct io_event *evbuf;		/* NEVBUF events, then a guard page */
static struct iocb **ptrpage;		/* one page of iocb pointers, then a guard page */
static aio_context_t stale[NSTALE];
static unsigned nstale;
static int fds[NFD];
static int closed_fd = -1;
static uint64_t counter;
static bool safe, env_nocheck;
static unsigned long quota = 65536;
static int fd_baseline = -1;	/* -1 until the warm-up input has run */
static bool inited;
static long drain_ms = 5000;
static unsigned long long n_ops, n_accepted;
static bool trace;		/* $UAIO_FUZZ_TRACE: print every call and answer */

#define TRACE(...) do { if (trace) fprintf(stderr, __VA_ARGS__); } while (0)

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "uaio fuzz invariant violated: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static uint8_t u8(struct in *in)
{
	return in->i < in->n ? in->p[in->i++] : 0;
}

static uint16_t u16(struct in *in)
{
	return (uint16_t)(u8(in) | u8(in) << 8);
}

static uint32_t u32(struct in *in)
{
	return (uint32_t)u16(in) | (uint32_t)u16(in) << 16;
}

static uint64_t u64(struct in *in)
{
	return (uint64_t)u32(in) | (uint64_t)u32(in) << 32;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void print_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[300], l[256];
		ssize_t n;

		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		n = readlink(p, l, sizeof(l) - 1);
		if (e->d_name[0] != '.' && n > 0)
			fprintf(stderr, "  fd %s -> %.*s\n", e->d_name, (int)n, l);
	}
	if (d)
		closedir(d);
}

/* ---- pointers ---- */

/* A pointer no call may use: NULL, never mappable (below mmap_min_addr),
 * an inaccessible page, the kernel half, non-canonical. */
static uint64_t bad_ptr(unsigned k)
{
	switch (k % 5) {
	case 0: return 0;
	case 1: return 0x1000 + (k & 0xff0);
	case 2: return (uint64_t)(uintptr_t)none_page;
	case 3: return 0xffff880000000000ULL;
	default: return 0x0000800000000000ULL;
	}
}

static int chunk_take(void)
{
	for (int i = 0; i < NCHUNK; i++)
		if (!chunk_used[i]) {
			chunk_used[i] = true;
			return i;
		}
	return -1;
}

static char *chunk_addr(int c)
{
	return chunks + (size_t)c * 2 * PG;
}

/* ---- contexts and requests ---- */

static int ctx_of(aio_context_t h)
{
	for (int i = 0; i < NCTX; i++)
		if (C[i].live && C[i].h == h)
			return i;
	return -1;
}

static unsigned long quota_used(void)
{
	unsigned long s = 0;

	for (int i = 0; i < NCTX; i++)
		if (C[i].live)
			s += C[i].nr_events;
	return s;
}

static void slot_resolve(int s)
{
	if (S[s].chunk >= 0)
		chunk_used[S[s].chunk] = false;
	C[S[s].ctx].npend--;
	S[s].pending = false;
	S[s].chunk = -1;
}

static void consume(int ci, const struct io_event *ev, const char *how)
{
	uint64_t s = ev->data & ((1u << SLOT_BITS) - 1);

	if (s >= NSLOT || !S[s].pending || S[s].data != ev->data || S[s].ctx != ci)
		fail("%s: event for no request in flight on context %d: data %#llx obj %#llx res %lld",
		     how, ci, (unsigned long long)ev->data, (unsigned long long)ev->obj,
		     (long long)ev->res);
	if (ev->obj != (uint64_t)(uintptr_t)&iocbs[s])
		fail("%s: event data %#llx carries obj %#llx, iocb was %p", how,
		     (unsigned long long)ev->data, (unsigned long long)ev->obj, (void *)&iocbs[s]);
	if (ev->res2 != 0)
		fail("%s: event data %#llx has res2 %lld", how, (unsigned long long)ev->data,
		     (long long)ev->res2);
	slot_resolve((int)s);
}

static void check_rings(void)
{
	for (int i = 0; i < NCTX; i++) {
		const struct uaio_ring *r;
		unsigned head, tail;

		if (!C[i].live)
			continue;
		r = (const struct uaio_ring *)(uintptr_t)C[i].h;
		/* relaxed: a snapshot; only the bounds are checked. */
		head = __atomic_load_n(&r->head, __ATOMIC_RELAXED);
		tail = __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
		if (r->magic != UAIO_RING_MAGIC || r->nr != C[i].nr || r->id != C[i].id ||
		    r->header_length != sizeof(struct uaio_ring) || head >= r->nr || tail >= r->nr)
			fail("ring of context %d broken: magic %#x nr %u (was %u) id %u (was %u) "
			     "header_length %u head %u tail %u", i, r->magic, r->nr, C[i].nr, r->id,
			     C[i].id, r->header_length, head, tail);
	}
}

/* A handle for a call: a live context, a destroyed one, or garbage. */
static aio_context_t pick_handle(struct in *in)
{
	uint8_t b = u8(in);

	if (b < 0xc0)
		return C[b % NCTX].h;	/* 0 when that context is not live */
	switch (b % 5) {
	case 0: return nstale ? stale[u8(in) % nstale] : 0;
	case 1: return C[b % NCTX].h ? C[b % NCTX].h + 8 : 12345;
	case 2: return (aio_context_t)(uintptr_t)chunk_addr(0);	/* harness memory, not a ring */
	case 3: return (aio_context_t)bad_ptr(u8(in));
	default: return (aio_context_t)u64(in);
	}
}

/* May this call be given bad control pointers?  Not on a NOCHECK context
 * (which trusts them by contract), nor in safe mode. */
static bool may_bad(int ci)
{
	return !safe && !(ci >= 0 && C[ci].nocheck);
}

/* ---- setup ---- */

static unsigned pick_nr(struct in *in)
{
	uint8_t b = u8(in);

	switch (b % 8) {
	case 0: return 0;
	case 1: return (unsigned)quota;
	case 2: return (unsigned)quota + 1;
	case 3: return u32(in);
	case 4: return 1u << (u8(in) % 32);
	case 5: return 1 + u16(in) % 2048;
	default: return 1 + b % 64;
	}
}

static void op_setup(struct in *in)
{
	int ci = u8(in) % NCTX;
	unsigned nr = pick_nr(in);
	uint8_t m = u8(in);
	struct uaio_params p;
	aio_context_t h = 0;
	unsigned long used = quota_used();
	int r;

	memset(&p, 0, sizeof(p));
	p.flags = (m & 1) ? UAIO_F_NOCHECK : 0;
	if (m & 2)
		p.reserved[u8(in) % (sizeof(p.reserved) / sizeof(p.reserved[0]))] = 1;	/* must be refused */
	if ((m & 0xc0) == 0x40) {	/* fault injection (uaio_faults(7)): valid specs only */
		static const char *const specs[] = {
			"seed=7;op=write:every=2:err=EIO",
			"op=read:short;op=write:p=0.5:short=100",
			"seed=3;op=all:p=0.3:delay=1ms",
			"op=sync:err=ENOSPC;op=poll:every=3:delay=200us",
			"seed=9;op=all:p=0.2:err=EINTR;op=all:p=0.2:short",
			"",
		};
		p.faults = specs[u8(in) % (sizeof(specs) / sizeof(specs[0]))];
	}
	if (C[ci].live || (m & 0x0c) == 0x0c) {
		h = C[ci].live ? C[ci].h : 1;	/* *ctxp not 0: -EINVAL */
		r = uaio_setup_params(nr, &p, &h);
		if (r != -EINVAL)
			fail("setup with *ctxp %#llx answered %d, not -EINVAL", (unsigned long long)h, r);
		if (r == 0 && ctx_of(h) < 0)
			uaio_destroy(h);
		return;
	}
	if ((m & 0x30) == 0x30 && !(p.flags & UAIO_F_NOCHECK) && !env_nocheck && !safe) {
		r = uaio_setup_params(nr, &p, (aio_context_t *)(uintptr_t)bad_ptr(u8(in)));
		if (r != -EFAULT)
			fail("setup with a bad ctxp answered %d, not -EFAULT", r);
		return;
	}
	r = uaio_setup_params(nr, &p, &h);
	TRACE("setup[%d](%u, flags %#x) = %d\n", ci, nr, p.flags, r);
	if (r == 0) {
		const struct uaio_ring *ring = (const struct uaio_ring *)(uintptr_t)h;

		if (m & 2)
			fail("setup accepted a non-zero reserved field");
		if (nr == 0 || used + nr > quota || used + nr < used)
			fail("setup of %u events succeeded with %lu of the quota %lu used", nr, used, quota);
		if (!h || ctx_of(h) >= 0)
			fail("setup returned handle %#llx", (unsigned long long)h);
		if (ring->magic != UAIO_RING_MAGIC || ring->nr <= nr || ring->head || ring->tail ||
		    ring->compat_features != 1 || ring->incompat_features ||
		    ring->header_length != sizeof(struct uaio_ring))
			fail("fresh ring for %u events: magic %#x nr %u head %u tail %u", nr,
			     ring->magic, ring->nr, ring->head, ring->tail);
		C[ci].live = true;
		C[ci].h = h;
		C[ci].nr = ring->nr;
		C[ci].id = ring->id;
		C[ci].nr_events = nr;
		C[ci].nocheck = (p.flags & UAIO_F_NOCHECK) || env_nocheck;
		C[ci].npend = 0;
		return;
	}
	if (h)
		fail("failed setup (%d) wrote the handle %#llx", r, (unsigned long long)h);
	if (r == -EAGAIN && used + nr <= quota && used + nr >= used)
		fail("setup of %u events: -EAGAIN with %lu of the quota %lu used", nr, used, quota);
	if (r != -EAGAIN && r != -EINVAL && r != -ENOMEM && r != -EPERM && r != -ENOSYS)
		fail("setup of %u events answered %d", nr, r);
}

/* ---- submit ---- */

static int pick_fd(struct in *in)
{
	int k = u8(in) % NFD;

	if (k == F_RAW) {
		static const int raw[] = { 4000, 65536, INT_MAX, INT_MIN, -2, 1 << 20 };
		return raw[u8(in) % 6];
	}
	return fds[k];
}

static long long pick_offset(struct in *in)
{
	uint8_t b = u8(in);

	switch (b % 8) {
	case 0: return (long long)u64(in);
	case 1: return -(long long)(1 + u8(in));
	case 2: return (long long)u8(in) * 512;
	case 3: return (long long)u16(in) << 12;
	default: return b / 8;
	}
}

static uint64_t pick_len(struct in *in, size_t room)
{
	uint8_t b = u8(in);

	if (safe)
		return room ? u16(in) % (room + 1) : 0;
	switch (b % 8) {
	case 0: return u64(in);
	case 1: return (uint64_t)SSIZE_MAX + 1 + u8(in);
	case 2: return 1ULL << (u8(in) % 40);
	case 3: return room + u8(in);
	default: return room ? u16(in) % (room + 1) : 0;
	}
}

static bool is_read_op(unsigned op)
{
	return op == IOCB_CMD_PREAD || op == IOCB_CMD_PREADV;
}

/* Data buffer of a request: a chunk (taken into *chunk), the read-only
 * page, or a bad pointer.  *room: bytes usable from it. */
/* A write whose buffer is an arbitrary address (pick_buf's "anything")
 * may read gigabytes of valid memory (under ASan, its shadow: readable
 * zeros) now that buffered writes are done inside submit, as the kernel
 * does: such lengths are cut to ANY_MAX unless over SSIZE_MAX (refused
 * at submit, nothing read). */
#define ANY_MAX	(1u << 20)
static bool last_any;

static uint64_t any_len(uint64_t len)
{
	bool any = last_any;

	last_any = false;
	return any && len > ANY_MAX && len <= (uint64_t)SSIZE_MAX ? ANY_MAX : len;
}

static uint64_t pick_buf(struct in *in, unsigned op, int ci, int *chunk, size_t *room)
{
	uint8_t b = u8(in);

	*room = 0;
	last_any = false;
	if (b < 0xa0 || safe) {
		if (*chunk < 0)
			*chunk = chunk_take();
		if (*chunk < 0)
			return safe ? 0 : bad_ptr(0);
		size_t off = (b % 4 == 0) ? (size_t)(u16(in) % CHUNK) : (b % 4 == 1 ? 0 : (size_t)(b % 4) * 512);
		*room = CHUNK - off;
		return (uint64_t)(uintptr_t)(chunk_addr(*chunk) + off);
	}
	if (b < 0xc0) {
		*room = PG;
		return (uint64_t)(uintptr_t)ro_page;
	}
	if (b >= 0xf8 && !is_read_op(op) && may_bad(ci)) {
		last_any = true;
		return u64(in);	/* anything: only ever read from */
	}
	return bad_ptr(b);
}

/* Fills cb's aio_buf and aio_nbytes for its opcode; *iov gets a malloc'd
 * iovec array the caller frees after submit (uaio copies it). */
static void fill_buffers(struct in *in, struct iocb *cb, int ci, int *chunk, struct iovec **iov)
{
	unsigned op = cb->aio_lio_opcode;
	size_t room;

	*iov = NULL;
	if (op == IOCB_CMD_PREADV || op == IOCB_CMD_PWRITEV) {
		uint8_t b = u8(in);
		size_t n;

		if (b >= 0xe0 && may_bad(ci)) {
			cb->aio_buf = bad_ptr(b);
			cb->aio_nbytes = 1 + b % 4;
			return;
		}
		switch (b % 8) {
		case 0: n = 1024 + u8(in) % 8; break;		/* around IOV_MAX */
		case 1: n = u16(in) % 64; break;
		case 2: n = 0; break;
		default: n = 1 + b % 5; break;
		}
		if (n > MAXIOV)
			n = MAXIOV;
		*iov = calloc(n ? n : 1, sizeof(**iov));
		if (!*iov)
			fail("out of memory");
		for (size_t i = 0; i < n; i++) {
			/* A few leading entries from the input, the rest repeat them. */
			if (i < 6) {
				uint64_t base = pick_buf(in, op, ci, chunk, &room);

				(*iov)[i].iov_base = (void *)(uintptr_t)base;
				(*iov)[i].iov_len = (size_t)any_len(pick_len(in, room));
			} else {	/* bounded bytes per request: most repeats are empty */
				(*iov)[i] = (*iov)[i % 6];
				if (i % 64)
					(*iov)[i].iov_len = 0;
			}
		}
		cb->aio_buf = (uint64_t)(uintptr_t)*iov;
		cb->aio_nbytes = n;
		if ((b & 0xc0) == 0x40 && !safe)
			cb->aio_nbytes = u64(in);	/* count out of range */
		else if ((b & 0xc0) == 0x80 && n < MAXIOV)
			cb->aio_nbytes = n + (b & 1);	/* >= IOV_MAX or exact */
		if (cb->aio_nbytes > n && cb->aio_nbytes <= 1024)
			cb->aio_nbytes = n;	/* never let uaio read past the array */
		return;
	}
	if (op == IOCB_CMD_POLL) {
		uint8_t b = u8(in);

		cb->aio_buf = b < 0xf0 ? u16(in) : u64(in);
		cb->aio_nbytes = b % 16 == 1 ? u8(in) : 0;
		return;
	}
	if (op == IOCB_CMD_FSYNC || op == IOCB_CMD_FDSYNC) {
		uint8_t b = u8(in);

		cb->aio_buf = b % 8 == 1 ? pick_buf(in, op, ci, chunk, &room) : 0;
		cb->aio_nbytes = b % 8 == 2 ? u8(in) : 0;
		return;
	}
	cb->aio_buf = pick_buf(in, op, ci, chunk, &room);
	cb->aio_nbytes = any_len(pick_len(in, room));
}

static unsigned pick_opcode(struct in *in)
{
	uint8_t b = u8(in);

	if (b >= 0xf0)
		return u16(in);
	/* 0 PREAD, 1 PWRITE, 2 FSYNC, 3 FDSYNC, 4 retired, 5 POLL, 6 NOOP,
	 * 7 PREADV, 8 PWRITEV: the valid ones more often. */
	static const unsigned ops[] = { 0, 1, 0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 7, 8, 9, 0 };
	return ops[b % 16];
}

static void op_submit(struct in *in)
{
	aio_context_t h = pick_handle(in);
	int ci = ctx_of(h);
	uint8_t m = u8(in);
	int want = m % 9, n = 0, slots[8], chunks_of[8];
	struct iovec *iovs[8];
	struct iocb **arr;
	long nr;
	int r, good;

	for (int s = 0; s < NSLOT && n < want; s++) {
		bool taken = S[s].pending;

		for (int j = 0; j < n && !taken; j++)
			taken = slots[j] == s;
		if (!taken)
			slots[n++] = s;
	}
	/* The pointer array: at the end of a page followed by a guard page,
	 * so that one pointer more than it holds faults. */
	arr = ptrpage + PG / sizeof(*ptrpage) - n;
	for (int j = 0; j < n; j++) {
		struct iocb *cb = &iocbs[slots[j]];
		uint8_t f = u8(in);

		chunks_of[j] = -1;
		memset(cb, 0, sizeof(*cb));
		cb->aio_lio_opcode = (uint16_t)pick_opcode(in);
		cb->aio_fildes = (uint32_t)pick_fd(in);
		if (f & 1)
			cb->aio_reserved2 = u64(in);
		if (f & 2)
			cb->aio_key = u32(in);
		cb->aio_flags = (f & 4) ? u32(in) :
			((f & 8) ? IOCB_FLAG_RESFD : 0) | ((f & 16) ? IOCB_FLAG_IOPRIO : 0);
		cb->aio_resfd = (uint32_t)pick_fd(in);
		cb->aio_reqprio = (int16_t)u16(in);
		cb->aio_rw_flags = (f & 32) ? (int)u32(in) :
			(int)(u8(in) & (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND));
		cb->aio_offset = pick_offset(in);
		fill_buffers(in, cb, ci, &chunks_of[j], &iovs[j]);
		cb->aio_data = ++counter << SLOT_BITS | (uint64_t)slots[j];
		arr[j] = cb;
	}
	good = n;
	nr = n;
	if (m >= 0xf0) {
		nr = -1 - (long)(m & 3);
	} else if (m >= 0xe0 && may_bad(ci)) {
		if (n && (m & 1))
			arr[good = (int)(u8(in) % n)] = (struct iocb *)(uintptr_t)bad_ptr(m >> 1);
		else
			nr = n + 1;	/* one pointer past the array: the guard page */
	}
	if (m >= 0xe0 && m < 0xf0 && may_bad(ci) && (m & 2) && !n)
		r = uaio_submit(h, 1, (struct iocb **)(uintptr_t)bad_ptr(u8(in)));
	else
		r = uaio_submit(h, nr, arr);
	TRACE("submit[%d](%ld) = %d:", ci, nr, r);
	for (int j = 0; j < n; j++)
		TRACE(" {op %u fd %d flags %#x resfd %d rwf %#x off %lld buf %#llx nbytes %llu}",
		      arr[j]->aio_lio_opcode, (int)arr[j]->aio_fildes, arr[j]->aio_flags,
		      (int)arr[j]->aio_resfd, arr[j]->aio_rw_flags, (long long)arr[j]->aio_offset,
		      (unsigned long long)arr[j]->aio_buf, (unsigned long long)arr[j]->aio_nbytes);
	TRACE("\n");
	if (r > 0 && (ci < 0 || r > good || r > nr))
		fail("submit of %ld (%d readable) on %s handle %#llx answered %d", nr, good,
		     ci < 0 ? "a dead" : "a live", (unsigned long long)h, r);
	if (ci < 0 && r != -EINVAL && !(nr < 0 && r == -EINVAL) && !(nr == 0 && r == 0))
		fail("submit on a handle that is not live (%#llx) answered %d", (unsigned long long)h, r);
	for (int j = 0; j < n; j++) {
		if (j < r) {
			int s = slots[j];

			S[s].pending = true;
			S[s].ctx = ci;
			S[s].data = iocbs[s].aio_data;
			S[s].chunk = chunks_of[j];
			C[ci].npend++;
			n_accepted++;
			if (iocbs[s].aio_key != 0)
				fail("accepted iocb %d has aio_key %u, not 0", j, iocbs[s].aio_key);
		} else if (chunks_of[j] >= 0) {
			chunk_used[chunks_of[j]] = false;
		}
		free(iovs[j]);
	}
}

/* ---- getevents ---- */

static void op_getevents(struct in *in)
{
	aio_context_t h = pick_handle(in);
	int ci = ctx_of(h);
	uint8_t m = u8(in), b = u8(in);
	long nr, min_nr;
	struct timespec ts = { 0, 0 }, *tp = &ts;
	struct io_event *ev = evbuf;
	long room = NEVBUF;
	sigset_t mask;
	int r;

	switch (b % 8) {
	case 0: nr = (long)u64(in); break;
	case 1: nr = -(long)(1 + u8(in)); break;
	case 2: nr = NEVBUF; break;
	default: nr = b % 12; break;
	}
	switch (u8(in) % 6) {
	case 0: min_nr = nr == LONG_MAX ? nr : nr + 1; break;	/* no overflow here */
	case 1: min_nr = -1; break;
	case 2: min_nr = nr; break;
	default: min_nr = nr > 0 ? (long)((unsigned long)u8(in) % ((unsigned long)nr + 1)) : 0; break;
	}
	switch (m % 8) {
	case 0: case 1: break;				/* zero: no wait */
	case 2: case 3: ts.tv_nsec = (u16(in) * 16L) % 1000001; break;
	case 4: ts.tv_sec = 1; ts.tv_nsec = -1000000000L + u16(in) % 1000001; break; /* no range check */
	case 5:
		if (may_bad(ci)) {
			/* Never NULL: that waits for ever. */
			tp = (struct timespec *)(uintptr_t)bad_ptr(1 + u8(in) % 4);
			break;
		}
		/* fallthrough */
	default: ts.tv_nsec = 1000000; break;
	}
	if (m & 0x10) {	/* events buffer near the guard page */
		room = u8(in) % 8;
		ev = evbuf + NEVBUF - room;
		if (!may_bad(ci) && nr > room)
			nr = room, min_nr = min_nr > nr ? nr : min_nr;
	} else if ((m & 0x60) == 0x60 && may_bad(ci)) {
		ev = (struct io_event *)(uintptr_t)bad_ptr(u8(in));
		room = 0;
	} else if (!may_bad(ci) && nr > NEVBUF) {
		nr = NEVBUF;
	}
	TRACE("%sgetevents[%d](%ld, %ld, timeout %s%lld s %ld ns) ...\n", (m & 0x80) ? "p" : "",
	      ci, min_nr, nr, tp == &ts ? "" : "bad ", (long long)ts.tv_sec, ts.tv_nsec);
	if (m & 0x80) {
		sigemptyset(&mask);
		r = uaio_pgetevents(h, min_nr, nr, ev, tp, &mask);
	} else {
		r = uaio_getevents(h, min_nr, nr, ev, tp);
	}
	TRACE("%sgetevents[%d](%ld, %ld, timeout %s%lld s %ld ns) = %d\n", (m & 0x80) ? "p" : "",
	      ci, min_nr, nr, tp == &ts ? "" : "bad ", (long long)ts.tv_sec, ts.tv_nsec, r);
	if (r > 0 && (ci < 0 || r > nr || r > room))
		fail("getevents(min %ld, nr %ld, room %ld) on %s handle answered %d", min_nr, nr, room,
		     ci < 0 ? "a dead" : "a live", r);
	if (ci < 0 && r != -EINVAL && r != -EFAULT)
		fail("getevents on a handle that is not live answered %d", r);
	for (int i = 0; i < r; i++)
		consume(ci, &ev[i], "getevents");
}

/* ---- cancel ---- */

static int pending_of(int ci, unsigned k)
{
	int n = 0, s;

	for (s = 0; s < NSLOT; s++)
		if (S[s].pending && S[s].ctx == ci)
			n++;
	if (!n)
		return -1;
	k %= (unsigned)n;
	for (s = 0; s < NSLOT; s++)
		if (S[s].pending && S[s].ctx == ci && k-- == 0)
			return s;
	return -1;
}

static void op_cancel(struct in *in)
{
	aio_context_t h = pick_handle(in);
	int ci = ctx_of(h), s = -1, r;
	uint8_t m = u8(in);
	struct io_event res;
	struct iocb *cb;
	bool bad = false;

	switch (m % 8) {
	case 0: case 1: case 2: case 3:
		s = ci >= 0 ? pending_of(ci, u8(in)) : -1;
		cb = s >= 0 ? &iocbs[s] : &iocbs[u8(in) % NSLOT];
		if (s < 0 && S[cb - iocbs].pending)
			s = (int)(cb - iocbs);	/* in flight, maybe elsewhere */
		break;
	case 4:
		cb = &iocbs[u8(in) % NSLOT];	/* whatever that slot holds */
		if (S[cb - iocbs].pending)
			s = (int)(cb - iocbs);
		break;
	case 5:
		cb = scratch_cb;	/* aio_key not 0 */
		break;
	default:
		if (may_bad(-1)) {	/* cancel reads the iocb before the lookup */
			cb = (struct iocb *)(uintptr_t)bad_ptr(m >> 3);
			bad = true;
		} else {
			cb = scratch_cb;
		}
		break;
	}
	memset(&res, 0xa5, sizeof(res));
	r = uaio_cancel(h, cb, (m & 0x80) && may_bad(ci) ? NULL : &res);
	TRACE("cancel[%d](%p, slot %d) = %d\n", ci, (void *)cb, s, r);
	if (bad) {
		if (r != -EFAULT && !(cb == NULL && r == -EFAULT))
			fail("cancel of a bad iocb pointer %p answered %d", (void *)cb, r);
		return;
	}
	if (s >= 0 && S[s].ctx == ci && ci >= 0) {
		if (r == 0) {	/* an old kernel's answer: the event is in result */
			consume(ci, &res, "cancel result");
		} else if (r != -EINPROGRESS && r != -EAGAIN && r != -EINVAL) {
			fail("cancel of a pending request answered %d", r);
		}
		return;
	}
	if (r != -EINVAL)
		fail("cancel of an iocb not in flight on %s handle answered %d",
		     ci < 0 ? "a dead" : "this", r);
}

/* ---- destroy ---- */

static void forget(int ci)
{
	for (int s = 0; s < NSLOT; s++)
		if (S[s].pending && S[s].ctx == ci)
			slot_resolve(s);
	static unsigned next;

	stale[next++ % NSTALE] = C[ci].h;
	if (nstale < NSTALE)
		nstale++;
	memset(&C[ci], 0, sizeof(C[ci]));
}

static void op_destroy(struct in *in)
{
	aio_context_t h = pick_handle(in);
	int ci = ctx_of(h), r = uaio_destroy(h);

	TRACE("destroy[%d] = %d\n", ci, r);

	if (ci >= 0 && r != 0)
		fail("destroy of live context %d answered %d", ci, r);
	if (ci < 0 && r != -EINVAL)
		fail("destroy of a handle that is not live (%#llx) answered %d", (unsigned long long)h, r);
	if (ci >= 0)
		forget(ci);
}

/* ---- streams ---- */

static ssize_t stream_step(unsigned k, size_t len)
{
	static char junk[65536];
	uint64_t one = 1;
	ssize_t r;

	if (len > sizeof(junk))
		len = sizeof(junk);
	switch (k % 9) {
	case 0: r = write(fds[F_PIPE_WNB], junk, len); break;
	case 1: r = read(fds[F_PIPE_RNB], junk, len); break;
	case 2: r = send(fds[F_SOCK_A], junk, len, MSG_DONTWAIT | MSG_NOSIGNAL); break;
	case 3: r = send(fds[F_SOCK_B], junk, len, MSG_DONTWAIT | MSG_NOSIGNAL); break;
	case 4: r = recv(fds[F_SOCK_A], junk, len, MSG_DONTWAIT); break;
	case 5: r = recv(fds[F_SOCK_B], junk, len, MSG_DONTWAIT); break;
	case 6: r = write(fds[F_EFD_NB], &one, sizeof(one)); break;
	case 7: r = read(fds[F_EFD_NB], &one, sizeof(one)); break;
	default: r = write(fds[F_EFD], &one, sizeof(one)); break;	/* +1 never blocks */
	}
	return r;
}

static void op_stream(struct in *in)
{
	uint8_t k = u8(in);

	stream_step(k, k >= 0xc0 ? 65536 : 1 + u8(in) * 16u);
}

/* ---- direct reaping, as fio's userspace_reap ---- */

static void op_reap(struct in *in)
{
	int ci = u8(in) % NCTX;
	unsigned max = u8(in) % 16;
	struct uaio_ring *r;
	unsigned head, tail;

	if (!C[ci].live)
		return;
	r = (struct uaio_ring *)(uintptr_t)C[ci].h;
	head = r->head;
	/* acquire: the events before tail are written. */
	tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	while (max-- && head != tail) {
		struct io_event ev = r->io_events[head];

		consume(ci, &ev, "ring reap");
		head = (head + 1) % C[ci].nr;
	}
	/* release: the copies above are done before uaio may reuse the slots. */
	__atomic_store_n(&r->head, head, __ATOMIC_RELEASE);
}

/* ---- the per-input files ---- */

static int tmp_in(const char *dir, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/uaio-fuzz-XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, 16 * CHUNK) < 0) {
		close(fd);
		return -1;
	}
	if (flags) {
		char p2[64];
		int fd2;

		snprintf(p2, sizeof(p2), "/proc/self/fd/%d", fd);
		fd2 = open(p2, flags | O_CLOEXEC);
		close(fd);
		fd = fd2;
	}
	return fd;
}

static int reopen(int fd, int flags)
{
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	return open(p, flags | O_CLOEXEC);
}

static void open_files(void)
{
	const char *t = getenv("TMPDIR");
	const char *disk = t && *t ? t : "/var/tmp";
	struct stat st;
	int p[2], sv[2];

	fds[F_REG] = tmp_in(stat("/dev/shm", &st) == 0 ? "/dev/shm" : disk, 0);
	if (fds[F_REG] < 0)
		fds[F_REG] = tmp_in(disk, 0);
	fds[F_DISK] = tmp_in(disk, 0);
	fds[F_DIRECT] = fds[F_DISK] >= 0 ? reopen(fds[F_DISK], O_RDWR | O_DIRECT) : -1;
	if (fds[F_DIRECT] < 0)
		fds[F_DIRECT] = reopen(fds[F_REG], O_RDWR);
	fds[F_RDONLY] = reopen(fds[F_REG], O_RDONLY);
	if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		fail("pipe or socketpair: %s", strerror(errno));
	fds[F_PIPE_R] = p[0];
	fds[F_PIPE_W] = p[1];
	/* Own open file descriptions: O_NONBLOCK on them leaves the others blocking. */
	fds[F_PIPE_RNB] = reopen(p[0], O_RDONLY | O_NONBLOCK);
	fds[F_PIPE_WNB] = reopen(p[0], O_WRONLY | O_NONBLOCK);
	fds[F_SOCK_A] = sv[0];
	fds[F_SOCK_B] = sv[1];
	fds[F_EFD] = eventfd(0, EFD_CLOEXEC);
	fds[F_EFD_NB] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fds[F_DIR] = open(disk, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fds[F_CLOSED] = closed_fd;
	fds[F_MINUS1] = -1;
	fds[F_RAW] = 4001;
	for (int i = 0; i < F_CLOSED; i++)
		if (fds[i] < 0)
			fail("cannot open the harness's file %d: %s", i, strerror(errno));
}

static void close_files(void)
{
	for (int i = 0; i < F_CLOSED; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* ---- end of input ---- */

static void drain(void)
{
	long long end = now_ms() + drain_ms;
	int left;

	for (;;) {
		left = 0;
		for (int ci = 0; ci < NCTX; ci++) {
			/* Reads first, then writes: data stays there for uaio's readers. */
			static const unsigned steps[] = { 1, 4, 5, 7, 0, 2, 3, 6, 8 };
			struct timespec ts = { 0, 1000000 };
			int r;

			if (!C[ci].live)
				continue;
			for (int s = 0; s < NSLOT; s++)
				if (S[s].pending && S[s].ctx == ci) {
					struct io_event res;

					if (uaio_cancel(C[ci].h, &iocbs[s], &res) == 0)
						consume(ci, &res, "drain cancel");
				}
			/* A read step empties its stream (up to 16 MiB a round): a
			 * pending write of up to MAX_RW_COUNT bytes to a socket must
			 * drain faster than the write steps refill it. */
			for (unsigned k = 0; k < sizeof(steps) / sizeof(steps[0]) && C[ci].npend; k++)
				for (int n = 0; n < 256 && stream_step(steps[k], k < 4 ? 65536 : 4096) > 0 && k < 4; n++)
					;
			if (!C[ci].npend)	/* whatever arrives now is one too many */
				ts.tv_nsec = 0;
			r = uaio_getevents(C[ci].h, 0, NEVBUF, evbuf, &ts);

			if (r < 0)
				fail("drain: getevents on live context %d answered %d", ci, r);
			for (int i = 0; i < r; i++)
				consume(ci, &evbuf[i], "drain");
			left += C[ci].npend;
		}
		if (!left) {
			TRACE("drain: done after %lld ms\n", now_ms() - end + drain_ms);
			return;
		}
		if (now_ms() > end)
			break;
	}
	for (int s = 0; s < NSLOT; s++)
		if (S[s].pending)
			fprintf(stderr, "  pending: context %d data %#llx opcode %u fd %d flags %#x rw_flags %#x\n",
				S[s].ctx, (unsigned long long)S[s].data, iocbs[s].aio_lio_opcode,
				(int)iocbs[s].aio_fildes, iocbs[s].aio_flags, iocbs[s].aio_rw_flags);
	fail("%d accepted request(s) cancelled at the end gave no event within %ld ms", left, drain_ms);
}

static void finish(void)
{
	aio_context_t h = 0;
	int r, n;

	long long t0 = now_ms();

	drain();
	check_rings();
	for (int ci = 0; ci < NCTX; ci++)
		if (C[ci].live) {
			if ((r = uaio_destroy(C[ci].h)) != 0)
				fail("final destroy of context %d answered %d", ci, r);
			forget(ci);
		}
	for (int c = 0; c < NCHUNK; c++)
		if (chunk_used[c])
			fail("harness: chunk %d still held", c);
	/* No quota or slot left behind: the whole quota is available. */
	if ((r = uaio_setup((unsigned)quota, &h)) != 0)
		fail("setup of the whole quota (%lu) after destroying everything answered %d", quota, r);
	if ((r = uaio_destroy(h)) != 0)
		fail("destroy of the quota context answered %d", r);
	TRACE("finish: %lld ms\n", now_ms() - t0);
	close_files();
	n = count_fds();
	if (fd_baseline >= 0 && n != fd_baseline) {
		print_fds();
		fail("%d file descriptors open after the input, %d before", n, fd_baseline);
	}
}

int hz_run(const uint8_t *data, size_t size)
{
	struct in in = { data, size, 0 };

	if (!inited && hz_init(0) < 0)
		fail("hz_init failed");
	memset(C, 0, sizeof(C));
	nstale = 0;
	if (fd_baseline >= 0)	/* per input: the fuzzer may open its own between inputs */
		fd_baseline = count_fds();
	open_files();
	for (int ops = 0; ops < MAXOPS && in.i < in.n; ops++) {
		uint8_t op = u8(&in);

		n_ops++;
		switch (op % 10) {
		case 0: op_setup(&in); break;
		case 1: case 2: case 3: op_submit(&in); break;
		case 4: case 5: op_getevents(&in); break;
		case 6: op_cancel(&in); break;
		case 7: op_destroy(&in); break;
		case 8: op_stream(&in); break;
		default: op_reap(&in); break;
		}
		check_rings();
	}
	finish();
	return 0;
}

void hz_counts(unsigned long long *ops, unsigned long long *accepted)
{
	*ops = n_ops;
	*accepted = n_accepted;
}

static void *map(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	return p;
}

int hz_init(int safe_mode)
{
	static const uint8_t warm[] = {
		/* setup ctx 0 with 8 events; a POLL and a read on the empty
		 * pipe (the executor's and the poller's waits); a pgetevents
		 * that sleeps (its per-thread eventfd); destroy */
		0, 0, 7, 0,
		1, 0, 2, 0, 7, F_PIPE_R, 0, 0, 0, 0, 4, 0, 1, 0,
		0, 0, F_PIPE_R, 0, 0, 0, 0, 4, 1, 4, 0x00, 0x10,
		4, 0, 0x82, 3, 2, 100, 0,
		7, 0,
	};
	const char *e;

	if (inited)
		return 0;
	inited = true;
	safe = safe_mode;
	signal(SIGPIPE, SIG_IGN);
	if ((e = getenv("UAIO_MAX_NR")) && *e)
		quota = strtoul(e, NULL, 0);
	if ((e = getenv("UAIO_NOCHECK")) && *e && strtol(e, NULL, 0) != 0)
		env_nocheck = true;
	trace = (e = getenv("UAIO_FUZZ_TRACE")) && *e;
	if ((e = getenv("UAIO_FUZZ_DRAIN_MS")) && *e)
		drain_ms = strtol(e, NULL, 0);
	iocbs = map(NSLOT * sizeof(struct iocb) + sizeof(struct iocb), PROT_READ | PROT_WRITE);
	scratch_cb = iocbs + NSLOT;
	scratch_cb->aio_key = 7;
	chunks = map((size_t)NCHUNK * 2 * PG, PROT_READ | PROT_WRITE);
	for (int c = 0; c < NCHUNK; c++)
		mprotect(chunk_addr(c) + PG, PG, PROT_NONE);
	ro_page = map(PG, PROT_READ | PROT_WRITE);
	memset(ro_page, 0x5a, PG);
	mprotect(ro_page, PG, PROT_READ);
	/* Kept mapped (PROT_NONE) so that no later mapping takes its address. */
	none_page = map(PG, PROT_NONE);
	evbuf = map(NEVBUF * sizeof(struct io_event) + PG, PROT_READ | PROT_WRITE);
	mprotect(evbuf + NEVBUF, PG, PROT_NONE);
	ptrpage = map(2 * PG, PROT_READ | PROT_WRITE);
	mprotect((char *)ptrpage + PG, PG, PROT_NONE);
	for (int s = 0; s < NSLOT; s++)
		S[s].chunk = -1;
	for (int fd = 900; fd < 1000 && closed_fd < 0; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			closed_fd = fd;
	/* Warm up: what the library opens once per process is open before
	 * the baseline is counted. */
	hz_run(warm, sizeof(warm));
	fd_baseline = count_fds();
	return fd_baseline < 0 ? -errno : 0;
}
