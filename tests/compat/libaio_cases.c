/* SPDX-License-Identifier: MIT */
/*
 * libaio_cases.c - one program written against Debian's <libaio.h> and
 * linked with -laio.  tests/libaio_compare.sh runs it twice, once on
 * Debian's libaio.so.1 (the kernel's AIO) and once on uaio's drop-in
 * libaio.so.1, and compares the output line by line.
 *
 * Every case prints exactly one deterministic line on stdout,
 * "name: key=value ...", made of return values, event fields and booleans
 * only: never an address, an fd number or a time.  A case that cannot run
 * here prints "name: skipped" (the same on both libraries).  The object
 * that provides io_submit is reported on stderr ("provider: PATH") so the
 * script can prove which library served the run.
 *
 * Rules kept so that Debian's libaio never crashes: io_getevents and
 * io_pgetevents read the ring header of any non-NULL context (magic, head,
 * tail) and dereference the timeout when the context is a live ring, so
 * they are only given NULL, a live ring, or a mapped zero block that is
 * not a ring; a bad timeout only goes with a context that is not a ring.
 * Nothing may block for ever on the kernel: a read of an empty pipe would
 * block inside io_submit there, so pending requests are POLLs.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* libaio exports io_queue_wait (LIBAIO_0.4) but its header comments the
 * declaration out. */
extern int io_queue_wait(io_context_t ctx, struct timespec *timeout);

#ifndef RWF_HIPRI
#define RWF_HIPRI 0x00000001
#endif
#ifndef RWF_DSYNC
#define RWF_DSYNC 0x00000002
#endif
#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
#ifndef RWF_APPEND
#define RWF_APPEND 0x00000010
#endif
#define RWF_UNKNOWN_BIT (1u << 30)
#define IOCB_FLAG_RESFD_ (1u << 0)
#define IOCB_FLAG_IOPRIO_ (1u << 1)

static long page_size;
static void *noaccess_page;	/* PROT_NONE: every access faults */
static void *readonly_page;	/* PROT_READ, zero-filled */
static void *kernel_addr = (void *)0xffff800000000000ull;
/* The buffer of the bad-buffer cases: normally the PROT_NONE page; under
 * valgrind (which reports unaddressable system call buffers) a shared
 * mapping of an empty file, which valgrind deems addressable but the
 * kernel cannot fill or read (beyond end of file): -EFAULT all the same. */
static void *bad_buf;
static int bad_buf_fd = -1;
/* A mapped, zeroed block that was never a ring: an "unknown context"
 * that libaio can safely read the (absent) ring magic from. */
static union { char b[256]; long align; } fake_ring;
#define FAKE_CTX ((io_context_t)(void *)&fake_ring)

/* ---------------------------------------------------------------- helpers */

static void out(const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void die(const char *name, const char *what)
{
	fprintf(stderr, "%s: setup failed: %s (errno %d)\n", name, what, errno);
	printf("%s: SETUP-FAILED %s\n", name, what);
	exit(2);
}

static unsigned char pat(long long off)
{
	return (unsigned char)(off * 131 + (off >> 9) + 7);
}

static void fill_pat(unsigned char *p, size_t n, long long off)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(off + (long long)i);
}

static int check_pat(const unsigned char *p, size_t n, long long off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pat(off + (long long)i))
			return 0;
	return 1;
}

static const char *tmp_dir(void)
{
	const char *d = getenv("TMPDIR");

	return d && *d ? d : "/tmp";
}

/* A temporary regular file of `size` bytes of pat(), opened with `flags`
 * and already unlinked.  Returns -1 (errno set) if open(flags) fails. */
static int open_tmp(const char *name, size_t size, int flags)
{
	char path[PATH_MAX];
	unsigned char buf[65536];
	int fd, fd2, e;

	snprintf(path, sizeof(path), "%s/uaio-compat-XXXXXX", tmp_dir());
	fd = mkstemp(path);
	if (fd < 0)
		die(name, "mkstemp");
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

		fill_pat(buf, n, (long long)off);
		if (pwrite(fd, buf, n, (off_t)off) != (ssize_t)n)
			die(name, "pwrite");
	}
	fd2 = open(path, flags);
	e = errno;
	unlink(path);
	close(fd);
	errno = e;
	return fd2;
}

static io_context_t mkctx(const char *name, int nr)
{
	io_context_t ctx = 0;
	int ret = io_setup(nr, &ctx);

	if (ret != 0) {
		errno = -ret;
		die(name, "io_setup");
	}
	return ctx;
}

static void rmctx(const char *name, io_context_t ctx)
{
	if (io_destroy(ctx) != 0)
		die(name, "io_destroy");
}

static void mkpipe(const char *name, int p[2])
{
	if (pipe(p) != 0)
		die(name, "pipe");
}

static void close2(int p[2])
{
	close(p[0]);
	close(p[1]);
}

/* Waits (5 s at most) for between min and max events. */
static int reap(io_context_t ctx, int min, int max, struct io_event *ev)
{
	struct timespec ts = { 5, 0 };

	return io_getevents(ctx, min, max, ev, &ts);
}

/* What is in the ring right now, without waiting. */
static int reap_now(io_context_t ctx, int max, struct io_event *ev)
{
	struct timespec ts = { 0, 0 };

	return io_getevents(ctx, 0, max, ev, &ts);
}

static int submit1(io_context_t ctx, struct iocb *cb)
{
	struct iocb *v[1] = { cb };

	return io_submit(ctx, 1, v);
}

/* The outcome of one request on a fresh context. */
struct res {
	int ret, n, ev_ok;
	long res, res2;
};

/* Submits one iocb to a fresh context and reaps its event (if it was
 * submitted). */
static struct res run1(const char *name, struct iocb *cb)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev;
	struct res r = { 0, 0, 0, 0, 0 };

	cb->data = (void *)0x5eed;
	r.ret = submit1(ctx, cb);
	if (r.ret == 1) {
		r.n = reap(ctx, 1, 1, &ev);
		if (r.n == 1) {
			r.res = (long)ev.res;
			r.res2 = (long)ev.res2;
			r.ev_ok = ev.data == (void *)0x5eed && ev.obj == cb;
		}
	}
	rmctx(name, ctx);
	return r;
}

/* Prints ret and, if submitted, the event's fields, then `fmt`. */
static void print1(const char *name, struct res r, const char *fmt, ...)
{
	char extra[256] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	if (r.ret != 1)
		out(name, "ret=%d%s", r.ret, extra);
	else
		out(name, "ret=%d n=%d res=%ld res2=%ld ev_ok=%d%s", r.ret, r.n, r.res, r.res2,
		    r.ev_ok, extra);
}

static void one(const char *name, struct iocb *cb)
{
	print1(name, run1(name, cb), NULL);
}

/* Submit of one iocb expected to fail synchronously: prints ret and
 * whether aio_key was stored (the kernel stores 0 after the fd and
 * eventfd checks, before the opcode's own checks); if the iocb was
 * accepted after all, reaps it so nothing leaks. */
static void sub_err(const char *name, struct iocb *cb)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev;
	int ret;
	const char *key;

	cb->key = 0xdead;
	ret = submit1(ctx, cb);
	key = cb->key == 0xdead ? "kept" : cb->key == 0 ? "zeroed" : "other";
	if (ret == 1) {
		struct timespec ts = { 1, 0 };
		int n = io_getevents(ctx, 1, 1, &ev, &ts);

		out(name, "ret=%d key=%s n=%d res=%ld", ret, key, n, n == 1 ? (long)ev.res : 0L);
	} else {
		out(name, "ret=%d key=%s", ret, key);
	}
	rmctx(name, ctx);
}

/* ------------------------------------------------------------------ setup */

static void setup_ctxp_nonzero(const char *name)
{
	io_context_t ctx = (io_context_t)(uintptr_t)1;

	out(name, "ret=%d", io_setup(4, &ctx));
}

static void setup_nr(const char *name, int nr)
{
	io_context_t ctx = 0;
	int ret = io_setup(nr, &ctx);

	out(name, "ret=%d", ret);
	if (ret == 0)
		io_destroy(ctx);
}

static void setup_nr_zero(const char *n) { setup_nr(n, 0); }
static void setup_nr_negative(const char *n) { setup_nr(n, -1); }
static void setup_nr_huge(const char *n) { setup_nr(n, 1 << 24); }
static void setup_nr_max(const char *n) { setup_nr(n, INT_MAX); }

static void setup_over_quota(const char *name)
{
	FILE *f = fopen("/proc/sys/fs/aio-max-nr", "r");
	long max = 0;

	if (!f || fscanf(f, "%ld", &max) != 1 || max != 65536) {
		if (f)
			fclose(f);
		out(name, "skipped");
		return;
	}
	fclose(f);
	setup_nr(name, 65537);
}

static void setup_ctxp_null(const char *name)
{
	out(name, "ret=%d", io_setup(4, NULL));
}

static void setup_ctxp_one(const char *name)
{
	out(name, "ret=%d", io_setup(4, (io_context_t *)(uintptr_t)1));
}

static void setup_ctxp_kernel(const char *name)
{
	out(name, "ret=%d", io_setup(4, (io_context_t *)kernel_addr));
}

static void setup_ctxp_noaccess(const char *name)
{
	out(name, "ret=%d", io_setup(4, (io_context_t *)noaccess_page));
}

/* A read-only zero: the kernel reads 0, creates the context, fails to
 * store the handle and destroys it again: -EFAULT. */
static void setup_ctxp_readonly(const char *name)
{
	out(name, "ret=%d", io_setup(4, (io_context_t *)readonly_page));
}

static void setup_ctxp_null_nr_zero(const char *name)
{
	out(name, "ret=%d", io_setup(0, NULL));
}

static void setup_ok(const char *name)
{
	io_context_t ctx = 0;
	int ret = io_setup(1, &ctx);
	int set = ctx != 0;
	int d1 = ret == 0 ? io_destroy(ctx) : 0;

	out(name, "ret=%d ctx_set=%d destroy=%d", ret, set, d1);
}

static void setup_two_distinct(const char *name)
{
	io_context_t a = 0, b = 0;
	int ra = io_setup(8, &a), rb = io_setup(8, &b);

	out(name, "ret=%d,%d distinct=%d", ra, rb, a != b);
	if (ra == 0)
		io_destroy(a);
	if (rb == 0)
		io_destroy(b);
}

static void queue_init_zero(const char *name)
{
	io_context_t ctx = 0;

	out(name, "ret=%d", io_queue_init(0, &ctx));
}

static void queue_init_negative(const char *name)
{
	io_context_t ctx = 0;

	out(name, "ret=%d", io_queue_init(-5, &ctx));
}

