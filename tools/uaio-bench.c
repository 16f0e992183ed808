/* SPDX-License-Identifier: MIT */
/*
 * uaio-bench - one workload, every asynchronous I/O engine of this machine.
 *
 * Each row of a table runs the same job (same offsets, same sizes, same
 * files, same queue depth and batching) on one engine: uaio (each executor,
 * pointer checks on and off), kernel AIO through raw system calls, io_uring
 * through liburing, glibc's POSIX AIO, and synchronous pread/pwrite from
 * a pool of threads.  With no arguments it compares them on 4 KiB random
 * reads at queue depth 32 on a temporary 1 GiB file, buffered (warm page
 * cache) and O_DIRECT, and prints one table per mode.
 *
 * Every engine runs the same job loop through struct engine; only the five
 * engine calls (init, submit, reap, fini, and the request preparation they
 * do) differ.  Latencies go to fixed-size log-linear histograms, so memory
 * does not grow with the run time.  --cost measures the engines' own cost
 * per request with 0-byte reads.
 */
#include <aio.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <liburing.h>

#include "uaio.h"

/* The --cost row "uaio-syscalls" has uaio answer trapped system calls in
 * its SIGSYS handler: a synchronous signal at the program's own io_* call,
 * where calling malloc or taking locks is safe.  A TSan build cannot know
 * that and would report each call. */
const char *__tsan_default_options(void) __attribute__((visibility("default")));
const char *__tsan_default_options(void)
{
	return "report_signal_unsafe=0";
}

#define PROG		"uaio-bench"
#define KiB		1024ull
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)
#define TiB		(1024 * GiB)
#define CHUNK		(4 * MiB)	/* pwrite/pread size for filling and pre-reading */
#define MAX_DEPTH	4096
#define MAX_BS		(64 * MiB)
#define MAX_SIZE	(1024 * TiB)	/* --size / --io-size above this are typos */
#define MAX_JOBS	64
#define MAX_FILES	64
#define SYNC_MAX_THREADS 64		/* per job: sync engine threads = min(iodepth, this) */
#define SYNC_MAX_TOTAL	256
#define STALL_S		60		/* no completion for this long: give up */
#define SEED		0x9e3779b97f4a7c15ull	/* fixed: every engine gets the same offsets */
#define TICK_NS		200000000ull	/* progress line refresh */

/* ---- options -------------------------------------------------------------- */

enum { MODE_BUFFERED, MODE_DIRECT, MODE_COLD, MODE_COUNT };
enum rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RW, RW_RANDRW, RW_COUNT };
enum op { OP_READ, OP_WRITE, OP_FSYNC };

static const char *const rw_names[RW_COUNT] = {
	"read", "write", "randread", "randwrite", "rw", "randrw",
};
static const char *const mode_names[MODE_COUNT] = { "buffered", "direct", "cold" };
static const char *const mode_titles[MODE_COUNT] = {
	"buffered, warm page cache", "O_DIRECT", "buffered, cold page cache",
};

struct opts {
	char *files[MAX_FILES];	/* none: one temporary file */
	unsigned nfiles;
	uint64_t size;		/* bytes of each file the I/O spans; 0: default */
	uint64_t bs;
	unsigned depth;
	unsigned batch_submit;	/* requests per submit call */
	unsigned batch_complete;/* minimum completions per reap call */
	unsigned numjobs;
	double runtime;		/* measured seconds per row */
	double ramp;		/* unmeasured seconds before that */
	uint64_t io_size;	/* bytes per row instead of a run time; 0: use runtime */
	bool runtime_set;
	bool modes_set;		/* --direct or --mode given: O_DIRECT refusal is an error */
	unsigned modes;		/* 1u << MODE_* */
	enum rw rw;
	unsigned rwmix;		/* read percentage for rw/randrw */
	unsigned fsync_every;	/* 0: never */
	bool verify;
	bool allow_dev_write;
	uint64_t engines;	/* 1u << ENG_*; 0: default set */
	int baseline;		/* ENG_* */
	const char *json;
	const char *svg;
	bool cost;
	bool flat;		/* --flat: --cost against contexts and queue depth */
	bool quiet;		/* no progress line even on a terminal */
};

static bool rw_reads(enum rw rw)
{
	return rw != RW_WRITE && rw != RW_RANDWRITE;
}

static bool rw_writes(enum rw rw)
{
	return rw != RW_READ && rw != RW_RANDREAD;
}

static bool rw_random(enum rw rw)
{
	return rw == RW_RANDREAD || rw == RW_RANDWRITE || rw == RW_RANDRW;
}

/* ---- engines' names (the code is further down) ------------------------------ */

enum {
	ENG_KAIO, ENG_UAIO, ENG_UAIO_NOCHECK, ENG_UAIO_URING, ENG_UAIO_URING_NOCHECK,
	ENG_IO_URING, ENG_POSIX, ENG_SYNC, ENG_COUNT
};

static const char *const engine_names[ENG_COUNT] = {
	[ENG_KAIO] = "kaio",
	[ENG_UAIO] = "uaio",
	[ENG_UAIO_NOCHECK] = "uaio-nocheck",
	[ENG_UAIO_URING] = "uaio-uring",
	[ENG_UAIO_URING_NOCHECK] = "uaio-uring-nocheck",
	[ENG_IO_URING] = "io_uring",
	[ENG_POSIX] = "posix-aio",
	[ENG_SYNC] = "sync",
};

#define ENG_DEFAULT ((1ull << ENG_COUNT) - 1 - (1ull << ENG_UAIO_URING_NOCHECK))

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTION]...\n"
"Run one file I/O job on every AIO engine (uaio, kernel AIO, io_uring, POSIX\n"
"AIO, synchronous threads) and print, per mode, IOPS, MiB/s, latency\n"
"percentiles, CPU time and the ratios to a baseline engine.  With no options:\n"
"4 KiB random reads, queue depth 32, on a temporary 1 GiB file, buffered (warm\n"
"page cache) and O_DIRECT, 2 s per engine.\n"
"\n"
"Workload:\n"
"      --rw=RW            read, write, randread (default), randwrite, rw, randrw\n"
"      --rwmix=PCT        reads in percent for rw and randrw (default 50)\n"
"  -b, --bs=SIZE          block size, a multiple of 512 up to 64M (default 4k)\n"
"  -d, --iodepth=N        requests in flight per job, 1-%u (default 32)\n"
"      --batch-submit=N   requests per submit call (default 1)\n"
"      --batch-complete=N minimum completions per reap call (default 1)\n"
"      --direct[=0|1]     O_DIRECT only (1) or buffered only (0); without it\n"
"                         both run, buffered first on a warm page cache\n"
"      --mode=MODE        buffered, direct, both, cold (buffered, page cache\n"
"                         dropped before each row) or all\n"
"  -f, --filename=F[:F]   files or block devices to spread the I/O over\n"
"                         (default: a temporary file in $TMPDIR or /tmp,\n"
"                         removed at exit); files are created or extended\n"
"  -s, --size=SIZE        bytes of each file the I/O spans (default 1G; a\n"
"                         block device's size)\n"
"  -j, --numjobs=N        threads, each with its own context or ring, 1-%u\n"
"  -t, --runtime=SEC      measured seconds per row (default 2)\n"
"      --ramp=SEC         unmeasured seconds before that (default 0.3)\n"
"      --io-size=SIZE     bytes per row instead of a run time\n"
"      --fsync=N          fsync after every N writes (per job)\n"
"      --verify           writes carry a pattern of offset and row; each row's\n"
"                         written blocks are read back and compared\n"
"      --allow-device-write  let write jobs overwrite a block device\n"
"\n"
"Engines and output:\n"
"  -e, --engines=LIST     comma-separated engines or 'all' (default: all but\n"
"                         uaio-uring-nocheck): kaio uaio uaio-nocheck\n"
"                         uaio-uring uaio-uring-nocheck io_uring posix-aio sync\n"
"      --baseline=ENGINE  the ratios' reference (default kaio)\n"
"      --json=FILE        every figure as JSON\n"
"      --svg=FILE         bar chart of IOPS and latency percentiles\n"
"      --cost             engine cost: 0-byte reads at batch 1 and 64, ns per\n"
"                         request (default 1 s per row)\n"
"      --flat             --cost against the number of contexts (1 to 10000,\n"
"                         one request each in turn) and the queue depth (1 to\n"
"                         4096, 64 per submit call) (default 0.5 s per cell)\n"
"  -q, --quiet            no progress line on a terminal\n"
"  -h, --help             show this help\n"
"\n"
"SIZE takes a K, M, G or T suffix (powers of 1024).  Exit status: 0 success,\n"
"1 I/O error or verify mismatch, 2 bad usage or unusable file.\n",
		MAX_DEPTH, MAX_JOBS);
}

/* Files this run created and has not finished writing: removed on an error exit. */
static const char *created_paths[64];
static unsigned ncreated;

static void remove_created(void)
{
	for (unsigned i = 0; i < ncreated; i++)
		if (created_paths[i])
			unlink(created_paths[i]);
	ncreated = 0;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
bad_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_created();
	exit(2);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("\r" PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	remove_created();
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
	unsigned long v = 0;
	char *end = NULL;

	errno = 0;
	if (isdigit((unsigned char)*s))
		v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || errno || *end || v < lo || v > hi)
		bad_usage("%s must be a whole number from %u to %u, not '%s'", opt, lo, hi, s);
	return (unsigned)v;
}

static double parse_seconds(const char *opt, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi)
		bad_usage("%s must be seconds from %g to %g, not '%s'", opt, lo, hi, s);
	return v;
}

static int find_name(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int parse_name(const char *opt, const char *s, const char *const *names, int n)
{
	int i = find_name(s, names, n);

	if (i < 0)
		bad_usage("unknown %s '%s'", opt, s);
	return i;
}

static int parse_engine(const char *s)
{
	int i = find_name(s, engine_names, ENG_COUNT);

	/* A few spellings people type. */
	if (i < 0 && (!strcmp(s, "libaio") || !strcmp(s, "aio")))
		i = ENG_KAIO;
	if (i < 0 && (!strcmp(s, "uring") || !strcmp(s, "io-uring") || !strcmp(s, "liburing")))
		i = ENG_IO_URING;
	if (i < 0 && (!strcmp(s, "posixaio") || !strcmp(s, "posix")))
		i = ENG_POSIX;
	if (i < 0 && (!strcmp(s, "psync") || !strcmp(s, "pread")))
		i = ENG_SYNC;
	if (i < 0 && (!strcmp(s, "uaio-threads")))
		i = ENG_UAIO;
	if (i < 0)
		bad_usage("unknown engine '%s' (engines: kaio uaio uaio-nocheck uaio-uring "
			  "uaio-uring-nocheck io_uring posix-aio sync)", s);
	return i;
}

static uint64_t parse_engines(const char *s)
{
	char *copy = strdup(s), *save = NULL;
	uint64_t mask = 0;

	if (!copy)
		fatal("out of memory");
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "all"))
			mask |= (1ull << ENG_COUNT) - 1;
		else
			mask |= 1ull << parse_engine(tok);
	}
	free(copy);
	if (!mask)
		bad_usage("--engines needs at least one engine");
	return mask;
}

