/* SPDX-License-Identifier: MIT */
/* internal.h - uaio's private types: contexts, requests and the small
 * helpers every file shares.  The executor contract: exec/exec.h. */
#ifndef UAIO_INTERNAL_H
#define UAIO_INTERNAL_H

#include "uaio.h"
#include "opcode.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "arch/arch.h"	/* USER_TOP and the machine-level pieces */

#define UAIO_API __attribute__((visibility("default")))
#define UNUSED __attribute__((unused))

#define PAGE_SZ		4096UL
#define MAX_RW_COUNT	0x7ffff000UL		/* the kernel's per-call cap */
#define MAX_EVENTS_BYTES 0x10000000UL		/* 256 MiB of io_events */

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND	0x00000020
#endif
#ifndef RWF_ATOMIC
#define RWF_ATOMIC	0x00000040
#endif
#ifndef RWF_DONTCACHE
#define RWF_DONTCACHE	0x00000080
#endif
#ifndef RWF_NOSIGNAL
#define RWF_NOSIGNAL	0x00000100
#endif
#define UAIO_RWF_OK (RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND | \
		     RWF_NOAPPEND | RWF_DONTCACHE | RWF_NOSIGNAL)

/* Request life: a request is QUEUED with an executor or WAITING for
 * readiness until exactly one party moves it on with a compare-exchange:
 * a runner (-> RUNNING -> DONE) or a canceller (-> CANCELLED).  The moves
 * and where each state waits: req_state.h. */
enum req_state { REQ_QUEUED, REQ_WAITING, REQ_RUNNING, REQ_DONE, REQ_CANCELLED };

enum req_kind { KIND_FILE, KIND_STREAM, KIND_SYNC, KIND_POLL };

struct uaio_ctx;

/* Bytes of struct uaio_req that belong to its context's executor (its
 * own struct, checked against this size there); zero when the request
 * reaches it. */
#define EXEC_PRIV_SIZE	24

struct uaio_req {
	struct uaio_req *next;		/* pool queue link: pool lock; or faults.c's held list: its lock */
	struct uaio_req *act_prev, *act_next; /* ctx active list: active_lock */
	struct uaio_req *grp_next;	/* poller group list: poller lock */
	struct uaio_req *sweep_next;	/* destroy's private list */
	struct uaio_ctx *ctx;		/* holds a context reference */
	_Atomic int state;		/* enum req_state; see above */
	struct iocb cb;			/* the caller's iocb, copied at submit */
	uint64_t obj;			/* the caller's iocb address */
	int fd;				/* what the I/O uses: a private reference (fref.c)
					 * once the request leaves submit, else aio_fildes */
	bool fd_ref;			/* fd is a reference of ours, dropped by req_free */
	int resfd;			/* our reference to the eventfd (fref.c), or -1 */
	int kind;			/* enum req_kind */
	int fl;				/* the fd's F_GETFL flags */
	bool fl_cached;			/* fl came from fdflags.c's cache, not from fcntl
					 * in this call (submit's thread only) */
	bool has_pre;			/* pre: the first inline attempt's answer, by
					 * nowait.c (submit's thread only) */
	bool may_verify;		/* the executor may check fl_cached for submit
					 * (exec_ops.submit_verify; submit's thread only) */
	bool unverified;		/* sent on fl_cached flags: submit_verify */
	int64_t pre;
	unsigned poll_events;		/* POLL mask (with ERR|HUP) or stream wait mask */
	int niov;
	struct iovec *iov;		/* iov_inline or malloc'd */
	size_t total;			/* bytes asked for */
	size_t done;			/* bytes moved so far */
	uint64_t t_submit;		/* STAMP_* or CLOCK_MONOTONIC ns when handed on; set before
					 * active_insert, read-only after */
	unsigned char fault;		/* FAULT_*: faults.c's verdict at submit */
	bool fault_route;		/* a held request goes to the executor (else the poller) */
	uint64_t fault_arg;		/* bytes kept, delay (ns), then due time (CLOCK_MONOTONIC ns) */
	/* UAIO_TRACE only (trace.c): CLOCK_MONOTONIC ns when submit accepted
	 * it and when its runner picked it up (0: never), and where (enum
	 * trace_route).  Written by submit, then by the runner that owns it;
	 * read when its event is posted. */
	uint64_t tr_submit, tr_start;
	unsigned char tr_route;
	struct iovec iov_inline[4];
	/* the executor's own per-request state (exec/exec.h); its fields
	 * say their locks */
	_Alignas(void *) unsigned char exec_priv[EXEC_PRIV_SIZE];
};

