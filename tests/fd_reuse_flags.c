/* SPEC §2 submit: an fd's flags are read at each submit, as the kernel reads them, whatever uaio remembers of them: a descriptor read from a moment ago (so uaio's per-descriptor flag cache holds it), then closed, reopened on the same number as another file, a file of another access mode, a pipe, a directory, an O_PATH, an eventfd, or given O_APPEND or O_DIRECT with F_SETFL, gets the kernel's answer at once: the same submit result and event as kernel AIO in the same case.  Twice: after a buffered read, and after an O_DIRECT read (which an executor may send on the remembered flags without asking fcntl: exec_ops.submit_verify). */
#include "t.h"
#include "exhaust.h"
#include <sys/eventfd.h>

#define FD	100	/* the descriptor number every case reuses */
#define SZ	4096

struct outcome {
	long submit, res, extra;
};

static int file_a, file_b, fl_a;	/* pattern files, O_RDWR: FD starts as a */
static bool direct;			/* this pass: FD starts as a, opened O_DIRECT */
static unsigned char *buf;		/* SZ * 2, aligned */

static void put(int fd)
{
	REQUIRE(dup2(fd, FD) == FD);
}

static void put_open(const char *path, int flags)
{
	int fd = open(path, flags);

	REQUIRE(fd >= 0);
	put(fd);
	close(fd);
}

/* Submits one request on FD; the event waited for (60 s net) unless
 * submit failed. */
static void one(const struct t_api *a, aio_context_t ctx, int op, void *p, size_t len,
		struct outcome *o)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	x_prep(&cb, op, FD, p, len, 0);
	o->submit = a->submit(ctx, 1, cbs);
	o->res = 0;
	if (o->submit == 1)
		o->res = t_wait1(a, ctx, &ev) == 1 ? (long)ev.res : -9999;
}

/* A read of file a on FD (cached, or O_DIRECT in the direct pass): uaio
 * now remembers FD's flags. */
static void warm(const struct t_api *a, aio_context_t ctx)
{
	struct outcome o;
	char self[64];

	snprintf(self, sizeof(self), "/proc/self/fd/%d", file_a);
	if (direct)
		put_open(self, O_RDWR | O_DIRECT);
	else
		put(file_a);
	one(a, ctx, IOCB_CMD_PREAD, buf, SZ, &o);
	REQUIRE(o.submit == 1 && o.res == SZ);
}

enum { C_CLOSED, C_OTHER, C_RDONLY, C_WRONLY, C_DIR, C_OPATH, C_EVENTFD, C_PIPE_NB,
       C_POLL_CLOSED, C_APPEND, C_DIRECT, C_DIRECT_BAD, NCASE };
static const char *const names[] = { "closed", "other file", "O_RDONLY, write", "O_WRONLY, read",
				     "directory", "O_PATH", "eventfd, write", "O_NONBLOCK pipe",
				     "POLL, closed", "F_SETFL O_APPEND", "F_SETFL O_DIRECT",
				     "F_SETFL O_DIRECT, unaligned" };

static void set_fl(int add)
{
	REQUIRE(fcntl(FD, F_SETFL, fcntl(FD, F_GETFL) | add) == 0);
}

/* What FD becomes after warm(); false when the case cannot run here. */
static bool disrupt(int c, int p[2])
{
	char self[64];

	switch (c) {
	case C_CLOSED:
	case C_POLL_CLOSED:
		close(FD);
		return true;
	case C_OTHER:
		put(file_b);
		return true;
	case C_RDONLY:
	case C_WRONLY:
		snprintf(self, sizeof(self), "/proc/self/fd/%d", file_b);
		put_open(self, c == C_RDONLY ? O_RDONLY : O_WRONLY);
		return true;
	case C_DIR:
		put_open("/", O_RDONLY | O_DIRECTORY);
		return true;
	case C_OPATH:
		put_open("/", O_PATH);
		return true;
	case C_EVENTFD:
		p[0] = eventfd(0, 0);
		put(p[0]);
		return true;
	case C_PIPE_NB:
		REQUIRE(pipe2(p, O_NONBLOCK) == 0);
		put(p[0]);
		return true;
	case C_APPEND:
		set_fl(O_APPEND);
		return true;
	default:	/* C_DIRECT, C_DIRECT_BAD: refused on tmpfs */
		return fcntl(FD, F_SETFL, fcntl(FD, F_GETFL) | O_DIRECT) == 0;
	}
}

