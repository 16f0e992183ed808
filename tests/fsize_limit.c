/* SPEC §2 setup (and §2 Threads, processes, signals): a file-size limit (RLIMIT_FSIZE, `ulimit -f`) of 0, 1 or 8192 bytes, set before the first setup or after it, changes nothing: setup gives a context like the kernel's io_setup (small, large, and ones that grow the ring arena past its first chunk), a read is submitted and reaped, a moved (mremap) ring still works, destroy works, and no SIGXFSZ kills the program. */
#include "t.h"
#include <signal.h>
#include <sys/resource.h>

#define ALARM_S		120	/* a hung child fails (SIGALRM) */
#define CHUNK		(512UL << 20)	/* the arena's chunk (src/arena.h) */
#define HUGE_NR		3000000	/* a ring of about 190 MiB */

static int data_fd = -1;	/* 8 KiB of t_pattern, opened before any limit */
static int kok;			/* the kernel's AIO is available */

/* Under valgrind, which refuses mremap's duplication of shared memory,
 * uaio keeps its rings in a memfd that the limit does govern: setup may
 * answer -ENOMEM there, but must neither kill nor hang. */
static void check_setup(int got, int want, const char *what)
{
	if (t_under_valgrind() && got == -ENOMEM) {
		fprintf(stderr, "note: %s: -ENOMEM (valgrind: memfd rings)\n", what);
		return;
	}
	if (got != want)
		t_fail("%s: %d, want %d", what, got, want);
}

static void set_fsize(rlim_t limit)
{
	struct rlimit r;

	REQUIRE(getrlimit(RLIMIT_FSIZE, &r) == 0);
	r.rlim_cur = limit;
	REQUIRE(setrlimit(RLIMIT_FSIZE, &r) == 0);
}

/* Proves the limit bites in this process: a memfd cannot grow past it
 * (SIGXFSZ ignored for the probe only). */
static void limit_bites(rlim_t limit)
{
	int fd = memfd_create("fsize-probe", MFD_CLOEXEC);

	REQUIRE(fd >= 0);
	signal(SIGXFSZ, SIG_IGN);
	CHECK(ftruncate(fd, (off_t)limit + 65536) < 0 && errno == EFBIG);
	signal(SIGXFSZ, SIG_DFL);
	close(fd);
}

/* One read of 64 bytes at off through ctx, reaped; the data checked. */
static void read_once(const struct t_api *a, aio_context_t ctx, off_t off)
{
	unsigned char buf[64];
	struct iocb cb, *v = &cb;
	struct io_event ev;

	memset(buf, 0, sizeof(buf));
	uaio_prep_pread(&cb, data_fd, buf, sizeof(buf), off);
	cb.aio_data = 0xf512e;
	CHECK_EQ(a->submit(ctx, 1, &v), 1);
	CHECK_EQ(t_wait1(a, ctx, &ev), 1);
	CHECK_EQ(ev.data, 0xf512e);
	CHECK_EQ(ev.res, sizeof(buf));
	CHECK_EQ(buf[0], t_pattern((uint64_t)off));
	CHECK_EQ(buf[63], t_pattern((uint64_t)off + 63));
}

/* setup(nr) on both; the kernel's answer is the expectation.  Leaves each
 * context in *k / *u (0 if refused). */
static void setup_both(unsigned nr, aio_context_t *k, aio_context_t *u, const char *what)
{
	int kr = kok ? k_setup(nr, k) : 0;
	int ur = t_setup(nr, u);

	if (kr != 0)
		t_fail("%s: the kernel answers %d", what, kr);
	check_setup(ur, kr, what);
}

static void use_and_destroy(const struct t_api *a, aio_context_t ctx, off_t off)
{
	if (!ctx)
		return;
	read_once(a, ctx, off);
	CHECK_EQ(a->destroy(ctx), 0);
}

