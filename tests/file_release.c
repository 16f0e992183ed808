/* SPEC §2 submit (a request holds its file from submit until its event is posted), the other end: the kernel's AIO drops its reference to the file when the event is posted, so once the program has reaped the event and closed its own descriptor, the open file is closed (umount no longer finds it busy, an unlinked file's blocks are freed).  uaio must not keep it for longer than its release takes: its private duplicate is closed, its io_uring file slot emptied (the completion thread's tick, or the next request's reuse; it gives way to submitters at most CLEAR_TRIES times), its kernel-AIO reference dropped.  For each kind of request (cached read, buffered write, O_DIRECT read and write, uncached buffered read, fsync, fdatasync): open the file, submit one, reap its event, close the descriptor, then wait for inotify's IN_CLOSE, which comes when the last reference to the open file goes.  The same on the kernel's AIO, so that the test's own reasoning is checked; and on uaio a second time while another thread keeps submitting O_DIRECT reads on another file (so that the io_uring executor's SQ lock is rarely free when it empties slots).  The wait for IN_CLOSE is a safety net of 20 s, not a timing check: the failure it catches is a file never released. */
#include "t.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <unistd.h>

#define BS 4096
#define NBLK 64
#define LOAD_DEPTH 8
#define RELEASE_WAIT_MS 20000	/* safety net for a loaded machine */

enum { C_CACHED_READ, C_BUFFERED_WRITE, C_DIRECT_READ, C_DIRECT_WRITE, C_COLD_READ, C_FSYNC,
       C_FDSYNC, NCASE };
static const char *const names[] = { "cached read", "buffered write", "O_DIRECT read",
				     "O_DIRECT write", "uncached buffered read", "fsync",
				     "fdatasync" };

static char path[4096];
static unsigned char *buf;
static bool direct_ok;
static int next_fd = 100;	/* see run() */

/* ---- the load: O_DIRECT reads on another file, LOAD_DEPTH in flight ---- */

static atomic_bool load_stop;	/* seq_cst: a test flag, no ordering to reason about */

static void *load_main(void *arg)
{
	int fd = *(int *)arg;
	aio_context_t ctx = 0;
	struct iocb cbs[LOAD_DEPTH], *v[1];
	struct io_event ev[LOAD_DEPTH];
	struct timespec ts = { 30, 0 };
	unsigned char *lbuf;
	long inflight = 0, n;
	unsigned k = 0;

	REQUIRE(posix_memalign((void **)&lbuf, BS, (size_t)LOAD_DEPTH * BS) == 0);
	REQUIRE(t_setup(LOAD_DEPTH, &ctx) == 0);
	for (int i = 0; i < LOAD_DEPTH; i++) {
		uaio_prep_pread(&cbs[i], fd, lbuf + (size_t)i * BS, BS, (long long)((k++ % NBLK) * BS));
		cbs[i].aio_data = (uint64_t)i;
		v[0] = &cbs[i];
		REQUIRE(uaio_submit(ctx, 1, v) == 1);
		inflight++;
	}
	while (inflight) {
		n = uaio_getevents(ctx, 1, LOAD_DEPTH, ev, &ts);
		REQUIRE(n > 0);
		inflight -= n;
		for (long j = 0; j < n; j++) {
			struct iocb *cb = &cbs[ev[j].data];

			if (ev[j].res != BS)
				t_fail("load read: res %lld", (long long)ev[j].res);
			if (atomic_load(&load_stop))
				continue;
			cb->aio_offset = (long long)((k++ % NBLK) * BS);
			v[0] = cb;
			REQUIRE(uaio_submit(ctx, 1, v) == 1);
			inflight++;
		}
	}
	CHECK_EQ(uaio_destroy(ctx), 0);
	free(lbuf);
	return NULL;
}

/* ---- one case ---- */

/* Drops what inotify said so far (opens and closes of the set-up). */
static void drain(int in)
{
	char ibuf[4096];

	while (read(in, ibuf, sizeof(ibuf)) > 0)
		;
}

/* Waits for an IN_CLOSE_* on the watched file; false if none came. */
static bool closed_within(int in, int ms)
{
	char ibuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = { .fd = in, .events = POLLIN };

	for (int waited = 0; waited < ms; waited += 100) {
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(in, ibuf, sizeof(ibuf));
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *e = (const struct inotify_event *)(ibuf + off);

			if (e->mask & (IN_CLOSE_WRITE | IN_CLOSE_NOWRITE))
				return true;
			off += (ssize_t)sizeof(*e) + e->len;
		}
	}
	return false;
}

/* Opens the file for case c, runs one request on it and reaps its event;
 * returns the descriptor (still open), or -1 when the case cannot run here. */
