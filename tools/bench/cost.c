/* SPDX-License-Identifier: MIT */
/* cost.c - --cost: the engines' own cost per request, measured with
 * 0-byte reads (each completes with res 0) at batch 1 and 64.  The kaio
 * executor's rows read through an O_DIRECT descriptor: it sends only
 * O_DIRECT I/O to kernel AIO, the rest to its threads (the uaio rows). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

enum { COST_URING_NOP, COST_URING_READ0, COST_KAIO, COST_UAIO, COST_UAIO_NOCHECK, COST_UAIO_URING,
       COST_UAIO_URING_NOCHECK, COST_UAIO_KAIO, COST_UAIO_KAIO_NOCHECK, COST_UAIO_SYSCALLS, COST_COUNT };

static const struct {
	const char *name, *desc;
	int engine;		/* ENG_* that selects it; a uaio row's executor and flags */
	bool direct;		/* reads through the O_DIRECT descriptor */
} cost_rows[COST_COUNT] = {
	[COST_URING_NOP] = { "io_uring-nop", "IORING_OP_NOP batch, io_uring_submit_and_wait", ENG_IO_URING },
	[COST_URING_READ0] = { "io_uring-read0", "0-byte IORING_OP_READ, io_uring_submit_and_wait", ENG_IO_URING },
	[COST_KAIO] = { "kaio-read0", "0-byte reads, raw io_submit + io_getevents", ENG_KAIO },
	[COST_UAIO] = { "uaio", "0-byte reads, threads executor, checks on", ENG_UAIO },
	[COST_UAIO_NOCHECK] = { "uaio-nocheck", "0-byte reads, threads executor, UAIO_F_NOCHECK", ENG_UAIO_NOCHECK },
	[COST_UAIO_URING] = { "uaio-uring", "0-byte reads, io_uring executor, checks on", ENG_UAIO_URING },
	[COST_UAIO_URING_NOCHECK] = { "uaio-uring-nocheck", "0-byte reads, io_uring executor, UAIO_F_NOCHECK",
				      ENG_UAIO_URING_NOCHECK },
	[COST_UAIO_KAIO] = { "uaio-kaio", "0-byte O_DIRECT reads, kaio executor, checks on", ENG_UAIO_KAIO, true },
	[COST_UAIO_KAIO_NOCHECK] = { "uaio-kaio-nocheck", "0-byte O_DIRECT reads, kaio executor, UAIO_F_NOCHECK",
				     ENG_UAIO_KAIO_NOCHECK, true },
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

static bool cost_is_uring(int row)
{
	return row == COST_URING_NOP || row == COST_URING_READ0;
}

/* Rows whose requests go through the raw system calls. */
static bool cost_is_syscall(int row)
{
	return row == COST_KAIO || row == COST_UAIO_SYSCALLS;
}

/* Waits for batch completions on ring; -errno on failure or a nonzero res. */
static int cost_reap_uring(struct io_uring *ring, unsigned batch)
{
	struct io_uring_cqe *cqes[64];
	unsigned got = 0;
	int r;

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

static int cost_round_uring(int row, struct io_uring *ring, unsigned batch, int fd, void *buf)
{
	int r;

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
	return cost_reap_uring(ring, batch);
}

static int cost_round_aio(int row, aio_context_t ctx, struct iocb **cbs, struct io_event *ev,
			  unsigned batch)
{
	unsigned got = 0;
	int r;

	for (unsigned sent = 0; sent < batch; sent += (unsigned)r) {
		r = cost_is_syscall(row)
			? sys_ret(syscall(SYS_io_submit, ctx, (long)(batch - sent), cbs + sent))
			: uaio_submit(ctx, (long)(batch - sent), cbs + sent);
		if (r <= 0)
			return r ? r : -EAGAIN;
	}
	while (got < batch) {
		r = cost_is_syscall(row)
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

/* One cell's engine: a ring or a context of 64 entries. */
struct cost_eng {
	int row;
	unsigned batch;
	int fd;
	void *buf;
	struct io_uring ring;
	aio_context_t ctx;
	struct iocb cb[64], *cbs[64];
	struct io_event ev[64];
};

static int cost_setup(struct cost_eng *c)
{
	struct uaio_params p;
	int r;

	if (cost_is_uring(c->row))
		return io_uring_queue_init(64, &c->ring, 0);
	if (c->row == COST_KAIO)
		return sys_ret(syscall(SYS_io_setup, 64, &c->ctx));
	if (c->row == COST_UAIO_SYSCALLS) {
		r = uaio_intercept_syscalls(0);
		return r == 0 ? sys_ret(syscall(SYS_io_setup, 64, &c->ctx)) : r;
	}
	memset(&p, 0, sizeof(p));
	p.executor = engines[cost_rows[c->row].engine]->executor;
	p.flags = engines[cost_rows[c->row].engine]->flags;
	return uaio_setup_params(64, &p, &c->ctx);
}

static void cost_teardown(struct cost_eng *c)
{
	if (cost_is_uring(c->row))
		io_uring_queue_exit(&c->ring);
	else if (cost_is_syscall(c->row))
		syscall(SYS_io_destroy, c->ctx);
	else
		uaio_destroy(c->ctx);
}

/* Submits and reaps batch requests once; returns -errno on failure. */
static int cost_round(struct cost_eng *c)
{
	if (cost_is_uring(c->row))
		return cost_round_uring(c->row, &c->ring, c->batch, c->fd, c->buf);
	return cost_round_aio(c->row, c->ctx, c->cbs, c->ev, c->batch);
}

static void cost_cell(int row, unsigned bi, double runtime, int fd, void *buf, struct cost_res *cr)
{
	struct cost_eng c = { .row = row, .batch = cost_batches[bi], .fd = fd, .buf = buf };
	uint64_t t0, t, end, n = 0;
	struct cpu c0, c1;
	int r;

	if ((r = cost_setup(&c)) < 0) {
		snprintf(cr->why, sizeof(cr->why), "setup: %s", strerror(-r));
		return;
	}
	for (unsigned i = 0; i < c.batch; i++) {
		uaio_prep_pread(&c.cb[i], fd, buf, 0, 0);
		c.cbs[i] = &c.cb[i];
	}
	/* Warm-up: a tenth of the time, not counted. */
	for (end = now_ns() + (uint64_t)(runtime * 1e8); now_ns() < end && r >= 0;)
		r = cost_round(&c);
	c0 = cpu_now();
	t0 = now_ns();
	end = t0 + (uint64_t)(runtime * 1e9);
	do {
		if (r >= 0)
			r = cost_round(&c);
		n += c.batch;
		t = now_ns();
	} while (t < end && r >= 0);
	c1 = cpu_now();
	cost_teardown(&c);
	if (r < 0) {
		snprintf(cr->why, sizeof(cr->why), "a 0-byte request failed: %s", strerror(-r));
		return;
	}
	cr->ran = true;
	cr->reqs[bi] = n;
	cr->ns[bi] = (double)(t - t0) / (double)n;
	cr->cpu_ns[bi] = cpu_ns_per(c0, c1, n);
}

/* The file the 0-byte reads name, buffered and O_DIRECT. */
struct cost_files {
	int fd;
	int dfd;	/* -1 if the file system refuses O_DIRECT ... */
	int derr;	/* ... with this errno */
};

static void cost_open_direct(const char *path, struct cost_files *cf)
{
	cf->dfd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	cf->derr = cf->dfd < 0 ? errno : 0;
}

/* The first --filename, or a temporary one (unlinked once both are open). */
static void cost_file(const struct opts *o, char *path, size_t n, void *buf, struct cost_files *cf)
{
	if (o->nfiles) {
		snprintf(path, n, "%s", o->files[0]);
		cf->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (cf->fd < 0)
			bad_usage("cannot open '%s': %s", path, strerror(errno));
		cost_open_direct(path, cf);
		return;
	}
	cf->fd = temp_file(path, n);
	cost_open_direct(path, cf);
	unlink(path);
	fill_random(buf, 4096, SEED);
	if (pwrite(cf->fd, buf, 4096, 0) != 4096)
		fatal("%s: %s", path, strerror(errno));
}

/* One row's cells, on the descriptor it reads through. */
static void cost_row(int row, double runtime, const struct cost_files *cf, void *buf,
		     unsigned *cell, unsigned cells, struct cost_res *cr)
{
	if (cost_rows[row].direct && cf->dfd < 0) {
		snprintf(cr->why, sizeof(cr->why), "the file refuses O_DIRECT (%s)", strerror(cf->derr));
		*cell += 2;
		return;
	}
	for (unsigned bi = 0; bi < 2; bi++) {
		double eta = (double)(cells - *cell) * runtime * 1.1;

		if (prog.tty) {
			fprintf(stderr, "\r\033[K[%u/%u] cost %-18s batch %-3u ETA %d:%02d", ++*cell, cells,
				cost_rows[row].name, cost_batches[bi], (int)eta / 60, (int)eta % 60);
			fflush(stderr);
		}
		cost_cell(row, bi, runtime, cost_rows[row].direct ? cf->dfd : cf->fd, buf, cr);
		if (!cr->ran)
			break;
	}
}

/* Every cell of the chosen rows, with a progress line. */
static void cost_measure(const struct opts *o, uint64_t mask, const struct cost_files *cf, void *buf,
			 struct cost_res *res)
{
	unsigned cells = 0, cell = 0;

	for (int i = 0; i < COST_COUNT; i++)
		if (mask & (1ull << cost_rows[i].engine))
			cells += 2;
	prog.t_start = now_ns();
	for (int i = 0; i < COST_COUNT; i++)
		if (mask & (1ull << cost_rows[i].engine))
			cost_row(i, o->runtime, cf, buf, &cell, cells, &res[i]);
	progress_clear();
}

static void cost_print(uint64_t mask, const struct cost_res *res, int base)
{
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
}

static void cost_json_row(FILE *f, const struct cost_res *r, const struct cost_res *b)
{
	fprintf(f, ",\"available\":true");
	for (unsigned bi = 0; bi < 2; bi++) {
		fprintf(f, ",\"batch%u\":{\"requests\":%llu,\"ns_per_req\":", cost_batches[bi],
			(unsigned long long)r->reqs[bi]);
		jnum(f, round(r->ns[bi] * 10) / 10);
		fprintf(f, ",\"cpu_ns_per_req\":");
		jnum(f, round(r->cpu_ns[bi] * 10) / 10);
		fprintf(f, ",\"ratio_to_baseline\":");
		jnum(f, b->ran && b->ns[bi] > 0 ? r->ns[bi] / b->ns[bi] : 0);
		fprintf(f, "}");
	}
	fprintf(f, "}");
}

static void cost_json(const struct opts *o, uint64_t mask, const struct cost_res *res, int base)
{
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
		cost_json_row(f, r, &res[base]);
	}
	fprintf(f, "]}}\n");
	close_out(f, o->json);
}

/* The two panels, batch 1 and batch 64, drawn from y = 34; returns the height. */
static double cost_panels(FILE *f, const struct bars *p)
{
	double h = 34;

	for (unsigned bi = 0; bi < 2; bi++)
		h = svg_bars(f, h, &p[bi]);
	return h;
}

static void cost_svg(const struct opts *o, uint64_t mask, const struct cost_res *res)
{
	FILE *f;
	struct bars p[2];
	double h;

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
	/* Two passes: the first (to /dev/null) measures the height. */
	f = fopen("/dev/null", "w");
	if (!f)
		fatal("/dev/null: %s", strerror(errno));
	h = cost_panels(f, p);
	fclose(f);
	f = open_out(o->svg);
	svg_begin(f, h, PROG " --cost: 0-byte reads, each engine's own cost");
	cost_panels(f, p);
	fprintf(f, "</svg>\n");
	close_out(f, o->svg);
}

int run_cost(struct opts *o, uint64_t mask)
{
	struct cost_res res[COST_COUNT];
	struct cost_files cf;
	char path[PATH_MAX];
	void *buf = xmemalign(4096);
	int base = COST_KAIO;

	memset(res, 0, sizeof(res));
	cost_file(o, path, sizeof(path), buf, &cf);
	printf("# cost: 0-byte reads (each completes with res 0: only the engine's own work) on %s;\n"
	       "# %.1f s per cell after a %.2f s warm-up; ns/req = wall time per request, cpu = process "
	       "user+sys CPU per request; x = ns/req ratio to kaio-read0\n", o->nfiles ? path : "a temporary file",
	       o->runtime, o->runtime / 10);
	if (mask & ((1ull << ENG_UAIO_KAIO) | (1ull << ENG_UAIO_KAIO_NOCHECK)))
		printf("# uaio-kaio rows: through an O_DIRECT descriptor (the kaio executor's kernel AIO "
		       "path; buffered I/O goes to its threads)\n");
	cost_measure(o, mask, &cf, buf, res);
	close(cf.fd);
	if (cf.dfd >= 0)
		close(cf.dfd);
	cost_print(mask, res, base);
	if (o->json)
		cost_json(o, mask, res, base);
	if (o->svg)
		cost_svg(o, mask, res);
	free(buf);
	return 0;
}