static void parse_files(struct opts *o, char *arg)
{
	char *save = NULL;

	if (!*arg)
		bad_usage("--filename needs a path");
	o->nfiles = 0;
	for (char *tok = strtok_r(arg, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		if (o->nfiles == MAX_FILES)
			bad_usage("--filename: at most %u files", MAX_FILES);
		o->files[o->nfiles++] = tok;
	}
	if (!o->nfiles)
		bad_usage("--filename needs a path");
}

enum {
	OPT_RWMIX = 256, OPT_BATCH_SUBMIT, OPT_BATCH_COMPLETE, OPT_DIRECT, OPT_MODE, OPT_RAMP,
	OPT_IO_SIZE, OPT_FSYNC, OPT_VERIFY, OPT_BASELINE, OPT_JSON, OPT_SVG, OPT_COST, OPT_FLAT, OPT_BATCH,
	OPT_DEVWRITE,
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "rw", required_argument, NULL, 'r' },
		{ "readwrite", required_argument, NULL, 'r' },
		{ "rwmix", required_argument, NULL, OPT_RWMIX },
		{ "rwmixread", required_argument, NULL, OPT_RWMIX },
		{ "bs", required_argument, NULL, 'b' },
		{ "iodepth", required_argument, NULL, 'd' },
		{ "depth", required_argument, NULL, 'd' },
		{ "batch-submit", required_argument, NULL, OPT_BATCH_SUBMIT },
		{ "batch-complete", required_argument, NULL, OPT_BATCH_COMPLETE },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "direct", optional_argument, NULL, OPT_DIRECT },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "filename", required_argument, NULL, 'f' },
		{ "file", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "numjobs", required_argument, NULL, 'j' },
		{ "runtime", required_argument, NULL, 't' },
		{ "ramp", required_argument, NULL, OPT_RAMP },
		{ "io-size", required_argument, NULL, OPT_IO_SIZE },
		{ "fsync", required_argument, NULL, OPT_FSYNC },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "allow-device-write", no_argument, NULL, OPT_DEVWRITE },
		{ "engines", required_argument, NULL, 'e' },
		{ "baseline", required_argument, NULL, OPT_BASELINE },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "svg", required_argument, NULL, OPT_SVG },
		{ "cost", no_argument, NULL, OPT_COST },
		{ "flat", no_argument, NULL, OPT_FLAT },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const modes[] = { "buffered", "direct", "both", "cold", "all" };
	static const unsigned mode_bits[] = {
		1u << MODE_BUFFERED, 1u << MODE_DIRECT, (1u << MODE_BUFFERED) | (1u << MODE_DIRECT),
		1u << MODE_COLD, (1u << MODE_COUNT) - 1,
	};
	bool depth_set = false;
	int c;

	*o = (struct opts){ .bs = 4 * KiB, .depth = 32, .batch_submit = 1, .batch_complete = 1,
			    .numjobs = 1, .runtime = 2, .ramp = 0.3,
			    .modes = (1u << MODE_BUFFERED) | (1u << MODE_DIRECT),
			    .rw = RW_RANDREAD, .rwmix = 50, .baseline = ENG_KAIO };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:b:d:f:s:j:t:e:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'r': o->rw = (enum rw)parse_name("--rw", optarg, rw_names, RW_COUNT); break;
		case OPT_RWMIX: o->rwmix = parse_count("--rwmix", optarg, 0, 100); break;
		case 'b':
			if (!parse_size(optarg, &o->bs) || !o->bs || o->bs % 512 || o->bs > MAX_BS)
				bad_usage("--bs must be a multiple of 512 from 512 to 64M, not '%s'", optarg);
			break;
		case 'd': o->depth = parse_count("--iodepth", optarg, 1, MAX_DEPTH); depth_set = true; break;
		case OPT_BATCH_SUBMIT: o->batch_submit = parse_count("--batch-submit", optarg, 1, MAX_DEPTH); break;
		case OPT_BATCH_COMPLETE: o->batch_complete = parse_count("--batch-complete", optarg, 1, MAX_DEPTH); break;
		case OPT_BATCH:
			o->batch_submit = o->batch_complete = parse_count("--batch", optarg, 1, MAX_DEPTH);
			break;
		case OPT_DIRECT:
			o->modes_set = true;
			if (!optarg || !strcmp(optarg, "1"))
				o->modes = 1u << MODE_DIRECT;
			else if (!strcmp(optarg, "0"))
				o->modes = 1u << MODE_BUFFERED;
			else
				bad_usage("--direct takes 0 or 1, not '%s'", optarg);
			break;
		case OPT_MODE: o->modes_set = true; o->modes = mode_bits[parse_name("--mode", optarg, modes, 5)]; break;
		case 'f': parse_files(o, optarg); break;
		case 's':
			if (!parse_size(optarg, &o->size) || !o->size || o->size > MAX_SIZE)
				bad_usage("--size must be a size from 512 bytes to 1024T, such as 1G, not '%s'",
					  optarg);
			break;
		case 'j': o->numjobs = parse_count("--numjobs", optarg, 1, MAX_JOBS); break;
		case 't': o->runtime = parse_seconds("--runtime", optarg, 0.01, 86400); o->runtime_set = true; break;
		case OPT_RAMP: o->ramp = parse_seconds("--ramp", optarg, 0, 3600); break;
		case OPT_IO_SIZE:
			if (!parse_size(optarg, &o->io_size) || !o->io_size || o->io_size > MAX_SIZE)
				bad_usage("--io-size must be a size from 1 byte to 1024T, such as 256M, not '%s'",
					  optarg);
			break;
		case OPT_FSYNC: o->fsync_every = parse_count("--fsync", optarg, 0, 1u << 30); break;
		case OPT_VERIFY: o->verify = true; break;
		case OPT_DEVWRITE: o->allow_dev_write = true; break;
		case 'e': o->engines = parse_engines(optarg); break;
		case OPT_BASELINE: o->baseline = parse_engine(optarg); break;
		case OPT_JSON: if (!*optarg) bad_usage("--json needs a file name"); o->json = optarg; break;
		case OPT_SVG: if (!*optarg) bad_usage("--svg needs a file name"); o->svg = optarg; break;
		case OPT_COST: o->cost = true; break;
		case OPT_FLAT: o->cost = o->flat = true; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		case ':': bad_usage("option '%s' needs an argument (try --help)", argv[optind - 1]);
		default:
			if (optopt)
				bad_usage("unknown option '-%c' (try --help)", optopt);
			bad_usage("unknown option '%s' (try --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		bad_usage("unexpected argument '%s' (try --help)", argv[optind]);
	if (o->batch_submit > o->depth)
		bad_usage("--batch-submit (%u) cannot exceed --iodepth (%u)", o->batch_submit, o->depth);
	if (o->batch_complete > o->depth)
		bad_usage("--batch-complete (%u) cannot exceed --iodepth (%u)", o->batch_complete, o->depth);
	if (o->size && o->size < o->bs)
		bad_usage("--size (%llu) must be at least --bs (%llu)",
			  (unsigned long long)o->size, (unsigned long long)o->bs);
	if (o->io_size && o->io_size < o->bs)
		bad_usage("--io-size (%llu) must be at least --bs (%llu)",
			  (unsigned long long)o->io_size, (unsigned long long)o->bs);
	if (o->verify && !rw_writes(o->rw))
		bad_usage("--verify checks written data: use --rw write, randwrite, rw or randrw");
	if (o->fsync_every && !rw_writes(o->rw))
		bad_usage("--fsync counts writes: use --rw write, randwrite, rw or randrw");
	if ((uint64_t)o->numjobs * o->depth > 16384)
		bad_usage("--numjobs x --iodepth (%u) is more than 16384 requests in flight",
			  o->numjobs * o->depth);
	if (o->cost && (o->engines & ~((1ull << ENG_KAIO) | (1ull << ENG_UAIO) | (1ull << ENG_UAIO_NOCHECK) |
				       (1ull << ENG_UAIO_URING) | (1ull << ENG_UAIO_URING_NOCHECK) |
				       (1ull << ENG_IO_URING))))
		bad_usage("--cost measures kaio, io_uring and uaio's executors only");
	if (o->flat && (o->json || o->svg))
		bad_usage("--flat prints a table only: no --json or --svg");
	if (o->cost && !o->runtime_set)
		o->runtime = o->flat ? 0.5 : 1;
	(void)depth_set;
}

/* ---- small helpers ---------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct cpu {
	uint64_t usr_us, sys_us;
};

/* Process CPU time (every thread: uaio's, glibc's and io_uring's workers count). */
static struct cpu cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (struct cpu){
		(uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec,
		(uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec,
	};
}

/* xorshift64*: cheap, and fixed-seeded so runs are repeatable. */
static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void fill_random(void *buf, size_t len, uint64_t seed)
{
	unsigned char *p = buf;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = xorshift(&seed) | 1;	/* non-zero: no sparse-file or zero-page shortcuts */
		memcpy(p + i, &v, len - i < 8 ? len - i : 8);
	}
}

/* --verify's data: every 8 bytes a function of (file, byte offset, generation). */
static void fill_verify(void *buf, size_t len, unsigned file, uint64_t off, uint64_t gen)
{
	uint64_t *w = buf, base = mix64(((uint64_t)file << 56) ^ (gen << 40) ^ SEED);

	for (size_t i = 0; i < len / 8; i++)
		w[i] = mix64(base ^ (off + i * 8));
}

static bool check_verify(const void *buf, size_t len, unsigned file, uint64_t off, uint64_t gen)
{
	const uint64_t *w = buf;
	uint64_t base = mix64(((uint64_t)file << 56) ^ (gen << 40) ^ SEED);

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != mix64(base ^ (off + i * 8)))
			return false;
	return true;
}

