/* SPEC §1 pointers: a bad pointer is -EFAULT, as the kernel answers, whether the checked copy catches its own fault (SIGSEGV, or SIGBUS past the end of a mapped file) or goes through process_vm (UAIO_UACCESS=vm, run here in a child); and uaio's fault handler passes every other fault on to the program's handler or the default action. */
#include "t.h"
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

static long page;

/* A page with protection prot, and an unmapped one after it. */
static char *page_with(int prot)
{
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED);
	REQUIRE(munmap(p + page, page) == 0);
	REQUIRE(mprotect(p, page, prot) == 0);
	return p;
}

/* A shared mapping of a file that is then cut to 0 bytes: touching it is
 * SIGBUS, and the kernel's copies answer -EFAULT. */
static char *sigbus_page(void)
{
	int fd = t_tmpfile((size_t)page, 0);
	char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	REQUIRE(ftruncate(fd, 0) == 0);
	close(fd);
	return p;
}

/* One api, one bad-pointer case set; results go to r[] for comparison. */
static void cases(const struct t_api *a, int fd, int *r)
{
	static char buf[512];
	char *ro = page_with(PROT_READ), *none = page_with(PROT_NONE), *bus = sigbus_page();
	struct iocb cb, *v[2];
	struct io_event ev[2];
	struct timespec ts = { 5, 0 };
	aio_context_t ctx = 0;
	int k = 0;

	REQUIRE(a->setup(4, &ctx) == 0);
	/* iocbpp unreadable: PROT_NONE, past the end of a file, NULL */
	r[k++] = a->submit(ctx, 1, (struct iocb **)none);
	r[k++] = a->submit(ctx, 1, (struct iocb **)bus);
	r[k++] = a->submit(ctx, 1, NULL);
	/* the iocb itself unreadable; then read-only, so its key cannot be stored */
	v[0] = (struct iocb *)(none + page - 16);	/* straddles into the hole */
	r[k++] = a->submit(ctx, 1, v);
	v[0] = (struct iocb *)bus;
	r[k++] = a->submit(ctx, 1, v);
	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_buf = (uint64_t)(uintptr_t)buf;
	cb.aio_nbytes = sizeof(buf);
	REQUIRE(mprotect(ro, page, PROT_READ | PROT_WRITE) == 0);
	memcpy(ro, &cb, sizeof(cb));
	REQUIRE(mprotect(ro, page, PROT_READ) == 0);
	v[0] = (struct iocb *)ro;
	r[k++] = a->submit(ctx, 1, v);
	/* second of two bad: the first is accepted, the count says so */
	v[0] = &cb;
	v[1] = (struct iocb *)none;
	r[k++] = a->submit(ctx, 2, v);
	/* events into a read-only page, a hole, a cut file: -EFAULT, and the
	 * event stays for a good array */
	r[k++] = a->getevents(ctx, 1, 1, (struct io_event *)ro, &ts);
	r[k++] = a->getevents(ctx, 1, 1, (struct io_event *)(none + page - 8), &ts);
	r[k++] = a->getevents(ctx, 1, 1, (struct io_event *)bus, &ts);
	r[k++] = a->getevents(ctx, 1, 1, ev, &ts);
	r[k++] = ev[0].res == sizeof(buf);
	/* a bad timeout */
	r[k++] = a->getevents(ctx, 0, 1, ev, (struct timespec *)bus);
	r[k++] = a->getevents(ctx, 0, 1, ev, (struct timespec *)none);
	CHECK_EQ(a->destroy(ctx), 0);
	munmap(ro, page);
	munmap(none, page);
	munmap(bus, page);
	REQUIRE(k == 14);
}

static void against_kernel(void)
{
	int fd = t_tmpfile(4096, 0), ku[14], uu[14];
	static const int want[14] = { -EFAULT, -EFAULT, -EFAULT, -EFAULT, -EFAULT, -EFAULT, 1,
				      -EFAULT, -EFAULT, -EFAULT, 1, 1, -EFAULT, -EFAULT };

	cases(&t_uaio, fd, uu);
	for (int i = 0; i < 14; i++)
		if (uu[i] != want[i])
			t_fail("case %d: uaio %d, want %d", i, uu[i], want[i]);
	if (k_available() && !t_under_valgrind()) {
		cases(&t_kernel, fd, ku);
		for (int i = 0; i < 14; i++)
			if (uu[i] != ku[i])
				t_fail("case %d: uaio %d, kernel %d", i, uu[i], ku[i]);
	}
	close(fd);
}

/* The program's own handler, installed before uaio's (run in a fresh
 * child, so that uaio installs its handler over it), still gets its own
 * faults, with the fault address. */
