/* SPEC §2 submit: PREAD/PWRITE on a file give bytes transferred and the right data; a read is short only at end of file (0 past it, 0 for 0 bytes); RWF_APPEND writes at the end; O_DIRECT misalignment and a bad buffer are the event's res (-EINVAL, -EFAULT), not submit errors; each result equal to the kernel's. */
#include "t.h"

#define FSZ 10000

static void *none_page;
static char *half_page;	/* a writable page followed by a PROT_NONE page */

/* Under valgrind (make check-valgrind) the kernel's side is not run: its
 * system call wrappers report (and choke on) the deliberately bad pointers,
 * and it does not model the kernel's ring; the kernel's answers are then
 * the known ones.  Requests whose buffer is bad when they execute are left
 * out there too, as valgrind reports the intended bad argument as an error. */
/* Submit one request and wait for it: the event's res, or the submit error - 1000. */
static long long one(const struct t_api *a, int op, int fd, void *buf, size_t n, long long off, int rwf)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	long long res;

	REQUIRE(a->setup(4, &ctx) == 0);
	uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)buf, n, off);
	cb.aio_rw_flags = rwf;
	cb.aio_data = 0xfeed;
	int rc = a->submit(ctx, 1, v);
	if (rc != 1) {
		res = rc - 1000;
	} else if (t_wait1(a, ctx, &ev) != 1) {
		res = -9999;
	} else {
		res = ev.res;
		CHECK_EQ(ev.data, 0xfeed);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
		CHECK_EQ(ev.res2, 0);
	}
	CHECK_EQ(a->destroy(ctx), 0);
	return res;
}

static int pattern_ok(const unsigned char *b, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != t_pattern(off + i))
			return 0;
	return 1;
}

static off_t fsize(int fd)
{
	struct stat st;
	REQUIRE(fstat(fd, &st) == 0);
	return st.st_size;
}

/* The buffered cases; results into r[]. */
static int buffered(const struct t_api *a, long long *r)
{
	static unsigned char b[16384], w[8192];
	int fd = t_tmpfile(FSZ, 0);
	int i = 0;

	memset(b, 0, sizeof(b));
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 0, 0);			/* 4096 */
	r[i++] = pattern_ok(b, 4096, 0);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 1000, 777, 0);			/* 1000 */
	r[i++] = pattern_ok(b, 1000, 777);
	memset(b, 0, sizeof(b));
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 8192, 0);			/* short: 1808 */
	r[i++] = pattern_ok(b, FSZ - 8192, 8192) && b[FSZ - 8192] == 0;
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 16384, 0, 0);			/* whole file: 10000 */
	r[i++] = pattern_ok(b, FSZ, 0);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 1, FSZ - 1, 0);			/* last byte */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 100, FSZ, 0);			/* at EOF: 0 */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 100, 1 << 20, 0);		/* beyond: 0 */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 0, 0, 0);			/* 0 bytes: 0 */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, NULL, 0, 5, 0);			/* 0 bytes, NULL */

	/* pwrite inside the file */
	for (size_t k = 0; k < sizeof(w); k++)
		w[k] = (unsigned char)(k * 7 + 3);
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, w, 3000, 2000, 0);			/* 3000 */
	REQUIRE(pread(fd, b, 3000, 2000) == 3000);
	r[i++] = memcmp(b, w, 3000) == 0;
	REQUIRE(pread(fd, b, 10, 1990) == 10);
	r[i++] = pattern_ok(b, 10, 1990);
	r[i++] = fsize(fd);							/* unchanged */
	/* pwrite past EOF extends the file */
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, w, 100, 20000, 0);			/* 100 */
	r[i++] = fsize(fd);							/* 20100 */
	/* RWF_APPEND: at the end whatever the offset */
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, w + 500, 50, 0, RWF_APPEND);	/* 50 */
	r[i++] = fsize(fd);							/* 20150 */
	REQUIRE(pread(fd, b, 50, 20100) == 50);
	r[i++] = memcmp(b, w + 500, 50) == 0;
	REQUIRE(pread(fd, b, 50, 0) == 50);
	r[i++] = pattern_ok(b, 50, 0);						/* start intact */
	/* 0-byte write */
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, w, 0, 0, 0);			/* 0 */

	/* bad buffers: the event's res */
	int vg = t_under_valgrind();
	r[i++] = vg ? -EFAULT : one(a, IOCB_CMD_PREAD, fd, none_page, 100, 0, 0);	/* -EFAULT */
	r[i++] = vg ? -EFAULT : one(a, IOCB_CMD_PWRITE, fd, none_page, 100, 0, 0);	/* -EFAULT */
	REQUIRE(pread(fd, b, 100, 0) == 100);
	r[i++] = pattern_ok(b, 100, 0);						/* not written */
	r[i++] = fsize(fd);							/* 20150 */
	/* a buffer whose second page is bad: what a blocking pread gives */
	r[i++] = vg ? 4096 : one(a, IOCB_CMD_PREAD, fd, half_page, 8192, 0, 0);
	r[i++] = vg || pattern_ok((unsigned char *)half_page, 2000, 0);
	r[i++] = vg ? 96 : one(a, IOCB_CMD_PREAD, fd, half_page + 4000, 200, 0, 0);
	/* what the plain system call gives, for the record */
	r[i++] = vg ? 4096 : pread(fd, half_page, 8192, 0);
	close(fd);
	return i;
}

