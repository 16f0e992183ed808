/* Issue 16 (SPEC §2 submit: -EAGAIN only for a full ring; §3 executors): when no thread can be created (RLIMIT_NPROC 0 after setuid(nobody), or clone refused by seccomp), before any uaio thread exists or after they all do, an O_DSYNC write, a buffered write, a cold read, an fsync, a batch of them, pipe reads (with data, and without: a blocking wait until another process writes) and destroy give the kernel's answers; the kernel's AIO is run alongside as the expectation. */
#include "exhaust.h"
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>

#define BS 4096
#define NANS 32

enum limit { BY_NPROC, BY_SECCOMP };

/* Answers of one run, written by the child into shared memory. */
struct answers {
	int n;
	long long v[NANS];
	const char *what[NANS];
	int skip;
};

static struct answers *ans;

static void note(const char *what, long long v)
{
	if (ans->n < NANS) {
		ans->what[ans->n] = what;
		ans->v[ans->n++] = v;
	}
}

static void *noop(void *arg)
{
	return arg;
}

/* Thread creation fails from now on; false if this cannot be arranged. */
static bool deny_threads(enum limit how)
{
	struct rlimit zero = { 0, 0 };
	pthread_t t;
	int r;

	if (how == BY_SECCOMP) {
		x_deny_threads();
	} else {
		struct passwd *pw = getpwnam("nobody");
		uid_t uid = pw ? pw->pw_uid : 65534;
		gid_t gid = pw ? pw->pw_gid : 65534;

		REQUIRE(setrlimit(RLIMIT_NPROC, &zero) == 0);
		REQUIRE(setgroups(0, NULL) == 0 && setresgid(gid, gid, gid) == 0 &&
			setresuid(uid, uid, uid) == 0);
	}
	r = pthread_create(&t, NULL, noop, NULL);
	if (r == 0)
		pthread_join(t, NULL);
	return r == EAGAIN;
}

/* Submits one iocb; notes submit's answer and the event's res. */
static void one(const struct t_api *a, aio_context_t ctx, struct iocb *cb, const char *what)
{
	struct iocb *v[1] = { cb };
	struct io_event ev;
	int r = a->submit(ctx, 1, v);

	note(what, r);
	if (r != 1)
		return;
	r = t_wait1(a, ctx, &ev);
	note(what, r == 1 ? ev.res : -1000 + r);
	if (r == 1 && ev.obj != (uint64_t)(uintptr_t)cb)
		note("wrong obj", 1);
}

/* A helper process, forked before threads (and processes) are denied:
 * for each byte it reads from go, 200 ms later, it writes one byte to
 * wfd ('w') or sends SIGUSR1 to its parent ('s'). */