/* A thread sleeping in getevents; linked on ctx->waiters under post_lock. */
struct waiter {
	struct waiter *next, *prev;
	_Atomic uint32_t woken;		/* futex word: 0 -> 1 by a completer */
	int efd;			/* eventfd to poke, else -1 (futex) */
};

/* req->t_submit and the stamps passed to the posting functions: below
 * STAMP_TIMED the request is not timed; above, it is its hand-off time. */
enum {
	STAMP_INLINE = 0,	/* posted within submit: latency 0, never in flight */
	STAMP_UNTIMED = 1,	/* handed on, statistics off (UAIO_F_NOSTATS) */
	STAMP_TIMED = 2,
};

/* A context's errno counts and latency histogram, allocated by its first
 * submit (so that contexts that never submit stay small).  Written only
 * under the context's post_lock, by load and store (no read-modify-write);
 * read without the lock by uaio_stats: every field is a relaxed atomic. */
struct ctx_stats {
	_Atomic unsigned long long lat_sum_ns;
	_Atomic unsigned long long errno_count[UAIO_STATS_ERRNOS];
	_Atomic unsigned long long lat_bucket[UAIO_STATS_BUCKETS];
};

struct exec_ops;

struct uaio_ctx {
	struct uaio_ring *ring;		/* library's view of the ring */
	unsigned nr;			/* ring entries (trusted copy of ring->nr) */
	unsigned max_reqs;		/* nr_events asked for: the quota charge */
	uint64_t handle;		/* user address: table lock */
	uint64_t home;			/* where setup mapped it for the user */
	size_t ring_off, ring_len;	/* slice of the arena */
	unsigned flags;			/* UAIO_F_*, fixed at setup */
	const struct exec_ops *exec;
	_Atomic int refs;		/* table + callers + requests */
	_Atomic int dead;		/* set once by destroy (seq_cst) */
	_Atomic int avail;		/* free request slots */

	pthread_mutex_t post_lock;	/* protects tail, completed, waiters and ring writes */
	unsigned tail;
	unsigned completed;		/* posted events not yet credited to avail */
	struct waiter *waiters;
	_Atomic unsigned tail_pub;	/* tail, released after the event is written */
	/* Events visible in the ring whose IOCB_FLAG_RESFD eventfd is not
	 * signalled yet; getevents returns only once it is 0 (see ctx_post). */
	_Atomic unsigned efd_pending;

	pthread_mutex_t reap_lock;	/* serialises getevents readers; protects ring_gone */
	bool ring_gone;			/* destroy released the ring's memory */

	pthread_mutex_t active_lock;	/* protects the active list */
	struct uaio_req *active;

	_Atomic uint32_t inflight;	/* requests whose event is not yet posted; futex */
	_Atomic uint32_t files;		/* requests holding a file reference (fref.c), which
					 * they drop just after their event: destroy waits
					 * for 0 as the kernel's does for its fputs; futex */

	/* statistics: relaxed counters, read without ordering */
	_Atomic unsigned long long st_submitted, st_completed, st_inline,
		st_offloaded, st_polled, st_cancelled, st_peak,
		st_no_thread;	/* run by the submitter (or another uaio thread): no thread to spare */
	_Atomic(struct ctx_stats *) xs;	/* set once (release) by the first submit; acquire */
	_Atomic unsigned spin_budget;	/* reaper spin in ns, adapted; relaxed */
	struct faults *faults;		/* fault rules, fixed at setup; NULL: none */
};


