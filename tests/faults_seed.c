/* uaio_faults(7): p= decisions depend only on the seed and the rule's match count: two contexts with the same spec fail exactly the same requests; another seed fails others. */
#include "t.h"

#define NREQ 300

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

/* Runs NREQ preads in batches of 10 on a fresh context; marks the failed
 * ones in out[]; returns how many failed. */
static int run(const char *spec, int fd, char out[NREQ])
{
	static char bufs[10][64];
	struct iocb cbs[10], *v[10];
	struct io_event ev[10];
	aio_context_t ctx = 0;
	int failed = 0;

	REQUIRE(f_setup(16, &ctx, spec) == 0);
	for (int i = 0; i < NREQ; i += 10) {
		int got = 0;

		for (int j = 0; j < 10; j++) {
			uaio_prep_pread(&cbs[j], fd, bufs[j], 64, (i + j) * 64);
			cbs[j].aio_data = (uint64_t)(i + j);
			v[j] = &cbs[j];
		}
		REQUIRE(uaio_submit(ctx, 10, v) == 10);
		while (got < 10) {
			int n = uaio_getevents(ctx, 1, 10 - got, ev, NULL);

			REQUIRE(n > 0);
			for (int k = 0; k < n; k++) {
				out[ev[k].data] = ev[k].res == -EIO;
				CHECK(ev[k].res == -EIO || ev[k].res == 64);
				failed += ev[k].res == -EIO;
			}
			got += n;
		}
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	return failed;
}

int main(void)
{
	static char a[NREQ], b[NREQ], c[NREQ], d[NREQ];
	int fd = t_tmpfile(NREQ * 64, 0);
	int na, nb, nc, nd;

	na = run("seed=42;op=pread:p=0.25:err=EIO", fd, a);
	nb = run(" seed = 42 ; op=pread : p=.25 : err=eio ", fd, b);
	CHECK_EQ(na, nb);
	CHECK(memcmp(a, b, NREQ) == 0);		/* the same requests, not just as many */
	CHECK(na > 0 && na < NREQ);
	nc = run("seed=43;op=pread:p=0.25:err=EIO", fd, c);
	CHECK(nc > 0 && nc < NREQ);
	CHECK(memcmp(a, c, NREQ) != 0);		/* another seed, other requests */
	nd = run("seed=42;op=pread:p=0:err=EIO", fd, d);
	CHECK_EQ(nd, 0);
	nd = run("seed=42;op=pread:p=1:err=EIO", fd, d);
	CHECK_EQ(nd, NREQ);
	printf("p=0.25 over %d requests: seed 42 failed %d, seed 43 failed %d\n", NREQ, na, nc);
	close(fd);
	return t_done();
}
