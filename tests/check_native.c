/* SPDX-License-Identifier: MIT */
/* UAIO_CHECK (the misuse checker) on the native API: each finding is
 * provoked in a child with UAIO_CHECK set before its first setup, whose
 * stderr is read through a pipe.  A finding's line appears once per call
 * site however often the site repeats it, the summary counts every
 * repeat, a correct program gets no finding line, and UAIO_CHECK=halt
 * aborts at the first finding.  Nothing here depends on timing: what must
 * be in flight is a read of an empty pipe, or a request still in submit's
 * batch (a later iocb of the same call). */
#include "t.h"
#include <signal.h>
#include <stdbool.h>
#include <sys/uio.h>

static aio_context_t ctx;
static char mem[1 << 16] __attribute__((aligned(4096)));

static void prep(struct iocb *cb, int op, int fd, void *buf, size_t len, long long off)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = (uint16_t)op;
	cb->aio_fildes = (uint32_t)fd;
	cb->aio_buf = (uint64_t)(uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
}

static void submit1(struct iocb *cb)
{
	struct iocb *v[1] = { cb };

	REQUIRE(uaio_submit(ctx, 1, v) == 1);
}

static void submit2(struct iocb *a, struct iocb *b)
{
	struct iocb *v[2] = { a, b };

	REQUIRE(uaio_submit(ctx, 2, v) == 2);
}

/* Waits for n events (10 s at most: a safety net, not a timing). */
static void reap(int n)
{
	struct io_event ev[8];
	struct timespec ts = { 10, 0 };

	for (int got = 0; got < n;) {
		int r = uaio_getevents(ctx, 1, n - got > 8 ? 8 : n - got, ev, &ts);

		REQUIRE(r > 0);
		got += r;
	}
}

static void feed(int fd, size_t n)
{
	REQUIRE(write(fd, mem + 60000, n) == (ssize_t)n);
}

/* ---- the cases: each runs in its own child ---- */

