/* SPDX-License-Identifier: MIT */
/*
 * soak - a long randomized run of uaio under many threads (not part of
 * `make check`; `make soak` and `make soak-ci` run it).
 *
 *   soak [--threads N] [--seconds S] [--seed Z] [--dir D] [--quiet]
 *
 * Each thread owns one context at a time (set up with a random nr_events on
 * the executor $UAIO_EXECUTOR names) and loops: submit batches of 1..32
 * random requests (pread, pwrite, preadv, pwritev, fsync, fdsync on regular
 * files, buffered and O_DIRECT; reads and writes on a pipe and a socketpair,
 * reads on an eventfd (whose writes must be refused with -EINVAL, as by the
 * kernel); POLL on all of them; some with IOCB_FLAG_RESFD), reap them
 * through uaio_getevents or, on odd threads, straight from the ring, cancel
 * random requests in flight, destroy the context with requests in flight,
 * and fork a child that checks its inherited context is unknown and does
 * I/O on a new one.
 *
 * What is checked (SPEC.md §2):
 *  - accounting: every request carries a unique aio_data and is counted by
 *    it: an event for a request that is not in flight is `unknown`, a second
 *    one `duplicated`; a request still without an event when its thread has
 *    cancelled and waited for everything is `lost`.  A context destroyed
 *    with requests in flight: destroy has finished them all when it returns
 *    (their events go with the ring), so they are neither lost nor expected;
 *    instead the read buffers are poisoned after destroy and must still hold
 *    the poison when reused (nothing may write them later), the blocks under
 *    the writes must hold the old or the new generation, whole, and the
 *    RESFD eventfd must hold between (RESFD events seen) and (RESFD requests
 *    submitted) on that context;
 *  - files: a block's content derives from (file, block, generation); the
 *    generation is bumped by each overwrite, and each thread owns its own
 *    block range so that no two requests ever race on a block.  Every read
 *    verifies every 512-byte sector: mixed generations count as `torn`,
 *    anything else unexpected as a `mismatch`;
 *  - streams: one write and one read in flight per pipe/socket, the bytes
 *    follow a position pattern checked on the reader side; the eventfd's
 *    counter is summed on both sides;
 *  - cancel: -EINPROGRESS must be followed by an event with -ECANCELED (0
 *    for POLL); -EAGAIN and -EINVAL by an event with an ordinary result;
 *    0 must carry the event in *result and none may follow in the ring;
 *  - the iocb is copied at submit: an eighth of them are scribbled on
 *    (all but aio_key) right after submit; events and cancel must not care;
 *  - every result: anything else is an `error`, printed.
 * The last line is the summary; exit 0 only if every zero-counter is zero.
 */
#include "uaio.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BLK		4096u
#define SECT		512u
#define MAXBLK		4u		/* blocks per file request */
#define BLKS_PER_THR	64u		/* each thread's range in each file */
#define NFILES		3		/* 0, 1 buffered; 2 O_DIRECT when possible */
#define MAXNR		256u		/* largest nr_events */
#define NSLOT		(MAXNR + 64u)	/* may submit beyond nr_events */
#define MAXBATCH	32
#define STREAM_MAX	16384u
#define MAXPOLL		4

enum kind { K_FREAD, K_FWRITE, K_FSYNC, K_SWRITE, K_SREAD, K_EREAD, K_POLL };
enum { S_PIPE, S_SOCK, NSTREAM };

struct slot {
	struct iocb cb;		/* its address is the event's obj and cancel's key */
	struct iovec iov[4];
	unsigned char *buf;	/* MAXBLK * BLK, aligned for O_DIRECT */
	int active;		/* submitted, event not yet seen */
	int kind, file, stream, resfd;
	unsigned blk, nblk, len;
	uint64_t seq;		/* the aio_data's sequence part */
	uint64_t last_done;	/* sequence of the last event seen */
	uint64_t spos;		/* stream position of the first byte */
	uint64_t data;		/* aio_data as submitted */
	unsigned pollmask;	/* POLL: the events asked for */
	int cancel_rc;		/* 1: not cancelled; else cancel's answer */
	int poisoned;		/* buffer holds 0x5a since a destroy */
	unsigned poison_len;
};

struct stream {
	int rfd, wfd;
	int reading, writing;	/* a read / write in flight */
	uint64_t rpos, wpos;
};

struct thr {
	int id;
	pthread_t th;
	uint64_t rng;
	aio_context_t ctx;
	unsigned nr_events;
	int direct_reap;	/* this context is reaped from the ring too */
	unsigned active, polls, file_active;
	struct slot slots[NSLOT];
	/* blocks of this thread: generation, busy (-1 write, >0 readers) */
	uint32_t gen[NFILES][BLKS_PER_THR];
	int busy[NFILES][BLKS_PER_THR];
	struct stream st[NSTREAM];
	int efd;		/* eventfd carrying data */
	int ereading;		/* an eventfd read in flight */
	uint64_t ewritten, eread;
	int notify;		/* RESFD eventfd */
	uint64_t resfd_sub, resfd_seen;	/* on the current context */
	uint64_t seqno;
	/* counters */
	uint64_t requests, events, bytes, verified, lost, dup, unknown;
	uint64_t mismatches, torn, errors, forks, cancels, destroys, dropped;
	uint64_t iters;
	/* detail, printed unless --quiet */
	uint64_t c_inprog, c_again, c_inval, c_zero, ring_events, resfd_total, stream_bytes;
};

