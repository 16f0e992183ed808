/* SPDX-License-Identifier: MIT */
/* options.c - uaio-bench's command line: --help, the option parsers and
 * the checks between options. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bench.h"

const char *const rw_names[RW_COUNT] = {
	"read", "write", "randread", "randwrite", "rw", "randrw",
};
const char *const mode_names[MODE_COUNT] = { "buffered", "direct", "cold" };
const char *const mode_titles[MODE_COUNT] = {
	"buffered, warm page cache", "O_DIRECT", "buffered, cold page cache",
};

const char *const engine_names[ENG_COUNT] = {
	[ENG_KAIO] = "kaio",
	[ENG_UAIO] = "uaio",
	[ENG_UAIO_NOCHECK] = "uaio-nocheck",
	[ENG_UAIO_URING] = "uaio-uring",
	[ENG_UAIO_URING_NOCHECK] = "uaio-uring-nocheck",
	[ENG_UAIO_KAIO] = "uaio-kaio",
	[ENG_UAIO_KAIO_NOCHECK] = "uaio-kaio-nocheck",
	[ENG_IO_URING] = "io_uring",
	[ENG_POSIX] = "posix-aio",
	[ENG_SYNC] = "sync",
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " [OPTION]...\n"
"Run one file I/O job on every AIO engine (uaio, kernel AIO, io_uring, POSIX\n"
"AIO, synchronous threads) and print, per mode, IOPS, MiB/s, latency\n"
"percentiles, CPU time and the ratios to a baseline engine.  With no options:\n"
"4 KiB random reads, queue depth 32, on a temporary 1 GiB file, in three modes\n"
"(buffered on a warm page cache, O_DIRECT, buffered on a cold page cache),\n"
"2 s per engine and mode.\n"
"\n"
"Workload:\n"
"      --rw=RW            read, write, randread (default), randwrite, rw, randrw\n"
"      --rwmix=PCT        reads in percent for rw and randrw (default 50)\n"
"  -b, --bs=SIZE          block size, a multiple of 512 up to 64M (default 4k)\n"
"  -d, --iodepth=N        requests in flight per job, 1-%u (default 32)\n"
"      --batch-submit=N   requests per submit call (default 1)\n"
"      --batch-complete=N minimum completions per reap call (default 1)\n"
"      --direct[=0|1]     O_DIRECT only (1) or buffered only (0, warm page\n"
"                         cache)\n"
"      --mode=MODE        buffered (warm page cache), direct, both (those\n"
"                         two), cold (buffered, page cache dropped before\n"
"                         each row) or all (default: buffered, direct, cold)\n"
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
"      --replay=FILE      the workload is a fio iolog (v2 or v3, such as\n"
"                         UAIO_TRACE=FILE writes): its reads, writes and\n"
"                         fsyncs, offsets and lengths, in order, once per\n"
"                         row and engine, as fast as --iodepth allows.  Safe:\n"
"                         they go to a temporary file of uaio-bench's own\n"
"                         (a region per traced file); the traced files are\n"
"                         never opened.  No O_DIRECT row unless every request\n"
"                         is 4 KiB-aligned\n"
"\n"
"Engines and output:\n"
"  -e, --engines=LIST     comma-separated engines or 'all' (default: all but\n"
"                         uaio-uring-nocheck and uaio-kaio-nocheck): kaio\n"
"                         uaio uaio-nocheck uaio-uring uaio-uring-nocheck\n"
"                         uaio-kaio uaio-kaio-nocheck io_uring posix-aio sync\n"
"                         (kaio: the kernel's AIO; uaio-EXECUTOR: uaio on that\n"
"                         executor; an engine that cannot be set up here is\n"
"                         left out, with the reason)\n"
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
			  "uaio-uring-nocheck uaio-kaio uaio-kaio-nocheck io_uring posix-aio sync)", s);
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
	OPT_DEVWRITE, OPT_REPLAY,
};

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
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void parse_direct(struct opts *o, const char *arg)
{
	o->modes_set = true;
	if (!arg || !strcmp(arg, "1"))
		o->modes = 1u << MODE_DIRECT;
	else if (!strcmp(arg, "0"))
		o->modes = 1u << MODE_BUFFERED;
	else
		bad_usage("--direct takes 0 or 1, not '%s'", arg);
}

static void parse_mode(struct opts *o, const char *arg)
{
	static const char *const modes[] = { "buffered", "direct", "both", "cold", "all" };
	static const unsigned mode_bits[] = {
		1u << MODE_BUFFERED, 1u << MODE_DIRECT, (1u << MODE_BUFFERED) | (1u << MODE_DIRECT),
		1u << MODE_COLD, (1u << MODE_COUNT) - 1,
	};

	o->modes_set = true;
	o->modes = mode_bits[parse_name("--mode", arg, modes, 5)];
}

/* The options that take a size: --bs, --size, --io-size. */
static void parse_sizes(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case 'b':
		if (!parse_size(arg, &o->bs) || !o->bs || o->bs % 512 || o->bs > MAX_BS)
			bad_usage("--bs must be a multiple of 512 from 512 to 64M, not '%s'", arg);
		break;
	case 's':
		if (!parse_size(arg, &o->size) || !o->size || o->size > MAX_SIZE)
			bad_usage("--size must be a size from 512 bytes to 1024T, such as 1G, not '%s'",
				  arg);
		break;
	default:
		if (!parse_size(arg, &o->io_size) || !o->io_size || o->io_size > MAX_SIZE)
			bad_usage("--io-size must be a size from 1 byte to 1024T, such as 256M, not '%s'",
				  arg);
		break;
	}
}