static void *xmalloc(size_t len)
{
	void *p = calloc(1, len ? len : 1);

	if (!p)
		fatal("out of memory (%zu bytes)", len);
	return p;
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

static uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* ---- latency histogram ------------------------------------------------------ */

/*
 * Log-linear: values below 64 ns exact, above that 64 sub-buckets per power
 * of two, so a bucket is at most 1/64 (1.6%) wide and its midpoint is within
 * 0.8% of every value in it.  Values are clamped at 2^40 ns (18 minutes).
 * Fixed size, so recording never allocates and memory stays flat.
 */
#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_BITS	40
#define HIST_BUCKETS	((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count, sum, min, max;
	uint64_t bucket[HIST_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned e, sub;

	if (v < HIST_SUB)
		return (unsigned)v;
	if (v >= (1ull << HIST_MAX_BITS))
		v = (1ull << HIST_MAX_BITS) - 1;
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

static void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static void hist_add(struct hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	store64(&h->count, h->count + 1);	/* read by the progress line */
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->bucket[i] += h->bucket[i];
	into->count += h->count;
	into->sum += h->sum;
	if (h->min < into->min)
		into->min = h->min;
	if (h->max > into->max)
		into->max = h->max;
}

/* The value at quantile q (0..1): the bucket holding the ceil(q*count)-th value. */
static double hist_quantile(const struct hist *h, double q)
{
	uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;

	if (!h->count)
		return 0;
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			double v = hist_value(i);
			/* Never report a percentile above the exact maximum. */
			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

/* ---- the files ---------------------------------------------------------------- */

struct file {
	char path[PATH_MAX];
	bool temporary;		/* ours: unlinked as soon as its fds are open */
	bool blockdev;
	int fd;			/* buffered */
	int dfd;		/* O_DIRECT, or -1 ... */
	int direct_err;		/* ... and the errno of its open or first read */
	long fstype;		/* statfs f_type */
	double fill_s;		/* seconds spent writing it, 0 if not written */
	uint64_t *written;	/* --verify: one bit per block written in this row */
};

struct target {
	struct file f[MAX_FILES];
	unsigned n;
	uint64_t span;		/* bytes of each file used */
	uint64_t nblocks;	/* blocks of each file used */
};

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

static void fill_file(struct file *f, uint64_t from, uint64_t size)
{
	char *buf = xmalloc(CHUNK);

	fill_random(buf, CHUNK, SEED);
	for (uint64_t off = from; off < size;) {
		size_t len = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pwrite(f->fd, buf, len, (off_t)off);
		if (n <= 0) {
			if (n < 0 && (errno == ENOSPC || errno == EDQUOT))
				bad_usage("%s: no space left while writing %llu bytes for --size",
					  f->path, (unsigned long long)size);
			fatal("%s: writing the file: %s", f->path, n < 0 ? strerror(errno) : "no progress");
		}
		off += (uint64_t)n;
	}
	free(buf);
	/* On disk now, so O_DIRECT rows do not start by flushing dirty pages. */
	if (fdatasync(f->fd) < 0)
		fatal("%s: fdatasync: %s", f->path, strerror(errno));
}

/* Opens path (or a temporary file when path is NULL) and its O_DIRECT twin. */
static void open_file(const struct opts *o, const char *path, struct file *f, uint64_t *span,
		      bool direct_explicit)
{
	struct statfs sfs;
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->dfd = -1;
	if (path) {
		if ((size_t)snprintf(f->path, sizeof(f->path), "%s", path) >= sizeof(f->path))
			bad_usage("%s: path too long", path);
		f->fd = open(f->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (f->fd >= 0)
			created_paths[ncreated++] = f->path;
		else if (errno == EEXIST)
			f->fd = open(f->path, O_RDWR | O_CLOEXEC);
		if (f->fd < 0 && (errno == EACCES || errno == EROFS || errno == EISDIR) && !rw_writes(o->rw))
			f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			bad_usage("cannot open '%s': %s", f->path, strerror(errno));
	} else {
		const char *dir = getenv("TMPDIR");

		if (!dir || !*dir)
			dir = "/tmp";
		f->temporary = true;
		if ((size_t)snprintf(f->path, sizeof(f->path), "%s/" PROG ".XXXXXX", dir) >= sizeof(f->path))
			bad_usage("$TMPDIR is too long");
		f->fd = mkostemp(f->path, O_CLOEXEC);
		if (f->fd < 0)
			bad_usage("cannot create a temporary file in %s: %s", dir, strerror(errno));
	}
	if (fstat(f->fd, &st) < 0 || fstatfs(f->fd, &sfs) < 0)
		bad_usage("%s: %s", f->path, strerror(errno));
	f->fstype = (long)sfs.f_type;
	if (S_ISBLK(st.st_mode)) {
		uint64_t dev = 0;

		f->blockdev = true;
		if (ioctl(f->fd, BLKGETSIZE64, &dev) < 0)
			bad_usage("%s: cannot read the device size: %s", f->path, strerror(errno));
		if (rw_writes(o->rw) && !o->allow_dev_write)
			bad_usage("%s is a block device and --rw %s would overwrite it; add "
				  "--allow-device-write if that is what you want", f->path, rw_names[o->rw]);
		if (o->size > dev)
			bad_usage("%s: --size (%llu) is larger than the device (%llu bytes)", f->path,
				  (unsigned long long)o->size, (unsigned long long)dev);
		if (!*span || (!o->size && dev < *span))
			*span = o->size ? o->size : dev;
	} else if (!S_ISREG(st.st_mode)) {
		bad_usage("%s: %s", f->path, S_ISDIR(st.st_mode) ? "is a directory, not a file"
				     : "not a regular file or block device");
	} else if (!*span) {
		*span = o->size ? o->size : GiB;
	}
	if (o->modes & (1u << MODE_DIRECT)) {
		f->dfd = open(f->path, (rw_writes(o->rw) || f->temporary ? O_RDWR : O_RDONLY) |
				       O_DIRECT | O_CLOEXEC);
		f->direct_err = f->dfd < 0 ? errno : 0;
		if (f->dfd < 0 && direct_explicit)
			bad_usage("%s: the file system (%s) refuses O_DIRECT (%s); drop --direct",
				  f->path, fs_name(f->fstype), strerror(f->direct_err));
	}
	/* Its fds are open: unlink now so no exit path, even a signal, leaves it behind. */
	if (f->temporary && unlink(f->path) < 0)
		fatal("%s: %s", f->path, strerror(errno));
}

static void size_file(const struct opts *o, struct file *f, uint64_t span)
{
	struct statvfs vfs;
	struct stat st;
	uint64_t t0;

	if (f->blockdev)
		return;
	if (fstat(f->fd, &st) < 0)
		fatal("%s: %s", f->path, strerror(errno));
	if ((uint64_t)st.st_size >= span)
		return;
	/* ramfs and the like report no blocks at all: nothing to check. */
	if (fstatvfs(f->fd, &vfs) == 0 && vfs.f_blocks > 0) {
		uint64_t need = span - (uint64_t)st.st_size;
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;

		if (avail < need + need / 64)
			bad_usage("%s: not enough space for --size: %.1f GiB more needed, %.1f GiB free",
				  f->path, (double)need / GiB, (double)avail / GiB);
	}
	if ((fcntl(f->fd, F_GETFL) & O_ACCMODE) == O_RDONLY)
		bad_usage("%s: read-only and smaller than --size", f->path);
	t0 = now_ns();
	fill_file(f, (uint64_t)st.st_size, span);
	f->fill_s = (double)(now_ns() - t0) / 1e9;
	(void)o;
}

/* One O_DIRECT read of bs: catches file systems that open but fail the I/O. */
static void probe_direct(const struct opts *o, struct file *f, bool direct_explicit)
{
	void *buf;
	ssize_t n;

	if (f->dfd < 0)
		return;
	buf = xmemalign(o->bs);
	n = pread(f->dfd, buf, o->bs, 0);
	if (n < 0) {
		f->direct_err = errno;
		close(f->dfd);
		f->dfd = -1;
		if (direct_explicit)
			bad_usage("%s: O_DIRECT reads of %llu bytes fail on this file system (%s): %s; "
				  "drop --direct or change --bs", f->path, (unsigned long long)o->bs,
				  fs_name(f->fstype), strerror(f->direct_err));
	}
	free(buf);
}

static void open_target(const struct opts *o, struct target *t, bool direct_explicit)
{
	memset(t, 0, sizeof(*t));
	t->n = o->nfiles ? o->nfiles : 1;
	for (unsigned i = 0; i < t->n; i++)
		open_file(o, o->nfiles ? o->files[i] : NULL, &t->f[i], &t->span, direct_explicit);
	if (t->span < o->bs)
		bad_usage("%s: smaller than --bs", t->f[0].path);
	t->span -= t->span % o->bs;
	t->nblocks = t->span / o->bs;
	for (unsigned i = 0; i < t->n; i++) {
		size_file(o, &t->f[i], t->span);
		probe_direct(o, &t->f[i], direct_explicit);
		if (o->verify)
			t->f[i].written = xmalloc((t->nblocks + 63) / 64 * 8);
	}
	/* Complete now: a user's new files stay, even if a row fails later. */
	ncreated = 0;
}

static void close_target(struct target *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		close(t->f[i].fd);
		if (t->f[i].dfd >= 0)
			close(t->f[i].dfd);
		free(t->f[i].written);
	}
}

/* Warm cache for the buffered rows: read it all once, and say how long it took. */
static double preread(const struct target *t)
{
	char *buf = xmalloc(CHUNK);
	uint64_t t0 = now_ns();

	for (unsigned i = 0; i < t->n; i++)
		for (uint64_t off = 0; off < t->span;) {
			size_t len = t->span - off < CHUNK ? (size_t)(t->span - off) : CHUNK;
			ssize_t n = pread(t->f[i].fd, buf, len, (off_t)off);
			if (n <= 0)
				fatal("%s: pre-reading: %s", t->f[i].path,
				      n < 0 ? strerror(errno) : "unexpected end of file");
			off += (uint64_t)n;
		}
	free(buf);
	return (double)(now_ns() - t0) / 1e9;
}

/* ---- requests, jobs and the engine interface ----------------------------------- */

struct req {
	struct iocb cb;		/* kaio, uaio */
	struct aiocb acb;	/* posix-aio */
	void *buf;
	uint64_t t_submit;	/* CLOCK_MONOTONIC ns, set just before submit */
	int64_t res;
	uint64_t off;
	unsigned file;
	unsigned idx;		/* within its job */
	enum op op;
};

/* What the sync engine's threads of one job share; one per job for the others. */
struct group {
	uint64_t seq;		/* next sequential block (atomic) */
	uint64_t issued;	/* bytes issued, for --io-size (atomic) */
	uint64_t writes;	/* writes issued, for --fsync (atomic) */
	uint64_t budget;	/* --io-size bytes of this group */
} __attribute__((aligned(64)));

enum phase { PH_SETUP, PH_RAMP, PH_MEASURE, PH_STOP, PH_ABORT };

struct bench;
struct engine;

struct job {
	struct bench *b;
	const struct engine *e;
	unsigned id, depth;
	struct group *g;
	struct req *reqs;
	unsigned nfree;
	unsigned qhead, qtail;
	aio_context_t ctx;
	struct io_uring ring;
	unsigned sync_done;
	uint64_t rng;
	uint64_t reads, writes, fsyncs;	/* measured */
	uint64_t last_done;	/* ns of the last completion (atomic): stall detection */
	uint64_t completed;	/* every completion, ramp included (atomic): progress line */
	int finished;		/* atomic */
	int err;		/* -errno of init */
	pthread_t th;
	struct hist hist;	/* measured latencies */
	/* Allocated once in bench_init, depth entries each: kept across rows. */
	struct req **freel;
	struct req **queue;	/* prepared, not yet submitted: [qhead, qtail) */
	struct req **done;	/* filled by reap */
	void **scratch;		/* engine's: iocb pointers, cqes, aiocb lists (2 x depth) */
	struct io_event *events;
};

struct engine {
	const char *name;
	const char *desc;
	const char *setup_call;
	int (*init)(struct job *j);
	int (*submit)(struct job *j, struct req **rs, unsigned n);	/* count accepted or -errno */
	int (*reap)(struct job *j, unsigned min, unsigned max);	/* fills j->done: count or -errno */
	void (*fini)(struct job *j);
	const char *executor;	/* uaio only */
	unsigned flags;		/* uaio only */
	bool threads;		/* sync: a thread per request in flight */
	bool batches;		/* honours --batch-submit / --batch-complete */
};

struct bench {
	const struct opts *o;
	struct target *t;
	int fds[MAX_FILES];	/* the current mode's */
	int phase;		/* enum phase (atomic) */
	int ready;		/* jobs set up (atomic) */
	uint64_t gen;		/* --verify generation: one per row */
	unsigned nsync;		/* sync engine threads per job */
	unsigned maxjobs;
	struct job **jobs;
	struct req *pool;	/* numjobs x depth */
	struct group groups[MAX_JOBS];
	struct hist *merged;
};

static int phase_get(const struct bench *b)
{
	return __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
}

static void phase_set(struct bench *b, int ph)
{
	__atomic_store_n(&b->phase, ph, __ATOMIC_RELEASE);
}

/* Raw system calls return -1/errno; make them -errno like uaio's calls. */
static int sys_ret(long r)
{
	return r < 0 ? -errno : (int)r;
}

static void prep_iocb(struct job *j, struct req *r)
{
	int fd = j->b->fds[r->file];

	switch (r->op) {
	case OP_READ: uaio_prep_pread(&r->cb, fd, r->buf, j->b->o->bs, (long long)r->off); break;
	case OP_WRITE: uaio_prep_pwrite(&r->cb, fd, r->buf, j->b->o->bs, (long long)r->off); break;
	case OP_FSYNC: uaio_prep_fsync(&r->cb, fd); break;
	}
	r->cb.aio_data = (uint64_t)(uintptr_t)r;
}

/* kaio: the kernel's AIO through raw system calls. */
static int kaio_init(struct job *j)
{
	j->ctx = 0;
	return sys_ret(syscall(SYS_io_setup, j->depth, &j->ctx));
}

static int kaio_submit(struct job *j, struct req **rs, unsigned n)
{
	struct iocb **cbs = (struct iocb **)j->scratch;

	for (unsigned i = 0; i < n; i++) {
		prep_iocb(j, rs[i]);
		cbs[i] = &rs[i]->cb;
	}
	return sys_ret(syscall(SYS_io_submit, j->ctx, (long)n, cbs));
}

static int events_done(struct job *j, int r)
{
	for (int i = 0; i < r; i++) {
		struct req *q = (struct req *)(uintptr_t)j->events[i].data;

		q->res = j->events[i].res;
		j->done[i] = q;
	}
	return r;
}

static int kaio_reap(struct job *j, unsigned min, unsigned max)
{
	return events_done(j, sys_ret(syscall(SYS_io_getevents, j->ctx, (long)min, (long)max,
					       j->events, NULL)));
}

static void kaio_fini(struct job *j)
{
	syscall(SYS_io_destroy, j->ctx);
}

/* uaio: an executor named explicitly, so $UAIO_EXECUTOR cannot change a row. */
static int uaio_init(struct job *j)
{
	struct uaio_params p;

	memset(&p, 0, sizeof(p));
	p.executor = j->e->executor;
	p.flags = j->e->flags;
	j->ctx = 0;
	return uaio_setup_params(j->depth, &p, &j->ctx);
}

static int uaio_submit_reqs(struct job *j, struct req **rs, unsigned n)
{
	struct iocb **cbs = (struct iocb **)j->scratch;

	for (unsigned i = 0; i < n; i++) {
		prep_iocb(j, rs[i]);
		cbs[i] = &rs[i]->cb;
	}
	return uaio_submit(j->ctx, (long)n, cbs);
}

/* NULL timeout, as fio does: a timeout would cost uaio a checked copy per reap. */
static int uaio_reap(struct job *j, unsigned min, unsigned max)
{
	return events_done(j, uaio_getevents(j->ctx, (long)min, (long)max, j->events, NULL));
}

static void uaio_fini(struct job *j)
{
	uaio_destroy(j->ctx);
}

/* io_uring through liburing: plain SQEs, no registered files or buffers. */
static int uring_init(struct job *j)
{
	return io_uring_queue_init(j->depth, &j->ring, 0);
}

static int uring_submit(struct job *j, struct req **rs, unsigned n)
{
	unsigned prepared = 0;
	int r;

	for (; prepared < n; prepared++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&j->ring);
		struct req *q = rs[prepared];
		int fd = j->b->fds[q->file];

		if (!sqe)
			break;
		switch (q->op) {
		case OP_READ: io_uring_prep_read(sqe, fd, q->buf, (unsigned)j->b->o->bs, q->off); break;
		case OP_WRITE: io_uring_prep_write(sqe, fd, q->buf, (unsigned)j->b->o->bs, q->off); break;
		case OP_FSYNC: io_uring_prep_fsync(sqe, fd, 0); break;
		}
		io_uring_sqe_set_data(sqe, q);
	}
	if (!prepared)
		return -EAGAIN;
	for (unsigned sent = 0; sent < prepared; sent += (unsigned)r) {
		r = io_uring_submit(&j->ring);
		if (r == -EINTR || r == 0) {
			r = 0;
			continue;
		}
		if (r < 0)
			return sent ? (int)sent : r;
	}
	return (int)prepared;
}

static int uring_reap(struct job *j, unsigned min, unsigned max)
{
	struct io_uring_cqe **cqes = (struct io_uring_cqe **)j->scratch, *cqe;
	unsigned got;
	int r = io_uring_wait_cqe_nr(&j->ring, &cqe, min);

	if (r < 0)
		return r;
	got = io_uring_peek_batch_cqe(&j->ring, cqes, max);
	for (unsigned i = 0; i < got; i++) {
		struct req *q = io_uring_cqe_get_data(cqes[i]);

		q->res = cqes[i]->res;
		j->done[i] = q;
	}
	io_uring_cq_advance(&j->ring, got);
	return (int)got;
}

static void uring_fini(struct job *j)
{
	io_uring_queue_exit(&j->ring);
}

/* posix-aio: glibc's aio_read/aio_write (lio_listio for batches), aio_suspend. */
static int posix_init(struct job *j)
{
	memset(j->scratch, 0, 2 * j->depth * sizeof(*j->scratch));
	return 0;
}

static void prep_aiocb(struct job *j, struct req *r)
{
	memset(&r->acb, 0, sizeof(r->acb));
	r->acb.aio_fildes = j->b->fds[r->file];
	r->acb.aio_buf = r->buf;
	r->acb.aio_nbytes = j->b->o->bs;
	r->acb.aio_offset = (off_t)r->off;
	r->acb.aio_sigevent.sigev_notify = SIGEV_NONE;
	r->acb.aio_lio_opcode = r->op == OP_WRITE ? LIO_WRITE : LIO_READ;
}

static int posix_submit(struct job *j, struct req **rs, unsigned n)
{
	const struct aiocb **inflight = (const struct aiocb **)j->scratch;
	struct aiocb **list = (struct aiocb **)(j->scratch + j->depth);
	int r;

	if (n > 1 && rs[0]->op != OP_FSYNC) {
		unsigned k = 0;

		while (k < n && rs[k]->op != OP_FSYNC) {
			prep_aiocb(j, rs[k]);
			list[k] = &rs[k]->acb;
			k++;
		}
		if (lio_listio(LIO_NOWAIT, list, (int)k, NULL) < 0) {
			/* Some may be queued: those that are not report their error. */
			int e = errno;
			for (unsigned i = 0; i < k; i++)
				if (aio_error(list[i]) != EINPROGRESS && aio_error(list[i]) != 0)
					fatal("posix-aio: lio_listio: %s", strerror(e));
		}
		for (unsigned i = 0; i < k; i++)
			inflight[rs[i]->idx] = &rs[i]->acb;
		return (int)k;
	}
	prep_aiocb(j, rs[0]);
	switch (rs[0]->op) {
	case OP_READ: r = aio_read(&rs[0]->acb); break;
	case OP_WRITE: r = aio_write(&rs[0]->acb); break;
	default: r = aio_fsync(O_SYNC, &rs[0]->acb); break;
	}
	if (r < 0)
		return -errno;
	inflight[rs[0]->idx] = &rs[0]->acb;
	return 1;
}

static int posix_reap(struct job *j, unsigned min, unsigned max)
{
	const struct aiocb **inflight = (const struct aiocb **)j->scratch;
	unsigned got = 0;

	for (;;) {
		for (unsigned i = 0; i < j->depth && got < max; i++) {
			struct req *q;
			ssize_t rv;
			int e;

			if (!inflight[i] || (e = aio_error(inflight[i])) == EINPROGRESS)
				continue;
			q = &j->reqs[i];
			rv = aio_return(&q->acb);
			q->res = e ? -e : rv;
			j->done[got++] = q;
			inflight[i] = NULL;
		}
		if (got >= min)
			return (int)got;
		if (aio_suspend(inflight, (int)j->depth, NULL) < 0 && errno != EINTR && errno != EAGAIN)
			return -errno;
	}
}

static void posix_fini(struct job *j)
{
	(void)j;
}

/* sync: pread/pwrite/fsync on the job's own thread, one request in flight. */
static int sync_init(struct job *j)
{
	j->sync_done = 0;
	return 0;
}

static int sync_submit(struct job *j, struct req **rs, unsigned n)
{
	struct req *q = rs[0];
	int fd = j->b->fds[q->file];
	ssize_t r;

	(void)n;
	do {
		switch (q->op) {
		case OP_READ: r = pread(fd, q->buf, j->b->o->bs, (off_t)q->off); break;
		case OP_WRITE: r = pwrite(fd, q->buf, j->b->o->bs, (off_t)q->off); break;
		default: r = fsync(fd); break;
		}
	} while (r < 0 && errno == EINTR);
	q->res = r < 0 ? -errno : r;
	j->done[0] = q;
	j->sync_done = 1;
	return 1;
}

static int sync_reap(struct job *j, unsigned min, unsigned max)
{
	int n = (int)j->sync_done;

	(void)min;
	(void)max;
	j->sync_done = 0;
	return n;
}

static void sync_fini(struct job *j)
{
	(void)j;
}

static const struct engine engines[ENG_COUNT] = {
	[ENG_KAIO] = { "kaio", "kernel AIO, raw io_setup/io_submit/io_getevents", "io_setup",
		       kaio_init, kaio_submit, kaio_reap, kaio_fini, NULL, 0, false, true },
	[ENG_UAIO] = { "uaio", "uaio, threads executor, pointer checks on", "uaio_setup_params",
		       uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "threads", 0, false, true },
	[ENG_UAIO_NOCHECK] = { "uaio-nocheck", "uaio, threads executor, UAIO_F_NOCHECK",
			       "uaio_setup_params", uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini,
			       "threads", UAIO_F_NOCHECK, false, true },
	[ENG_UAIO_URING] = { "uaio-uring", "uaio, io_uring executor, pointer checks on",
			     "uaio_setup_params", uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini,
			     "uring", 0, false, true },
	[ENG_UAIO_URING_NOCHECK] = { "uaio-uring-nocheck", "uaio, io_uring executor, UAIO_F_NOCHECK",
				     "uaio_setup_params", uaio_init, uaio_submit_reqs, uaio_reap,
				     uaio_fini, "uring", UAIO_F_NOCHECK, false, true },
	[ENG_IO_URING] = { "io_uring", "io_uring via liburing, plain SQEs", "io_uring_queue_init",
			   uring_init, uring_submit, uring_reap, uring_fini, NULL, 0, false, true },
	[ENG_POSIX] = { "posix-aio", "glibc POSIX AIO: aio_read/aio_write/lio_listio, aio_suspend",
			"aio_read", posix_init, posix_submit, posix_reap, posix_fini, NULL, 0, false, true },
	[ENG_SYNC] = { "sync", "pread/pwrite, one thread per request in flight", "pthread_create",
		       sync_init, sync_submit, sync_reap, sync_fini, NULL, 0, true, false },
};

/* Can this engine be set up here at all?  0 or -errno, and the call that failed. */
static int probe_engine(int e)
{
	struct job *j;
	int r;

	if (e == ENG_POSIX || e == ENG_SYNC)
		return 0;
	j = xmalloc(sizeof(*j));
	j->e = &engines[e];
	j->depth = 1;
	r = engines[e].init(j);
	if (r >= 0)
		engines[e].fini(j);
	free(j);
	return r < 0 ? r : 0;
}

/* ---- the job loop ---------------------------------------------------------------- */

static struct req *next_req(struct job *j)
{
	struct bench *b = j->b;
	const struct opts *o = b->o;
	uint64_t total = b->t->nblocks * b->t->n, g;
	struct req *r = j->freel[--j->nfree];

	if (!rw_writes(o->rw))
		r->op = OP_READ;
	else if (!rw_reads(o->rw))
		r->op = OP_WRITE;
	else
		r->op = xorshift(&j->rng) % 100 < o->rwmix ? OP_READ : OP_WRITE;
	if (rw_random(o->rw))
		g = xorshift(&j->rng) % total;
	else
		g = __atomic_fetch_add(&j->g->seq, 1, __ATOMIC_RELAXED) % total;
	/* Block g: files take turns, each read through in order. */
	r->file = (unsigned)(g % b->t->n);
	r->off = g / b->t->n * o->bs;
	if (r->op == OP_WRITE && o->verify) {
		uint64_t blk = r->off / o->bs;

		fill_verify(r->buf, o->bs, r->file, r->off, b->gen);
		__atomic_fetch_or(&b->t->f[r->file].written[blk / 64], 1ull << (blk % 64), __ATOMIC_RELAXED);
	}
	return r;
}

static void submit_queued(struct job *j, unsigned *inflight)
{
	unsigned batch = j->e->batches ? j->b->o->batch_submit : 1;

	while (j->qhead < j->qtail) {
		unsigned n = j->qtail - j->qhead < batch ? j->qtail - j->qhead : batch;
		struct req **first = &j->queue[j->qhead];
		uint64_t t = now_ns();
		int r;

		for (unsigned i = 0; i < n; i++)
			first[i]->t_submit = t;
		r = j->e->submit(j, first, n);
		if (r == -EINTR)
			continue;
		if ((r == -EAGAIN || r == 0) && *inflight > 0)
			break;
		if (r <= 0)
			fatal("%s: submit: %s", j->e->name, strerror(r ? -r : EAGAIN));
		j->qhead += (unsigned)r;
		*inflight += (unsigned)r;
	}
	if (j->qhead == j->qtail) {
		j->qhead = j->qtail = 0;
	} else if (j->qhead) {
		memmove(j->queue, j->queue + j->qhead, (j->qtail - j->qhead) * sizeof(*j->queue));
		j->qtail -= j->qhead;
		j->qhead = 0;
	}
}

static const char *op_name(enum op op)
{
	return op == OP_READ ? "read" : op == OP_WRITE ? "write" : "fsync";
}

static void reap_some(struct job *j, unsigned *inflight)
{
	unsigned batch = j->e->batches ? j->b->o->batch_complete : 1;
	unsigned min = *inflight < batch ? *inflight : batch;
	int r = j->e->reap(j, min, j->depth), ph;
	uint64_t t = now_ns();

	if (r == -EINTR || r == -ETIME)
		return;
	if (r < 0)
		fatal("%s: reap: %s", j->e->name, strerror(-r));
	ph = phase_get(j->b);
	*inflight -= (unsigned)r;
	for (int i = 0; i < r; i++) {
		struct req *q = j->done[i];
		int64_t want = q->op == OP_FSYNC ? 0 : (int64_t)j->b->o->bs;

		if (q->res != want) {
			if (q->res < 0)
				fatal("%s: %s of %s at offset %llu: %s", j->e->name, op_name(q->op),
				      j->b->t->f[q->file].path, (unsigned long long)q->off,
				      strerror((int)-q->res));
			fatal("%s: %s of %s at offset %llu returned %lld, not %lld", j->e->name,
			      op_name(q->op), j->b->t->f[q->file].path, (unsigned long long)q->off,
			      (long long)q->res, (long long)want);
		}
		if (ph == PH_MEASURE) {
			if (q->op == OP_FSYNC) {
				j->fsyncs++;
			} else {
				hist_add(&j->hist, t - q->t_submit);
				if (q->op == OP_READ)
					j->reads++;
				else
					j->writes++;
			}
		}
		j->freel[j->nfree++] = q;
	}
	if (r > 0) {
		store64(&j->last_done, t);
		store64(&j->completed, j->completed + (uint64_t)r);
	}
}

enum { SYNC_NONE, SYNC_DRAIN, SYNC_RUN };

static void job_loop(struct job *j)
{
	const struct opts *o = j->b->o;
	unsigned inflight = 0, sync_state = SYNC_NONE, sync_next = 0;
	bool out_of_budget = false;

	for (;;) {
		bool stopping = out_of_budget || phase_get(j->b) >= PH_STOP;

		if (sync_state == SYNC_DRAIN && !inflight && j->qhead == j->qtail) {
			sync_state = SYNC_RUN;
			sync_next = 0;
		}
		if (sync_state == SYNC_RUN) {
			if (sync_next == j->b->t->n && !inflight) {
				sync_state = SYNC_NONE;
			} else {
				while (sync_next < j->b->t->n && j->nfree) {
					struct req *r = j->freel[--j->nfree];

					r->op = OP_FSYNC;
					r->file = sync_next++;
					r->off = 0;
					j->queue[j->qtail++] = r;
				}
			}
		}
		while (!stopping && sync_state == SYNC_NONE && j->nfree) {
			struct req *r;

			if (o->io_size &&
			    __atomic_fetch_add(&j->g->issued, o->bs, __ATOMIC_RELAXED) >= j->g->budget) {
				out_of_budget = stopping = true;
				break;
			}
			r = next_req(j);
			j->queue[j->qtail++] = r;
			if (r->op == OP_WRITE && o->fsync_every &&
			    (__atomic_add_fetch(&j->g->writes, 1, __ATOMIC_RELAXED) % o->fsync_every) == 0)
				sync_state = SYNC_DRAIN;
		}
		submit_queued(j, &inflight);
		if (!inflight) {
			if (stopping && j->qhead == j->qtail)
				break;
			continue;
		}
		reap_some(j, &inflight);
	}
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	int r = j->e->init(j);

	if (r < 0) {
		j->err = r;
		__atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
		__atomic_add_fetch(&j->b->ready, 1, __ATOMIC_ACQ_REL);
		return NULL;
	}
	__atomic_add_fetch(&j->b->ready, 1, __ATOMIC_ACQ_REL);
	while (phase_get(j->b) == PH_SETUP) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	if (phase_get(j->b) != PH_ABORT)
		job_loop(j);
	j->e->fini(j);
	__atomic_store_n(&j->finished, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* ---- rows ---------------------------------------------------------------------- */

struct result {
	int engine;
	bool ran;
	char why[160];		/* not ran: the reason */
	unsigned jobs, threads;
	double secs;
	uint64_t ops, reads, writes, fsyncs, bytes;
	double iops, mibs;
	double lat_min, lat_mean, p50, p90, p99, p999, lat_max;	/* ns */
	double usr_s, sys_s;
	uint64_t verify_checked, verify_bad;
};

struct progress {
	bool tty;
	unsigned row, nrows;
	double row_secs;	/* expected seconds per row, for the ETA */
	uint64_t t_start;
};

static struct progress prog;

static void progress_clear(void)
{
	if (prog.tty)
		fputs("\r\033[K", stderr);
}

static void progress_show(const char *mode, const char *eng, double el, double span,
			  double iops, double mibs, double eta)
{
	if (!prog.tty)
		return;
	fprintf(stderr, "\r\033[K[%u/%u] %s %-18s %6.1f/%.1f s %10.0f IOPS %9.1f MiB/s  ETA %d:%02d",
		prog.row, prog.nrows, mode, eng, el, span, iops, mibs, (int)eta / 60, (int)eta % 60);
	fflush(stderr);
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t jobs_ops(struct bench *b, unsigned n)
{
	uint64_t s = 0;

	for (unsigned i = 0; i < n; i++)
		s += load64(&b->jobs[i]->completed);
	return s;
}

/* Written blocks of this row, read back through the page cache and compared. */
static void verify_row(struct bench *b, struct result *res)
{
	const struct opts *o = b->o;
	void *buf = xmemalign(o->bs);

	for (unsigned i = 0; i < b->t->n; i++) {
		struct file *f = &b->t->f[i];

		for (uint64_t w = 0; w < (b->t->nblocks + 63) / 64; w++) {
			uint64_t bits = f->written[w];

			f->written[w] = 0;
			while (bits) {
				uint64_t blk = w * 64 + (uint64_t)__builtin_ctzll(bits);
				ssize_t n = pread(f->fd, buf, o->bs, (off_t)(blk * o->bs));

				bits &= bits - 1;
				res->verify_checked++;
				if (n != (ssize_t)o->bs || !check_verify(buf, o->bs, i, blk * o->bs, b->gen)) {
					if (!res->verify_bad)
						fprintf(stderr, "\r" PROG ": %s: verify mismatch in %s at offset %llu\n",
							engine_names[res->engine], f->path,
							(unsigned long long)(blk * o->bs));
					res->verify_bad++;
				}
			}
		}
	}
	free(buf);
}

static void run_row(struct bench *b, int eng, int mode, struct result *res)
{
	const struct opts *o = b->o;
	const struct engine *e = &engines[eng];
	unsigned njobs = e->threads ? o->numjobs * b->nsync : o->numjobs;
	unsigned per_group = e->threads ? b->nsync : 1;
	uint64_t t_begin, t0 = 0, t1 = 0, next, last_ops = 0, t_last, total_blocks;
	struct cpu c0 = { 0, 0 }, c1;
	bool io_mode = o->io_size != 0;
	int err = 0;

	memset(res, 0, sizeof(*res));
	res->engine = eng;
	for (unsigned i = 0; i < b->t->n; i++) {
		b->fds[i] = mode == MODE_DIRECT ? b->t->f[i].dfd : b->t->f[i].fd;
		/* Cold: drop the file's cached pages (clean: written and synced). */
		if (mode == MODE_COLD && !b->t->f[i].blockdev &&
		    (fdatasync(b->fds[i]) < 0 || posix_fadvise(b->fds[i], 0, 0, POSIX_FADV_DONTNEED)))
			fatal("%s: dropping the page cache: %s", b->t->f[i].path, strerror(errno));
	}
	b->gen++;
	total_blocks = b->t->nblocks * b->t->n;
	for (unsigned g = 0; g < o->numjobs; g++) {
		uint64_t share = o->io_size / o->numjobs;

		b->groups[g] = (struct group){ .seq = total_blocks * g / o->numjobs,
					       .budget = share < o->bs ? o->bs : share - share % o->bs };
	}
	phase_set(b, PH_SETUP);
	b->ready = 0;
	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];
		struct hist *h = &j->hist;

		memset(j, 0, offsetof(struct job, hist));
		hist_reset(h);
		j->b = b;
		j->e = e;
		j->id = i;
		j->depth = e->threads ? 1 : o->depth;
		j->g = &b->groups[i / per_group];
		j->reqs = e->threads ? &b->pool[i] : &b->pool[(size_t)i * o->depth];
		j->rng = SEED ^ mix64(i + 1 + (e->threads ? 1000 : 0));
		j->last_done = now_ns();
	}
	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];

		for (unsigned k = 0; k < j->depth; k++) {
			j->reqs[k].idx = k;
			j->freel[k] = &j->reqs[k];
		}
		j->nfree = j->depth;
		if ((err = pthread_create(&j->th, NULL, job_main, j)) != 0) {
			for (unsigned k = 0; k < i; k++) {
				phase_set(b, PH_ABORT);
				pthread_join(b->jobs[k]->th, NULL);
			}
			snprintf(res->why, sizeof(res->why), "pthread_create: %s", strerror(err));
			return;
		}
	}
	while (__atomic_load_n(&b->ready, __ATOMIC_ACQUIRE) < (int)njobs) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	for (unsigned i = 0; i < njobs && !err; i++)
		err = b->jobs[i]->err;
	if (err) {
		phase_set(b, PH_ABORT);
		for (unsigned i = 0; i < njobs; i++)
			pthread_join(b->jobs[i]->th, NULL);
		snprintf(res->why, sizeof(res->why), "%s: %s", e->setup_call, strerror(-err));
		return;
	}
	t_begin = now_ns();
	if (io_mode || o->ramp <= 0) {
		c0 = cpu_now();
		t0 = now_ns();
		phase_set(b, PH_MEASURE);
	} else {
		phase_set(b, PH_RAMP);
	}
	t_last = t_begin;
	for (next = t_begin + TICK_NS;; next += TICK_NS) {
		uint64_t deadline = next, t, ops, stall = 0;
		int ph = phase_get(b);
		unsigned fin = 0;

		if (ph == PH_RAMP && t_begin + (uint64_t)(o->ramp * 1e9) < deadline)
			deadline = t_begin + (uint64_t)(o->ramp * 1e9);
		if (ph == PH_MEASURE && !io_mode && t0 + (uint64_t)(o->runtime * 1e9) < deadline)
			deadline = t0 + (uint64_t)(o->runtime * 1e9);
		sleep_until(deadline);
		t = now_ns();
		if (ph == PH_RAMP && t >= t_begin + (uint64_t)(o->ramp * 1e9)) {
			c0 = cpu_now();
			t0 = t;
			phase_set(b, PH_MEASURE);
		} else if (ph == PH_MEASURE && !io_mode && t >= t0 + (uint64_t)(o->runtime * 1e9)) {
			c1 = cpu_now();
			t1 = t;
			phase_set(b, PH_STOP);
			break;
		}
		for (unsigned i = 0; i < njobs; i++) {
			fin += (unsigned)__atomic_load_n(&b->jobs[i]->finished, __ATOMIC_ACQUIRE);
			if (load64(&b->jobs[i]->last_done) > stall)
				stall = load64(&b->jobs[i]->last_done);
		}
		if (io_mode && fin == njobs) {
			c1 = cpu_now();
			t1 = now_ns();
			phase_set(b, PH_STOP);
			break;
		}
		if (t > stall + (uint64_t)STALL_S * 1000000000u)
			fatal("%s: no request completed for %d s; giving up", e->name, STALL_S);
		if (prog.tty && t >= t_last + TICK_NS / 2) {
			double el = (double)(t - t_begin) / 1e9, span = o->ramp + o->runtime, eta;
			double iops;

			ops = jobs_ops(b, njobs);
			iops = (double)(ops - last_ops) * 1e9 / (double)(t - t_last);
			if (io_mode) {
				uint64_t issued = 0;
				for (unsigned g = 0; g < o->numjobs; g++)
					issued += load64(&b->groups[g].issued);
				span = 0;
				eta = iops > 0 && issued < o->io_size
					? (double)(o->io_size - issued) / (double)o->bs / iops : 0;
			} else {
				eta = span - el > 0 ? span - el : 0;
			}
			eta += (double)(prog.nrows - prog.row) * prog.row_secs;
			progress_show(mode_names[mode], e->name, el, span, iops, iops * (double)o->bs / MiB, eta);
			last_ops = ops;
			t_last = t;
		}
	}
	for (unsigned i = 0; i < njobs; i++)
		pthread_join(b->jobs[i]->th, NULL);
	progress_clear();

	hist_reset(b->merged);
	for (unsigned i = 0; i < njobs; i++) {
		struct job *j = b->jobs[i];

		hist_merge(b->merged, &j->hist);
		res->reads += j->reads;
		res->writes += j->writes;
		res->fsyncs += j->fsyncs;
	}
	res->ran = true;
	res->jobs = o->numjobs;
	res->threads = njobs;
	res->secs = (double)(t1 - t0) / 1e9;
	res->ops = res->reads + res->writes;
	res->bytes = res->ops * o->bs;
	res->iops = res->secs > 0 ? (double)res->ops / res->secs : 0;
	res->mibs = res->iops * (double)o->bs / MiB;
	res->lat_min = b->merged->count ? (double)b->merged->min : 0;
	res->lat_mean = b->merged->count ? (double)b->merged->sum / (double)b->merged->count : 0;
	res->p50 = hist_quantile(b->merged, 0.50);
	res->p90 = hist_quantile(b->merged, 0.90);
	res->p99 = hist_quantile(b->merged, 0.99);
	res->p999 = hist_quantile(b->merged, 0.999);
	res->lat_max = (double)b->merged->max;
	res->usr_s = (double)(c1.usr_us - c0.usr_us) / 1e6;
	res->sys_s = (double)(c1.sys_us - c0.sys_us) / 1e6;
	if (o->verify)
		verify_row(b, res);
	/* Written data goes to disk between rows, so no row pays for another's writeback. */
	if (rw_writes(o->rw))
		for (unsigned i = 0; i < b->t->n; i++)
			if (fdatasync(b->t->f[i].fd) < 0)
				fatal("%s: fdatasync: %s", b->t->f[i].path, strerror(errno));
}

static void bench_init(struct bench *b, const struct opts *o, struct target *t, uint64_t engines_mask)
{
	unsigned per_total = SYNC_MAX_TOTAL / o->numjobs;

	memset(b, 0, sizeof(*b));
	b->o = o;
	b->t = t;
	b->nsync = o->depth < SYNC_MAX_THREADS ? o->depth : SYNC_MAX_THREADS;
	if (b->nsync > per_total)
		b->nsync = per_total ? per_total : 1;
	b->maxjobs = o->numjobs;
	if ((engines_mask & (1ull << ENG_SYNC)) && o->numjobs * b->nsync > b->maxjobs)
		b->maxjobs = o->numjobs * b->nsync;
	b->pool = xmalloc((size_t)o->numjobs * o->depth * sizeof(*b->pool));
	for (size_t i = 0; i < (size_t)o->numjobs * o->depth; i++) {
		b->pool[i].buf = xmemalign(o->bs);
		/* Touch every page now, and give writes non-zero data. */
		fill_random(b->pool[i].buf, o->bs, SEED + i);
	}
	b->jobs = xmalloc(b->maxjobs * sizeof(*b->jobs));
	for (unsigned i = 0; i < b->maxjobs; i++) {
		size_t d = i < o->numjobs ? o->depth : 1;
		struct job *j = xmalloc(sizeof(*j));

		j->freel = xmalloc(d * sizeof(*j->freel));
		j->queue = xmalloc(d * sizeof(*j->queue));
		j->done = xmalloc(d * sizeof(*j->done));
		j->scratch = xmalloc(2 * d * sizeof(*j->scratch));
		j->events = xmalloc(d * sizeof(*j->events));
		b->jobs[i] = j;
	}
	b->merged = xmalloc(sizeof(*b->merged));
}

static void bench_free(struct bench *b)
{
	for (size_t i = 0; i < (size_t)b->o->numjobs * b->o->depth; i++)
		free(b->pool[i].buf);
	free(b->pool);
	for (unsigned i = 0; i < b->maxjobs; i++) {
		struct job *j = b->jobs[i];

		free(j->freel);
		free(j->queue);
		free(j->done);
		free(j->scratch);
		free(j->events);
		free(j);
	}
	free(b->jobs);
	free(b->merged);
}

/* ---- output ------------------------------------------------------------------- */

struct leftout {
	int engine;
	char why[160];
};

struct run {
	struct opts *o;
	struct target *t;
	uint64_t mask;			/* engines that run */
	struct leftout left[ENG_COUNT];
	unsigned nleft;
	struct result res[MODE_COUNT][ENG_COUNT];
	bool mode_ran[MODE_COUNT];
	char mode_why[MODE_COUNT][200];
	double preread_s;
	unsigned nsync;
};

static unsigned online_cpus(void)
{
	cpu_set_t set;

	/* What nproc prints: the CPUs this process may run on. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return (unsigned)CPU_COUNT(&set);
	return (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
}

static void print_host(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("# " PROG ": %s, %u CPUs, %s %s %s\n", u.nodename, online_cpus(), u.sysname,
	       u.release, u.machine);
}

static const char *rw_label(const struct opts *o, char *buf, size_t n)
{
	if (rw_reads(o->rw) && rw_writes(o->rw))
		snprintf(buf, n, "%s %u%% reads", rw_names[o->rw], o->rwmix);
	else
		snprintf(buf, n, "%s", rw_names[o->rw]);
	return buf;
}

static void print_header(const struct run *R)
{
	const struct opts *o = R->o;
	const struct target *t = R->t;
	char size[32], bs[32], rw[48], ios[32];

	print_host();
	for (unsigned i = 0; i < t->n; i++) {
		const struct file *f = &t->f[i];

		printf("# file: %s (%s, %s), %s used", f->path,
		       f->temporary ? "temporary, removed at exit" : f->blockdev ? "block device" : "kept",
		       f->blockdev ? "raw" : fs_name(f->fstype), fmt_size(size, sizeof(size), t->span));
		if (f->fill_s > 0)
			printf(", written in %.2f s", f->fill_s);
		printf("\n");
	}
	printf("# job: %s, bs %s, iodepth %u, batch submit %u / complete %u, %u job%s",
	       rw_label(o, rw, sizeof(rw)), fmt_size(bs, sizeof(bs), o->bs), o->depth,
	       o->batch_submit, o->batch_complete, o->numjobs, o->numjobs > 1 ? "s" : "");
	if (o->fsync_every)
		printf(", fsync every %u writes", o->fsync_every);
	if (o->verify)
		printf(", verify");
	if (o->io_size)
		printf(", %s per row\n", fmt_size(ios, sizeof(ios), o->io_size));
	else
		printf(", %.1f s per row after %.1f s ramp\n", o->runtime, o->ramp);
	printf("# engines:");
	for (int e = 0; e < ENG_COUNT; e++)
		if (R->mask & (1ull << e))
			printf(" %s", engines[e].name);
	if (R->mask & (1ull << ENG_SYNC))
		printf(" (sync: %u thread%s per job; batches do not apply to it)", R->nsync,
		       R->nsync > 1 ? "s" : "");
	printf("\n");
	for (unsigned i = 0; i < R->nleft; i++)
		printf("# %s left out: %s\n", engine_names[R->left[i].engine], R->left[i].why);
	if (getenv("UAIO_NOCHECK"))
		printf("# note: UAIO_NOCHECK is set in the environment; it may turn the uaio rows' checks off\n");
	printf("# latency: submit to reap, from a log-linear histogram; usr%%/sys%%: process CPU time "
	       "over the row's wall time (all threads); cpu/io = (usr+sys) per I/O; x = ratio to %s\n",
	       engine_names[o->baseline]);
}

static void fmt_us(char *buf, size_t n, double ns)
{
	double us = ns / 1000;

	snprintf(buf, n, us < 1000 ? "%.1f" : "%.0f", us);
}

static double cpu_per_io_us(const struct result *r)
{
	return r->ops ? (r->usr_s + r->sys_s) * 1e6 / (double)r->ops : 0;
}

static void print_table(const struct run *R, int mode)
{
	const struct opts *o = R->o;
	const struct result *base = &R->res[mode][o->baseline];
	char bs[32], rw[48];

	printf("\n%s, bs %s, iodepth %u: %s\n", rw_label(o, rw, sizeof(rw)),
	       fmt_size(bs, sizeof(bs), o->bs), o->depth, mode_titles[mode]);
	if (!R->mode_ran[mode]) {
		printf("  not run: %s\n", R->mode_why[mode]);
		return;
	}
	printf("%-18s %9s %8s %8s %8s %9s %9s %5s %5s %10s %6s %7s%s\n", "engine", "IOPS", "MiB/s",
	       "p50(us)", "p99(us)", "p99.9(us)", "max(us)", "usr%", "sys%", "cpu/io(us)", "xIOPS",
	       "xCPU/io", o->verify ? " verify" : "");
	for (int e = 0; e < ENG_COUNT; e++) {
		const struct result *r = &R->res[mode][e];
		char p50[16], p99[16], p999[16], mx[16];

		if (!(R->mask & (1ull << e)))
			continue;
		if (!r->ran) {
			printf("%-18s unavailable: %s\n", engine_names[e], r->why);
			continue;
		}
		fmt_us(p50, sizeof(p50), r->p50);
		fmt_us(p99, sizeof(p99), r->p99);
		fmt_us(p999, sizeof(p999), r->p999);
		fmt_us(mx, sizeof(mx), r->lat_max);
		printf("%-18s %9.0f %8.1f %8s %8s %9s %9s %5.0f %5.0f %10.2f ", engine_names[e], r->iops,
		       r->mibs, p50, p99, p999, mx, r->secs > 0 ? r->usr_s * 100 / r->secs : 0,
		       r->secs > 0 ? r->sys_s * 100 / r->secs : 0, cpu_per_io_us(r));
		if (base->ran && base->iops > 0)
			printf("%6.2f ", r->iops / base->iops);
		else
			printf("%6s ", "-");
		if (base->ran && cpu_per_io_us(base) > 0)
			printf("%7.2f", cpu_per_io_us(r) / cpu_per_io_us(base));
		else
			printf("%7s", "-");
		if (o->verify)
			printf(" %llu/%llu bad", (unsigned long long)r->verify_bad,
			       (unsigned long long)r->verify_checked);
		printf("\n");
	}
}

/* ---- JSON ------------------------------------------------------------------------ */

static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void jnum(FILE *f, double v)
{
	if (!isfinite(v))
		v = 0;
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(f, "%.0f", v);
	else
		fprintf(f, "%.6g", v);
}

static FILE *open_out(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		fatal("%s: %s", path, strerror(errno));
	return f;
}

static void close_out(FILE *f, const char *path)
{
	if (ferror(f) | fclose(f))
		fatal("%s: write error", path);
}

static void json_host(FILE *f)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	fprintf(f, "\"tool\":\"" PROG "\",\"version\":\"%d.%d.%d\",\"host\":{\"name\":",
		UAIO_VERSION_MAJOR, UAIO_VERSION_MINOR, UAIO_VERSION_PATCH);
	jstr(f, u.nodename);
	fprintf(f, ",\"cpus\":%u,\"kernel\":", online_cpus());
	jstr(f, u.release);
	fprintf(f, ",\"machine\":");
	jstr(f, u.machine);
	fprintf(f, "}");
}

static void write_json(const struct run *R)
{
	const struct opts *o = R->o;
	FILE *f = open_out(o->json);
	bool first_w = true;

	fprintf(f, "{");
	json_host(f);
	fprintf(f, ",\n\"options\":{\"rw\":\"%s\",\"rwmix_read\":%u,\"bs\":%llu,\"iodepth\":%u,"
		"\"batch_submit\":%u,\"batch_complete\":%u,\"numjobs\":%u,\"size\":%llu,"
		"\"runtime_s\":", rw_names[o->rw], o->rwmix, (unsigned long long)o->bs, o->depth,
		o->batch_submit, o->batch_complete, o->numjobs, (unsigned long long)R->t->span);
	jnum(f, o->io_size ? 0 : o->runtime);
	fprintf(f, ",\"ramp_s\":");
	jnum(f, o->ramp);
	fprintf(f, ",\"io_size\":%llu,\"fsync\":%u,\"verify\":%s,\"sync_threads_per_job\":%u,"
		"\"baseline\":\"%s\",\"files\":[", (unsigned long long)o->io_size, o->fsync_every,
		o->verify ? "true" : "false", R->nsync, engine_names[o->baseline]);
	for (unsigned i = 0; i < R->t->n; i++) {
		const struct file *fl = &R->t->f[i];

		fprintf(f, "%s{\"path\":", i ? "," : "");
		jstr(f, fl->path);
		fprintf(f, ",\"temporary\":%s,\"block_device\":%s,\"fs\":\"%s\"}",
			fl->temporary ? "true" : "false", fl->blockdev ? "true" : "false",
			fl->blockdev ? "raw" : fs_name(fl->fstype));
	}
	fprintf(f, "]},\n\"left_out\":[");
	for (unsigned i = 0; i < R->nleft; i++) {
		fprintf(f, "%s{\"engine\":\"%s\",\"reason\":", i ? "," : "", engine_names[R->left[i].engine]);
		jstr(f, R->left[i].why);
		fprintf(f, "}");
	}
	fprintf(f, "],\n\"workloads\":[");
	for (int m = 0; m < MODE_COUNT; m++) {
		const struct result *base = &R->res[m][o->baseline];
		bool first = true;

		if (!(o->modes & (1u << m)))
			continue;
		fprintf(f, "%s\n{\"name\":\"%s-%s\",\"rw\":\"%s\",\"mode\":\"%s\",\"ran\":%s,",
			first_w ? "" : ",", rw_names[o->rw], mode_names[m], rw_names[o->rw], mode_names[m],
			R->mode_ran[m] ? "true" : "false");
		first_w = false;
		if (!R->mode_ran[m]) {
			fprintf(f, "\"reason\":");
			jstr(f, R->mode_why[m]);
			fprintf(f, ",");
		}
		fprintf(f, "\"engines\":[");
		for (int e = 0; e < ENG_COUNT && R->mode_ran[m]; e++) {
			const struct result *r = &R->res[m][e];

			if (!(R->mask & (1ull << e)))
				continue;
			fprintf(f, "%s\n {\"engine\":\"%s\",\"description\":", first ? "" : ",", engine_names[e]);
			jstr(f, engines[e].desc);
			first = false;
			if (!r->ran) {
				fprintf(f, ",\"available\":false,\"reason\":");
				jstr(f, r->why);
				fprintf(f, "}");
				continue;
			}
			fprintf(f, ",\"available\":true,\"threads\":%u,\"seconds\":", r->threads);
			jnum(f, r->secs);
			fprintf(f, ",\"ops\":%llu,\"reads\":%llu,\"writes\":%llu,\"fsyncs\":%llu,\"bytes\":%llu,"
				"\"iops\":", (unsigned long long)r->ops, (unsigned long long)r->reads,
				(unsigned long long)r->writes, (unsigned long long)r->fsyncs,
				(unsigned long long)r->bytes);
			jnum(f, r->iops);
			fprintf(f, ",\"mib_s\":");
			jnum(f, r->mibs);
			fprintf(f, ",\"lat_ns\":{\"min\":");
			jnum(f, r->lat_min);
			fprintf(f, ",\"mean\":");
			jnum(f, round(r->lat_mean));
			fprintf(f, ",\"p50\":");
			jnum(f, round(r->p50));
			fprintf(f, ",\"p90\":");
			jnum(f, round(r->p90));
			fprintf(f, ",\"p99\":");
			jnum(f, round(r->p99));
			fprintf(f, ",\"p99.9\":");
			jnum(f, round(r->p999));
			fprintf(f, ",\"max\":");
			jnum(f, r->lat_max);
			fprintf(f, "},\"cpu\":{\"usr_s\":");
			jnum(f, r->usr_s);
			fprintf(f, ",\"sys_s\":");
			jnum(f, r->sys_s);
			fprintf(f, ",\"usr_pct\":");
			jnum(f, r->secs > 0 ? r->usr_s * 100 / r->secs : 0);
			fprintf(f, ",\"sys_pct\":");
			jnum(f, r->secs > 0 ? r->sys_s * 100 / r->secs : 0);
			fprintf(f, ",\"usr_ns_per_io\":");
			jnum(f, r->ops ? round(r->usr_s * 1e9 / (double)r->ops) : 0);
			fprintf(f, ",\"sys_ns_per_io\":");
			jnum(f, r->ops ? round(r->sys_s * 1e9 / (double)r->ops) : 0);
			fprintf(f, ",\"ns_per_io\":");
			jnum(f, round(cpu_per_io_us(r) * 1000));
			fprintf(f, "},\"ratio_to_baseline\":{\"iops\":");
			jnum(f, base->ran && base->iops > 0 ? r->iops / base->iops : 0);
			fprintf(f, ",\"cpu_per_io\":");
			jnum(f, base->ran && cpu_per_io_us(base) > 0 ? cpu_per_io_us(r) / cpu_per_io_us(base) : 0);
			fprintf(f, "}");
			if (o->verify)
				fprintf(f, ",\"verify\":{\"checked\":%llu,\"mismatches\":%llu}",
					(unsigned long long)r->verify_checked, (unsigned long long)r->verify_bad);
			fprintf(f, "}");
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}\n");
	close_out(f, o->json);
}

/* ---- SVG ---------------------------------------------------------------------------- */

#define SVG_W		900
#define SVG_LABEL	150	/* engine names */
#define SVG_X0		160	/* bars start */
#define SVG_BARW	600	/* widest bar */

static const char *const eng_colors[ENG_COUNT] = {
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#9c755f",
};
static const char *const pct_colors[3] = { "#9ecae1", "#3182bd", "#08519c" };
static const char *const pct_names[3] = { "p50", "p99", "p99.9" };

static void svg_text(FILE *f, double x, double y, const char *anchor, const char *style, const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s%s%s>", x, y, anchor,
		style ? " style=\"" : "", style ? style : "", style ? "\"" : "");
	for (; *s; s++) {
		if (*s == '<') fputs("&lt;", f);
		else if (*s == '>') fputs("&gt;", f);
		else if (*s == '&') fputs("&amp;", f);
		else fputc(*s, f);
	}
	fputs("</text>\n", f);
}

/* One panel of horizontal bars: n rows, each with k values, linear or log scale. */
struct bars {
	const char *title;
	const char *cls;		/* rect class */
	unsigned n, k;
	const char *labels[ENG_COUNT * 2];
	int color[ENG_COUNT * 2];	/* index into eng_colors, or -1: pct_colors by value */
	double v[ENG_COUNT * 2][3];
	const char *unit;
	bool logscale;
};

static double svg_bars(FILE *f, double y, const struct bars *p)
{
	double vmax = 0, vmin = 1e300, lo, hi, lstep = 1, rowh = p->k > 1 ? 8.0 * p->k + 6 : 22;
	char buf[64];

	for (unsigned i = 0; i < p->n; i++)
		for (unsigned k = 0; k < p->k; k++) {
			if (p->v[i][k] > vmax)
				vmax = p->v[i][k];
			if (p->v[i][k] > 0 && p->v[i][k] < vmin)
				vmin = p->v[i][k];
		}
	if (vmax <= 0)
		vmax = 1;
	if (vmin > vmax)
		vmin = vmax;
	lo = p->logscale ? pow(10, floor(log10(vmin))) : 0;
	hi = p->logscale ? pow(10, ceil(log10(vmax * 1.0001))) : vmax;
	if (!p->logscale) {
		/* A round step (1, 2 or 5 times a power of ten), about five of them. */
		double step = pow(10, floor(log10(vmax / 5)));

		if (vmax / step > 25)
			step *= 5;
		else if (vmax / step > 10)
			step *= 2;
		lstep = step;
		hi = step * ceil(vmax / step);
	}
	if (p->logscale && hi <= lo)
		hi = lo * 10;
	svg_text(f, SVG_X0, y + 14, "start", "font-weight:bold", p->title);
	y += 24;
	/* Grid: decades on a log scale, fifths on a linear one. */
	for (int g = 0;; g++) {
		double v = p->logscale ? lo * pow(10, g) : lstep * g, x;

		if (v > hi * 1.0001 || g > 30)
			break;
		x = SVG_X0 + (p->logscale ? log10(v / lo) / log10(hi / lo) : v / hi) * SVG_BARW;
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, y,
			x, y + rowh * p->n);
		if (v >= 1e6)
			snprintf(buf, sizeof(buf), "%gM", v / 1e6);
		else if (v >= 1e4)
			snprintf(buf, sizeof(buf), "%gk", v / 1e3);
		else
			snprintf(buf, sizeof(buf), "%g", v);
		svg_text(f, x, y + rowh * p->n + 12, "middle", "font-size:10px;fill:#666", buf);
	}
	for (unsigned i = 0; i < p->n; i++) {
		double ry = y + rowh * i;

		svg_text(f, SVG_LABEL, ry + rowh / 2 + 4, "end", NULL, p->labels[i]);
		for (unsigned k = 0; k < p->k; k++) {
			double v = p->v[i][k], frac, bh = p->k > 1 ? 7 : 16, by = ry + 3 + k * (bh + 1);
			const char *col = p->color[i] >= 0 ? eng_colors[p->color[i] % ENG_COUNT] : pct_colors[k];

			if (p->logscale)
				frac = v > lo ? log10(v / lo) / log10(hi / lo) : 0.002;
			else
				frac = v / hi;
			if (frac < 0.002)
				frac = 0.002;
			fprintf(f, "<rect class=\"%s%s%s\" data-engine=\"%s\" x=\"%d\" y=\"%.1f\" width=\"%.1f\" "
				"height=\"%.1f\" fill=\"%s\"><title>%s %s%s%.1f %s</title></rect>\n",
				p->cls, p->k > 1 ? " " : "", p->k > 1 ? pct_names[k] : "", p->labels[i], SVG_X0,
				by, frac * SVG_BARW, bh, col, p->labels[i], p->k > 1 ? pct_names[k] : "",
				p->k > 1 ? " " : "", v, p->unit);
		}
		if (p->k > 1) {
			snprintf(buf, sizeof(buf), "%.1f / %.1f / %.1f", p->v[i][0], p->v[i][1], p->v[i][2]);
			svg_text(f, SVG_X0 + SVG_BARW + 6, ry + rowh / 2 + 4, "start", "font-size:10px", buf);
		} else {
			snprintf(buf, sizeof(buf), p->v[i][0] >= 100 ? "%.0f" : "%.1f", p->v[i][0]);
			svg_text(f, SVG_X0 + (p->logscale ? SVG_BARW : SVG_BARW * p->v[i][0] / hi) + 4,
				 ry + rowh / 2 + 4, "start", "font-size:10px", buf);
		}
	}
	y += rowh * p->n + 18;
	if (p->k > 1) {
		for (unsigned k = 0; k < p->k; k++) {
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"10\" fill=\"%s\"/>\n",
				SVG_X0 + 90.0 * k, y, pct_colors[k]);
			svg_text(f, SVG_X0 + 90.0 * k + 16, y + 9, "start", "font-size:11px", pct_names[k]);
		}
		y += 18;
	}
	return y + 10;
}

