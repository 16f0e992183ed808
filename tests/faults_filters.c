/* uaio_faults(7): path= matches a prefix of the fd's /proc/self/fd link, fd= one descriptor, op= the listed opcodes; other requests are untouched. */
#include "t.h"

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

static long long one(aio_context_t ctx, int op, int fd)
{
	static char buf[256];
	struct iocb cb, *v = &cb;
	struct io_event ev;

	if (op == IOCB_CMD_FSYNC)
		uaio_prep_fsync(&cb, fd);
	else
		uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)buf, sizeof(buf), 0);
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	return ev.res;
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char dir[4096], pa[4200], pb[4200], spec[4400];
	aio_context_t ctx = 0;
	int fa, fb;

	snprintf(dir, sizeof(dir), "%s/uaio-faults-XXXXXX", t && *t ? t : "/var/tmp");
	REQUIRE(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/data-a", dir);
	snprintf(pb, sizeof(pb), "%s/log-b", dir);
	REQUIRE((fa = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	REQUIRE((fb = open(pb, O_RDWR | O_CREAT | O_TRUNC, 0600)) >= 0);
	REQUIRE(ftruncate(fa, 4096) == 0 && ftruncate(fb, 4096) == 0);

	/* path=: only the files under the prefix. */
	snprintf(spec, sizeof(spec), "path=%s/data-:err=EIO", dir);
	REQUIRE(f_setup(4, &ctx, spec) == 0);
	CHECK_EQ(one(ctx, IOCB_CMD_PREAD, fa), -EIO);
	CHECK_EQ(one(ctx, IOCB_CMD_PWRITE, fa), -EIO);
	CHECK_EQ(one(ctx, IOCB_CMD_FSYNC, fa), -EIO);
	CHECK_EQ(one(ctx, IOCB_CMD_PREAD, fb), 256);
	CHECK_EQ(one(ctx, IOCB_CMD_FSYNC, fb), 0);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;

	/* fd= with op=: only writes to fb. */
	snprintf(spec, sizeof(spec), "op=write:fd=%d:err=EROFS", fb);
	REQUIRE(f_setup(4, &ctx, spec) == 0);
	CHECK_EQ(one(ctx, IOCB_CMD_PWRITE, fb), -EROFS);
	CHECK_EQ(one(ctx, IOCB_CMD_PREAD, fb), 256);
	CHECK_EQ(one(ctx, IOCB_CMD_PWRITE, fa), 256);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;

	/* A path and an fd that both must match; the first rule that fires decides. */
	snprintf(spec, sizeof(spec), "fd=%d:path=%s/log:err=EIO;op=pread:err=ENODATA", fa, dir);
	REQUIRE(f_setup(4, &ctx, spec) == 0);
	CHECK_EQ(one(ctx, IOCB_CMD_PWRITE, fa), 256);		/* fd matches, path does not */
	CHECK_EQ(one(ctx, IOCB_CMD_PREAD, fa), -ENODATA);	/* the second rule */
	CHECK_EQ(one(ctx, IOCB_CMD_PREAD, fb), -ENODATA);
	CHECK_EQ(uaio_destroy(ctx), 0);

	close(fa);
	close(fb);
	unlink(pa);
	unlink(pb);
	rmdir(dir);
	return t_done();
}
