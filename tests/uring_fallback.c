/* SPEC §3 executors: where io_uring_setup fails with EPERM (a seccomp profile like Docker's default), "auto" silently picks the kernel-AIO executor ("kaio"); where io_setup is refused too, the threads executor.  Each then does the core work correctly (file write/read, O_DIRECT, pipe, POLL, cancel, getevents); forcing a refused executor gives setup a clean -EPERM. */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <stdbool.h>
#include <sys/wait.h>

#if defined(__x86_64__)
#define T_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define T_ARCH AUDIT_ARCH_AARCH64
#endif

/* The system calls in nrs[] (at most 4) -> EPERM, everything else allowed. */
static void deny(const int *nrs, int n)
{
#ifdef T_ARCH
	struct sock_filter f[16];
	int k = 0;

	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, T_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	for (int i = 0; i < n; i++) {
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { (unsigned short)k, f };

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		t_skip("seccomp filters unavailable");
	/* the filter works: the raw calls are refused */
	{
		char params[120] = { 0 };	/* struct io_uring_params */
		aio_context_t c = 0;

		REQUIRE(syscall(__NR_io_uring_setup, 1, params) < 0 && errno == EPERM);
		if (n > 1)
			REQUIRE(syscall(__NR_io_setup, 1, &c) < 0 && errno == EPERM);
	}
#else
	(void)nrs;
	(void)n;
	t_skip("no seccomp arch constant for this target");
#endif
}

static int setup_with(const char *executor, aio_context_t *ctx)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = executor;
	return uaio_setup_params(8, &p, ctx);
}

static void core_cases(aio_context_t ctx)
{
	static char wbuf[8192], rbuf[8192];
	struct iocb cb[3], *v[3] = { &cb[0], &cb[1], &cb[2] };
	struct io_event ev[3];
	struct timespec ts = { 10, 0 };
	int fd = t_tmpfile(0, 0), p[2];
	char c = 0;

	/* a file: write, drop the cache, read back */
	for (size_t i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (char)t_pattern(i + 5);
	uaio_prep_pwrite(&cb[0], fd, wbuf, sizeof(wbuf), 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, ev, &ts), 1);
	CHECK_EQ(ev[0].res, sizeof(wbuf));
	REQUIRE(fsync(fd) == 0);
	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	uaio_prep_pread(&cb[0], fd, rbuf, sizeof(rbuf), 0);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, ev, &ts), 1);
	CHECK_EQ(ev[0].res, sizeof(rbuf));
	CHECK(memcmp(wbuf, rbuf, sizeof(rbuf)) == 0);

	/* a pipe read that waits, a POLL that fires, a POLL that is cancelled */
	REQUIRE(pipe(p) == 0);
	uaio_prep_pread(&cb[0], p[0], &c, 1, 0);
	cb[0].aio_data = 1;
	uaio_prep_poll(&cb[1], p[1], POLLOUT);
	cb[1].aio_data = 2;
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, ev, &ts), 1);	/* the POLLOUT, at once */
	CHECK_EQ(ev[0].data, 2);
	CHECK_EQ(ev[0].res, POLLOUT);
	REQUIRE(write(p[1], "k", 1) == 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 1);
	CHECK_EQ(ev[0].res, 1);
	CHECK_EQ(c, 'k');
	uaio_prep_poll(&cb[2], p[0], POLLIN);
	cb[2].aio_data = 3;
	CHECK_EQ(uaio_submit(ctx, 1, &v[2]), 1);
	CHECK_EQ(uaio_cancel(ctx, &cb[2], &ev[0]), -EINPROGRESS);
	CHECK_EQ(uaio_getevents(ctx, 1, 3, ev, &ts), 1);
	CHECK_EQ(ev[0].data, 3);
	CHECK_EQ(ev[0].res, 0);
	ts.tv_sec = 0;
	CHECK_EQ(uaio_getevents(ctx, 0, 3, ev, &ts), 0);
	close(p[0]);
	close(p[1]);
	close(fd);
}

/* O_DIRECT (where the file system takes it): writes and reads of whole
 * blocks, a misaligned one (the event's -EINVAL) and a short read at end
 * of file, each answered as the kernel's AIO answers. */
