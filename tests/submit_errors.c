/* SPEC §2 submit: every synchronous check (reserved2, nbytes, slots, fd, resfd, opcode, mode, rw_flags, fsync/poll fields, offsets, iovecs, kernel-half buffers) gives the kernel's error; execution errors arrive as the event's res; partial batches, bad iocb pointers, nr/ctx checks, aio_key and iocb reuse; each case compared with the kernel. */
#include "t.h"
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef RWF_ATOMIC
#define RWF_ATOMIC 0x40
#endif

#define KHALF 0xffff888000000000ull

enum fdsel { RW, RO, WO, DIR_, PIPE_R, PIPE_W, SOCK, DEVNULL, EFD, CLOSED, NEG1, BIGFD, NFDSEL };
enum bufsel { B_BUF, B_NULL, B_NONE, B_KHALF, B_IOV1, B_IOV_NONE, B_IOV_KHALF, B_IOV_BADBASE, B_RAW };

struct tcase {
	const char *name;
	int op;
	int fd;			/* enum fdsel */
	int bufsel;		/* enum bufsel */
	uint64_t raw_buf;	/* with B_RAW */
	uint64_t nbytes;
	int64_t off;
	uint32_t rwf;
	uint32_t flags;
	int resfd;		/* enum fdsel, with IOCB_FLAG_RESFD */
	uint64_t reserved2;
	uint16_t reqprio;
	int want;		/* submit's answer: 1 or -errno */
	long long want_res;	/* the event's res when want == 1 */
	long long k_res;	/* the kernel's res where SPEC deliberately differs (0: same) */
	int badbuf;		/* the buffer is bad when the request executes */
};

static int fds[NFDSEL];
static int sockpeer, pipe_w_fd;
static unsigned char buf[4096];
static void *none_page;
static struct iovec iov1[1], iov_badbase[1];

/* Under valgrind (make check-valgrind, t_under_valgrind()) the kernel's side is not run: its
 * system call wrappers report (and choke on) the deliberately bad pointers,
 * and it does not model the kernel's ring; the kernel's answers are then
 * the known ones.  Requests whose buffer is bad when they execute are left
 * out there too, as valgrind reports the intended bad argument as an error. */

/* t_tmpfile(size, O_RDONLY) cannot ask for O_RDONLY (it is 0) */
static int reopen(int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int fd2 = open(path, flags);
	REQUIRE(fd2 >= 0);
	close(fd);
	return fd2;
}

static void drain(int fd)
{
	int n = 0;
	char tmp[4096];
	while (ioctl(fd, FIONREAD, &n) == 0 && n > 0)
		REQUIRE(read(fd, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp)) > 0);
}

/* Before each run: the pipe and the socket hold exactly 16 bytes to read. */
static void refill(void)
{
	drain(fds[PIPE_R]);
	drain(fds[SOCK]);
	drain(sockpeer);
	REQUIRE(write(pipe_w_fd, buf, 16) == 16);
	REQUIRE(write(sockpeer, buf, 16) == 16);
	uint64_t v;
	while (read(fds[EFD], &v, 8) == 8)
		;
}

static void build(const struct tcase *c, struct iocb *cb)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = (uint16_t)c->op;
	cb->aio_fildes = (uint32_t)fds[c->fd];
	switch (c->bufsel) {
	case B_BUF: cb->aio_buf = (uintptr_t)buf; break;
	case B_NULL: cb->aio_buf = 0; break;
	case B_NONE: cb->aio_buf = (uintptr_t)none_page; break;
	case B_KHALF: cb->aio_buf = KHALF; break;
	case B_IOV1: cb->aio_buf = (uintptr_t)iov1; break;
	case B_IOV_NONE: cb->aio_buf = (uintptr_t)none_page; break;
	case B_IOV_KHALF: cb->aio_buf = KHALF; break;
	case B_IOV_BADBASE: cb->aio_buf = (uintptr_t)iov_badbase; break;
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
	cb->aio_data = 0x1234567890abcdefull;
	cb->aio_key = 0x5a5a5a5a;
}

struct outcome { int rc; long long res; int key_zero; int efd_count; };

static struct outcome run_on(const struct t_api *a, const struct tcase *c)
{
	struct outcome o = { 0, 0, 0, 0 };
	struct iocb cb, *v[1] = { &cb };
	aio_context_t ctx = ctx_for(a);

