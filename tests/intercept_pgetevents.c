/* SPEC §2 getevents/pgetevents and issue 12: a program that sets up,
 * submits and destroys through libaio but reaps with io_pgetevents as a raw
 * system call, served by interception, gets the kernel's answers on every
 * executor: its event with the right data and res (min_nr = 1 with a
 * timeout, a zero timeout after a request the kernel finishes inside
 * io_submit, a NULL usig and a usig with a mask), and -EFAULT for a bad
 * events pointer with the event kept for the next call.  The same cases run
 * first on the kernel (when its AIO is usable) and the lines are compared.
 * Under `uaio-run --syscalls` (UAIO_SYSCALLS=1: the preload intercepts;
 * intercept_pgetevents_preload.sh runs it so) only the intercepted pass runs. */
#include "t.h"
#include <dlfcn.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>

/* See intercept_syscalls.c: uaio's calls run in the SIGSYS frame. */
const char *__tsan_default_options(void) __attribute__((visibility("default")));
const char *__tsan_default_options(void)
{
	return "report_signal_unsafe=0";
}

/* libaio's entry points (io_context_t is the ring's address). */
static int (*lib_setup)(int, aio_context_t *);
static int (*lib_submit)(aio_context_t, long, struct iocb **);
static int (*lib_getevents)(aio_context_t, long, long, struct io_event *, struct timespec *);
static int (*lib_destroy)(aio_context_t);

#define NCASES 20
#define LINE 160
static char lines[2][NCASES][LINE];	/* [0] kernel, [1] intercepted */
static int nlines[2];

static void out(int run, const char *fmt, ...)
{
	va_list ap;

	REQUIRE(nlines[run] < NCASES);
	va_start(ap, fmt);
	vsnprintf(lines[run][nlines[run]++], LINE, fmt, ap);
	va_end(ap);
}

/* The raw system call, as programs that skip libaio for it issue it. */
static long raw_pgetevents(aio_context_t ctx, long min_nr, long nr, void *events,
			   const struct timespec *ts, const void *usig)
{
	long r = syscall(SYS_io_pgetevents, ctx, min_nr, nr, events, ts, usig);

	return r < 0 ? -errno : r;
}

struct usig { const void *mask; size_t size; };

/* A context is the kernel's when its address is an [aio] mapping. */
static bool is_kernel_ring(aio_context_t ctx)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long lo, hi;
	bool found = false;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && ctx >= lo && ctx < hi && strstr(line, "[aio]"))
			found = true;
	fclose(f);
	return found;
}

static const char *ev_str(long n, const struct io_event *ev, const struct iocb *cb, char *buf)
{
	if (n != 1)
		return "";
	snprintf(buf, 64, " data=%#llx obj=%s res=%lld res2=%lld", (unsigned long long)ev->data,
		 ev->obj == (uint64_t)(uintptr_t)cb ? "iocb" : "other", (long long)ev->res,
		 (long long)ev->res2);
	return buf;
}

