/* SPDX-License-Identifier: MIT */
/* engine-uaio.c - uaio: an executor named explicitly, so $UAIO_EXECUTOR
 * cannot change a row; six engines, each executor (threads, uring, kaio)
 * with pointer checks on and off.  An executor this build or machine
 * lacks fails uaio_setup_params, and probe_engines (main.c) leaves its
 * rows out, with the reason. */
#include <string.h>

#include "bench.h"

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

const struct engine engine_uaio = {
	"uaio", "uaio, threads executor, pointer checks on", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "threads", 0, false, true
};

const struct engine engine_uaio_nocheck = {
	"uaio-nocheck", "uaio, threads executor, UAIO_F_NOCHECK", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "threads", UAIO_F_NOCHECK, false, true
};

const struct engine engine_uaio_uring = {
	"uaio-uring", "uaio, io_uring executor, pointer checks on", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "uring", 0, false, true
};

const struct engine engine_uaio_uring_nocheck = {
	"uaio-uring-nocheck", "uaio, io_uring executor, UAIO_F_NOCHECK", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "uring", UAIO_F_NOCHECK, false, true
};

const struct engine engine_uaio_kaio = {
	"uaio-kaio", "uaio, kaio executor (O_DIRECT on kernel AIO), pointer checks on", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "kaio", 0, false, true
};

const struct engine engine_uaio_kaio_nocheck = {
	"uaio-kaio-nocheck", "uaio, kaio executor (O_DIRECT on kernel AIO), UAIO_F_NOCHECK", "uaio_setup_params",
	uaio_init, uaio_submit_reqs, uaio_reap, uaio_fini, "kaio", UAIO_F_NOCHECK, false, true
};
