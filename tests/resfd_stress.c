/* SPEC §2 submit, IOCB_FLAG_RESFD: once getevents has returned n events, their eventfds have been written; an immediate non-blocking read of an eventfd gives exactly the count of its events returned so far (the kernel's order: eventfd_signal before the waiter is woken).  The requests complete on workers, the poller or io_uring, never inside submit: RWF_DSYNC and O_DSYNC writes, cold-cache reads, pipe reads that the poller completes after submit, O_DIRECT reads (skipped where refused).  Reaped with uaio_getevents (blocking, timed, zero-timeout polling), uaio_pgetevents, and libaio.so.1's io_getevents in a child of its own.  Also the other direction: an eventfd count means its events can be reaped.  A program that reads the ring itself may see an event before its count (the kernel's order too: ring, then eventfd); that is counted and printed, and the count must follow. */
#include "t.h"
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <time.h>

#define MAXN	8		/* requests per round */
#define NEFD	3		/* eventfds a round spreads its requests over */
#define BS	4096
#define SPREAD	(256 << 10)	/* cold reads this far apart: beyond readahead */

enum kind { K_DSYNC, K_ODSYNC, K_COLD, K_PIPE, K_DIRECT, K_MIXED, NKIND };
static const char *kind_name[NKIND] = { "rwf_dsync", "o_dsync", "cold", "pipe", "direct", "mixed" };

enum reap { R_WAIT, R_TIMED, R_PGET, R_POLL, R_EFD_FIRST, R_RING, NREAP };
static const char *reap_name[NREAP] = { "getevents", "timed", "pgetevents", "poll0", "efd-first",
					"ring" };

/* The calls under test: uaio's own, or libaio.so.1's (dlopen'd in a child). */
static struct {
	int (*setup)(unsigned, aio_context_t *);
	int (*destroy)(aio_context_t);
	int (*submit)(aio_context_t, long, struct iocb **);
	int (*getevents)(aio_context_t, long, long, struct io_event *, struct timespec *);
	int (*pgetevents)(aio_context_t, long, long, struct io_event *, struct timespec *,
			  const sigset_t *);
} api = { t_uaio_setup, uaio_destroy, uaio_submit, uaio_getevents, uaio_pgetevents };

static int fd_file, fd_odsync, fd_cold, fd_direct = -1;
static int pipes[MAXN][2];
static int efds[NEFD];
static unsigned char *bufs;	/* MAXN aligned blocks */
static unsigned long rounds_done, mismatches;
static unsigned long ring_rounds, ring_lagged;	/* direct ring reads: informational */

static uint64_t efd_take(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) != sizeof(v)) {
		if (errno != EAGAIN)
			t_fail("eventfd read: errno %d", errno);
		return 0;
	}
	return v;
}

/* fio's userspace_reap: the program reads the ring itself, no uaio call. */
static int ring_reap(aio_context_t ctx, struct io_event *out, int max)
{
	struct uaio_ring *ring = (struct uaio_ring *)(uintptr_t)ctx;
	unsigned nr = ring->nr, head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE) % nr;
	unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	int n = 0;

	while (head != tail && n < max) {
		out[n++] = ring->io_events[head];
		head = (head + 1) % nr;
	}
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

static enum kind pick_kind(enum kind k, int i, unsigned long round)
{
	if (k != K_MIXED)
		return k;
	k = (enum kind)((i + round) % K_MIXED);
	return k == K_DIRECT && fd_direct < 0 ? K_COLD : k;
}

static void prep(struct iocb *cb, enum kind k, int i)
{
	unsigned char *b = bufs + (size_t)i * BS;

	switch (k) {
	case K_DSYNC:
		uaio_prep_pwrite(cb, fd_file, b, 512, (long long)i * BS);
		cb->aio_rw_flags = RWF_DSYNC;
		break;
	case K_ODSYNC:
		uaio_prep_pwrite(cb, fd_odsync, b, 512, (long long)i * BS);
		break;
	case K_COLD:
		uaio_prep_pread(cb, fd_cold, b, BS, (long long)i * SPREAD);
		break;
	case K_PIPE:
		uaio_prep_pread(cb, pipes[i][0], b, 1, 0);
		break;
	default:
		uaio_prep_pread(cb, fd_direct, b, BS, (long long)i * SPREAD);
		break;
	}
}

