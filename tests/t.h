/* SPDX-License-Identifier: MIT */
/*
 * t.h - shared helpers for uaio's tests.  Each test is one program that
 * exits 0 (pass), 1 (fail) or 77 (skip).  The executor under test comes
 * from $UAIO_EXECUTOR (the runner sets it); t_setup() honours it.
 *
 * The `struct t_api` pairs let a test run the same case on the kernel's
 * own AIO (raw system calls) and on uaio and compare the answers.
 */
#ifndef UAIO_T_H
#define UAIO_T_H

#include "uaio.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/wait.h>

/* Built with AddressSanitizer or ThreadSanitizer (whose runtimes make
 * system calls and handle SIGSEGV of their own)? */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_UNDER_SAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define T_UNDER_SAN 1
#endif
#endif

#define T_PASS 0
#define T_FAIL 1
#define T_SKIP 77

static int t_failures;

#define t_fail(...) do { \
	fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); t_failures++; \
} while (0)

/* Compare two integers; print both operands on failure. */
#define CHECK_EQ(a, b) do { \
	long long _a = (long long)(a), _b = (long long)(b); \
	if (_a != _b) t_fail("CHECK_EQ(%s, %s): %lld != %lld", #a, #b, _a, _b); \
} while (0)
#define CHECK(cond) do { if (!(cond)) t_fail("CHECK(%s) failed", #cond); } while (0)
/* Fatal: stop the test now. */
#define REQUIRE(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: REQUIRE(%s) failed (errno %d)\n", __FILE__, __LINE__, #cond, errno); \
	exit(T_FAIL); } } while (0)

static inline int t_done(void)
{
	if (t_failures)
		fprintf(stderr, "%d check(s) failed\n", t_failures);
	return t_failures ? T_FAIL : T_PASS;
}

static inline void t_skip(const char *why)
{
	printf("skipped: %s\n", why);
	exit(T_SKIP);
}

static inline const char *t_executor(void)
{
	const char *e = getenv("UAIO_EXECUTOR");
	return e && *e ? e : "threads";
}

/* Setup on the executor under test. */
static inline int t_setup_flags(unsigned nr, aio_context_t *ctx, unsigned flags)
{
	struct uaio_params p;
	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.flags = flags;
	return uaio_setup_params(nr, &p, ctx);
}

static inline int t_setup(unsigned nr, aio_context_t *ctx)
{
	return t_setup_flags(nr, ctx, 0);
}

/* A scratch file of `size` bytes filled with a position-derived pattern,
 * unlinked at once.  Directory: $TMPDIR or /var/tmp (a real file system:
 * O_DIRECT is refused on tmpfs). */
static inline unsigned char t_pattern(uint64_t off)
{
	return (unsigned char)((off * 2654435761u) >> 13);
}

static inline int t_tmpfile(size_t size, int flags)
{
	const char *d = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/uaio-test-XXXXXX", d && *d ? d : "/var/tmp");
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	unlink(path);
	static unsigned char buf[1 << 16];
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = t_pattern(off + i);
		REQUIRE(pwrite(fd, buf, n, (off_t)off) == (ssize_t)n);
	}
	if (flags) {
		char p2[64];
		snprintf(p2, sizeof(p2), "/proc/self/fd/%d", fd);
		int fd2 = open(p2, flags);
		REQUIRE(fd2 >= 0);
		close(fd);
		fd = fd2;
	}
	return fd;
}

/* ---- the kernel's AIO through raw system calls ---- */
static inline int k_setup(unsigned nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx) < 0 ? -errno : 0;
}
static inline int k_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx) < 0 ? -errno : 0;
}
static inline int k_submit(aio_context_t ctx, long nr, struct iocb **v)
{
	long r = syscall(SYS_io_submit, ctx, nr, v);
	return r < 0 ? -errno : (int)r;
}
static inline int k_cancel(aio_context_t ctx, struct iocb *cb, struct io_event *ev)
{
	return syscall(SYS_io_cancel, ctx, cb, ev) < 0 ? -errno : 0;
}
/* The kernel's io_getevents answers -EINTR whenever TIF_NOTIFY_SIGNAL is
 * set, and io_uring sets it on a thread that submitted to a ring when that
 * ring has task work for it: a test that ran a case on uaio's io_uring
 * executor just before the kernel's case sees spurious -EINTRs.  The
 * kernel side retries them unless the test is about -EINTR (it sets
 * t_want_eintr); the timeout is a safety net, restarting it is harmless. */
