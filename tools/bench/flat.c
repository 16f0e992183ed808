/* SPDX-License-Identifier: MIT */
/* flat.c - --flat: --cost's 0-byte reads against the number of contexts
 * (1 to 10000, one request each in turn) and the queue depth (1 to 4096).
 * As in --cost, the kaio executor's row reads through an O_DIRECT
 * descriptor, the only I/O it sends to kernel AIO. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

enum { FLAT_KAIO, FLAT_UAIO, FLAT_UAIO_URING, FLAT_UAIO_KAIO, FLAT_IO_URING, FLAT_COUNT };

static const struct {
	const char *name;
	int engine;		/* ENG_* that selects it; a uaio row's executor */
	bool direct;		/* reads through the O_DIRECT descriptor */
} flat_rows[FLAT_COUNT] = {
	[FLAT_KAIO] = { "kaio-read0", ENG_KAIO, false },
	[FLAT_UAIO] = { "uaio", ENG_UAIO, false },
	[FLAT_UAIO_URING] = { "uaio-uring", ENG_UAIO_URING, false },
	[FLAT_UAIO_KAIO] = { "uaio-kaio", ENG_UAIO_KAIO, true },
	[FLAT_IO_URING] = { "io_uring-read0", ENG_IO_URING, false },
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
	p.executor = engines[flat_rows[s->row].engine]->executor;
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

/* qd 0-byte reads on one ring, FLAT_SUBMIT per call, all reaped. */
static int flat_round_uring(struct io_uring *ring, unsigned qd, struct io_uring_cqe **cqes,
			    int fd, void *buf)
{
	unsigned got = 0;
	int r;

	for (unsigned j = 0; j < qd; j++) {
		io_uring_prep_read(io_uring_get_sqe(ring), fd, buf, 0, 0);
		if ((j + 1) % FLAT_SUBMIT == 0 && j + 1 < qd && (r = io_uring_submit(ring)) < 0)
			return r;
	}
	if ((r = io_uring_submit_and_wait(ring, qd)) < 0)
		return r;
	while (got < qd) {
		unsigned n = io_uring_peek_batch_cqe(ring, cqes, qd - got);

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

/* The same on a kaio or uaio context. */
static int flat_round_aio(const struct flat_set *s, aio_context_t ctx, struct iocb **cbs,
			  struct io_event *ev)
{
	unsigned got = 0;
	int r;

	for (unsigned sent = 0; sent < s->qd; sent += (unsigned)r) {
		long nr = s->qd - sent > FLAT_SUBMIT ? FLAT_SUBMIT : (long)(s->qd - sent);

		r = s->row == FLAT_KAIO ? sys_ret(syscall(SYS_io_submit, ctx, nr, cbs + sent))
					: uaio_submit(ctx, nr, cbs + sent);
		if (r <= 0)
			return r ? r : -EAGAIN;
	}
	while (got < s->qd) {
		r = s->row == FLAT_KAIO
			? sys_ret(syscall(SYS_io_getevents, ctx, (long)(s->qd - got), (long)s->qd, ev, NULL))
			: uaio_getevents(ctx, (long)(s->qd - got), (long)s->qd, ev, NULL);
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

/* qd 0-byte reads on context k % n, submitted FLAT_SUBMIT per call, all reaped. */
static int flat_round(struct flat_set *s, unsigned k, struct iocb **cbs, struct io_event *ev,
		      struct io_uring_cqe **cqes, int fd, void *buf)
{
	unsigned i = k % s->n;

	if (s->row == FLAT_IO_URING)
		return flat_round_uring(&s->ring[i], s->qd, cqes, fd, buf);
	return flat_round_aio(s, s->ctx[i], cbs, ev);
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
	return r < 0 ? 0 : cpu_ns_per(c0, c1, n);
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

/* The file the 0-byte reads name: a temporary one, unlinked once open
 * buffered (fds[0]) and O_DIRECT (fds[1]: -errno if refused). */
static void flat_file(int fds[2])
{
	char path[PATH_MAX];

	fds[0] = temp_file(path, sizeof(path));
	fds[1] = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fds[1] < 0)
		fds[1] = -errno;
	unlink(path);
}

/* Every cell of the chosen rows, with a progress line. */
static void flat_measure(const struct opts *o, uint64_t mask, const int fds[2], void *buf,
			 double ns[][FLAT_CELLS], int err[][FLAT_CELLS])
{
	prog.t_start = now_ns();
	for (int i = 0; i < FLAT_COUNT; i++) {
		int fd = fds[flat_rows[i].direct];

		if (!(mask & (1ull << flat_rows[i].engine)))
			continue;
		for (unsigned c = 0; c < FLAT_CELLS; c++) {
			if (prog.tty) {
				fprintf(stderr, "\r\033[K flat %-16s contexts %-5u depth %-4u", flat_rows[i].name,
					flat_nctx[c], flat_qd[c]);
				fflush(stderr);
			}
			/* O_DIRECT refused: every cell of the row says why. */
			ns[i][c] = fd < 0 ? 0 : flat_cell(i, c, o->runtime, fd, buf, &err[i][c]);
			if (fd < 0)
				err[i][c] = fd;
		}
	}
	progress_clear();
}

static void flat_print_head(void)
{
	printf("\n%-15s", "engine");
	for (unsigned c = 0; c < FLAT_CELLS; c++) {
		char h[24];

		if (c == FLAT_SPLIT)
			printf(" %7s |", "spread");
		snprintf(h, sizeof(h), c < FLAT_SPLIT ? "ctx=%u" : "qd=%u", c < FLAT_SPLIT ? flat_nctx[c] : flat_qd[c]);
		printf(" %9s", h);
	}
	printf(" %7s\n", "spread");
}

static void flat_print_row(int i, const double *ns, const int *err)
{
	printf("%-15s", flat_rows[i].name);
	for (unsigned c = 0; c < FLAT_CELLS; c++) {
		if (c == FLAT_SPLIT) {
			flat_spread(ns, 0, FLAT_SPLIT);
			printf(" |");
		}
		if (err[c])
			printf(" %9s", strerrorname_np(-err[c]) ? strerrorname_np(-err[c]) : "error");
		else
			printf(" %9.0f", ns[c]);
	}
	flat_spread(ns, FLAT_QD64, FLAT_CELLS);
	printf("\n");
}

int run_flat(struct opts *o, uint64_t mask)
{
	static double ns[FLAT_COUNT][FLAT_CELLS];
	static int err[FLAT_COUNT][FLAT_CELLS];
	void *buf = xmemalign(4096);
	struct rlimit rl;
	int fds[2];

	/* 10,000 rings or kernel contexts need descriptors and aio-max-nr. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	flat_file(fds);
	printf("# flat: 0-byte reads, process user+sys CPU ns per request; contexts: one request at a time on each\n"
	       "# context in turn; depth: that many requests on one context, at most %d per submit\n"
	       "# call, then all reaped; %.1f s per cell; spread = slowest cell over fastest, minus 1\n"
	       "# (depth: from 64 on, the same requests per call)\n", FLAT_SUBMIT, o->runtime);
	if (mask & (1ull << ENG_UAIO_KAIO))
		printf("# uaio-kaio: through an O_DIRECT descriptor (the kaio executor's kernel AIO path)%s%s\n",
		       fds[1] < 0 ? "; the file refuses O_DIRECT: " : "", fds[1] < 0 ? strerror(-fds[1]) : "");
	flat_measure(o, mask, fds, buf, ns, err);
	close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	flat_print_head();
	for (int i = 0; i < FLAT_COUNT; i++)
		if (mask & (1ull << flat_rows[i].engine))
			flat_print_row(i, ns[i], err[i]);
	free(buf);
	return 0;
}
