/* SPEC §2: io_submit and io_getevents are not pthread cancellation points (libaio makes raw system calls): a thread with a cancel pending runs through uaio_submit (an inline read) and through waits in uaio_getevents and uaio_pgetevents (futex and ppoll paths), and is cancelled only at its own pthread_testcancel(). */
#include "t.h"
#include <pthread.h>
#include <signal.h>

static int fd;
static volatile int reached, submitted, waited, pwaited;

static void *body(void *arg)
{
	static char buf[512];
	struct iocb cb, *v = &cb;
	struct io_event ev;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	aio_context_t ctx = 0;
	sigset_t mask;

	(void)arg;
	if (t_setup(4, &ctx) != 0)
		return NULL;
	pthread_cancel(pthread_self());		/* deferred: pending from now on */
	reached = 1;
	uaio_prep_pread(&cb, fd, buf, sizeof(buf), 0);
	submitted = uaio_submit(ctx, 1, &v);		/* a cached read: completes inline */
	if (uaio_getevents(ctx, 1, 1, &ev, &ts) == 1 && ev.res == (long long)sizeof(buf))
		waited = 1;
	/* nothing in flight: both of these sleep until the timeout */
	waited += uaio_getevents(ctx, 1, 1, &ev, &ts) == 0;
	sigemptyset(&mask);
	pwaited = uaio_pgetevents(ctx, 1, 1, &ev, &ts, &mask) == 0;
	uaio_destroy(ctx);
	pthread_testcancel();
	return (void *)1;	/* not reached */
}

int main(void)
{
	pthread_t t;
	void *ret = NULL;
	char b[512];

	fd = t_tmpfile(4096, 0);
	REQUIRE(pread(fd, b, sizeof(b), 0) == (ssize_t)sizeof(b));	/* cached */
	REQUIRE(pthread_create(&t, NULL, body, NULL) == 0);
	REQUIRE(pthread_join(t, &ret) == 0);
	CHECK(ret == PTHREAD_CANCELED);
	CHECK_EQ(reached, 1);
	CHECK_EQ(submitted, 1);
	CHECK_EQ(waited, 2);
	CHECK_EQ(pwaited, 1);
	close(fd);
	return t_done();
}
