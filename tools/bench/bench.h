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
 * Every engine runs the same job loop (job.c) through struct engine; only
 * the engine calls (init, submit, reap, fini, and the request preparation
 * they do) differ, one engine-*.c file each.  Latencies go to fixed-size
 * log-linear histograms (hist.c, arithmetic shared with src/stats.c in
 * src/hist.h), so memory does not grow with the run time.  --cost
 * (cost.c) measures the engines' own cost per request with 0-byte reads,
 * --flat (flat.c) that cost against contexts and queue depth.
 *
 * Files: options.c (command line), util.c (errors, clocks, memory),
 * workload.c (the files, the offsets), replay.c (--replay: a fio iolog as
 * the workload), engine.c (the table), job.c (the
 * job loop), row.c (one engine on one mode), table.c, json.c, svg.c
 * (output), main.c.  This header is private to them.
 */
#ifndef UAIO_BENCH_H
#define UAIO_BENCH_H

#include <aio.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <liburing.h>

#include "uaio.h"

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

/* ---- options (options.c) ---------------------------------------------------- */

enum { MODE_BUFFERED, MODE_DIRECT, MODE_COLD, MODE_COUNT };
enum rw { RW_READ, RW_WRITE, RW_RANDREAD, RW_RANDWRITE, RW_RW, RW_RANDRW, RW_COUNT };
enum op { OP_READ, OP_WRITE, OP_FSYNC };

enum {
	ENG_KAIO, ENG_UAIO, ENG_UAIO_NOCHECK, ENG_UAIO_URING, ENG_UAIO_URING_NOCHECK,
	ENG_UAIO_KAIO, ENG_UAIO_KAIO_NOCHECK, ENG_IO_URING, ENG_POSIX, ENG_SYNC, ENG_COUNT
};

/* Every engine but the -nocheck ones of the uring and kaio executors. */
#define ENG_DEFAULT ((1ull << ENG_COUNT) - 1 - (1ull << ENG_UAIO_URING_NOCHECK) - \
		     (1ull << ENG_UAIO_KAIO_NOCHECK))

extern const char *const rw_names[RW_COUNT];
extern const char *const mode_names[MODE_COUNT];
extern const char *const mode_titles[MODE_COUNT];
extern const char *const engine_names[ENG_COUNT];

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
	const char *replay;	/* --replay: the iolog whose requests are the workload */
};

static inline bool rw_reads(enum rw rw)
{
	return rw != RW_WRITE && rw != RW_RANDWRITE;
}

static inline bool rw_writes(enum rw rw)
{
	return rw != RW_READ && rw != RW_RANDREAD;
}

static inline bool rw_random(enum rw rw)
{
	return rw == RW_RANDREAD || rw == RW_RANDWRITE || rw == RW_RANDRW;
}

void parse_opts(int argc, char **argv, struct opts *o);

/* ---- small helpers (util.c) ------------------------------------------------- */

struct cpu {
	uint64_t usr_us, sys_us;
};

void remember_created(const char *path);
void forget_created(void);
void __attribute__((noreturn, format(printf, 1, 2))) bad_usage(const char *fmt, ...);
void __attribute__((noreturn, format(printf, 1, 2))) fatal(const char *fmt, ...);
uint64_t now_ns(void);
struct cpu cpu_now(void);
double cpu_ns_per(struct cpu c0, struct cpu c1, uint64_t n);
uint64_t xorshift(uint64_t *s);
uint64_t mix64(uint64_t z);
void fill_random(void *buf, size_t len, uint64_t seed);
void *xmalloc(size_t len);
void *xmemalign(size_t len);
const char *fmt_size(char *buf, size_t n, uint64_t v);
int sys_ret(long r);

static inline uint64_t load64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);	/* relaxed: a counter read for display */
}

static inline void store64(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);	/* relaxed: its one writer, read for display */
}

/* ---- latency histogram (hist.c) --------------------------------------------- */

#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_BITS	40
#define HIST_BUCKETS	((HIST_MAX_BITS - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t count, sum, min, max;
	unsigned long long bucket[HIST_BUCKETS];
};

void hist_reset(struct hist *h);
void hist_add(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *h);
double hist_quantile(const struct hist *h, double q);

/* ---- the files and the offsets (workload.c) ---------------------------------- */

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

struct job;
struct req;