	refill();
	build(c, &cb);
	o.rc = a->submit(ctx, 1, v);
	if (o.rc == 1) {
		struct io_event ev;
		int n = t_wait1(a, ctx, &ev);
		CHECK_EQ(n, 1);
		if (n == 1) {
			o.res = ev.res;
			CHECK_EQ(ev.data, 0x1234567890abcdefull);
			CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
			CHECK_EQ(ev.res2, 0);
		}
		o.key_zero = cb.aio_key == 0;
		if (c->flags & IOCB_FLAG_RESFD) {
			uint64_t cnt = 0;
			if (read(fds[EFD], &cnt, 8) == 8)
				o.efd_count = (int)cnt;
		}
	}
	return o;
}

#define C(...) { __VA_ARGS__ }
static const struct tcase cases[] = {
	/* baselines that succeed */
	C(.name = "pread ok", .op = IOCB_CMD_PREAD, .nbytes = 16, .want = 1, .want_res = 16),
	C(.name = "pwrite ok", .op = IOCB_CMD_PWRITE, .nbytes = 16, .off = 100, .want = 1, .want_res = 16),
	C(.name = "pread 0 bytes", .op = IOCB_CMD_PREAD, .nbytes = 0, .want = 1, .want_res = 0),
	C(.name = "pread NULL buf 0 bytes", .op = IOCB_CMD_PREAD, .bufsel = B_NULL, .want = 1, .want_res = 0),
	C(.name = "preadv ok", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 1, .want = 1, .want_res = 16),
	C(.name = "pwritev ok", .op = IOCB_CMD_PWRITEV, .bufsel = B_IOV1, .nbytes = 1, .off = 50, .want = 1, .want_res = 16),
	C(.name = "preadv 0 iovecs", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 0, .want = 1, .want_res = 0),
	C(.name = "fsync ok", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .want = 1, .want_res = 0),
	C(.name = "fdsync ok", .op = IOCB_CMD_FDSYNC, .bufsel = B_NULL, .want = 1, .want_res = 0),
	C(.name = "fsync O_RDONLY file ok", .op = IOCB_CMD_FSYNC, .fd = RO, .bufsel = B_NULL, .want = 1, .want_res = 0),
	C(.name = "poll regular file", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .want = 1, .want_res = POLLIN),
	C(.name = "unknown aio_flags bits ignored", .op = IOCB_CMD_PREAD, .nbytes = 16,
	  .flags = ~(uint32_t)(IOCB_FLAG_RESFD | IOCB_FLAG_IOPRIO), .want = 1, .want_res = 16),
	C(.name = "aio_reqprio without IOPRIO ignored", .op = IOCB_CMD_PREAD, .nbytes = 16, .reqprio = 0xffff,
	  .want = 1, .want_res = 16),
	C(.name = "resfd eventfd ok", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = EFD,
	  .want = 1, .want_res = 16),
	C(.name = "pipe write offset ignored", .op = IOCB_CMD_PWRITE, .fd = PIPE_W, .nbytes = 16, .off = 12345,
	  .want = 1, .want_res = 16),
	C(.name = "pipe read offset ignored", .op = IOCB_CMD_PREAD, .fd = PIPE_R, .nbytes = 64, .off = 999,
	  .want = 1, .want_res = 16),
	/* SPEC: the offset is ignored on sockets; the kernel's sock_read_iter
	 * and sock_write_iter answer a nonzero position with -ESPIPE instead */
	C(.name = "socket read offset ignored", .op = IOCB_CMD_PREAD, .fd = SOCK, .nbytes = 64, .off = 4096,
	  .want = 1, .want_res = 16, .k_res = -ESPIPE),
	C(.name = "socket write offset ignored", .op = IOCB_CMD_PWRITE, .fd = SOCK, .nbytes = 16, .off = 7,
	  .want = 1, .want_res = 16, .k_res = -ESPIPE),
	C(.name = "socket read offset 0", .op = IOCB_CMD_PREAD, .fd = SOCK, .nbytes = 64, .want = 1, .want_res = 16),
	C(.name = "socket write offset 0", .op = IOCB_CMD_PWRITE, .fd = SOCK, .nbytes = 16, .want = 1, .want_res = 16),
	C(.name = "devnull write", .op = IOCB_CMD_PWRITE, .fd = DEVNULL, .nbytes = 16, .want = 1, .want_res = 16),
	C(.name = "devnull read", .op = IOCB_CMD_PREAD, .fd = DEVNULL, .nbytes = 16, .want = 1, .want_res = 0),
	/* execution errors arrive as the event's res */
	C(.name = "pread NULL buf", .op = IOCB_CMD_PREAD, .bufsel = B_NULL, .nbytes = 16, .badbuf = 1, .want = 1, .want_res = -EFAULT),
	C(.name = "pread PROT_NONE buf", .op = IOCB_CMD_PREAD, .bufsel = B_NONE, .nbytes = 16, .badbuf = 1, .want = 1, .want_res = -EFAULT),
	C(.name = "pwrite PROT_NONE buf", .op = IOCB_CMD_PWRITE, .bufsel = B_NONE, .nbytes = 16, .badbuf = 1, .want = 1, .want_res = -EFAULT),
	C(.name = "preadv iov_base PROT_NONE", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_BADBASE, .nbytes = 1,
	  .badbuf = 1, .want = 1, .want_res = -EFAULT),
	/* reserved2 */
	C(.name = "reserved2 1", .op = IOCB_CMD_PREAD, .nbytes = 16, .reserved2 = 1, .want = -EINVAL),
	C(.name = "reserved2 high bit", .op = IOCB_CMD_PREAD, .nbytes = 16, .reserved2 = 1ull << 63, .want = -EINVAL),
	C(.name = "reserved2 on fsync", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .reserved2 = 2, .want = -EINVAL),
	/* nbytes > SSIZE_MAX */
	C(.name = "nbytes 1<<63", .op = IOCB_CMD_PREAD, .nbytes = 1ull << 63, .want = -EINVAL),
	C(.name = "nbytes ~0", .op = IOCB_CMD_PWRITE, .nbytes = ~0ull, .want = -EINVAL),
	C(.name = "nbytes ~0 on preadv", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = ~0ull, .want = -EINVAL),
	/* bad fd */
	C(.name = "closed fd", .op = IOCB_CMD_PREAD, .fd = CLOSED, .nbytes = 16, .want = -EBADF),
	C(.name = "fd -1", .op = IOCB_CMD_PREAD, .fd = NEG1, .nbytes = 16, .want = -EBADF),
	C(.name = "fd 1<<20", .op = IOCB_CMD_PWRITE, .fd = BIGFD, .nbytes = 16, .want = -EBADF),
	C(.name = "closed fd fsync", .op = IOCB_CMD_FSYNC, .fd = CLOSED, .bufsel = B_NULL, .want = -EBADF),
	C(.name = "closed fd poll", .op = IOCB_CMD_POLL, .fd = CLOSED, .bufsel = B_RAW, .raw_buf = POLLIN, .want = -EBADF),
	/* resfd */
	C(.name = "resfd regular file", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = RW,
	  .want = -EINVAL),
	C(.name = "resfd pipe", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = PIPE_W,
	  .want = -EINVAL),
	C(.name = "resfd closed", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = CLOSED,
	  .want = -EBADF),
	C(.name = "resfd -1", .op = IOCB_CMD_PREAD, .nbytes = 16, .flags = IOCB_FLAG_RESFD, .resfd = NEG1,
	  .want = -EBADF),
	/* opcodes */
	C(.name = "opcode 4 (retired PREADX)", .op = 4, .nbytes = 16, .want = -EINVAL),
	C(.name = "opcode NOOP", .op = IOCB_CMD_NOOP, .bufsel = B_NULL, .want = -EINVAL),
	C(.name = "opcode 9", .op = 9, .nbytes = 16, .want = -EINVAL),
	C(.name = "opcode 0xffff", .op = 0xffff, .nbytes = 16, .want = -EINVAL),
	/* mode */
	C(.name = "pread on O_WRONLY", .op = IOCB_CMD_PREAD, .fd = WO, .nbytes = 16, .want = -EBADF),
	C(.name = "pwrite on O_RDONLY", .op = IOCB_CMD_PWRITE, .fd = RO, .nbytes = 16, .want = -EBADF),
	C(.name = "preadv on O_WRONLY", .op = IOCB_CMD_PREADV, .fd = WO, .bufsel = B_IOV1, .nbytes = 1, .want = -EBADF),
	C(.name = "pwritev on O_RDONLY", .op = IOCB_CMD_PWRITEV, .fd = RO, .bufsel = B_IOV1, .nbytes = 1, .want = -EBADF),
	C(.name = "pread on pipe write end", .op = IOCB_CMD_PREAD, .fd = PIPE_W, .nbytes = 16, .want = -EBADF),
	C(.name = "pwrite on pipe read end", .op = IOCB_CMD_PWRITE, .fd = PIPE_R, .nbytes = 16, .want = -EBADF),
	C(.name = "pread on directory", .op = IOCB_CMD_PREAD, .fd = DIR_, .nbytes = 16, .want = -EINVAL),
	C(.name = "preadv on directory", .op = IOCB_CMD_PREADV, .fd = DIR_, .bufsel = B_IOV1, .nbytes = 1, .want = -EINVAL),
	/* rw_flags */
	C(.name = "rw_flags 1<<31", .op = IOCB_CMD_PREAD, .nbytes = 16, .rwf = 0x80000000u, .want = -EOPNOTSUPP),
	C(.name = "rw_flags 0x200", .op = IOCB_CMD_PWRITE, .nbytes = 16, .rwf = 0x200, .want = -EOPNOTSUPP),
	C(.name = "RWF_ATOMIC read", .op = IOCB_CMD_PREAD, .nbytes = 16, .rwf = RWF_ATOMIC, .want = -EOPNOTSUPP),
	C(.name = "rw_flags 0x200 preadv", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 1, .rwf = 0x200,
	  .want = -EOPNOTSUPP),
	/* fsync / fdsync fields */
	C(.name = "fsync buf", .op = IOCB_CMD_FSYNC, .bufsel = B_BUF, .want = -EINVAL),
	C(.name = "fsync nbytes", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .nbytes = 1, .want = -EINVAL),
	C(.name = "fsync offset", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .off = 1, .want = -EINVAL),
	C(.name = "fsync negative offset", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .off = -1, .want = -EINVAL),
	C(.name = "fsync rw_flags", .op = IOCB_CMD_FSYNC, .bufsel = B_NULL, .rwf = RWF_DSYNC, .want = -EINVAL),
	C(.name = "fdsync buf", .op = IOCB_CMD_FDSYNC, .bufsel = B_BUF, .want = -EINVAL),
	C(.name = "fdsync rw_flags", .op = IOCB_CMD_FDSYNC, .bufsel = B_NULL, .rwf = RWF_HIPRI, .want = -EINVAL),
	C(.name = "fsync pipe", .op = IOCB_CMD_FSYNC, .fd = PIPE_R, .bufsel = B_NULL, .want = -EINVAL),
	C(.name = "fsync socket", .op = IOCB_CMD_FSYNC, .fd = SOCK, .bufsel = B_NULL, .want = -EINVAL),
	C(.name = "fdsync pipe write end", .op = IOCB_CMD_FDSYNC, .fd = PIPE_W, .bufsel = B_NULL, .want = -EINVAL),
	/* poll fields */
	C(.name = "poll offset", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .off = 1, .want = -EINVAL),
	C(.name = "poll nbytes", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .nbytes = 1, .want = -EINVAL),
	C(.name = "poll rw_flags", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = POLLIN, .rwf = RWF_HIPRI,
	  .want = -EINVAL),
	C(.name = "poll buf bit 16", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = 1u << 16, .want = -EINVAL),
	C(.name = "poll buf bit 40", .op = IOCB_CMD_POLL, .bufsel = B_RAW, .raw_buf = 1ull << 40 | POLLIN,
	  .want = -EINVAL),
	/* negative offsets: everywhere, even on pipes and sockets */
	C(.name = "pread offset -1", .op = IOCB_CMD_PREAD, .nbytes = 16, .off = -1, .want = -EINVAL),
	C(.name = "pwrite offset INT64_MIN", .op = IOCB_CMD_PWRITE, .nbytes = 16, .off = INT64_MIN, .want = -EINVAL),
	C(.name = "preadv offset -4096", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 1, .off = -4096,
	  .want = -EINVAL),
	C(.name = "pipe write offset -1", .op = IOCB_CMD_PWRITE, .fd = PIPE_W, .nbytes = 16, .off = -1, .want = -EINVAL),
	C(.name = "pipe read offset -1", .op = IOCB_CMD_PREAD, .fd = PIPE_R, .nbytes = 16, .off = -1, .want = -EINVAL),
	C(.name = "socket read offset -1", .op = IOCB_CMD_PREAD, .fd = SOCK, .nbytes = 16, .off = -1, .want = -EINVAL),
	C(.name = "devnull write offset -1", .op = IOCB_CMD_PWRITE, .fd = DEVNULL, .nbytes = 16, .off = -1,
	  .want = -EINVAL),
	C(.name = "pread 0 bytes offset -1", .op = IOCB_CMD_PREAD, .nbytes = 0, .off = -1, .want = -EINVAL),
	/* iovec counts and arrays */
	C(.name = "preadv 1025 iovecs", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 1025, .want = -EINVAL),
	C(.name = "preadv 0x80000000 iovecs", .op = IOCB_CMD_PREADV, .bufsel = B_IOV1, .nbytes = 0x80000000u,
	  .want = -EINVAL),
	C(.name = "pwritev 0xffffffff iovecs", .op = IOCB_CMD_PWRITEV, .bufsel = B_IOV1, .nbytes = 0xffffffffu,
	  .want = -EINVAL),
	C(.name = "preadv iovec array PROT_NONE", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_NONE, .nbytes = 1,
	  .want = -EFAULT),
	C(.name = "pwritev iovec array PROT_NONE", .op = IOCB_CMD_PWRITEV, .bufsel = B_IOV_NONE, .nbytes = 2,
	  .want = -EFAULT),
	C(.name = "preadv iovec array NULL", .op = IOCB_CMD_PREADV, .bufsel = B_NULL, .nbytes = 1, .want = -EFAULT),
	C(.name = "preadv iovec array kernel half", .op = IOCB_CMD_PREADV, .bufsel = B_IOV_KHALF, .nbytes = 1,
	  .want = -EFAULT),
	/* kernel-half buffers fail at submit */
	C(.name = "pread kernel-half buf", .op = IOCB_CMD_PREAD, .bufsel = B_KHALF, .nbytes = 16, .want = -EFAULT),
	C(.name = "pwrite kernel-half buf", .op = IOCB_CMD_PWRITE, .bufsel = B_KHALF, .nbytes = 16, .want = -EFAULT),
};