/* Each case: setup, submit and destroy through libaio, reap raw. */
static void cases(int run, int fd, int dfd)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct timespec five = { 5, 0 }, zero = { 0, 0 }, short_ts = { 0, 20000000 };
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev[2];
	sigset_t mask;
	struct usig with_mask = { &mask, 8 }, no_mask = { NULL, 8 };
	aio_context_t ctx = 0;
	char s[64];
	long r, r2;
	int p[2], st;

	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1);
	REQUIRE(lib_setup(8, &ctx) == 0);
	if (is_kernel_ring(ctx) != (run == 0))
		t_fail("pass %d: the context is %s's", run, run ? "the kernel" : "uaio");

	/* min_nr 1, a timeout, NULL usig: a cached read (done at submit). */
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_data = 0x1001;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 2, ev, &five, NULL);
	out(run, "read_min1_timeout_nullusig: %ld%s", r, ev_str(r, ev, &cb, s));

	/* The same with a usig holding a mask. */
	cb.aio_data = 0x1002;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 2, ev, &five, &with_mask);
	out(run, "read_min1_timeout_mask: %ld%s", r, ev_str(r, ev, &cb, s));

	/* A usig whose mask pointer is NULL: no mask. */
	cb.aio_data = 0x1003;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &five, &no_mask);
	out(run, "read_min1_timeout_nullmask: %ld%s", r, ev_str(r, ev, &cb, s));

	/* Zero timeout: the kernel finished the read inside io_submit. */
	cb.aio_data = 0x1004;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &zero, &with_mask);
	out(run, "read_zero_timeout: %ld%s", r, ev_str(r, ev, &cb, s));

	/* A bad events pointer with the event ready: -EFAULT, and the event
	 * stays for the next call (libaio's io_getevents, then raw). */
	cb.aio_data = 0x1005;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	r = raw_pgetevents(ctx, 1, 1, (void *)8, &five, NULL);
	r2 = raw_pgetevents(ctx, 1, 1, (void *)8, &zero, &with_mask);
	memset(ev, 0, sizeof(ev));
	st = lib_getevents(ctx, 1, 1, ev, &five);
	out(run, "read_bad_events: %ld %ld then %d%s", r, r2, st, ev_str(st, ev, &cb, s));

	/* The case: a buffered write reaped with min_nr 0 and a
	 * timeout.  The kernel writes to the page cache inside io_submit, so
	 * the event is there: -EFAULT for a bad events pointer, then the
	 * event.  (uaio once offloaded the write: on io_uring, slower to
	 * finish it than the pool, both calls answered 0.) */
	uaio_prep_pwrite(&cb, fd, buf, sizeof(buf), 4096);
	cb.aio_data = 0x1006;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	r = raw_pgetevents(ctx, 0, 1, (void *)8, &five, NULL);
	memset(ev, 0, sizeof(ev));
	r2 = raw_pgetevents(ctx, 0, 1, ev, &five, NULL);
	out(run, "write_min0_timeout: %ld then %ld%s", r, r2, ev_str(r2, ev, &cb, s));

	/* libaio's own zero-timeout shortcut on the empty ring, then raw. */
	out(run, "empty_zero_timeout: libaio %d raw %ld", lib_getevents(ctx, 0, 1, ev, &zero),
	    raw_pgetevents(ctx, 0, 1, ev, &zero, NULL));

	/* min_nr 1 with a short timeout and nothing to come: 0 after it. */
	REQUIRE(pipe(p) == 0);
	uaio_prep_poll(&cb, p[0], POLLIN);
	cb.aio_data = 0x2001;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	out(run, "poll_min1_timeout_nothing: %ld", raw_pgetevents(ctx, 1, 1, ev, &short_ts, &with_mask));
	/* ... then the pipe becomes readable: the POLL's event. */
	REQUIRE(write(p[1], "x", 1) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &five, NULL);
	out(run, "poll_min1_timeout: %ld%s", r, ev_str(r, ev, &cb, s));
	/* A POLL that is ready at submit completes there (kernel and uaio). */
	cb.aio_data = 0x2002;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &zero, NULL);
	out(run, "poll_ready_zero_timeout: %ld%s", r, ev_str(r, ev, &cb, s));
	close(p[0]);
	close(p[1]);

	/* O_DIRECT: on the io_uring executor the event comes through the
	 * ring's CQ; min_nr 1 waits for it, with and without a mask. */
	uaio_prep_pread(&cb, dfd, buf, sizeof(buf), 0);
	cb.aio_data = 0x3001;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &five, NULL);
	out(run, "direct_min1_timeout_nullusig: %ld%s", r, ev_str(r, ev, &cb, s));
	cb.aio_data = 0x3002;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	memset(ev, 0, sizeof(ev));
	r = raw_pgetevents(ctx, 1, 1, ev, &five, &with_mask);
	out(run, "direct_min1_timeout_mask: %ld%s", r, ev_str(r, ev, &cb, s));
	/* a bad events pointer waits for the event, then -EFAULT */
	cb.aio_data = 0x3003;
	REQUIRE(lib_submit(ctx, 1, v) == 1);
	r = raw_pgetevents(ctx, 1, 1, (void *)8, &five, &with_mask);
	memset(ev, 0, sizeof(ev));
	r2 = raw_pgetevents(ctx, 1, 1, ev, &five, NULL);
	out(run, "direct_bad_events: %ld then %ld%s", r, r2, ev_str(r2, ev, &cb, s));
	REQUIRE(lib_destroy(ctx) == 0);
}