/* table.c: the handle table.  Its lock also protects the arena and
 * context.c's quota. */
struct uaio_ctx *ctx_get(aio_context_t h);
void ctx_put(struct uaio_ctx *ctx);
void table_rdlock(void);
void table_wrlock(void);
void table_unlock(void);
int table_reserve(void);
void table_enter(struct uaio_ctx *ctx);
void table_remove(struct uaio_ctx *ctx);
unsigned long table_live(void);
void table_each_locked(void (*fn)(struct uaio_ctx *ctx, void *arg), void *arg);
struct uaio_ctx **table_hold_all(size_t *n);
void table_atfork_child(void);

/* context.c */
extern _Atomic unsigned long long g_workers;
void ctx_drain(struct uaio_ctx *ctx);
void ctx_atfork_child(void);
void events_atfork_prepare(void);
void events_atfork_parent(void);
void events_atfork_child(void);

/* process.c: once per process, from the first setup: the configuration,
 * the fork handlers and the exit-time drain */
void process_init(void);
extern _Atomic int g_exiting;		/* exit() is draining: end open-ended waits */

/* config.c: the settings from the environment; config.c says when each
 * is read.  These are read at the first setup (config()). */
struct config {
	unsigned long max_nr;	/* UAIO_MAX_NR: the quota of nr_events (65536) */
	bool checks;		/* !UAIO_NOCHECK: pointers are checked */
	bool stats;		/* UAIO_STATS != 0: latency statistics */
	bool async_writes;	/* UAIO_ASYNC_WRITES != 0: buffered writes offloaded */
	unsigned threads;	/* UAIO_THREADS: the pool's cap; 0: the default */
	unsigned check;		/* UAIO_CHECK: CHECK_* bits (check.c); 0: off */
};
#define CHECK_ON	1u	/* "1": report each finding once per site, go on */
#define CHECK_HALT	2u	/* "halt": abort() after the first report */
#define CHECK_BUFFERS	4u	/* "buffers": checksum writes at submit and before they run */
const struct config *config(void);
long config_spin_ns(void);
long config_idle_ms(void);
const char *config_executor(void);
const char *config_faults(void);
bool config_faults_verbose(void);
const char *config_report(void);
const char *config_uaccess(void);
const char *config_trace(bool *detail);

/* The uaio_* calls are not pthread cancellation points, as the kernel's
 * io_* calls are not (libaio makes them with syscall()): a thread
 * cancelled inside one would leave locks held and waiters linked.  The
 * entry points hold cancellation off with these. */
static inline int nocancel_begin(void)
{
	int old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return old;
}

static inline void nocancel_end(int old)
{
	pthread_setcancelstate(old, NULL);
}

/* uaccess.c: copies that answer -EFAULT instead of crashing when checked */
int ua_read(bool checked, void *dst, uint64_t src, size_t len);
int ua_write(bool checked, uint64_t dst, const void *src, size_t len);
/* The nsrc buffers of src, one after the other, to dst. */
int ua_writev(bool checked, uint64_t dst, const struct iovec *src, int nsrc);
void ua_atfork_child(void);
pid_t ua_pid(void);
/* True when checks go through process_vm with the caller's memory on the
 * local side (not the fault-catching copy, not under valgrind). */
bool ua_user_local(void);
/* The process runs under valgrind's memcheck. */
bool ua_under_valgrind(void);
/* "fault", "vm" or "vm-remote": how checked copies are done here. */
const char *ua_mode_name(void);
/* Copies n pieces of `len` bytes from the addresses in src[] to dst[i*len];
 * returns how many leading pieces were copied. */
int ua_read_pieces(bool checked, void *dst, const uint64_t *src, int n, size_t len);
/* Copies n pieces of `len` bytes from src[i*len] to the addresses in dst[];
 * returns how many leading pieces were written. */