/* io_queue_init clears *ctxp itself before io_setup. */
static void queue_init_ok(const char *name)
{
	io_context_t ctx = (io_context_t)(uintptr_t)0x1234;
	int ret = io_queue_init(8, &ctx);
	int set = ret == 0 && ctx != 0 && ctx != (io_context_t)(uintptr_t)0x1234;
	int r1 = ret == 0 ? io_queue_release(ctx) : 0;
	int r2 = ret == 0 ? io_queue_release(ctx) : 0;

	out(name, "ret=%d ctx_set=%d release=%d release_again=%d", ret, set, r1, r2);
}

/* ----------------------------------------------------------------- submit */

static void submit_nr_negative(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct iocb cb, *v[1] = { &cb };

	memset(&cb, 0, sizeof(cb));
	out(name, "ret=%d", io_submit(ctx, -1, v));
	rmctx(name, ctx);
}

static void submit_nr_zero(const char *name)
{
	io_context_t ctx = mkctx(name, 4);

	out(name, "ret=%d", io_submit(ctx, 0, NULL));
	rmctx(name, ctx);
}

static void submit_nr_zero_unknown_ctx(const char *name)
{
	out(name, "ret=%d", io_submit(FAKE_CTX, 0, NULL));
}

static void submit_unknown_ctx(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb, *v[1] = { &cb };

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	out(name, "ret=%d", io_submit(FAKE_CTX, 1, v));
	close(fd);
}

static void submit_null_ctx(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb, *v[1] = { &cb };

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	out(name, "ret=%d", io_submit(NULL, 1, v));
	close(fd);
}

static void submit_destroyed_ctx(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb, *v[1] = { &cb };

	rmctx(name, ctx);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	out(name, "ret=%d", io_submit(ctx, 1, v));
	close(fd);
}

static void submit_reserved2(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.__pad3 = 1;	/* aio_reserved2 */
	sub_err(name, &cb);
	close(fd);
}

static void submit_nbytes_huge(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.nbytes = (unsigned long)SSIZE_MAX + 1;
	sub_err(name, &cb);
	close(fd);
}

static void submit_bad_fd(const char *name)
{
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, -1, buf, sizeof(buf), 0);
	sub_err(name, &cb);
}

static void submit_closed_fd(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	close(fd);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
}

static void submit_resfd_not_eventfd(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, fd);
	sub_err(name, &cb);
	close(fd);
}

static void submit_resfd_closed(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	int efd = eventfd(0, 0);
	char buf[64];
	struct iocb cb;

	close(efd);
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, efd);
	sub_err(name, &cb);
	close(fd);
}

static void submit_opcode(const char *name, int op, int badfd)
{
	int fd = open_tmp(name, 4096, O_RDWR);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, badfd ? -1 : fd, buf, sizeof(buf), 0);
	cb.aio_lio_opcode = (short)op;
	sub_err(name, &cb);
	close(fd);
}

static void submit_opcode_unknown(const char *n) { submit_opcode(n, 99, 0); }
static void submit_opcode_noop(const char *n) { submit_opcode(n, IO_CMD_NOOP, 0); }
static void submit_opcode_4(const char *n) { submit_opcode(n, 4, 0); }
static void submit_opcode_negative(const char *n) { submit_opcode(n, -1, 0); }
static void submit_opcode_unknown_bad_fd(const char *n) { submit_opcode(n, 99, 1); }

static void submit_read_on_wronly(const char *name)
{
	int fd = open_tmp(name, 4096, O_WRONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_write_on_rdonly(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64] = { 0 };
	struct iocb cb;

	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_preadv_on_wronly(const char *name)
{
	int fd = open_tmp(name, 4096, O_WRONLY);
	char buf[64];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	io_prep_preadv(&cb, fd, &iov, 1, 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_rwflags_unknown(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_rw_flags = RWF_UNKNOWN_BIT;
	sub_err(name, &cb);
	close(fd);
}

/* The kernel checks rw_flags before the fd's access mode. */
static void submit_rwflags_unknown_wronly(const char *name)
{
	int fd = open_tmp(name, 4096, O_WRONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_rw_flags = RWF_UNKNOWN_BIT;
	sub_err(name, &cb);
	close(fd);
}

static void submit_fsync_field(const char *name, int which, int datasync)
{
	int fd = open_tmp(name, 4096, O_RDWR);
	struct iocb cb;

	if (datasync)
		io_prep_fdsync(&cb, fd);
	else
		io_prep_fsync(&cb, fd);
	switch (which) {
	case 0: cb.u.c.buf = &cb; break;
	case 1: cb.u.c.nbytes = 1; break;
	case 2: cb.u.c.offset = 4096; break;
	case 3: cb.aio_rw_flags = RWF_DSYNC; break;
	}
	sub_err(name, &cb);
	close(fd);
}

static void submit_fsync_buf(const char *n) { submit_fsync_field(n, 0, 0); }
static void submit_fsync_nbytes(const char *n) { submit_fsync_field(n, 1, 0); }
static void submit_fsync_offset(const char *n) { submit_fsync_field(n, 2, 0); }
static void submit_fsync_rwflags(const char *n) { submit_fsync_field(n, 3, 0); }
static void submit_fdsync_offset(const char *n) { submit_fsync_field(n, 2, 1); }

static void submit_fsync_pipe(const char *name)
{
	int p[2];
	struct iocb cb;

	mkpipe(name, p);
	io_prep_fsync(&cb, p[1]);
	sub_err(name, &cb);
	close2(p);
}

static void submit_fdsync_socket(const char *name)
{
	int s[2];
	struct iocb cb;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0)
		die(name, "socketpair");
	io_prep_fdsync(&cb, s[0]);
	sub_err(name, &cb);
	close2(s);
}

static void submit_poll_field(const char *name, int which)
{
	int p[2];
	struct iocb cb;

	mkpipe(name, p);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	io_prep_poll(&cb, p[0], POLLIN);
	switch (which) {
	case 0: cb.u.c.offset = 1; break;
	case 1: cb.u.c.nbytes = 1; break;
	case 2: cb.aio_rw_flags = RWF_HIPRI; break;
	case 3: cb.u.poll.events = 0x10000 | POLLIN; break;
	}
	sub_err(name, &cb);
	close2(p);
}

static void submit_poll_offset(const char *n) { submit_poll_field(n, 0); }
static void submit_poll_nbytes(const char *n) { submit_poll_field(n, 1); }
static void submit_poll_rwflags(const char *n) { submit_poll_field(n, 2); }
static void submit_poll_events_over16(const char *n) { submit_poll_field(n, 3); }

static void submit_negative_offset_file(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), -4096);
	sub_err(name, &cb);
	close(fd);
}

static void submit_offset_overflow_file(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), LLONG_MAX - 10);
	sub_err(name, &cb);
	close(fd);
}

static void submit_negative_offset_write_file(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDWR);
	char buf[64] = { 0 };
	struct iocb cb;

	io_prep_pwrite(&cb, fd, buf, sizeof(buf), -1);
	sub_err(name, &cb);
	close(fd);
}

