/* Issue 5, resource exhaustion: mappings fail.  A thread whose mapping of uaio's arena chunk (or of a ring slice's view in it: mmap or mremap) is refused gets -ENOMEM from setup, never -EAGAIN (SPEC: that means over quota), with nothing leaked: no quota, no descriptor, no context; the next setup, from a thread without the filter, works.  The same with RLIMIT_AS lowered to leave no room for an arena chunk, then raised again. */
#include "exhaust.h"
#include <sys/mman.h>

#define CHUNK (512UL << 20)	/* the arena's chunk (src/arena.h) */

static unsigned long deny_len;	/* mmaps of this length fail; 0: views of shared memory */

static void *denied_setup(void *arg)
{
	aio_context_t *ctx = arg;
	char *p;

	if (deny_len) {
		x_deny_mmap(deny_len, 0);
		/* the filter works */
		p = mmap(NULL, deny_len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		CHECK(p == MAP_FAILED && errno == ENOMEM);
	} else {
		p = mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		REQUIRE(p != MAP_FAILED);
		x_deny_shared_views();
		CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED | MAP_FIXED, -1, 0) == MAP_FAILED &&
		      errno == ENOMEM);
		CHECK(mremap(p, 0, 4096, MREMAP_MAYMOVE) == MAP_FAILED && errno == ENOMEM);
		munmap(p, 4096);
	}
	CHECK_EQ(x_setup(8, ctx), -ENOMEM);
	CHECK_EQ(*ctx, 0);
	CHECK_EQ(x_setup(8, ctx), -ENOMEM);
	return NULL;
}

static void setup_in_filtered_thread(unsigned long len)
{
	aio_context_t ctx = 0;
	pthread_t t;

	deny_len = len;
	REQUIRE(pthread_create(&t, NULL, denied_setup, &ctx) == 0);
	REQUIRE(pthread_join(t, NULL) == 0);
}

static void use(aio_context_t ctx)
{
	static char buf[4096];
	struct iocb cb, *v = &cb;
	int fd = t_tmpfile(8192, 0);
	int64_t res = 4096;

	x_prep(&cb, IOCB_CMD_PREAD, fd, buf, sizeof(buf), 4096);
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	x_collect(ctx, &cb, &res, 1);
	close(fd);
}

static int contexts(void)
{
	struct uaio_stats st;

	REQUIRE(uaio_stats(0, &st) == 0);
	return (int)st.contexts;
}

/* A fresh arena: its first chunk cannot be mapped. */
static int seccomp_case(void)
{
	aio_context_t a = 0, b = 0;
	int fds = x_fd_count();

	setup_in_filtered_thread(CHUNK);
	CHECK_EQ(contexts(), 0);
	/* the quota (UAIO_MAX_NR=16) was not charged by the failures */
	CHECK_EQ(x_setup(8, &a), 0);
	use(a);
	/* the arena has room now; the slice mapping itself fails */
	setup_in_filtered_thread(0);
	CHECK_EQ(contexts(), 1);
	CHECK_EQ(x_setup(8, &b), 0);
	use(b);
	CHECK_EQ(uaio_destroy(a), 0);
	CHECK_EQ(uaio_destroy(b), 0);
	CHECK_EQ(contexts(), 0);
	CHECK_EQ(x_fd_count(), fds);
	return t_done();
}

static unsigned long vm_size(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned long kb = 0;

	REQUIRE(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %lu", &kb) == 1)
			break;
	fclose(f);
	return kb << 10;
}

static int rlimit_case(void)
{
	struct rlimit old, r;
	aio_context_t a = 0;

	REQUIRE(getrlimit(RLIMIT_AS, &old) == 0);
	r = old;
	r.rlim_cur = vm_size() + (256UL << 20);	/* room for everything but a chunk */
	REQUIRE(setrlimit(RLIMIT_AS, &r) == 0);
	CHECK_EQ(x_setup(8, &a), -ENOMEM);
	CHECK_EQ(a, 0);
	CHECK_EQ(x_setup(8, &a), -ENOMEM);
	REQUIRE(setrlimit(RLIMIT_AS, &old) == 0);
	CHECK_EQ(contexts(), 0);
	CHECK_EQ(x_setup(16, &a), 0);	/* the whole quota: nothing was charged */
	use(a);
	CHECK_EQ(uaio_destroy(a), 0);
	return t_done();
}

int main(void)
{
	int r;

	x_skip_under_valgrind();
	setenv("UAIO_MAX_NR", "16", 1);
	r = x_child(seccomp_case);	/* a child: its arena starts empty */
	if (r == T_SKIP)
		t_skip("seccomp filters unavailable");
	if (r != T_PASS)
		t_fail("seccomp: child exit %d", r);
	if (x_child(rlimit_case) != T_PASS)
		t_fail("RLIMIT_AS: child failed");
	return t_done();
}