static void run_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tcase *c = &cases[i];
		struct outcome k, u;

		if (t_under_valgrind()) {
			if (c->badbuf)
				continue;
			k.rc = c->want;
			k.res = c->k_res ? c->k_res : c->want_res;
			k.key_zero = 1;
			k.efd_count = c->want == 1 && (c->flags & IOCB_FLAG_RESFD) ? 1 : 0;
		} else {
			k = run_on(&t_kernel, c);
		}
		u = run_on(&t_uaio, c);

		if (k.rc != c->want || u.rc != c->want || k.rc != u.rc) {
			t_fail("case \"%s\": submit kernel %d uaio %d, want %d", c->name, k.rc, u.rc, c->want);
			continue;
		}
		if (c->want != 1)
			continue;
		if (k.res != (c->k_res ? c->k_res : c->want_res) || u.res != c->want_res)
			t_fail("case \"%s\": event res kernel %lld uaio %lld, want %lld", c->name, k.res, u.res,
			       c->want_res);
		if (!k.key_zero || !u.key_zero)
			t_fail("case \"%s\": aio_key after submit: kernel zeroed %d uaio zeroed %d", c->name,
			       k.key_zero, u.key_zero);
		if (k.efd_count != u.efd_count || ((c->flags & IOCB_FLAG_RESFD) && u.efd_count != 1))
			t_fail("case \"%s\": eventfd count kernel %d uaio %d", c->name, k.efd_count, u.efd_count);
	}
}