static void submit_preadv_iovcnt(const char *name, int iovcnt)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	static struct iovec iov[IOV_MAX + 1];
	static char buf[8];
	struct iocb cb;

	for (int i = 0; i <= IOV_MAX; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = 1;
	}
	io_prep_preadv(&cb, fd, iov, iovcnt, 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_preadv_iovcnt_over(const char *n) { submit_preadv_iovcnt(n, IOV_MAX + 1); }
static void submit_preadv_iovcnt_max(const char *n) { submit_preadv_iovcnt(n, IOV_MAX); }
static void submit_preadv_iovcnt_negative(const char *n) { submit_preadv_iovcnt(n, -1); }
static void submit_preadv_iovcnt_zero(const char *n) { submit_preadv_iovcnt(n, 0); }

static void submit_preadv_bad_array(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	struct iocb cb;

	io_prep_preadv(&cb, fd, (const struct iovec *)noaccess_page, 2, 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_preadv_iov_len_negative(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iovec iov[2] = { { buf, 8 }, { buf, (size_t)-1 } };
	struct iocb cb;

	io_prep_preadv(&cb, fd, iov, 2, 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_null_iocb_ptr(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct iocb *v[1] = { NULL };

	out(name, "ret=%d", io_submit(ctx, 1, v));
	rmctx(name, ctx);
}

static void submit_iocb_noaccess(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct iocb *v[1] = { (struct iocb *)noaccess_page };

	out(name, "ret=%d", io_submit(ctx, 1, v));
	rmctx(name, ctx);
}

static void submit_array_noaccess(const char *name)
{
	io_context_t ctx = mkctx(name, 4);

	out(name, "ret=%d", io_submit(ctx, 1, (struct iocb **)noaccess_page));
	rmctx(name, ctx);
}

/* [ok, bad, ok]: 1 submitted, exactly one event; [bad, ok]: the error. */
static void submit_stop_at_first_failure(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int fd = open_tmp(name, 8192, O_RDONLY);
	char b0[64], b2[64];
	struct iocb c0, c1, c2, *v[3] = { &c0, &c1, &c2 };
	struct io_event ev[4];
	int ret, n, more;

	io_prep_pread(&c0, fd, b0, sizeof(b0), 0);
	io_prep_pread(&c1, -1, b0, sizeof(b0), 0);
	io_prep_pread(&c2, fd, b2, sizeof(b2), 0);
	c0.data = (void *)1;
	c2.data = (void *)3;
	ret = io_submit(ctx, 3, v);
	n = reap(ctx, 1, 4, ev);
	more = reap_now(ctx, 4, ev + 1);
	out(name, "ret=%d n=%d first=%d res=%ld more=%d", ret, n,
	    n >= 1 && ev[0].obj == &c0 && ev[0].data == (void *)1, n >= 1 ? (long)ev[0].res : 0L, more);
	rmctx(name, ctx);
	close(fd);
}

static void submit_first_fails(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int fd = open_tmp(name, 8192, O_RDONLY);
	char b0[64];
	struct iocb c0, c1, *v[2] = { &c0, &c1 };
	struct io_event ev[2];
	int ret;

	io_prep_pread(&c0, fd, b0, sizeof(b0), 0);
	c0.aio_lio_opcode = 99;
	io_prep_pread(&c1, fd, b0, sizeof(b0), 0);
	ret = io_submit(ctx, 2, v);
	out(name, "ret=%d events=%d", ret, reap_now(ctx, 2, ev));
	rmctx(name, ctx);
	close(fd);
}

static void submit_batch_ok(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int fd = open_tmp(name, 8192, O_RDONLY);
	unsigned char b[4][512];
	struct iocb c[4], *v[4];
	struct io_event ev[4];
	int ret, n, ok = 1, seen = 0;

	for (int i = 0; i < 4; i++) {
		io_prep_pread(&c[i], fd, b[i], 512, i * 1000);
		c[i].data = (void *)(uintptr_t)(i + 1);
		v[i] = &c[i];
	}
	ret = io_submit(ctx, 4, v);
	n = reap(ctx, 4, 4, ev);
	for (int i = 0; i < n; i++) {
		int k = (int)(uintptr_t)ev[i].data - 1;

		if (k < 0 || k > 3 || ev[i].obj != &c[k] || ev[i].res != 512 ||
		    !check_pat(b[k], 512, k * 1000))
			ok = 0;
		else
			seen |= 1 << k;
	}
	out(name, "ret=%d n=%d all_ok=%d", ret, n, ok && seen == 15);
	rmctx(name, ctx);
	close(fd);
}

static void submit_key_zeroed(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.key = 0xdead;
	{
		io_context_t ctx = mkctx(name, 4);
		struct io_event ev;
		int ret = submit1(ctx, &cb);
		unsigned key = cb.key;
		int n = reap(ctx, 1, 1, &ev);

		out(name, "ret=%d key=%u n=%d", ret, key, n);
		rmctx(name, ctx);
	}
	close(fd);
}

/* The kernel stores the key after the fd check but before the opcode
 * check: a bad opcode leaves the key 0, a bad fd leaves it alone. */
static void submit_key_failed(const char *name, int badfd)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;
	io_context_t ctx = mkctx(name, 4);
	int ret;

	io_prep_pread(&cb, badfd ? -1 : fd, buf, sizeof(buf), 0);
	if (!badfd)
		cb.aio_lio_opcode = 99;
	cb.key = 0xdead;
	ret = submit1(ctx, &cb);
	out(name, "ret=%d key=%u", ret, cb.key);
	rmctx(name, ctx);
	close(fd);
}

static void submit_key_bad_opcode(const char *n) { submit_key_failed(n, 0); }
static void submit_key_bad_fd(const char *n) { submit_key_failed(n, 1); }

/* The iocb is copied at submit: rewriting it afterwards changes nothing. */
static void submit_iocb_copied(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, now, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	cb.data = (void *)0xabc;
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	memset(&cb, 0x5a, sizeof(cb));
	cb.key = 0;
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d now=%d n=%d data_ok=%d obj_ok=%d res=%ld", ret, now, n,
	    n == 1 && ev.data == (void *)0xabc, n == 1 && ev.obj == &cb, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(p);
}

/* A small context, POLLs that never fire: -EAGAIN eventually. */
static void submit_eagain_slots(const char *name)
{
	enum { MAXTRY = 4096 };
	static struct iocb cbs[MAXTRY];
	io_context_t ctx = mkctx(name, 1);
	int p[2], ret = 0, i;

	mkpipe(name, p);
	for (i = 0; i < MAXTRY; i++) {
		io_prep_poll(&cbs[i], p[0], POLLIN);
		cbs[i].key = 0xdead;
		ret = submit1(ctx, &cbs[i]);
		if (ret != 1)
			break;
	}
	out(name, "ret=%d at_least_one=%d refused_key_kept=%d destroy=%d", ret, i >= 1,
	    i < MAXTRY && cbs[i].key == 0xdead, io_destroy(ctx));
	close2(p);
}

/* A batch larger than the free slots: partial count, then -EAGAIN. */
static void submit_eagain_batch(const char *name)
{
	enum { N = 4096 };
	static struct iocb cbs[N];
	static struct iocb *v[N];
	io_context_t ctx = mkctx(name, 1);
	int p[2], ret, ret2;

	mkpipe(name, p);
	for (int i = 0; i < N; i++) {
		io_prep_poll(&cbs[i], p[0], POLLIN);
		v[i] = &cbs[i];
	}
	ret = io_submit(ctx, N, v);
	ret2 = 1;
	for (int i = ret > 0 ? ret : 0; i < N && ret2 == 1; i++)
		ret2 = submit1(ctx, &cbs[i]);
	out(name, "partial=%d then=%d destroy=%d", ret > 0 && ret < N, ret2, io_destroy(ctx));
	close2(p);
}

static void submit_reqprio_ignored(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.aio_reqprio = 0x7fff;
	one(name, &cb);
	close(fd);
}

static void submit_ioprio_invalid(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= IOCB_FLAG_IOPRIO_;
	cb.aio_reqprio = (short)(7 << 13);
	sub_err(name, &cb);
	close(fd);
}

static void submit_ioprio_best_effort(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= IOCB_FLAG_IOPRIO_;
	cb.aio_reqprio = (short)((2 << 13) | 4);
	one(name, &cb);
	close(fd);
}

static void submit_unknown_aio_flags(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= 1u << 7;
	one(name, &cb);
	close(fd);
}

static void submit_read_dir(const char *name)
{
	int fd = open(tmp_dir(), O_RDONLY | O_DIRECTORY);
	char buf[64];
	struct iocb cb;

	if (fd < 0)
		die(name, "open dir");
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
	close(fd);
}

static void submit_kernel_buffer(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	struct iocb cb;

	io_prep_pread(&cb, fd, kernel_addr, 64, 0);
	sub_err(name, &cb);
	close(fd);
}

/* --------------------------------------------------------------------- io */

static void rw_pwrite_pread(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 0, O_RDWR);
	static unsigned char w[8192], r[8192];
	struct iocb cw, cr;
	struct io_event ev;
	int ret1, n1, ret2, n2;
	long res1, res2;
	struct stat st;

	fill_pat(w, sizeof(w), 4096);
	io_prep_pwrite(&cw, fd, w, sizeof(w), 4096);
	ret1 = submit1(ctx, &cw);
	n1 = reap(ctx, 1, 1, &ev);
	res1 = (long)ev.res;
	io_prep_pread(&cr, fd, r, sizeof(r), 4096);
	ret2 = submit1(ctx, &cr);
	n2 = reap(ctx, 1, 1, &ev);
	res2 = (long)ev.res;
	fstat(fd, &st);
	out(name, "write ret=%d n=%d res=%ld size=%lld read ret=%d n=%d res=%ld res2=%ld data_ok=%d",
	    ret1, n1, res1, (long long)st.st_size, ret2, n2, res2, (long)ev.res2,
	    check_pat(r, sizeof(r), 4096));
	rmctx(name, ctx);
	close(fd);
}

static void rw_pread_cached(const char *name)
{
	int fd = open_tmp(name, 65536, O_RDONLY);
	static unsigned char buf[8192];
	struct iocb cb;
	struct res r;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 12345);
	r = run1(name, &cb);
	print1(name, r, " data_ok=%d", check_pat(buf, sizeof(buf), 12345));
	close(fd);
}

/* A cached read completes inside io_submit (SPEC §2, kernel too). */
static void rw_cached_ready_at_submit(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 65536, O_RDONLY);
	unsigned char buf[4096];
	struct iocb cb;
	struct io_event ev;
	int ret, now;

	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		die(name, "pread");
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	out(name, "ret=%d ready=%d res=%ld", ret, now, now == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close(fd);
}

static void rw_pwritev_preadv(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 0, O_RDWR);
	static unsigned char w[5100], r[5100];
	struct iovec wv[3] = { { w, 100 }, { w + 100, 4000 }, { w + 4100, 1000 } };
	struct iovec rv[3] = { { r, 1000 }, { r + 1000, 1 }, { r + 1001, 4099 } };
	struct iocb cw, cr;
	struct io_event e1, e2;
	int ret1, ret2, n1, n2;

	fill_pat(w, sizeof(w), 777);
	io_prep_pwritev(&cw, fd, wv, 3, 777);
	ret1 = submit1(ctx, &cw);
	n1 = reap(ctx, 1, 1, &e1);
	io_prep_preadv(&cr, fd, rv, 3, 777);
	ret2 = submit1(ctx, &cr);
	n2 = reap(ctx, 1, 1, &e2);
	out(name, "pwritev ret=%d n=%d res=%ld preadv ret=%d n=%d res=%ld data_ok=%d", ret1, n1,
	    (long)e1.res, ret2, n2, (long)e2.res, check_pat(r, sizeof(r), 777));
	rmctx(name, ctx);
	close(fd);
}

static void rw_short_at_eof(const char *name)
{
	int fd = open_tmp(name, 1000, O_RDONLY);
	static unsigned char buf[4096];
	struct iocb cb;

	struct res r;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 900);
	r = run1(name, &cb);
	print1(name, r, " data_ok=%d", check_pat(buf, 100, 900));
	close(fd);
}

static void rw_read_past_eof(const char *name)
{
	int fd = open_tmp(name, 1000, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 1 << 20);
	one(name, &cb);
	close(fd);
}

static void rw_read_zero_len(const char *name)
{
	int fd = open_tmp(name, 1000, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, 0, 0);
	one(name, &cb);
	close(fd);
}

static void rw_preadv_short_at_eof(const char *name)
{
	int fd = open_tmp(name, 1500, O_RDONLY);
	static unsigned char buf[3000];
	struct iovec iov[2] = { { buf, 1000 }, { buf + 1000, 2000 } };
	struct iocb cb;

	struct res r;

	io_prep_preadv(&cb, fd, iov, 2, 0);
	r = run1(name, &cb);
	print1(name, r, " data_ok=%d", check_pat(buf, 1500, 0));
	close(fd);
}

static void rw_write_extends(const char *name)
{
	int fd = open_tmp(name, 0, O_RDWR);
	char buf[100];
	struct iocb cb;
	struct stat st;
	struct res r;

	memset(buf, 'z', sizeof(buf));
	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 10000);
	r = run1(name, &cb);
	fstat(fd, &st);
	print1(name, r, " size=%lld", (long long)st.st_size);
	close(fd);
}

static void rw_sync(const char *name, int datasync, int flags)
{
	int fd = open_tmp(name, 4096, flags);
	struct iocb cb;

	if (datasync)
		io_prep_fdsync(&cb, fd);
	else
		io_prep_fsync(&cb, fd);
	one(name, &cb);
	close(fd);
}

static void rw_fsync(const char *n) { rw_sync(n, 0, O_RDWR); }
static void rw_fdsync(const char *n) { rw_sync(n, 1, O_RDWR); }
static void rw_fsync_rdonly(const char *n) { rw_sync(n, 0, O_RDONLY); }

static void rw_fsync_dir(const char *name)
{
	int fd = open(tmp_dir(), O_RDONLY | O_DIRECTORY);
	struct iocb cb;

	if (fd < 0)
		die(name, "open dir");
	io_prep_fsync(&cb, fd);
	one(name, &cb);
	close(fd);
}

static void rw_fsync_devnull(const char *name)
{
	int fd = open("/dev/null", O_RDWR);
	struct iocb cb;

	if (fd < 0)
		die(name, "open /dev/null");
	io_prep_fsync(&cb, fd);
	sub_err(name, &cb);
	close(fd);
}

static int open_direct(const char *name, size_t size)
{
	int fd = open_tmp(name, size, O_RDWR | O_DIRECT);

	if (fd < 0 && errno != EINVAL && errno != EOPNOTSUPP)
		die(name, "open O_DIRECT");
	return fd;
}