static void request(const struct t_api *a, aio_context_t ctx, int c, struct outcome *o)
{
	static const uint64_t e = 1;
	struct stat st;

	switch (c) {
	case C_RDONLY:
	case C_EVENTFD:
		one(a, ctx, IOCB_CMD_PWRITE, (void *)&e, sizeof(e), o);
		break;
	case C_POLL_CLOSED:
		one(a, ctx, IOCB_CMD_POLL, NULL, 0, o);
		break;
	case C_APPEND:
		one(a, ctx, IOCB_CMD_PWRITE, buf, 5, o);
		REQUIRE(fstat(FD, &st) == 0);
		o->extra = (long)st.st_size;
		break;
	case C_DIRECT_BAD:
		one(a, ctx, IOCB_CMD_PREAD, buf + 1, SZ, o);
		break;
	default:
		one(a, ctx, IOCB_CMD_PREAD, buf, SZ, o);
		o->extra = o->submit == 1 && o->res > 0 ? buf[0] : -1;
		break;
	}
}

/* One case on one API; false when it cannot run here. */
static bool run(const struct t_api *a, int c, struct outcome *o)
{
	aio_context_t ctx = ctx_for(a);
	int p[2] = { -1, -1 };
	bool ran;

	memset(o, 0, sizeof(*o));
	memset(buf, 0, SZ * 2);
	REQUIRE(ftruncate(file_a, SZ * 4) == 0);
	warm(a, ctx);
	if ((ran = disrupt(c, p)))
		request(a, ctx, c, o);
	close(FD);
	REQUIRE(fcntl(file_a, F_SETFL, fl_a) == 0);	/* F_SETFL changed file a's flags */
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return ran;
}

static int pattern_file(unsigned char seed)
{
	int fd = t_tmpfile(SZ * 4, O_RDWR);

	memset(buf, seed, SZ);
	REQUIRE(pwrite(fd, buf, SZ, 0) == SZ);
	return fd;
}

int main(void)
{
	struct outcome k, u;

	if (!k_available())
		t_skip("kernel AIO unavailable (needed for the expected answers)");
	buf = mmap(NULL, SZ * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(buf != MAP_FAILED);
	file_a = pattern_file(0xaa);
	file_b = pattern_file(0xbb);
	fl_a = fcntl(file_a, F_GETFL);
	for (int pass = 0; pass < 2; pass++) {
		char self[64];
		int probe;

		snprintf(self, sizeof(self), "/proc/self/fd/%d", file_a);
		if ((direct = pass == 1) && (probe = open(self, O_RDWR | O_DIRECT)) < 0) {
			printf("O_DIRECT pass not here (O_DIRECT refused)\n");
			break;
		}
		if (direct)
			close(probe);
		for (int c = 0; c < NCASE; c++) {
			bool kr = run(&t_kernel, c, &k), ur = run(&t_uaio, c, &u);

			if (!kr || !ur) {
				printf("%-28s not here (O_DIRECT refused)\n", names[c]);
				continue;
			}
			printf("%s%-28s submit %ld res %ld extra %ld\n", direct ? "O_DIRECT, then " : "",
			       names[c], u.submit, u.res, u.extra);
			if (k.submit != u.submit || k.res != u.res || k.extra != u.extra)
				t_fail("%s%s: kernel submit %ld res %ld extra %ld, uaio %ld %ld %ld",
				       direct ? "O_DIRECT, then " : "", names[c], k.submit, k.res,
				       k.extra, u.submit, u.res, u.extra);
		}
	}
	ctx_release();
	return t_done();
}