/* A batch of three 16-byte reads at offsets 0, 16, 32; `bad` marks the
 * one to break (-1: none) with `how`. */
static int batch(const struct t_api *a, int bad, int how, int *nev)
{
	struct iocb cbs[3], *v[3];
	unsigned char b[3][16];
	aio_context_t ctx = 0;
	int rc;

	REQUIRE(a->setup(8, &ctx) == 0);
	for (int i = 0; i < 3; i++) {
		uaio_prep_pread(&cbs[i], fds[RW], b[i], 16, i * 16);
		cbs[i].aio_data = (uint64_t)i;
		v[i] = &cbs[i];
	}
	if (bad >= 0) {
		switch (how) {
		case 0: cbs[bad].aio_fildes = (uint32_t)fds[CLOSED]; break;
		case 1: v[bad] = NULL; break;
		case 2: v[bad] = (struct iocb *)none_page; break;
		case 3: cbs[bad].aio_reserved2 = 1; break;
		case 4: v[bad] = (struct iocb *)KHALF; break;
		}
	}
	rc = a->submit(ctx, 3, v);
	/* each submitted iocb yields one event, and only those */
	struct io_event ev[4];
	struct timespec ts = { 0, 50 * 1000 * 1000 };
	int want = rc > 0 ? rc : 0;
	int n = want ? a->getevents(ctx, want, 4, ev, &ts) : 0;
	if (n == want) {
		struct timespec z = { 0, 0 };
		n += a->getevents(ctx, 0, 4, ev + n, &z);
	}
	*nev = n;
	for (int i = 0; i < n && i < want; i++) {
		CHECK_EQ(ev[i].res, 16);
		CHECK(ev[i].data < (uint64_t)want);
	}
	CHECK_EQ(a->destroy(ctx), 0);
	return rc;
}

