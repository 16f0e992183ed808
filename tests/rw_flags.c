/* SPEC §2 submit: aio_rw_flags are accepted or refused bit by bit exactly as the kernel does here (RWF_HIPRI, DSYNC, SYNC, NOWAIT, APPEND, NOAPPEND, DONTCACHE, NOSIGNAL accepted; RWF_ATOMIC and unknown bits -> -EOPNOTSUPP), with the kernel's event res; RWF_NOWAIT on uncached data gives -EAGAIN or all of it, never a short read. */
#include "t.h"
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x20
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x40
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE 0x80
#endif
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL 0x100
#endif

static long long one(const struct t_api *a, int op, int fd, void *buf, size_t n, long long off, uint32_t rwf)
{
	aio_context_t ctx = ctx_for(a);
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	long long res;

	uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)buf, n, off);
	cb.aio_rw_flags = (int)rwf;
	cb.aio_data = rwf;
	int rc = a->submit(ctx, 1, v);
	if (rc != 1) {
		res = rc - 1000;
	} else if (t_wait1(a, ctx, &ev) != 1) {
		res = -9999;
	} else {
		res = ev.res;
		CHECK_EQ(ev.data, rwf);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
	}
	return res;
}

static void drain(int fd)
{
	int n = 0;
	char tmp[4096];
	while (ioctl(fd, FIONREAD, &n) == 0 && n > 0)
		REQUIRE(read(fd, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp)) > 0);
}

enum { T_FILE_R, T_FILE_W, T_PIPE_R, T_PIPE_W, T_SOCK_R, T_SOCK_W, T_NULL_R, T_NULL_W, NT };
static const char *tname[NT] = { "file read", "file write", "pipe read", "pipe write", "socket read",
				 "socket write", "/dev/null read", "/dev/null write" };
static int file_fd, pipe_fd[2], sock_fd[2], null_fd;

/* One 1-byte request of kind t with flags rwf; the data source refilled. */
static long long kind(const struct t_api *a, int t, uint32_t rwf)
{
	unsigned char b = 0x42;
	long long r;

	drain(pipe_fd[0]);
	drain(sock_fd[0]);
	drain(sock_fd[1]);
	REQUIRE(write(pipe_fd[1], "p", 1) == 1);
	REQUIRE(write(sock_fd[1], "s", 1) == 1);
	switch (t) {
	case T_FILE_R:
		r = one(a, IOCB_CMD_PREAD, file_fd, &b, 1, 10, rwf);
		if (r == 1)
			CHECK_EQ(b, t_pattern(10));
		return r;
	case T_FILE_W: return one(a, IOCB_CMD_PWRITE, file_fd, &b, 1, 20, rwf);
	case T_PIPE_R:
		r = one(a, IOCB_CMD_PREAD, pipe_fd[0], &b, 1, 0, rwf);
		if (r == 1)
			CHECK_EQ(b, 'p');
		return r;
	case T_PIPE_W: return one(a, IOCB_CMD_PWRITE, pipe_fd[1], &b, 1, 0, rwf);
	case T_SOCK_R:
		r = one(a, IOCB_CMD_PREAD, sock_fd[0], &b, 1, 0, rwf);
		if (r == 1)
			CHECK_EQ(b, 's');
		return r;
	case T_SOCK_W: return one(a, IOCB_CMD_PWRITE, sock_fd[0], &b, 1, 0, rwf);
	case T_NULL_R: return one(a, IOCB_CMD_PREAD, null_fd, &b, 1, 0, rwf);
	default: return one(a, IOCB_CMD_PWRITE, null_fd, &b, 1, 0, rwf);
	}
}