/* Moves ctx's ring with mremap; returns the new address (the handle). */
static aio_context_t move_ring(aio_context_t ctx)
{
	struct uaio_ring *r = (struct uaio_ring *)(uintptr_t)ctx;
	size_t len = (sizeof(*r) + (size_t)r->nr * sizeof(struct io_event) + 4095) & ~(size_t)4095;
	void *dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *p;

	REQUIRE(dst != MAP_FAILED);
	p = mremap((void *)(uintptr_t)ctx, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	REQUIRE(p == dst);
	CHECK_EQ(((struct uaio_ring *)p)->magic, UAIO_RING_MAGIC);
	return (aio_context_t)(uintptr_t)p;
}

/* The limit is there before uaio does anything in the process. */
static void limit_first(rlim_t limit)
{
	aio_context_t k = 0, u = 0, k2 = 0, u2 = 0, u3 = 0;

	set_fsize(limit);
	setup_both(128, &k, &u, "setup(128)");
	setup_both(4096, &k2, &u2, "setup(4096)");	/* a ring of 256 KiB */
	if (k)
		use_and_destroy(&t_kernel, k, 0);
	use_and_destroy(&t_uaio, u, 64);
	use_and_destroy(&t_uaio, u2, 4096);
	if (k2)
		CHECK_EQ(k_destroy(k2), 0);
	/* the whole default quota in one ring (the kernel's aio-max-nr
	 * would refuse this one, for its own reasons) */
	check_setup(t_setup(65536, &u3), 0, "setup(65536)");
	use_and_destroy(&t_uaio, u3, 128);
	limit_bites(limit);
}

/* The limit comes after the first setup; later setups grow the arena into
 * its second and third chunks (UAIO_MAX_NR is raised for the big rings). */
static void limit_later(rlim_t limit)
{
	aio_context_t first = 0, k = 0, u = 0, big[3] = { 0 };
	struct uaio_stats st;

	setenv("UAIO_MAX_NR", "16000000", 1);	/* read at the first setup */
	REQUIRE(t_setup(8, &first) == 0);
	set_fsize(limit);
	setup_both(128, &k, &u, "setup(128) after the limit");
	if (k)
		use_and_destroy(&t_kernel, k, 0);
	use_and_destroy(&t_uaio, u, 64);
	/* 3 x 190 MiB: the third cannot fit in the first 512 MiB chunk */
	for (int i = 0; i < 3; i++) {
		char what[64];

		snprintf(what, sizeof(what), "setup(%d) #%d", HUGE_NR, i);
		check_setup(t_setup(HUGE_NR, &big[i]), 0, what);
	}
	CHECK((size_t)HUGE_NR * 2 * sizeof(struct io_event) * 3 > CHUNK);
	if (big[2])	/* a moved ring of the second chunk is found too */
		big[2] = move_ring(big[2]);
	for (int i = 0; i < 3; i++)
		use_and_destroy(&t_uaio, big[i], 256 * i);
	use_and_destroy(&t_uaio, first, 1024);
	REQUIRE(uaio_stats(0, &st) == 0);
	CHECK_EQ(st.contexts, 0);
	limit_bites(limit);
}

/* mremap of a ring under the limit: the new address is the handle. */
static void moved_ring(const struct t_api *a)
{
	aio_context_t ctx = 0, moved;
	int ret = a->setup(8, &ctx);

	check_setup(ret, 0, a->name);
	if (ret)
		return;
	moved = move_ring(ctx);
	read_once(a, moved, 512);
	CHECK_EQ(a->destroy(ctx), -EINVAL);	/* the old address is no context */
	CHECK_EQ(a->destroy(moved), 0);
}

static void limit_mremap(rlim_t limit)
{
	set_fsize(limit);
	if (kok)
		moved_ring(&t_kernel);
	moved_ring(&t_uaio);
}

/* Runs fn(limit) in a child: SIGXFSZ at its default action, stderr to a
 * pipe (a log file would be over the limit), bounded by alarm(). */
static void in_child(void (*fn)(rlim_t), rlim_t limit, const char *name)
{
	char buf[4096];
	sigset_t none;
	ssize_t n;
	pid_t pid;
	int p[2], st;

	REQUIRE(pipe(p) == 0);
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		REQUIRE(dup2(p[1], 1) == 1 && dup2(p[1], 2) == 2);
		t_failures = 0;
		signal(SIGXFSZ, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		alarm(ALARM_S);
		fn(limit);
		_exit(t_failures ? T_FAIL : T_PASS);
	}
	close(p[1]);
	while ((n = read(p[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
	close(p[0]);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (WIFSIGNALED(st))
		t_fail("%s, limit %lu: killed by signal %d (%s)", name, (unsigned long)limit,
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st) != T_PASS)
		t_fail("%s, limit %lu: exit %d", name, (unsigned long)limit, WEXITSTATUS(st));
	else
		fprintf(stderr, "ok: %s, limit %lu\n", name, (unsigned long)limit);
}

int main(void)
{
	static const rlim_t limits[] = { 8192, 0, 1 };
	struct rlimit r;

	REQUIRE(getrlimit(RLIMIT_FSIZE, &r) == 0);
	if (r.rlim_max != RLIM_INFINITY && r.rlim_max < 65536)
		t_skip("the hard RLIMIT_FSIZE is already too low for the probe");
	data_fd = t_tmpfile(8192, 0);
	kok = k_available();
	for (unsigned i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		in_child(limit_first, limits[i], "limit before the first setup");
		in_child(limit_later, limits[i], "limit after the first setup, arena grows");
		in_child(limit_mremap, limits[i], "mremap of a ring under the limit");
	}
	close(data_fd);
	return t_done();
}
