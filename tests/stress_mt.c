/* SPEC §2 threads: every call is safe from many threads at once on the same context (submitters, getevents reapers, a direct ring reaper, a canceller, a destroyer): every submitted iocb yields exactly one untorn event, and after destroy every call answers -EINVAL. */
#include "t.h"
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>

#define NSUB 4
#define RLEN 16
#define WLEN 4096
#define F1SZ (1u << 20)
#define F2SZ (32u << 20)

enum kind { K_CACHED, K_COLD, K_WRITE, K_PWRITE, K_PREAD, NKIND };

struct req {
	struct iocb cb;			/* first: obj points here */
	int id, kind, ctxi, sub;
	unsigned char *buf;
	_Atomic int submitted;		/* accepted by submit (release) */
	_Atomic int events;		/* events seen */
	_Atomic int cancelled;		/* cancel answered -EINPROGRESS */
	_Atomic long long res;
};

static struct req *reqs;
static int per_sub, total;
static aio_context_t ctxs[2];		/* 0: getevents reapers, 1: direct reaper */
static int f1, f2, f3;
static int pipes[NSUB][2];
static _Atomic int n_submitted, n_received, stop, bad_cancel, torn, dup_ev;
static _Atomic int progress[NSUB];	/* requests accepted so far, per submitter */

static void msleep_us(long us)
{
	struct timespec s = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&s, NULL);
}

static unsigned xs(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static unsigned char wbyte(int id, int k) { return (unsigned char)(id * 31 + k * 7 + 1); }

static void handle_event(const struct io_event *ev)
{
	struct req *r = (struct req *)(uintptr_t)ev->obj;

	if (r < reqs || r >= reqs + total || (uintptr_t)r != (uintptr_t)&reqs[r - reqs].cb ||
	    ev->data != (uint64_t)r->id || ev->res2 != 0) {
		atomic_fetch_add(&torn, 1);
		atomic_fetch_add(&n_received, 1);
		return;
	}
	atomic_store(&r->res, ev->res);
	if (atomic_fetch_add(&r->events, 1) != 0)
		atomic_fetch_add(&dup_ev, 1);
	atomic_fetch_add(&n_received, 1);
}

static void *reaper_get(void *arg)
{
	struct io_event ev[64];

	(void)arg;
	while (!atomic_load(&stop)) {
		struct timespec ts = { 0, 20000000 };
		int r = uaio_getevents(ctxs[0], 1, 64, ev, &ts);

		if (r < 0) {
			fprintf(stderr, "getevents: %d\n", r);
			atomic_fetch_add(&torn, 1);
			break;
		}
		for (int j = 0; j < r; j++)
			handle_event(&ev[j]);
	}
	return NULL;
}

static void *reaper_direct(void *arg)
{
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctxs[1];
	unsigned nr = ring->nr;

	(void)arg;
	while (!atomic_load(&stop)) {
		unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) % nr;
		unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		int n = 0;

		while (head != tail) {
			struct io_event e = ring->io_events[head];

			handle_event(&e);
			head = (head + 1) % nr;
			n++;
		}
		if (n)
			__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
		else
			msleep_us(50);
	}
	return NULL;
}

static void prep(struct req *r, unsigned *seed)
{
	int s = r->sub;

	switch (r->kind) {
	case K_CACHED:
		uaio_prep_pread(&r->cb, f1, r->buf, RLEN, (long long)(xs(seed) % (F1SZ - RLEN)));
		break;
	case K_COLD:
		uaio_prep_pread(&r->cb, f2, r->buf, WLEN, (long long)(xs(seed) % (F2SZ / WLEN)) * WLEN);
		break;
	case K_WRITE:
		for (int k = 0; k < WLEN; k++)
			r->buf[k] = wbyte(r->id, k);
		uaio_prep_pwrite(&r->cb, f3, r->buf, WLEN, (long long)r->id * WLEN);
		break;
	case K_PWRITE:
		memset(r->buf, 'w', RLEN);
		uaio_prep_pwrite(&r->cb, pipes[s][1], r->buf, RLEN, 0);
		break;
	case K_PREAD:
		uaio_prep_pread(&r->cb, pipes[s][0], r->buf, RLEN, 0);
		break;
	}
	r->cb.aio_data = (uint64_t)r->id;
}

