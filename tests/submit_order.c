/* SPEC §2 submit: checking order matters where the kernel's does: with two faults in one iocb, submit returns the error of the check the kernel makes first (iocb copy, reserved2, nbytes, slots, fd, resfd, aio_key write, opcode, ioprio, rw_flags, mode, file type, iovec import, offset); each case compared with the kernel. */
#include "t.h"
#include <poll.h>
#include <sys/eventfd.h>

#define KHALF 0xffff888000000000ull
#define BADPRIO ((5 << 13) | 0)	/* class 5: invalid */

enum fdsel { RW, RO, WO, DIR_, PIPE_R, EFD, CLOSED, NFDSEL };
enum bufsel { B_BUF, B_NULL, B_KHALF, B_IOV1, B_IOV_NONE, B_RAW };

struct tcase {
	const char *name;
	int op, fd, bufsel;
	uint64_t raw_buf, nbytes;
	int64_t off;
	uint32_t rwf, flags;
	int resfd;
	uint64_t reserved2;
	uint16_t reqprio;
	int ro_iocb;		/* the iocb sits in a read-only page */
	int want;
};

static int fds[NFDSEL];
static unsigned char buf[4096];
static void *none_page;
static struct iovec iov1[1];
static struct iocb *ro_slot;	/* one page, made read-only after building */

static void build(const struct tcase *c, struct iocb *cb)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = (uint16_t)c->op;
	cb->aio_fildes = (uint32_t)fds[c->fd];
	switch (c->bufsel) {
	case B_BUF: cb->aio_buf = (uintptr_t)buf; break;
	case B_NULL: cb->aio_buf = 0; break;
	case B_KHALF: cb->aio_buf = KHALF; break;
	case B_IOV1: cb->aio_buf = (uintptr_t)iov1; break;
	case B_IOV_NONE: cb->aio_buf = (uintptr_t)none_page; break;
	case B_RAW: cb->aio_buf = c->raw_buf; break;
	}
	cb->aio_nbytes = c->nbytes;
	cb->aio_offset = c->off;
	cb->aio_rw_flags = (int)c->rwf;
	cb->aio_flags = c->flags;
	if (c->flags & IOCB_FLAG_RESFD)
		cb->aio_resfd = (uint32_t)fds[c->resfd];
	cb->aio_reserved2 = c->reserved2;
	cb->aio_reqprio = c->reqprio;
	cb->aio_data = 42;
}

static int run_on(const struct t_api *a, const struct tcase *c)
{
	struct iocb local, *cb = c->ro_iocb ? ro_slot : &local;
	struct iocb *v[1] = { cb };
	aio_context_t ctx = ctx_for(a);
	int rc;

	if (c->ro_iocb)
		REQUIRE(mprotect(ro_slot, 4096, PROT_READ | PROT_WRITE) == 0);
	build(c, cb);
	if (c->ro_iocb)
		REQUIRE(mprotect(ro_slot, 4096, PROT_READ) == 0);
	rc = a->submit(ctx, 1, v);
	if (rc == 1) {
		struct io_event ev;
		CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	}
	return rc;
}

