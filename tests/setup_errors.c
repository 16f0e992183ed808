/* SPEC §2 setup: ctxp NULL/unmapped/read-only -> -EFAULT (checked before nr_events), *ctxp != 0 or nr_events 0 or absurd size -> -EINVAL, the quota (UAIO_MAX_NR) -> -EAGAIN and is given back by destroy, bad uaio_params -> -EINVAL; each compared with the kernel. */
#include "t.h"

/* Under valgrind (make check-valgrind) the kernel's side is not run: its
 * system call wrappers report (and choke on) the deliberately bad pointers,
 * and it does not model the kernel's ring; the kernel's answers are then
 * the known ones.  Requests whose buffer is bad when they execute are left
 * out there too, as valgrind reports the intended bad argument as an error. */
static void *page_with(int prot)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED);
	memset(p, 0, 4096);
	REQUIRE(mprotect(p, 4096, prot) == 0);
	return p;
}

/* Run setup on both with the same arguments; check both give `want`. */
static void both(unsigned nr, aio_context_t *kp, aio_context_t *up, int want, const char *what)
{
	int k = t_under_valgrind() ? want : k_setup(nr, kp);
	int u = t_setup(nr, up);

	if (k != want || u != want)
		fprintf(stderr, "%s: kernel %d uaio %d want %d\n", what, k, u, want);
	CHECK_EQ(k, want);
	CHECK_EQ(u, want);
	CHECK_EQ(u, k);
	if (k == 0)
		k_destroy(*kp);
	if (u == 0)
		uaio_destroy(*up);
}

