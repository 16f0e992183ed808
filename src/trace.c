/* SPDX-License-Identifier: MIT */
/* trace.c - UAIO_TRACE=FILE: the program's I/O as fio's iolog version 3,
 * one file per process (FILE.<pid>; a forked child opens its own on its
 * first traced request), so `fio --read_iolog=FILE.<pid>` replays it on
 * any fio engine.  With UAIO_TRACE_DETAIL=1, also FILE.<pid>.jsonl: one
 * JSON object per request (context, opcode, fd, offset, length, flags,
 * submit/start/complete times, result, executor and route).
 *
 * The iolog holds what fio can replay: reads and writes (vectored ones as
 * one record of their total length), fsync ("sync") and fdatasync
 * ("datasync"), on regular files and block devices, written when the
 * request is accepted, in submission order.  Timestamps are microseconds
 * since the process's trace started: the unit fio itself writes in v3
 * logs and waits by when it replays them.  Skipped: POLL, and any I/O on
 * pipes, sockets and other streams (fio has no action for them); requests
 * that submit refused (they never ran); files whose name fio cannot read
 * back (blanks, as in "... (deleted)", or longer than 255 bytes: said once
 * on stderr).  The JSON file has every request.
 *
 * Records go to bounded buffers (TRACE_BUF each), written out when full,
 * when a context is destroyed, at fork (prepare) and at exit.  Tracing
 * never changes what the program sees: if a file cannot be opened or a
 * write fails (ENOSPC, EFBIG: SIGXFSZ is held off around our writes),
 * tracing stops and uaio says why, once, on stderr. */
#include "trace.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRACE_BUF	(1u << 20)	/* bytes buffered per output file */
#define FD_CACHE_MAX	(1 << 20)	/* descriptors above this are looked up each time */
#define NAME_MAX_FIO	255		/* fio reads a name with %256s */

bool g_trace;

struct out {
	int fd;
	struct fd_id id;	/* what fd named when we opened it */
	char *buf;
	size_t len;
	char path[PATH_MAX + 32];
};

struct tfile {
	char *name;		/* as /proc/self/fd showed it */
	bool bad;		/* fio cannot read it: its requests are skipped */
};

/* The name of what a descriptor was, the last time it was seen. */
struct fdent {
	dev_t dev;
	ino_t ino;
	int file;		/* index in T.files + 1; 0: none */
};

static struct {
	/* Protects every field below but base and detail (fixed by
	 * trace_init before any request).  Taken last: nothing is locked
	 * while it is held. */
	pthread_mutex_t lock;
	const char *base;	/* UAIO_TRACE */
	bool detail;		/* UAIO_TRACE_DETAIL */
	bool opened, stopped;
	uint64_t t0;		/* CLOCK_MONOTONIC ns when the files were opened */
	struct out log, json;
	struct tfile *files;
	int nfiles;
	struct fdent *fds;
	int nfds;
} T = { .lock = PTHREAD_MUTEX_INITIALIZER, .log.fd = -1, .json.fd = -1 };

static const char *const route_names[] = {
	[TR_QUEUED] = "queued", [TR_INLINE] = "inline", [TR_WORKER] = "worker",
	[TR_POLLER] = "poller", [TR_URING] = "io_uring", [TR_KAIO] = "kaio",
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void say(const char *path, const char *why, const char *what)
{
	char msg[PATH_MAX + 256];
	int n = snprintf(msg, sizeof(msg), "uaio: trace %s: %s; %s\n", path, why, what);

	if (n > 0 && write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1) < 0)
		return;	/* nowhere left to say it */
}

static void out_close(struct out *o)
{
	if (o->fd >= 0 && fd_id_same(o->fd, &o->id))	/* not if the program took it */
		close(o->fd);
	o->fd = -1;
	free(o->buf);
	o->buf = NULL;
	o->len = 0;
}

/* Tracing ends here, for this process; the program goes on. */
static void stop_locked(const char *path, const char *why)
{
	if (T.stopped)
		return;
	T.stopped = true;
	say(path, why, "tracing stopped");
	out_close(&T.log);
	out_close(&T.json);
}

/* write(2) all of p, with SIGXFSZ held off: past RLIMIT_FSIZE the kernel
 * sends it to the writing thread (by default, death).  One that our write
 * raised is taken back; one pending before is left alone.  0 or errno. */
static int write_all(int fd, const char *p, size_t n)
{
	sigset_t xfsz, old, pend;
	bool had;
	int err = 0;

	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, &old);
	had = sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ);
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (!had && sigpending(&pend) == 0 && sigismember(&pend, SIGXFSZ))
		sigtimedwait(&xfsz, NULL, &(struct timespec){ 0, 0 });
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void out_flush_locked(struct out *o)
{
	int err;

	if (T.stopped || !o->len)
		return;
	if (!fd_id_same(o->fd, &o->id)) {
		stop_locked(o->path, "the program closed or replaced its descriptor");
		return;
	}
	err = write_all(o->fd, o->buf, o->len);
	o->len = 0;
	if (err)
		stop_locked(o->path, strerror(err));
}