static void svg_begin(FILE *f, double h, const char *title)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
		"viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n", SVG_W, h, SVG_W, h);
	fprintf(f, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%d\" height=\"%.0f\" fill=\"#fff\"/>\n",
		SVG_W, h);
	svg_text(f, 10, 22, "start", "font-size:16px;font-weight:bold", title);
}

/* Two passes: the first (to /dev/null) measures the height. */
static double svg_body(FILE *f, const struct run *R)
{
	const struct opts *o = R->o;
	double y = 34;
	char t[160], bs[32], rw[48];

	for (int m = 0; m < MODE_COUNT; m++) {
		struct bars iops = { .cls = "iops", .k = 1, .unit = "IOPS" };
		struct bars lat = { .cls = "lat", .k = 3, .unit = "us", .logscale = true };

		if (!(o->modes & (1u << m)) || !R->mode_ran[m])
			continue;
		for (int e = 0; e < ENG_COUNT; e++) {
			const struct result *r = &R->res[m][e];

			if (!(R->mask & (1ull << e)) || !r->ran)
				continue;
			iops.labels[iops.n] = lat.labels[lat.n] = engine_names[e];
			iops.color[iops.n] = e;
			lat.color[lat.n] = -1;
			iops.v[iops.n++][0] = r->iops;
			lat.v[lat.n][0] = r->p50 / 1000;
			lat.v[lat.n][1] = r->p99 / 1000;
			lat.v[lat.n++][2] = r->p999 / 1000;
		}
		snprintf(t, sizeof(t), "%s, bs %s, iodepth %u, %s", rw_label(o, rw, sizeof(rw)),
			 fmt_size(bs, sizeof(bs), o->bs), o->depth, mode_titles[m]);
		svg_text(f, 10, y + 16, "start", "font-size:14px;font-weight:bold", t);
		y += 22;
		iops.title = "IOPS (higher is better)";
		y = svg_bars(f, y, &iops);
		lat.title = "latency in microseconds, log scale (lower is better)";
		y = svg_bars(f, y, &lat);
	}
	return y;
}

