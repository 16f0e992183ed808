/* SPDX-License-Identifier: MIT */
/*
 * uaio.h - Linux asynchronous I/O (io_setup, io_submit, io_getevents,
 * io_cancel, io_destroy) implemented in user space.
 *
 * The types are the kernel's own (<linux/aio_abi.h>): an aio_context_t is
 * the address of a completion ring laid out exactly like the kernel's, a
 * struct iocb describes a request and a struct io_event reports it.
 * Every function returns 0 or a count on success and -errno on failure,
 * like the raw system calls; none of them sets errno.
 */
#ifndef UAIO_H
#define UAIO_H

#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UAIO_VERSION_MAJOR 0
#define UAIO_VERSION_MINOR 1
#define UAIO_VERSION_PATCH 0

/* The ring header at the address an aio_context_t holds (32 bytes).  C++
 * has no flexible array members; GCC and Clang accept one as an extension,
 * which -pedantic would report. */
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
struct uaio_ring {
	unsigned id;		/* context index, informational */
	unsigned nr;		/* number of io_event slots after the header */
	unsigned head;		/* next event to reap: written by reapers */
	unsigned tail;		/* next slot to fill: written by uaio */
	unsigned magic;		/* UAIO_RING_MAGIC */
	unsigned compat_features;
	unsigned incompat_features;
	unsigned header_length;	/* sizeof(struct uaio_ring) */
	struct io_event io_events[];
};
#if defined(__cplusplus) && defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
#define UAIO_RING_MAGIC 0xa10a10a1u

/* uaio_params.flags */
#define UAIO_F_NOCHECK	(1u << 0)	/* skip the -EFAULT pointer checks */
#define UAIO_F_NOSTATS	(1u << 1)	/* no latency histogram (no clock reads) */
#define UAIO_F_ASYNC_WRITES (1u << 2)	/* offload buffered writes (default: done in submit) */

struct uaio_params {
	const char *executor;	/* "threads", "uring", "auto"; NULL: $UAIO_EXECUTOR or "auto" */
	unsigned threads;	/* worker cap for the threads executor; 0: default */
	unsigned flags;		/* UAIO_F_* */
	const char *faults;	/* fault injection spec, see uaio_faults(7); NULL: $UAIO_FAULTS */
	unsigned reserved[11];	/* must be 0 */
};

int uaio_setup(unsigned nr_events, aio_context_t *ctxp);
int uaio_setup_params(unsigned nr_events, const struct uaio_params *p,
		      aio_context_t *ctxp);
int uaio_destroy(aio_context_t ctx);
int uaio_submit(aio_context_t ctx, long nr, struct iocb **iocbpp);
int uaio_cancel(aio_context_t ctx, struct iocb *iocb, struct io_event *result);
int uaio_getevents(aio_context_t ctx, long min_nr, long nr,
		   struct io_event *events, struct timespec *timeout);
int uaio_pgetevents(aio_context_t ctx, long min_nr, long nr,
		    struct io_event *events, struct timespec *timeout,
		    const sigset_t *sigmask);
const char *uaio_executor_name(aio_context_t ctx);

/* Statistics of one context (or, with ctx 0, of the whole process,
 * destroyed contexts included): see uaio_stats(3).  Fixed size, 3072
 * bytes; the byte offsets of the fields are part of the ABI. */
#define UAIO_STATS_ERRNOS	136	/* errno_count[]: one per errno value below this */
#define UAIO_STATS_BUCKETS	224	/* lat_bucket[]: see uaio_stats_bucket_ns() */