int ua_write_pieces(bool checked, const uint64_t *dst, const void *src, int n, size_t len);
/* io_submit's copy-in (the only access to the caller's iocbs): reads up
 * to n <= UA_IOCB_BATCH iocb pointers from the array at src, the iocbs they
 * point to and zeroes their aio_key, as the kernel does.  Returns how many
 * leading iocbs were read; *keys = how many leading aio_keys were zeroed. */
#define UA_IOCB_BATCH 64
int ua_iocbs_read(bool checked, uint64_t src, int n, uint64_t *ptrs, struct iocb *cbs, int *keys);
/* Puts back the caller's nonzero aio_key in iocbs [from, to) of those read. */
void ua_iocb_keys_restore(bool checked, const uint64_t *ptrs, const struct iocb *cbs, int from, int to);

/* nowait.c */
/* True when a call's cached reads may go to the kernel together. */
bool nowait_usable(void);
/* Reads cbs[0..n) (PREAD/PREADV, on fds[i]) with RWF_NOWAIT in one
 * io_submit on the thread's own kernel AIO context: res[i] gets each
 * answer, as preadv2(RWF_NOWAIT) would give it.  Returns how many leading
 * reads were done (0: none, the caller tries them one by one). */
int nowait_reads(const int *fds, const struct iocb *cbs, int n, int64_t *res);
#define NOWAIT_AGAIN INT64_MIN	/* res[i]: no answer; try it by preadv2 */
void nowait_atfork_child(void);

/* events.c */
/* nefd: how many of the events have an eventfd to signal; the poster
 * signals them after the call, then calls ctx_efd_signalled(). */
void ctx_post(struct uaio_ctx *ctx, uint64_t data, uint64_t obj, int64_t res, uint64_t stamp,
	      unsigned nefd);
void ctx_post_many(struct uaio_ctx *ctx, const struct io_event *evs, const uint64_t *stamps, int n,
		   unsigned nefd);
void ctx_efd_signalled(struct uaio_ctx *ctx, unsigned n);
void post_event(struct uaio_ctx *ctx, uint64_t data, uint64_t obj, int64_t res, int resfd, bool own_fd,
		uint64_t stamp);
void ctx_wake_all(struct uaio_ctx *ctx);
void inflight_done(struct uaio_ctx *ctx);

/* ring.c: the slots submit takes, one per request (the ring: ring.h) */
bool slot_get(struct uaio_ctx *ctx);
void slot_put(struct uaio_ctx *ctx);

/* prep.c: io_submit's checks, and each opcode's prep (opcode.h) */
int aio_check_fds(const struct uaio_req *req);
int aio_prep_rw(struct uaio_req *req, const struct opcode *op, bool checked);
int aio_prep_sync(struct uaio_req *req, const struct opcode *op, bool checked);
int aio_prep_poll(struct uaio_req *req, const struct opcode *op, bool checked);
/* err, or -EINVAL when req is a read of a directory */
int aio_prep_rw_error(const struct uaio_req *req, int err);
int anon_rw_check(int fd, bool wr);
bool fd_is_dir(int fd);

/* fdflags.c: F_GETFL, cached per descriptor (a hint: see there).
 * fdfl_get's *cached says it did not ask the kernel; both return < 0
 * when fd is not open. */
int fdfl_get(int fd, bool *cached);
int fdfl_refresh(int fd);

/* request.c */
struct uaio_req *req_alloc(const struct uaio_req *proto);
void req_free(struct uaio_req *req);
void req_file_drop(struct uaio_req *req);
bool req_hold_file(struct uaio_req *req);
bool req_claim(struct uaio_req *req, int from);
void req_complete(struct uaio_req *req, int64_t res);
/* keep_locked: called with active_lock held as each request is marked
 * DONE; true when someone else still holds it and will free it. */
void req_complete_many(struct uaio_req **reqs, const int64_t *res, int n,
		       bool (*keep_locked)(struct uaio_req *req));