static void write_svg(const struct run *R)
{
	FILE *null = fopen("/dev/null", "w"), *f;
	double h;
	char title[200];

	if (!null)
		fatal("/dev/null: %s", strerror(errno));
	h = svg_body(null, R);
	fclose(null);
	f = open_out(R->o->svg);
	snprintf(title, sizeof(title), PROG ": %s engines compared", rw_names[R->o->rw]);
	svg_begin(f, h, title);
	svg_body(f, R);
	fprintf(f, "</svg>\n");
	close_out(f, R->o->svg);
}

/* ---- --cost: the engines' own cost per request ------------------------------------ */

enum { COST_URING_NOP, COST_URING_READ0, COST_KAIO, COST_UAIO, COST_UAIO_NOCHECK, COST_UAIO_URING,
       COST_UAIO_URING_NOCHECK, COST_UAIO_SYSCALLS, COST_COUNT };

static const struct {
	const char *name, *desc;
	int engine;		/* ENG_* that selects it */
} cost_rows[COST_COUNT] = {
	[COST_URING_NOP] = { "io_uring-nop", "IORING_OP_NOP batch, io_uring_submit_and_wait", ENG_IO_URING },
	[COST_URING_READ0] = { "io_uring-read0", "0-byte IORING_OP_READ, io_uring_submit_and_wait", ENG_IO_URING },
	[COST_KAIO] = { "kaio-read0", "0-byte reads, raw io_submit + io_getevents", ENG_KAIO },
	[COST_UAIO] = { "uaio", "0-byte reads, threads executor, checks on", ENG_UAIO },
	[COST_UAIO_NOCHECK] = { "uaio-nocheck", "0-byte reads, threads executor, UAIO_F_NOCHECK", ENG_UAIO_NOCHECK },
	[COST_UAIO_URING] = { "uaio-uring", "0-byte reads, io_uring executor, checks on", ENG_UAIO_URING },
	[COST_UAIO_URING_NOCHECK] = { "uaio-uring-nocheck", "0-byte reads, io_uring executor, UAIO_F_NOCHECK",
				      ENG_UAIO_URING_NOCHECK },
	/* Last: interception, once on, stays on for the whole process. */
	[COST_UAIO_SYSCALLS] = { "uaio-syscalls", "0-byte reads, raw io_submit + io_getevents intercepted "
				 "(uaio_intercept_syscalls), default executor", ENG_UAIO },
};