static const char *const expect[] = {
	"read_min1_timeout_nullusig: 1 data=0x1001 obj=iocb res=4096 res2=0",
	"read_min1_timeout_mask: 1 data=0x1002 obj=iocb res=4096 res2=0",
	"read_min1_timeout_nullmask: 1 data=0x1003 obj=iocb res=4096 res2=0",
	"read_zero_timeout: 1 data=0x1004 obj=iocb res=4096 res2=0",
	"read_bad_events: -14 -14 then 1 data=0x1005 obj=iocb res=4096 res2=0",
	"write_min0_timeout: -14 then 1 data=0x1006 obj=iocb res=4096 res2=0",
	"empty_zero_timeout: libaio 0 raw 0",
	"poll_min1_timeout_nothing: 0",
	"poll_min1_timeout: 1 data=0x2001 obj=iocb res=65 res2=0",
	"poll_ready_zero_timeout: 1 data=0x2002 obj=iocb res=1 res2=0",
	"direct_min1_timeout_nullusig: 1 data=0x3001 obj=iocb res=4096 res2=0",
	"direct_min1_timeout_mask: 1 data=0x3002 obj=iocb res=4096 res2=0",
	"direct_bad_events: -14 then 1 data=0x3003 obj=iocb res=4096 res2=0",
};

int main(void)
{
	void *lib;
	int fd, dfd, st;
	bool kernel, preloaded;

	if (t_under_valgrind())
		t_skip("valgrind runs system calls from its own code: seccomp traps do not reach it");
	/* Loaded before interception starts, so that its mappings are covered. */
	lib = dlopen("libaio.so.1", RTLD_NOW);
	if (!lib)
		t_skip("libaio.so.1 (Debian package libaio1) is not installed");
	lib_setup = (int (*)(int, aio_context_t *))dlsym(lib, "io_setup");
	lib_submit = (int (*)(aio_context_t, long, struct iocb **))dlsym(lib, "io_submit");
	lib_getevents = (int (*)(aio_context_t, long, long, struct io_event *, struct timespec *))
		dlsym(lib, "io_getevents");
	lib_destroy = (int (*)(aio_context_t))dlsym(lib, "io_destroy");
	REQUIRE(lib_setup && lib_submit && lib_getevents && lib_destroy);

	fd = t_tmpfile(4096, 0);
	dfd = t_tmpfile(4096, O_RDONLY | O_DIRECT);

	preloaded = getenv("UAIO_SYSCALLS") && !strcmp(getenv("UAIO_SYSCALLS"), "1");
	kernel = !preloaded && k_available();
	if (kernel)
		cases(0, fd, dfd);

	if (!preloaded) {
		st = uaio_intercept_syscalls(0);
		if (st == -ENOSYS || st == -EACCES)
			t_skip("seccomp filters are not available here");
		REQUIRE(st == 0);
	}
	cases(1, fd, dfd);

	CHECK_EQ(nlines[1], sizeof(expect) / sizeof(expect[0]));
	for (int i = 0; i < nlines[1]; i++) {
		if (kernel && strcmp(lines[0][i], lines[1][i]))
			t_fail("kernel:  %s\n  uaio:    %s", lines[0][i], lines[1][i]);
		if (i < (int)(sizeof(expect) / sizeof(expect[0])) && strcmp(expect[i], lines[1][i]))
			t_fail("want:    %s\n  uaio:    %s", expect[i], lines[1][i]);
		printf("%s\n", lines[1][i]);
	}
	if (preloaded)
		printf("served through uaio-run --syscalls: compared with the expected lines\n");
	else if (!kernel)
		printf("the kernel's AIO is not usable here: compared with the expected lines only\n");
	close(fd);
	close(dfd);
	return t_done();
}
