/* Issue 15, part 2: UAIO_TRACE=FILE on the native API.  The same workload
 * runs untraced and traced (each in a child whose first setup reads the
 * environment set just before it with setenv): the results must be the
 * same.  The traced run's FILE.<pid> must be fio's iolog v3 with exactly
 * the requests fio can replay, in order, under the names the files were
 * opened by, a reused fd number naming its new file; pipe I/O and POLL are
 * left out.  A grandchild forked by the traced child gets FILE.<its pid>.
 * UAIO_TRACE_DETAIL=1's FILE.<pid>.jsonl has one line per request with its
 * result and a route that fits the executor. */
#include "t.h"
#include <poll.h>
#include <stdbool.h>
#include <sys/uio.h>

#define NRES 32

struct results {
	long long res[NRES];
	int n;
};

static aio_context_t ctx;
static struct results R;

/* One request, waited for; its result recorded. */
static long long one(struct iocb *cb)
{
	struct iocb *v = cb;
	struct io_event ev;
	struct timespec ts = { 10, 0 };

	REQUIRE(uaio_submit(ctx, 1, &v) == 1);
	REQUIRE(uaio_getevents(ctx, 1, 1, &ev, &ts) == 1);
	if (R.n < NRES)
		R.res[R.n++] = ev.res;
	return ev.res;
}

static int open_at(const char *dir, const char *name)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
}

/* An O_DIRECT read (the kaio executor's own route) of an unlinked file:
 * its name ends in " (deleted)", which fio cannot read back, so it is in
 * the JSON file only.  Skipped where O_DIRECT is refused (tmpfs). */
static void direct_read(void)
{
	static char dbuf[4096] __attribute__((aligned(4096)));
	struct iocb cb;
	int fd0 = t_tmpfile(8192, O_RDONLY | O_DIRECT);
	/* a number no earlier request used: uaio's F_GETFL cache (fdflags.c)
	 * knows nothing of it, so the read is not tried inline */
	int fd = fcntl(fd0, F_DUPFD, 200);
	struct stat st;

	close(fd0);
	REQUIRE(fd >= 0);

	if (fstat(fd, &st) == 0 && pread(fd, dbuf, 4096, 0) == 4096) {
		uaio_prep_pread(&cb, fd, dbuf, 4096, 4096);
		one(&cb);
	}
	close(fd);
}

/* Requests on a.dat, a pipe, POLL, then b.dat on a.dat's old number. */
static void workload(const char *dir)
{
	static char buf[16384], b2[4000];
	struct iovec iov[2] = { { b2, 1000 }, { b2 + 1000, 3000 } };
	struct iocb cb;
	int fd, p[2], fdb;

	memset(buf, 'x', sizeof(buf));
	ctx = 0;
	REQUIRE(t_setup(16, &ctx) == 0);
	REQUIRE((fd = open_at(dir, "a.dat")) >= 0);
	uaio_prep_pwrite(&cb, fd, buf, 8192, 0);
	one(&cb);
	uaio_prep_pwrite(&cb, fd, buf, 4096, 8192);
	one(&cb);
	uaio_prep_pread(&cb, fd, buf, 4096, 4096);
	one(&cb);
	uaio_prep_preadv(&cb, fd, iov, 2, 100);
	one(&cb);
	uaio_prep_pwritev(&cb, fd, iov, 2, 20000);
	one(&cb);
	uaio_prep_fsync(&cb, fd);
	one(&cb);
	uaio_prep_fdsync(&cb, fd);
	one(&cb);
	uaio_prep_pread(&cb, fd, buf, 4096, 1 << 20);	/* past the end: 0 */
	one(&cb);
	REQUIRE(pipe(p) == 0);
	REQUIRE(write(p[1], "0123456789", 10) == 10);
	uaio_prep_pread(&cb, p[0], buf, 100, 0);
	one(&cb);
	REQUIRE(write(p[1], "x", 1) == 1);
	uaio_prep_poll(&cb, p[0], POLLIN);
	one(&cb);
	close(p[0]);
	close(p[1]);
	close(fd);
	REQUIRE((fdb = open_at(dir, "b.dat")) >= 0);
	if (fdb != fd) {	/* the number must be reused for the check */
		REQUIRE(dup2(fdb, fd) == fd);
		close(fdb);
	}
	uaio_prep_pwrite(&cb, fd, buf, 100, 7);
	one(&cb);
	close(fd);
	direct_read();
	REQUIRE(uaio_destroy(ctx) == 0);
}

static const char *const want_log[] = {
	"fio version 3 iolog",
	"A add", "A open",
	"A write 0 8192", "A write 8192 4096", "A read 4096 4096", "A read 100 4000",
	"A write 20000 4000", "A sync 0 0", "A datasync 0 0", "A read 1048576 4096",
	"B add", "B open", "B write 7 100",
	"A close", "B close",
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	s[n] = 0;
	fclose(f);
	return s;
}

/* The iolog, timestamps checked (non-decreasing) and dropped, names
 * replaced by A and B, against want_log. */