static const unsigned cost_batches[2] = { 1, 64 };

struct cost_res {
	bool ran;
	char why[160];
	uint64_t reqs[2];
	double ns[2], cpu_ns[2];
};

/* Submits and reaps batch requests once; returns -errno on failure. */
static int cost_round(int row, aio_context_t ctx, struct io_uring *ring, struct iocb **cbs,
		      struct io_event *ev, unsigned batch, int fd, void *buf)
{
	unsigned got = 0;
	int r;

	if (row == COST_URING_NOP || row == COST_URING_READ0) {
		struct io_uring_cqe *cqes[64];

		for (unsigned i = 0; i < batch; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			if (!sqe)
				return -EBUSY;
			if (row == COST_URING_NOP)
				io_uring_prep_nop(sqe);
			else
				io_uring_prep_read(sqe, fd, buf, 0, 0);
		}
		if ((r = io_uring_submit_and_wait(ring, batch)) < 0)
			return r;
		while (got < batch) {
			unsigned n = io_uring_peek_batch_cqe(ring, cqes, batch - got);

			if (!n) {
				struct io_uring_cqe *c;
				if ((r = io_uring_wait_cqe(ring, &c)) < 0)
					return r;
				continue;
			}
			for (unsigned i = 0; i < n; i++)
				if (cqes[i]->res != 0)
					return cqes[i]->res < 0 ? cqes[i]->res : -EIO;
			io_uring_cq_advance(ring, n);
			got += n;
		}
		return 0;
	}
	for (unsigned sent = 0; sent < batch; sent += (unsigned)r) {
		r = row == COST_KAIO || row == COST_UAIO_SYSCALLS
			? sys_ret(syscall(SYS_io_submit, ctx, (long)(batch - sent), cbs + sent))
				     : uaio_submit(ctx, (long)(batch - sent), cbs + sent);
		if (r <= 0)
			return r ? r : -EAGAIN;
	}
	while (got < batch) {
		r = row == COST_KAIO || row == COST_UAIO_SYSCALLS
			? sys_ret(syscall(SYS_io_getevents, ctx, (long)(batch - got), (long)batch, ev, NULL))
			: uaio_getevents(ctx, (long)(batch - got), (long)batch, ev, NULL);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		for (int i = 0; i < r; i++)
			if (ev[i].res != 0)
				return ev[i].res < 0 ? (int)ev[i].res : -EIO;
		got += (unsigned)r;
	}
	return 0;
}

