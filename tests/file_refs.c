/* SPEC §2 submit, issue 12: a request holds its file from submit until its event is posted.  Eight 1 MiB writes (buffered done in submit, buffered offloaded, O_DSYNC, O_DIRECT, delayed by fault injection), eight cold-cache 1 MiB reads, and a pipe read, each submitted, then the descriptor closed at once, and (second variant) another file opened on the same number before the events are reaped, and an RWF_DSYNC write submitted on it: every byte of the first requests goes to (comes from) the first file, on the kernel and on uaio alike; the other file gets its own write only.  Also: uaio's own references sit high (the next open gets the number it would get without them), and a forked child does not inherit them. */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#define N 8
#define MB (1u << 20)

static unsigned char *wbuf, *rbuf;	/* N MiB each, 4 KiB aligned */
static unsigned char second[4096];	/* the write on the file opened in the first's place */

static char *tmpdir(void)
{
	const char *d = getenv("TMPDIR");
	return (char *)(d && *d ? d : "/var/tmp");
}

/* A file with a path (reopened to check what landed), N MiB of pattern or
 * empty. */
static int make_file(char *path, size_t pathsz, bool fill)
{
	int fd;

	snprintf(path, pathsz, "%s/uaio-refs-XXXXXX", tmpdir());
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	if (fill) {
		for (size_t i = 0; i < (size_t)N * MB; i++)
			rbuf[i] = t_pattern(i);
		REQUIRE(pwrite(fd, rbuf, (size_t)N * MB, 0) == (ssize_t)N * MB);
		REQUIRE(fsync(fd) == 0);
	}
	return fd;
}

enum kind { W_BUF, W_BUF_ASYNC, W_DSYNC, W_DIRECT, W_DELAYED, R_COLD, NKIND };
static const char *const kind_name[] = { "buffered write", "buffered write (offloaded)",
					 "O_DSYNC write", "O_DIRECT write",
					 "write delayed 20 ms", "cold read" };

static int setup_for(const struct t_api *a, enum kind k, aio_context_t *ctx)
{
	struct uaio_params p;

	if (a == &t_kernel)
		return a->setup(32, ctx);
	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.flags = k == W_BUF_ASYNC ? UAIO_F_ASYNC_WRITES : 0;
	p.faults = k == W_DELAYED ? "op=write:delay=20ms" : "";
	return uaio_setup_params(32, &p, ctx);
}

