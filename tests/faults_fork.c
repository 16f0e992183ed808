/* uaio_faults(7) and SPEC's fork clause: a child forked while a delayed request is held forgets the parent's contexts and, for its own, starts its own timer; the parent's held request is untouched. */
#include "t.h"
#include <stdbool.h>
#include <dirent.h>
#include <sys/wait.h>
#include <time.h>

/* Waits (up to 10 s) until every other thread of this process sleeps.
 * fork() copies the allocator state of threads caught mid-malloc, and
 * ASan's allocator (gcc 12) takes no lock across fork: a child forked
 * while uaio's just-created timer thread is still allocating its thread
 * state deadlocks in its first malloc.  Not a timing check: it only
 * makes the fork happen once uaio's threads have settled. */
static void settle_threads(void)
{
	for (int tries = 0; tries < 10000; tries++) {
		DIR *d = opendir("/proc/self/task");
		struct dirent *e;
		bool busy = false;

		REQUIRE(d);
		while ((e = readdir(d))) {
			char path[300], buf[256], *p;
			FILE *f;

			if (e->d_name[0] == '.' || atoi(e->d_name) == (int)gettid())
				continue;
			snprintf(path, sizeof(path), "/proc/self/task/%s/stat", e->d_name);
			if (!(f = fopen(path, "r")))
				continue;
			p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
			fclose(f);
			if (p && p[1] == ' ' && p[2] != 'S')
				busy = true;
		}
		closedir(d);
		if (!busy)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
}

static int f_setup(unsigned nr, aio_context_t *ctx, const char *spec)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = t_executor();
	p.faults = spec;
	return uaio_setup_params(nr, &p, ctx);
}

static bool pattern_at(const unsigned char *p, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != t_pattern(off + i))
			return false;
	return true;
}

/* A child forked while a request is held starts its own timer. */
static void forked(int fd)
{
	static unsigned char a[512], b[512];
	struct iocb ca, *v = &ca;
	struct io_event ev;
	aio_context_t ctx = 0;
	int status;
	pid_t pid;

	REQUIRE(f_setup(4, &ctx, "delay=3600s") == 0);
	uaio_prep_pread(&ca, fd, a, sizeof(a), 0);
	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	settle_threads();
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		aio_context_t c2 = 0;
		struct iocb cb, *w = &cb;

		if (f_setup(4, &c2, "delay=1ms") != 0)
			_exit(2);
		uaio_prep_pread(&cb, fd, b, sizeof(b), 512);
		if (uaio_submit(c2, 1, &w) != 1 || uaio_getevents(c2, 1, 1, &ev, NULL) != 1)
			_exit(3);
		_exit(ev.res == 512 && pattern_at(b, 512, 512) ? 0 : 4);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(uaio_cancel(ctx, &ca, &ev), -EINPROGRESS);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, NULL) == 1);
	CHECK_EQ(ev.res, -ECANCELED);
	CHECK_EQ(uaio_destroy(ctx), 0);
}

int main(void)
{
	int fd = t_tmpfile(1 << 12, 0);

	forked(fd);
	close(fd);
	return t_done();
}