int main(void)
{
	aio_context_t kc, uc;

	if (!k_available())
		t_skip("kernel AIO unavailable");
	/* bad pointers are tested: the -EFAULT checks must be on */
	unsetenv("UAIO_NOCHECK");
	/* Read at the first uaio setup of the process. */
	REQUIRE(setenv("UAIO_MAX_NR", "1000", 1) == 0);

	/* ctxp NULL -> -EFAULT, and before nr_events is looked at. */
	both(1, NULL, NULL, -EFAULT, "ctxp NULL");
	both(0, NULL, NULL, -EFAULT, "ctxp NULL, nr 0");
	both(0x7fffffff, NULL, NULL, -EFAULT, "ctxp NULL, huge nr");
	both(1, (aio_context_t *)0xffff888000000000ull, (aio_context_t *)0xffff888000000000ull,
	     -EFAULT, "ctxp kernel half");

	/* Unmapped (PROT_NONE) ctxp. */
	aio_context_t *none = page_with(PROT_NONE);
	both(1, none, none, -EFAULT, "ctxp PROT_NONE");
	both(0, none, none, -EFAULT, "ctxp PROT_NONE, nr 0");

	/* Read-only ctxp holding 0: the context cannot be returned. */
	aio_context_t *ro = page_with(PROT_READ);
	both(1, ro, ro, -EFAULT, "ctxp read-only");
	both(1000, ro, ro, -EFAULT, "ctxp read-only, nr 1000");
	/* nr 0 with a readable *ctxp of 0: -EINVAL (nr checked after reading) */
	both(0, ro, ro, -EINVAL, "ctxp read-only, nr 0");
	/* a failed setup must leave no quota behind: the full quota is free */
	uc = 0;
	CHECK_EQ(t_setup(1000, &uc), 0);
	if (uc)
		CHECK_EQ(uaio_destroy(uc), 0);

	/* *ctxp != 0 -> -EINVAL, and *ctxp is left alone. */
	kc = uc = 12345;
	both(1, &kc, &uc, -EINVAL, "*ctxp != 0");
	CHECK_EQ(kc, 12345);
	CHECK_EQ(uc, 12345);
	/* *ctxp != 0 and nr 0: still -EINVAL */
	both(0, &kc, &uc, -EINVAL, "*ctxp != 0, nr 0");

	/* nr 0 -> -EINVAL, *ctxp stays 0 */
	kc = uc = 0;
	both(0, &kc, &uc, -EINVAL, "nr 0");
	CHECK_EQ(uc, 0);

	/* Absurd sizes -> -EINVAL (not -EAGAIN, though over the quota). */
	kc = uc = 0;
	both(0x10000000u / 32, &kc, &uc, -EINVAL, "nr 0x10000000/32");
	kc = uc = 0;
	both(0x7fffffffu, &kc, &uc, -EINVAL, "nr 0x7fffffff");
	kc = uc = 0;
	both(0xffffffffu, &kc, &uc, -EINVAL, "nr UINT_MAX");
	kc = uc = 0;
	both(0x10000000u, &kc, &uc, -EINVAL, "nr 0x10000000");
	CHECK_EQ(uc, 0);

	/* The quota: UAIO_MAX_NR=1000 is the sum of requested nr_events. */
	aio_context_t a = 0, b = 0, c = 0, d = 0;
	CHECK_EQ(t_setup(1001, &a), -EAGAIN);
	CHECK_EQ(a, 0);
	CHECK_EQ(t_setup(600, &a), 0);
	CHECK_EQ(t_setup(401, &b), -EAGAIN);
	CHECK_EQ(b, 0);
	CHECK_EQ(t_setup(400, &b), 0);
	CHECK_EQ(t_setup(1, &c), -EAGAIN);
	CHECK_EQ(c, 0);
	/* given back after destroy */
	CHECK_EQ(uaio_destroy(b), 0);
	CHECK_EQ(t_setup(1, &c), 0);
	CHECK_EQ(t_setup(399, &d), 0);
	aio_context_t e = 0;
	CHECK_EQ(t_setup(1, &e), -EAGAIN);
	CHECK_EQ(uaio_destroy(a), 0);
	CHECK_EQ(uaio_destroy(c), 0);
	CHECK_EQ(uaio_destroy(d), 0);
	/* all of it back */
	a = 0;
	CHECK_EQ(t_setup(1000, &a), 0);
	CHECK_EQ(uaio_destroy(a), 0);
	/* a destroyed context's quota is not returned twice */
	CHECK_EQ(uaio_destroy(a), -EINVAL);
	a = b = 0;
	CHECK_EQ(t_setup(1000, &a), 0);
	CHECK_EQ(t_setup(1, &b), -EAGAIN);
	CHECK_EQ(uaio_destroy(a), 0);

	/* The plain entry point obeys the same rules. */
	CHECK_EQ(uaio_setup(1, NULL), -EFAULT);
	a = 0;
	CHECK_EQ(uaio_setup(0, &a), -EINVAL);
	CHECK_EQ(uaio_setup(1001, &a), -EAGAIN);
	CHECK_EQ(uaio_setup(1, &a), 0);
	CHECK_EQ(uaio_destroy(a), 0);

	/* uaio_setup_params: reserved words must be 0, the executor known. */
	for (size_t i = 0; i < sizeof(((struct uaio_params *)0)->reserved) / sizeof(unsigned); i++) {
		struct uaio_params p;
		memset(&p, 0, sizeof(p));
		p.executor = t_executor();
		p.reserved[i] = 1;
		a = 0;
		CHECK_EQ(uaio_setup_params(1, &p, &a), -EINVAL);
		CHECK_EQ(a, 0);
	}
	{
		struct uaio_params p;
		memset(&p, 0, sizeof(p));
		p.executor = "no-such-executor";
		a = 0;
		CHECK_EQ(uaio_setup_params(1, &p, &a), -EINVAL);
		CHECK_EQ(a, 0);
		/* the same params with a known executor work */
		p.executor = t_executor();
		CHECK_EQ(uaio_setup_params(1, &p, &a), 0);
		CHECK(a != 0);
		CHECK_EQ(uaio_destroy(a), 0);
		/* the quota is intact after all the failures */
		a = 0;
		CHECK_EQ(t_setup(1000, &a), 0);
		CHECK_EQ(uaio_destroy(a), 0);
	}

	munmap(none, 4096);
	munmap(ro, 4096);
	return t_done();
}