#define C(...) { __VA_ARGS__ }
static const struct tcase cases[] = {
	/* the brief's pairs */
	C(.name = "bad fd + bad opcode", .op = 99, .fd = CLOSED, .nbytes = 16, .want = -EBADF),
	C(.name = "reserved2 + bad fd", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = 16, .reserved2 = 1,
	  .want = -EINVAL),
	C(.name = "not open for read + rw flag 0x200", .op = IOCB_CMD_PREAD, .fd = WO, .nbytes = 16, .rwf = 0x200,
	  .want = -EOPNOTSUPP),
	C(.name = "not open for write + rw flag 1<<31", .op = IOCB_CMD_PWRITE, .fd = RO, .nbytes = 16,
	  .rwf = 0x80000000u, .want = -EOPNOTSUPP),
	C(.name = "resfd closed + bad opcode", .op = 99, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = CLOSED,
	  .want = -EBADF),
	C(.name = "resfd not eventfd + bad opcode", .op = 99, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = RW,
	  .want = -EINVAL),
	/* outer checks first */
	C(.name = "nbytes > SSIZE_MAX + bad fd", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = ~0ull, .want = -EINVAL),
	C(.name = "reserved2 + bad opcode", .op = 99, .nbytes = 16, .reserved2 = 1, .want = -EINVAL),
	C(.name = "reserved2 + nbytes > SSIZE_MAX", .op = IOCB_CMD_PREAD, .nbytes = ~0ull, .reserved2 = 1,
	  .want = -EINVAL),
	/* fd before resfd, resfd before everything per-opcode */
	C(.name = "bad fd + resfd not eventfd", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = 16,
	  .flags = IOCB_FLAG_RESFD, .resfd = RW, .want = -EBADF),
	C(.name = "bad fd + fsync with buf", .op = IOCB_CMD_FSYNC, .fd = CLOSED, .want = -EBADF),
	C(.name = "bad fd + kernel-half buf", .op = IOCB_CMD_PREAD, .fd = CLOSED, .bufsel = B_KHALF, .nbytes = 16,
	  .want = -EBADF),
	C(.name = "bad fd + poll bit 16", .op = IOCB_CMD_POLL, .fd = CLOSED, .bufsel = B_RAW, .raw_buf = 1u << 16,
	  .want = -EBADF),
	C(.name = "bad fd + bad ioprio", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = 16, .flags = IOCB_FLAG_IOPRIO,
	  .reqprio = BADPRIO, .want = -EBADF),
	C(.name = "resfd not eventfd + not open for read", .op = IOCB_CMD_PREAD, .fd = WO, .nbytes = 16,
	  .flags = IOCB_FLAG_RESFD, .resfd = RW, .want = -EINVAL),
	C(.name = "resfd closed + rw flag 0x200", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD,
	  .resfd = CLOSED, .rwf = 0x200, .want = -EBADF),
	C(.name = "resfd closed + poll offset", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .off = 1,
	  .flags = IOCB_FLAG_RESFD, .resfd = CLOSED, .want = -EBADF),
	C(.name = "resfd closed + iovec array unreadable", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_NONE, .nbytes = 1,
	  .flags = IOCB_FLAG_RESFD, .resfd = CLOSED, .want = -EBADF),
	/* ioprio, then rw_flags, then the file mode */
	C(.name = "bad ioprio + rw flag 0x200", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_IOPRIO,
	  .reqprio = BADPRIO, .rwf = 0x200, .want = -EINVAL),
	C(.name = "bad ioprio + not open for read", .op = IOCB_CMD_PREAD, .fd = WO, .nbytes = 16,
	  .flags = IOCB_FLAG_IOPRIO, .reqprio = BADPRIO, .want = -EINVAL),
	C(.name = "rw flag 0x200 + directory read", .op = IOCB_CMD_PREAD, .fd = DIR_, .nbytes = 16, .rwf = 0x200,
	  .want = -EOPNOTSUPP),
	C(.name = "rw flag 0x200 + negative offset", .op = IOCB_CMD_PREAD, .nbytes = 16, .off = -1, .rwf = 0x200,
	  .want = -EOPNOTSUPP),
	C(.name = "rw flag 0x200 + iovec array unreadable", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_NONE, .nbytes = 1,
	  .rwf = 0x200, .want = -EOPNOTSUPP),
	C(.name = "rw flag 0x200 + 1025 iovecs", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 1025,
	  .rwf = 0x200, .want = -EOPNOTSUPP),
	/* mode before iovec import and offset */
	C(.name = "not open for read + iovec array unreadable", .op = IOCB_CMD_PREADV, .fd = WO, .bufsel = B_IOV_NONE,
	  .nbytes = 1, .want = -EBADF),
	C(.name = "not open for read + kernel-half buf", .op = IOCB_CMD_PREAD, .fd = WO, .bufsel = B_KHALF,
	  .nbytes = 16, .want = -EBADF),
	C(.name = "not open for read + negative offset", .op = IOCB_CMD_PREAD, .fd = WO, .nbytes = 16, .off = -1,
	  .want = -EBADF),
	C(.name = "not open for write + 1025 iovecs", .op = IOCB_CMD_PWRITEV, .fd = RO, .bufsel = B_IOV1,
	  .nbytes = 1025, .want = -EBADF),
	/* file type (no read on a directory) before the buffer */
	C(.name = "directory read + kernel-half buf", .op = IOCB_CMD_PREAD, .fd = DIR_, .bufsel = B_KHALF,
	  .nbytes = 16, .want = -EINVAL),
	C(.name = "directory readv + iovec array unreadable", .op = IOCB_CMD_PREADV, .fd = DIR_,
	  .bufsel = B_IOV_NONE, .nbytes = 1, .want = -EINVAL),
	/* iovec import / buffer check before the offset check */
	C(.name = "iovec array unreadable + negative offset", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_NONE,
	  .nbytes = 1, .off = -1, .want = -EFAULT),
	C(.name = "kernel-half buf + negative offset", .op = IOCB_CMD_PWRITE, .bufsel = B_KHALF, .nbytes = 16,
	  .off = -1, .want = -EFAULT),
	/* fsync / poll: the rw_flags field is just a field that must be 0 */
	C(.name = "fsync + rw flag 0x200", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .rwf = 0x200, .want = -EINVAL),
	C(.name = "fdsync + rw flag 1<<31", .op = IOCB_CMD_FDSYNC, .bufsel = B_NULL, .rwf = 0x80000000u,
	  .want = -EINVAL),
	C(.name = "poll + rw flag 0x200", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .rwf = 0x200,
	  .want = -EINVAL),
	C(.name = "fsync on pipe with buf", .op = IOCB_CMD_FSYNC, .fd = PIPE_R, .want = -EINVAL),
	/* IOPRIO only matters for reads and writes */
	C(.name = "fsync with bad ioprio", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .flags = IOCB_FLAG_IOPRIO,
	  .reqprio = BADPRIO, .want = 1),
	C(.name = "poll with bad ioprio", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN,
	  .flags = IOCB_FLAG_IOPRIO, .reqprio = BADPRIO, .want = 1),
	/* the iocb in a read-only page: aio_key cannot be written */
	C(.name = "read-only iocb", .op = IOCB_CMD_PREAD, .nbytes = 16, .ro_iocb = 1, .want = -EFAULT),
	C(.name = "read-only iocb + bad opcode", .op = 99, .nbytes = 16, .ro_iocb = 1, .want = -EFAULT),
	C(.name = "read-only iocb + bad fd", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = 16, .ro_iocb = 1,
	  .want = -EBADF),
	C(.name = "read-only iocb + reserved2", .op = IOCB_CMD_PREAD, .nbytes = 16, .reserved2 = 1, .ro_iocb = 1,
	  .want = -EINVAL),
	C(.name = "read-only iocb + resfd not eventfd", .op = IOCB_CMD_PREAD, .nbytes = 16, .ro_iocb = 1,
	  .flags = IOCB_FLAG_RESFD, .resfd = RW, .want = -EINVAL),
};