static void rw_odirect(const char *name, int misalign_buf, int misalign_off)
{
	int fd = open_direct(name, 65536);
	unsigned char *mem;
	struct iocb cb;
	struct res r;

	if (fd < 0) {
		out(name, "skipped");
		return;
	}
	if (posix_memalign((void **)&mem, 4096, 3 * 4096) != 0)
		die(name, "posix_memalign");
	memset(mem, 0, 3 * 4096);
	io_prep_pread(&cb, fd, mem + (misalign_buf ? 1 : 0), 4096, misalign_off ? 1 : 4096);
	r = run1(name, &cb);
	if (!misalign_buf && !misalign_off)
		print1(name, r, " data_ok=%d", check_pat(mem, 4096, 4096));
	else
		print1(name, r, NULL);
	free(mem);
	close(fd);
}

static void rw_odirect_aligned(const char *n) { rw_odirect(n, 0, 0); }
static void rw_odirect_misaligned_buf(const char *n) { rw_odirect(n, 1, 0); }
static void rw_odirect_misaligned_off(const char *n) { rw_odirect(n, 0, 1); }

static void rw_odirect_write_misaligned_len(const char *name)
{
	int fd = open_direct(name, 65536);
	unsigned char *mem;
	struct iocb cb;

	if (fd < 0) {
		out(name, "skipped");
		return;
	}
	if (posix_memalign((void **)&mem, 4096, 4096) != 0)
		die(name, "posix_memalign");
	memset(mem, 1, 4096);
	io_prep_pwrite(&cb, fd, mem, 100, 0);
	one(name, &cb);
	free(mem);
	close(fd);
}

static void rw_pipe_read_ready(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	char buf[100];
	struct iocb cb;
	struct io_event ev;
	int ret, now;

	mkpipe(name, p);
	if (write(p[1], "hello", 5) != 5)
		die(name, "write");
	io_prep_pread(&cb, p[0], buf, sizeof(buf), 12345);	/* offset ignored */
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	out(name, "ret=%d ready=%d res=%ld data_ok=%d", ret, now, now == 1 ? (long)ev.res : 0L,
	    now == 1 && memcmp(buf, "hello", 5) == 0);
	rmctx(name, ctx);
	close2(p);
}

static void rw_pipe_write(const char *name)
{
	int p[2];
	char buf[16] = { 0 };
	struct iocb cb;
	struct res r;
	ssize_t got;

	mkpipe(name, p);
	io_prep_pwrite(&cb, p[1], "abcdef", 6, 0);
	r = run1(name, &cb);
	got = read(p[0], buf, sizeof(buf));
	print1(name, r, " read=%zd data_ok=%d", got, memcmp(buf, "abcdef", 6) == 0);
	close2(p);
}

static void rw_pipe_nowait_empty(const char *name)
{
	int p[2];
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	mkpipe(name, p);
	io_prep_preadv2(&cb, p[0], &iov, 1, 0, RWF_NOWAIT);
	one(name, &cb);
	close2(p);
}

static void rw_pipe_negative_offset(const char *name)
{
	int p[2];
	char buf[16];
	struct iocb cb;

	mkpipe(name, p);
	if (write(p[1], "abc", 3) != 3)
		die(name, "write");
	io_prep_pread(&cb, p[0], buf, sizeof(buf), -1);
	one(name, &cb);
	close2(p);
}

static void rw_pipe_read_eof(const char *name)
{
	int p[2];
	char buf[16];
	struct iocb cb;

	mkpipe(name, p);
	close(p[1]);
	io_prep_pread(&cb, p[0], buf, sizeof(buf), 0);
	one(name, &cb);
	close(p[0]);
}

static void rw_socket_read_ready(const char *name)
{
	int s[2];
	char buf[64];
	struct iocb cb;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0)
		die(name, "socketpair");
	if (write(s[1], "0123456789", 10) != 10)
		die(name, "write");
	io_prep_pread(&cb, s[0], buf, sizeof(buf), 0);
	one(name, &cb);
	close2(s);
}

static void rw_eventfd_read(const char *name)
{
	int efd = eventfd(5, 0);
	uint64_t v = 0;
	struct iocb cb;
	struct res r;

	io_prep_pread(&cb, efd, &v, sizeof(v), 0);
	r = run1(name, &cb);
	print1(name, r, " value=%llu", (unsigned long long)v);
	close(efd);
}

static void rw_devzero_read(const char *name)
{
	int fd = open("/dev/zero", O_RDONLY);
	unsigned char buf[512];
	struct iocb cb;
	struct res r;
	int z = 1;

	if (fd < 0)
		die(name, "open /dev/zero");
	memset(buf, 0xff, sizeof(buf));
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	r = run1(name, &cb);
	for (size_t i = 0; i < sizeof(buf); i++)
		z &= buf[i] == 0;
	print1(name, r, " zeros=%d", z);
	close(fd);
}

static void rw_devnull_write(const char *name)
{
	int fd = open("/dev/null", O_WRONLY);
	char buf[300] = { 0 };
	struct iocb cb;

	if (fd < 0)
		die(name, "open /dev/null");
	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	one(name, &cb);
	close(fd);
}

static void rw_bad_buffer_read(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDONLY);
	struct iocb cb;

	io_prep_pread(&cb, fd, bad_buf, 4096, 0);
	one(name, &cb);
	close(fd);
}

static void rw_bad_buffer_write(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDWR);
	struct iocb cb;

	io_prep_pwrite(&cb, fd, bad_buf, 4096, 0);
	one(name, &cb);
	close(fd);
}

static void rw_readonly_buffer_read(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDONLY);
	struct iocb cb;

	io_prep_pread(&cb, fd, readonly_page, 4096, 0);
	one(name, &cb);
	close(fd);
}

static void rw_bad_iov_base(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDONLY);
	struct iovec iov = { bad_buf, 100 };
	struct iocb cb;

	io_prep_preadv(&cb, fd, &iov, 1, 0);
	one(name, &cb);
	close(fd);
}

static void rw_flag_read(const char *name, int flags)
{
	int fd = open_tmp(name, 8192, O_RDONLY);
	static unsigned char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;
	struct res r;

	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))	/* cache it */
		die(name, "pread");
	memset(buf, 0, sizeof(buf));
	io_prep_preadv2(&cb, fd, &iov, 1, 4096, flags);
	r = run1(name, &cb);
	print1(name, r, " data_ok=%d", check_pat(buf, 4096, 4096));
	close(fd);
}

static void rw_nowait_cached(const char *n) { rw_flag_read(n, RWF_NOWAIT); }
static void rw_hipri_read(const char *n) { rw_flag_read(n, RWF_HIPRI); }

static void rw_flag_write(const char *name, int flags, long long off)
{
	int fd = open_tmp(name, 1000, O_RDWR);
	static unsigned char buf[300];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;
	struct res r;
	struct stat st;
	unsigned char back[300];

	fill_pat(buf, sizeof(buf), 1000);
	io_prep_pwritev2(&cb, fd, &iov, 1, off, flags);
	r = run1(name, &cb);
	fstat(fd, &st);
	print1(name, r, " size=%lld tail_ok=%d", (long long)st.st_size,
	       pread(fd, back, sizeof(back), 1000) == (ssize_t)sizeof(back) &&
	       check_pat(back, sizeof(back), 1000));
	close(fd);
}

static void rw_append(const char *n) { rw_flag_write(n, RWF_APPEND, 0); }
static void rw_dsync_write(const char *n) { rw_flag_write(n, RWF_DSYNC, 1000); }

static void rw_o_append_fd(const char *name)
{
	int fd = open_tmp(name, 1000, O_RDWR | O_APPEND);
	static unsigned char buf[300];
	struct iocb cb;
	struct res r;
	struct stat st;

	fill_pat(buf, sizeof(buf), 1000);
	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	r = run1(name, &cb);
	fstat(fd, &st);
	print1(name, r, " size=%lld", (long long)st.st_size);
	close(fd);
}

static void poll_case(const char *name, int kind, int events)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2], fd;
	struct iocb cb;
	struct io_event ev;
	int ret, now;

	mkpipe(name, p);
	fd = p[0];
	if (kind == 0 && write(p[1], "x", 1) != 1)	/* data ready */
		die(name, "write");
	if (kind == 1) {				/* writer gone */
		close(p[1]);
		p[1] = -1;
	}
	if (kind == 2)					/* write end */
		fd = p[1];
	if (kind == 3) {				/* regular file */
		fd = open_tmp(name, 100, O_RDONLY);
	}
	io_prep_poll(&cb, fd, events);
	cb.data = (void *)0x77;
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	out(name, "ret=%d ready=%d res=%ld res2=%ld ev_ok=%d", ret, now, now == 1 ? (long)ev.res : 0L,
	    now == 1 ? (long)ev.res2 : 0L, now == 1 && ev.data == (void *)0x77 && ev.obj == &cb);
	rmctx(name, ctx);
	if (kind == 3)
		close(fd);
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

static void poll_pipe_ready(const char *n) { poll_case(n, 0, POLLIN); }
static void poll_pipe_rdnorm(const char *n) { poll_case(n, 0, POLLIN | POLLRDNORM); }
static void poll_pipe_hup(const char *n) { poll_case(n, 1, POLLIN); }
static void poll_pipe_pollout(const char *n) { poll_case(n, 2, POLLOUT); }
static void poll_regular_file(const char *n) { poll_case(n, 3, POLLIN | POLLOUT); }

static void poll_pipe_later(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, now, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d before=%d n=%d res=%ld", ret, now, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(p);
}

static void rw_eventfd_notify(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int fd = open_tmp(name, 8192, O_RDONLY);
	int efd = eventfd(0, EFD_NONBLOCK);
	unsigned char b[3][100];
	struct iocb c[3], *v[3];
	struct io_event ev[3];
	uint64_t cnt = 0;
	int ret, n;
	ssize_t rr;

	for (int i = 0; i < 3; i++) {
		io_prep_pread(&c[i], fd, b[i], 100, i * 100);
		io_set_eventfd(&c[i], efd);
		v[i] = &c[i];
	}
	ret = io_submit(ctx, 3, v);
	n = reap(ctx, 3, 3, ev);
	rr = read(efd, &cnt, sizeof(cnt));
	out(name, "ret=%d n=%d counter=%llu read=%zd", ret, n, (unsigned long long)cnt, rr);
	rmctx(name, ctx);
	close(efd);
	close(fd);
}

static void rw_eventfd_notify_poll(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2], efd = eventfd(0, EFD_NONBLOCK);
	struct iocb cb;
	struct io_event ev;
	uint64_t cnt = 0;
	ssize_t r0, r1;
	int ret, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	io_set_eventfd(&cb, efd);
	ret = submit1(ctx, &cb);
	r0 = read(efd, &cnt, sizeof(cnt));	/* nothing yet: -1 EAGAIN */
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	n = reap(ctx, 1, 1, &ev);
	r1 = read(efd, &cnt, sizeof(cnt));
	out(name, "ret=%d before=%zd n=%d after=%zd counter=%llu", ret, r0, n, r1,
	    (unsigned long long)cnt);
	rmctx(name, ctx);
	close(efd);
	close2(p);
}