static void cost_cell(int row, unsigned bi, double runtime, int fd, void *buf, struct cost_res *cr)
{
	unsigned batch = cost_batches[bi];
	struct iocb cb[64], *cbs[64];
	struct io_event ev[64];
	struct io_uring ring;
	aio_context_t ctx = 0;
	uint64_t t0, t, end, n = 0;
	struct cpu c0, c1;
	int r = 0;

	if (row == COST_URING_NOP || row == COST_URING_READ0) {
		r = io_uring_queue_init(64, &ring, 0);
	} else if (row == COST_KAIO) {
		r = sys_ret(syscall(SYS_io_setup, 64, &ctx));
	} else if (row == COST_UAIO_SYSCALLS) {
		r = uaio_intercept_syscalls(0);
		if (r == 0)
			r = sys_ret(syscall(SYS_io_setup, 64, &ctx));
	} else {
		struct uaio_params p;

		memset(&p, 0, sizeof(p));
		p.executor = row == COST_UAIO || row == COST_UAIO_NOCHECK ? "threads" : "uring";
		p.flags = row == COST_UAIO_NOCHECK || row == COST_UAIO_URING_NOCHECK ? UAIO_F_NOCHECK : 0;
		r = uaio_setup_params(64, &p, &ctx);
	}
	if (r < 0) {
		snprintf(cr->why, sizeof(cr->why), "setup: %s", strerror(-r));
		return;
	}
	for (unsigned i = 0; i < batch; i++) {
		uaio_prep_pread(&cb[i], fd, buf, 0, 0);
		cbs[i] = &cb[i];
	}
	/* Warm-up: a tenth of the time, not counted. */
	for (end = now_ns() + (uint64_t)(runtime * 1e8); now_ns() < end && r >= 0;)
		r = cost_round(row, ctx, &ring, cbs, ev, batch, fd, buf);
	c0 = cpu_now();
	t0 = now_ns();
	end = t0 + (uint64_t)(runtime * 1e9);
	do {
		if (r >= 0)
			r = cost_round(row, ctx, &ring, cbs, ev, batch, fd, buf);
		n += batch;
		t = now_ns();
	} while (t < end && r >= 0);
	c1 = cpu_now();
	if (row == COST_URING_NOP || row == COST_URING_READ0)
		io_uring_queue_exit(&ring);
	else if (row == COST_KAIO || row == COST_UAIO_SYSCALLS)
		syscall(SYS_io_destroy, ctx);
	else
		uaio_destroy(ctx);
	if (r < 0) {
		snprintf(cr->why, sizeof(cr->why), "a 0-byte request failed: %s", strerror(-r));
		return;
	}
	cr->ran = true;
	cr->reqs[bi] = n;
	cr->ns[bi] = (double)(t - t0) / (double)n;
	cr->cpu_ns[bi] = (double)((c1.usr_us - c0.usr_us) + (c1.sys_us - c0.sys_us)) * 1000 / (double)n;
}

static int run_cost(struct opts *o, uint64_t mask)
{
	struct cost_res res[COST_COUNT];
	char path[PATH_MAX];
	const char *dir = getenv("TMPDIR");
	void *buf = xmemalign(4096);
	int fd, base = COST_KAIO;
	unsigned cells = 0, cell = 0;

	memset(res, 0, sizeof(res));
	if (o->nfiles) {
		snprintf(path, sizeof(path), "%s", o->files[0]);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			bad_usage("cannot open '%s': %s", path, strerror(errno));
	} else {
		if (!dir || !*dir)
			dir = "/tmp";
		if ((size_t)snprintf(path, sizeof(path), "%s/" PROG ".XXXXXX", dir) >= sizeof(path))
			bad_usage("$TMPDIR is too long");
		fd = mkostemp(path, O_CLOEXEC);
		if (fd < 0)
			bad_usage("cannot create a temporary file in %s: %s", dir, strerror(errno));
		unlink(path);
		fill_random(buf, 4096, SEED);
		if (pwrite(fd, buf, 4096, 0) != 4096)
			fatal("%s: %s", path, strerror(errno));
	}
	for (int i = 0; i < COST_COUNT; i++)
		if (mask & (1ull << cost_rows[i].engine))
			cells += 2;
	printf("# cost: 0-byte reads (each completes with res 0: only the engine's own work) on %s;\n"
	       "# %.1f s per cell after a %.2f s warm-up; ns/req = wall time per request, cpu = process "
	       "user+sys CPU per request; x = ns/req ratio to kaio-read0\n", o->nfiles ? path : "a temporary file",
	       o->runtime, o->runtime / 10);
	prog.t_start = now_ns();
	for (int i = 0; i < COST_COUNT; i++) {
		if (!(mask & (1ull << cost_rows[i].engine)))
			continue;
		for (unsigned bi = 0; bi < 2; bi++) {
			double eta = (double)(cells - cell) * o->runtime * 1.1;

			if (prog.tty) {
				fprintf(stderr, "\r\033[K[%u/%u] cost %-18s batch %-3u ETA %d:%02d", ++cell, cells,
					cost_rows[i].name, cost_batches[bi], (int)eta / 60, (int)eta % 60);
				fflush(stderr);
			}
			cost_cell(i, bi, o->runtime, fd, buf, &res[i]);
			if (!res[i].ran)
				break;
		}
	}
	progress_clear();
	close(fd);
	printf("\n%-18s %14s %10s %15s %10s %7s %7s\n", "engine", "batch 1 ns/req", "cpu ns/req",
	       "batch 64 ns/req", "cpu ns/req", "x(b1)", "x(b64)");
	for (int i = 0; i < COST_COUNT; i++) {
		const struct cost_res *r = &res[i];

		if (!(mask & (1ull << cost_rows[i].engine)))
			continue;
		if (!r->ran) {
			printf("%-18s unavailable: %s\n", cost_rows[i].name, r->why);
			continue;
		}
		printf("%-18s %14.0f %10.0f %15.0f %10.0f", cost_rows[i].name, r->ns[0], r->cpu_ns[0],
		       r->ns[1], r->cpu_ns[1]);
		for (unsigned bi = 0; bi < 2; bi++) {
			if (res[base].ran && res[base].ns[bi] > 0)
				printf(" %7.2f", r->ns[bi] / res[base].ns[bi]);
			else
				printf(" %7s", "-");
		}
		printf("\n");
	}
	if (o->json) {
		FILE *f = open_out(o->json);
		bool first = true;

		fprintf(f, "{");
		json_host(f);
		fprintf(f, ",\n\"cost\":{\"runtime_s\":");
		jnum(f, o->runtime);
		fprintf(f, ",\"baseline\":\"kaio-read0\",\"rows\":[");
		for (int i = 0; i < COST_COUNT; i++) {
			const struct cost_res *r = &res[i];

			if (!(mask & (1ull << cost_rows[i].engine)))
				continue;
			fprintf(f, "%s\n {\"engine\":\"%s\",\"description\":", first ? "" : ",", cost_rows[i].name);
			jstr(f, cost_rows[i].desc);
			first = false;
			if (!r->ran) {
				fprintf(f, ",\"available\":false,\"reason\":");
				jstr(f, r->why);
				fprintf(f, "}");
				continue;
			}
			fprintf(f, ",\"available\":true");
			for (unsigned bi = 0; bi < 2; bi++) {
				fprintf(f, ",\"batch%u\":{\"requests\":%llu,\"ns_per_req\":", cost_batches[bi],
					(unsigned long long)r->reqs[bi]);
				jnum(f, round(r->ns[bi] * 10) / 10);
				fprintf(f, ",\"cpu_ns_per_req\":");
				jnum(f, round(r->cpu_ns[bi] * 10) / 10);
				fprintf(f, ",\"ratio_to_baseline\":");
				jnum(f, res[base].ran && res[base].ns[bi] > 0 ? r->ns[bi] / res[base].ns[bi] : 0);
				fprintf(f, "}");
			}
			fprintf(f, "}");
		}
		fprintf(f, "]}}\n");
		close_out(f, o->json);
	}
	if (o->svg) {
		FILE *f;
		struct bars p[2];
		double h = 34;

		for (unsigned bi = 0; bi < 2; bi++) {
			p[bi] = (struct bars){ .cls = "cost", .k = 1, .unit = "ns" };
			for (int i = 0; i < COST_COUNT; i++) {
				if (!(mask & (1ull << cost_rows[i].engine)) || !res[i].ran)
					continue;
				p[bi].labels[p[bi].n] = cost_rows[i].name;
				p[bi].color[p[bi].n] = i;
				p[bi].v[p[bi].n++][0] = res[i].ns[bi];
			}
			p[bi].title = bi ? "batch 64: ns per request (lower is better)"
					 : "batch 1: ns per request (lower is better)";
		}
		f = fopen("/dev/null", "w");
		if (!f)
			fatal("/dev/null: %s", strerror(errno));
		for (unsigned bi = 0; bi < 2; bi++)
			h = svg_bars(f, h, &p[bi]);
		fclose(f);
		f = open_out(o->svg);
		svg_begin(f, h, PROG " --cost: 0-byte reads, each engine's own cost");
		h = 34;
		for (unsigned bi = 0; bi < 2; bi++)
			h = svg_bars(f, h, &p[bi]);
		fprintf(f, "</svg>\n");
		close_out(f, o->svg);
	}
	free(buf);
	return 0;
}

/* ---- --flat: cost per request against contexts and queue depth -------------------- */

enum { FLAT_KAIO, FLAT_UAIO, FLAT_UAIO_URING, FLAT_IO_URING, FLAT_COUNT };

static const struct {
	const char *name;
	int engine;
} flat_rows[FLAT_COUNT] = {
	[FLAT_KAIO] = { "kaio-read0", ENG_KAIO },
	[FLAT_UAIO] = { "uaio", ENG_UAIO },
	[FLAT_UAIO_URING] = { "uaio-uring", ENG_UAIO_URING },
	[FLAT_IO_URING] = { "io_uring-read0", ENG_IO_URING },
};

/* Cells: contexts 1..10000 at queue depth 1, then depth 1..4096 on one
 * context.  The depth spread is taken from 64 on, where every submit
 * call carries 64 requests. */
static const unsigned flat_nctx[] = { 1, 10, 100, 1000, 10000, 1, 1, 1, 1, 1 };
static const unsigned flat_qd[] = { 1, 1, 1, 1, 1, 1, 32, 64, 512, 4096 };
#define FLAT_CELLS 10
#define FLAT_SPLIT 5	/* first depth cell */
#define FLAT_QD64 7	/* first cell of the depth spread */
#define FLAT_SUBMIT 64	/* requests per submit call at most */

/* n contexts (or rings) of qd entries each. */
struct flat_set {
	int row;
	unsigned n, qd, made;
	aio_context_t *ctx;
	struct io_uring *ring;
};

#define FLAT_REAPERS 32

struct flat_slice {
	struct flat_set *s;
	unsigned first;
};

/* Every FLAT_REAPERS-th context from first: the kernel's io_destroy waits
 * for an RCU grace period, so 10,000 of them take minutes one by one. */