static int t_want_eintr;
static inline int k_getevents(aio_context_t ctx, long min_nr, long nr,
			      struct io_event *ev, struct timespec *ts)
{
	long r;

	do
		r = syscall(SYS_io_getevents, ctx, min_nr, nr, ev, ts);
	while (r < 0 && errno == EINTR && !t_want_eintr);
	return r < 0 ? -errno : (int)r;
}
static inline int k_pgetevents(aio_context_t ctx, long min_nr, long nr,
			       struct io_event *ev, struct timespec *ts,
			       const sigset_t *mask)
{
	struct { const sigset_t *m; size_t sz; } s = { mask, 8 };
	long r;

	do
		r = syscall(SYS_io_pgetevents, ctx, min_nr, nr, ev, ts, mask ? &s : NULL);
	while (r < 0 && errno == EINTR && !t_want_eintr);
	return r < 0 ? -errno : (int)r;
}

/* Is the kernel's AIO usable here (it may be disabled)? */
static inline int k_available(void)
{
	aio_context_t c = 0;
	if (k_setup(1, &c) != 0)
		return 0;
	k_destroy(c);
	return 1;
}

struct t_api {
	const char *name;
	int (*setup)(unsigned, aio_context_t *);
	int (*destroy)(aio_context_t);
	int (*submit)(aio_context_t, long, struct iocb **);
	int (*cancel)(aio_context_t, struct iocb *, struct io_event *);
	int (*getevents)(aio_context_t, long, long, struct io_event *, struct timespec *);
	int (*pgetevents)(aio_context_t, long, long, struct io_event *, struct timespec *,
			  const sigset_t *);
};

static inline int t_uaio_setup(unsigned nr, aio_context_t *ctx) { return t_setup(nr, ctx); }

static const struct t_api t_kernel = {
	"kernel", k_setup, k_destroy, k_submit, k_cancel, k_getevents, k_pgetevents,
};
static const struct t_api t_uaio = {
	"uaio", t_uaio_setup, uaio_destroy, uaio_submit, uaio_cancel, uaio_getevents,
	uaio_pgetevents,
};

/* One context per API for a whole table-driven run: the kernel's
 * io_destroy waits for an RCU grace period, too slow to pay per case. */
static inline aio_context_t *t_shared_ctxs(void)
{
	static aio_context_t c[2];
	return c;
}

static inline aio_context_t ctx_for(const struct t_api *a)
{
	aio_context_t *c = t_shared_ctxs();
	int i = a == &t_uaio;

	if (!c[i])
		REQUIRE(a->setup(8, &c[i]) == 0);
	return c[i];
}

static inline void ctx_release(void)
{
	aio_context_t *c = t_shared_ctxs();

	if (c[0])
		CHECK_EQ(t_kernel.destroy(c[0]), 0);
	if (c[1])
		CHECK_EQ(t_uaio.destroy(c[1]), 0);
	c[0] = c[1] = 0;
}

/* Running under valgrind?  Its preload library is in LD_PRELOAD.  Tests
 * then leave out kernel calls with deliberately bad pointers, which
 * valgrind itself reports. */
static inline int t_under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && (strstr(p, "vgpreload") || strstr(p, "valgrind"));
}

/* Wait for exactly one event with a 10 s safety timeout. */
static inline int t_wait1(const struct t_api *a, aio_context_t ctx, struct io_event *ev)
{
	/* A safety net, not a timing check: generous for a loaded machine. */
	struct timespec ts = { 60, 0 };
	return a->getevents(ctx, 1, 1, ev, &ts);
}

/* Number of threads in this process. */
static inline int t_thread_count(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int n = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Runs fn(arg) in a forked child that then exits 0, or 1 if a check
 * failed in it; returns the child's wait status. */
static inline int t_fork_run(void (*fn)(void *), void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		fn(arg);
		_exit(t_failures ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return st;
}

static inline void t_exec_self(void *env)
{
	char *argv[] = { (char *)"t_rerun", NULL };

	putenv((char *)env);
	execv("/proc/self/exe", argv);
	_exit(127);
}

/* Runs this test program again, in a child with var=value in its
 * environment (a per-process mode, such as UAIO_UACCESS, read once);
 * the child's verdict counts as one check here. */
static inline void t_rerun_with(const char *var, const char *value)
{
	char env[256];
	int st;

	snprintf(env, sizeof(env), "%s=%s", var, value);
	st = t_fork_run(t_exec_self, env);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		t_fail("with %s: status 0x%x", env, st);
}

#endif /* UAIO_T_H */
