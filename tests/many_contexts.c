/* SPEC §1 ring: many contexts are cheap: 65,536 single-event contexts (the default quota) need no thread or file descriptor each; all can be destroyed and setup works again. */
#include "t.h"
#include <dirent.h>

#define N 65536

static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

int main(void)
{
	static aio_context_t ctx[N];
	aio_context_t extra = 0, big = 0;
	int fds0, fds1, thr0, thr1, ok = 0, first_err = 0, fd = t_tmpfile(4096, 0);
	char buf[16];

	unsetenv("UAIO_MAX_NR");	/* the default quota: 65536 */
	/* make sure the library's process-wide machinery exists first */
	{
		aio_context_t c = 0;

		REQUIRE(t_setup(1, &c) == 0);
		REQUIRE(uaio_destroy(c) == 0);
	}
	fds0 = fd_count();
	thr0 = t_thread_count();
	for (int i = 0; i < N; i++) {
		int r = t_setup(1, &ctx[i]);

		if (r != 0) {
			if (!first_err) {
				t_fail("setup #%d: %d", i, r);
				first_err = r;
			}
			ctx[i] = 0;
			continue;
		}
		ok++;
	}
	CHECK_EQ(ok, N);
	CHECK_EQ(first_err, 0);
	/* over the quota now: -EAGAIN, not -ENOMEM */
	if (ok == N)
		CHECK_EQ(t_setup(1, &extra), -EAGAIN);
	fds1 = fd_count();
	thr1 = t_thread_count();
	CHECK(fds1 - fds0 <= 3);
	CHECK(thr1 - thr0 <= 2);
	fprintf(stderr, "fds %d -> %d, threads %d -> %d\n", fds0, fds1, thr0, thr1);

	/* a few of them work (first, middle, last) */
	for (int k = 0; k < 3; k++) {
		int i = k == 0 ? 0 : k == 1 ? N / 2 : N - 1;
		struct iocb cb, *v = &cb;
		struct io_event ev;

		if (!ctx[i])
			continue;
		uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
		cb.aio_data = (uint64_t)i;
		CHECK_EQ(uaio_submit(ctx[i], 1, &v), 1);
		CHECK_EQ(t_wait1(&t_uaio, ctx[i], &ev), 1);
		CHECK_EQ(ev.data, (uint64_t)i);
		CHECK_EQ(ev.res, sizeof(buf));
		CHECK_EQ(buf[1], (char)t_pattern(1));
	}
	{
		struct uaio_stats st;

		CHECK_EQ(uaio_stats(0, &st), 0);
		CHECK_EQ(st.contexts, (unsigned long long)ok);
	}

	for (int i = 0; i < N; i++) {
		if (!ctx[i])
			continue;
		int r = uaio_destroy(ctx[i]);

		if (r != 0) {
			t_fail("destroy #%d: %d", i, r);
			break;
		}
	}
	CHECK_EQ(fd_count(), fds0);
	/* the quota is free again: the whole of it in one context */
	CHECK_EQ(t_setup(N, &big), 0);
	if (big)
		CHECK_EQ(uaio_destroy(big), 0);
	CHECK_EQ(t_setup(1, &extra), 0);
	if (extra)
		CHECK_EQ(uaio_destroy(extra), 0);
	close(fd);
	return t_done();
}
