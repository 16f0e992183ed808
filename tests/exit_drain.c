/* SPEC §2 threads/processes: process exit (exit(), return from main) finishes what is in flight: an accepted write is never dropped because the program exited right after submitting it. */
#include "t.h"
#include <sys/wait.h>

#define NW 256
#define WS 65536

static unsigned char wpat(uint64_t off) { return (unsigned char)(t_pattern(off) ^ 0x5a); }

/* Submits NW writes (some with RWF_DSYNC, so they surely go to workers)
 * and leaves at once. */
static void child(int fd, int how)
{
	static unsigned char bufs[NW][WS];
	static struct iocb cbs[NW];
	struct iocb *v[NW];
	aio_context_t ctx = 0;

	if (t_setup(NW, &ctx) != 0)
		_exit(3);
	for (int i = 0; i < NW; i++) {
		uint64_t off = (uint64_t)i * WS;

		for (int k = 0; k < WS; k++)
			bufs[i][k] = wpat(off + k);
		uaio_prep_pwrite(&cbs[i], fd, bufs[i], WS, (long long)off);
		if (i % 4 == 0)
			cbs[i].aio_rw_flags = RWF_DSYNC;
		v[i] = &cbs[i];
	}
	for (int off = 0; off < NW;) {
		int r = uaio_submit(ctx, NW - off, v + off);

		if (r <= 0)
			_exit(4);
		off += r;
	}
	if (how == 0)
		exit(0);
	/* how == 1: return from main is the same exit() path */
}

static int run(int how)
{
	static unsigned char got[WS];
	int fd = t_tmpfile(0, 0), status, bad = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		child(fd, how);
		return -1;	/* how == 1: main returns 0 */
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	if (WIFEXITED(status))
		CHECK_EQ(WEXITSTATUS(status), 0);
	{
		struct stat st;

		REQUIRE(fstat(fd, &st) == 0);
		CHECK_EQ(st.st_size, (long long)NW * WS);
	}
	for (int i = 0; i < NW; i++) {
		uint64_t off = (uint64_t)i * WS;

		memset(got, 0, sizeof(got));
		if (pread(fd, got, WS, (off_t)off) != WS) {
			bad++;
			continue;
		}
		for (int k = 0; k < WS; k++)
			if (got[k] != wpat(off + k)) {
				bad++;
				break;
			}
	}
	if (bad)
		t_fail("exit via %s: %d of %d writes missing or wrong", how ? "return" : "exit()", bad, NW);
	close(fd);
	return 0;
}

int main(void)
{
	alarm(60);
	if (run(0) < 0)
		return 0;	/* not reached: the child exit()s */
	if (run(1) < 0)
		return 0;	/* the child returns from main */
	return t_done();
}
