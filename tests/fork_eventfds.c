/* SPEC §1 (a forked child starts afresh) and README "Descriptors and threads a program can see": the eventfd a thread keeps for its sleeps (io_pgetevents with a mask; getevents next to an executor's descriptor) is not inherited by a forked child: the child closes every such copy in its fork handler, before the program can reuse a number (a copy would be shared with the parent, and a wake-up meant for one process could be read by the other).  The parent's thread and a second thread each sleep once, so that each has one; right after fork the child has no eventfd at all; its own sleep then makes one, and the parent's stay as they were. */
#include "t.h"
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

static aio_context_t ctx;

/* Descriptors of this process that are eventfds. */
static int count_eventfds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	REQUIRE(d);
	while ((e = readdir(d))) {
		char path[300], link[64];
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		k = readlink(path, link, sizeof(link) - 1);
		if (k < 0)
			continue;
		link[k] = 0;
		n += !strcmp(link, "anon_inode:[eventfd]");
	}
	closedir(d);
	return n;
}

/* One sleep with a signal mask and nothing in flight: 20 ms, no event. */
static void sleep_once(void)
{
	struct timespec ts = { 0, 20000000 };
	struct io_event ev;
	sigset_t mask;

	sigemptyset(&mask);
	CHECK_EQ(uaio_pgetevents(ctx, 1, 1, &ev, &ts, &mask), 0);
}

static void *other(void *arg)
{
	pthread_barrier_t *b = arg;

	sleep_once();
	pthread_barrier_wait(b);	/* it has its eventfd */
	pthread_barrier_wait(b);	/* the fork is done */
	return NULL;
}

int main(void)
{
	pthread_barrier_t b;
	pthread_t t;
	int before, st;
	pid_t pid;

	REQUIRE(t_setup(8, &ctx) == 0);
	before = count_eventfds();
	REQUIRE(pthread_barrier_init(&b, NULL, 2) == 0);
	REQUIRE(pthread_create(&t, NULL, other, &b) == 0);
	pthread_barrier_wait(&b);
	sleep_once();
	CHECK_EQ(count_eventfds(), before + 2);	/* one per thread that slept */
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		aio_context_t c2 = 0;
		int n = count_eventfds();

		if (n != 0) {
			fprintf(stderr, "child: %d eventfds inherited\n", n);
			_exit(1);
		}
		ctx = 0;
		if (t_setup(8, &c2) != 0)
			_exit(2);
		ctx = c2;
		sleep_once();
		n = count_eventfds();
		if (n != 1) {
			fprintf(stderr, "child: %d eventfds after its own sleep, not 1\n", n);
			_exit(3);
		}
		_exit(t_failures ? 4 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		t_fail("child: status %#x", st);
	CHECK_EQ(count_eventfds(), before + 2);	/* the parent's are untouched */
	sleep_once();	/* and still work */
	pthread_barrier_wait(&b);
	REQUIRE(pthread_join(t, NULL) == 0);
	CHECK_EQ(count_eventfds(), before + 1);	/* the other thread's went with it */
	CHECK_EQ(uaio_destroy(ctx), 0);
	return t_done();
}