static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_sig;

static void mine(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	fault_sig = sig;
	fault_addr = si->si_addr;
	siglongjmp(jb, 1);
}

static void program_handler_chained(void)
{
	struct sigaction sa, old_segv, old_bus;
	char *none = page_with(PROT_NONE), *bus = sigbus_page();
	aio_context_t ctx = 0;
	struct io_event ev;
	struct timespec zero = { 0, 0 };

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mine;
	sa.sa_flags = SA_SIGINFO;
	REQUIRE(sigaction(SIGSEGV, &sa, &old_segv) == 0);
	REQUIRE(sigaction(SIGBUS, &sa, &old_bus) == 0);
	REQUIRE(t_setup(1, &ctx) == 0);	/* uaio's handler: at the first checked copy */
	CHECK_EQ(uaio_getevents(ctx, 0, 1, (struct io_event *)none, &zero), 0);
	CHECK_EQ(uaio_submit(ctx, 1, (struct iocb **)none), -EFAULT);
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)none;
		t_fail("no fault");
	}
	CHECK_EQ(fault_sig, SIGSEGV);
	CHECK(fault_addr == none);
	if (sigsetjmp(jb, 1) == 0) {
		(void)*(volatile char *)bus;
		t_fail("no fault");
	}
	CHECK_EQ(fault_sig, SIGBUS);
	CHECK(fault_addr == bus);
	/* uaio's copies still answer -EFAULT after the program's faults */
	CHECK_EQ(uaio_getevents(ctx, 1, 1, &ev, (struct timespec *)bus), -EFAULT);
	CHECK_EQ(uaio_destroy(ctx), 0);
	munmap(none, page);
	munmap(bus, page);
}

/* Runs fn in a fresh child (one that has made no checked copy yet). */
static void call(void *fn)
{
	((void (*)(void))fn)();
}

static int run_child(void (*fn)(void))
{
	return t_fork_run(call, (void *)fn);
}

static void in_child(void (*fn)(void))
{
	int st = run_child(fn);

	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* For child(): `before`, then uaio's handler (at its first checked copy),
 * then `what`. */
static void (*c_before)(void), (*c_what)(void);

static void child_body(void)
{
	aio_context_t ctx = 0;
	struct timespec zero = { 0, 0 };
	struct io_event ev;

	c_before();
	if (t_setup(1, &ctx) != 0 || uaio_getevents(ctx, 0, 1, &ev, (struct timespec *)8) != -EFAULT)
		_exit(3);
	c_what();
	if (uaio_getevents(ctx, 0, 1, &ev, &zero) != 0)
		_exit(4);
}

static int child(void (*before)(void), void (*what)(void))
{
	c_before = before;
	c_what = what;
	return run_child(child_body);
}

static void nothing(void) {}
static void ignore_segv(void) { signal(SIGSEGV, SIG_IGN); }
static void null_deref(void)
{
	volatile uintptr_t bad = 16;	/* an address the compiler cannot see through */

	(void)*(volatile char *)bad;
}
static void bus_touch(void) { (void)*(volatile char *)sigbus_page(); }
static void sent_segv(void) { kill(getpid(), SIGSEGV); }

#ifdef T_UNDER_SAN	/* a sanitizer's handler reports the fault and exits */
#define SAN_OR(c) (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
#else
#define SAN_OR(c) (c)
#endif

static void default_actions(void)
{
	int st;

	/* A program fault with no handler of the program's: death by the
	 * signal, as without uaio (sanitizers report it and exit instead). */
	st = child(nothing, null_deref);
	CHECK(SAN_OR(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV));
	st = child(nothing, bus_touch);
	CHECK(SAN_OR(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS));
	/* sent by kill(): the default action too */
	st = child(nothing, sent_segv);
	CHECK(SAN_OR(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV));
	/* ignored before uaio: a sent SIGSEGV stays ignored */
	st = child(ignore_segv, sent_segv);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const char *ua = getenv("UAIO_UACCESS");
	bool vm = ua && strcmp(ua, "vm") == 0;

	page = sysconf(_SC_PAGESIZE);
	/* First, in children of a process that has made no checked copy yet:
	 * what uaio's handler does with faults that are not its own. */
	if (!t_under_valgrind()) {	/* valgrind reports the program's own faults */
		in_child(program_handler_chained);
		default_actions();
	}
	against_kernel();
	/* again with process_vm checks, in a child (valgrind checks that way
	 * already, and its /proc/self/exe is valgrind) */
	if (!vm && !t_under_valgrind())
		t_rerun_with("UAIO_UACCESS", "vm");
	return t_done();
}