const char *fs_name(long type);
int temp_file(char *path, size_t n);
void open_target(const struct opts *o, struct target *t, bool direct_explicit);
void close_target(struct target *t);
double preread(const struct target *t);
struct req *next_req(struct job *j);
bool check_verify(const void *buf, size_t len, unsigned file, uint64_t off, uint64_t gen);

/* ---- --replay (replay.c) ----------------------------------------------------- */

/* One request of the iolog: the traced file's index, op, offset, length. */
struct replay_op {
	uint64_t off;
	uint32_t len;
	uint16_t file;
	uint8_t op;		/* enum op */
};

struct replay {
	char *names[MAX_FILES];	/* the traced files, in "add" order */
	unsigned nnames;
	uint64_t extent[MAX_FILES];	/* highest offset + length used in each */
	uint64_t base[MAX_FILES];	/* where each lies in the bench's temporary file */
	struct replay_op *ops;
	uint64_t nops, reads, writes, syncs, skipped;
	uint32_t maxlen;
	bool aligned;		/* every offset and length a multiple of 4096 */
};

extern struct replay replay;
void replay_load(struct opts *o);
void replay_next(struct job *j, struct req *r);

/* ---- requests, jobs and the engine interface (engine.c, job.c) --------------- */

struct req {
	struct iocb cb;		/* kaio, uaio */
	struct aiocb acb;	/* posix-aio */
	void *buf;
	uint64_t t_submit;	/* CLOCK_MONOTONIC ns, set just before submit */
	int64_t res;
	uint64_t off;
	uint32_t len;		/* bytes: --bs, or the replayed request's */
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
	uint64_t bytes;		/* measured: read and written */
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

/* One engine: the calls the job loop makes, each on the job's own thread. */
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

extern const struct engine engine_kaio;			/* engine-kaio.c */
extern const struct engine engine_uaio;			/* engine-uaio.c */
extern const struct engine engine_uaio_nocheck;
extern const struct engine engine_uaio_uring;
extern const struct engine engine_uaio_uring_nocheck;
extern const struct engine engine_uaio_kaio;
extern const struct engine engine_uaio_kaio_nocheck;
extern const struct engine engine_io_uring;		/* engine-io_uring.c */
extern const struct engine engine_posix;		/* engine-posix.c */
extern const struct engine engine_sync;			/* engine-sync.c */
extern const struct engine *const engines[ENG_COUNT];	/* engine.c */

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

static inline int phase_get(const struct bench *b)
{
	/* acquire: pairs with phase_set; what the main thread set up before is seen. */
	return __atomic_load_n(&b->phase, __ATOMIC_ACQUIRE);
}

static inline void phase_set(struct bench *b, int ph)
{
	/* release: the row's setup (groups, jobs) is visible with the new phase. */
	__atomic_store_n(&b->phase, ph, __ATOMIC_RELEASE);
}

void prep_iocb(struct job *j, struct req *r);
int events_done(struct job *j, int r);
int probe_engine(int e);
void *job_main(void *arg);

/* ---- rows (row.c) ------------------------------------------------------------ */

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

extern struct progress prog;

void progress_clear(void);
void progress_show(const char *mode, const char *eng, double el, double span,
		   double iops, double mibs, double eta);
void run_row(struct bench *b, int eng, int mode, struct result *res);
void bench_init(struct bench *b, const struct opts *o, struct target *t, uint64_t engines_mask);
void bench_free(struct bench *b);

/* ---- output (table.c, json.c, svg.c) ---------------------------------------- */

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

unsigned online_cpus(void);
void print_host(void);
const char *rw_label(const struct opts *o, char *buf, size_t n);
void print_header(const struct run *R);
double cpu_per_io_us(const struct result *r);
void print_table(const struct run *R, int mode);

void jstr(FILE *f, const char *s);
void jnum(FILE *f, double v);
FILE *open_out(const char *path);
void close_out(FILE *f, const char *path);
void json_host(FILE *f);
void write_json(const struct run *R);

#define SVG_W		900
#define SVG_LABEL	150	/* engine names */
#define SVG_X0		160	/* bars start */
#define SVG_BARW	600	/* widest bar */

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

double svg_bars(FILE *f, double y, const struct bars *p);
void svg_begin(FILE *f, double h, const char *title);
void write_svg(const struct run *R);

/* ---- --cost and --flat (cost.c, flat.c) -------------------------------------- */

int run_cost(struct opts *o, uint64_t mask);
int run_flat(struct opts *o, uint64_t mask);

#endif