static long expect_res(const struct iocb *cb)
{
	return (long)cb->aio_nbytes;	/* every kind moves all it asks for */
}

/* Counts the events of ev[0..got) per eventfd into reaped[]. */
static void account(const struct io_event *ev, int got, struct iocb *cbs, int *which,
		    uint64_t *reaped)
{
	for (int j = 0; j < got; j++) {
		int i = (int)ev[j].data;

		if (i < 0 || i >= MAXN || ev[j].obj != (uint64_t)(uintptr_t)&cbs[i]) {
			t_fail("stray event data %llu", (unsigned long long)ev[j].data);
			continue;
		}
		if (ev[j].res != expect_res(&cbs[i]))
			t_fail("request %d (%u bytes): res %lld", i, (unsigned)cbs[i].aio_nbytes,
			       (long long)ev[j].res);
		if (which[i] >= 0)
			reaped[which[i]]++;
	}
}

/* After a getevents call: every eventfd holds exactly what its reaped
 * events added (nothing else completed meanwhile, or only later ones in
 * the polling modes, where `exact` is false and the read may be ahead). */
static void check_efds(int nefd, const uint64_t *reaped, uint64_t *read_sum, bool exact,
		       const char *what)
{
	for (int e = 0; e < nefd; e++) {
		read_sum[e] += efd_take(efds[e]);
		if (read_sum[e] < reaped[e] || (exact && read_sum[e] != reaped[e])) {
			if (mismatches++ < 5)
				t_fail("%s: eventfd %d read %llu in all, %llu of its events returned",
				       what, e, (unsigned long long)read_sum[e],
				       (unsigned long long)reaped[e]);
		}
	}
}

