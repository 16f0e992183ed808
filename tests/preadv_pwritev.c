/* SPEC §2 submit: PREADV/PWRITEV with 1, 3 and 1024 (IOV_MAX) iovecs transfer the right bytes; 1025 or a negative length -> -EINVAL, an unreadable iovec array or a kernel-half iov_base -> -EFAULT at submit, an unmapped iov_base -> the event's -EFAULT; each result equal to the kernel's. */
#include "t.h"

#define FSZ 20000
#define KHALF 0xffff888000000000ull

static void *none_page;
static char *half;	/* writable page then PROT_NONE page */

/* Under valgrind (make check-valgrind) the kernel's side is not run: its
 * system call wrappers report (and choke on) the deliberately bad pointers,
 * and it does not model the kernel's ring; the kernel's answers are then
 * the known ones.  Requests whose buffer is bad when they execute are left
 * out there too, as valgrind reports the intended bad argument as an error. */
static long long one(const struct t_api *a, int op, int fd, const struct iovec *iov, uint64_t cnt, long long off)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	long long res;

	REQUIRE(a->setup(4, &ctx) == 0);
	uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)iov, cnt, off);
	cb.aio_data = 0xbeef;
	int rc = a->submit(ctx, 1, v);
	if (rc != 1) {
		res = rc - 1000;
	} else if (t_wait1(a, ctx, &ev) != 1) {
		res = -9999;
	} else {
		res = ev.res;
		CHECK_EQ(ev.data, 0xbeef);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
	}
	CHECK_EQ(a->destroy(ctx), 0);
	return res;
}

/* Does the scatter list hold the file's bytes from off (as written by
 * expect(pos))? */
static int iov_matches(int fd, const struct iovec *iov, int cnt, long long off, long long n)
{
	static unsigned char f[1 << 16];
	long long pos = 0;
	REQUIRE(n <= (long long)sizeof(f));
	REQUIRE(pread(fd, f, (size_t)n, off) == n);
	for (int i = 0; i < cnt && pos < n; i++)
		for (size_t j = 0; j < iov[i].iov_len && pos < n; j++, pos++)
			if (((unsigned char *)iov[i].iov_base)[j] != f[pos])
				return 0;
	return pos == n;
}

