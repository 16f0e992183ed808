/* SPDX-License-Identifier: MIT */
/*
 * uaio-bench - uaio against the kernel's AIO on file I/O.
 *
 * With no arguments it creates a temporary 1 GiB file, keeps 32 random 4 KiB
 * reads in flight for 3 s per row, buffered (warm page cache) and O_DIRECT,
 * on uaio (pointer checks on, then off) and on kernel AIO (raw system calls),
 * and prints one row per (mode, engine): IOPS, p50/p99 latency, CPU time per
 * I/O and the IOPS ratio to kernel AIO in the same mode.
 *
 * All engines run the same loop through struct engine, so the only thing
 * that differs between rows is the AIO implementation.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include "uaio.h"

#define PROG		"uaio-bench"
#define KiB		1024ull
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)
#define WARMUP_NS	300000000ull	/* not counted: lets caches and thread pools settle */
#define WATCHDOG_S	60		/* extra seconds a row may take before we give up */
#define CHUNK		(4 * MiB)	/* pwrite/pread size for filling and pre-reading */
#define MAX_DEPTH	4096
#define MAX_BS		(64 * MiB)
#define SEED		0x9e3779b97f4a7c15ull	/* fixed: every engine gets the same offsets */

/* ---- options -------------------------------------------------------------- */

enum { MODE_BUFFERED = 1, MODE_DIRECT = 2, MODE_COLD = 4 };
enum rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE };
/* kaio first: it is the reference of the ratio column, so it must run first. */
enum { ENG_KAIO, ENG_UAIO, ENG_UAIO_NOCHECK, ENG_COUNT };

static const char *const rw_names[] = { "read", "write", "randread", "randwrite" };
static const char *const mode_names[] = { "buffered", "direct", "cold" };

struct opts {
	const char *file;	/* NULL: a temporary file */
	uint64_t size;		/* bytes the I/O spans */
	uint64_t bs;
	unsigned depth;
	unsigned batch;		/* iocbs per submit call, min_nr per reap */
	double runtime;		/* measured seconds per row */
	unsigned modes;		/* MODE_* bits */
	enum rw rw;
	unsigned engines;	/* 1u << ENG_* bits */
};

static bool rw_is_write(enum rw rw)
{
	return rw == RW_WRITE || rw == RW_RANDWRITE;
}

static bool rw_is_random(enum rw rw)
{
	return rw == RW_RANDREAD || rw == RW_RANDWRITE;
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTION]...\n"
"Run the same file I/O job on uaio and on the kernel's AIO and print, per\n"
"(mode, engine): IOPS, p50/p99 latency, CPU time per I/O, and the IOPS ratio\n"
"to kernel AIO in the same mode.\n"
"\n"
"  -f, --file=PATH     file to use; created or extended to --size if needed,\n"
"                      and kept (default: a temporary file in $TMPDIR or\n"
"                      /var/tmp, not on tmpfs, removed at exit)\n"
"  -s, --size=SIZE     bytes the I/O spans (default 1G)\n"
"  -b, --bs=SIZE       block size, a multiple of 512 (default 4k)\n"
"  -d, --depth=N       requests kept in flight, 1-%u (default 32)\n"
"  -t, --runtime=SEC   measured seconds per row, after a %.1f s warm-up\n"
"                      (default 3)\n"
"  -m, --mode=MODE     buffered, direct, both (default), cold (buffered, page\n"
"                      cache dropped before each row) or all\n"
"  -r, --rw=RW         randread, randwrite, read or write (default randread);\n"
"                      write jobs overwrite the file's data\n"
"  -B, --batch=N       iocbs per submit call and minimum events per reap\n"
"                      (default 1: refill the queue one request at a time)\n"
"  -e, --engines=LIST  comma-separated uaio, uaio-nocheck, kaio or all\n"
"                      (default all)\n"
"  -h, --help          show this help\n"
"\n"
"SIZE takes a K, M, G or T suffix (powers of 1024).\n"
"Engines: uaio = uaio's threads executor with pointer checks (the default\n"
"configuration); uaio-nocheck = the same with UAIO_F_NOCHECK; kaio = kernel\n"
"AIO through the raw system calls.  kaio runs first in each mode: the ratio\n"
"column is IOPS / kaio's IOPS.  Buffered rows run on a warm page cache (the\n"
"file is read once first); cpu/io is the process's user+sys CPU time per I/O,\n"
"uaio's worker threads included.\n"
"Exit status: 0 success, 1 set-up or I/O error, 2 bad usage.\n",
		MAX_DEPTH, WARMUP_NS / 1e9);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help'.\n", stderr);
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Decimal with an optional K/M/G/T suffix (then optionally "B" or "iB"). */
static bool parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return false;
	switch (*end) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	case 't': case 'T': shift = 40; break;
	default: break;
	}
	if (shift) {
		end++;
		if (!strcasecmp(end, "b") || !strcasecmp(end, "ib"))
			end += strlen(end);
	}
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

