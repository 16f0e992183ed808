/* uaio_faults(7): a bad spec (in uaio_params.faults or $UAIO_FAULTS) makes setup fail with -EINVAL; $UAIO_FAULTS applies to contexts set up without a spec of their own; "" turns faults off. */
#include "t.h"

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

static int try(const char *spec)
{
	aio_context_t ctx = 0;
	int r = f_setup(4, &ctx, spec);

	if (r == 0)
		CHECK_EQ(uaio_destroy(ctx), 0);
	return r;
}

static long long read_res(aio_context_t ctx, int fd)
{
	static char buf[64];
	struct iocb cb, *v = &cb;
	struct io_event ev;

	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	return ev.res;
}

int main(void)
{
	static const char *bad[] = {
		"op=pread",			/* no action */
		"err=EIO:short",		/* two actions */
		"err=EFOO", "err=0", "err=4096", "err=",
		"p=1.5:err=EIO", "p=2:err=EIO", "p=-0.1:err=EIO", "p=0,5:err=EIO",
		"p=0.1:every=3:err=EIO",	/* two triggers */
		"every=0:err=EIO", "count=0:err=EIO", "after=x:err=EIO",
		"delay=5", "delay=5min", "delay=ms", "delay=3601s",
		"op=fsync:short",		/* short is for reads and writes */
		"short=-1", "fd=-1:err=EIO", "fd=x:err=EIO", "path=:err=EIO",
		"op=pread,foo:err=EIO", "op=:err=EIO", "bogus=1:err=EIO", "op:err=EIO",
		"seed=x", "seed=1;seed=2", "seed=1:err=EIO",
		"fd=1:fd=2:err=EIO",
	};
	static const char *good[] = {
		"seed=42;op=pwrite,fsync:fd=5:path=/data/:p=0.01:err=EIO;op=pread:every=100:short;op=pread:p=0.1:delay=5ms",
		"", " ; ;", "err=5", "err=enospc", "seed=0", "op=all:err=EIO",
		"op=read,write,sync,poll:after=3:count=1:p=0.5:delay=250us",
		"short=0", "delay=100ns", "p=1:err=EIO", "p=0:err=EIO",
	};
	char many[64 * 9 + 16] = "";
	aio_context_t ctx = 0;
	struct uaio_params p;
	int fd = t_tmpfile(4096, 0);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (try(bad[i]) != -EINVAL)
			t_fail("spec \"%s\" was accepted", bad[i]);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (try(good[i]) != 0)
			t_fail("spec \"%s\" was refused", good[i]);
	for (int i = 0; i < 64; i++)
		strcat(many, "err=EIO;");
	CHECK_EQ(try(many), 0);
	strcat(many, "err=EIO");
	CHECK_EQ(try(many), -EINVAL);	/* 65 rules */

	/* The reserved words left still must be 0. */
	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.reserved[10] = 1;
	CHECK_EQ(uaio_setup_params(4, &p, &ctx), -EINVAL);

	/* $UAIO_FAULTS, read at every setup. */
	REQUIRE(setenv("UAIO_FAULTS", "op=pread:err=EIO", 1) == 0);
	REQUIRE(f_setup(4, &ctx, NULL) == 0);
	CHECK_EQ(read_res(ctx, fd), -EIO);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;
	REQUIRE(f_setup(4, &ctx, "op=pread:err=EBADMSG") == 0);	/* the context's own wins */
	CHECK_EQ(read_res(ctx, fd), -EBADMSG);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;
	REQUIRE(f_setup(4, &ctx, "") == 0);				/* "": none */
	CHECK_EQ(read_res(ctx, fd), 64);
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;
	REQUIRE(setenv("UAIO_FAULTS", "op=pread:err=EWHAT", 1) == 0);
	CHECK_EQ(f_setup(4, &ctx, NULL), -EINVAL);
	CHECK_EQ(ctx, 0);
	REQUIRE(f_setup(4, &ctx, "op=pwrite:err=EIO") == 0);	/* a bad env does not matter then */
	CHECK_EQ(uaio_destroy(ctx), 0);
	ctx = 0;
	CHECK_EQ(uaio_setup(4, &ctx), -EINVAL);			/* plain setup reads it too */
	ctx = 0;
	REQUIRE(unsetenv("UAIO_FAULTS") == 0);
	REQUIRE(f_setup(4, &ctx, NULL) == 0);
	CHECK_EQ(read_res(ctx, fd), 64);
	CHECK_EQ(uaio_destroy(ctx), 0);

	/* Silent by default; UAIO_FAULTS_VERBOSE: one line on stderr. */
	{
		char out[512] = "";
		int tmp = t_tmpfile(0, 0), saved = dup(2);
		ssize_t n;

		REQUIRE(saved >= 0 && dup2(tmp, 2) == 2);
		CHECK_EQ(try("err=EIO;op=pread:delay=5"), -EINVAL);
		REQUIRE(setenv("UAIO_FAULTS_VERBOSE", "1", 1) == 0);
		CHECK_EQ(try("err=EIO;op=pread:delay=5"), -EINVAL);
		REQUIRE(unsetenv("UAIO_FAULTS_VERBOSE") == 0);
		REQUIRE(dup2(saved, 2) == 2);
		close(saved);
		n = pread(tmp, out, sizeof(out) - 1, 0);
		REQUIRE(n >= 0);
		out[n] = 0;
		CHECK(!strcmp(out, "uaio: fault spec, item 2: bad value for 'delay'\n"));
		if (strcmp(out, "uaio: fault spec, item 2: bad value for 'delay'\n"))
			fprintf(stderr, "stderr was: %s", out);
		close(tmp);
	}

	/* An injected error does not hide a bad descriptor: submit says -EBADF. */
	{
		struct iocb cb, *v = &cb;
		char buf[8];
		int closed = dup(fd);

		close(closed);
		ctx = 0;
		REQUIRE(f_setup(4, &ctx, "err=EIO") == 0);
		uaio_prep_pread(&cb, closed, buf, sizeof(buf), 0);
		CHECK_EQ(uaio_submit(ctx, 1, &v), -EBADF);
		CHECK_EQ(uaio_destroy(ctx), 0);
	}
	close(fd);
	return t_done();
}