static void check_log(const char *path, const char *dir)
{
	char *s = slurp(path), *line, *save = NULL, a[4200], b[4200], rdir[4096];
	unsigned long long ts, last = 0;
	size_t i = 0, nw = sizeof(want_log) / sizeof(want_log[0]);

	REQUIRE(realpath(dir, rdir));
	snprintf(a, sizeof(a), "%s/a.dat ", rdir);
	snprintf(b, sizeof(b), "%s/b.dat ", rdir);
	if (!s) {
		t_fail("no trace %s", path);
		return;
	}
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		char got[256];
		int k = 0;

		if (i > 0) {
			CHECK(sscanf(line, "%llu %n", &ts, &k) == 1);
			CHECK(ts >= last);
			last = ts;
			line += k;
			if (!strncmp(line, a, strlen(a)))
				snprintf(got, sizeof(got), "A %s", line + strlen(a));
			else if (!strncmp(line, b, strlen(b)))
				snprintf(got, sizeof(got), "B %s", line + strlen(b));
			else
				snprintf(got, sizeof(got), "? %s", line);
		} else {
			snprintf(got, sizeof(got), "%s", line);
		}
		if (i >= nw || strcmp(got, want_log[i]))
			t_fail("%s line %zu: '%s', want '%s'", path, i, got, i < nw ? want_log[i] : "(end)");
	}
	CHECK_EQ(i, nw);
	free(s);
}

/* One JSON line per request (pipe and POLL too), each with its result. */
static void check_jsonl(const char *path, const struct results *r)
{
	char *s = slurp(path), *line, *save = NULL, want[64];
	const char *ex = t_executor();
	int i = 0;

	if (!s) {
		t_fail("no %s", path);
		return;
	}
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save), i++) {
		snprintf(want, sizeof(want), "\"res\":%lld,", i < r->n ? r->res[i] : -999);
		CHECK(strstr(line, want) != NULL);
		CHECK(strstr(line, "\"submit_ns\":") && strstr(line, "\"complete_ns\":"));
		CHECK(strstr(line, "\"route\":\"inline\"") || strstr(line, "\"route\":\"worker\"") ||
		      strstr(line, "\"route\":\"poller\"") || strstr(line, "\"route\":\"io_uring\"") ||
		      strstr(line, "\"route\":\"kaio\""));
		if (!strcmp(ex, "threads"))
			CHECK(!strstr(line, "\"route\":\"io_uring\"") && !strstr(line, "\"route\":\"kaio\""));
		if (i == 5)	/* fsync never completes inline */
			CHECK(strstr(line, "\"opcode\":\"fsync\"") && !strstr(line, "\"route\":\"inline\""));
		if (i == 11) {	/* the O_DIRECT read: the executor's own route */
			const char *want_route = !strcmp(ex, "kaio") ? "\"route\":\"kaio\"" :
						 !strcmp(ex, "uring") ? "\"route\":\"io_uring\"" :
						 "\"route\":\"worker\"";

			if (!strstr(line, want_route))
				t_fail("O_DIRECT read: want %s in %s", want_route, line);
		}
	}
	CHECK_EQ(i, r->n);
	free(s);
}

/* Runs the workload in a child; its results come back through a pipe.
 * A traced child also forks a grandchild that does it again. */
static pid_t run_child(const char *dir, struct results *out, bool fork_more, pid_t *grand)
{
	int p[2];
	pid_t pid;

	REQUIRE(pipe(p) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		R.n = 0;
		workload(dir);
		if (fork_more) {
			pid_t g = fork();
			int st;

			if (g == 0) {
				R.n = 0;
				workload(dir);
				exit(t_failures ? 1 : 0);
			}
			REQUIRE(g > 0 && waitpid(g, &st, 0) == g);
			CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
			REQUIRE(write(p[1], &g, sizeof(g)) == sizeof(g));
		}
		REQUIRE(write(p[1], &R, sizeof(R)) == sizeof(R));
		exit(t_failures ? 1 : 0);
	}
	close(p[1]);
	if (fork_more)
		REQUIRE(read(p[0], grand, sizeof(*grand)) == sizeof(*grand));
	REQUIRE(read(p[0], out, sizeof(*out)) == sizeof(*out));
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	char dir[] = "/tmp/uaio-trace-XXXXXX", base[4200], path[4300], cmd[4300];
	struct results plain, traced;
	pid_t pid, grand = 0;

	REQUIRE(mkdtemp(dir));
	unsetenv("UAIO_TRACE");
	reap(run_child(dir, &plain, false, NULL));
	snprintf(base, sizeof(base), "%s/tr", dir);
	setenv("UAIO_TRACE", base, 1);
	setenv("UAIO_TRACE_DETAIL", "1", 1);
	pid = run_child(dir, &traced, true, &grand);
	reap(pid);

	CHECK_EQ(traced.n, plain.n);
	for (int i = 0; i < plain.n && i < traced.n; i++)
		if (plain.res[i] != traced.res[i])
			t_fail("request %d: %lld traced, %lld not", i, traced.res[i], plain.res[i]);
	CHECK(traced.n == 11 || traced.n == 12);	/* 12: with the O_DIRECT read */
	CHECK_EQ(traced.res[8], 10);	/* the pipe read */

	snprintf(path, sizeof(path), "%s.%d", base, (int)pid);
	check_log(path, dir);
	snprintf(path, sizeof(path), "%s.%d.jsonl", base, (int)pid);
	check_jsonl(path, &traced);
	snprintf(path, sizeof(path), "%s.%d", base, (int)grand);
	check_log(path, dir);
	snprintf(path, sizeof(path), "%s.%d.jsonl", base, (int)grand);
	check_jsonl(path, &traced);
	snprintf(path, sizeof(path), "%s.%d", base, (int)getpid());
	CHECK(access(path, F_OK) != 0);	/* the parent did no I/O: no file */

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return t_done();
}