static unsigned parse_count(const char *opt, const char *s, unsigned lo, unsigned hi)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = isdigit((unsigned char)*s) ? strtoul(s, &end, 10) : 0;
	if (!isdigit((unsigned char)*s) || errno || *end || v < lo || v > hi)
		bad_usage("%s must be a whole number from %u to %u, not '%s'", opt, lo, hi, s);
	return (unsigned)v;
}

static double parse_runtime(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0.01 || v > 86400)
		bad_usage("--runtime must be seconds from 0.01 to 86400, not '%s'", s);
	return v;
}

static int parse_name(const char *opt, const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	bad_usage("unknown %s '%s'", opt, s);
}

static const char *const engine_names[ENG_COUNT] = {
	[ENG_KAIO] = "kaio", [ENG_UAIO] = "uaio", [ENG_UAIO_NOCHECK] = "uaio-nocheck",
};

static unsigned parse_engines(const char *s)
{
	char *copy = strdup(s), *save = NULL;
	unsigned mask = 0;

	if (!copy)
		fatal("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all"))
			mask |= (1u << ENG_COUNT) - 1;
		else
			mask |= 1u << parse_name("engine", tok, engine_names, ENG_COUNT);
	}
	free(copy);
	if (!mask)
		bad_usage("--engines needs at least one of uaio, uaio-nocheck, kaio");
	return mask;
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "bs", required_argument, NULL, 'b' },
		{ "depth", required_argument, NULL, 'd' },
		{ "runtime", required_argument, NULL, 't' },
		{ "mode", required_argument, NULL, 'm' },
		{ "rw", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'B' },
		{ "engines", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = { "buffered", "direct", "both", "cold", "all" };
	static const unsigned mode_bits[] = { MODE_BUFFERED, MODE_DIRECT, MODE_BUFFERED | MODE_DIRECT,
					      MODE_COLD, MODE_BUFFERED | MODE_DIRECT | MODE_COLD };
	int c;

	*o = (struct opts){ .size = GiB, .bs = 4 * KiB, .depth = 32, .batch = 1,
			    .runtime = 3, .modes = MODE_BUFFERED | MODE_DIRECT,
			    .rw = RW_RANDREAD, .engines = (1u << ENG_COUNT) - 1 };
	while ((c = getopt_long(argc, argv, "f:s:b:d:t:m:r:B:e:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!*optarg)
				bad_usage("--file needs a path");
			o->file = optarg;
			break;
		case 's':
			if (!parse_size(optarg, &o->size) || !o->size)
				bad_usage("--size must be a size such as 1G or 512M, not '%s'", optarg);
			break;
		case 'b':
			if (!parse_size(optarg, &o->bs) || !o->bs || o->bs % 512 || o->bs > MAX_BS)
				bad_usage("--bs must be a multiple of 512 up to 64M, not '%s'", optarg);
			break;
		case 'd': o->depth = parse_count("--depth", optarg, 1, MAX_DEPTH); break;
		case 'B': o->batch = parse_count("--batch", optarg, 1, MAX_DEPTH); break;
		case 't': o->runtime = parse_runtime(optarg); break;
		case 'm': o->modes = mode_bits[parse_name("--mode", optarg, modes, 5)]; break;
		case 'r': o->rw = (enum rw)parse_name("--rw", optarg, rw_names, 4); break;
		case 'e': o->engines = parse_engines(optarg); break;
		case 'h': usage(stdout); exit(0);
		default: fputs("Try '" PROG " --help'.\n", stderr); exit(2);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s'", argv[optind]);
	if (o->batch > o->depth)
		bad_usage("--batch (%u) cannot exceed --depth (%u)", o->batch, o->depth);
	if (o->size < o->bs)
		bad_usage("--size (%llu) must be at least --bs (%llu)",
			  (unsigned long long)o->size, (unsigned long long)o->bs);
}

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Process CPU time (all threads: uaio's workers count), in microseconds. */
static uint64_t cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* xorshift64*: cheap, and fixed-seeded so runs are repeatable. */
static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void fill_pattern(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = xorshift(&seed) | 1;	/* non-zero: no sparse-file or zero-page shortcuts */
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

static void *xmemalign(size_t len)
{
	void *p = NULL;

	/* 4096: O_DIRECT needs buffers aligned to the logical block size. */
	if (posix_memalign(&p, 4096, len))
		fatal("out of memory (%zu bytes)", len);
	return p;
}

/* "1 GiB", "4 KiB" when exact, else bytes. */
static const char *fmt_size(char *buf, size_t n, uint64_t v)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (int i = 0; i < 4; i++) {
		unsigned shift = 40 - 10 * (unsigned)i;
		if (v >= (1ull << shift) && v % (1ull << shift) == 0) {
			snprintf(buf, n, "%llu %s", (unsigned long long)(v >> shift), units[i]);
			return buf;
		}
	}
	snprintf(buf, n, "%llu bytes", (unsigned long long)v);
	return buf;
}

/* ---- latency histogram ------------------------------------------------------ */

/*
 * HDR-like: values below 64 ns exact, above that 64 sub-buckets per power of
 * two, so a bucket is at most 1/64 (1.6%) wide and its midpoint is within 0.8%
 * of every value in it.  Fixed size, so recording never allocates.
 */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_BUCKETS	((64 - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t bucket[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned e, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return (e - HIST_SUB_BITS + 1) * HIST_SUB + sub;
}

static double hist_value(unsigned idx)
{
	unsigned e = idx / HIST_SUB + HIST_SUB_BITS - 1, sub = idx % HIST_SUB;
	uint64_t width;

	if (idx < HIST_SUB)
		return idx;
	width = 1ull << (e - HIST_SUB_BITS);
	return (double)((uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS)) + (double)(width - 1) / 2;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->count++;
}

/* The value at quantile q (0..1): the bucket holding the ceil(q*count)-th value. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;

	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return 0;
}

/* ---- engines ---------------------------------------------------------------- */

struct engine {
	const char *name;
	int (*setup)(unsigned nr, aio_context_t *ctx);
	int (*submit)(aio_context_t ctx, long nr, struct iocb **cbs);
	int (*reap)(aio_context_t ctx, long min_nr, long nr, struct io_event *ev);
	int (*destroy)(aio_context_t ctx);
	const char *setup_call;		/* named in "unavailable" rows */
};

/* Raw system calls return -1/errno; make them -errno like uaio's calls. */
static int sys_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}

static int kaio_setup(unsigned nr, aio_context_t *ctx)
{
	*ctx = 0;
	return sys_ret(syscall(SYS_io_setup, nr, ctx));
}

static int kaio_submit(aio_context_t ctx, long nr, struct iocb **cbs)
{
	return sys_ret(syscall(SYS_io_submit, ctx, nr, cbs));
}

static int kaio_reap(aio_context_t ctx, long min_nr, long nr, struct io_event *ev)
{
	return sys_ret(syscall(SYS_io_getevents, ctx, min_nr, nr, ev, NULL));
}

static int kaio_destroy(aio_context_t ctx)
{
	return sys_ret(syscall(SYS_io_destroy, ctx));
}

/* "threads" explicitly: $UAIO_EXECUTOR must not change what a row measures. */
static int uaio_setup_flags(unsigned nr, unsigned flags, aio_context_t *ctx)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = "threads";
	p.flags = flags;
	*ctx = 0;
	return uaio_setup_params(nr, &p, ctx);
}

static int uaio_setup_checked(unsigned nr, aio_context_t *ctx)
{
	return uaio_setup_flags(nr, 0, ctx);
}

static int uaio_setup_nocheck(unsigned nr, aio_context_t *ctx)
{
	return uaio_setup_flags(nr, UAIO_F_NOCHECK, ctx);
}

/* NULL timeout, as fio does: a timeout would cost uaio a checked copy per reap. */
static int uaio_reap(aio_context_t ctx, long min_nr, long nr, struct io_event *ev)
{
	return uaio_getevents(ctx, min_nr, nr, ev, NULL);
}

static const struct engine engines[ENG_COUNT] = {
	[ENG_KAIO] = { "kaio", kaio_setup, kaio_submit, kaio_reap, kaio_destroy, "io_setup" },
	[ENG_UAIO] = { "uaio", uaio_setup_checked, uaio_submit, uaio_reap, uaio_destroy,
		       "uaio_setup_params" },
	[ENG_UAIO_NOCHECK] = { "uaio-nocheck", uaio_setup_nocheck, uaio_submit, uaio_reap,
			       uaio_destroy, "uaio_setup_params" },
};

/* ---- the file --------------------------------------------------------------- */

struct target {
	char path[PATH_MAX];
	bool temporary;		/* ours: unlinked as soon as both fds are open */
	int fd;			/* buffered */
	int dfd;		/* O_DIRECT, or -1 ... */
	int direct_err;		/* ... and the errno of its open */
	long fstype;		/* statfs f_type */
	double fill_s;		/* seconds spent writing it, 0 if not written */
};

static bool fs_in_memory(long type)
{
	return type == TMPFS_MAGIC || type == RAMFS_MAGIC;
}

static const char *fs_name(long type)
{
	switch (type) {
	case EXT4_SUPER_MAGIC: return "ext2/3/4";
	case XFS_SUPER_MAGIC: return "xfs";
	case BTRFS_SUPER_MAGIC: return "btrfs";
	case TMPFS_MAGIC: return "tmpfs";
	case RAMFS_MAGIC: return "ramfs";
	case OVERLAYFS_SUPER_MAGIC: return "overlayfs";
	case NFS_SUPER_MAGIC: return "nfs";
	default: return "other fs";
	}
}

/* mkstemp in dir, unless dir is in memory and memory is not allowed. */
static int try_temp(const char *dir, bool allow_memory, struct target *t)
{
	struct statfs sfs;
	int fd;

	if (!dir || !*dir || statfs(dir, &sfs) < 0)
		return -1;
	if (fs_in_memory((long)sfs.f_type) && !allow_memory)
		return -1;
	if ((size_t)snprintf(t->path, sizeof(t->path), "%s/" PROG ".XXXXXX", dir) >= sizeof(t->path))
		return -1;
	fd = mkostemp(t->path, O_CLOEXEC);
	return fd;
}

/* O_DIRECT needs a real file system, so prefer $TMPDIR and /var/tmp off tmpfs. */
static int create_temp(struct target *t)
{
	const char *dirs[] = { getenv("TMPDIR"), "/var/tmp", "/tmp" };
	int fd;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
			if ((fd = try_temp(dirs[i], pass == 1, t)) >= 0)
				return fd;
	fatal("cannot create a temporary file in $TMPDIR, /var/tmp or /tmp");
}

static void fill_file(int fd, uint64_t from, uint64_t size)
{
	char *buf = malloc(CHUNK);

	if (!buf)
		fatal("out of memory");
	fill_pattern(buf, CHUNK, SEED);
	for (uint64_t off = from; off < size;) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pwrite(fd, buf, len, (off_t)off);
		if (n <= 0)
			fatal("writing the file: %s", n < 0 ? strerror(errno) : "no progress");
		off += (uint64_t)n;
	}
	free(buf);
	/* On disk now, so O_DIRECT rows do not start by flushing dirty pages. */
	if (fdatasync(fd) < 0)
		fatal("fdatasync: %s", strerror(errno));
}

static void open_target(const struct opts *o, struct target *t)
{
	struct statfs sfs;
	struct stat st;
	uint64_t t0;

	memset(t, 0, sizeof(*t));
	if (o->file) {
		snprintf(t->path, sizeof(t->path), "%s", o->file);
		t->fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
		if (t->fd < 0)
			fatal("%s: %s", t->path, strerror(errno));
	} else {
		t->temporary = true;
		t->fd = create_temp(t);
	}
	if (fstat(t->fd, &st) < 0 || fstatfs(t->fd, &sfs) < 0)
		fatal("%s: %s", t->path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		fatal("%s: not a regular file", t->path);
	t->fstype = (long)sfs.f_type;
	t->dfd = open(t->path, O_RDWR | O_DIRECT | O_CLOEXEC);
	t->direct_err = t->dfd < 0 ? errno : 0;
	/* Both fds are open: unlink now so no exit path, even a signal, leaves it behind. */
	if (t->temporary && unlink(t->path) < 0)
		fatal("%s: %s", t->path, strerror(errno));
	if ((uint64_t)st.st_size < o->size) {
		t0 = now_ns();
		fill_file(t->fd, (uint64_t)st.st_size, o->size);
		t->fill_s = (double)(now_ns() - t0) / 1e9;
	}
}

/* Share of the file's first size bytes in the page cache, by mincore per 1 GiB window. */
static double resident_share(int fd, uint64_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), npages = GiB / page;
	unsigned char *vec = malloc(npages);
	uint64_t in = 0, total = 0;

	if (!vec)
		return -1;
	for (uint64_t off = 0; off < size; off += GiB) {
		size_t len = size - off < GiB ? (size_t)(size - off) : (size_t)GiB;
		void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
		size_t n = (len + page - 1) / page;

		if (p == MAP_FAILED || mincore(p, len, vec) < 0) {
			if (p != MAP_FAILED)
				munmap(p, len);
			free(vec);
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			in += vec[i] & 1;
		total += n;
		munmap(p, len);
	}
	free(vec);
	return total ? (double)in / (double)total : 0;
}

/* Warm cache for the buffered rows: read it all once, and say how much stayed. */
static void preread(int fd, uint64_t size)
{
	char *buf = malloc(CHUNK);
	uint64_t t0 = now_ns();
	double share;

	if (!buf)
		fatal("out of memory");
	for (uint64_t off = 0; off < size;) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n <= 0)
			fatal("pre-reading the file: %s", n < 0 ? strerror(errno) : "unexpected end");
		off += (uint64_t)n;
	}
	free(buf);
	share = resident_share(fd, size);
	printf("# buffered rows: file pre-read into the page cache (%.2f s", (double)(now_ns() - t0) / 1e9);
	if (share >= 0)
		printf(", %.0f%% resident", share * 100);
	printf(")\n");
}

/* ---- the workload loop ------------------------------------------------------ */

struct slot {
	struct iocb cb;
	void *buf;
	uint64_t t_submit;	/* CLOCK_MONOTONIC ns, set just before submit */
};

/* Allocated once and shared by all rows, so rows allocate nothing. */
struct bench {
	const struct opts *o;
	uint64_t nblocks;
	struct slot *slots;		/* depth */
	struct iocb **queue;		/* prepared, not yet submitted: [head, tail) */
	struct io_event *events;	/* depth */
	struct hist *hist;
};

enum phase { WARMUP, MEASURE, DRAIN };

/* One row's running state. */
struct loop {
	const struct engine *e;
	aio_context_t ctx;
	int fd;
	uint64_t rng, seq;
	unsigned head, tail, inflight;
	enum phase phase;
	uint64_t t_warm_end, t_end, t0, t1, cpu0, cpu1, ops;
};

struct row {
	int err;		/* -errno: row unavailable */
	const char *what;	/* the call that failed */
	double iops, p50_us, p99_us, cpu_per_io_us;
};

static long long next_offset(const struct bench *b, struct loop *l)
{
	uint64_t blk;

	if (rw_is_random(b->o->rw))
		blk = xorshift(&l->rng) % b->nblocks;
	else
		blk = l->seq++ % b->nblocks;
	return (long long)(blk * b->o->bs);
}

static void queue_slot(struct bench *b, struct loop *l, struct slot *s)
{
	long long off = next_offset(b, l);

	if (rw_is_write(b->o->rw))
		uaio_prep_pwrite(&s->cb, l->fd, s->buf, b->o->bs, off);
	else
		uaio_prep_pread(&s->cb, l->fd, s->buf, b->o->bs, off);
	uaio_set_data(&s->cb, s);
	b->queue[l->tail++] = &s->cb;
}

static struct slot *slot_of(uint64_t data)
{
	return (struct slot *)(uintptr_t)data;
}

/* Submit everything queued, batch iocbs per call; on EAGAIN reap first. */
static void submit_queued(struct bench *b, struct loop *l)
{
	while (l->head < l->tail) {
		unsigned n = l->tail - l->head < b->o->batch ? l->tail - l->head : b->o->batch;
		struct iocb **first = &b->queue[l->head];
		uint64_t t = now_ns();
		int r;

		for (unsigned i = 0; i < n; i++)
			slot_of(first[i]->aio_data)->t_submit = t;
		r = l->e->submit(l->ctx, n, first);
		if (r == -EINTR)
			continue;
		if ((r == -EAGAIN || r == 0) && l->inflight > 0)
			break;
		if (r <= 0)
			fatal("%s: submit: %s", l->e->name, strerror(r ? -r : EAGAIN));
		l->head += (unsigned)r;
		l->inflight += (unsigned)r;
	}
	/* Keep the queue at the array's start so reaps can append up to depth. */
	if (l->head == l->tail) {
		l->head = l->tail = 0;
	} else if (l->head) {
		memmove(b->queue, b->queue + l->head, (l->tail - l->head) * sizeof(*b->queue));
		l->tail -= l->head;
		l->head = 0;
	}
}

/* Every event must be a whole block; anything else makes the numbers meaningless. */
static void check_event(const struct bench *b, const struct loop *l, const struct io_event *ev)
{
	struct slot *s = slot_of(ev->data);

	if (!s || ev->obj != (uint64_t)(uintptr_t)&s->cb)
		fatal("%s: event with data %#llx obj %#llx matches no request", l->e->name,
		      (unsigned long long)ev->data, (unsigned long long)ev->obj);
	if (ev->res == (long long)b->o->bs)
		return;
	if (ev->res < 0)
		fatal("%s: %s at offset %lld: %s", l->e->name, rw_is_write(b->o->rw) ? "write" : "read",
		      (long long)s->cb.aio_offset, strerror((int)-ev->res));
	fatal("%s: %s at offset %lld returned %lld, not %llu", l->e->name,
	      rw_is_write(b->o->rw) ? "write" : "read", (long long)s->cb.aio_offset,
	      (long long)ev->res, (unsigned long long)b->o->bs);
}

static void start_measure(struct bench *b, struct loop *l, uint64_t t)
{
	memset(b->hist, 0, sizeof(*b->hist));
	l->phase = MEASURE;
	l->ops = 0;
	l->t0 = t;
	l->t_end = t + (uint64_t)(b->o->runtime * 1e9);
	l->cpu0 = cpu_us();
}

static void stop_measure(struct loop *l, uint64_t t)
{
	l->cpu1 = cpu_us();
	l->t1 = t;
	l->phase = DRAIN;
	l->head = l->tail = 0;	/* drop what was re-queued: only drain from here */
}

static void reap(struct bench *b, struct loop *l)
{
	long min_nr = l->inflight < b->o->batch ? l->inflight : b->o->batch;
	int r = l->e->reap(l->ctx, min_nr, b->o->depth, b->events);
	uint64_t t = now_ns();

	if (r == -EINTR)
		return;
	if (r < 0)
		fatal("%s: getevents: %s", l->e->name, strerror(-r));
	l->inflight -= (unsigned)r;
	for (int i = 0; i < r; i++) {
		struct slot *s;

		check_event(b, l, &b->events[i]);
		s = slot_of(b->events[i].data);
		if (l->phase == MEASURE) {
			hist_add(b->hist, t - s->t_submit);
			l->ops++;
		}
		if (l->phase != DRAIN)
			queue_slot(b, l, s);
	}
	if (l->phase == WARMUP && t >= l->t_warm_end)
		start_measure(b, l, t);
	else if (l->phase == MEASURE && t >= l->t_end)
		stop_measure(l, t);
}

/* Give up on a hung row rather than hang `make bench` forever. */
static void on_alarm(int sig)
{
	static const char msg[] = PROG ": a row made no progress in time; giving up\n";
	ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

	(void)r;
	(void)sig;
	_exit(1);
}

static void run_row(struct bench *b, const struct engine *e, int fd, struct row *row)
{
	struct loop l = { .e = e, .fd = fd, .rng = SEED };
	int r;

	memset(row, 0, sizeof(*row));
	r = e->setup(b->o->depth, &l.ctx);
	if (r < 0) {
		row->err = r;
		row->what = e->setup_call;
		return;
	}
	alarm((unsigned)ceil(b->o->runtime) + WATCHDOG_S);
	for (unsigned i = 0; i < b->o->depth; i++)
		queue_slot(b, &l, &b->slots[i]);
	l.t_warm_end = now_ns() + WARMUP_NS;
	for (;;) {
		submit_queued(b, &l);
		if (!l.inflight)
			break;
		reap(b, &l);
	}
	alarm(0);
	if ((r = e->destroy(l.ctx)) < 0)
		fatal("%s: destroy: %s", e->name, strerror(-r));
	row->iops = l.t1 > l.t0 ? (double)l.ops * 1e9 / (double)(l.t1 - l.t0) : 0;
	row->p50_us = hist_quantile(b->hist, 0.50) / 1000;
	row->p99_us = hist_quantile(b->hist, 0.99) / 1000;
	row->cpu_per_io_us = l.ops ? (double)(l.cpu1 - l.cpu0) / (double)l.ops : 0;
}

static void bench_init(struct bench *b, const struct opts *o)
{
	b->o = o;
	b->nblocks = o->size / o->bs;
	b->slots = calloc(o->depth, sizeof(*b->slots));
	b->queue = calloc(o->depth, sizeof(*b->queue));
	b->events = calloc(o->depth, sizeof(*b->events));
	b->hist = malloc(sizeof(*b->hist));
	if (!b->slots || !b->queue || !b->events || !b->hist)
		fatal("out of memory");
	for (unsigned i = 0; i < o->depth; i++) {
		b->slots[i].buf = xmemalign(o->bs);
		/* Touch every page now, and give writes non-zero data. */
		fill_pattern(b->slots[i].buf, o->bs, SEED + i);
	}
}

static void bench_free(struct bench *b)
{
	for (unsigned i = 0; i < b->o->depth; i++)
		free(b->slots[i].buf);
	free(b->slots);
	free(b->queue);
	free(b->events);
	free(b->hist);
}

/* ---- output ----------------------------------------------------------------- */

#define ROW_FMT_HEAD	"%-9s %-13s %10s %9s %9s %10s %6s\n"

static unsigned online_cpus(void)
{
	cpu_set_t set;

	/* What nproc prints: the CPUs this process may run on. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return (unsigned)CPU_COUNT(&set);
	return (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
}

static void print_header(const struct opts *o, const struct target *t)
{
	struct utsname u;
	char size[32], bs[32];

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("# " PROG ": %s, %u CPUs, %s %s %s\n", u.nodename, online_cpus(),
	       u.sysname, u.release, u.machine);
	printf("# file: %s (%s, %s), %s", t->path, t->temporary ? "temporary" : "kept",
	       fs_name(t->fstype), fmt_size(size, sizeof(size), o->size));
	if (t->fill_s > 0)
		printf(", written in %.2f s", t->fill_s);
	printf("\n# job: %s, bs %s, depth %u, batch %u, %.1f s per row after a %.1f s warm-up\n",
	       rw_names[o->rw], fmt_size(bs, sizeof(bs), o->bs), o->depth, o->batch,
	       o->runtime, WARMUP_NS / 1e9);
	printf("# engines: uaio = threads executor, pointer checks on; uaio-nocheck = "
	       "UAIO_F_NOCHECK; kaio = kernel AIO system calls\n");
	if (getenv("UAIO_NOCHECK"))
		printf("# note: UAIO_NOCHECK is set in the environment; it may turn the uaio row's checks off\n");
	printf("# ratio = IOPS / kaio IOPS in the same mode; cpu/io = process user+sys CPU "
	       "time per I/O (uaio's threads included)\n");
}

static void print_table_head(void)
{
	printf(ROW_FMT_HEAD, "mode", "engine", "IOPS", "p50(us)", "p99(us)", "cpu/io(us)", "ratio");
}

static void print_row(const char *mode, const char *engine, const struct row *r,
		      const struct row *ref)
{
	if (r->err) {
		printf("%-9s %-13s unavailable (%s: %s)\n", mode, engine, r->what, strerror(-r->err));
		return;
	}
	printf("%-9s %-13s %10.0f %9.1f %9.1f %10.2f ", mode, engine, r->iops, r->p50_us,
	       r->p99_us, r->cpu_per_io_us);
	if (ref && !ref->err && ref->iops > 0)
		printf("%6.2f\n", r->iops / ref->iops);
	else
		printf("%6s\n", "-");
}

/* ---- main ------------------------------------------------------------------- */

/* All chosen engines in one mode; kaio first, since the others' ratio needs it. */
static void run_mode(struct bench *b, unsigned mode, const struct target *t)
{
	const char *mname = mode_names[mode == MODE_DIRECT ? 1 : mode == MODE_COLD ? 2 : 0];
	int fd = mode == MODE_DIRECT ? t->dfd : t->fd;
	struct row rows[ENG_COUNT];
	const struct row *ref = NULL;

	for (int i = 0; i < ENG_COUNT; i++) {
		if (!(b->o->engines & (1u << i)))
			continue;
		if (fd < 0) {
			rows[i] = (struct row){ .err = -t->direct_err, .what = "open O_DIRECT" };
		} else {
			/* Cold: drop the file's cached pages before each row (clean: written and synced). */
			if (mode == MODE_COLD && (fdatasync(fd) < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)))
				fatal("dropping the page cache: %s", strerror(errno));
			run_row(b, &engines[i], fd, &rows[i]);
			/* Written data goes to disk between rows, so no row pays for another's writeback. */
			if (rw_is_write(b->o->rw) && fdatasync(fd) < 0)
				fatal("fdatasync: %s", strerror(errno));
		}
		if (i == ENG_KAIO)
			ref = &rows[i];
		print_row(mname, engines[i].name, &rows[i], ref);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct target t;
	struct bench b;
	struct opts o;

	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* rows appear as they finish, even in a pipe */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	open_target(&o, &t);
	print_header(&o, &t);
	bench_init(&b, &o);
	if (o.modes & MODE_BUFFERED)
		preread(t.fd, o.size);
	print_table_head();
	if (o.modes & MODE_BUFFERED)
		run_mode(&b, MODE_BUFFERED, &t);
	if (o.modes & MODE_DIRECT)
		run_mode(&b, MODE_DIRECT, &t);
	if (o.modes & MODE_COLD)
		run_mode(&b, MODE_COLD, &t);
	bench_free(&b);
	close(t.fd);
	if (t.dfd >= 0)
		close(t.dfd);
	return 0;
}