static int run(const struct t_api *a, long long *r)
{
	static unsigned char mem[1 << 16];
	static struct iovec iov[1100];
	int fd = t_tmpfile(FSZ, 0);
	int i = 0;
	long long total;

	memset(mem, 0, sizeof(mem));
	/* 1 iovec */
	iov[0] = (struct iovec){ mem, 100 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1, 50);			/* 100 */
	r[i++] = iov_matches(fd, iov, 1, 50, 100) && mem[0] == t_pattern(50);
	/* 3 iovecs, one empty */
	iov[0] = (struct iovec){ mem, 10 };
	iov[1] = (struct iovec){ mem + 1000, 0 };
	iov[2] = (struct iovec){ mem + 2000, 300 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 3, 1000);			/* 310 */
	r[i++] = iov_matches(fd, iov, 3, 1000, 310) && mem[2000] == t_pattern(1010);
	/* 1024 iovecs of varied lengths, reversed order in memory */
	total = 0;
	for (int k = 0; k < 1024; k++) {
		size_t len = (size_t)(k % 7) + 1;
		iov[k] = (struct iovec){ mem + sizeof(mem) - (size_t)(k + 1) * 8, len };
		total += (long long)len;
	}
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1024, 333) == total;		/* 1 */
	r[i++] = iov_matches(fd, iov, 1024, 333, total);
	/* 1024 iovecs reaching past EOF: short, exactly to EOF */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1024, FSZ - 1000);		/* 1000 */
	r[i++] = iov_matches(fd, iov, 1024, FSZ - 1000, 1000);
	/* past EOF */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 3, FSZ + 10);		/* 0 */
	/* 0 iovecs */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 0, 0);			/* 0 */
	/* 1024 empty iovecs */
	for (int k = 0; k < 1024; k++)
		iov[k].iov_len = 0;
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1024, 0);			/* 0 */
	/* 1025: -EINVAL */
	for (int k = 0; k < 1025; k++)
		iov[k] = (struct iovec){ mem + k, 1 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1025, 0);			/* -EINVAL-1000 */
	r[i++] = one(a, IOCB_CMD_PWRITEV, fd, iov, 1025, 0);			/* -EINVAL-1000 */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1 << 20, 0);			/* -EINVAL-1000 */
	/* a negative iov_len: -EINVAL */
	iov[0] = (struct iovec){ mem, 10 };
	iov[1] = (struct iovec){ mem, (size_t)1 << 63 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 2, 0);			/* -EINVAL-1000 */
	/* unreadable iovec arrays: -EFAULT */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, none_page, 1, 0);			/* -EFAULT-1000 */
	r[i++] = one(a, IOCB_CMD_PWRITEV, fd, none_page, 3, 0);			/* -EFAULT-1000 */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, NULL, 1, 0);			/* -EFAULT-1000 */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, (struct iovec *)KHALF, 1, 0);	/* -EFAULT-1000 */
	/* first iovec readable, the second in the PROT_NONE page */
	struct iovec *edge = (struct iovec *)(half + 4096 - sizeof(struct iovec));
	*edge = (struct iovec){ mem, 10 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, edge, 2, 0);			/* -EFAULT-1000 */
	r[i++] = one(a, IOCB_CMD_PREADV, fd, edge, 1, 0);			/* 10 */
	/* a kernel-half iov_base: -EFAULT at submit */
	iov[0] = (struct iovec){ (void *)KHALF, 10 };
	r[i++] = one(a, IOCB_CMD_PREADV, fd, iov, 1, 0);			/* -EFAULT-1000 */
	/* an unmapped iov_base: the event's -EFAULT */
	int vg = t_under_valgrind();
	iov[0] = (struct iovec){ none_page, 10 };
	r[i++] = vg ? -EFAULT : one(a, IOCB_CMD_PREADV, fd, iov, 1, 0);		/* -EFAULT */
	r[i++] = vg ? -EFAULT : one(a, IOCB_CMD_PWRITEV, fd, iov, 1, 0);		/* -EFAULT */
	/* good, bad, good: as the kernel does (partial) */
	iov[0] = (struct iovec){ mem, 10 };
	iov[1] = (struct iovec){ none_page, 10 };
	iov[2] = (struct iovec){ mem + 100, 10 };
	r[i++] = vg ? 10 : one(a, IOCB_CMD_PREADV, fd, iov, 3, 0);

	/* pwritev: 3 iovecs, then 1024, verified by pread */
	for (size_t k = 0; k < sizeof(mem); k++)
		mem[k] = (unsigned char)(k * 13 + 1);
	iov[0] = (struct iovec){ mem + 10, 5 };
	iov[1] = (struct iovec){ mem + 500, 0 };
	iov[2] = (struct iovec){ mem + 3000, 700 };
	r[i++] = one(a, IOCB_CMD_PWRITEV, fd, iov, 3, 4000);			/* 705 */
	r[i++] = iov_matches(fd, iov, 3, 4000, 705);
	total = 0;
	for (int k = 0; k < 1024; k++) {
		size_t len = (size_t)(k % 5) + 1;
		iov[k] = (struct iovec){ mem + (size_t)(1023 - k) * 16, len };
		total += (long long)len;
	}
	r[i++] = one(a, IOCB_CMD_PWRITEV, fd, iov, 1024, FSZ - 100) == total;	/* 1: extends */
	r[i++] = iov_matches(fd, iov, 1024, FSZ - 100, total);
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0);
	r[i++] = st.st_size == FSZ - 100 + total;
	close(fd);
	return i;
}

int main(void)
{
	static const long long want[] = {
		100, 1, 310, 1, 1, 1, 1000, 1, 0, 0, 0,
		-EINVAL - 1000, -EINVAL - 1000, -EINVAL - 1000, -EINVAL - 1000,
		-EFAULT - 1000, -EFAULT - 1000, -EFAULT - 1000, -EFAULT - 1000, -EFAULT - 1000, 10,
		-EFAULT - 1000, -EFAULT, -EFAULT, -12345 /* the kernel's */,
		705, 1, 1, 1, 1,
	};
	long long k[64], u[64];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(none_page != MAP_FAILED);
	half = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(half != MAP_FAILED);
	REQUIRE(mprotect(half + 4096, 4096, PROT_NONE) == 0);

	int vg = t_under_valgrind();
	int nu = run(&t_uaio, u);
	int nk = vg ? nu : run(&t_kernel, k);
	if (vg)
		for (int i = 0; i < nu; i++)
			k[i] = want[i] == -12345 ? u[i] : want[i];
	CHECK_EQ(nk, (int)(sizeof(want) / sizeof(want[0])));
	CHECK_EQ(nu, nk);
	for (int i = 0; i < nk && i < nu; i++)
		if (k[i] != u[i] || (want[i] != -12345 && k[i] != want[i]))
			t_fail("result %d: kernel %lld uaio %lld want %lld", i, k[i], u[i], want[i]);
	fprintf(stderr, "preadv good/bad/good: kernel %lld uaio %lld\n", k[24], u[24]);

	munmap(none_page, 4096);
	munmap(half, 8192);
	return t_done();
}
