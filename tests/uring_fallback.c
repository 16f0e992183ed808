/* SPEC §3 executors: where io_uring_setup fails with EPERM (a seccomp profile like Docker's default), "auto" silently picks the threads executor, which then does the core work correctly (file write/read, pipe, POLL, cancel, getevents); forcing "uring" gives setup a clean -EPERM. */
#include "t.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>

#if defined(__x86_64__)
#define T_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define T_ARCH AUDIT_ARCH_AARCH64
#endif

/* io_uring_setup -> EPERM, everything else allowed. */
static void deny_io_uring(void)
{
#ifdef T_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, T_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
		t_skip("seccomp filters unavailable");
	/* the filter works: the raw call is refused */
	{
		char params[120] = { 0 };	/* struct io_uring_params */

		REQUIRE(syscall(__NR_io_uring_setup, 1, params) < 0 && errno == EPERM);
	}
#else
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

int main(void)
{
	aio_context_t ctx = 0;

	deny_io_uring();

	/* auto, named and from an unset environment: threads */
	REQUIRE(setup_with("auto", &ctx) == 0);
	CHECK(strcmp(uaio_executor_name(ctx), "threads") == 0);
	core_cases(ctx);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;
	unsetenv("UAIO_EXECUTOR");
	REQUIRE(uaio_setup(8, &ctx) == 0);
	CHECK(strcmp(uaio_executor_name(ctx), "threads") == 0);
	core_cases(ctx);
	CHECK_EQ(uaio_destroy(ctx), 0);

	/* forcing uring: a clean -EPERM, *ctxp untouched */
	ctx = 0;
	CHECK_EQ(setup_with("uring", &ctx), -EPERM);
	CHECK_EQ(ctx, 0);
	setenv("UAIO_EXECUTOR", "uring", 1);
	CHECK_EQ(uaio_setup(8, &ctx), -EPERM);
	CHECK_EQ(ctx, 0);
	return t_done();
}
