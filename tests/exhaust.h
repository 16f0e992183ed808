/* SPDX-License-Identifier: MIT */
/* exhaust.h - helpers shared by the exhaust_* tests: seccomp filters that
 * make thread creation or uaio's ring mappings fail, descriptor
 * exhaustion through RLIMIT_NOFILE, children and event collection. */
#ifndef UAIO_EXHAUST_H
#define UAIO_EXHAUST_H

#include "t.h"
#include <dirent.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#if defined(__x86_64__)
#define X_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define X_ARCH AUDIT_ARCH_AARCH64
#endif

#define X_LD(field) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, field))
#define X_ARG_LO(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]))
#define X_ARG_HI(i) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[i]) + 4)
#define X_ERRNO(e) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((e) & SECCOMP_RET_DATA))
#define X_ALLOW BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

/* The seccomp and rlimit tricks need the process to itself: valgrind
 * emulates clone and keeps descriptors and mappings of its own. */
static inline void x_skip_under_valgrind(void)
{
	if (t_under_valgrind())
		t_skip("valgrind refuses seccomp filters and RLIMIT_NOFILE changes (it keeps descriptors of its own)");
}

static inline void x_install(struct sock_filter *f, unsigned short n, bool all_threads)
{
	struct sock_fprog prog = { n, f };

	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
		    all_threads ? SECCOMP_FILTER_FLAG_TSYNC : 0, &prog) != 0)
		t_skip("seccomp filters unavailable");
}

#ifdef X_ARCH
/* Every thread of the process: clone3 -> ENOSYS (glibc falls back to
 * clone), clone with CLONE_THREAD -> EAGAIN, as RLIMIT_NPROC would. */
static inline void x_deny_threads(void)
{
	struct sock_filter f[] = {
		X_LD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X_ARCH, 1, 0),
		X_ALLOW,
		X_LD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
		X_ERRNO(ENOSYS),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 1, 0),
		X_ALLOW,
		X_ARG_LO(0),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1),
		X_ERRNO(EAGAIN),
		X_ALLOW,
	};

	x_install(f, sizeof(f) / sizeof(f[0]), true);
}

/* The calling thread only: mmap of exactly `len` bytes, or with flags
 * exactly `flags`, fails with ENOMEM (0 matches nothing). */
static inline void x_deny_mmap(unsigned long len, unsigned flags)
{
	struct sock_filter f[] = {
		X_LD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X_ARCH, 1, 0),
		X_ALLOW,
		X_LD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 1, 0),
		X_ALLOW,
		X_ARG_HI(1),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)(len >> 32), 0, 3),
		X_ARG_LO(1),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)len, 0, 1),
		X_ERRNO(ENOMEM),
		X_ARG_LO(3),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, flags ? flags : 0xffffffffu, 0, 1),
		X_ERRNO(ENOMEM),
		X_ALLOW,
	};

	x_install(f, sizeof(f) / sizeof(f[0]), false);
}

/* The calling thread only: mapping one more view of shared memory fails
 * with ENOMEM: mmap with flags exactly MAP_SHARED | MAP_FIXED (a file's
 * pages at a chosen address) and mremap with an old length of 0 (a
 * duplicate of a shared mapping). */
static inline void x_deny_shared_views(void)
{
	struct sock_filter f[] = {
		X_LD(arch),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, X_ARCH, 1, 0),
		X_ALLOW,
		X_LD(nr),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mremap, 1, 0),
		X_ALLOW,
		X_ARG_LO(1),	/* mremap's old length (low half: ours are small) */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 3),
		X_ARG_LO(3),	/* mmap's flags */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, MAP_SHARED | MAP_FIXED, 0, 1),
		X_ERRNO(ENOMEM),
		X_ALLOW,
	};

	x_install(f, sizeof(f) / sizeof(f[0]), false);
}
#else
static inline void x_deny_threads(void) { t_skip("no seccomp arch constant for this target"); }
static inline void x_deny_shared_views(void) { t_skip("no seccomp arch constant for this target"); }
static inline void x_deny_mmap(unsigned long len, unsigned flags)
{
	(void)len;
	(void)flags;
	t_skip("no seccomp arch constant for this target");
}
#endif