static int nthreads = 4, seconds = 10, quiet;
static uint64_t seed;
static const char *dir;
static int files[NFILES];
static int direct_ok;
static struct timespec t_end;
static int err_prints;	/* printed error lines; atomic */

static void report(struct thr *t, uint64_t *ctr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Counts a problem and prints the first 50 of them. */
static void report(struct thr *t, uint64_t *ctr, const char *fmt, ...)
{
	va_list ap;
	char line[512];

	(*ctr)++;
	/* relaxed: only a cap on output volume, orders nothing */
	if (__atomic_fetch_add(&err_prints, 1, __ATOMIC_RELAXED) >= 50)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "soak: thread %d: %s\n", t ? t->id : -1, line);
}

static uint64_t rnd(struct thr *t)
{
	/* splitmix64 */
	uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned rn(struct thr *t, unsigned n)
{
	return (unsigned)(rnd(t) % n);
}

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t z = a * 0x9e3779b97f4a7c15ull ^ b * 0xc2b2ae3d27d4eb4full ^
		     c * 0x165667b19e3779f9ull ^ d * 0xd6e8feb86659fd93ull;

	z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdull;
	return z ^ (z >> 29);
}

static unsigned char stream_byte(int s, uint64_t pos)
{
	return (unsigned char)(mix((uint64_t)s + 77, pos >> 3, 0, 0) >> ((pos & 7) * 8));
}

/* A sector: { file, block, gen, sector } then words derived from them. */
static void fill_block(unsigned char *p, int file, unsigned blk, uint32_t gen)
{
	for (unsigned s = 0; s < BLK / SECT; s++) {
		uint32_t *h = (uint32_t *)(p + s * SECT);
		uint64_t *w = (uint64_t *)(p + s * SECT);

		h[0] = (uint32_t)file;
		h[1] = blk;
		h[2] = gen;
		h[3] = s;
		for (unsigned i = 2; i < SECT / 8; i++)
			w[i] = mix((uint64_t)file, blk, gen, s * 64 + i);
	}
}

/* 0 good, 1 torn, 2 mismatch; *seen = the generation found (if whole). */
static int check_block(const unsigned char *p, int file, unsigned blk, uint32_t *seen)
{
	uint32_t g0 = ((const uint32_t *)p)[2];

	for (unsigned s = 0; s < BLK / SECT; s++) {
		const uint32_t *h = (const uint32_t *)(p + s * SECT);

		if (h[0] != (uint32_t)file || h[1] != blk || h[3] != s)
			return 2;
		if (h[2] != g0)
			return 1;
	}
	for (unsigned s = 0; s < BLK / SECT; s++) {
		const uint64_t *w = (const uint64_t *)(p + s * SECT);

		for (unsigned i = 2; i < SECT / 8; i++)
			if (w[i] != mix((uint64_t)file, blk, g0, s * 64 + i))
				return 2;
	}
	*seen = g0;
	return 0;
}

/* The thread's block b in file f, as a file block number. */
static unsigned fblk(struct thr *t, unsigned b)
{
	return (unsigned)t->id * BLKS_PER_THR + b;
}

static int now_past_end(void)
{
	struct timespec n;

	clock_gettime(CLOCK_MONOTONIC, &n);
	return n.tv_sec > t_end.tv_sec ||
	       (n.tv_sec == t_end.tv_sec && n.tv_nsec >= t_end.tv_nsec);
}

static uint64_t mkdata(struct thr *t, unsigned i, uint64_t seq)
{
	return (uint64_t)t->id << 56 | (uint64_t)i << 40 | (seq & ((1ull << 40) - 1));
}

static void set_nonblock_drain(int fd)
{
	unsigned char b[4096];
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	while (read(fd, b, sizeof(b)) > 0)
		;
	fcntl(fd, F_SETFL, fl);
}

static uint64_t eventfd_take(int fd)
{
	uint64_t v = 0;
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (read(fd, &v, 8) != 8)
		v = 0;
	fcntl(fd, F_SETFL, fl);
	return v;
}

/* Releases what a slot reserved (blocks, stream and eventfd flags). */
static void slot_release(struct thr *t, struct slot *s)
{
	switch (s->kind) {
	case K_FREAD:
		for (unsigned b = 0; b < s->nblk; b++)
			t->busy[s->file][s->blk + b]--;
		t->file_active--;
		break;
	case K_FWRITE:
		for (unsigned b = 0; b < s->nblk; b++)
			t->busy[s->file][s->blk + b] = 0;
		t->file_active--;
		break;
	case K_FSYNC:
		t->file_active--;
		break;
	case K_SWRITE:
		t->st[s->stream].writing = 0;
		break;
	case K_SREAD:
		t->st[s->stream].reading = 0;
		break;
	case K_EREAD:
		t->ereading = 0;
		break;
	case K_POLL:
		t->polls--;
		break;
	}
	s->active = 0;
	t->active--;
}

static void verify_file_read(struct thr *t, struct slot *s)
{
	for (unsigned b = 0; b < s->nblk; b++) {
		uint32_t g = 0;
		unsigned fb = fblk(t, s->blk + b);
		int r = check_block(s->buf + b * BLK, s->file, fb, &g);

		if (r == 1)
			report(t, &t->torn, "torn block: file %d block %u", s->file, fb);
		else if (r == 2)
			report(t, &t->mismatches, "bad content: file %d block %u", s->file, fb);
		else if (g != t->gen[s->file][s->blk + b])
			report(t, &t->mismatches, "file %d block %u: generation %u, expected %u",
			       s->file, fb, g, t->gen[s->file][s->blk + b]);
		else
			t->verified++;
	}
}

