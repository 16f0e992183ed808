/* Issue 3: a binary bound to libaio's LIBAIO_0.1 entry points (the
 * pre-0.4 signatures of io_getevents, io_cancel and io_queue_wait) and
 * to io_queue_init/io_queue_run/io_queue_release gets the same answers
 * from uaio's libaio.so.1 as from Debian's.  Prints one line per step;
 * tests/libaio_old_abi.sh diffs the two runs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* libaio.h leaves io_queue_wait undeclared; libaio.so.1 exports it. */
int io_queue_wait(io_context_t ctx, struct timespec *timeout);

/* The old signatures, bound to their LIBAIO_0.1 versions. */
int old_getevents(io_context_t ctx, long nr, struct io_event *ev, const struct timespec *t);
int old_cancel(io_context_t ctx, struct iocb *iocb);
int old_queue_wait(io_context_t ctx, const struct timespec *t);
__asm__(".symver old_getevents, io_getevents@LIBAIO_0.1");
__asm__(".symver old_cancel, io_cancel@LIBAIO_0.1");
__asm__(".symver old_queue_wait, io_queue_wait@LIBAIO_0.1");

static int calls;
static long last_res;

static void done_cb(io_context_t ctx, struct iocb *iocb, long res, long res2)
{
	(void)ctx;
	(void)iocb;
	calls++;
	last_res = res + res2;
}

int main(void)
{
	char path[] = "/tmp/uaio-oldabi.XXXXXX", buf[4096], back[4096];
	struct timespec ts = { 5, 0 }, zero = { 0, 0 };
	struct iocb cb, *v[1] = { &cb }, stray;
	struct io_event ev[4];
	io_context_t ctx = NULL;
	Dl_info info;
	int fd, efd;

	alarm(60);
	if (dladdr((void *)io_submit, &info) && info.dli_fname)
		fprintf(stderr, "io_submit from %s\n", info.dli_fname);
	fd = mkstemp(path);
	if (fd < 0)
		return 1;
	unlink(path);
	memset(buf, 'x', sizeof(buf));

	printf("queue_init_zero: %d\n", io_queue_init(0, &ctx));
	printf("queue_init_negative: %d\n", io_queue_init(-5, &ctx));
	ctx = (io_context_t)1;	/* io_queue_init clears it first */
	printf("queue_init: %d\n", io_queue_init(8, &ctx));

	io_prep_pwrite(&cb, fd, buf, sizeof(buf), 0);
	cb.data = (void *)0x1234;
	printf("submit_write: %d\n", io_submit(ctx, 1, v));
	printf("old_getevents: %d\n", old_getevents(ctx, 4, ev, &ts));
	printf("old_getevents_event: data=%lx obj_ok=%d res=%ld res2=%ld\n",
	       (unsigned long)ev[0].data, ev[0].obj == &cb, (long)ev[0].res, (long)ev[0].res2);
	printf("old_getevents_empty: %d\n", old_getevents(ctx, 4, ev, &zero));
	printf("old_queue_wait_empty: %d\n", old_queue_wait(ctx, &zero));
	memset(&stray, 0, sizeof(stray));
	printf("old_cancel_not_in_flight: %d\n", old_cancel(ctx, &stray));

	io_prep_pread(&cb, fd, back, sizeof(back), 0);
	io_set_callback(&cb, done_cb);
	printf("submit_read_cb: %d\n", io_submit(ctx, 1, v));
	printf("queue_wait: %d\n", io_queue_wait(ctx, &ts));
	/* the read may still be in flight on an asynchronous executor */
	for (int i = 0; i < 500 && !calls; i++) {
		int r = io_queue_run(ctx);

		if (r < 0) {
			printf("queue_run: %d\n", r);
			break;
		}
		if (!calls)
			usleep(10000);
	}
	printf("queue_run_callbacks: %d res=%ld data_ok=%d\n", calls, last_res,
	       !memcmp(buf, back, sizeof(buf)));
	printf("queue_run_empty: %d\n", io_queue_run(ctx));

	efd = eventfd(0, 0);
	io_prep_pread(&cb, fd, back, sizeof(back), 0);
	io_set_eventfd(&cb, efd);
	printf("submit_eventfd: %d\n", io_submit(ctx, 1, v));
	{
		unsigned long long n = 0;
		ssize_t got = read(efd, &n, sizeof(n));

		printf("eventfd_read: %zd n=%llu\n", got, n);
	}
	printf("old_getevents_eventfd: %d\n", old_getevents(ctx, 4, ev, &ts));
	close(efd);

	printf("queue_release: %d\n", io_queue_release(ctx));
	printf("queue_release_again: %d\n", io_queue_release(ctx));
	printf("destroy_null: %d\n", io_destroy(NULL));
	close(fd);
	return 0;
}