static void __attribute__((format(printf, 2, 3))) out_put_locked(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; tries < 2 && !T.stopped; tries++) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, TRACE_BUF - o->len, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < TRACE_BUF - o->len) {
			o->len += (size_t)n;
			return;
		}
		out_flush_locked(o);	/* then once more, into the empty buffer */
	}
}

/* Opens FILE.<pid> (and FILE.<pid>.jsonl); false if tracing stopped.
 * O_NONBLOCK: a FIFO without a reader fails here rather than blocking. */
static bool out_open(struct out *o, const char *suffix)
{
	int n = snprintf(o->path, sizeof(o->path), "%s.%d%s", T.base, (int)getpid(), suffix);

	if (n < 0 || (size_t)n >= sizeof(o->path)) {
		stop_locked(T.base, "file name too long");
		return false;
	}
	o->fd = fd_move_high(open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NONBLOCK, 0644));
	if (o->fd < 0) {
		stop_locked(o->path, strerror(errno));
		return false;
	}
	o->buf = malloc(TRACE_BUF);
	if (!o->buf || !fd_id_take(o->fd, &o->id)) {
		stop_locked(o->path, o->buf ? strerror(errno) : "no memory for its buffer");
		return false;
	}
	return true;
}

/* The files are opened by the first record a process writes. */
static bool ready_locked(void)
{
	if (T.opened || T.stopped)
		return !T.stopped;
	T.opened = true;
	if (!out_open(&T.log, "") || (T.detail && !out_open(&T.json, ".jsonl")))
		return false;
	T.t0 = now_ns();
	out_put_locked(&T.log, "fio version 3 iolog\n");
	return !T.stopped;
}

static unsigned long long us_locked(void)
{
	uint64_t now = now_ns();

	return now > T.t0 ? (now - T.t0) / 1000u : 0;
}

static bool name_ok(const char *s)
{
	if (strlen(s) > NAME_MAX_FIO)
		return false;
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			return false;
	return true;
}

/* The file table index of name, added (and opened, in the log) if new;
 * -1 if out of memory. */
static int file_add_locked(const char *name)
{
	struct tfile *f;
	int i;

	for (i = 0; i < T.nfiles; i++)
		if (!strcmp(T.files[i].name, name))
			return i;
	f = realloc(T.files, (size_t)(T.nfiles + 1) * sizeof(*f));
	if (!f)
		return -1;
	T.files = f;
	f[i].name = strdup(name);
	if (!f[i].name)
		return -1;
	f[i].bad = !name_ok(name);
	T.nfiles++;
	if (f[i].bad) {
		say(T.log.path, name, "fio cannot read that name back: its requests are not in the log");
	} else {
		unsigned long long us = us_locked();

		out_put_locked(&T.log, "%llu %s add\n%llu %s open\n", us, name, us, name);
	}
	return i;
}

/* The file fd names now (st: its fstat), by the name it had when first
 * seen as this file: the cache entry of a number reused for another file
 * (another dev/ino) is looked up again.  -1: unknown. */
static int file_of_locked(int fd, const struct stat *st)
{
	char link[64], name[PATH_MAX];
	struct fdent *e = fd >= 0 && fd < T.nfds ? &T.fds[fd] : NULL;
	ssize_t n;
	int i;

	if (e && e->file && e->dev == st->st_dev && e->ino == st->st_ino)
		return e->file - 1;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, name, sizeof(name) - 1);
	if (n <= 0)
		return -1;
	name[n] = 0;
	if ((i = file_add_locked(name)) < 0)
		return -1;
	if (!e && fd >= 0 && fd < FD_CACHE_MAX) {
		int nn = fd < 64 ? 64 : 2 * fd;
		struct fdent *v = realloc(T.fds, (size_t)nn * sizeof(*v));

		if (v) {
			memset(v + T.nfds, 0, (size_t)(nn - T.nfds) * sizeof(*v));
			T.fds = v;
			T.nfds = nn;
			e = &v[fd];
		}
	}
	if (e)
		*e = (struct fdent){ st->st_dev, st->st_ino, i + 1 };
	return i;
}

/* Bytes the request asks for. */
static size_t req_len(const struct uaio_req *req)
{
	const struct opcode *op = op_get(req->cb.aio_lio_opcode);

	if (!op || !op->rw)
		return 0;
	return op->vectored ? req->total : (size_t)req->cb.aio_nbytes;
}

/* The iolog's action for an opcode, or NULL: not replayable. */
static const char *iolog_action(unsigned opcode)
{
	switch (opcode) {
	case IOCB_CMD_PREAD: case IOCB_CMD_PREADV: return "read";
	case IOCB_CMD_PWRITE: case IOCB_CMD_PWRITEV: return "write";
	case IOCB_CMD_FSYNC: return "sync";
	case IOCB_CMD_FDSYNC: return "datasync";
	default: return NULL;
	}
}