/* One event: account it, check it against what its request expects. */
static void on_event(struct thr *t, const struct io_event *ev)
{
	unsigned tid = (unsigned)(ev->data >> 56);
	unsigned i = (unsigned)(ev->data >> 40) & 0xffff;
	uint64_t seq = ev->data & ((1ull << 40) - 1);
	struct slot *s;
	long long res = ev->res;

	t->events++;
	if (tid != (unsigned)t->id || i >= NSLOT) {
		report(t, &t->unknown, "event with foreign data %#llx", (unsigned long long)ev->data);
		return;
	}
	s = &t->slots[i];
	if (!s->active || s->seq != seq) {
		if (s->last_done == seq && !s->active)
			report(t, &t->dup, "duplicated event data %#llx res %lld",
			       (unsigned long long)ev->data, res);
		else
			report(t, &t->unknown, "event for no request in flight: data %#llx res %lld",
			       (unsigned long long)ev->data, res);
		return;
	}
	if (ev->obj != (uint64_t)(uintptr_t)&s->cb)
		report(t, &t->errors, "event obj %#llx, iocb at %p", (unsigned long long)ev->obj, (void *)&s->cb);
	if (ev->res2 != 0)
		report(t, &t->errors, "event res2 %lld", (long long)ev->res2);
	s->last_done = seq;
	if (s->resfd) {
		t->resfd_seen++;
		t->resfd_total++;
	}

	if (s->cancel_rc == -EINPROGRESS || s->cancel_rc == 0) {
		long long want = s->kind == K_POLL ? 0 : -ECANCELED;

		/* a stream write cancelled part-way reports the bytes it moved */
		if (s->kind == K_SWRITE && res > 0 && res < (long long)s->len) {
			t->st[s->stream].wpos = s->spos + (uint64_t)res;
			t->bytes += (uint64_t)res;
		} else if (res != want) {
			report(t, &t->errors, "cancel said -EINPROGRESS, kind %d event res %lld", s->kind, res);
		}
		slot_release(t, s);
		return;
	}
	if (res == -ECANCELED) {
		report(t, &t->errors, "kind %d: -ECANCELED, cancel answered %d", s->kind, s->cancel_rc);
		slot_release(t, s);
		return;
	}
	switch (s->kind) {
	case K_FREAD:
		if (res != (long long)s->len)
			report(t, &t->errors, "file %d read %u bytes: res %lld", s->file, s->len, res);
		else {
			t->bytes += s->len;
			verify_file_read(t, s);
		}
		break;
	case K_FWRITE:
		if (res != (long long)s->len)
			report(t, &t->errors, "file %d write %u bytes: res %lld", s->file, s->len, res);
		else {
			t->bytes += s->len;
			for (unsigned b = 0; b < s->nblk; b++)
				t->gen[s->file][s->blk + b]++;
		}
		break;
	case K_FSYNC:
		if (res != 0)
			report(t, &t->errors, "fsync/fdsync file %d: res %lld", s->file, res);
		break;
	case K_SWRITE:
		if (res <= 0 || res > (long long)s->len)
			report(t, &t->errors, "stream %d write %u: res %lld", s->stream, s->len, res);
		else {
			t->st[s->stream].wpos = s->spos + (uint64_t)res;
			t->bytes += (uint64_t)res;
		}
		break;
	case K_SREAD:
		if (res <= 0 || res > (long long)s->len) {
			report(t, &t->errors, "stream %d read %u: res %lld", s->stream, s->len, res);
			break;
		}
		for (long long k = 0; k < res; k++)
			if (s->buf[k] != stream_byte(s->stream, s->spos + (uint64_t)k)) {
				report(t, &t->mismatches, "stream %d byte %llu: %#x, expected %#x",
				       s->stream, (unsigned long long)(s->spos + (uint64_t)k),
				       s->buf[k], stream_byte(s->stream, s->spos + (uint64_t)k));
				break;
			}
		t->st[s->stream].rpos = s->spos + (uint64_t)res;
		t->bytes += (uint64_t)res;
		t->stream_bytes += (uint64_t)res;
		break;
	case K_EREAD:
		if (res != 8)
			report(t, &t->errors, "eventfd read: res %lld", res);
		else {
			uint64_t v;

			memcpy(&v, s->buf, 8);
			if (v == 0)
				report(t, &t->errors, "eventfd read 0");
			t->eread += v;
		}
		break;
	case K_POLL:
		if (res < 0 || !(res & (long long)(s->pollmask | POLLERR | POLLHUP)))
			report(t, &t->errors, "poll %#x: res %lld", s->pollmask, res);
		break;
	}
	slot_release(t, s);
}

/* The reaping protocol of SPEC §1 (fio's userspace_reap). */
static int ring_reap(struct thr *t, int max)
{
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)t->ctx;
	unsigned nr = ring->nr;
	/* acquire: only this thread writes head; pairs with our release below */
	unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) % nr;
	/* acquire: events before tail are fully written (uaio's release) */
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	int n = 0;

	if (tail >= nr) {
		report(t, &t->errors, "ring tail %u >= nr %u", tail, nr);
		return 0;
	}
	while (head != tail && n < max) {
		struct io_event ev = ring->io_events[head];

		head = (head + 1) % nr;
		/* release: the event is copied out before uaio may reuse its slot */
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
		on_event(t, &ev);
		t->ring_events++;
		n++;
	}
	return n;
}