static void run_batches(void)
{
	static const struct { int bad, how, want; const char *name; } b[] = {
		{ -1, 0, 3, "all good" },
		{ 1, 0, 1, "#2 bad fd" },
		{ 0, 0, -EBADF, "#1 bad fd" },
		{ 2, 0, 2, "#3 bad fd" },
		{ 1, 3, 1, "#2 reserved2" },
		{ 0, 3, -EINVAL, "#1 reserved2" },
		{ 0, 1, -EFAULT, "#1 NULL" },
		{ 1, 1, 1, "#2 NULL" },
		{ 2, 1, 2, "#3 NULL" },
		{ 0, 2, -EFAULT, "#1 PROT_NONE iocb" },
		{ 1, 2, 1, "#2 PROT_NONE iocb" },
		{ 0, 4, -EFAULT, "#1 kernel-half iocb" },
		{ 2, 4, 2, "#3 kernel-half iocb" },
	};
	for (size_t i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		int kn = 0, un = 0;
		int wn = b[i].want > 0 ? b[i].want : 0;
		int k = b[i].want;
		if (t_under_valgrind())
			kn = wn;
		else
			k = batch(&t_kernel, b[i].bad, b[i].how, &kn);
		int u = batch(&t_uaio, b[i].bad, b[i].how, &un);

		if (k != b[i].want || u != b[i].want)
			t_fail("batch \"%s\": kernel %d uaio %d want %d", b[i].name, k, u, b[i].want);
		if (kn != wn || un != wn)
			t_fail("batch \"%s\": events kernel %d uaio %d want %d", b[i].name, kn, un, wn);
	}
}