static void *submitter(void *arg)
{
	int s = (int)(intptr_t)arg;
	unsigned seed = 0x9e3779b9u * (unsigned)(s + 1);
	struct req *mine = reqs + s * per_sub;

	for (int i = 0; i < per_sub;) {
		int n = per_sub - i < 8 ? per_sub - i : 8, ci = (i / 8) % 2, r;
		struct iocb *v[8];

		for (int j = 0; j < n; j++) {
			mine[i + j].ctxi = ci;
			prep(&mine[i + j], &seed);
			v[j] = &mine[i + j].cb;
		}
		r = uaio_submit(ctxs[ci], n, v);
		if (r == -EAGAIN) {
			msleep_us(100);
			continue;
		}
		if (r <= 0) {
			t_fail("submitter %d: submit %d", s, r);
			break;
		}
		for (int j = 0; j < r; j++)
			atomic_store_explicit(&mine[i + j].submitted, 1, memory_order_release);
		atomic_fetch_add(&n_submitted, r);
		i += r;
		atomic_store(&progress[s], i);
	}
	return NULL;
}

static void *canceller(void *arg)
{
	unsigned seed = 12345;
	struct io_event ev;

	(void)arg;
	while (!atomic_load(&stop)) {
		/* mostly among the latest submitted (still queued, likely) */
		unsigned s = xs(&seed) % NSUB, back = xs(&seed) % 48;
		int p = atomic_load(&progress[s]) - 1 - (int)back;
		struct req *r = p >= 0 && (xs(&seed) & 7) ? &reqs[s * per_sub + p]
							  : &reqs[xs(&seed) % (unsigned)total];
		int c;

		if (!atomic_load_explicit(&r->submitted, memory_order_acquire)) {
			sched_yield();
			continue;
		}
		c = uaio_cancel(ctxs[r->ctxi], &r->cb, &ev);
		if (c == -EINPROGRESS) {
			if (atomic_fetch_add(&r->cancelled, 1) != 0)
				atomic_fetch_add(&bad_cancel, 1);	/* cancelled twice */
		} else if (c != -EAGAIN && c != -EINVAL) {
			fprintf(stderr, "cancel: %d\n", c);
			atomic_fetch_add(&bad_cancel, 1);
		}
		msleep_us(30);
	}
	return NULL;
}

/* Satisfies leftover pipe reads and writes without blocking. */
static void unstick_pipes(void)
{
	static char junk[65536], fill[256];

	memset(fill, 'f', sizeof(fill));
	for (int s = 0; s < NSUB; s++) {
		struct iovec in = { junk, sizeof(junk) }, out = { fill, sizeof(fill) };

		if (preadv2(pipes[s][0], &in, 1, -1, RWF_NOWAIT) < 0 && errno != EAGAIN)
			t_fail("drain pipe %d: errno %d", s, errno);
		if (pwritev2(pipes[s][1], &out, 1, -1, RWF_NOWAIT) < 0 && errno != EAGAIN)
			t_fail("fill pipe %d: errno %d", s, errno);
	}
}

