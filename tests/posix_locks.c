/* SPEC §2 submit (a request holds its file): a program's POSIX record locks (fcntl F_SETLK) outlive its AIO, as with the kernel's io_submit, which holds a reference to the file and no descriptor.  A request that ran on a duplicate descriptor would release them all when it closed that duplicate (close() of any descriptor of a file drops the process's locks on it).  After each request's event a child process asks F_GETLK: the parent's write lock is still there.  Checked where the executor holds the file without a descriptor: inline requests (cached reads, buffered writes) everywhere; on "uring" also O_DIRECT reads and writes, and from Linux 6.8 (where the kernel can make a descriptor for a registered file, for a request io-wq hands back) cache-missing reads, fsync and fdatasync too (registered file slots); on "kaio" O_DIRECT reads (the kernel's own reference).  The other cases still run on a duplicate: README "Known differences". */
#include "t.h"
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <sys/wait.h>

#define BS 4096

enum { C_CACHED_READ, C_BUFFERED_WRITE, C_DIRECT_READ, C_DIRECT_WRITE, C_COLD_READ, C_FSYNC,
       C_FDSYNC, NCASE };
static const char *const names[] = { "cached read", "buffered write", "O_DIRECT read",
				     "O_DIRECT write", "uncached buffered read", "fsync",
				     "fdatasync" };

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	return uname(&u) == 0 && sscanf(u.release, "%d.%d", &a, &b) == 2 &&
	       (a > major || (a == major && b >= minor));
}

/* Cases this executor runs without a descriptor of its own. */
static bool holds(const char *ex, int c)
{
	if (c == C_CACHED_READ || c == C_BUFFERED_WRITE)
		return true;	/* done inside submit, on the caller's descriptor */
	if (!strcmp(ex, "uring"))	/* all of them where the kernel has OP_FIXED_FD_INSTALL */
		return c == C_DIRECT_READ || c == C_DIRECT_WRITE || kernel_at_least(6, 8);
	return !strcmp(ex, "kaio") && c == C_DIRECT_READ;
}

/* True when another process finds the write lock on fd's file. */
static bool locked_for_others(int fd)
{
	pid_t pid = fork();
	int st;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		_exit(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK ? 0 : 1);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void evict(int fd)
{
	REQUIRE(fdatasync(fd) == 0);
	REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
}

/* Runs case c on fd (buffered) or dfd (O_DIRECT); false if it cannot here. */
static bool run(aio_context_t ctx, int c, int fd, int dfd, unsigned char *buf)
{
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	struct timespec ts = { 30, 0 };
	long long want = BS;

	switch (c) {
	case C_CACHED_READ:
		REQUIRE(pread(fd, buf, BS, 0) == BS);	/* cached now */
		uaio_prep_pread(&cb, fd, buf, BS, 0);
		break;
	case C_BUFFERED_WRITE:
		uaio_prep_pwrite(&cb, fd, buf, BS, BS);
		break;
	case C_DIRECT_READ:
	case C_DIRECT_WRITE:
		if (dfd < 0)
			return false;
		uaio_prep_rw(&cb, c == C_DIRECT_READ ? IOCB_CMD_PREAD : IOCB_CMD_PWRITE, dfd,
			     (uint64_t)(uintptr_t)buf, BS, 2 * BS);
		break;
	case C_COLD_READ:
		evict(fd);
		uaio_prep_pread(&cb, fd, buf, BS, 3 * BS);
		break;
	default:
		uaio_prep_fsync(&cb, fd);
		if (c == C_FDSYNC)
			cb.aio_lio_opcode = IOCB_CMD_FDSYNC;
		want = 0;
		break;
	}
	REQUIRE(uaio_submit(ctx, 1, v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, &ts) == 1);
	CHECK_EQ(ev.res, want);
	return true;
}

int main(void)
{
	const char *ex = t_executor();
	aio_context_t ctx = 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	unsigned char *buf;
	char self[64];
	int fd = t_tmpfile(16 * BS, O_RDWR), dfd;

	REQUIRE(posix_memalign((void **)&buf, BS, BS) == 0);
	memset(buf, 0x5a, BS);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	dfd = open(self, O_RDWR | O_DIRECT);	/* -1 where O_DIRECT is refused */
	REQUIRE(fcntl(fd, F_SETLK, &fl) == 0);
	REQUIRE(locked_for_others(fd));
	REQUIRE(t_setup(8, &ctx) == 0);
	for (int c = 0; c < NCASE; c++) {
		/* twice: the second request on the same descriptor finds its
		 * flags cached (exec_ops.submit_verify on O_DIRECT reads) */
		for (int round = 0; round < 2; round++) {
			REQUIRE(fcntl(fd, F_SETLK, &fl) == 0);	/* again, if a case before lost it */
			if (!run(ctx, c, fd, dfd, buf)) {
				printf("%-24s not here (O_DIRECT refused)\n", names[c]);
				break;
			}
			if (!holds(ex ? ex : "", c)) {
				printf("%-24s not checked on %s (README: Known differences)\n", names[c],
				       ex);
				break;
			}
			if (!locked_for_others(fd))
				t_fail("%s [%s]: the process's lock is gone after the event", names[c], ex);
			else if (round == 1)
				printf("%-24s lock kept\n", names[c]);
		}
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	if (dfd >= 0)
		close(dfd);
	close(fd);
	free(buf);
	return t_done();
}