/* O_DIRECT: aligned works, misaligned is the event's -EINVAL. */
static int direct(const struct t_api *a, long long *r, int dfd_flags)
{
	int fd = t_tmpfile(65536, dfd_flags);
	unsigned char *b;
	int i = 0;

	REQUIRE(posix_memalign((void **)&b, 4096, 3 * 4096) == 0);
	memset(b, 0, 3 * 4096);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 0, 0);			/* 4096 */
	r[i++] = pattern_ok(b, 4096, 0);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 8192, 8192, 0);			/* 8192 */
	r[i++] = pattern_ok(b, 8192, 8192);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b + 1, 4096, 0, 0);		/* buf: -EINVAL */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 1, 0);			/* offset: -EINVAL */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 100, 0, 0);			/* length: -EINVAL */
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, b + 3, 4096, 0, 0);		/* -EINVAL */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 8192, 65536 - 4096, 0);		/* short: 4096 */
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 1 << 20, 0);		/* past EOF: 0 */
	memset(b, 0xab, 4096);
	r[i++] = one(a, IOCB_CMD_PWRITE, fd, b, 4096, 4096, 0);		/* 4096 */
	memset(b, 0, 4096);
	r[i++] = one(a, IOCB_CMD_PREAD, fd, b, 4096, 4096, 0);
	r[i++] = b[0] == 0xab && b[4095] == 0xab;
	free(b);
	close(fd);
	return i;
}

int main(void)
{
	static const long long want_buf[] = {
		4096, 1, 1000, 1, FSZ - 8192, 1, FSZ, 1, 1, 0, 0, 0, 0,
		3000, 1, 1, FSZ, 100, 20100, 50, 20150, 1, 1, 0,
		-EFAULT, -EFAULT, 1, 20150,
		-12345 /* kernel decides */, 1, -12345, -12345,
	};
	static const long long want_dir[] = {
		4096, 1, 8192, 1, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 4096, 0, 4096, 4096, 1,
	};
	long long k[64], u[64];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(none_page != MAP_FAILED);
	half_page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(half_page != MAP_FAILED);
	REQUIRE(mprotect(half_page + 4096, 4096, PROT_NONE) == 0);

	int vg = t_under_valgrind();
	int nu = buffered(&t_uaio, u);
	int nk = vg ? nu : buffered(&t_kernel, k);
	if (vg)
		for (int i = 0; i < nu; i++)
			k[i] = want_buf[i] == -12345 ? u[i] : want_buf[i];
	CHECK_EQ(nk, (int)(sizeof(want_buf) / sizeof(want_buf[0])));
	CHECK_EQ(nu, nk);
	for (int i = 0; i < nk && i < nu; i++)
		if (k[i] != u[i] || (want_buf[i] != -12345 && k[i] != want_buf[i]))
			t_fail("buffered result %d: kernel %lld uaio %lld want %lld", i, k[i], u[i], want_buf[i]);
	fprintf(stderr, "read into a half-bad buffer: kernel aio %lld/%lld, uaio %lld/%lld, pread %lld\n",
		k[28], k[30], u[28], u[30], k[31]);

	/* O_DIRECT, where the file system allows it */
	int probe = t_tmpfile(4096, 0);
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", probe);
	int dfd = open(path, O_RDWR | O_DIRECT);
	close(probe);
	if (dfd < 0) {
		fprintf(stderr, "O_DIRECT refused here (errno %d): direct part skipped\n", errno);
	} else {
		close(dfd);
		nu = direct(&t_uaio, u, O_RDWR | O_DIRECT);
		nk = vg ? nu : direct(&t_kernel, k, O_RDWR | O_DIRECT);
		if (vg)
			memcpy(k, want_dir, sizeof(want_dir));
		CHECK_EQ(nk, (int)(sizeof(want_dir) / sizeof(want_dir[0])));
		CHECK_EQ(nu, nk);
		for (int i = 0; i < nk && i < nu; i++)
			if (k[i] != u[i] || k[i] != want_dir[i])
				t_fail("O_DIRECT result %d: kernel %lld uaio %lld want %lld", i, k[i], u[i],
				       want_dir[i]);
	}

	munmap(none_page, 4096);
	munmap(half_page, 8192);
	return t_done();
}
