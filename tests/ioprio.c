/* SPEC §2 submit: IOCB_FLAG_IOPRIO applies aio_reqprio and checks it as the kernel does (class = prio>>13, level = prio&7: class 0 with a level -> -EINVAL, class > 3 -> -EINVAL, RT/BE/IDLE with any level accepted); aio_reqprio without the flag is ignored; each compared with the kernel. */
#include "t.h"

static long long one(const struct t_api *a, int op, int fd, void *buf, uint32_t flags, uint16_t prio)
{
	aio_context_t ctx = ctx_for(a);
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	long long res;

	uaio_prep_rw(&cb, op, fd, (uint64_t)(uintptr_t)buf, op == IOCB_CMD_FSYNC ? 0 : 1, op == IOCB_CMD_FSYNC ? 0 : 7);
	if (op == IOCB_CMD_FSYNC)
		cb.aio_buf = 0;
	cb.aio_flags = flags;
	cb.aio_reqprio = prio;
	cb.aio_data = prio;
	int rc = a->submit(ctx, 1, v);
	if (rc != 1) {
		res = rc - 1000;
	} else if (t_wait1(a, ctx, &ev) != 1) {
		res = -9999;
	} else {
		res = ev.res;
		CHECK_EQ(ev.data, prio);
		CHECK_EQ(ev.obj, (uint64_t)(uintptr_t)&cb);
	}
	return res;
}

/* The decided rule (we run with CAP_SYS_NICE or not: RT follows the kernel). */
static long long expected(unsigned prio)
{
	unsigned cls = prio >> 13, level = prio & 7;
	if (cls == 0)
		return level ? -EINVAL - 1000 : 1;
	if (cls > 3)
		return -EINVAL - 1000;
	return 1;
}

int main(void)
{
	if (!k_available())
		t_skip("kernel AIO unavailable");
	int fd = t_tmpfile(4096, 0);
	unsigned char b = 0;
	int rt_refused = 0;

	for (unsigned cls = 0; cls < 8; cls++)
		for (unsigned level = 0; level <= 9; level++) {
			/* level 8 and 9 put bits into the hint field (bits 3..12) */
			uint16_t prio = (uint16_t)(cls << 13 | level);
			for (int op = 0; op < 2; op++) {
				int code = op ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
				long long k = one(&t_kernel, code, fd, &b, IOCB_FLAG_IOPRIO, prio);
				long long u = one(&t_uaio, code, fd, &b, IOCB_FLAG_IOPRIO, prio);
				if (k != u)
					t_fail("%s with ioprio class %u level %u (0x%x): kernel %lld uaio %lld "
					       "(values < -900 are submit errors - 1000)",
					       op ? "pwrite" : "pread", cls, level, prio, k, u);
				long long want = expected(prio);
				if (cls == 1 && k == -EPERM - 1000)
					rt_refused = 1, want = k;	/* no CAP_SYS_NICE */
				if (u != want)
					t_fail("%s ioprio 0x%x: uaio %lld want %lld", op ? "pwrite" : "pread", prio, u,
					       want);
			}
		}
	if (rt_refused)
		fprintf(stderr, "RT class refused by the kernel (no CAP_SYS_NICE)\n");

	/* the data is read correctly with a priority */
	CHECK_EQ(one(&t_uaio, IOCB_CMD_PREAD, fd, &b, IOCB_FLAG_IOPRIO, 2 << 13 | 7), 1);
	/* b was last written by the pwrites above: read it back by the kernel for reference */
	unsigned char c = 0;
	REQUIRE(pread(fd, &c, 1, 7) == 1);
	CHECK_EQ(b, c);

	/* other prio values: hint bits, high bits of each class */
	static const uint16_t odd[] = { 0x0008, 0x1000, 0x1fff, 0x4008, 0x5fff, 0x6fff, 0x7fff, 0x8000, 0xffff };
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		long long k = one(&t_kernel, IOCB_CMD_PREAD, fd, &b, IOCB_FLAG_IOPRIO, odd[i]);
		long long u = one(&t_uaio, IOCB_CMD_PREAD, fd, &b, IOCB_FLAG_IOPRIO, odd[i]);
		if (k != u)
			t_fail("pread with ioprio 0x%x: kernel %lld uaio %lld", odd[i], k, u);
	}

	/* without IOCB_FLAG_IOPRIO, aio_reqprio is ignored whatever it holds */
	static const uint16_t junk[] = { 0x0001, 0x8000, 0xa005, 0xffff, 0x2007 };
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		long long k = one(&t_kernel, IOCB_CMD_PREAD, fd, &b, 0, junk[i]);
		long long u = one(&t_uaio, IOCB_CMD_PREAD, fd, &b, 0, junk[i]);
		CHECK_EQ(k, 1);
		CHECK_EQ(u, 1);
		/* and with RESFD-less unknown flag bits too */
		k = one(&t_kernel, IOCB_CMD_PREAD, fd, &b, 0x4, junk[i]);
		u = one(&t_uaio, IOCB_CMD_PREAD, fd, &b, 0x4, junk[i]);
		CHECK_EQ(k, 1);
		CHECK_EQ(u, 1);
	}

	/* FSYNC does not look at the priority */
	long long k = one(&t_kernel, IOCB_CMD_FSYNC, fd, NULL, IOCB_FLAG_IOPRIO, 7 << 13);
	long long u = one(&t_uaio, IOCB_CMD_FSYNC, fd, NULL, IOCB_FLAG_IOPRIO, 7 << 13);
	CHECK_EQ(k, 0);
	CHECK_EQ(u, 0);

	close(fd);
	ctx_release();
	return t_done();
}