void active_unlink_locked(struct uaio_req *req);
int iov_rest(const struct uaio_req *req, struct iovec *out);
int64_t req_run_blocking(struct uaio_req *req);
int64_t req_write_file(struct uaio_req *req);
int64_t req_try_nowait(struct uaio_req *req);
bool active_insert(struct uaio_req *req);
int req_cancel_locked(struct uaio_req *req, int64_t *res, bool wait);
/* The event's res for a request ended by cancel or destroy: 0 for POLL,
 * the bytes already moved by a partly done stream write, else -ECANCELED. */
int64_t req_cancelled_res(const struct uaio_req *req);
void ctx_cancel_all(struct uaio_ctx *ctx, bool waiting_only);

/* stats.c */
void stats_prepare(struct uaio_ctx *ctx);
uint64_t stats_stamp(const struct uaio_ctx *ctx);
uint64_t stats_clock(const uint64_t *stamps, int n);
void stats_event_locked(struct uaio_ctx *ctx, int64_t res, uint64_t stamp, uint64_t now);
void stats_posted(const uint64_t *stamps, int n);
void stats_handed(struct uaio_ctx *ctx, int n);
void stats_add_ctx(struct uaio_stats *st, struct uaio_ctx *ctx);
void stats_finish(struct uaio_stats *st, bool process);
void stats_atfork_child(void);
extern bool g_stats_default;

/* faults.c: fault injection, see uaio_faults(7) */
enum { FAULT_NONE, FAULT_ERR, FAULT_SHORT, FAULT_DELAY };
struct faults;
int faults_parse(const char *spec, struct faults **out);
void faults_free(struct faults *f);
unsigned long long faults_injected(const struct faults *f);
bool faults_submit(struct uaio_req *req, int64_t *res);
bool faults_prep_rw(struct uaio_req *req);
void faults_hold(struct uaio_req *req, bool route_pool);
void faults_forget(struct uaio_ctx *ctx);

/* report.c */
void report_setup(const char *exec_name);
void report_atfork_child(void);
void report_write(void);

/* intercept.c */
bool intercept_is_active(void);
struct sigaction;
void intercept_swap_chained(const struct sigaction *act, struct sigaction *old);

/* fref.c: private references to open files, held by requests */
int fref_new(int fd);
void fref_get(int fd);
void fref_put(int fd);
void fref_atfork_prepare(void);
void fref_atfork_parent(void);
void fref_atfork_child(void);
/* uaio's own descriptors: placed high, and checked, not trusted */
struct fd_id {
	dev_t dev;
	ino_t ino;
};
int fd_move_high(int fd);
bool fd_id_take(int fd, struct fd_id *id);
bool fd_id_same(int fd, const struct fd_id *id);
/* Longest a uaio thread sleeps on one of its descriptors before it looks
 * again: a descriptor the program closed under a sleeper never wakes it. */
#define FD_SLEEP_MAX_MS	1000

/* util */
/* The kernel's AIO completion ring at an aio_context_t's address (the ABI
 * uaio's own ring copies: ring.h): kring_readable() says whether its
 * layout is the one known here; kring_reap() copies up to max events out
 * of it in user space.  One reader at a time. */
struct kaio_ring {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event ev[];
};
bool kring_readable(aio_context_t c);
int kring_reap(aio_context_t c, struct io_event *ev, int max);
long mono_coarse_ms(void);
long futex_wait_abs(_Atomic uint32_t *w, uint32_t val, const struct timespec *abs_mono, bool priv);
void futex_wake(_Atomic uint32_t *w, int n, bool priv);
long env_long(const char *name, long dflt);
void thread_block_signals_attr(pthread_attr_t *attr);

/* The executor contract, the readiness service and the request state
 * moves, for every file (context.c, events.c and faults.c call through
 * ctx->exec). */
#include "exec/exec.h"
#include "poller.h"
#include "req_state.h"
#endif
