/* Issue 15, part 2: tracing must never change a program's results nor
 * stop it.  When the trace cannot be written, tracing stops, uaio says
 * why once on stderr ("uaio: trace FILE.<pid>: <reason>; tracing
 * stopped"), and the program's I/O goes on with the same results:
 *   - the trace's directory does not exist;
 *   - RLIMIT_FSIZE is below the trace's size (EFBIG; the kernel's SIGXFSZ,
 *     deadly by default, must not reach the program);
 *   - the trace's file system is full (ENOSPC: a 16 KiB tmpfs; skipped,
 *     exit 77, if it cannot be mounted, after the other cases ran). */
#include "t.h"
#include <sys/mount.h>
#include <sys/resource.h>
#include <stdbool.h>

#define BLOCKS	16		/* the data file: 16 blocks of 4 KiB (64 KiB) */
#define ROUNDS	200		/* x BLOCKS writes: ~3200 trace lines, ~200 KB */

static char dir[] = "/tmp/uaio-trace-fail-XXXXXX";

/* Writes and reads back the data file, checking every result; returns
 * the number of wrong results. */
static int workload(void)
{
	static char wb[BLOCKS][4096], rb[BLOCKS][4096];
	struct iocb cbs[BLOCKS], *v[BLOCKS];
	struct io_event ev[BLOCKS];
	struct timespec ts = { 10, 0 };
	aio_context_t ctx = 0;
	char path[256];
	int fd, bad = 0;

	snprintf(path, sizeof(path), "%s/data", dir);
	REQUIRE((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) >= 0);
	REQUIRE(t_setup(BLOCKS, &ctx) == 0);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < BLOCKS; i++) {
			memset(wb[i], 'a' + (r + i) % 26, sizeof(wb[i]));
			uaio_prep_pwrite(&cbs[i], fd, wb[i], 4096, (long long)i * 4096);
			v[i] = &cbs[i];
		}
		REQUIRE(uaio_submit(ctx, BLOCKS, v) == BLOCKS);
		REQUIRE(uaio_getevents(ctx, BLOCKS, BLOCKS, ev, &ts) == BLOCKS);
		for (int i = 0; i < BLOCKS; i++)
			bad += ev[i].res != 4096;
	}
	for (int i = 0; i < BLOCKS; i++) {
		uaio_prep_pread(&cbs[i], fd, rb[i], 4096, (long long)i * 4096);
		v[i] = &cbs[i];
	}
	REQUIRE(uaio_submit(ctx, BLOCKS, v) == BLOCKS);
	REQUIRE(uaio_getevents(ctx, BLOCKS, BLOCKS, ev, &ts) == BLOCKS);
	for (int i = 0; i < BLOCKS; i++)
		bad += ev[i].res != 4096 || memcmp(rb[i], wb[i], 4096) != 0;
	REQUIRE(uaio_destroy(ctx) == 0);
	close(fd);
	return bad;
}

/* Runs the workload in a child traced to base (stderr to a file, with
 * RLIMIT_FSIZE fsize if nonzero); checks its exit and that stderr says
 * `reason` in exactly one "tracing stopped" line. */
static void traced_run(const char *name, const char *base, rlim_t fsize, const char *reason)
{
	char err[256], *s, *p;
	int st, n = 0;
	pid_t pid;
	FILE *f;

	snprintf(err, sizeof(err), "%s/%s.err", dir, name);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int efd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		REQUIRE(efd >= 0 && dup2(efd, 2) == 2);
		setenv("UAIO_TRACE", base, 1);
		setenv("UAIO_TRACE_DETAIL", "1", 1);
		if (fsize) {
			struct rlimit rl = { fsize, RLIM_INFINITY };

			REQUIRE(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		}
		exit(workload() ? 3 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		t_fail("%s: the traced program %s %d", name, WIFEXITED(st) ? "exited" : "was killed by signal",
		       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	REQUIRE((f = fopen(err, "r")) != NULL);
	s = calloc(1, 65536);
	if (fread(s, 1, 65535, f) == 0)
		s[0] = 0;
	fclose(f);
	for (p = s; (p = strstr(p, "; tracing stopped")); p++)
		n++;
	if (n != 1 || !strstr(s, "uaio: trace ") || !strstr(s, reason))
		t_fail("%s: want one \"uaio: trace ...: %s; tracing stopped\" line, got:\n%s", name, reason, s);
	free(s);
}

int main(void)
{
	char base[512], mnt[256], cmd[512];
	bool mounted;

	REQUIRE(mkdtemp(dir));

	snprintf(base, sizeof(base), "%s/no/such/dir/tr", dir);
	traced_run("nodir", base, 0, "No such file or directory");

	snprintf(base, sizeof(base), "%s/tr", dir);
	traced_run("fsize", base, 64 * 1024, "File too large");

	snprintf(mnt, sizeof(mnt), "%s/small", dir);
	REQUIRE(mkdir(mnt, 0755) == 0);
	mounted = mount("tmpfs", mnt, "tmpfs", 0, "size=16k") == 0;
	if (mounted) {
		snprintf(base, sizeof(base), "%s/tr", mnt);
		traced_run("full", base, 0, "No space left on device");
		umount2(mnt, MNT_DETACH);
	} else {
		fprintf(stderr, "cannot mount a tmpfs (%s): the disk-full case is skipped\n", strerror(errno));
	}
	/* untraced, for reference (last: this process's first setup reads
	 * UAIO_TRACE, unset here, for good): every result as expected */
	CHECK_EQ(workload(), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (!t_failures && !mounted)
		t_skip("no tmpfs could be mounted (not root?): the disk-full case did not run");
	return t_done();
}