/* -------------------------------------------------------------- getevents */

static void ge_args(const char *name, long min_nr, long nr, int tmode)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev[4];
	struct timespec zero = { 0, 0 }, small = { 0, 10 * 1000 * 1000 };
	struct timespec *t = tmode == 0 ? &zero : tmode == 1 ? &small : NULL;

	out(name, "ret=%d", io_getevents(ctx, min_nr, nr, ev, t));
	rmctx(name, ctx);
}

static void getevents_min_negative(const char *n) { ge_args(n, -1, 1, 1); }
static void getevents_nr_negative(const char *n) { ge_args(n, 0, -1, 1); }
static void getevents_min_gt_nr(const char *n) { ge_args(n, 2, 1, 1); }
static void getevents_min_gt_nr_null_timeout(const char *n) { ge_args(n, 2, 1, 2); }
/* libaio: a zero timeout on an empty ring answers 0 unchecked. */
static void getevents_min_negative_zero_timeout(const char *n) { ge_args(n, -1, 1, 0); }
static void getevents_nr_negative_zero_timeout(const char *n) { ge_args(n, 0, -1, 0); }
static void getevents_min_gt_nr_zero_timeout(const char *n) { ge_args(n, 2, 1, 0); }
static void getevents_zero_timeout_empty(const char *n) { ge_args(n, 1, 4, 0); }
static void getevents_timeout_expires(const char *n) { ge_args(n, 1, 4, 1); }
static void getevents_nr_zero(const char *n) { ge_args(n, 0, 0, 1); }

/* With an event in the ring the zero-timeout shortcut does not apply. */
static void getevents_min_gt_nr_zero_timeout_nonempty(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev[2];
	struct timespec zero = { 0, 0 };
	int ret, r1, r2;

	mkpipe(name, p);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	r1 = io_getevents(ctx, 2, 1, ev, &zero);
	r2 = io_getevents(ctx, 0, 2, ev, &zero);
	out(name, "ret=%d bad=%d then=%d", ret, r1, r2);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_unknown_ctx(const char *name)
{
	struct io_event ev;
	struct timespec small = { 0, 10 * 1000 * 1000 };
	struct timespec zero = { 0, 0 };

	out(name, "ret=%d zero_timeout=%d null_timeout_bad_args=%d",
	    io_getevents(FAKE_CTX, 1, 1, &ev, &small), io_getevents(FAKE_CTX, 1, 1, &ev, &zero),
	    io_getevents(FAKE_CTX, 2, 1, &ev, NULL));
}

static void getevents_null_ctx(const char *name)
{
	struct io_event ev;
	struct timespec small = { 0, 10 * 1000 * 1000 };
	struct timespec zero = { 0, 0 };

	out(name, "ret=%d zero_timeout=%d", io_getevents(NULL, 1, 1, &ev, &small),
	    io_getevents(NULL, 1, 1, &ev, &zero));
}

/* The kernel reads the timeout before it looks the context up. */
static void getevents_bad_timeout_unknown_ctx(const char *name)
{
	struct io_event ev;

	out(name, "ret=%d null_ctx=%d", io_getevents(FAKE_CTX, 1, 1, &ev, (struct timespec *)noaccess_page),
	    io_getevents(NULL, 1, 1, &ev, (struct timespec *)noaccess_page));
}

static int submit_ready_polls(const char *name, io_context_t ctx, int p[2], struct iocb *cbs, int n)
{
	int ret = 0;

	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	for (int i = 0; i < n; i++) {
		io_prep_poll(&cbs[i], p[0], POLLIN);
		cbs[i].data = (void *)(uintptr_t)(i + 1);
		ret += submit1(ctx, &cbs[i]);
	}
	return ret;
}

static void getevents_bad_events_ready(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cbs[2];
	struct io_event ev[2];
	struct timespec zero = { 0, 0 };
	int ret, bad, bad2, n;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 2);
	bad = io_getevents(ctx, 1, 2, (struct io_event *)noaccess_page, &zero);
	bad2 = io_getevents(ctx, 1, 2, (struct io_event *)readonly_page, NULL);
	n = io_getevents(ctx, 2, 2, ev, &zero);
	out(name, "ret=%d bad=%d readonly=%d reaped=%d order_ok=%d", ret, bad, bad2, n,
	    n == 2 && ev[0].data == (void *)1 && ev[1].data == (void *)2 && ev[0].obj == &cbs[0] &&
	    ev[1].obj == &cbs[1]);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_bad_events_empty(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct timespec zero = { 0, 0 }, small = { 0, 10 * 1000 * 1000 };

	out(name, "zero_timeout=%d small_timeout=%d",
	    io_getevents(ctx, 1, 2, (struct io_event *)noaccess_page, &zero),
	    io_getevents(ctx, 1, 2, (struct io_event *)noaccess_page, &small));
	rmctx(name, ctx);
}

static void getevents_partial(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[3];
	struct io_event ev[3];
	struct timespec zero = { 0, 0 };
	int ret, a, b, c;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 3);
	a = io_getevents(ctx, 1, 2, ev, &zero);
	b = io_getevents(ctx, 1, 2, ev + 2, &zero);
	c = io_getevents(ctx, 0, 2, ev, &zero);
	out(name, "ret=%d first=%d second=%d third=%d last_data=%ld", ret, a, b, c, (long)(uintptr_t)ev[2].data);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_min_not_reached(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[1];
	struct io_event ev[4];
	struct timespec small = { 0, 20 * 1000 * 1000 };
	int ret, n;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 1);
	n = io_getevents(ctx, 3, 4, ev, &small);
	out(name, "ret=%d n=%d", ret, n);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_ready_null_timeout(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[2];
	struct io_event ev[4];
	int ret, n;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 2);
	n = io_getevents(ctx, 2, 4, ev, NULL);
	out(name, "ret=%d n=%d", ret, n);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_nr_zero_with_events(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[1];
	struct io_event ev[1];
	struct timespec zero = { 0, 0 };
	int ret, a, b;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 1);
	a = io_getevents(ctx, 0, 0, ev, &zero);
	b = io_getevents(ctx, 0, 1, ev, &zero);
	out(name, "ret=%d nr0=%d then=%d", ret, a, b);
	rmctx(name, ctx);
	close2(p);
}

static volatile sig_atomic_t got_usr1;

static void on_usr1(int sig)
{
	(void)sig;
	got_usr1++;
}

/* SIGUSR1 pending and blocked; io_pgetevents unblocks it for the wait. */
static void pgetevents_sigmask_eintr(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct sigaction sa;
	sigset_t block, old, waitmask;
	struct io_event ev;
	struct timespec ts = { 5, 0 };
	int ret;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	got_usr1 = 0;
	raise(SIGUSR1);
	sigprocmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SIGUSR1);
	ret = io_pgetevents(ctx, 1, 1, &ev, &ts, &waitmask);
	{
		int handled = got_usr1;
		sigset_t now;

		sigprocmask(SIG_BLOCK, NULL, &now);
		out(name, "ret=%d handled=%d still_blocked=%d", ret, handled, sigismember(&now, SIGUSR1));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
	rmctx(name, ctx);
}

/* The mask keeps SIGUSR1 blocked: the wait times out, the signal stays
 * pending and is taken afterwards. */
static void pgetevents_sigmask_blocks(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct sigaction sa;
	sigset_t block, old, waitmask;
	struct io_event ev;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int ret, during;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old);
	got_usr1 = 0;
	raise(SIGUSR1);
	sigfillset(&waitmask);
	ret = io_pgetevents(ctx, 1, 1, &ev, &ts, &waitmask);
	during = got_usr1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	out(name, "ret=%d handled_during=%d handled_after=%d", ret, during, (int)got_usr1);
	signal(SIGUSR1, SIG_DFL);
	rmctx(name, ctx);
}

static void pgetevents_ready(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[2];
	struct io_event ev[2];
	sigset_t m;
	struct timespec ts = { 1, 0 };
	int ret, a, b;

	mkpipe(name, p);
	sigemptyset(&m);
	ret = submit_ready_polls(name, ctx, p, cbs, 2);
	a = io_pgetevents(ctx, 1, 1, ev, &ts, &m);
	b = io_pgetevents(ctx, 1, 1, ev + 1, &ts, NULL);
	out(name, "ret=%d with_mask=%d null_mask=%d order_ok=%d", ret, a, b,
	    ev[0].data == (void *)1 && ev[1].data == (void *)2);
	rmctx(name, ctx);
	close2(p);
}

static void pgetevents_args(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev;
	sigset_t m;
	struct timespec zero = { 0, 0 }, small = { 0, 10 * 1000 * 1000 };

	sigemptyset(&m);
	out(name, "min_gt_nr=%d min_gt_nr_zero_timeout=%d timeout=%d unknown_ctx=%d", io_pgetevents(ctx, 2, 1, &ev, &small, &m),
	    io_pgetevents(ctx, 2, 1, &ev, &zero, &m), io_pgetevents(ctx, 1, 1, &ev, &small, &m),
	    io_pgetevents(FAKE_CTX, 1, 1, &ev, &small, &m));
	rmctx(name, ctx);
}

static void pgetevents_bad_sigmask(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev;
	struct timespec small = { 0, 10 * 1000 * 1000 };

	out(name, "ret=%d", io_pgetevents(ctx, 1, 1, &ev, &small, (sigset_t *)noaccess_page));
	rmctx(name, ctx);
}

static int cb_count;
static long cb_res_sum;
static int cb_obj_ok;
static struct iocb *cb_expect[3];

static void count_cb(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	cb_obj_ok &= iocb == cb_expect[cb_count] && res2 == 0;
	cb_count++;
	cb_res_sum += res;
}

static void queue_run_callbacks(const char *name)
{
	io_context_t ctx = 0;
	int fd = open_tmp(name, 8192, O_RDONLY);
	char b[3][1000];
	struct iocb c[3], *v[3];
	int init, ret, run, again;

	init = io_queue_init(8, &ctx);
	if (init)
		die(name, "io_queue_init");
	for (int i = 0; i < 3; i++) {
		io_prep_pread(&c[i], fd, b[i], 100 * (i + 1), 0);
		io_set_callback(&c[i], count_cb);
		v[i] = &c[i];
		cb_expect[i] = &c[i];
	}
	cb_count = 0;
	cb_res_sum = 0;
	cb_obj_ok = 1;
	ret = io_submit(ctx, 3, v);
	{
		/* cached reads: complete at submit; a margin all the same */
		struct timespec t = { 0, 20 * 1000 * 1000 };

		nanosleep(&t, NULL);
	}
	run = io_queue_run(ctx);
	again = io_queue_run(ctx);
	out(name, "ret=%d run=%d callbacks=%d res_sum=%ld obj_ok=%d again=%d release=%d", ret, run,
	    cb_count, cb_res_sum, cb_obj_ok, again, io_queue_release(ctx));
	close(fd);
}