static void iolog_record(const struct uaio_req *req)
{
	const char *act = iolog_action(req->cb.aio_lio_opcode);
	int fd = (int)req->cb.aio_fildes, i;
	bool rw = act && act[0] != 's' && act[0] != 'd';
	struct stat st;

	if (!act || fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
		return;
	pthread_mutex_lock(&T.lock);
	if (ready_locked() && (i = file_of_locked(fd, &st)) >= 0 && !T.files[i].bad)
		out_put_locked(&T.log, "%llu %s %s %llu %zu\n", us_locked(), T.files[i].name, act,
			       rw ? (unsigned long long)req->cb.aio_offset : 0ULL, rw ? req_len(req) : 0);
	pthread_mutex_unlock(&T.lock);
}

void trace_submit(struct uaio_req *req, bool inline_done)
{
	uint64_t now = now_ns();

	req->tr_submit = now;
	req->tr_start = inline_done ? now : 0;
	req->tr_route = inline_done ? TR_INLINE : TR_QUEUED;
	iolog_record(req);
}

void trace_start(struct uaio_req *req, enum trace_route route)
{
	req->tr_start = now_ns();
	req->tr_route = (unsigned char)route;
}

void trace_done(const struct uaio_req *req, int64_t res)
{
	const struct opcode *op = op_get(req->cb.aio_lio_opcode);
	uint64_t now;
	char start[24] = "null";

	if (!T.detail)
		return;
	now = now_ns();
	if (req->tr_start)
		snprintf(start, sizeof(start), "%llu", (unsigned long long)req->tr_start);
	pthread_mutex_lock(&T.lock);
	if (ready_locked())
		out_put_locked(&T.json,
			       "{\"ctx\":%llu,\"obj\":%llu,\"opcode\":\"%s\",\"fd\":%d,\"offset\":%lld,"
			       "\"length\":%zu,\"aio_flags\":%u,\"rw_flags\":%d,\"submit_ns\":%llu,"
			       "\"start_ns\":%s,\"complete_ns\":%llu,\"res\":%lld,\"executor\":\"%s\","
			       "\"route\":\"%s\"}\n",
			       (unsigned long long)req->ctx->handle, (unsigned long long)req->obj,
			       op ? op->name : "unknown", (int)req->cb.aio_fildes, (long long)req->cb.aio_offset,
			       req_len(req), (unsigned)req->cb.aio_flags, (int)req->cb.aio_rw_flags,
			       (unsigned long long)req->tr_submit, start, (unsigned long long)now,
			       (long long)res, req->ctx->exec->name, route_names[req->tr_route]);
	pthread_mutex_unlock(&T.lock);
}

void trace_flush(void)
{
	pthread_mutex_lock(&T.lock);
	if (T.opened) {
		out_flush_locked(&T.log);
		out_flush_locked(&T.json);
	}
	pthread_mutex_unlock(&T.lock);
}

/* At exit (after the exit drain: registered before it): a close for each
 * file, then everything out. */
static void trace_exit(void)
{
	pthread_mutex_lock(&T.lock);
	if (T.opened && !T.stopped)
		for (int i = 0; i < T.nfiles; i++)
			if (!T.files[i].bad)
				out_put_locked(&T.log, "%llu %s close\n", us_locked(), T.files[i].name);
	pthread_mutex_unlock(&T.lock);
	trace_flush();
}

void trace_init(void)
{
	bool detail;
	const char *base = config_trace(&detail);

	if (!base)
		return;
	T.base = base;
	T.detail = detail;
	atexit(trace_exit);
	g_trace = true;
}

/* Fork: the parent's records are written first, so that the child, which
 * starts a file of its own, inherits none to write twice. */
void trace_atfork_prepare(void)
{
	if (!g_trace)
		return;
	pthread_mutex_lock(&T.lock);
	if (T.opened) {
		out_flush_locked(&T.log);
		out_flush_locked(&T.json);
	}
}

void trace_atfork_parent(void)
{
	if (g_trace)
		pthread_mutex_unlock(&T.lock);
}

/* The child forgets the parent's files and descriptors: its first traced
 * request opens FILE.<childpid>, and names its files afresh. */
void trace_atfork_child(void)
{
	if (!g_trace)
		return;
	out_close(&T.log);
	out_close(&T.json);
	for (int i = 0; i < T.nfiles; i++)
		free(T.files[i].name);
	free(T.files);
	free(T.fds);
	T.files = NULL;
	T.fds = NULL;
	T.nfiles = T.nfds = 0;
	T.opened = T.stopped = false;
	pthread_mutex_unlock(&T.lock);	/* taken by this thread in prepare */
}