static int reap(struct thr *t, int wait)
{
	struct io_event ev[64];
	struct timespec ts = { 0, 0 }, *tp = &ts;
	long min = 0;
	int r;

	if (t->direct_reap && rn(t, 2) == 0) {
		r = ring_reap(t, 1 + (int)rn(t, 64));
		if (r > 0 || !wait)
			return r;
	}
	if (wait) {
		min = 1;
		if (t->file_active > 0 && rn(t, 4) == 0)
			tp = NULL;	/* a file request always completes */
		else
			ts.tv_nsec = 2000000;
	}
	r = uaio_getevents(t->ctx, min, 1 + rn(t, 64), ev, tp);
	if (r < 0) {
		report(t, &t->errors, "getevents: %d", r);
		return 0;
	}
	for (int k = 0; k < r; k++)
		on_event(t, &ev[k]);
	return r;
}

static int new_ctx(struct thr *t)
{
	static const unsigned sizes[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
	struct uaio_params p;
	int r;

	t->nr_events = sizes[rn(t, sizeof(sizes) / sizeof(sizes[0]))];
	t->ctx = 0;
	t->direct_reap = (t->id & 1) && rn(t, 4) != 0;
	memset(&p, 0, sizeof(p));
	p.flags = rn(t, 2) ? UAIO_F_NOCHECK : 0;	/* executor: $UAIO_EXECUTOR */
	r = rn(t, 4) ? uaio_setup_params(t->nr_events, &p, &t->ctx)
		     : uaio_setup(t->nr_events, &t->ctx);
	if (r < 0) {
		report(t, &t->errors, "setup(%u): %d", t->nr_events, r);
		t->ctx = 0;
		return r;
	}
	t->resfd_sub = t->resfd_seen = 0;
	return 0;
}

/* After a destroy: the RESFD count, then the state of what was in flight. */
static void after_destroy(struct thr *t)
{
	uint64_t v = eventfd_take(t->notify);
	int streams_dropped = 0;

	if (v < t->resfd_seen || v > t->resfd_sub)
		report(t, &t->errors, "RESFD eventfd %llu, events seen %llu, submitted %llu",
		       (unsigned long long)v, (unsigned long long)t->resfd_seen,
		       (unsigned long long)t->resfd_sub);
	for (unsigned i = 0; i < NSLOT; i++) {
		struct slot *s = &t->slots[i];

		if (!s->active)
			continue;
		t->dropped++;
		if (s->kind >= K_SWRITE && s->kind <= K_EREAD)
			streams_dropped = 1;
		if (s->kind == K_FREAD || s->kind == K_SREAD || s->kind == K_EREAD) {
			s->poison_len = s->len;
			memset(s->buf, 0x5a, s->len);
			s->poisoned = 1;
		}
		if (s->kind == K_FWRITE) {
			/* the write ran whole or not at all */
			unsigned char *b = s->buf;	/* not poisoned: a write buffer */

			if (pread(files[s->file], b, s->len, (off_t)fblk(t, s->blk) * BLK) != (ssize_t)s->len) {
				report(t, &t->errors, "pread after destroy: %s", strerror(errno));
			} else {
				for (unsigned k = 0; k < s->nblk; k++) {
					uint32_t g = 0;
					uint32_t old = t->gen[s->file][s->blk + k];
					int r = check_block(b + k * BLK, s->file, fblk(t, s->blk + k), &g);

					if (r == 1)
						report(t, &t->torn, "after destroy: torn block %u", fblk(t, s->blk + k));
					else if (r == 2 || (g != old && g != old + 1))
						report(t, &t->mismatches, "after destroy: block %u gen %u, had %u",
						       fblk(t, s->blk + k), g, old);
					else
						t->gen[s->file][s->blk + k] = g;
				}
			}
		}
		slot_release(t, s);
	}
	/* a stream whose request went with the context: start it afresh */
	if (streams_dropped) {
		for (int k = 0; k < NSTREAM; k++) {
			set_nonblock_drain(t->st[k].rfd);
			t->st[k].rpos = t->st[k].wpos = 0;
		}
		eventfd_take(t->efd);
		t->ewritten = t->eread = 0;
	}
}

static void destroy_ctx(struct thr *t)
{
	int r = uaio_destroy(t->ctx);

	if (r != 0)
		report(t, &t->errors, "destroy: %d", r);
	t->destroys++;
	t->ctx = 0;
	after_destroy(t);
}

static void cancel_one(struct thr *t, struct slot *s)
{
	struct io_event res;
	int r;

	memset(&res, 0, sizeof(res));
	r = uaio_cancel(t->ctx, &s->cb, &res);
	t->cancels++;
	switch (r) {
	case -EINPROGRESS:
	case -EAGAIN:
	case -EINVAL:
		s->cancel_rc = r;
		if (r == -EINPROGRESS)
			t->c_inprog++;
		else if (r == -EAGAIN)
			t->c_again++;
		else
			t->c_inval++;
		break;
	case 0:
		s->cancel_rc = 0;
		t->c_zero++;
		if (res.data != s->data)
			report(t, &t->errors, "cancel 0 without the event in *result");
		else
			on_event(t, &res);
		break;
	default:
		report(t, &t->errors, "cancel: %d", r);
	}
}

static struct slot *free_slot(struct thr *t, unsigned *idx)
{
	unsigned start = rn(t, NSLOT);

	for (unsigned k = 0; k < NSLOT; k++) {
		unsigned i = (start + k) % NSLOT;
		struct slot *s = &t->slots[i];

		if (s->active)
			continue;
		if (s->poisoned) {
			for (unsigned j = 0; j < s->poison_len; j++)
				if (s->buf[j] != 0x5a) {
					report(t, &t->mismatches,
					       "buffer written after destroy returned (byte %u)", j);
					break;
				}
			s->poisoned = 0;
		}
		*idx = i;
		return s;
	}
	return NULL;
}

/* Finds n free blocks in a row in file f (for a write: not busy at all). */
static int pick_blocks(struct thr *t, int f, unsigned n, int write, unsigned *blk)
{
	unsigned start = rn(t, BLKS_PER_THR - n + 1);

	for (unsigned k = 0; k <= BLKS_PER_THR - n; k++) {
		unsigned b = (start + k) % (BLKS_PER_THR - n + 1), j;

		for (j = 0; j < n; j++)
			if (write ? t->busy[f][b + j] != 0 : t->busy[f][b + j] < 0)
				break;
		if (j == n) {
			*blk = b;
			return 0;
		}
	}
	return -1;
}

/* Splits len bytes of buf into 1..4 iovecs at multiples of unit. */
static int split_iov(struct thr *t, struct slot *s, unsigned len, unsigned unit)
{
	unsigned n = 1 + rn(t, 4), off = 0, k = 0;

	while (k < n - 1 && off < len) {
		unsigned left = (len - off) / unit;
		unsigned piece = left > 1 ? (1 + rn(t, left - 1)) * unit : len - off;

		if (off + piece >= len)
			break;
		s->iov[k].iov_base = s->buf + off;
		s->iov[k].iov_len = piece;
		off += piece;
		k++;
	}
	s->iov[k].iov_base = s->buf + off;
	s->iov[k].iov_len = len - off;
	return (int)k + 1;
}

/* Prepares one random request in s; -1 if nothing fits just now. */
static int prep(struct thr *t, struct slot *s)
{
	unsigned what = rn(t, 100);
	int f = (int)rn(t, direct_ok ? NFILES : NFILES - 1);
	int fd = files[f];
	struct iocb *cb = &s->cb;

	if (what < 35) {	/* file read */
		unsigned n = 1 + rn(t, MAXBLK);

		if (pick_blocks(t, f, n, 0, &s->blk) < 0)
			return -1;
		s->kind = K_FREAD;
		s->file = f;
		s->nblk = n;
		s->len = n * BLK;
		for (unsigned b = 0; b < n; b++)
			t->busy[f][s->blk + b]++;
		memset(s->buf, 0xee, s->len);
		if (rn(t, 2))
			uaio_prep_pread(cb, fd, s->buf, s->len, (long long)fblk(t, s->blk) * BLK);
		else
			uaio_prep_preadv(cb, fd, s->iov, split_iov(t, s, s->len, SECT),
					 (long long)fblk(t, s->blk) * BLK);
		t->file_active++;
	} else if (what < 65) {	/* file write */
		unsigned n = 1 + rn(t, MAXBLK);

		if (pick_blocks(t, f, n, 1, &s->blk) < 0)
			return -1;
		s->kind = K_FWRITE;
		s->file = f;
		s->nblk = n;
		s->len = n * BLK;
		for (unsigned b = 0; b < n; b++) {
			t->busy[f][s->blk + b] = -1;
			fill_block(s->buf + b * BLK, f, fblk(t, s->blk + b), t->gen[f][s->blk + b] + 1);
		}
		if (rn(t, 2))
			uaio_prep_pwrite(cb, fd, s->buf, s->len, (long long)fblk(t, s->blk) * BLK);
		else
			uaio_prep_pwritev(cb, fd, s->iov, split_iov(t, s, s->len, SECT),
					  (long long)fblk(t, s->blk) * BLK);
		t->file_active++;
	} else if (what < 68) {	/* fsync / fdsync */
		s->kind = K_FSYNC;
		s->file = f;
		if (rn(t, 2))
			uaio_prep_fsync(cb, fd);
		else
			uaio_prep_fdsync(cb, fd);
		t->file_active++;
	} else if (what < 80) {	/* stream write */
		int k = (int)rn(t, NSTREAM);
		struct stream *st = &t->st[k];

		if (st->writing)
			return -1;
		s->kind = K_SWRITE;
		s->stream = k;
		s->len = 1 + rn(t, STREAM_MAX);
		s->spos = st->wpos;
		for (unsigned j = 0; j < s->len; j++)
			s->buf[j] = stream_byte(k, s->spos + j);
		if (rn(t, 2))
			uaio_prep_pwrite(cb, st->wfd, s->buf, s->len, 0);
		else
			uaio_prep_pwritev(cb, st->wfd, s->iov, split_iov(t, s, s->len, 1), 0);
		st->writing = 1;
	} else if (what < 90) {	/* stream read */
		int k = (int)rn(t, NSTREAM);
		struct stream *st = &t->st[k];

		if (st->reading)
			return -1;
		s->kind = K_SREAD;
		s->stream = k;
		s->len = 1 + rn(t, STREAM_MAX);
		s->spos = st->rpos;
		if (rn(t, 2))
			uaio_prep_pread(cb, st->rfd, s->buf, s->len, 0);
		else
			uaio_prep_preadv(cb, st->rfd, s->iov, split_iov(t, s, s->len, 1), 0);
		st->reading = 1;
	} else if (what < 93) {	/* eventfd: fed by write(2); AIO refuses it, as the kernel */
		uint64_t v = 1 + rn(t, 1000);

		if (write(t->efd, &v, 8) != 8)
			report(t, &t->errors, "write(eventfd): %s", strerror(errno));
		else
			t->ewritten += v;
		return -1;
	} else if (what < 96) {	/* eventfd read */
		if (t->ereading)
			return -1;
		s->kind = K_EREAD;
		s->len = 8;
		memset(s->buf, 0, 8);
		uaio_prep_pread(cb, t->efd, s->buf, 8, 0);
		t->ereading = 1;
	} else {		/* POLL */
		static const short ev[] = { POLLIN, POLLIN, POLLIN, POLLOUT, POLLOUT, POLLIN };
		unsigned k = rn(t, 6);
		int pfd = k == 0 ? t->efd : k == 1 ? t->st[S_PIPE].rfd : k == 2 ? t->st[S_SOCK].rfd
			: k == 3 ? t->st[S_PIPE].wfd : k == 4 ? t->efd : fd;	/* 5: a regular file */

		if (t->polls >= MAXPOLL)
			return -1;
		s->kind = K_POLL;
		uaio_prep_poll(cb, pfd, (unsigned)ev[k]);
		s->pollmask = (unsigned)ev[k];
		t->polls++;
	}
	if (rn(t, 5) == 0) {
		uaio_set_eventfd(cb, t->notify);
		s->resfd = 1;
	} else {
		s->resfd = 0;
	}
	s->cancel_rc = 1;
	s->active = 1;
	t->active++;
	return 0;
}

static void submit_batch(struct thr *t)
{
	struct iocb *v[MAXBATCH];
	struct slot *ss[MAXBATCH];
	unsigned want = 1 + rn(t, MAXBATCH), n = 0, idx;
	unsigned before = t->active;
	int r;

	/* mostly within nr_events; now and then beyond, where -EAGAIN is allowed */
	if (rn(t, 8) != 0) {
		unsigned room = t->nr_events > t->active ? t->nr_events - t->active : 0;

		if (want > room)
			want = room;
	}
	while (n < want) {
		struct slot *s = free_slot(t, &idx);

		if (!s || prep(t, s) < 0)
			break;
		s->seq = ++t->seqno;
		s->data = s->cb.aio_data = mkdata(t, idx, s->seq);
		v[n] = &s->cb;
		ss[n++] = s;
	}
	if (n == 0)
		return;
	r = uaio_submit(t->ctx, n, v);
	if (r < 0 || (unsigned)r < n) {
		unsigned done = r < 0 ? 0 : (unsigned)r;
		int why = r;

		if (r >= 0)	/* find out why the rest was refused */
			why = uaio_submit(t->ctx, 1, v + done);
		if (why > 0) {	/* room again (events were reaped meanwhile) */
			done++;
			why = 0;
		}
		if (why != -EAGAIN || before + done < t->nr_events)
			if (why != 0)
				report(t, &t->errors, "submit %u (in flight %u, nr_events %u): %d, then %d "
				       "(kind %d opcode %u fd %u flags %#x)",
				       n, before, t->nr_events, r, why, ss[done]->kind,
				       v[done]->aio_lio_opcode, v[done]->aio_fildes, v[done]->aio_flags);
		for (unsigned k = done; k < n; k++)
			slot_release(t, ss[k]);
		n = done;
	}
	for (unsigned k = 0; k < n; k++) {
		struct iocb *cb = &ss[k]->cb;

		if (cb->aio_key != 0)
			report(t, &t->errors, "aio_key %u after submit", cb->aio_key);
		if (ss[k]->resfd)
			t->resfd_sub++;
		/* the iocb was copied at submit: scribbling on it now changes
		 * nothing (but aio_key, which cancel reads, stays 0) */
		if (rn(t, 8) == 0) {
			cb->aio_data = ~0ull;
			cb->aio_buf = 0;
			cb->aio_nbytes = 1;
			cb->aio_offset = -1;
			cb->aio_fildes = ~0u;
			cb->aio_lio_opcode = 0xff;
		}
	}
	t->requests += n;
}

/* Submits or reaps until nothing is in flight; cancels what may never end. */
static void quiesce(struct thr *t)
{
	int idle = 0;

	for (unsigned i = 0; i < NSLOT; i++) {
		struct slot *s = &t->slots[i];

		if (s->active && s->cancel_rc == 1 && s->kind != K_FREAD && s->kind != K_FWRITE &&
		    s->kind != K_FSYNC)
			cancel_one(t, s);
	}
	while (t->active > 0 && idle < 60000) {	/* 60000 idle waits of 2 ms: two minutes */
		if (reap(t, 1) == 0)
			idle++;
		else
			idle = 0;
		if (idle == 1000 || idle == 10000)	/* what a cancel -EAGAIN left */
			for (unsigned i = 0; i < NSLOT; i++)
				if (t->slots[i].active && t->slots[i].cancel_rc != -EINPROGRESS)
					cancel_one(t, &t->slots[i]);
	}
	for (unsigned i = 0; i < NSLOT && t->active > 0; i++) {
		struct slot *s = &t->slots[i];

		if (s->active) {
			report(t, &t->lost, "lost: data %#llx kind %d cancel %d",
			       (unsigned long long)s->data, s->kind, s->cancel_rc);
			slot_release(t, s);
		}
	}
}


static void check_streams(struct thr *t)
{
	/* eventfd: what was written is what was read plus what is left, when
	 * nothing is in flight */
	if (!t->ereading) {
		uint64_t left = eventfd_take(t->efd);

		if (t->eread + left != t->ewritten)
			report(t, &t->mismatches, "eventfd: written %llu, read %llu + left %llu",
			       (unsigned long long)t->ewritten, (unsigned long long)t->eread,
			       (unsigned long long)left);
		t->ewritten = t->eread = 0;
	}
}

/* A clean end of a context: nothing in flight, then the counts. */
static void close_ctx(struct thr *t)
{
	quiesce(t);
	check_streams(t);
	destroy_ctx(t);
}

/* Fork: the child finds its inherited context unknown, and does I/O on a
 * new one.  Exit status: 0, or a bit per failed check. */
static int child_main(struct thr *t)
{
	aio_context_t ctx = 0, old = t->ctx;
	struct io_event ev[4];
	struct timespec zero = { 0, 0 }, ts = { 30, 0 };
	struct iocb cb[2], *v[2] = { &cb[0], &cb[1] };
	int p[2], bad = 0, got = 0;
	static unsigned char wb[BLK], rb[BLK];

	if (old) {
		uaio_prep_pread(&cb[0], files[0], rb, BLK, 0);
		if (uaio_submit(old, 1, v) != -EINVAL)
			bad |= 1;
		if (uaio_getevents(old, 0, 1, ev, &zero) != -EINVAL)
			bad |= 2;
		if (uaio_destroy(old) != -EINVAL)
			bad |= 4;
	}
	if (uaio_setup(4, &ctx) != 0)
		return bad | 8;
	if (pipe(p) != 0)
		return bad | 16;
	for (unsigned i = 0; i < BLK; i++)
		wb[i] = stream_byte(9, i);
	uaio_prep_pwrite(&cb[0], p[1], wb, BLK, 0);
	cb[0].aio_data = 1;
	uaio_prep_pread(&cb[1], p[0], rb, BLK, 0);
	cb[1].aio_data = 2;
	if (uaio_submit(ctx, 2, v) != 2)
		return bad | 32;
	while (got < 2) {
		int r = uaio_getevents(ctx, 1, 4, ev, &ts);

		if (r <= 0)
			return bad | 64;
		for (int k = 0; k < r; k++)
			if (ev[k].res != BLK || (ev[k].data != 1 && ev[k].data != 2))
				bad |= 128;
		got += r;
	}
	if (memcmp(wb, rb, BLK) != 0)
		bad |= 128;
	if (uaio_destroy(ctx) != 0)
		bad |= 128;
	return bad;
}

static void do_fork(struct thr *t)
{
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		report(t, &t->errors, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(child_main(t));
	t->forks++;
	if (waitpid(pid, &st, 0) != pid)
		report(t, &t->errors, "waitpid: %s", strerror(errno));
	else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		report(t, &t->errors, "fork child: status %#x", st);
}

/* A write on an eventfd is refused at submit (-EINVAL), as by the kernel
 * (no write_iter): nothing is accepted, no event may follow. */
static void refused_write(struct thr *t)
{
	struct iocb cb, *v = &cb;
	uint64_t one = 1;
	int r;

	uaio_prep_pwrite(&cb, t->efd, &one, 8, 0);
	cb.aio_data = mkdata(t, NSLOT, 0);	/* an event for it would be `unknown` */
	r = uaio_submit(t->ctx, 1, &v);
	if (r != -EINVAL)
		report(t, &t->errors, "eventfd write submitted: %d, expected -EINVAL", r);
	if (r == 1)
		t->requests++;
}

static void *thread_main(void *arg)
{
	struct thr *t = arg;

	while (!now_past_end()) {
		unsigned what;

		t->iters++;
		if (!t->ctx && new_ctx(t) < 0)
			continue;
		what = rn(t, 1000);
		if (what < 550)
			submit_batch(t);
		else if (what < 850)
			reap(t, rn(t, 2));
		else if (what < 960) {
			unsigned i = rn(t, NSLOT);

			if (t->slots[i].active && t->slots[i].cancel_rc == 1)
				cancel_one(t, &t->slots[i]);
		} else if (what < 966)
			destroy_ctx(t);
		else if (what < 972)
			close_ctx(t);
		else if (what < 974 && t->iters % 64 == 0)
			do_fork(t);
		else if (what < 976)
			refused_write(t);
	}
	if (t->ctx)
		close_ctx(t);
	return NULL;
}

static int open_files(void)
{
	char path[4096];
	static unsigned char blk[BLK] __attribute__((aligned(4096)));

	for (int f = 0; f < NFILES; f++) {
		int fd;

		snprintf(path, sizeof(path), "%s/uaio-soak-XXXXXX", dir);
		fd = mkstemp(path);
		if (fd < 0) {
			fprintf(stderr, "soak: %s: %s\n", path, strerror(errno));
			return -1;
		}
		for (unsigned b = 0; b < (unsigned)nthreads * BLKS_PER_THR; b++) {
			fill_block(blk, f, b, 1);
			if (pwrite(fd, blk, BLK, (off_t)b * BLK) != BLK) {
				fprintf(stderr, "soak: write %s: %s\n", path, strerror(errno));
				return -1;
			}
		}
		if (fsync(fd) != 0)
			return -1;
		if (f == NFILES - 1) {
			int d = open(path, O_RDWR | O_DIRECT);

			if (d >= 0) {
				close(fd);
				fd = d;
				direct_ok = 1;
			}
		}
		unlink(path);
		files[f] = fd;
	}
	return 0;
}

static int thr_init(struct thr *t, int id)
{
	int p[2], sv[2];

	t->id = id;
	t->rng = seed * 0x100000001b3ull + (uint64_t)id * 0x9e3779b97f4a7c15ull + 1;
	for (int f = 0; f < NFILES; f++)
		for (unsigned b = 0; b < BLKS_PER_THR; b++)
			t->gen[f][b] = 1;
	for (unsigned i = 0; i < NSLOT; i++)
		if (posix_memalign((void **)&t->slots[i].buf, 4096, MAXBLK * BLK) != 0)
			return -1;
	if (pipe(p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	t->st[S_PIPE].rfd = p[0];
	t->st[S_PIPE].wfd = p[1];
	t->st[S_SOCK].rfd = sv[1];
	t->st[S_SOCK].wfd = sv[0];
	t->efd = eventfd(0, 0);
	t->notify = eventfd(0, 0);
	return t->efd >= 0 && t->notify >= 0 ? 0 : -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: soak [--threads N] [--seconds S] [--seed Z] [--dir D] [--quiet]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct thr *th;
	uint64_t tot[15] = { 0 }, det[7] = { 0 };
	const char *ex = getenv("UAIO_EXECUTOR");
	int fail;

	dir = getenv("TMPDIR");
	if (!dir || !*dir)
		dir = "/var/tmp";
	seed = (uint64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet"))
			quiet = 1;
		else if (i + 1 >= argc)
			usage();
		else if (!strcmp(argv[i], "--threads"))
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds"))
			seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[++i];
		else
			usage();
	}
	if (nthreads < 1 || nthreads > 255 || seconds < 0)
		usage();
	if (!quiet)
		fprintf(stderr, "soak: seed %llu\n", (unsigned long long)seed);
	if (open_files() < 0)
		return 1;
	th = calloc((size_t)nthreads, sizeof(*th));
	if (!th)
		return 1;
	for (int i = 0; i < nthreads; i++)
		if (thr_init(&th[i], i) < 0) {
			perror("soak: thread setup");
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &t_end);
	t_end.tv_sec += seconds;
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i].th, NULL, thread_main, &th[i]) != 0) {
			perror("soak: pthread_create");
			return 1;
		}
	for (int i = 0; i < nthreads; i++) {
		struct thr *t = &th[i];

		pthread_join(t->th, NULL);
		{
			uint64_t v[14] = { t->requests, t->events, t->bytes, t->verified, t->lost,
					   t->dup, t->unknown, t->mismatches, t->torn, t->errors,
					   t->forks, t->cancels, t->destroys, t->dropped };

			uint64_t d[7] = { t->c_inprog, t->c_again, t->c_inval, t->c_zero,
					  t->ring_events, t->resfd_total, t->stream_bytes };

			for (int k = 0; k < 14; k++)
				tot[k] += v[k];
			for (int k = 0; k < 7; k++)
				det[k] += d[k];
		}
		for (unsigned k = 0; k < NSLOT; k++)
			free(t->slots[k].buf);
	}
	/* every request ended as an event, or went with its destroyed context */
	if (tot[0] != tot[1] - tot[5] - tot[6] + tot[13] + tot[4]) {
		fprintf(stderr, "soak: requests %llu != events %llu - duplicated - unknown + dropped by destroy %llu + lost\n",
			(unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[13]);
		tot[9]++;
	}
	if (!quiet)
		fprintf(stderr, "soak: O_DIRECT file %s; cancel answers: -EINPROGRESS %llu, -EAGAIN %llu, "
			"-EINVAL %llu, 0 %llu; events reaped from the ring directly %llu; with RESFD %llu; "
			"stream bytes verified %llu; requests gone with a destroyed context %llu\n",
			direct_ok ? "yes" : "no (file system refused it)",
			(unsigned long long)det[0], (unsigned long long)det[1], (unsigned long long)det[2],
			(unsigned long long)det[3], (unsigned long long)det[4], (unsigned long long)det[5],
			(unsigned long long)det[6], (unsigned long long)tot[13]);
	if (tot[9])
		fprintf(stderr, "soak: %llu unexpected results (see above)\n", (unsigned long long)tot[9]);
	fail = tot[4] || tot[5] || tot[6] || tot[7] || tot[8] || tot[9];
	printf("soak: executor=%s threads=%d seconds=%d seed=%llu requests=%llu events=%llu bytes=%llu "
	       "verified_blocks=%llu lost=%llu duplicated=%llu unknown=%llu mismatches=%llu torn=%llu "
	       "forks=%llu cancels=%llu destroys=%llu\n",
	       ex && *ex ? ex : "auto", nthreads, seconds, (unsigned long long)seed,
	       (unsigned long long)tot[0], (unsigned long long)tot[1], (unsigned long long)tot[2],
	       (unsigned long long)tot[3], (unsigned long long)tot[4], (unsigned long long)tot[5],
	       (unsigned long long)tot[6], (unsigned long long)tot[7], (unsigned long long)tot[8],
	       (unsigned long long)tot[10], (unsigned long long)tot[11], (unsigned long long)tot[12]);
	free(th);
	return fail ? 1 : 0;
}
