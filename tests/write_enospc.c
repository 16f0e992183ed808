/* SPEC §3 (amended), issue 12: buffered writes on a full file system.  On a small ext4 file system, loop-mounted afresh for each side, 1 MiB writes each followed by getevents(min_nr 0): every event is there at once and the sequence of results (bytes, then -ENOSPC) is the kernel's.  Needs root, mkfs.ext4 and loop devices: skipped (as a whole) without them. */
#include "t.h"
#include <stdbool.h>
#include <sys/mount.h>

#define CHUNK (1u << 20)

static char img[4096], dir[4096];

static bool fs_make(void)
{
	char cmd[8300];
	int fd;

	snprintf(cmd, sizeof(cmd), "mkfs.ext4 -q -F '%s' >/dev/null 2>&1", img);
	if ((fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0)
		return false;
	if (ftruncate(fd, 8 << 20) < 0) {
		close(fd);
		return false;
	}
	close(fd);
	if (system(cmd) != 0)
		return false;
	snprintf(cmd, sizeof(cmd), "mount -o loop '%s' '%s' >/dev/null 2>&1", img, dir);
	return system(cmd) == 0;
}

static void fs_drop(void)
{
	if (umount2(dir, MNT_DETACH) < 0)
		perror("umount");
}

static void run(const struct t_api *a, char *out, size_t outsz)
{
	static char buf[CHUNK];
	char path[4200];
	aio_context_t ctx = 0;
	int fd, at_once = 1, n = 0;
	long long total = 0, last = 0;

	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	memset(buf, 'e', sizeof(buf));
	REQUIRE(a->setup(8, &ctx) == 0);
	for (n = 0; n < 32; n++) {
		struct iocb cb, *v = &cb;
		struct io_event ev;
		struct timespec ts = { 30, 0 };
		int r;

		memset(&cb, 0, sizeof(cb));
		cb.aio_lio_opcode = IOCB_CMD_PWRITE;
		cb.aio_fildes = (uint32_t)fd;
		cb.aio_buf = (uint64_t)(uintptr_t)buf;
		cb.aio_nbytes = CHUNK;
		cb.aio_offset = (long long)n * CHUNK;
		REQUIRE(a->submit(ctx, 1, &v) == 1);
		r = a->getevents(ctx, 0, 1, &ev, &ts);
		if (r != 1) {
			at_once = 0;
			ts.tv_sec = 30;
			REQUIRE(a->getevents(ctx, 1, 1, &ev, &ts) == 1);
		}
		last = ev.res;
		if (ev.res < 0)
			break;
		total += ev.res;
	}
	snprintf(out, outsz, "%d full writes, %lld bytes, then %lld, events at once %d", n, total, last,
		 at_once);
	CHECK_EQ(a->destroy(ctx), 0);
	close(fd);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	char k[256], u[256];

	alarm(120);
	if (geteuid() != 0)
		t_skip("needs root to loop-mount a small file system");
	if (!k_available())
		t_skip("the kernel's AIO is not available for comparison");
	snprintf(img, sizeof(img), "%s/uaio-enospc-%d.img", t && *t ? t : "/var/tmp", (int)getpid());
	snprintf(dir, sizeof(dir), "%s/uaio-enospc-%d.mnt", t && *t ? t : "/var/tmp", (int)getpid());
	REQUIRE(mkdir(dir, 0700) == 0);
	if (!fs_make()) {
		rmdir(dir);
		unlink(img);
		t_skip("mkfs.ext4 or a loop mount is not available here");
	}
	run(&t_kernel, k, sizeof(k));
	fs_drop();
	REQUIRE(fs_make());
	run(&t_uaio, u, sizeof(u));
	fs_drop();
	rmdir(dir);
	unlink(img);
	printf("kernel: %s\nuaio:   %s\n", k, u);
	if (strcmp(k, u))
		t_fail("uaio differs from the kernel");
	CHECK(strstr(k, "then -28") != NULL);	/* the kernel did run out of space */
	return t_done();
}
