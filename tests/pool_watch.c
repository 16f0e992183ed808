/* SPEC §3 executors (a pool of worker threads; nothing should block a worker for ever): a request queued while every busy worker is held by a request that does not finish still runs.  The pool lets an O_DIRECT request wait for a busy worker rather than wake a sleeping one (README "The threads executor: waiting for a busy worker"), only while an idle worker, the watcher, looks at the queue every millisecond.  Here the busy worker is held by an O_DIRECT read into a page that userfaultfd keeps missing until the end (as a hung device would hold it); each file read queued behind it must complete.  UAIO_IDLE_MS is set high, so that a watcher that slept like any idle worker would hold the reads for a minute, not a moment; the deadline per read is 20 s.  The pool's own behaviour: the other executors send O_DIRECT to the kernel, and the test skips there. */
#include "t.h"
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#define BS 4096
#define ROUNDS 20

static int uffd;
static unsigned char *held;	/* the page the holding read waits for */
static atomic_int release;	/* main: the holding read may finish now */
static atomic_int faulted;	/* handler: the worker is in the fault */

/* Resolves the fault on the held page once told to. */
static void *handler(void *arg)
{
	struct uffd_msg msg;
	struct pollfd pfd = { .events = POLLIN };

	(void)arg;
	pfd.fd = uffd;
	for (;;) {
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		atomic_store(&faulted, 1);	/* seq_cst: a test flag */
		while (!atomic_load(&release))
			usleep(1000);
		break;
	}
	{
		static unsigned char src[BS] __attribute__((aligned(BS)));
		struct uffdio_copy c = { .dst = (uintptr_t)held, .src = (uintptr_t)src, .len = BS };

		if (ioctl(uffd, UFFDIO_COPY, &c) < 0)
			perror("UFFDIO_COPY");
	}
	return NULL;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

int main(void)
{
	aio_context_t ctx = 0;
	struct iocb pcb, fcb, *v[1];
	struct io_event ev;
	struct timespec deadline = { 20, 0 };
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	pthread_t th;
	unsigned char *buf;
	char self[64];
	int fd, dfd;

	if (strcmp(t_executor(), "threads"))
		t_skip("the pool's own behaviour; this executor sends O_DIRECT to the kernel");
	fd = t_tmpfile(64 * BS, O_RDWR);

	/* Read before the first request: the pool reads it once per process. */
	setenv("UAIO_IDLE_MS", "60000", 1);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	dfd = open(self, O_RDONLY | O_DIRECT);
	if (dfd < 0)
		t_skip("O_DIRECT refused by this file system");
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (uffd < 0)
		t_skip("userfaultfd refused here");
	REQUIRE(ioctl(uffd, UFFDIO_API, &api) == 0);
	held = mmap(NULL, BS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(held != MAP_FAILED);
	reg.range.start = (uintptr_t)held;
	reg.range.len = BS;
	REQUIRE(ioctl(uffd, UFFDIO_REGISTER, &reg) == 0);
	REQUIRE(pthread_create(&th, NULL, handler, NULL) == 0);
	REQUIRE(posix_memalign((void **)&buf, BS, BS) == 0);
	REQUIRE(t_setup(8, &ctx) == 0);

	/* A worker held for the whole test. */
	uaio_prep_pread(&pcb, dfd, held, BS, 0);
	pcb.aio_data = 1;
	v[0] = &pcb;
	REQUIRE(uaio_submit(ctx, 1, v) == 1);
	while (!atomic_load(&faulted))
		nap_ms(1);

	for (int i = 0; i < ROUNDS; i++) {
		uaio_prep_pread(&fcb, dfd, buf, BS, (long long)(i % 64) * BS);
		fcb.aio_data = 2;
		v[0] = &fcb;
		REQUIRE(uaio_submit(ctx, 1, v) == 1);
		if (uaio_getevents(ctx, 1, 1, &ev, &deadline) != 1) {
			t_fail("round %d: the file read queued behind a held worker did not complete", i);
			break;
		}
		CHECK_EQ(ev.data, 2);
		CHECK_EQ(ev.res, BS);
		/* Let the worker that ran it go idle (and watch) before the next. */
		nap_ms(i % 2 ? 20 : 1);
	}

	/* Free the held worker. */
	atomic_store(&release, 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, &deadline) == 1);
	CHECK_EQ(ev.data, 1);
	CHECK_EQ(ev.res, BS);
	REQUIRE(pthread_join(th, NULL) == 0);
	CHECK_EQ(uaio_destroy(ctx), 0);
	munmap(held, BS);
	close(uffd);
	close(dfd);
	close(fd);
	free(buf);
	return t_done();
}