/* RWF_NOWAIT on data not in the page cache: -EAGAIN or everything. */
static void nowait_uncached(const struct t_api *a, int strict)
{
	enum { FS = 4 << 20, LEN = 256 << 10 };
	int fd = t_tmpfile(FS, 0);
	unsigned char *b = malloc(LEN);
	REQUIRE(b);
	for (int round = 0; round < 3; round++) {
		REQUIRE(fsync(fd) == 0);
		REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		long long off = (long long)(1 << 20) * (round + 1);
		if (round == 2) {
			/* partly cached: the first page of the range only */
			unsigned char tmp[4096];
			REQUIRE(pread(fd, tmp, sizeof(tmp), off) == (ssize_t)sizeof(tmp));
		}
		memset(b, 0, LEN);
		long long r = one(a, IOCB_CMD_PREAD, fd, b, LEN, off, RWF_NOWAIT);
		fprintf(stderr, "%s: RWF_NOWAIT read of %s data: res %lld\n", a->name,
			round == 2 ? "partly cached" : "uncached", r);
		if (strict) {
			CHECK(r == -EAGAIN || r == LEN);
			if (r == LEN) {
				int ok = 1;
				for (int i = 0; i < LEN; i += 509)
					ok &= b[i] == t_pattern((uint64_t)(off + i));
				CHECK(ok);
			}
		} else {
			/* the kernel: an error or some data, never garbage */
			CHECK(r == -EAGAIN || (r > 0 && r <= LEN));
		}
	}
	free(b);
	close(fd);
}

int main(void)
{
	if (!k_available())
		t_skip("kernel AIO unavailable");
	file_fd = t_tmpfile(4096, 0);
	REQUIRE(pipe(pipe_fd) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sock_fd) == 0);
	null_fd = open("/dev/null", O_RDWR);
	REQUIRE(null_fd >= 0);

	/* The decided set, on a regular file read. */
	static const uint32_t ok_bits = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | RWF_NOAPPEND |
					RWF_DONTCACHE | RWF_NOSIGNAL;

	for (int t = 0; t < NT; t++)
		for (int bit = 0; bit < 32; bit++) {
			uint32_t f = 1u << bit;
			long long k = kind(&t_kernel, t, f);
			long long u = kind(&t_uaio, t, f);
			if (k != u)
				t_fail("%s with rw flag 0x%x: kernel %lld uaio %lld (values < -900 are submit "
				       "errors - 1000)", tname[t], f, k, u);
			if (t == T_FILE_R) {
				long long want = (f & ok_bits) ? 1 : -EOPNOTSUPP - 1000;
				if (u != want)
					t_fail("file read with rw flag 0x%x: uaio %lld want %lld", f, u, want);
			}
		}

	/* Combinations. */
	static const uint32_t combos[] = {
		RWF_APPEND | RWF_NOAPPEND, RWF_SYNC | RWF_DSYNC, RWF_HIPRI | RWF_NOWAIT,
		RWF_NOWAIT | RWF_APPEND, RWF_ATOMIC | RWF_APPEND, 0x200 | RWF_HIPRI, RWF_DONTCACHE | RWF_NOWAIT,
		ok_bits & ~RWF_NOAPPEND, 0xffffffffu,
	};
	for (int t = 0; t < NT; t++)
		for (size_t c = 0; c < sizeof(combos) / sizeof(combos[0]); c++) {
			long long k = kind(&t_kernel, t, combos[c]);
			long long u = kind(&t_uaio, t, combos[c]);
			if (k != u)
				t_fail("%s with rw flags 0x%x: kernel %lld uaio %lld", tname[t], combos[c], k, u);
		}
	CHECK_EQ(kind(&t_uaio, T_FILE_R, RWF_APPEND | RWF_NOAPPEND), -EINVAL - 1000);

	/* RWF_APPEND write goes to the end, as the kernel's. */
	struct stat st0, st1;
	REQUIRE(fstat(file_fd, &st0) == 0);
	CHECK_EQ(kind(&t_uaio, T_FILE_W, RWF_APPEND), 1);
	REQUIRE(fstat(file_fd, &st1) == 0);
	CHECK_EQ(st1.st_size, st0.st_size + 1);

	nowait_uncached(&t_kernel, 0);
	nowait_uncached(&t_uaio, 1);

	close(file_fd);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	close(sock_fd[0]);
	close(sock_fd[1]);
	close(null_fd);
	ctx_release();
	return t_done();
}
