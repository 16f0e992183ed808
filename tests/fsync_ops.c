/* SPEC §2 submit: FSYNC/FDSYNC on a file or a directory complete with res 0; any of buf, nbytes, offset, rw_flags non-zero -> -EINVAL; on a pipe, a socket, /dev/null or an eventfd -> -EINVAL; each compared with the kernel. */
#include "t.h"
#include <sys/eventfd.h>
#include <sys/socket.h>

enum { F_FILE, F_RO, F_WO, F_DIR, F_PIPE_R, F_PIPE_W, F_SOCK, F_NULL, F_EFD, NF };
static const char *fname[NF] = { "file", "file O_RDONLY", "file O_WRONLY", "directory", "pipe read end",
				 "pipe write end", "socket", "/dev/null", "eventfd" };
static int fds[NF];

struct variant { const char *name; uint64_t buf, nbytes; int64_t off; uint32_t rwf; };
static const struct variant variants[] = {
	{ "plain", 0, 0, 0, 0 },
	{ "buf", 0x1000, 0, 0, 0 },
	{ "nbytes", 0, 1, 0, 0 },
	{ "nbytes 1<<40", 0, 1ull << 40, 0, 0 },
	{ "offset", 0, 0, 4096, 0 },
	{ "offset -1", 0, 0, -1, 0 },
	{ "rw_flags DSYNC", 0, 0, 0, RWF_DSYNC },
	{ "rw_flags 0x200", 0, 0, 0, 0x200 },
	{ "all", 1, 1, 1, 1 },
};

static long long one(const struct t_api *a, int op, int fd, const struct variant *v)
{
	aio_context_t ctx = ctx_for(a);
	struct iocb cb, *vv[1] = { &cb };
	struct io_event ev;
	long long res;

	uaio_prep_rw(&cb, op, fd, v->buf, v->nbytes, v->off);
	cb.aio_rw_flags = (int)v->rwf;
	cb.aio_data = 0x5555;
	int rc = a->submit(ctx, 1, vv);
	if (rc != 1) {
		res = rc - 1000;
	} else if (t_wait1(a, ctx, &ev) != 1) {
		res = -9999;
	} else {
		res = ev.res;
		CHECK_EQ(ev.data, 0x5555);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
		CHECK_EQ(ev.res2, 0);
	}
	return res;
}

static int reopen(int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int fd2 = open(path, flags);
	REQUIRE(fd2 >= 0);
	close(fd);
	return fd2;
}

int main(void)
{
	int p[2], s[2];

	if (!k_available())
		t_skip("kernel AIO unavailable");
	fds[F_FILE] = t_tmpfile(4096, 0);
	fds[F_RO] = reopen(t_tmpfile(4096, 0), O_RDONLY);
	fds[F_WO] = reopen(t_tmpfile(4096, 0), O_WRONLY);
	const char *d = getenv("TMPDIR");
	fds[F_DIR] = open(d && *d ? d : "/var/tmp", O_RDONLY | O_DIRECTORY);
	REQUIRE(fds[F_DIR] >= 0);
	REQUIRE(pipe(p) == 0);
	fds[F_PIPE_R] = p[0];
	fds[F_PIPE_W] = p[1];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	fds[F_SOCK] = s[0];
	fds[F_NULL] = open("/dev/null", O_RDWR);
	REQUIRE(fds[F_NULL] >= 0);
	fds[F_EFD] = eventfd(0, 0);
	REQUIRE(fds[F_EFD] >= 0);

	/* something to sync */
	REQUIRE(pwrite(fds[F_FILE], "dirty", 5, 100) == 5);

	static const int ops[] = { IOCB_CMD_FSYNC, IOCB_CMD_FDSYNC };
	for (int o = 0; o < 2; o++)
		for (int f = 0; f < NF; f++)
			for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
				long long k = one(&t_kernel, ops[o], fds[f], &variants[v]);
				long long u = one(&t_uaio, ops[o], fds[f], &variants[v]);
				long long want;
				if (v != 0 || f >= F_PIPE_R)
					want = -EINVAL - 1000;	/* submit -EINVAL */
				else
					want = 0;		/* event res 0 */
				if (k != want || u != want)
					t_fail("%s on %s (%s): kernel %lld uaio %lld want %lld (values < -900 are "
					       "submit errors - 1000)",
					       o ? "FDSYNC" : "FSYNC", fname[f], variants[v].name, k, u, want);
			}

	/* the data written before the FSYNC is still there (nothing else done) */
	char b[5];
	REQUIRE(pread(fds[F_FILE], b, 5, 100) == 5);
	CHECK(memcmp(b, "dirty", 5) == 0);

	for (int f = 0; f < NF; f++)
		close(fds[f]);
	close(s[1]);
	ctx_release();
	return t_done();
}