static void queue_run_empty(const char *name)
{
	io_context_t ctx = 0;

	if (io_queue_init(4, &ctx))
		die(name, "io_queue_init");
	out(name, "ret=%d", io_queue_run(ctx));
	io_queue_release(ctx);
}

static void queue_wait(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cbs[1];
	struct io_event ev;
	struct timespec zero = { 0, 0 }, small = { 0, 10 * 1000 * 1000 };
	int empty_zero, empty_small, ret, full, left;

	mkpipe(name, p);
	empty_zero = io_queue_wait(ctx, &zero);
	empty_small = io_queue_wait(ctx, &small);
	ret = submit_ready_polls(name, ctx, p, cbs, 1);
	full = io_queue_wait(ctx, &zero);
	left = reap_now(ctx, 1, &ev);
	out(name, "empty_zero=%d empty_small=%d ret=%d with_event=%d left=%d", empty_zero, empty_small,
	    ret, full, left);
	rmctx(name, ctx);
	close2(p);
}

/* ----------------------------------------------------------------- cancel */

static void cancel_never_submitted(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct iocb cb;
	struct io_event ev;

	memset(&cb, 0, sizeof(cb));
	out(name, "ret=%d", io_cancel(ctx, &cb, &ev));
	rmctx(name, ctx);
}

static void cancel_completed(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[100];
	struct iocb cb;
	struct io_event ev;
	int ret, unreaped, n, reaped;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ret = submit1(ctx, &cb);
	{
		/* the read is cached: its event is in the ring already */
		struct timespec t = { 0, 20 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
	unreaped = io_cancel(ctx, &cb, &ev);
	n = reap(ctx, 1, 1, &ev);
	reaped = io_cancel(ctx, &cb, &ev);
	out(name, "ret=%d unreaped=%d n=%d res=%ld reaped=%d", ret, unreaped, n, (long)ev.res, reaped);
	rmctx(name, ctx);
	close(fd);
}

static void cancel_poll(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev, res;
	int ret, c1, n, more, c2;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	cb.data = (void *)0x99;
	ret = submit1(ctx, &cb);
	memset(&res, 0x3c, sizeof(res));
	c1 = io_cancel(ctx, &cb, &res);
	n = reap(ctx, 1, 1, &ev);
	more = reap_now(ctx, 1, &ev);
	c2 = io_cancel(ctx, &cb, &res);
	out(name, "ret=%d cancel=%d n=%d res=%ld res2=%ld ev_ok=%d more=%d again=%d", ret, c1, n,
	    n == 1 ? (long)ev.res : 0L, n == 1 ? (long)ev.res2 : 0L,
	    n == 1 && ev.data == (void *)0x99 && ev.obj == &cb, more, c2);
	rmctx(name, ctx);
	close2(p);
}

static void cancel_poll_completed(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, c1, n;

	mkpipe(name, p);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	c1 = io_cancel(ctx, &cb, &ev);
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d cancel=%d n=%d res=%ld", ret, c1, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(p);
}

static void cancel_key_nonzero(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, c1, c2, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	cb.key = 1;
	c1 = io_cancel(ctx, &cb, &ev);
	cb.key = 0;
	c2 = io_cancel(ctx, &cb, &ev);
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d key1=%d key0=%d n=%d", ret, c1, c2, n);
	rmctx(name, ctx);
	close2(p);
}

static void cancel_unknown_ctx(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, c1, c2, c3, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	c1 = io_cancel(FAKE_CTX, &cb, &ev);
	c2 = io_cancel(NULL, &cb, &ev);
	c3 = io_cancel(ctx, &cb, &ev);
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d fake=%d null=%d right=%d n=%d", ret, c1, c2, c3, n);
	rmctx(name, ctx);
	close2(p);
}

/* The kernel reads the iocb's key before it looks the context up. */
static void cancel_bad_iocb(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	struct io_event ev;

	out(name, "null=%d null_unknown_ctx=%d noaccess=%d", io_cancel(ctx, NULL, &ev),
	    io_cancel(FAKE_CTX, NULL, &ev), io_cancel(ctx, (struct iocb *)noaccess_page, &ev));
	rmctx(name, ctx);
}

static void cancel_other_ctx(const char *name)
{
	io_context_t a = mkctx(name, 4), b = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, wrong, right, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(a, &cb);
	wrong = io_cancel(b, &cb, &ev);
	right = io_cancel(a, &cb, &ev);
	n = reap(a, 1, 1, &ev);
	out(name, "ret=%d wrong_ctx=%d right_ctx=%d n=%d", ret, wrong, right, n);
	rmctx(name, a);
	rmctx(name, b);
	close2(p);
}

/* Queued file reads: the kernel has done them inside io_submit (they are
 * not cancellable: -EINVAL); uaio cancels a request that has not started
 * (-EINPROGRESS, event -ECANCELED).  Up to 5 rounds to catch one queued. */
static void cancel_queued_file(const char *name)
{
	enum { NQ = 128, RS = 65536 };
	static struct iocb cbs[NQ];
	static unsigned char bufs[NQ][RS];
	struct iocb *v[NQ];
	struct io_event ev[NQ];
	io_context_t ctx = mkctx(name, NQ);
	int fd = open_tmp(name, 32u << 20, O_RDONLY);
	int best_ret = 0, best_res = 0, all_one = 1, first = 1;

	if (fsync(fd) != 0)
		die(name, "fsync");
	for (int round = 0; round < 5; round++) {
		int ret, c, got = 0, seen[NQ], lres = 0;

		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		for (int i = 0; i < NQ; i++) {
			long long off = (long long)((i * 379u + round * 17u) % ((32u << 20) / RS)) * RS;

			io_prep_pread(&cbs[i], fd, bufs[i], RS, off);
			cbs[i].data = (void *)(uintptr_t)i;
			v[i] = &cbs[i];
			seen[i] = 0;
		}
		ret = io_submit(ctx, NQ, v);
		if (ret != NQ)
			die(name, "io_submit");
		c = io_cancel(ctx, &cbs[NQ - 1], &ev[0]);
		while (got < NQ) {
			int n = reap(ctx, 1, NQ, ev);

			if (n <= 0)
				break;
			for (int j = 0; j < n; j++) {
				int k = (int)(uintptr_t)ev[j].data;

				seen[k]++;
				if (k == NQ - 1)
					lres = (int)(long)ev[j].res;
			}
			got += n;
		}
		for (int i = 0; i < NQ; i++)
			all_one &= seen[i] == 1;
		all_one &= reap_now(ctx, NQ, ev) == 0;
		if (first || c == -EINPROGRESS) {
			best_ret = c;
			best_res = lres;
			first = 0;
		}
		if (c == -EINPROGRESS)
			break;
	}
	out(name, "ret=%d ev_res=%d one_event_each=%d", best_ret, best_res, all_one);
	rmctx(name, ctx);
	close(fd);
}

/* ---------------------------------------------------------------- destroy */

static void destroy_unknown(const char *name)
{
	out(name, "fake=%d null=%d", io_destroy(FAKE_CTX), io_destroy(NULL));
}

static void destroy_twice(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int a = io_destroy(ctx);

	out(name, "first=%d second=%d", a, io_destroy(ctx));
}

static void destroy_poll_pending(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb[3];
	int ret = 0;

	mkpipe(name, p);
	for (int i = 0; i < 3; i++) {
		io_prep_poll(&cb[i], p[0], POLLIN);
		ret += submit1(ctx, &cb[i]);
	}
	out(name, "ret=%d destroy=%d", ret, io_destroy(ctx));
	close2(p);
}

static void destroy_unreaped_events(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[100];
	struct iocb cb;
	int ret;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	ret = submit1(ctx, &cb);
	out(name, "ret=%d destroy=%d", ret, io_destroy(ctx));
	close(fd);
}

static void destroy_then_submit_new(const char *name)
{
	io_context_t a = mkctx(name, 4), b;
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, n;

	rmctx(name, a);
	b = mkctx(name, 4);
	mkpipe(name, p);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(b, &cb);
	n = reap(b, 1, 1, &ev);
	out(name, "ret=%d n=%d res=%ld", ret, n, (long)ev.res);
	rmctx(name, b);
	close2(p);
}

/* ------------------------------------------- buffered I/O asynchrony */

/* Cold buffered reads: the kernel does them inside io_submit, so all
 * events are in the ring when it returns; uaio hands them to a worker.
 * 16 MiB from disk, so that the worker cannot be done with all of them
 * in the moment between io_submit's return and the look at the ring,
 * even when the submitter is preempted for a while. */
static void buffered_read_uncached(const char *name)
{
	enum { N = 128, SZ = 131072, STRIDE = 262144 };
	io_context_t ctx = mkctx(name, N);
	int fd = open_tmp(name, (size_t)N * STRIDE, O_RDONLY);
	static unsigned char b[N][SZ];
	struct iocb c[N], *v[N];
	struct io_event ev[N];
	int ret, now, got, ok = 1;

	if (fsync(fd) != 0)
		die(name, "fsync");
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	for (int i = 0; i < N; i++) {
		io_prep_pread(&c[i], fd, b[i], SZ, (long long)((i * 7) % N) * STRIDE);
		c[i].data = (void *)(uintptr_t)i;
		v[i] = &c[i];
	}
	ret = io_submit(ctx, N, v);
	now = reap_now(ctx, N, ev);
	got = now;
	while (got < N) {
		int n = reap(ctx, 1, N - got, ev + got);

		if (n <= 0)
			break;
		got += n;
	}
	for (int j = 0; j < got; j++) {
		int i = (int)(uintptr_t)ev[j].data;

		ok &= ev[j].res == SZ && check_pat(b[i], SZ, (long long)((i * 7) % N) * STRIDE);
	}
	out(name, "ret=%d all_ready_at_submit=%d events=%d data_ok=%d", ret, now == N, got, ok);
	rmctx(name, ctx);
	close(fd);
}

/* Buffered writes: ext4 has no RWF_NOWAIT buffered write, so uaio hands
 * them to a worker; the kernel copies them into the page cache inside
 * io_submit.  32 MiB, so that the worker cannot finish them all in the
 * moment between io_submit's return and the look at the ring, even when
 * the submitter is preempted by the worker it woke. */
static void buffered_write(const char *name)
{
	enum { N = 32, SZ = 1 << 20 };
	io_context_t ctx = mkctx(name, N);
	int fd = open_tmp(name, 0, O_RDWR);
	unsigned char *b = malloc(SZ), *back = malloc(SZ);
	struct iocb c[N], *v[N];
	struct io_event ev[N];
	int ret, now, got, ok = 1;

	if (!b || !back)
		die(name, "malloc");
	fill_pat(b, SZ, 0);
	for (int i = 0; i < N; i++) {
		io_prep_pwrite(&c[i], fd, b, SZ, (long long)i * SZ);
		v[i] = &c[i];
	}
	ret = io_submit(ctx, N, v);
	now = reap_now(ctx, N, ev);
	got = now > 0 ? now : 0;
	while (got < N) {
		int n = reap(ctx, 1, N - got, ev + got);

		if (n <= 0)
			break;
		got += n;
	}
	for (int j = 0; j < got; j++)
		ok &= ev[j].res == SZ;
	for (int i = 0; i < N && ok; i++)
		ok &= pread(fd, back, SZ, (off_t)i * SZ) == SZ && memcmp(back, b, SZ) == 0;
	out(name, "ret=%d all_ready_at_submit=%d events=%d data_ok=%d", ret, now == N, got, ok);
	rmctx(name, ctx);
	close(fd);
	free(b);
	free(back);
}

/* ------------------------------------------------------ more edge cases */

static void submit_bad_fd_bad_resfd(const char *name)
{
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, -1, buf, sizeof(buf), 0);
	io_set_eventfd(&cb, -1);
	sub_err(name, &cb);
}

/* fget() does not hand out O_PATH files: -EBADF for every opcode. */
static void submit_opath(const char *name, int op)
{
	int fd = open(tmp_dir(), O_PATH | O_DIRECTORY);
	char buf[64];
	struct iocb cb;

	if (fd < 0)
		die(name, "open O_PATH");
	if (op == 0)
		io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	else if (op == 1)
		io_prep_fsync(&cb, fd);
	else
		io_prep_poll(&cb, fd, POLLIN);
	sub_err(name, &cb);
	close(fd);
}

static void submit_opath_read(const char *n) { submit_opath(n, 0); }
static void submit_opath_fsync(const char *n) { submit_opath(n, 1); }
static void submit_opath_poll(const char *n) { submit_opath(n, 2); }

static void submit_pipe_wrong_end(const char *name)
{
	int p[2];
	char buf[8] = { 0 };
	struct iocb r, w;
	io_context_t ctx = mkctx(name, 4);
	int a, b;

	mkpipe(name, p);
	io_prep_pread(&r, p[1], buf, sizeof(buf), 0);
	io_prep_pwrite(&w, p[0], buf, sizeof(buf), 0);
	a = submit1(ctx, &r);
	b = submit1(ctx, &w);
	out(name, "read_on_write_end=%d write_on_read_end=%d", a, b);
	rmctx(name, ctx);
	close2(p);
}

static void submit_rwflags_append_noappend(const char *name)
{
	int fd = open_tmp(name, 100, O_RDWR);
	char buf[8] = { 0 };
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	io_prep_pwritev2(&cb, fd, &iov, 1, 0, RWF_APPEND | 0x20 /* RWF_NOAPPEND */);
	sub_err(name, &cb);
	close(fd);
}

static void rw_noappend_on_append_fd(const char *name)
{
	int fd = open_tmp(name, 1000, O_RDWR | O_APPEND);
	static unsigned char buf[100];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;
	struct stat st;
	struct res r;
	unsigned char back[100];

	memset(buf, 'q', sizeof(buf));
	io_prep_pwritev2(&cb, fd, &iov, 1, 0, 0x20 /* RWF_NOAPPEND */);
	r = run1(name, &cb);
	fstat(fd, &st);
	print1(name, r, " size=%lld at_offset=%d", (long long)st.st_size,
	       pread(fd, back, sizeof(back), 0) == (ssize_t)sizeof(back) && back[0] == 'q' && back[99] == 'q');
	close(fd);
}

static void rw_dontcache_read(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDONLY);
	static unsigned char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;
	struct res r;

	io_prep_preadv2(&cb, fd, &iov, 1, 0, 0x80 /* RWF_DONTCACHE */);
	r = run1(name, &cb);
	print1(name, r, " data_ok=%d", r.res == 4096 && check_pat(buf, 4096, 0));
	close(fd);
}