static void phase1(void)
{
	pthread_t sub[NSUB], rg[2], rd, cn;
	int bad_res = 0, bad_data = 0, ncancel = 0, nev_bad = 0;

	reqs = calloc((size_t)total, sizeof(*reqs));
	REQUIRE(reqs);
	for (int i = 0; i < total; i++) {
		struct req *r = &reqs[i];

		r->id = i;
		r->sub = i / per_sub;
		r->kind = (int)((unsigned)(i * 2654435761u) >> 7) % NKIND;
		r->buf = malloc(WLEN);
		REQUIRE(r->buf);
		atomic_store(&r->res, 1LL << 40);
	}
	for (int s = 0; s < NSUB; s++)
		REQUIRE(pipe(pipes[s]) == 0);
	REQUIRE(t_setup(256, &ctxs[0]) == 0);
	REQUIRE(t_setup(256, &ctxs[1]) == 0);

	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&rg[i], NULL, reaper_get, NULL) == 0);
	REQUIRE(pthread_create(&rd, NULL, reaper_direct, NULL) == 0);
	REQUIRE(pthread_create(&cn, NULL, canceller, NULL) == 0);
	for (int s = 0; s < NSUB; s++)
		REQUIRE(pthread_create(&sub[s], NULL, submitter, (void *)(intptr_t)s) == 0);
	for (int s = 0; s < NSUB; s++)
		pthread_join(sub[s], NULL);
	/* pending pipe requests (cancelled partners) are released by hand */
	for (int k = 0; k < 15000 && atomic_load(&n_received) < atomic_load(&n_submitted); k++) {
		unstick_pipes();
		msleep_us(1000);
	}
	atomic_store(&stop, 1);
	pthread_join(cn, NULL);
	pthread_join(rd, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(rg[i], NULL);

	CHECK_EQ(atomic_load(&n_submitted), total);
	CHECK_EQ(atomic_load(&n_received), atomic_load(&n_submitted));
	CHECK_EQ(atomic_load(&torn), 0);
	CHECK_EQ(atomic_load(&dup_ev), 0);
	CHECK_EQ(atomic_load(&bad_cancel), 0);
	for (int i = 0; i < total; i++) {
		struct req *r = &reqs[i];
		long long res = atomic_load(&r->res);
		int c = atomic_load(&r->cancelled);

		if (atomic_load(&r->events) != 1) {
			if (nev_bad++ < 10)
				t_fail("request %d (kind %d): %d events", i, r->kind, atomic_load(&r->events));
			continue;
		}
		ncancel += c;
		if (c) {
			if (res != -ECANCELED && bad_res++ < 10)
				t_fail("request %d: cancelled but res %lld", i, res);
			continue;
		}
		switch (r->kind) {
		case K_CACHED:
			if (res != RLEN || r->buf[3] != t_pattern((uint64_t)r->cb.aio_offset + 3)) {
				if (bad_data++ < 10)
					t_fail("cached read %d: res %lld", i, res);
			}
			break;
		case K_COLD:
			if (res != WLEN || r->buf[WLEN - 1] != t_pattern((uint64_t)r->cb.aio_offset + WLEN - 1)) {
				if (bad_data++ < 10)
					t_fail("cold read %d: res %lld", i, res);
			}
			break;
		case K_WRITE: {
			unsigned char b[WLEN];

			if (res != WLEN || pread(f3, b, WLEN, (off_t)i * WLEN) != WLEN ||
			    b[0] != wbyte(i, 0) || b[WLEN - 1] != wbyte(i, WLEN - 1)) {
				if (bad_data++ < 10)
					t_fail("write %d: res %lld", i, res);
			}
			break;
		}
		case K_PWRITE:
			if (res != RLEN && bad_res++ < 10)
				t_fail("pipe write %d: res %lld", i, res);
			break;
		case K_PREAD:
			if ((res < 1 || res > RLEN) && bad_res++ < 10)
				t_fail("pipe read %d: res %lld", i, res);
			break;
		}
	}
	CHECK_EQ(nev_bad, 0);
	CHECK_EQ(bad_res, 0);
	CHECK_EQ(bad_data, 0);
	fprintf(stderr, "phase 1: %d requests, %d cancelled\n", total, ncancel);
	CHECK_EQ(uaio_destroy(ctxs[0]), 0);
	CHECK_EQ(uaio_destroy(ctxs[1]), 0);
	for (int i = 0; i < total; i++)
		free(reqs[i].buf);
	free(reqs);
	for (int s = 0; s < NSUB; s++) {
		close(pipes[s][0]);
		close(pipes[s][1]);
	}
}

/* ---- phase 2: a destroyer in the middle of it all ---- */

#define P2SUB 3
#define P2PER 20000

static struct req *p2;
static aio_context_t c2;
static _Atomic int p2_accepted, p2_destroyed, p2_bad, p2_done_sub;
static int p2pipe[2];

static void p2_event(const struct io_event *ev)
{
	struct req *r = (struct req *)(uintptr_t)ev->obj;

	if (r < p2 || r >= p2 + P2SUB * P2PER || ev->data != (uint64_t)r->id) {
		atomic_fetch_add(&p2_bad, 1);
		return;
	}
	if (atomic_fetch_add(&r->events, 1) != 0)
		atomic_fetch_add(&p2_bad, 1);
}

static void *p2_submitter(void *arg)
{
	int s = (int)(intptr_t)arg;
	struct req *mine = p2 + s * P2PER;
	int last = 0;

	for (int i = 0; i < P2PER;) {
		struct req *r = &mine[i];
		struct iocb *v = &r->cb;

		if (i % 16 == 15)
			uaio_prep_pread(&r->cb, p2pipe[0], r->buf, RLEN, 0);
		else
			uaio_prep_pread(&r->cb, f1, r->buf, RLEN, (long long)(i % 1000) * RLEN);
		r->cb.aio_data = (uint64_t)r->id;
		last = uaio_submit(c2, 1, &v);
		if (last == 1) {
			atomic_store_explicit(&r->submitted, 1, memory_order_release);
			atomic_fetch_add(&p2_accepted, 1);
			i++;
		} else if (last == -EAGAIN) {
			msleep_us(100);
		} else {
			break;
		}
	}
	if (last != -EINVAL && last != 1) {
		fprintf(stderr, "phase 2 submitter %d: last submit %d\n", s, last);
		atomic_fetch_add(&p2_bad, 1);
	}
	atomic_fetch_add(&p2_done_sub, 1);
	return NULL;
}