static void bad_option(int c, char **argv)
{
	if (c == ':')
		bad_usage("option '%s' needs an argument (try --help)", argv[optind - 1]);
	if (optopt)
		bad_usage("unknown option '-%c' (try --help)", optopt);
	bad_usage("unknown option '%s' (try --help)", argv[optind - 1]);
}

/* The options that set a count, a time or a name. */
static bool parse_value(struct opts *o, int c, char *arg)
{
	switch (c) {
	case 'r': o->rw = (enum rw)parse_name("--rw", arg, rw_names, RW_COUNT); break;
	case OPT_RWMIX: o->rwmix = parse_count("--rwmix", arg, 0, 100); break;
	case 'd': o->depth = parse_count("--iodepth", arg, 1, MAX_DEPTH); break;
	case OPT_BATCH_SUBMIT: o->batch_submit = parse_count("--batch-submit", arg, 1, MAX_DEPTH); break;
	case OPT_BATCH_COMPLETE: o->batch_complete = parse_count("--batch-complete", arg, 1, MAX_DEPTH); break;
	case OPT_BATCH: o->batch_submit = o->batch_complete = parse_count("--batch", arg, 1, MAX_DEPTH); break;
	case 'f': parse_files(o, arg); break;
	case 'j': o->numjobs = parse_count("--numjobs", arg, 1, MAX_JOBS); break;
	case 't': o->runtime = parse_seconds("--runtime", arg, 0.01, 86400); o->runtime_set = true; break;
	case OPT_RAMP: o->ramp = parse_seconds("--ramp", arg, 0, 3600); break;
	case OPT_FSYNC: o->fsync_every = parse_count("--fsync", arg, 0, 1u << 30); break;
	case 'e': o->engines = parse_engines(arg); break;
	case OPT_BASELINE: o->baseline = parse_engine(arg); break;
	case OPT_JSON: if (!*arg) bad_usage("--json needs a file name"); o->json = arg; break;
	case OPT_SVG: if (!*arg) bad_usage("--svg needs a file name"); o->svg = arg; break;
	case OPT_REPLAY: if (!*arg) bad_usage("--replay needs a file name"); o->replay = arg; break;
	default: return false;
	}
	return true;
}

/* One option from getopt_long. */
static void parse_one(struct opts *o, int c, char **argv)
{
	if (parse_value(o, c, optarg))
		return;
	switch (c) {
	case 'b': case 's': case OPT_IO_SIZE: parse_sizes(o, c, optarg); break;
	case OPT_DIRECT: parse_direct(o, optarg); break;
	case OPT_MODE: parse_mode(o, optarg); break;
	case OPT_VERIFY: o->verify = true; break;
	case OPT_DEVWRITE: o->allow_dev_write = true; break;
	case OPT_COST: o->cost = true; break;
	case OPT_FLAT: o->cost = o->flat = true; break;
	case 'q': o->quiet = true; break;
	case 'h': usage(stdout); exit(0);
	default: bad_option(c, argv);
	}
}

/* The rules between options, once all are read. */
static void check_opts(struct opts *o)
{
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
	if (o->cost && (o->engines & ((1ull << ENG_POSIX) | (1ull << ENG_SYNC))))
		bad_usage("--cost measures kaio, io_uring and uaio's executors only");
	if (o->flat && (o->json || o->svg))
		bad_usage("--flat prints a table only: no --json or --svg");
}

void parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .bs = 4 * KiB, .depth = 32, .batch_submit = 1, .batch_complete = 1,
			    .numjobs = 1, .runtime = 2, .ramp = 0.3,
			    .modes = (1u << MODE_COUNT) - 1,	/* buffered, direct, cold */
			    .rw = RW_RANDREAD, .rwmix = 50, .baseline = ENG_KAIO };
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":r:b:d:f:s:j:t:e:qh", longopts, NULL)) != -1)
		parse_one(o, c, argv);
	if (optind < argc)
		bad_usage("unexpected argument '%s' (try --help)", argv[optind]);
	if (o->replay && o->cost)
		bad_usage("--cost measures 0-byte reads: no --replay");
	if (o->replay)
		replay_load(o);
	check_opts(o);
	if (o->cost && !o->runtime_set)
		o->runtime = o->flat ? 0.5 : 1;
}