static void rw_sync_write(const char *n) { rw_flag_write(n, 0x4 /* RWF_SYNC */, 1000); }

/* Drops [off, off+len) of fd from the page cache and makes sure it is gone:
 * POSIX_FADV_DONTNEED skips pages it finds busy (still on a per-CPU LRU
 * list, under writeback), so the case's outcome would depend on luck.
 * Checks residency with mincore and tries again (up to 2 s). */
static void drop_cached(const char *name, int fd, off_t off, size_t len)
{
	unsigned char vec[64];
	void *m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
	size_t pages = (len + 4095) / 4096;

	if (m == MAP_FAILED || pages > sizeof(vec))
		die(name, "mmap for mincore");
	for (int tries = 0; tries < 400; tries++) {
		bool resident = false;

		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		if (mincore(m, len, vec) != 0)
			die(name, "mincore");
		for (size_t i = 0; i < pages; i++)
			resident |= vec[i] & 1;
		if (!resident)
			break;
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
	munmap(m, len);
}

static void rw_nowait_uncached(const char *name)
{
	int fd = open_tmp(name, 1 << 20, O_RDONLY);
	static unsigned char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	if (fsync(fd) != 0)
		die(name, "fsync");
	drop_cached(name, fd, 512 * 1024, sizeof(buf));
	io_prep_preadv2(&cb, fd, &iov, 1, 512 * 1024, RWF_NOWAIT);
	{
		/* The NOWAIT attempt itself starts the read of the missing
		 * page; when the device answers before the kernel looks again
		 * (a host-cached virtual disk can), the read returns the data.
		 * So -EAGAIN and 4096 are both the kernel's answer, by timing,
		 * on either side: printed as one. */
		struct res r = run1(name, &cb);

		if (r.ret == 1 && r.n == 1 && (r.res == -EAGAIN || r.res == (long)sizeof(buf)))
			out(name, "ret=1 n=1 res=EAGAIN-or-4096 res2=%ld ev_ok=%d", r.res2, r.ev_ok);
		else
			print1(name, r, NULL);
	}
	close(fd);
}

static void rw_nowait_write(const char *name)
{
	int fd = open_tmp(name, 8192, O_RDWR);
	static unsigned char buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	memset(buf, 1, sizeof(buf));
	io_prep_pwritev2(&cb, fd, &iov, 1, 0, RWF_NOWAIT);
	one(name, &cb);
	close(fd);
}

static void rw_zero_len_write(const char *name)
{
	int fd = open_tmp(name, 100, O_RDWR);
	char buf[8];
	struct iocb cb;

	io_prep_pwrite(&cb, fd, buf, 0, 50);
	one(name, &cb);
	close(fd);
}

static void rw_eventfd_write(const char *name)
{
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t v = 3, got = 0;
	struct iocb cb;
	struct res r;
	ssize_t rr;

	io_prep_pwrite(&cb, efd, &v, sizeof(v), 0);
	r = run1(name, &cb);
	rr = read(efd, &got, sizeof(got));
	print1(name, r, " read=%zd counter=%llu", rr, (unsigned long long)got);
	close(efd);
}

static void rw_pipe_write_no_reader(const char *name)
{
	int p[2];
	struct iocb cb;

	mkpipe(name, p);
	close(p[0]);
	io_prep_pwrite(&cb, p[1], "abc", 3, 0);
	one(name, &cb);
	close(p[1]);
}

static void rw_socket_nowait_empty(const char *name)
{
	int s[2];
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct iocb cb;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0)
		die(name, "socketpair");
	io_prep_preadv2(&cb, s[0], &iov, 1, 0, RWF_NOWAIT);
	one(name, &cb);
	close2(s);
}

static void rw_ioprio_realtime(const char *name)
{
	int fd = open_tmp(name, 4096, O_RDONLY);
	char buf[64];
	struct iocb cb;

	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	cb.u.c.flags |= IOCB_FLAG_IOPRIO_;
	cb.aio_reqprio = (short)((1 << 13) | 2);
	one(name, &cb);
	close(fd);
}

/* events == 0: only POLLERR/POLLHUP could fire; cancel it. */
static void poll_zero_events(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, now, c, n;

	mkpipe(name, p);
	if (write(p[1], "x", 1) != 1)
		die(name, "write");
	io_prep_poll(&cb, p[0], 0);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	c = io_cancel(ctx, &cb, &ev);
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d ready=%d cancel=%d n=%d res=%ld", ret, now, c, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(p);
}

/* A POLL that is waiting when the writer goes away. */
static void poll_pipe_later_hup(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	int ret, n;

	mkpipe(name, p);
	io_prep_poll(&cb, p[0], POLLIN);
	ret = submit1(ctx, &cb);
	close(p[1]);
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d n=%d res=%ld", ret, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close(p[0]);
}

/* A POLL for POLLOUT on a full pipe that a reader then drains. */
static void poll_pipe_later_pollout(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int p[2];
	struct iocb cb;
	struct io_event ev;
	static char buf[1 << 16];
	int ret, now, n;

	mkpipe(name, p);
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	io_prep_poll(&cb, p[1], POLLOUT);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (read(p[0], buf, sizeof(buf)) > 0)
		;
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d before=%d n=%d res=%ld", ret, now, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(p);
}

static void getevents_odd_timeout_ready(const char *name)
{
	io_context_t ctx = mkctx(name, 8);
	int p[2];
	struct iocb cbs[2];
	struct io_event ev[2];
	struct timespec neg = { -1, 0 }, big_nsec = { 0, 2000000000L };
	int ret, a, b;

	mkpipe(name, p);
	ret = submit_ready_polls(name, ctx, p, cbs, 2);
	a = io_getevents(ctx, 1, 1, ev, &neg);
	b = io_getevents(ctx, 1, 1, ev, &big_nsec);
	out(name, "ret=%d negative=%d big_nsec=%d", ret, a, b);
	rmctx(name, ctx);
	close2(p);
}

/* A POLL completed by a later wake-up: the kernel reports the waker's
 * key (for a unix socket EPOLLIN|EPOLLPRI|EPOLLRDNORM|EPOLLRDBAND), not
 * the mask a poll(2) would give. */
static void poll_socket_later(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int s[2];
	struct iocb cb;
	struct io_event ev;
	int ret, now, n;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) != 0)
		die(name, "socketpair");
	io_prep_poll(&cb, s[0], POLLIN);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	if (write(s[1], "x", 1) != 1)
		die(name, "write");
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d before=%d n=%d res=%ld", ret, now, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close2(s);
}