struct uaio_stats {
	unsigned long long submitted;	/*    0: requests accepted by submit */
	unsigned long long completed;	/*    8: events posted to rings */
	unsigned long long inline_done;	/*   16: completed at submit, no hand-off */
	unsigned long long offloaded;	/*   24: handed to the executor */
	unsigned long long polled;	/*   32: waited for readiness in the poller */
	unsigned long long cancelled;	/*   40: cancelled before they ran */
	unsigned long long contexts;	/*   48: live contexts (process only) */
	unsigned long long workers;	/*   56: live worker threads (process only) */
	unsigned long long errors;	/*   64: events with res < 0 */
	unsigned long long in_flight;	/*   72: submitted, event not yet posted */
	unsigned long long peak_in_flight; /* 80: highest in_flight seen */
	unsigned long long lat_count;	/*   88: events in the latency histogram */
	unsigned long long lat_sum_ns;	/*   96: their latencies added up */
	unsigned long long lat_p50_ns;	/*  104: percentiles of the histogram: */
	unsigned long long lat_p99_ns;	/*  112:   the upper bound of the bucket */
	unsigned long long lat_p999_ns;	/*  120:   holding them; 0 without samples */
	unsigned long long errno_count[UAIO_STATS_ERRNOS]; /* 128: [e] events with res == -e; [0] other res < 0 */
	unsigned long long lat_bucket[UAIO_STATS_BUCKETS]; /* 1216: submit-to-posted latencies */
	unsigned long long faults_injected; /* 3008: requests uaio_faults(7) rules acted on */
	unsigned long long no_thread;	/* 3016: run by the calling thread: no uaio thread could be created */
	unsigned long long reserved[6];	/* 3024: 0 */
};
int uaio_stats(aio_context_t ctx, struct uaio_stats *st);
/* Lower bound in nanoseconds of latency bucket i (0 <= i <= UAIO_STATS_BUCKETS;
 * bucket i ends where i + 1 begins; the last one also holds longer ones). */
unsigned long long uaio_stats_bucket_ns(unsigned i);
/* The pct-th percentile (0 < pct <= 100) of st's histogram, as the upper
 * bound of the bucket that holds it; 0 if the histogram is empty. */
unsigned long long uaio_stats_percentile(const struct uaio_stats *st, double pct);

/* Serve this process's io_setup, io_submit, io_getevents, io_pgetevents,
 * io_cancel and io_destroy system calls (issued directly, without libaio)
 * from uaio, in every thread, from now on: see uaio_intercept_syscalls(3).
 * flags must be 0.  Calling it again covers libraries loaded since. */
int uaio_intercept_syscalls(unsigned flags);

/* Request preparation, as libaio's io_prep_* but on struct iocb. */
static inline void uaio_prep_rw(struct iocb *cb, int op, int fd, uint64_t buf,
				uint64_t nbytes, long long offset)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_lio_opcode = (uint16_t)op;
	cb->aio_fildes = (uint32_t)fd;
	cb->aio_buf = buf;
	cb->aio_nbytes = nbytes;
	cb->aio_offset = offset;
}

static inline void uaio_prep_pread(struct iocb *cb, int fd, void *buf,
				   size_t count, long long offset)
{
	uaio_prep_rw(cb, IOCB_CMD_PREAD, fd, (uint64_t)(uintptr_t)buf, count, offset);
}

static inline void uaio_prep_pwrite(struct iocb *cb, int fd, const void *buf,
				    size_t count, long long offset)
{
	uaio_prep_rw(cb, IOCB_CMD_PWRITE, fd, (uint64_t)(uintptr_t)buf, count, offset);
}

static inline void uaio_prep_preadv(struct iocb *cb, int fd,
				    const struct iovec *iov, int iovcnt,
				    long long offset)
{
	uaio_prep_rw(cb, IOCB_CMD_PREADV, fd, (uint64_t)(uintptr_t)iov,
		     (uint64_t)iovcnt, offset);
}

static inline void uaio_prep_pwritev(struct iocb *cb, int fd,
				     const struct iovec *iov, int iovcnt,
				     long long offset)
{
	uaio_prep_rw(cb, IOCB_CMD_PWRITEV, fd, (uint64_t)(uintptr_t)iov,
		     (uint64_t)iovcnt, offset);
}

static inline void uaio_prep_fsync(struct iocb *cb, int fd)
{
	uaio_prep_rw(cb, IOCB_CMD_FSYNC, fd, 0, 0, 0);
}

static inline void uaio_prep_fdsync(struct iocb *cb, int fd)
{
	uaio_prep_rw(cb, IOCB_CMD_FDSYNC, fd, 0, 0, 0);
}

/* events: POLLIN, POLLOUT, ... ; the event's res is the ready mask. */
static inline void uaio_prep_poll(struct iocb *cb, int fd, unsigned events)
{
	uaio_prep_rw(cb, IOCB_CMD_POLL, fd, events, 0, 0);
}

static inline void uaio_set_eventfd(struct iocb *cb, int efd)
{
	cb->aio_flags |= IOCB_FLAG_RESFD;
	cb->aio_resfd = (uint32_t)efd;
}

static inline void uaio_set_data(struct iocb *cb, void *data)
{
	cb->aio_data = (uint64_t)(uintptr_t)data;
}

#ifdef __cplusplus
}
#endif
#endif /* UAIO_H */