static void one_round(aio_context_t ctx, enum kind kind, enum reap reap, int n, unsigned long round,
		      const char *what)
{
	struct iocb cbs[MAXN], *v[MAXN];
	struct io_event ev[MAXN];
	int which[MAXN], nefd = 1 + (int)(round / 7 % NEFD);
	uint64_t reaped[NEFD] = { 0 }, read_sum[NEFD] = { 0 }, want[NEFD] = { 0 };
	bool has_pipe = false, has_cold = false;
	struct timespec zero = { 0, 0 }, five = { 5, 0 };
	sigset_t mask;
	bool lagged = false;
	int got = 0, r;

	for (int i = 0; i < n; i++) {
		enum kind k = pick_kind(kind, i, round);

		prep(&cbs[i], k, i);
		cbs[i].aio_data = (uint64_t)i;
		has_pipe |= k == K_PIPE;
		has_cold |= k == K_COLD;
		/* Every 5th round, request 0 has no eventfd at all. */
		which[i] = round % 5 == 0 && i == 0 && n > 1 ? -1 : i % nefd;
		if (which[i] >= 0) {
			uaio_set_eventfd(&cbs[i], efds[which[i]]);
			want[which[i]]++;
		}
		v[i] = &cbs[i];
	}
	if (has_cold)
		REQUIRE(posix_fadvise(fd_cold, 0, 0, POSIX_FADV_DONTNEED) == 0);
	r = api.submit(ctx, n, v);
	if (r != n) {
		t_fail("%s: submit %d of %d", what, r, n);
		exit(T_FAIL);
	}
	if (has_pipe)	/* after submit: the poller (or the ring) completes them */
		for (int i = 0; i < n; i++)
			if (cbs[i].aio_fildes == (uint32_t)pipes[i][0])
				REQUIRE(write(pipes[i][1], "p", 1) == 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	while (got < n) {
		switch (reap) {
		case R_WAIT:
			r = api.getevents(ctx, n, n, ev, NULL);
			break;
		case R_TIMED:
			r = api.getevents(ctx, n - got, n - got, ev, &five);
			break;
		case R_PGET:
			r = api.pgetevents(ctx, n, n, ev, NULL, &mask);
			break;
		case R_POLL:
			r = api.getevents(ctx, 0, n - got, ev, &zero);
			break;
		case R_RING:
			r = ring_reap(ctx, ev, n - got);
			break;
		default:	/* efd-first: what the eventfd counts must be reapable now */
			for (int e = 0; e < nefd; e++)
				read_sum[e] += efd_take(efds[e]);
			r = api.getevents(ctx, 0, n - got, ev, &zero);
			break;
		}
		if (r < 0 || r > n - got) {
			t_fail("%s: getevents %d (got %d of %d)", what, r, got, n);
			exit(T_FAIL);
		}
		if (reap == R_EFD_FIRST) {
			account(ev, r, cbs, which, reaped);
			for (int e = 0; e < nefd; e++)
				if (reaped[e] < read_sum[e] && mismatches++ < 5)
					t_fail("%s: eventfd %d counted %llu, only %llu events reapable",
					       what, e, (unsigned long long)read_sum[e],
					       (unsigned long long)reaped[e]);
		} else if (reap == R_RING) {
			/* As on the kernel, a program that reads the ring itself may see
			 * an event a moment before its eventfd count (the count comes
			 * after the event, so that a count always finds its event).
			 * Only counted here; the totals are checked below. */
			account(ev, r, cbs, which, reaped);
			for (int e = 0; e < nefd; e++) {
				read_sum[e] += efd_take(efds[e]);
				lagged |= read_sum[e] < reaped[e];
			}
		} else {
			account(ev, r, cbs, which, reaped);
			/* Only the call that took the last event can expect an exact
			 * count: in the polling mode, later events may be posted. */
			check_efds(nefd, reaped, read_sum, got + r == n || reap != R_POLL, what);
		}
		got += r;
		if (r == 0)
			sched_yield();
	}
	for (int e = 0; e < nefd && reap == R_RING; e++) {
		struct pollfd p = { efds[e], POLLIN, 0 };

		/* the count may lag the ring: it must come, and soon */
		while (read_sum[e] < want[e] && poll(&p, 1, 10000) == 1)
			read_sum[e] += efd_take(efds[e]);
	}
	ring_rounds += reap == R_RING;
	ring_lagged += lagged;
	for (int e = 0; e < nefd; e++) {
		read_sum[e] += efd_take(efds[e]);
		if (read_sum[e] != want[e] && mismatches++ < 5)
			t_fail("%s: eventfd %d got %llu in all for %llu requests", what, e,
			       (unsigned long long)read_sum[e], (unsigned long long)want[e]);
	}
	rounds_done++;
}

/* Plain runs take a few seconds; sanitizers and valgrind get far fewer
 * rounds (the failure this guards against needed thousands). */
static unsigned long budget_rounds(void)
{
	const char *s = getenv("UAIO_RESFD_ROUNDS");

	if (s && *s)
		return strtoul(s, NULL, 10);
#ifdef T_UNDER_SAN
	return 600;
#else
	return t_under_valgrind() ? 40 : 4000;
#endif
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void open_files(void)
{
	char p[64];

	fd_file = t_tmpfile(MAXN * BS, 0);
	fd_odsync = t_tmpfile(MAXN * BS, O_RDWR | O_DSYNC);
	fd_cold = t_tmpfile((size_t)MAXN * SPREAD, 0);
	REQUIRE(fdatasync(fd_cold) == 0);	/* clean pages: DONTNEED drops them */
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd_cold);
	fd_direct = open(p, O_RDONLY | O_DIRECT);
	if (fd_direct < 0 && errno != EINVAL)
		REQUIRE(fd_direct >= 0);
	for (int i = 0; i < MAXN; i++)
		REQUIRE(pipe2(pipes[i], O_CLOEXEC) == 0);	/* blocking: as the kernel's AIO wants */
	for (int e = 0; e < NEFD; e++)
		REQUIRE((efds[e] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	REQUIRE(posix_memalign((void **)&bufs, BS, MAXN * BS) == 0);
	memset(bufs, 'w', MAXN * BS);
}

/* O_DIRECT may be accepted by open and refused by the read. */
static bool direct_works(aio_context_t ctx)
{
	struct iocb cb, *v = &cb;
	struct io_event ev;

	if (fd_direct < 0)
		return false;
	uaio_prep_pread(&cb, fd_direct, bufs, BS, 0);
	REQUIRE(api.submit(ctx, 1, &v) == 1);
	REQUIRE(api.getevents(ctx, 1, 1, &ev, NULL) == 1);
	if (ev.res == BS)
		return true;
	printf("O_DIRECT reads refused here (res %lld): variant skipped\n", (long long)ev.res);
	close(fd_direct);
	fd_direct = -1;
	return false;
}

static void run_all(const char *label, const enum reap *reaps, int nreaps)
{
	unsigned long budget = budget_rounds(), per;
	aio_context_t ctx = 0;
	char what[96];

	REQUIRE(api.setup(64, &ctx) == 0);
	direct_works(ctx);
	per = budget / (unsigned long)(NKIND * nreaps) + 1;
	for (int k = 0; k < NKIND; k++) {
		if (k == K_DIRECT && fd_direct < 0)
			continue;
		for (int ri = 0; ri < nreaps; ri++) {
			double t0 = now_s();

			snprintf(what, sizeof(what), "%s/%s/%s", label, kind_name[k], reap_name[reaps[ri]]);
			for (unsigned long round = 0; round < per && mismatches < 5; round++) {
				one_round(ctx, (enum kind)k, reaps[ri], 1 + (int)(round % MAXN), round, what);
				if (now_s() - t0 > 3.0)	/* a slow disk: fewer rounds, same coverage */
					break;
			}
		}
	}
	CHECK_EQ(api.destroy(ctx), 0);
}

/* The child's job: the same rounds through uaio's libaio.so.1 (found next
 * to this program's build directory), io_getevents' zero-timeout
 * shortcut included. */
static int libaio_child(void)
{
	static const enum reap reaps[] = { R_WAIT, R_TIMED, R_PGET, R_POLL, R_EFD_FIRST };
	char exe[PATH_MAX], lib[PATH_MAX + 32];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	void *h;

	REQUIRE(len > 0);
	exe[len] = 0;
	snprintf(lib, sizeof(lib), "%s/../lib/uaio/libaio.so.1", dirname(exe));
	if (!(h = dlopen(lib, RTLD_NOW | RTLD_LOCAL))) {
		printf("skipped libaio.so.1: %s\n", dlerror());
		return T_SKIP;
	}
	*(void **)&api.setup = dlsym(h, "io_setup");
	*(void **)&api.destroy = dlsym(h, "io_destroy");
	*(void **)&api.submit = dlsym(h, "io_submit");
	*(void **)&api.getevents = dlsym(h, "io_getevents");
	*(void **)&api.pgetevents = dlsym(h, "io_pgetevents");
	REQUIRE(api.setup && api.destroy && api.submit && api.getevents && api.pgetevents);
	open_files();
	run_all("libaio", reaps, 5);
	printf("libaio.so.1: %lu rounds\n", rounds_done);
	return t_done();
}

int main(void)
{
	static const enum reap reaps[] = { R_WAIT, R_TIMED, R_PGET, R_POLL, R_EFD_FIRST, R_RING };
	const char *mode = getenv("UAIO_RESFD_CHILD");
	double t0 = now_s();
	int st;

	if (mode && !strcmp(mode, "libaio"))
		return libaio_child();
	open_files();
	run_all("uaio", reaps, 6);
	printf("uaio: %lu rounds in %.1f s; direct ring reads saw an event before its eventfd "
	       "count in %lu of %lu rounds (allowed, as on the kernel)\n", rounds_done,
	       now_s() - t0, ring_lagged, ring_rounds);
	/* libaio.so.1 holds a second copy of uaio: run it in a process of its own. */
	if (!t_under_valgrind()) {
		char env[] = "UAIO_RESFD_CHILD=libaio";

		st = t_fork_run(t_exec_self, env);
		if (!WIFEXITED(st) || (WEXITSTATUS(st) != 0 && WEXITSTATUS(st) != T_SKIP))
			t_fail("libaio.so.1 child: status 0x%x", st);
	}
	return t_done();
}