static int run(const struct t_api *a, aio_context_t ctx, int c)
{
	struct iocb cb, *v[1] = { &cb };
	struct io_event ev;
	bool direct = c == C_DIRECT_READ || c == C_DIRECT_WRITE;
	long long want = BS;
	int fd, raw;

	if (direct && !direct_ok)
		return -1;
	fd = open(path, (c == C_CACHED_READ || c == C_COLD_READ || c == C_DIRECT_READ ? O_RDONLY
										     : O_RDWR) |
				(direct ? O_DIRECT : 0));
	REQUIRE(fd >= 0);
	/* A number not used before: uaio keeps a descriptor's flags for a
	 * few ms, and a number just used for a buffered case would send an
	 * O_DIRECT request inline, on the caller's descriptor (README
	 * "Descriptor flags, cached"), where nothing of uaio's holds it. */
	raw = fd;
	fd = fcntl(raw, F_DUPFD_CLOEXEC, next_fd++);
	REQUIRE(fd >= 0);
	close(raw);
	switch (c) {
	case C_CACHED_READ:
		REQUIRE(pread(fd, buf, BS, 0) == BS);	/* cached now */
		uaio_prep_pread(&cb, fd, buf, BS, 0);
		break;
	case C_BUFFERED_WRITE:
		memset(buf, 0x5a, BS);
		uaio_prep_pwrite(&cb, fd, buf, BS, BS);
		break;
	case C_DIRECT_READ:
		uaio_prep_pread(&cb, fd, buf, BS, 2 * BS);
		break;
	case C_DIRECT_WRITE:
		memset(buf, 0xa5, BS);
		uaio_prep_pwrite(&cb, fd, buf, BS, 2 * BS);
		break;
	case C_COLD_READ:
		REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
		uaio_prep_pread(&cb, fd, buf, BS, 3 * BS);
		break;
	default:
		uaio_prep_fsync(&cb, fd);
		if (c == C_FDSYNC)
			cb.aio_lio_opcode = IOCB_CMD_FDSYNC;
		want = 0;
		break;
	}
	REQUIRE(a->submit(ctx, 1, v) == 1);
	REQUIRE(t_wait1(a, ctx, &ev) == 1);
	CHECK_EQ(ev.res, want);
	return fd;
}

static void cases(const struct t_api *a, const char *label)
{
	aio_context_t ctx = 0;
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	REQUIRE(in >= 0);
	REQUIRE(inotify_add_watch(in, path, IN_CLOSE_WRITE | IN_CLOSE_NOWRITE) >= 0);
	REQUIRE(a->setup(8, &ctx) == 0);
	for (int c = 0; c < NCASE; c++) {
		/* twice: the second request finds the first one's leftovers
		 * (a cached flag, a registered slot) */
		for (int round = 0; round < 2; round++) {
			int fd;

			drain(in);
			fd = run(a, ctx, c);
			if (fd < 0) {
				printf("%-24s %-10s not here (O_DIRECT refused)\n", names[c], label);
				break;
			}
			drain(in);	/* nothing is closed yet: the descriptor is open */
			close(fd);
			if (!closed_within(in, RELEASE_WAIT_MS))
				t_fail("%s [%s]: the file is still open %d s after its event and the "
				       "program's close", names[c], label, RELEASE_WAIT_MS / 1000);
			else if (round == 1)
				printf("%-24s %-10s released\n", names[c], label);
		}
	}
	CHECK_EQ(a->destroy(ctx), 0);
	close(in);
}

int main(void)
{
	const char *d = getenv("TMPDIR");
	char label[64];
	pthread_t load;
	int fd, lfd;

	snprintf(path, sizeof(path), "%s/uaio-release-XXXXXX", d && *d ? d : "/var/tmp");
	fd = mkstemp(path);
	REQUIRE(fd >= 0);
	REQUIRE(posix_memalign((void **)&buf, BS, BS) == 0);
	for (int i = 0; i < NBLK; i++) {
		memset(buf, i, BS);
		REQUIRE(pwrite(fd, buf, BS, (off_t)i * BS) == BS);
	}
	REQUIRE(fsync(fd) == 0);
	close(fd);
	fd = open(path, O_RDONLY | O_DIRECT);
	direct_ok = fd >= 0;
	if (fd >= 0)
		close(fd);

	if (k_available())
		cases(&t_kernel, "kernel");
	snprintf(label, sizeof(label), "%s", t_executor() ? t_executor() : "uaio");
	cases(&t_uaio, label);

	if (direct_ok) {	/* again under a stream of O_DIRECT submits */
		lfd = t_tmpfile((size_t)NBLK * BS, O_RDONLY | O_DIRECT);
		REQUIRE(pthread_create(&load, NULL, load_main, &lfd) == 0);
		snprintf(label, sizeof(label), "%s+load", t_executor() ? t_executor() : "uaio");
		cases(&t_uaio, label);
		atomic_store(&load_stop, true);
		REQUIRE(pthread_join(load, NULL) == 0);
		close(lfd);
	}
	unlink(path);
	free(buf);
	return t_done();
}