static pid_t helper(const int go[2], int wfd)
{
	pid_t parent = getpid(), pid = fork();
	char c;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(go[1]);
		while (read(go[0], &c, 1) == 1) {
			usleep(200000);
			if (c == 's')
				kill(parent, SIGUSR1);
			else if (write(wfd, "w", 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	return pid;
}

static void on_usr1(int sig)
{
	(void)sig;
}

/* The whole case on API a: setup, perhaps a first round that starts
 * uaio's threads (warm), then threads denied, then the requests. */
static void run_case(const struct t_api *a, enum limit how, bool warm)
{
	static char buf[BS] __attribute__((aligned(4096))), back[BS];
	struct iocb cb[2], *v[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	long long res[2];
	int dfd = t_tmpfile(65536, O_RDWR | O_DSYNC), fd = t_tmpfile(65536, 0), p[2], go[2];
	aio_context_t ctx = 0;
	pid_t w;

	REQUIRE(pipe(p) == 0 && pipe(go) == 0);
	w = helper(go, p[1]);
	close(go[0]);
	REQUIRE(a->setup(64, &ctx) == 0);
	memset(buf, 'd', sizeof(buf));
	if (warm) {	/* a worker (or the ring) and the poller start */
		x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
		x_prep(&cb[1], IOCB_CMD_POLL, p[0], NULL, 0, 0);
		cb[1].aio_buf = POLLIN;
		REQUIRE(a->submit(ctx, 2, v) == 2);
		REQUIRE(write(p[1], "x", 1) == 1);
		for (int got = 0; got < 2;) {
			int r = t_wait1(a, ctx, ev);

			REQUIRE(r == 1);
			got += r;
		}
		REQUIRE(read(p[0], back, 1) == 1);
	}
	if (!deny_threads(how)) {
		ans->skip = 1;
		return;
	}
	x_prep(&cb[0], IOCB_CMD_PWRITE, dfd, buf, BS, 0);
	one(a, ctx, &cb[0], "O_DSYNC write");
	x_prep(&cb[0], IOCB_CMD_PWRITE, fd, buf, BS, BS);
	one(a, ctx, &cb[0], "buffered write");
	x_prep(&cb[0], IOCB_CMD_FSYNC, fd, NULL, 0, 0);
	one(a, ctx, &cb[0], "fsync");
	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	x_prep(&cb[0], IOCB_CMD_PREAD, fd, back, BS, BS);
	one(a, ctx, &cb[0], "cold read");
	note("cold read data", memcmp(back, buf, BS));
	/* a batch: an O_DSYNC write and an fdatasync */
	x_prep(&cb[0], IOCB_CMD_PWRITE, dfd, buf, BS, 2 * BS);
	x_prep(&cb[1], IOCB_CMD_FDSYNC, fd, NULL, 0, 0);
	note("batch submit", a->submit(ctx, 2, v));
	res[0] = res[1] = -1000;
	for (int got = 0, r; got < 2; got += r) {
		struct timespec ts = { 60, 0 };

		r = a->getevents(ctx, 1, 2 - got, ev, &ts);
		if (r <= 0) {
			note("batch getevents", r);
			break;
		}
		for (int i = 0; i < r; i++)	/* in either order */
			res[ev[i].obj != (uint64_t)(uintptr_t)&cb[0]] = ev[i].res;
	}
	note("batch write", res[0]);
	note("batch fdatasync", res[1]);
	/* a pipe read with data waiting */
	REQUIRE(write(p[1], "ab", 2) == 2);
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], back, 2, 0);
	one(a, ctx, &cb[0], "pipe read, data");
	/* a pipe read without data: the kernel blocks in io_submit until
	 * the writer process writes */
	REQUIRE(write(go[1], "g", 1) == 1);
	x_prep(&cb[0], IOCB_CMD_PREAD, p[0], back, 8, 0);
	one(a, ctx, &cb[0], "pipe read, written later");
	if (!warm) {	/* blocked in submit, a signal handler runs: -EINTR */
		struct sigaction sa = { .sa_handler = on_usr1 };	/* no SA_RESTART */

		REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
		REQUIRE(write(go[1], "s", 1) == 1);
		one(a, ctx, &cb[0], "pipe read, interrupted");
	}
	close(go[1]);	/* the helper leaves */
	note("destroy", a->destroy(ctx));
	if (a == &t_uaio) {
		struct uaio_stats st;

		REQUIRE(uaio_stats(0, &st) == 0);
		/* Cold, nothing but the submitter can run them; warm, the
		 * threads that exist do. */
		note("no_thread > 0", st.no_thread > 0);
	}
	REQUIRE(waitpid(w, NULL, 0) == w);
	close(dfd);
	close(fd);
}

static enum limit g_how;
static bool g_warm;
static const struct t_api *g_api;

static int child(void)
{
	alarm(60);	/* a hang is a failure */
	run_case(g_api, g_how, g_warm);
	/* _exit: LeakSanitizer needs a thread of its own to look at the heap */
	fflush(NULL);
	_exit(ans->skip ? T_SKIP : T_PASS);
}

/* Runs the case on the kernel and on uaio; true if it ran. */
static bool compare(enum limit how, bool warm, const char *name)
{
	struct answers k = { 0 };
	int r;

	g_how = how;
	g_warm = warm;
	for (int i = 0; i < 2; i++) {
		g_api = i ? &t_uaio : &t_kernel;
		memset(ans, 0, sizeof(*ans));
		fflush(NULL);	/* the child's exit must not print our buffer again */
		r = x_child(child);
		if (r == T_SKIP || ans->skip) {
			printf("%s: thread creation could not be denied here\n", name);
			return false;
		}
		if (r != T_PASS) {
			t_fail("%s on %s: child exit %d", name, g_api->name, r);
			return true;
		}
		if (!i)
			k = *ans;
	}
	/* the kernel's answers, then one more: uaio's statistics */
	CHECK_EQ(ans->n, k.n + 1);
	for (int i = 0; i < k.n && i < ans->n; i++)
		if (ans->v[i] != k.v[i])
			t_fail("%s, %s: kernel %lld, uaio [%s] %lld", name, k.what[i], k.v[i], t_executor(),
			       ans->v[i]);
	if (!warm && ans->n == k.n + 1 && !ans->v[k.n])
		t_fail("%s: no request counted in uaio_stats.no_thread", name);
	printf("%s: %d answers as the kernel's\n", name, k.n);
	return true;
}

int main(void)
{
	bool ran = false;

	x_skip_under_valgrind();
	if (!k_available())
		t_skip("kernel AIO unavailable: no expectation to compare with");
	setenv("UAIO_IDLE_MS", "600000", 1);	/* warm workers stay for the case */
	ans = mmap(NULL, sizeof(*ans), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(ans != MAP_FAILED);
	if (geteuid() == 0) {
		ran |= compare(BY_NPROC, false, "RLIMIT_NPROC 0 + setuid(nobody), cold");
		ran |= compare(BY_NPROC, true, "RLIMIT_NPROC 0 + setuid(nobody), warm");
	} else {
		printf("not root: the RLIMIT_NPROC cases are skipped\n");
	}
	ran |= compare(BY_SECCOMP, false, "clone refused by seccomp, cold");
	ran |= compare(BY_SECCOMP, true, "clone refused by seccomp, warm");
	if (!ran)
		t_skip("thread creation could not be denied");
	return t_done();
}