static void *p2_waiter(void *arg)
{
	struct io_event ev[32];
	int r;

	(void)arg;
	for (;;) {
		r = uaio_getevents(c2, 1, 32, ev, NULL);
		if (r < 0)
			break;
		for (int j = 0; j < r; j++)
			p2_event(&ev[j]);
	}
	if (r != -EINVAL) {
		fprintf(stderr, "phase 2 waiter: %d\n", r);
		atomic_fetch_add(&p2_bad, 1);
	}
	return NULL;
}

static void *p2_canceller(void *arg)
{
	unsigned seed = 777;
	struct io_event ev;

	(void)arg;
	while (!atomic_load(&p2_destroyed)) {
		struct req *r = &p2[xs(&seed) % (P2SUB * P2PER)];
		int c;

		if (!atomic_load_explicit(&r->submitted, memory_order_acquire)) {
			sched_yield();
			continue;
		}
		c = uaio_cancel(c2, &r->cb, &ev);
		if (c != -EINPROGRESS && c != -EAGAIN && c != -EINVAL) {
			fprintf(stderr, "phase 2 cancel: %d\n", c);
			atomic_fetch_add(&p2_bad, 1);
		}
		msleep_us(20);
	}
	return NULL;
}

static void phase2(int trigger)
{
	pthread_t sub[P2SUB], w[2], cn;
	struct io_event ev;
	struct timespec ts0 = { 0, 0 };
	int over = 0;

	p2 = calloc(P2SUB * P2PER, sizeof(*p2));
	REQUIRE(p2);
	for (int i = 0; i < P2SUB * P2PER; i++) {
		p2[i].id = i;
		p2[i].buf = malloc(RLEN);
		REQUIRE(p2[i].buf);
	}
	REQUIRE(pipe(p2pipe) == 0);
	c2 = 0;
	{
		int r = t_setup(256, &c2);

		if (r != 0)
			t_fail("phase 2 setup: %d", r);
		REQUIRE(r == 0);
	}
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&w[i], NULL, p2_waiter, NULL) == 0);
	REQUIRE(pthread_create(&cn, NULL, p2_canceller, NULL) == 0);
	for (int s = 0; s < P2SUB; s++)
		REQUIRE(pthread_create(&sub[s], NULL, p2_submitter, (void *)(intptr_t)s) == 0);
	/* the destroyer (this thread): once enough is going on */
	for (int k = 0; k < 100000 && atomic_load(&p2_accepted) < trigger &&
			atomic_load(&p2_done_sub) < P2SUB; k++)
		msleep_us(100);
	CHECK_EQ(uaio_destroy(c2), 0);
	atomic_store(&p2_destroyed, 1);
	/* afterwards: -EINVAL everywhere */
	{
		struct iocb cb, *v = &cb;

		uaio_prep_pread(&cb, f1, &ev, 8, 0);
		CHECK_EQ(uaio_submit(c2, 1, &v), -EINVAL);
		CHECK_EQ(uaio_getevents(c2, 0, 1, &ev, &ts0), -EINVAL);
		CHECK_EQ(uaio_cancel(c2, &p2[0].cb, &ev), -EINVAL);
		CHECK_EQ(uaio_destroy(c2), -EINVAL);
	}
	for (int s = 0; s < P2SUB; s++)
		pthread_join(sub[s], NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	pthread_join(cn, NULL);
	CHECK_EQ(atomic_load(&p2_bad), 0);
	for (int i = 0; i < P2SUB * P2PER; i++) {
		int e = atomic_load(&p2[i].events);

		if (e > 1 || (e == 1 && !atomic_load(&p2[i].submitted)))
			over++;
	}
	CHECK_EQ(over, 0);
	fprintf(stderr, "phase 2: destroyed after %d accepted requests\n", atomic_load(&p2_accepted));
	for (int i = 0; i < P2SUB * P2PER; i++)
		free(p2[i].buf);
	free(p2);
	close(p2pipe[0]);
	close(p2pipe[1]);
}

int main(void)
{
	int quick = getenv("UAIO_TEST_QUICK") != NULL;

#ifdef T_UNDER_SAN
	quick = 1;
#endif
	alarm(120);
	per_sub = quick ? 600 : 3000;
	total = NSUB * per_sub;
	f1 = t_tmpfile(F1SZ, 0);
	f2 = t_tmpfile(F2SZ, 0);
	f3 = t_tmpfile(0, 0);
	REQUIRE(fsync(f2) == 0);
	REQUIRE(posix_fadvise(f2, 0, 0, POSIX_FADV_DONTNEED) == 0);
	phase1();
	for (int round = 0; round < (quick ? 2 : 5); round++) {
		atomic_store(&p2_accepted, 0);
		atomic_store(&p2_destroyed, 0);
		atomic_store(&p2_done_sub, 0);
		phase2(200 + round * 400);
	}
	close(f1);
	close(f2);
	close(f3);
	return t_done();
}