/* Open descriptors of this process (the directory's own not counted). */
static inline int x_fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* Descriptor exhaustion: RLIMIT_NOFILE lowered to the lowest free
 * descriptor, so that none below the limit is free.  Descriptors above it
 * (uaio keeps its own high, where programs do not count) stay open. */
struct x_nofile {
	struct rlimit old;
	int fill[1024];
	int nfill;
};

static inline void x_fds_exhaust(struct x_nofile *x)
{
	struct rlimit r;
	int low = 0, fd;

	while (fcntl(low, F_GETFD) >= 0)
		low++;
	REQUIRE(getrlimit(RLIMIT_NOFILE, &x->old) == 0);
	r = x->old;
	r.rlim_cur = (rlim_t)low;
	REQUIRE(setrlimit(RLIMIT_NOFILE, &r) == 0);
	x->nfill = 0;
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0) {
		REQUIRE(x->nfill < 1024);
		x->fill[x->nfill++] = fd;
	}
	REQUIRE(errno == EMFILE);
	REQUIRE(eventfd(0, 0) < 0 && errno == EMFILE);
}

static inline void x_fds_restore(struct x_nofile *x)
{
	while (x->nfill)
		close(x->fill[--x->nfill]);
	REQUIRE(setrlimit(RLIMIT_NOFILE, &x->old) == 0);
}

/* Runs fn in a forked child; returns its exit status (T_PASS, T_FAIL,
 * T_SKIP; a signal counts as a failure). */
static inline int x_child(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	REQUIRE(pid >= 0);
	if (pid == 0)
		exit(fn());
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		fprintf(stderr, "child killed by signal %d\n", WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : T_FAIL;
}

/* Collects exactly n events for the iocbs cbs[0..n) (in any order): each
 * exactly once, with res[i] where res is given; then checks that no
 * further event comes. */
static inline void x_collect(aio_context_t ctx, struct iocb *cbs, const int64_t *res, int n)
{
	struct io_event ev[256];
	struct timespec ts = { 60, 0 }, zero = { 0, 0 };
	unsigned char seen[256] = { 0 };
	int got = 0, r;

	REQUIRE(n <= 256);
	while (got < n) {
		r = uaio_getevents(ctx, 1, n - got, ev, &ts);
		if (r <= 0) {
			t_fail("getevents: %d after %d of %d events", r, got, n);
			return;
		}
		for (int i = 0; i < r; i++) {
			long k = (long)((struct iocb *)(uintptr_t)ev[i].obj - cbs);

			if (k < 0 || k >= n || seen[k]++) {
				t_fail("unexpected or repeated event obj %#llx", (unsigned long long)ev[i].obj);
				continue;
			}
			CHECK_EQ(ev[i].data, cbs[k].aio_data);
			if (res)
				CHECK_EQ(ev[i].res, res[k]);
		}
		got += r;
	}
	CHECK_EQ(uaio_getevents(ctx, 0, 1, ev, &zero), 0);
}

static inline void x_prep(struct iocb *cb, int op, int fd, void *buf, size_t len, long long off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = (uint16_t)op;
	cb->aio_fildes = (uint32_t)fd;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_data = (uint64_t)(uintptr_t)cb ^ 0x5a5aULL;
}

static inline void x_resfd(struct iocb *cb, int efd)
{
	cb->aio_flags |= IOCB_FLAG_RESFD;
	cb->aio_resfd = (uint32_t)efd;
}

/* Setup with an executor named explicitly (t_setup's choice otherwise). */
static inline int x_setup(unsigned nr, aio_context_t *ctx)
{
	*ctx = 0;
	return t_setup(nr, ctx);
}
#endif