/* nr < 0, nr == 0, unknown / destroyed / fake ctx, bad iocb arrays. */
static void run_args(const struct t_api *a, int *out)
{
	aio_context_t ctx = 0, dead = 0;
	struct iocb cb, *v[1] = { &cb };
	unsigned char b[16];
	int i = 0;

	REQUIRE(a->setup(4, &ctx) == 0);
	REQUIRE(a->setup(4, &dead) == 0);
	REQUIRE(a->destroy(dead) == 0);
	uaio_prep_pread(&cb, fds[RW], b, 16, 0);

	/* a fake ring: a page that looks like one */
	struct uaio_ring *fake = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(fake != MAP_FAILED);
	fake->nr = 100;
	fake->magic = UAIO_RING_MAGIC;
	fake->compat_features = 1;
	fake->header_length = 32;

	out[i++] = a->submit(ctx, -1, v);
	out[i++] = a->submit(ctx, -1000, NULL);
	out[i++] = a->submit(ctx, 0, v);
	out[i++] = a->submit(ctx, 0, NULL);
	out[i++] = a->submit(ctx, 1, NULL);
	out[i++] = a->submit(ctx, 1, (struct iocb **)none_page);
	out[i++] = a->submit(ctx, 1, (struct iocb **)KHALF);
	out[i++] = a->submit(12345, 1, v);
	out[i++] = a->submit(12345, 0, v);
	out[i++] = a->submit(0, 1, v);
	out[i++] = a->submit(dead, 1, v);
	out[i++] = a->submit(dead, 0, v);
	out[i++] = a->submit((aio_context_t)(uintptr_t)fake, 1, v);
	out[i++] = a->submit((aio_context_t)(uintptr_t)none_page, 1, v);
	out[i++] = a->submit(KHALF, 1, v);
	/* ctx unknown and the array bad: -EINVAL (ctx looked up first) */
	out[i++] = a->submit(12345, 1, NULL);
	/* nothing was submitted by any of those */
	struct io_event ev;
	struct timespec z = { 0, 0 };
	out[i++] = a->getevents(ctx, 0, 1, &ev, &z);
	/* the context still works */
	out[i++] = a->submit(ctx, 1, v);
	out[i++] = t_wait1(a, ctx, &ev) == 1 ? (int)ev.res : -9999;
	CHECK_EQ(a->destroy(ctx), 0);
	munmap(fake, 8192);
}