static void *flat_down_slice(void *arg)
{
	const struct flat_slice *sl = arg;
	struct flat_set *s = sl->s;

	for (unsigned i = sl->first; i < s->made; i += FLAT_REAPERS) {
		if (s->row == FLAT_IO_URING)
			io_uring_queue_exit(&s->ring[i]);
		else if (s->row == FLAT_KAIO)
			syscall(SYS_io_destroy, s->ctx[i]);
		else
			uaio_destroy(s->ctx[i]);
	}
	return NULL;
}

static void flat_down(struct flat_set *s)
{
	struct flat_slice sl[FLAT_REAPERS];
	pthread_t th[FLAT_REAPERS];
	bool started[FLAT_REAPERS];

	for (unsigned t = 0; t < FLAT_REAPERS; t++) {
		sl[t] = (struct flat_slice){ s, t };
		started[t] = s->made > t && s->made > FLAT_REAPERS &&
			     pthread_create(&th[t], NULL, flat_down_slice, &sl[t]) == 0;
		if (!started[t] && s->made > t)
			flat_down_slice(&sl[t]);
	}
	for (unsigned t = 0; t < FLAT_REAPERS; t++)
		if (started[t])
			pthread_join(th[t], NULL);
	free(s->ctx);
	free(s->ring);
}

static int flat_up(struct flat_set *s)
{
	struct uaio_params p;
	int r = 0;

	s->ctx = calloc(s->n, sizeof(*s->ctx));
	s->ring = s->row == FLAT_IO_URING ? calloc(s->n, sizeof(*s->ring)) : NULL;
	if (!s->ctx || (s->row == FLAT_IO_URING && !s->ring))
		return -ENOMEM;
	memset(&p, 0, sizeof(p));
	p.executor = s->row == FLAT_UAIO ? "threads" : "uring";
	for (s->made = 0; s->made < s->n && r >= 0; s->made += r >= 0) {
		if (s->row == FLAT_IO_URING)
			r = io_uring_queue_init(s->qd, &s->ring[s->made], 0);
		else if (s->row == FLAT_KAIO)
			r = sys_ret(syscall(SYS_io_setup, s->qd, &s->ctx[s->made]));
		else
			r = uaio_setup_params(s->qd, &p, &s->ctx[s->made]);
	}
	return r < 0 ? r : 0;
}

/* qd 0-byte reads on context k % n, submitted FLAT_SUBMIT per call, all reaped. */
static int flat_round(struct flat_set *s, unsigned k, struct iocb **cbs, struct io_event *ev,
		      struct io_uring_cqe **cqes, int fd, void *buf)
{
	unsigned i = k % s->n, got = 0;
	int r;

	if (s->row == FLAT_IO_URING) {
		struct io_uring *ring = &s->ring[i];

		for (unsigned j = 0; j < s->qd; j++) {
			io_uring_prep_read(io_uring_get_sqe(ring), fd, buf, 0, 0);
			if ((j + 1) % FLAT_SUBMIT == 0 && j + 1 < s->qd && (r = io_uring_submit(ring)) < 0)
				return r;
		}
		if ((r = io_uring_submit_and_wait(ring, s->qd)) < 0)
			return r;
		while (got < s->qd) {
			unsigned n = io_uring_peek_batch_cqe(ring, cqes, s->qd - got);

			for (unsigned j = 0; j < n; j++)
				if (cqes[j]->res != 0)
					return cqes[j]->res < 0 ? cqes[j]->res : -EIO;
			io_uring_cq_advance(ring, n);
			got += n;
			if (!n && (r = io_uring_wait_cqe(ring, cqes)) < 0)
				return r;
		}
		return 0;
	}
	for (unsigned sent = 0; sent < s->qd; sent += (unsigned)r) {
		long nr = s->qd - sent > FLAT_SUBMIT ? FLAT_SUBMIT : (long)(s->qd - sent);

		r = s->row == FLAT_KAIO ? sys_ret(syscall(SYS_io_submit, s->ctx[i], nr, cbs + sent))
					: uaio_submit(s->ctx[i], nr, cbs + sent);
		if (r <= 0)
			return r ? r : -EAGAIN;
	}
	while (got < s->qd) {
		r = s->row == FLAT_KAIO
			? sys_ret(syscall(SYS_io_getevents, s->ctx[i], (long)(s->qd - got), (long)s->qd, ev, NULL))
			: uaio_getevents(s->ctx[i], (long)(s->qd - got), (long)s->qd, ev, NULL);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		for (int j = 0; j < r; j++)
			if (ev[j].res != 0)
				return ev[j].res < 0 ? (int)ev[j].res : -EIO;
		got += (unsigned)r;
	}
	return 0;
}

/* Process CPU ns per request of one cell; *err = -errno if it failed. */
static double flat_cell(int row, unsigned c, double runtime, int fd, void *buf, int *err)
{
	struct flat_set s = { .row = row, .n = flat_nctx[c], .qd = flat_qd[c] };
	struct iocb *cb = calloc(s.qd, sizeof(*cb)), **cbs = calloc(s.qd, sizeof(*cbs));
	struct io_event *ev = calloc(s.qd, sizeof(*ev));
	struct io_uring_cqe **cqes = calloc(s.qd, sizeof(*cqes));
	uint64_t t0, t, end, n = 0, k = 0;
	struct cpu c0, c1;
	int r = -ENOMEM;

	if (cb && cbs && ev && cqes)
		r = flat_up(&s);
	for (unsigned j = 0; r >= 0 && j < s.qd; j++) {
		uaio_prep_pread(&cb[j], fd, buf, 0, 0);
		cbs[j] = &cb[j];
	}
	/* Warm-up: every context once, then a tenth of the time. */
	for (end = now_ns() + (uint64_t)(runtime * 1e8); r >= 0 && (k < s.n || now_ns() < end); k++)
		r = flat_round(&s, (unsigned)k, cbs, ev, cqes, fd, buf);
	c0 = cpu_now();
	t0 = now_ns();
	end = t0 + (uint64_t)(runtime * 1e9);
	do {
		if (r >= 0)
			r = flat_round(&s, (unsigned)k++, cbs, ev, cqes, fd, buf);
		n += s.qd;
		t = now_ns();
	} while (t < end && r >= 0);
	c1 = cpu_now();
	flat_down(&s);
	free(cb);
	free(cbs);
	free(ev);
	free(cqes);
	*err = r < 0 ? r : 0;
	/* CPU, not wall time: on a shared machine the wall clock mostly
	 * measures the other processes. */
	return r < 0 ? 0 : (double)((c1.usr_us - c0.usr_us) + (c1.sys_us - c0.sys_us)) * 1000 / (double)n;
}

static void flat_spread(const double *ns, unsigned from, unsigned to)
{
	double lo = 0, hi = 0;

	for (unsigned c = from; c < to; c++) {
		if (ns[c] <= 0)
			continue;
		lo = lo == 0 || ns[c] < lo ? ns[c] : lo;
		hi = ns[c] > hi ? ns[c] : hi;
	}
	if (lo > 0)
		printf(" %6.0f%%", (hi / lo - 1) * 100);
	else
		printf(" %7s", "-");
}

static int run_flat(struct opts *o, uint64_t mask)
{
	static double ns[FLAT_COUNT][FLAT_CELLS];
	static int err[FLAT_COUNT][FLAT_CELLS];
	char path[PATH_MAX];
	const char *dir = getenv("TMPDIR");
	void *buf = xmemalign(4096);
	struct rlimit rl;
	int fd;

	/* 10,000 rings or kernel contexts need descriptors and aio-max-nr. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/" PROG ".XXXXXX", dir) >= sizeof(path))
		bad_usage("$TMPDIR is too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		bad_usage("cannot create a temporary file in %s: %s", dir, strerror(errno));
	unlink(path);
	printf("# flat: 0-byte reads, process user+sys CPU ns per request; contexts: one request at a time on each\n"
	       "# context in turn; depth: that many requests on one context, at most %d per submit\n"
	       "# call, then all reaped; %.1f s per cell; spread = slowest cell over fastest, minus 1\n"
	       "# (depth: from 64 on, the same requests per call)\n", FLAT_SUBMIT, o->runtime);
	prog.t_start = now_ns();
	for (int i = 0; i < FLAT_COUNT; i++) {
		if (!(mask & (1ull << flat_rows[i].engine)))
			continue;
		for (unsigned c = 0; c < FLAT_CELLS; c++) {
			if (prog.tty) {
				fprintf(stderr, "\r\033[K flat %-16s contexts %-5u depth %-4u", flat_rows[i].name,
					flat_nctx[c], flat_qd[c]);
				fflush(stderr);
			}
			ns[i][c] = flat_cell(i, c, o->runtime, fd, buf, &err[i][c]);
		}
	}
	progress_clear();
	close(fd);
	printf("\n%-15s", "engine");
	for (unsigned c = 0; c < FLAT_CELLS; c++) {
		char h[24];

		if (c == FLAT_SPLIT)
			printf(" %7s |", "spread");
		snprintf(h, sizeof(h), c < FLAT_SPLIT ? "ctx=%u" : "qd=%u", c < FLAT_SPLIT ? flat_nctx[c] : flat_qd[c]);
		printf(" %9s", h);
	}
	printf(" %7s\n", "spread");
	for (int i = 0; i < FLAT_COUNT; i++) {
		if (!(mask & (1ull << flat_rows[i].engine)))
			continue;
		printf("%-15s", flat_rows[i].name);
		for (unsigned c = 0; c < FLAT_CELLS; c++) {
			if (c == FLAT_SPLIT) {
				flat_spread(ns[i], 0, FLAT_SPLIT);
				printf(" |");
			}
			if (err[i][c])
				printf(" %9s", strerrorname_np(-err[i][c]) ? strerrorname_np(-err[i][c]) : "error");
			else
				printf(" %9.0f", ns[i][c]);
		}
		flat_spread(ns[i], FLAT_QD64, FLAT_CELLS);
		printf("\n");
	}
	free(buf);
	return 0;
}

/* ---- main -------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
	static struct run R;
	static struct opts o;
	struct target t;
	struct bench b;
	uint64_t mismatches = 0;
	unsigned nmodes = 0;

	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);	/* tables appear as they finish, even in a pipe */
	prog.tty = !o.quiet && isatty(STDERR_FILENO);
	signal(SIGPIPE, SIG_IGN);
	R.o = &o;
	R.mask = o.engines ? o.engines : o.cost ? (1ull << ENG_COUNT) - 1 : ENG_DEFAULT;
	/* Engines that cannot be set up here are left out, once, with the reason. */
	for (int e = 0; e < ENG_COUNT; e++) {
		int r;

		if (!(R.mask & (1ull << e)) || (o.cost && e != ENG_UAIO_URING && e != ENG_UAIO_URING_NOCHECK))
			continue;
		if ((r = probe_engine(e)) < 0) {
			R.left[R.nleft].engine = e;
			snprintf(R.left[R.nleft].why, sizeof(R.left[R.nleft].why), "%s%s: %s",
				 engines[e].setup_call, engines[e].executor ?
				 (!strcmp(engines[e].executor, "uring") ? "(executor \"uring\")" : "(executor \"threads\")") : "",
				 strerror(-r));
			R.nleft++;
			R.mask &= ~(1ull << e);
		}
	}
	if (o.cost) {
		print_host();
		for (unsigned i = 0; i < R.nleft; i++)
			printf("# %s left out: %s\n", engine_names[R.left[i].engine], R.left[i].why);
		return o.flat ? run_flat(&o, R.mask) : run_cost(&o, R.mask);
	}
	if (!R.mask)
		bad_usage("none of the chosen engines can be set up on this machine");
	if (R.mask & (1ull << ENG_POSIX)) {
		/* glibc's pool: enough threads for every request in flight (default 20). */
		struct aioinit ai;

		memset(&ai, 0, sizeof(ai));
		ai.aio_threads = (int)(o.depth * o.numjobs < 256 ? o.depth * o.numjobs : 256);
		ai.aio_num = (int)(o.depth * o.numjobs);
		ai.aio_idle_time = 1;
		aio_init(&ai);
	}
	open_target(&o, &t, o.modes_set);
	R.t = &t;
	bench_init(&b, &o, &t, R.mask);
	R.nsync = b.nsync;
	print_header(&R);
	for (int m = 0; m < MODE_COUNT; m++)
		if (o.modes & (1u << m)) {
			nmodes++;
			R.mode_ran[m] = true;
			if (m == MODE_DIRECT)
				for (unsigned i = 0; i < t.n; i++)
					if (t.f[i].dfd < 0) {
						R.mode_ran[m] = false;
						snprintf(R.mode_why[m], sizeof(R.mode_why[m]),
							 "%s: the file system (%s) refuses O_DIRECT (%s)", t.f[i].path,
							 fs_name(t.f[i].fstype), strerror(t.f[i].direct_err));
						break;
					}
			if (R.mode_ran[m])
				prog.nrows += (unsigned)__builtin_popcountll(R.mask);
		}
	prog.row_secs = o.io_size ? 0 : o.ramp + o.runtime + 0.05;
	if (o.modes & (1u << MODE_BUFFERED)) {
		long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

		if (pages > 0 && (double)t.span * t.n > (double)pages * (double)psz / 2) {
			printf("# buffered: %s not pre-read: larger than half the free memory\n",
			       t.n > 1 ? "files" : "file");
		} else {
			if (prog.tty) {
				fputs("\r\033[Kpre-reading into the page cache...", stderr);
				fflush(stderr);
			}
			R.preread_s = preread(&t);
			progress_clear();
			printf("# buffered: pre-read into the page cache in %.2f s\n", R.preread_s);
		}
	}
	for (int m = 0; m < MODE_COUNT; m++) {
		if (!(o.modes & (1u << m)))
			continue;
		for (int e = 0; e < ENG_COUNT && R.mode_ran[m]; e++) {
			if (!(R.mask & (1ull << e)))
				continue;
			prog.row++;
			run_row(&b, e, m, &R.res[m][e]);
			mismatches += R.res[m][e].verify_bad;
		}
		print_table(&R, m);
	}
	if (o.json)
		write_json(&R);
	if (o.svg)
		write_svg(&R);
	bench_free(&b);
	close_target(&t);
	if (mismatches) {
		fprintf(stderr, PROG ": verify: %llu mismatched block%s\n", (unsigned long long)mismatches,
			mismatches > 1 ? "s" : "");
		return 1;
	}
	(void)nmodes;
	return 0;
}