static void direct_cases(aio_context_t ctx)
{
	struct iocb cb[2], *v[2] = { &cb[0], &cb[1] };
	struct io_event ev[2];
	struct timespec ts = { 10, 0 };
	unsigned char *b;
	int fd = t_tmpfile(16384, 0), dfd;
	char p[64];

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	dfd = open(p, O_RDWR | O_DIRECT);
	if (dfd < 0) {
		close(fd);
		return;	/* tmpfs: no O_DIRECT to route */
	}
	REQUIRE(posix_memalign((void **)&b, 4096, 8192) == 0);
	memset(b, 0x5a, 8192);
	uaio_prep_pwrite(&cb[0], dfd, b, 4096, 4096);
	uaio_prep_pread(&cb[1], dfd, b + 4096, 4096, 12288);
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(uaio_getevents(ctx, 2, 2, ev, &ts), 2);
	CHECK_EQ(ev[0].res, 4096);
	CHECK_EQ(ev[1].res, 4096);
	CHECK(b[4096] == t_pattern(12288) && b[8191] == t_pattern(16383));
	memset(b, 0, 8192);
	uaio_prep_pread(&cb[0], dfd, b, 4096, 4096);
	CHECK_EQ(uaio_submit(ctx, 1, v), 1);
	CHECK_EQ(uaio_getevents(ctx, 1, 1, ev, &ts), 1);
	CHECK_EQ(ev[0].res, 4096);
	CHECK(b[0] == 0x5a && b[4095] == 0x5a);
	uaio_prep_pread(&cb[0], dfd, b + 1, 4096, 0);	/* misaligned buffer */
	uaio_prep_pread(&cb[1], dfd, b, 8192, 12288);	/* 4096 left before the end */
	CHECK_EQ(uaio_submit(ctx, 2, v), 2);
	CHECK_EQ(uaio_getevents(ctx, 2, 2, ev, &ts), 2);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(ev[i].res, ev[i].obj == (uint64_t)(uintptr_t)&cb[0] ? -EINVAL : 4096);
	free(b);
	close(dfd);
	close(fd);
}

static void all_cases(aio_context_t ctx)
{
	core_cases(ctx);
	direct_cases(ctx);
	CHECK_EQ(uaio_destroy(ctx), 0);
}

/* auto (named, and from an unset environment) chooses `want`, which
 * then does the core work; forcing each executor in `refused` gives a
 * clean -EPERM with *ctxp untouched. */
static void chain_case(const char *want, const char *const *refused)
{
	aio_context_t ctx = 0;

	REQUIRE(setup_with("auto", &ctx) == 0);
	CHECK(strcmp(uaio_executor_name(ctx), want) == 0);
	all_cases(ctx);
	ctx = 0;
	unsetenv("UAIO_EXECUTOR");
	REQUIRE(uaio_setup(8, &ctx) == 0);
	CHECK(strcmp(uaio_executor_name(ctx), want) == 0);
	all_cases(ctx);
	ctx = 0;
	REQUIRE(setup_with(want, &ctx) == 0);	/* forced, it works too */
	all_cases(ctx);
	for (; *refused; refused++) {
		ctx = 0;
		CHECK_EQ(setup_with(*refused, &ctx), -EPERM);
		CHECK_EQ(ctx, 0);
		setenv("UAIO_EXECUTOR", *refused, 1);
		CHECK_EQ(uaio_setup(8, &ctx), -EPERM);
		CHECK_EQ(ctx, 0);
		unsetenv("UAIO_EXECUTOR");
	}
}

/* Runs one link of the chain in a child (a seccomp filter is for good). */
static int in_child(const int *nrs, int n, const char *want, const char *const *refused)
{
	int st;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0) {
		deny(nrs, n);
		chain_case(want, refused);
		exit(t_done());
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : T_FAIL;
}

int main(void)
{
	static const int uring_only[] = { __NR_io_uring_setup };
	static const int both[] = { __NR_io_uring_setup, __NR_io_setup };
	static const char *const no_uring[] = { "uring", NULL };
	static const char *const neither[] = { "uring", "kaio", NULL };
	aio_context_t c = 0;
	bool kaio_here = k_setup(1, &c) == 0;
	int a, b;

	if (kaio_here)
		syscall(SYS_io_destroy, c);
	/* io_uring refused, kernel AIO allowed (Docker's default profile): kaio */
	a = in_child(uring_only, 1, kaio_here ? "kaio" : "threads", no_uring);
	/* both refused: threads */
	b = in_child(both, 2, "threads", neither);
	if (a == T_SKIP && b == T_SKIP)
		t_skip("seccomp filters unavailable");
	CHECK_EQ(a, T_PASS);
	CHECK_EQ(b, T_PASS);
	return t_done();
}
