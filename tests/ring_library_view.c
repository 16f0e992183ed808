/* SPEC §5 and §2 (a handle is trusted only once found): the library's own view of the ring memory (the same shared memory as the ring, elsewhere in the address space, as /proc/self/maps shows) is not a context: calls with its address answer -EINVAL and the real ring keeps working. */
#include "t.h"

/* The start of another mapping of the same object (device and inode) as
 * the one holding addr, with the same file offset there; 0 if none. */
static uint64_t other_view(uint64_t addr)
{
	char line[4096];
	unsigned long lo, hi, off, ino, want_ino = 0, want_off = 0;
	unsigned maj, min, want_maj = 0, want_min = 0;
	uint64_t found = 0;
	FILE *f;

	for (int pass = 0; pass < 2; pass++) {
		f = fopen("/proc/self/maps", "r");
		REQUIRE(f);
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lx-%lx %*s %lx %x:%x %lu", &lo, &hi, &off, &maj, &min, &ino) != 6)
				continue;
			if (pass == 0 && addr >= lo && addr < hi) {
				want_ino = ino;
				want_maj = maj;
				want_min = min;
				want_off = off + (addr - lo);
			} else if (pass == 1 && ino == want_ino && maj == want_maj && min == want_min &&
				   !(addr >= lo && addr < hi) && want_off >= off && want_off - off < hi - lo) {
				found = lo + (want_off - off);
			}
		}
		fclose(f);
	}
	return want_ino ? found : 0;
}

int main(void)
{
	struct timespec zero = { 0, 0 };
	struct io_event ev[2];
	struct iocb cb, *v = &cb;
	aio_context_t ctx = 0;
	uint64_t lib;
	char buf[64];
	int fd = t_tmpfile(4096, 0);

	REQUIRE(t_setup(8, &ctx) == 0);
	lib = other_view(ctx);
	if (!lib)
		t_skip("no second view of the ring memory in /proc/self/maps");
	CHECK_EQ(((struct uaio_ring *)(uintptr_t)lib)->magic, UAIO_RING_MAGIC);
	CHECK_EQ(uaio_getevents(lib, 0, 2, ev, &zero), -EINVAL);
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	CHECK_EQ(uaio_submit(lib, 1, &v), -EINVAL);
	CHECK_EQ(uaio_destroy(lib), -EINVAL);
	/* the ring and the library's view are untouched */
	CHECK_EQ(((struct uaio_ring *)(uintptr_t)lib)->magic, UAIO_RING_MAGIC);
	CHECK_EQ(uaio_submit(ctx, 1, &v), 1);
	CHECK_EQ(t_wait1(&t_uaio, ctx, ev), 1);
	CHECK_EQ(ev[0].res, sizeof(buf));
	CHECK_EQ(uaio_destroy(ctx), 0);
	close(fd);
	return t_done();
}