int main(void)
{
	int p[2];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	fds[RW] = t_tmpfile(8192, 0);
	fds[RO] = t_tmpfile(8192, 0);
	{
		char path[64];
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[RO]);
		int fd = open(path, O_RDONLY);
		REQUIRE(fd >= 0);
		close(fds[RO]);
		fds[RO] = fd;
	}
	fds[WO] = t_tmpfile(8192, O_WRONLY);
	fds[DIR_] = open("/", O_RDONLY | O_DIRECTORY);
	REQUIRE(fds[DIR_] >= 0);
	REQUIRE(pipe(p) == 0);
	fds[PIPE_R] = p[0];
	fds[EFD] = eventfd(0, EFD_NONBLOCK);
	REQUIRE(fds[EFD] >= 0);
	fds[CLOSED] = 1000;
	while (fds[CLOSED] > 500 && fcntl(fds[CLOSED], F_GETFD) != -1)
		fds[CLOSED]--;
	REQUIRE(fcntl(fds[CLOSED], F_GETFD) == -1);
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(none_page != MAP_FAILED);
	ro_slot = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(ro_slot != MAP_FAILED);
	iov1[0].iov_base = buf;
	iov1[0].iov_len = 16;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		int k = run_on(&t_kernel, c);
		int u = run_on(&t_uaio, c);

		if (k != c->want || u != c->want)
			t_fail("case \"%s\": kernel %d uaio %d, want %d", c->name, k, u, c->want);
	}

	for (int i = 0; i < CLOSED; i++)
		close(fds[i]);
	close(p[1]);
	munmap(none_page, 4096);
	munmap(ro_slot, 4096);
	ctx_release();
	return t_done();
}