/* The same iocb twice in flight, three times from one site. */
static void dup_iocb(void)
{
	struct iocb cb;
	int p[2];

	REQUIRE(pipe(p) == 0);
	prep(&cb, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	for (int i = 0; i < 3; i++) {
		submit1(&cb);
		submit1(&cb);	/* the finding's site */
		feed(p[1], 32);
		reap(2);
	}
}

static void dup_iocb_clean(void)
{
	struct iocb cb;
	int p[2];

	REQUIRE(pipe(p) == 0);
	prep(&cb, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	for (int i = 0; i < 3; i++) {
		submit1(&cb);
		feed(p[1], 16);
		reap(1);	/* its event reaped: the iocb is free again */
	}
}

/* An O_DSYNC write waits in submit's batch while the call's next iocb is
 * checked: two writes, then a write and a (cached, inline) read. */
static void file_overlap(void)
{
	int fd = t_tmpfile(1 << 16, 0);
	struct iocb a, b, c, d;

	prep(&a, IOCB_CMD_PWRITE, fd, mem, 4096, 0);
	prep(&b, IOCB_CMD_PWRITE, fd, mem + 4096, 4096, 2048);
	a.aio_rw_flags = b.aio_rw_flags = RWF_DSYNC;
	submit2(&a, &b);
	reap(2);
	prep(&c, IOCB_CMD_PWRITE, fd, mem, 4096, 8192);
	prep(&d, IOCB_CMD_PREAD, fd, mem + 8192, 100, 9000);
	c.aio_rw_flags = RWF_DSYNC;
	submit2(&c, &d);
	reap(2);
	close(fd);
}

static void file_clean(void)
{
	int fd = t_tmpfile(1 << 16, 0);
	struct iocb a, b;

	/* disjoint writes; overlapping reads; writes from one buffer */
	prep(&a, IOCB_CMD_PWRITE, fd, mem, 4096, 0);
	prep(&b, IOCB_CMD_PWRITE, fd, mem, 4096, 4096);
	a.aio_rw_flags = b.aio_rw_flags = RWF_DSYNC;
	submit2(&a, &b);
	reap(2);
	prep(&a, IOCB_CMD_PREAD, fd, mem, 4096, 0);
	prep(&b, IOCB_CMD_PREAD, fd, mem + 4096, 4096, 100);
	a.aio_rw_flags = b.aio_rw_flags = RWF_DSYNC;
	submit2(&a, &b);
	reap(2);
	prep(&a, IOCB_CMD_PWRITE, fd, mem, 4096, 0);	/* the first is over */
	a.aio_rw_flags = RWF_DSYNC;
	submit1(&a);
	reap(1);
	close(fd);
}

/* Two pipe reads into overlapping memory; then a write whose buffer a
 * pending read fills. */
static void mem_overlap(void)
{
	struct iocb a, b, c;
	int p[2], q[2];

	REQUIRE(pipe(p) == 0 && pipe(q) == 0);
	prep(&a, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	prep(&b, IOCB_CMD_PREAD, p[0], mem + 8, 16, 0);
	submit1(&a);
	submit1(&b);
	prep(&c, IOCB_CMD_PWRITE, q[1], mem + 4, 4, 0);
	submit1(&c);	/* a pipe with room: done inline, against a and b in flight */
	feed(p[1], 32);
	reap(3);
}

static void mem_clean(void)
{
	struct iocb a, b, c;
	int p[2], q[2];

	REQUIRE(pipe(p) == 0 && pipe(q) == 0);
	prep(&a, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	prep(&b, IOCB_CMD_PREAD, p[0], mem + 16, 16, 0);
	submit1(&a);
	submit1(&b);
	prep(&c, IOCB_CMD_PWRITE, q[1], mem + 100, 4, 0);
	submit1(&c);
	feed(p[1], 32);
	reap(3);
}

static int dio_fd(void)
{
	const char *d = getenv("TMPDIR");
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/uaio-check-XXXXXX", d && *d ? d : "/var/tmp");
	REQUIRE((fd = mkstemp(path)) >= 0);
	REQUIRE(ftruncate(fd, 1 << 16) == 0);
	close(fd);
	fd = open(path, O_RDWR | O_DIRECT);
	unlink(path);
	if (fd < 0)
		exit(3);	/* no O_DIRECT here: the parent skips */
	return fd;
}

static void dio_misaligned(void)
{
	int fd = dio_fd();
	struct iocb a, b;

	prep(&a, IOCB_CMD_PREAD, fd, mem, 4096, 100);
	submit1(&a);
	reap(1);
	prep(&b, IOCB_CMD_PREAD, fd, mem + 1, 4096, 0);
	submit1(&b);
	reap(1);
	close(fd);
}

static void dio_clean(void)
{
	int fd = dio_fd();
	struct iocb a;

	prep(&a, IOCB_CMD_PREAD, fd, mem, 4096, 4096);
	submit1(&a);
	reap(1);
	close(fd);
}

/* min_nr 0 and a timeout, with a pipe read in flight. */
static void getevents_nowait(void)
{
	struct timespec ts = { 0, 1000000 };
	struct io_event ev;
	struct iocb a;
	int p[2];

	REQUIRE(pipe(p) == 0);
	prep(&a, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	submit1(&a);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &ts), 0);
	feed(p[1], 16);
	reap(1);
}

/* min_nr 0 with a timeout and nothing handed on; a zero timeout (a poll)
 * and min_nr 1 with a read in flight. */
static void getevents_clean(void)
{
	struct timespec ts = { 0, 1000000 }, zero = { 0, 0 };
	int fd = t_tmpfile(4096, 0), p[2];
	struct io_event ev;
	struct iocb a, b;

	REQUIRE(pipe(p) == 0);
	prep(&a, IOCB_CMD_PWRITE, fd, mem, 512, 0);	/* buffered: inline */
	submit1(&a);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &ts), 1);
	prep(&b, IOCB_CMD_PREAD, p[0], mem, 16, 0);
	submit1(&b);
	CHECK_EQ(uaio_getevents(ctx, 0, 1, &ev, &zero), 0);
	feed(p[1], 16);
	reap(1);
	close(fd);
}

static void destroy_unreaped(void)
{
	int fd = t_tmpfile(4096, 0);
	struct iocb a;

	prep(&a, IOCB_CMD_PWRITE, fd, mem, 512, 0);
	submit1(&a);
	submit1(&a);
	/* the caller destroys with two events in the ring */
	close(fd);
}

/* Inline writes, never reaped, until submit answers -EAGAIN, twice. */
static void ring_full(void)
{
	int fd = t_tmpfile(4096, 0);
	struct iocb a, *v[1] = { &a };
	int n = 0, r = 1;

	prep(&a, IOCB_CMD_PWRITE, fd, mem, 512, 0);
	for (int round = 0; round < 2; round++) {
		while ((r = uaio_submit(ctx, 1, v)) == 1 && n < 100000)
			n++;
		CHECK_EQ(r, -EAGAIN);
		reap(1);
	}
	reap(n - 2);	/* n + 1 submitted, 2 reaped */
	close(fd);
}

static void ring_clean(void)
{
	int fd = t_tmpfile(4096, 0);
	struct iocb a;

	prep(&a, IOCB_CMD_PWRITE, fd, mem, 512, 0);
	for (int i = 0; i < 1000; i++) {
		submit1(&a);
		reap(1);
	}
	close(fd);
}

static void not_destroyed(void) {}

/* UAIO_CHECK=buffers: an O_DSYNC write waits in submit's batch while the
 * call's next iocb, a cached read, fills its buffer inline; the write then
 * leaves for the executor with other data than was submitted. */
static void buffer_changed(void)
{
	int fd = t_tmpfile(1 << 16, 0);
	struct iocb a, b;

	memset(mem, 0xaa, 4096);
	prep(&a, IOCB_CMD_PWRITE, fd, mem, 4096, 32768);
	prep(&b, IOCB_CMD_PREAD, fd, mem, 4096, 0);
	a.aio_rw_flags = RWF_DSYNC;
	submit2(&a, &b);
	reap(2);
	close(fd);
}

/* ---- the parent ---- */

struct tcase {
	const char *name, *env;
	void (*fn)(void);
	unsigned nr;		/* the context's nr_events */
	const char *want;	/* "kind=lines,..." of finding lines; "": none */
	const char *summary;	/* a piece of the summary line, or NULL */
	const char *needle;	/* a piece the output must hold, or NULL */
	bool leave;		/* the child does not destroy its context */
	bool aborts;
};

static const struct tcase cases[] = {
	{ "dup", "1", dup_iocb, 8, "iocb-in-flight=1", "3 findings (1 distinct sites): iocb-in-flight 3",
	  "submitted again while in flight", false, false },
	{ "dup-clean", "1", dup_iocb_clean, 8, "", "0 findings", NULL, false, false },
	{ "file", "1", file_overlap, 8, "file-overlap=2", ": file-overlap 2", "their order is undefined",
	  false, false },
	{ "file-clean", "1", file_clean, 8, "", "0 findings", NULL, false, false },
	{ "mem", "1", mem_overlap, 8, "buffer-overlap=2", ": buffer-overlap 2", "overlaps the buffer",
	  false, false },
	{ "mem-clean", "1", mem_clean, 8, "", "0 findings", NULL, false, false },
	{ "dio", "1", dio_misaligned, 8, "dio-misaligned=2", NULL, "offset 100 not a multiple of",
	  false, false },
	{ "dio-clean", "1", dio_clean, 8, "", "0 findings", NULL, false, false },
	{ "nowait", "1", getevents_nowait, 8, "getevents-no-wait=1", NULL, "min_nr 0 and a timeout",
	  false, false },
	{ "nowait-clean", "1", getevents_clean, 8, "", "0 findings", NULL, false, false },
	{ "unreaped", "1", destroy_unreaped, 8, "destroy-unreaped=1", NULL, "with 2 events never reaped",
	  false, false },
	{ "ring", "1", ring_full, 1, "ring-full=1", ": ring-full 2", "answers -EAGAIN", false, false },
	{ "ring-clean", "1", ring_clean, 1, "", "0 findings", NULL, false, false },
	{ "leak", "1", not_destroyed, 8, "not-destroyed=1", ": not-destroyed 1", "was never destroyed",
	  true, false },
	{ "changed", "1,buffers", buffer_changed, 8, "buffer-changed=1,buffer-overlap=1", NULL,
	  "changed between submit and execution", false, false },
	{ "changed-clean", "1,buffers", file_clean, 8, "", "0 findings", NULL, false, false },
	{ "changed-optin", "1", buffer_changed, 8, "buffer-overlap=1", NULL, NULL, false, false },
	{ "halt", "halt", dup_iocb, 8, "iocb-in-flight=1", NULL, NULL, false, true },
	{ "off", "0", dup_iocb, 8, "", NULL, NULL, false, false },
};

static void child(const struct tcase *c, int wfd)
{
	t_failures = 0;	/* the parent's are not ours */
	dup2(wfd, 2);
	setenv("UAIO_CHECK", c->env, 1);
	REQUIRE(t_setup(c->nr, &ctx) == 0);
	c->fn();
	if (!c->leave)
		REQUIRE(uaio_destroy(ctx) == 0);
	exit(t_failures ? 1 : 0);	/* exit(): the summary is written at exit */
}

/* How many finding lines of `kind` out holds. */
static int lines_of(const char *out, const char *kind)
{
	char tag[64];
	int n = 0;

	snprintf(tag, sizeof(tag), "uaio-check: %s: ", kind);
	for (const char *p = out; (p = strstr(p, tag)); p++)
		n += p == out || p[-1] == '\n';
	return n;
}

/* Every finding line's kind must be in want with its count. */
static void check_lines(const struct tcase *c, const char *out)
{
	static const char *const kinds[] = { "iocb-in-flight", "file-overlap", "buffer-overlap",
		"buffer-changed", "dio-misaligned", "getevents-no-wait", "destroy-unreaped", "ring-full",
		"not-destroyed" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *w = strstr(c->want, kinds[i]);
		int want = w ? atoi(w + strlen(kinds[i]) + 1) : 0, got = lines_of(out, kinds[i]);

		if (got != want)
			t_fail("case %s: %d '%s' lines, want %d", c->name, got, kinds[i], want);
	}
}

/* Forks c's child; *rfd: the read end of its stderr. */
static pid_t start_case(const struct tcase *c, int *rfd)
{
	int p[2];
	pid_t pid;

	REQUIRE(pipe(p) == 0);
	fflush(stdout);	/* or the child writes our buffer again */
	REQUIRE((pid = fork()) >= 0);
	if (pid == 0) {
		close(p[0]);
		child(c, p[1]);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

/* Reads c's child's stderr to the end and checks it. */
static void finish_case(const struct tcase *c, pid_t pid, int rfd)
{
	static char out[1 << 16];
	size_t len = 0;
	ssize_t r;
	int st;

	while ((r = read(rfd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)r;
	out[len] = 0;
	close(rfd);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		printf("case %s: no O_DIRECT here, skipped\n", c->name);
		return;
	}
	if (c->aborts ? !(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) : !(WIFEXITED(st) && !WEXITSTATUS(st)))
		t_fail("case %s: child status %#x", c->name, st);
	check_lines(c, out);
	if (c->summary && !strstr(out, c->summary))
		t_fail("case %s: no '%s' in the summary", c->name, c->summary);
	if (c->needle && !strstr(out, c->needle))
		t_fail("case %s: no '%s'", c->name, c->needle);
	if (!strcmp(c->env, "0") && strstr(out, "uaio-check"))
		t_fail("case %s: the checker spoke while off", c->name);
	if (t_failures || getenv("UAIO_TEST_SHOW"))
		fprintf(stderr, "---- case %s, the child's stderr:\n%s----\n", c->name, out);
}

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The children run side by side (each one's stderr fits in its pipe);
 * argv[1] runs one case alone. */
int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	pid_t pid[NCASES];
	int rfd[NCASES];

	for (size_t i = 0; i < NCASES; i++)
		if (!only || !strcmp(only, cases[i].name))
			pid[i] = start_case(&cases[i], &rfd[i]);
	for (size_t i = 0; i < NCASES; i++)
		if (!only || !strcmp(only, cases[i].name)) {
			int before = t_failures;

			finish_case(&cases[i], pid[i], rfd[i]);
			printf("case %-13s %s\n", cases[i].name, t_failures == before ? "ok" : "FAILED");
		}
	return t_done();
}