/* One case; returns false if the file system refused (O_DIRECT on tmpfs). */
static bool file_case(const struct t_api *a, enum kind k, bool reopen)
{
	char pa[4096], pb[4096];
	struct iocb cbs[N + 1], *v[N + 1];
	struct io_event ev[N + 1];
	aio_context_t ctx = 0;
	int fd, fdb = -1, check, flags = O_RDWR, got = 0, want = N;
	bool rd = k == R_COLD;
	struct stat st;

	fd = make_file(pa, sizeof(pa), rd);
	close(fd);
	if (k == W_DSYNC)
		flags |= O_DSYNC;
	if (k == W_DIRECT)
		flags |= O_DIRECT;
	fd = open(pa, flags);
	if (fd < 0 && k == W_DIRECT) {
		unlink(pa);
		return false;
	}
	REQUIRE(fd >= 0);
	if (rd) {
		REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		memset(rbuf, 0, (size_t)N * MB);
	}
	for (size_t i = 0; i < (size_t)N * MB; i++)
		wbuf[i] = (unsigned char)(t_pattern(i) ^ 0x5c);
	REQUIRE(setup_for(a, k, &ctx) == 0);
	for (int i = 0; i < N; i++) {
		memset(&cbs[i], 0, sizeof(cbs[i]));
		cbs[i].aio_lio_opcode = rd ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE;
		cbs[i].aio_fildes = (uint32_t)fd;
		cbs[i].aio_buf = (uint64_t)(uintptr_t)((rd ? rbuf : wbuf) + (size_t)i * MB);
		cbs[i].aio_nbytes = MB;
		cbs[i].aio_offset = (long long)i * MB;
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	CHECK_EQ(a->submit(ctx, N, v), N);
	CHECK_EQ(close(fd), 0);
	if (reopen) {
		fdb = make_file(pb, sizeof(pb), false);
		CHECK_EQ(fdb, fd);	/* the number is free again: the program's own */
		/* A request on the new file while the first file's are still in
		 * flight goes to the new file: uaio's duplicate of the first
		 * (shared by later calls on the same number while in use) is
		 * not this descriptor's any more.  RWF_DSYNC: never done inside
		 * submit, so it takes a reference of its own. */
		memset(&cbs[N], 0, sizeof(cbs[N]));
		cbs[N].aio_lio_opcode = IOCB_CMD_PWRITE;
		cbs[N].aio_fildes = (uint32_t)fdb;
		cbs[N].aio_buf = (uint64_t)(uintptr_t)second;
		cbs[N].aio_nbytes = sizeof(second);
		cbs[N].aio_rw_flags = RWF_DSYNC;
		cbs[N].aio_data = N;
		v[N] = &cbs[N];
		memset(second, 0xb7, sizeof(second));
		CHECK_EQ(a->submit(ctx, 1, &v[N]), 1);
		want = N + 1;
	}
	while (got < want) {
		struct timespec ts = { 60, 0 };
		int r = a->getevents(ctx, 1, want - got, ev, &ts);

		if (r <= 0) {
			t_fail("%s %s: getevents %d after %d", a->name, kind_name[k], r, got);
			break;
		}
		for (int i = 0; i < r; i++)
			if (ev[i].res != (ev[i].data == N ? (int64_t)sizeof(second) : (int64_t)MB))
				t_fail("%s %s%s: event %llu res %lld", a->name, kind_name[k],
				       reopen ? " (reopened)" : "", (unsigned long long)ev[i].data,
				       (long long)ev[i].res);
		got += r;
	}
	CHECK_EQ(a->destroy(ctx), 0);
	if (rd) {
		for (size_t i = 0; i < (size_t)N * MB; i++)
			if (rbuf[i] != t_pattern(i)) {
				t_fail("%s %s: byte %zu not the first file's", a->name, kind_name[k], i);
				break;
			}
	} else {
		check = open(pa, O_RDONLY);
		REQUIRE(check >= 0);
		if (pread(check, rbuf, (size_t)N * MB, 0) != (ssize_t)N * MB ||
		    memcmp(rbuf, wbuf, (size_t)N * MB))
			t_fail("%s %s%s: the first file lacks the data", a->name, kind_name[k],
			       reopen ? " (reopened)" : "");
		close(check);
	}
	if (reopen) {
		unsigned char got2[sizeof(second)];

		REQUIRE(fstat(fdb, &st) == 0);
		if (st.st_size != (off_t)sizeof(second) ||
		    pread(fdb, got2, sizeof(got2), 0) != (ssize_t)sizeof(got2) ||
		    memcmp(got2, second, sizeof(second)))
			t_fail("%s %s: the other file has %lld bytes, not its own write's %zu",
			       a->name, kind_name[k], (long long)st.st_size, sizeof(second));
		close(fdb);
		unlink(pb);
	}
	unlink(pa);
	return true;
}

/* ---- a pipe read: the kernel blocks in io_submit until data comes ---- */

struct piper {
	const struct t_api *a;
	aio_context_t ctx;
	struct iocb cb;
	char buf[16];
	int ret;
	pid_t tid;
	_Atomic int entered;
};

static void *submit_thread(void *arg)
{
	struct piper *p = arg;
	struct iocb *v = &p->cb;

	p->tid = (pid_t)syscall(SYS_gettid);
	atomic_store(&p->entered, 1);
	p->ret = p->a->submit(p->ctx, 1, &v);
	return NULL;
}

/* True once thread tid sleeps inside io_submit (it holds the file then). */
static bool blocked_in_submit(pid_t tid)
{
	char path[128], line[256];
	FILE *f;
	long nr = -1;
	char state = 0;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if (!(f = fopen(path, "re")))
		return false;
	if (!fgets(line, sizeof(line), f) || sscanf(line, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (!(f = fopen(path, "re")))
		return false;
	if (fgets(line, sizeof(line), f)) {
		char *e = strrchr(line, ')');
		if (e && e[1])
			state = e[2];
	}
	fclose(f);
	return nr == SYS_io_submit && state == 'S';
}

static void pipe_case(const struct t_api *a, bool reopen)
{
	struct piper p = { .a = a };
	struct io_event ev;
	pthread_t th;
	int fds[2], q[2] = { -1, -1 };
	const char *who = reopen ? " (reopened)" : "";

	REQUIRE(pipe(fds) == 0);
	REQUIRE(a->setup(8, &p.ctx) == 0);
	memset(&p.cb, 0, sizeof(p.cb));
	p.cb.aio_lio_opcode = IOCB_CMD_PREAD;
	p.cb.aio_fildes = (uint32_t)fds[0];
	p.cb.aio_buf = (uint64_t)(uintptr_t)p.buf;
	p.cb.aio_nbytes = sizeof(p.buf);
	p.cb.aio_data = 42;
	REQUIRE(pthread_create(&th, NULL, submit_thread, &p) == 0);
	if (a == &t_kernel) {
		while (!atomic_load(&p.entered))	/* seq_cst: p.tid is written before */
			usleep(1000);
		for (int i = 0; i < 6000 && !blocked_in_submit(p.tid); i++)
			usleep(1000);
	} else {
		pthread_join(th, NULL);
		CHECK_EQ(p.ret, 1);
	}
	CHECK_EQ(close(fds[0]), 0);
	if (reopen) {
		REQUIRE(pipe(q) == 0);
		CHECK_EQ(q[0], fds[0]);
	}
	/* The read end is still open (the request holds it): no EPIPE. */
	CHECK_EQ(write(fds[1], "held", 4), 4);
	if (a == &t_kernel) {
		pthread_join(th, NULL);
		CHECK_EQ(p.ret, 1);
	}
	if (t_wait1(a, p.ctx, &ev) != 1) {
		t_fail("%s pipe read%s: no event", a->name, who);
	} else {
		CHECK_EQ(ev.data, 42);
		if (ev.res != 4 || memcmp(p.buf, "held", 4))
			t_fail("%s pipe read%s: res %lld", a->name, who, (long long)ev.res);
	}
	/* Once the event is posted the reference is gone: the writer sees
	 * the reader leave. */
	CHECK_EQ(a->destroy(p.ctx), 0);
	CHECK_EQ(write(fds[1], "x", 1), -1);
	CHECK_EQ(errno, EPIPE);
	close(fds[1]);
	if (reopen) {
		char c;
		int fl = fcntl(q[0], F_GETFL);

		fcntl(q[0], F_SETFL, fl | O_NONBLOCK);
		CHECK_EQ(read(q[0], &c, 1), -1);	/* nothing went to the new pipe */
		CHECK_EQ(errno, EAGAIN);
		close(q[0]);
		close(q[1]);
	}
}

/* How many of this process's descriptors name the same thing as fd. */
static int count_links(int fd)
{
	char path[300], want[256], link[256];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	ssize_t n;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, want, sizeof(want) - 1);
	REQUIRE(n > 0 && d);
	want[n] = 0;
	while ((e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			count += !strcmp(link, want);
		}
	}
	closedir(d);
	return count;
}

static void child_counts(void *arg)
{
	int *w = arg;

	CHECK_EQ(count_links(*w), 1);	/* the write end only: no reference of uaio's */
}

/* uaio's references: high numbers, and not inherited by a child. */
static void placement_and_fork(void)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v = &cb;
	struct io_event ev;
	char c;
	int fds[2], probe, next, st;

	REQUIRE(pipe(fds) == 0);
	probe = open("/dev/null", O_RDONLY);
	REQUIRE(probe >= 0);
	close(probe);
	REQUIRE(t_setup(8, &ctx) == 0);
	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = (uint32_t)fds[0];
	cb.aio_buf = (uint64_t)(uintptr_t)&c;
	cb.aio_nbytes = 1;
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	next = open("/dev/null", O_RDONLY);
	CHECK_EQ(next, probe);	/* the pending read's reference is out of the way */
	close(next);
	CHECK_EQ(close(fds[0]), 0);
	CHECK_EQ(count_links(fds[1]), 2);	/* the write end and the held read end */
	st = t_fork_run(child_counts, &fds[1]);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		t_fail("child inherited a reference: status %#x", st);
	CHECK_EQ(write(fds[1], "z", 1), 1);
	CHECK_EQ(t_wait1(&t_uaio, ctx, &ev), 1);
	CHECK_EQ(ev.res, 1);
	CHECK_EQ(uaio_destroy(ctx), 0);
	CHECK_EQ(count_links(fds[1]), 1);	/* dropped with the event */
	close(fds[1]);
}

/* kcmp -> EPERM, as Docker's default seccomp profile answers without
 * CAP_SYS_PTRACE: uaio then makes a duplicate per submit call instead of
 * sharing one (fref.c). */
static void deny_kcmp(void)
{
#if defined(__x86_64__)
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_kcmp, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { (unsigned short)(sizeof(f) / sizeof(f[0])), f };

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		t_skip("seccomp filters unavailable");
	REQUIRE(syscall(SYS_kcmp, getpid(), getpid(), 0, 0, 0) < 0 && errno == EPERM);
#else
	t_skip("no seccomp filter written for this architecture");
#endif
}

int main(void)
{
	const struct t_api *apis[2] = { &t_kernel, &t_uaio };
	bool no_kcmp = getenv("FILE_REFS_NO_KCMP") != NULL;

	alarm(240);	/* a hang is a failure */
	if (no_kcmp)
		deny_kcmp();
	signal(SIGPIPE, SIG_IGN);
	REQUIRE(posix_memalign((void **)&wbuf, 4096, (size_t)N * MB) == 0);
	REQUIRE(posix_memalign((void **)&rbuf, 4096, (size_t)N * MB) == 0);
	/* without kcmp, uaio only: the kernel's answers were checked by the parent */
	for (int ai = no_kcmp ? 1 : 0; ai < 2; ai++) {
		const struct t_api *a = apis[ai];

		if (a == &t_kernel && !k_available())
			continue;
		for (int k = 0; k < NKIND; k++) {
			if (a == &t_kernel && (k == W_BUF_ASYNC || k == W_DELAYED))
				continue;	/* uaio-only routes; the kernel's answer is W_BUF's */
			for (int reopen = 0; reopen < 2; reopen++)
				if (!file_case(a, (enum kind)k, reopen))
					fprintf(stderr, "%s: O_DIRECT refused in %s, case left out\n",
						a->name, tmpdir());
		}
		pipe_case(a, false);
		pipe_case(a, true);
	}
	placement_and_fork();
	free(wbuf);
	free(rbuf);
	if (!no_kcmp)
		t_rerun_with("FILE_REFS_NO_KCMP", "1");
	return t_done();
}