static void run_all_args(void)
{
	static const int want[] = { -EINVAL, -EINVAL, 0, 0, -EFAULT, -EFAULT, -EFAULT, -EINVAL, -EINVAL,
				    -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, -EINVAL, 0, 1, 16 };
	int k[32], u[32];
	if (t_under_valgrind())
		memcpy(k, want, sizeof(want));
	else
		run_args(&t_kernel, k);
	run_args(&t_uaio, u);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (k[i] != want[i] || u[i] != want[i])
			t_fail("args case %zu: kernel %d uaio %d want %d", i, k[i], u[i], want[i]);
}

/* The ring can never overflow: unreaped requests beyond the free slots get
 * -EAGAIN; at least nr_events are accepted; reaping frees the slots. */
static void run_slots(const struct t_api *a)
{
	aio_context_t ctx = 0;
	enum { MAXV = 4096 };
	static struct iocb cbs[MAXV];
	static struct iocb *v[MAXV];
	static struct io_event ev[MAXV];
	unsigned char b[1];

	REQUIRE(a->setup(4, &ctx) == 0);
	const struct uaio_ring *r = (const struct uaio_ring *)ctx;
	unsigned ringnr = r->nr;
	REQUIRE(ringnr + 8 <= MAXV);
	for (unsigned i = 0; i < ringnr + 8; i++) {
		uaio_prep_pread(&cbs[i], fds[RW], b, 0, 0);
		cbs[i].aio_data = i;
		v[i] = &cbs[i];
	}
	/* one big batch: partial count, never more than the ring holds */
	int got = a->submit(ctx, (long)ringnr + 8, v);
	CHECK(got >= 4);
	CHECK(got < (int)ringnr);
	/* more: -EAGAIN (the first iocb of the call fails) */
	int again = a->submit(ctx, 1, v);
	CHECK_EQ(again, -EAGAIN);
	/* even a bad-fd iocb: slots are checked before the fd (kernel order) */
	struct iocb bad;
	struct iocb *bv[1] = { &bad };
	uaio_prep_pread(&bad, fds[CLOSED], b, 0, 0);
	CHECK_EQ(a->submit(ctx, 1, bv), -EAGAIN);
	/* but reserved2 comes before the slot check */
	bad.aio_reserved2 = 1;
	bad.aio_fildes = (uint32_t)fds[RW];
	CHECK_EQ(a->submit(ctx, 1, bv), -EINVAL);
	/* exactly `got` events, all with res 0, in submission order */
	struct timespec ts = { 10, 0 };
	int n = 0;
	while (n < got) {
		int m = a->getevents(ctx, 1, MAXV - n, ev + n, &ts);
		if (m <= 0)
			break;
		n += m;
	}
	CHECK_EQ(n, got);
	for (int i = 0; i < n; i++) {
		CHECK_EQ(ev[i].res, 0);
		CHECK_EQ(ev[i].data, (uint64_t)i);
	}
	struct timespec z = { 0, 0 };
	CHECK_EQ(a->getevents(ctx, 0, 1, ev, &z), 0);
	/* slots are back */
	CHECK_EQ(a->submit(ctx, 4, v), 4);
	CHECK_EQ(a->getevents(ctx, 4, 4, ev, &ts), 4);
	CHECK_EQ(a->destroy(ctx), 0);
	fprintf(stderr, "%s: ring nr %u, unreaped requests accepted %d\n", a->name, ringnr, got);
}