static void poll_eventfd_later(const char *name)
{
	io_context_t ctx = mkctx(name, 4);
	int efd = eventfd(0, 0);
	uint64_t one_ = 1;
	struct iocb cb;
	struct io_event ev;
	int ret, now, n;

	io_prep_poll(&cb, efd, POLLIN);
	ret = submit1(ctx, &cb);
	now = reap_now(ctx, 1, &ev);
	if (write(efd, &one_, sizeof(one_)) != (ssize_t)sizeof(one_))
		die(name, "write");
	n = reap(ctx, 1, 1, &ev);
	out(name, "ret=%d before=%d n=%d res=%ld", ret, now, n, n == 1 ? (long)ev.res : 0L);
	rmctx(name, ctx);
	close(efd);
}

/* Files without read_iter/write_iter: the kernel's AIO refuses them. */
static void rw_inotify_read(const char *name)
{
	int fd = inotify_init1(IN_NONBLOCK);
	char buf[4096] __attribute__((aligned(8)));
	struct iocb cb;

	if (fd < 0)
		die(name, "inotify_init1");
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
	close(fd);
}

static void rw_timerfd_read_expired(const char *name)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);
	struct itimerspec its = { { 0, 0 }, { 0, 1000 } };
	struct timespec t = { 0, 5 * 1000 * 1000 };
	uint64_t v = 0;
	struct iocb cb;
	struct res r;

	if (fd < 0 || timerfd_settime(fd, 0, &its, NULL) != 0)
		die(name, "timerfd");
	nanosleep(&t, NULL);	/* expired: a read cannot block */
	io_prep_pread(&cb, fd, &v, sizeof(v), 0);
	r = run1(name, &cb);
	print1(name, r, " value=%llu", (unsigned long long)v);
	close(fd);
}

static void rw_epoll_read(const char *name)
{
	int fd = epoll_create1(0);
	char buf[64];
	struct iocb cb;

	if (fd < 0)
		die(name, "epoll_create1");
	io_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	sub_err(name, &cb);
	close(fd);
}

static void queue_run_unknown_ctx(const char *name)
{
	struct timespec zero = { 0, 0 };

	out(name, "run=%d wait=%d release=%d", io_queue_run(FAKE_CTX), io_queue_wait(FAKE_CTX, &zero),
	    io_queue_release(FAKE_CTX));
}

/* ------------------------------------------------------------------ main */

struct tcase {
	const char *name;
	void (*fn)(const char *name);
};

#define C(f) { #f, f }
static const struct tcase cases[] = {
	C(setup_ctxp_nonzero), C(setup_nr_zero), C(setup_nr_negative), C(setup_nr_huge),
	C(setup_nr_max), C(setup_over_quota), C(setup_ctxp_null), C(setup_ctxp_one),
	C(setup_ctxp_kernel), C(setup_ctxp_noaccess), C(setup_ctxp_readonly),
	C(setup_ctxp_null_nr_zero), C(setup_ok), C(setup_two_distinct),

	C(queue_init_zero), C(queue_init_negative), C(queue_init_ok),

	C(submit_nr_negative), C(submit_nr_zero), C(submit_nr_zero_unknown_ctx),
	C(submit_unknown_ctx), C(submit_null_ctx), C(submit_destroyed_ctx),
	C(submit_reserved2), C(submit_nbytes_huge), C(submit_bad_fd), C(submit_closed_fd),
	C(submit_resfd_not_eventfd), C(submit_resfd_closed), C(submit_opcode_unknown),
	C(submit_opcode_noop), C(submit_opcode_4), C(submit_opcode_negative),
	C(submit_opcode_unknown_bad_fd), C(submit_read_on_wronly),
	C(submit_write_on_rdonly), C(submit_preadv_on_wronly), C(submit_rwflags_unknown),
	C(submit_rwflags_unknown_wronly), C(submit_fsync_buf), C(submit_fsync_nbytes),
	C(submit_fsync_offset), C(submit_fsync_rwflags), C(submit_fdsync_offset),
	C(submit_fsync_pipe), C(submit_fdsync_socket), C(submit_poll_offset),
	C(submit_poll_nbytes), C(submit_poll_rwflags), C(submit_poll_events_over16),
	C(submit_negative_offset_file), C(submit_offset_overflow_file),
	C(submit_negative_offset_write_file), C(submit_preadv_iovcnt_over),
	C(submit_preadv_iovcnt_max), C(submit_preadv_iovcnt_negative),
	C(submit_preadv_iovcnt_zero), C(submit_preadv_bad_array),
	C(submit_preadv_iov_len_negative), C(submit_null_iocb_ptr),
	C(submit_iocb_noaccess), C(submit_array_noaccess), C(submit_stop_at_first_failure),
	C(submit_first_fails), C(submit_batch_ok), C(submit_key_zeroed),
	C(submit_key_bad_opcode), C(submit_key_bad_fd), C(submit_iocb_copied),
	C(submit_eagain_slots), C(submit_eagain_batch), C(submit_reqprio_ignored),
	C(submit_ioprio_invalid), C(submit_ioprio_best_effort),
	C(submit_unknown_aio_flags), C(submit_read_dir), C(submit_kernel_buffer),
	C(submit_bad_fd_bad_resfd), C(submit_opath_read), C(submit_opath_fsync),
	C(submit_opath_poll), C(submit_pipe_wrong_end), C(submit_rwflags_append_noappend),

	C(rw_pwrite_pread), C(rw_pread_cached), C(rw_cached_ready_at_submit),
	C(rw_pwritev_preadv), C(rw_short_at_eof), C(rw_read_past_eof), C(rw_read_zero_len),
	C(rw_preadv_short_at_eof), C(rw_write_extends), C(rw_fsync), C(rw_fdsync),
	C(rw_fsync_rdonly), C(rw_fsync_dir), C(rw_fsync_devnull), C(rw_odirect_aligned),
	C(rw_odirect_misaligned_buf), C(rw_odirect_misaligned_off),
	C(rw_odirect_write_misaligned_len), C(rw_pipe_read_ready), C(rw_pipe_write),
	C(rw_pipe_nowait_empty), C(rw_pipe_negative_offset), C(rw_pipe_read_eof),
	C(rw_socket_read_ready), C(rw_eventfd_read), C(rw_devzero_read),
	C(rw_devnull_write), C(rw_bad_buffer_read), C(rw_bad_buffer_write),
	C(rw_readonly_buffer_read), C(rw_bad_iov_base), C(rw_nowait_cached),
	C(rw_hipri_read), C(rw_append), C(rw_dsync_write), C(rw_o_append_fd),
	C(rw_eventfd_notify), C(rw_eventfd_notify_poll), C(rw_noappend_on_append_fd),
	C(rw_dontcache_read), C(rw_sync_write), C(rw_nowait_uncached), C(rw_nowait_write),
	C(rw_zero_len_write), C(rw_eventfd_write), C(rw_pipe_write_no_reader),
	C(rw_socket_nowait_empty), C(rw_ioprio_realtime), C(rw_inotify_read),
	C(rw_timerfd_read_expired), C(rw_epoll_read),

	C(poll_pipe_ready), C(poll_pipe_rdnorm), C(poll_pipe_hup), C(poll_pipe_pollout),
	C(poll_regular_file), C(poll_pipe_later), C(poll_zero_events),
	C(poll_pipe_later_hup), C(poll_pipe_later_pollout), C(poll_socket_later),
	C(poll_eventfd_later),

	C(getevents_min_negative), C(getevents_nr_negative), C(getevents_min_gt_nr),
	C(getevents_min_gt_nr_null_timeout), C(getevents_min_negative_zero_timeout),
	C(getevents_nr_negative_zero_timeout), C(getevents_min_gt_nr_zero_timeout),
	C(getevents_zero_timeout_empty), C(getevents_timeout_expires),
	C(getevents_nr_zero), C(getevents_min_gt_nr_zero_timeout_nonempty),
	C(getevents_unknown_ctx), C(getevents_null_ctx),
	C(getevents_bad_timeout_unknown_ctx), C(getevents_bad_events_ready),
	C(getevents_bad_events_empty), C(getevents_partial), C(getevents_min_not_reached),
	C(getevents_ready_null_timeout), C(getevents_nr_zero_with_events),
	C(getevents_odd_timeout_ready),

	C(pgetevents_sigmask_eintr), C(pgetevents_sigmask_blocks), C(pgetevents_ready),
	C(pgetevents_args), C(pgetevents_bad_sigmask),

	C(queue_run_callbacks), C(queue_run_empty), C(queue_wait),
	C(queue_run_unknown_ctx),

	C(cancel_never_submitted), C(cancel_completed), C(cancel_poll),
	C(cancel_poll_completed), C(cancel_key_nonzero), C(cancel_unknown_ctx),
	C(cancel_bad_iocb), C(cancel_other_ctx), C(cancel_queued_file),

	C(destroy_unknown), C(destroy_twice), C(destroy_poll_pending),
	C(destroy_unreaped_events), C(destroy_then_submit_new),

	C(buffered_read_uncached), C(buffered_write),
};

static void report_provider(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "io_submit");
	Dl_info info;
	char real[PATH_MAX];

	if (!sym || !dladdr(sym, &info) || !info.dli_fname) {
		fprintf(stderr, "provider: unknown\n");
		return;
	}
	if (!realpath(info.dli_fname, real))
		snprintf(real, sizeof(real), "%s", info.dli_fname);
	fprintf(stderr, "provider: %s\n", real);
}

int main(int argc, char **argv)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);

	alarm(60);
	/* uaio: one worker, so that queued requests stay queued a while
	 * (cancel_queued_file).  Debian's libaio ignores it. */
	setenv("UAIO_THREADS", "1", 0);
	signal(SIGPIPE, SIG_IGN);
	page_size = sysconf(_SC_PAGESIZE);
	noaccess_page = mmap(NULL, (size_t)page_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	readonly_page = mmap(NULL, (size_t)page_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (noaccess_page == MAP_FAILED || readonly_page == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	bad_buf = noaccess_page;
	if (getenv("LIBAIO_CASES_EOF_BUF") || (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload"))) {
		bad_buf_fd = open_tmp("main", 0, O_RDWR);
		bad_buf = mmap(NULL, (size_t)page_size, PROT_READ | PROT_WRITE, MAP_SHARED, bad_buf_fd, 0);
		if (bad_buf_fd < 0 || bad_buf == MAP_FAILED) {
			perror("mmap empty file");
			return 2;
		}
	}
	report_provider();
	for (size_t i = 0; i < ncases; i++) {
		int run = argc < 2;

		for (int a = 1; a < argc && !run; a++)
			run = strcmp(argv[a], cases[i].name) == 0;
		if (run)
			cases[i].fn(cases[i].name);
	}
	if (bad_buf != noaccess_page) {
		munmap(bad_buf, (size_t)page_size);
		close(bad_buf_fd);
	}
	munmap(noaccess_page, (size_t)page_size);
	munmap(readonly_page, (size_t)page_size);
	return 0;
}