/* aio_key is written 0; the iocb may be rewritten after submit. */
static void run_reuse(const struct t_api *a)
{
	aio_context_t ctx = 0;
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	int p[2];

	REQUIRE(pipe(p) == 0);
	REQUIRE(a->setup(4, &ctx) == 0);

	/* a POLL that stays pending on both kernel and uaio */
	uaio_prep_poll(&cb, p[0], POLLIN);
	cb.aio_data = 0xabcdef;
	cb.aio_key = 0xffffffff;
	CHECK_EQ(a->submit(ctx, 1, v), 1);
	CHECK_EQ(cb.aio_key, 0);
	memset(&cb, 0xa5, sizeof(cb));
	cb.aio_data = 1;
	REQUIRE(write(p[1], "x", 1) == 1);
	CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	CHECK_EQ(ev.data, 0xabcdef);
	CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
	CHECK_EQ(ev.res & POLLIN, POLLIN);
	CHECK_EQ(ev.res2, 0);

	/* a file read whose iocb is rewritten at once */
	unsigned char b[64];
	memset(b, 0, sizeof(b));
	uaio_prep_pread(&cb, fds[RO], b, 64, 256);
	cb.aio_data = 0x777;
	cb.aio_key = 1;
	CHECK_EQ(a->submit(ctx, 1, v), 1);
	CHECK_EQ(cb.aio_key, 0);
	memset(&cb, 0x5a, sizeof(cb));
	CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	CHECK_EQ(ev.data, 0x777);
	CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
	CHECK_EQ(ev.res, 64);
	CHECK_EQ(b[0], t_pattern(256));
	CHECK_EQ(b[63], t_pattern(256 + 63));

	/* uaio only: a pipe read that must wait, iocb rewritten meanwhile
	 * (the kernel would block in submit) */
	if (a == &t_uaio) {
		char c[8] = { 0 };
		REQUIRE(read(p[0], c, 1) == 1);
		uaio_prep_pread(&cb, p[0], c, 8, 0);
		cb.aio_data = 0x999;
		CHECK_EQ(a->submit(ctx, 1, v), 1);
		memset(&cb, 0, sizeof(cb));
		cb.aio_data = 5;
		cb.aio_fildes = (uint32_t)fds[CLOSED];
		REQUIRE(write(p[1], "hello", 5) == 5);
		CHECK_EQ(t_wait1(a, ctx, &ev), 1);
		CHECK_EQ(ev.data, 0x999);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
		CHECK_EQ(ev.res, 5);
		CHECK(memcmp(c, "hello", 5) == 0);
	}
	CHECK_EQ(a->destroy(ctx), 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	int p[2], s[2];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)i;
	fds[RW] = t_tmpfile(8192, 0);
	fds[RO] = reopen(t_tmpfile(8192, 0), O_RDONLY);
	fds[WO] = t_tmpfile(8192, O_WRONLY);
	fds[DIR_] = open("/", O_RDONLY | O_DIRECTORY);
	REQUIRE(fds[DIR_] >= 0);
	REQUIRE(pipe(p) == 0);
	fds[PIPE_R] = p[0];
	fds[PIPE_W] = pipe_w_fd = p[1];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	fds[SOCK] = s[0];
	sockpeer = s[1];
	fds[DEVNULL] = open("/dev/null", O_RDWR);
	REQUIRE(fds[DEVNULL] >= 0);
	fds[EFD] = eventfd(0, EFD_NONBLOCK);
	REQUIRE(fds[EFD] >= 0);
	/* a closed fd number that nothing (uaio included) will open meanwhile */
	fds[CLOSED] = 1000;
	while (fds[CLOSED] > 500 && fcntl(fds[CLOSED], F_GETFD) != -1)
		fds[CLOSED]--;
	REQUIRE(fcntl(fds[CLOSED], F_GETFD) == -1);
	fds[NEG1] = -1;
	fds[BIGFD] = 1 << 20;
	none_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(none_page != MAP_FAILED);
	iov1[0].iov_base = buf;
	iov1[0].iov_len = 16;
	iov_badbase[0].iov_base = none_page;
	iov_badbase[0].iov_len = 16;

	run_table();
	run_batches();
	run_all_args();
	if (!t_under_valgrind())
		run_slots(&t_kernel);
	run_slots(&t_uaio);
	if (!t_under_valgrind())
		run_reuse(&t_kernel);
	run_reuse(&t_uaio);

	for (int i = 0; i < CLOSED; i++)
		close(fds[i]);
	close(sockpeer);
	munmap(none_page, 4096);
	ctx_release();
	return t_done();
}
